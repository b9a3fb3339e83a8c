"""Catalog records produced by ingest: kernels, their parameters, launch sites and extracted units.

Every record is a ``portkern.model.Record`` dataclass, so a whole catalog converts to and from JSON.
Line numbers are 1-based; file paths are relative to the ingested tree's root.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from portkern.errors import ConfigError
from portkern.model import Record


@dataclass
class TemplateParam(Record):
    kind: str                        # "type" | "value" | "template"
    name: str
    type: str = ""                   # value parameters: their C type ("int", "rocblas_int", ...)
    default: str = ""                # default argument text, "" when none
    variadic: bool = False


@dataclass
class Param(Record):
    name: str
    type: str                        # declaration text without the name, e.g. "const T* __restrict__"


@dataclass
class SharedDecl(Record):
    """A ``__shared__`` (LDS) declaration in a kernel or in a device function it calls."""

    name: str
    type: str
    dims: list[str] = field(default_factory=list)    # array extents as written ("" = unsized)
    extern: bool = False             # dynamic shared memory (sized at launch)
    function: str = ""               # function the declaration sits in
    line: int = 0


@dataclass
class IntrinsicSummary(Record):
    """Intrinsics a kernel uses, directly or through the device functions it calls.

    ``used`` maps a category ("shuffle", "vote", "atomic", "fence", "barrier", "inline_asm",
    "cooperative_groups", "texture", "cache_hint", "warp_size", "amdgcn_builtin", "nvvm_builtin") to the sorted
    names seen; categories with nothing are left out.
    """

    used: dict[str, list[str]] = field(default_factory=dict)

    def categories(self) -> list[str]:
        return sorted(self.used)

    def has(self, category: str) -> bool:
        return bool(self.used.get(category))


@dataclass
class LaunchSite(Record):
    """One place host code launches a kernel."""

    kernel: str                      # launched function's name (unqualified)
    file: str
    line: int
    style: str                       # "hipLaunchKernelGGL" | "chevrons" | "hipLaunchKernel" | "cudaLaunchKernel" ...
    template_args: list[str] = field(default_factory=list)
    grid: str = ""
    block: str = ""
    shared_bytes: str = "0"
    stream: str = "0"
    args: list[str] = field(default_factory=list)
    function: str = ""               # enclosing function (the launcher)
    in_macro: bool = False           # written through a launch macro
    macro: str = ""                  # that macro's name


@dataclass
class Instantiation(Record):
    """An explicit instantiation (``template __global__ void k<...>(...);``) of a kernel."""

    kernel: str
    file: str
    line: int
    template_args: list[str] = field(default_factory=list)
    macro: str = ""                  # the macro it was written through, "" when written out


@dataclass
class Kernel(Record):
    name: str                        # unqualified name, as launched
    qualified_name: str              # with enclosing namespaces ("rocblas::axpy_kernel")
    file: str
    line: int
    end_line: int
    dialect: str                     # "hip" | "cuda"
    template_params: list[TemplateParam] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    launch_bounds: list[str] = field(default_factory=list)    # __launch_bounds__ arguments as written
    declared_by: str = ""            # kernel macro it was declared through, "" when written out
    static: bool = False
    device_functions: list[str] = field(default_factory=list)  # library functions it needs (transitive)
    types: list[str] = field(default_factory=list)             # library types/aliases it needs (transitive)
    globals: list[str] = field(default_factory=list)           # library variables (__constant__, ...) it uses
    macros: list[str] = field(default_factory=list)            # library macros it uses (transitive)
    shared: list[SharedDecl] = field(default_factory=list)
    intrinsics: IntrinsicSummary = field(default_factory=IntrinsicSummary)
    launch_sites: list[LaunchSite] = field(default_factory=list)
    instantiations: list[Instantiation] = field(default_factory=list)

    @property
    def template_param_names(self) -> list[str]:
        return [t.name for t in self.template_params]


@dataclass
class UnitPiece(Record):
    """Where one chunk of a unit's text came from."""

    kind: str                        # "macro" | "type" | "function" | "variable" | "kernel" | "instantiation" ...
    name: str
    file: str
    line: int


@dataclass
class KernelUnit(Record):
    """A self-contained translation unit for one kernel (or for kernels launched together): compiles
    alone, has no host launch code."""

    kernel: str                      # kernel name (all overloads of it are in the unit); the first of ``kernels``
    file: str                        # file of the kernel's (first) definition
    dialect: str
    source: str
    includes: list[str] = field(default_factory=list)          # "#include" lines kept (system/external)
    pieces: list[UnitPiece] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kernels: list[str] = field(default_factory=list)           # every kernel the unit defines, as asked for

    @property
    def lines(self) -> int:
        return self.source.count("\n") + 1


@dataclass
class SkippedRegion(Record):
    """Source the parser could not handle: reported, skipped, never fatal."""

    file: str
    line: int
    end_line: int
    reason: str


@dataclass
class KernelCatalog(Record):
    root: str                        # the tree that was ingested (as given)
    profile: str                     # "rocblas" | "cuda" | ""
    dialect: str                     # dominant dialect of the kernels
    files: list[str] = field(default_factory=list)
    lines: int = 0
    kernels: list[Kernel] = field(default_factory=list)
    units: dict[str, KernelUnit] = field(default_factory=dict)   # kernel name -> unit
    skipped: list[SkippedRegion] = field(default_factory=list)
    macros: dict[str, str] = field(default_factory=dict)          # declaration/launch macro -> its kind
    seconds: float = 0.0

    def kernel(self, name: str) -> Kernel:
        """The kernel named ``name`` (unqualified or qualified); the first definition when overloaded."""
        for k in self.kernels:
            if name in (k.name, k.qualified_name):
                return k
        raise ConfigError(f"ingest of '{self.root}': no kernel named '{name}'",
                          hint=f"kernels found: {', '.join(sorted({k.name for k in self.kernels})) or 'none'}")

    def kernels_named(self, name: str) -> list[Kernel]:
        return [k for k in self.kernels if name in (k.name, k.qualified_name)]

    def unit(self, kernel_name: str) -> KernelUnit:
        name = self.kernel(kernel_name).name
        if name not in self.units:
            raise ConfigError(f"ingest of '{self.root}': no unit was extracted for kernel '{name}'",
                              hint="see the catalog's 'skipped' list for the reason")
        return self.units[name]

    def unit_for(self, names: list[str], extra_names: list[str] = ()) -> KernelUnit:
        """One unit holding every kernel in ``names`` (kernels launched together, such as a reduction
        and its finalize kernel): the union of their helpers, types, macros and explicit
        instantiations, each once, in dependency order, without host launch code.

        ``extra_names`` are names the launches pass as template arguments (a finalize functor type);
        those the library defines join the unit, the others (``T``, ``int``, tunables) are ignored.
        """
        kernels = list(dict.fromkeys(self.kernel(n).name for n in names))
        if not kernels:
            raise ConfigError(f"ingest of '{self.root}': unit_for needs at least one kernel name",
                              hint="pass the names of the kernels the unit must hold")
        if len(kernels) == 1 and not extra_names:
            return self.unit(kernels[0])
        builder = getattr(self, "_group_unit_builder", None)
        if builder is None:
            raise ConfigError(f"ingest of '{self.root}': this catalog holds no declaration index, so it cannot "
                              f"build a unit for {', '.join(kernels)}",
                              hint="ingest the library again (ingest_library / ingest_tree): a catalog read "
                                   "back from JSON keeps only its per-kernel units")
        extras = tuple(dict.fromkeys(n for n in extra_names if n not in kernels))
        key = (tuple(kernels), extras)
        cache = self.__dict__.setdefault("_group_units", {})
        if key not in cache:
            cache[key] = builder(kernels, self.kernel(kernels[0]).dialect, list(extras))
        return cache[key]

    def launch_sites(self, kernel_name: str) -> list[LaunchSite]:
        return list(self.kernel(kernel_name).launch_sites)

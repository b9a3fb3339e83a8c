"""Library manifests (``libraries/<lib>/library.yaml``): loading and validation.

The schema is documented in ``libraries/README.md``. Every error names the file, the kernel and
the field at fault.
"""

from __future__ import annotations

import importlib.util
import os
import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from portkern import expr
from portkern.errors import ManifestError
from portkern.model import Record

ROLES = ("input", "output", "inout", "scalar", "size", "stride", "batch", "workspace")
ARRAY_ROLES = ("input", "output", "inout", "workspace")
INTEGER_ROLES = ("size", "stride", "batch")
INTEGER_DTYPES = ("int32", "int64", "uint32", "uint64")
DTYPES = ("float16", "bfloat16", "float32", "float64", "int32", "int64", "uint32", "uint64", "int8", "uint8")
DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8, "int32": 4, "int64": 8,
               "uint32": 4, "uint64": 8, "int8": 1, "uint8": 1}
C_TYPES = {"float16": "__half", "bfloat16": "__hip_bfloat16", "float32": "float", "float64": "double",
           "int32": "int", "int64": "long long", "uint32": "unsigned int", "uint64": "unsigned long long",
           "int8": "signed char", "uint8": "unsigned char"}
INITS = ("normal", "uniform", "positive", "spd", "diag-dominant", "permutation", "index", "small-int",
         "probabilities", "labels", "unit-lower", "pivots")
# Default tolerances per dtype (relative, absolute). Reductions scale them with their length.
DEFAULT_TOLERANCE = {
    "float16": {"rtol": 1e-2, "atol": 1e-2},
    "bfloat16": {"rtol": 2e-2, "atol": 2e-2},
    "float32": {"rtol": 1e-5, "atol": 1e-5},
    "float64": {"rtol": 1e-12, "atol": 1e-12},
    "int32": {"rtol": 0.0, "atol": 0.0},
    "int64": {"rtol": 0.0, "atol": 0.0},
}
ROOT = Path(__file__).resolve().parent.parent / "libraries"
# "anchors" holds YAML anchors (&name) that kernels reuse (*name); the loader ignores its content.
TOP_LEVEL_FIELDS = {"name", "dialect", "description", "license", "include_dirs", "sources", "compile_flags",
                    "macros", "kernels", "anchors", "source_root", "defines", "cmake", "headers_dir", "unit_headers",
                    "unit_exclude"}


@dataclass
class ArgSpec(Record):
    name: str
    role: str                          # one of ROLES
    dtype: str = "T"                   # "T" (the kernel's dtype) or one of DTYPES
    shape: str = ""                    # element count expression (arrays)
    value: str = ""                    # value expression (size, stride, batch; scalars: fixed value)
    pointer: bool = False              # scalar passed by device pointer (device pointer mode)
    batched: str = ""                  # "" | "strided" | "pointers": array repeated per batch
    batch_stride: str = ""             # elements between batches (strided)
    init: str = "normal"               # input distribution, one of INITS
    const: bool = False
    # [rows, cols, ld] expressions of a column-major matrix argument: what structured inits
    # (spd, diag-dominant, unit-lower) need to know besides the flat length.
    matrix: list[str] = field(default_factory=list)
    bound: str = ""                    # integer inits (labels, index, small-int): exclusive upper bound


@dataclass
class LaunchSpec(Record):
    symbol: str
    template_args: list[str] = field(default_factory=list)
    grid: list[str] = field(default_factory=lambda: ["1", "1", "1"])
    block: list[str] = field(default_factory=lambda: ["1", "1", "1"])
    shared_bytes: str = "0"
    args: list[str] = field(default_factory=list)    # kernel arguments by name, in order


@dataclass
class KernelSpec(Record):
    name: str                          # unique id within the library
    family: str                        # kernel family (axpy, gemv, ...): dataset splits keep families apart
    file: str                          # source file relative to the library root
    symbol: str                        # the __global__ function to port/tune
    dtypes: list[str]
    args: list[ArgSpec]
    launches: list[LaunchSpec]
    reference: str                     # "reference.py:function"
    sizes_validate: list[dict[str, int]]
    sizes_bench: list[dict[str, int]]
    bytes_moved: str                   # expression: bytes a launch must move
    flops: str                         # expression: floating-point operations
    tunables: dict[str, list[int]] = field(default_factory=dict)
    defaults: dict[str, int] = field(default_factory=dict)   # default tunable values
    tolerance: dict[str, dict[str, float]] = field(default_factory=dict)
    reduction_length: str = ""         # expression: terms summed per output (scales the tolerance)
    description: str = ""
    # Boolean expressions every (size, tunable) combination must satisfy, e.g. threads per block
    # within limits or C % 4 == 0 for float4 loads. Sizes a harness derives must satisfy them too.
    constraints: list[str] = field(default_factory=list)

    def allows(self, env: dict[str, Any], elem_bytes: int = 4) -> bool:
        """Whether an environment from kernel_env satisfies every constraint."""
        return all(bool(expr.evaluate(c, env, elem_bytes)) for c in self.constraints)

    def tolerance_for(self, dtype: str) -> dict[str, float]:
        tol = dict(DEFAULT_TOLERANCE.get(dtype, {"rtol": 1e-5, "atol": 1e-5}))
        tol.update(self.tolerance.get(dtype, {}))
        return tol


@dataclass
class MacroTable(Record):
    kernel: list[str] = field(default_factory=list)          # expand to `static __global__ ... void`
    device_helper: list[str] = field(default_factory=list)   # expand to `__device__ __forceinline__`
    launch: list[str] = field(default_factory=list)          # wrap hipLaunchKernelGGL / <<<>>>


@dataclass
class LibrarySpec(Record):
    name: str
    dialect: str                       # "hip" | "cuda"
    root: str                          # absolute path of the sources (the library folder, or source_root)
    license: str
    description: str
    include_dirs: list[str]            # relative to root, or absolute (headers_dir, CMake's folders)
    sources: list[str]
    compile_flags: list[str]
    macros: MacroTable
    kernels: list[KernelSpec]
    # Folder of library.yaml and reference.py; "" means root (a library kept in libraries/).
    manifest_dir: str = ""
    # Configuration macros of the build (-D): NAME -> value, "" for a bare NAME, None for -U NAME.
    defines: dict[str, str | None] = field(default_factory=dict)
    # Kernel units: "extract" copies the declarations a kernel needs from the library's headers;
    # "include" includes those headers instead (trees whose headers build as they are).
    unit_headers: str = "extract"
    # Types the kernels never use, kept out of units with the overloads written for them.
    unit_exclude: list[str] = field(default_factory=list)

    def kernel(self, name: str) -> KernelSpec:
        for k in self.kernels:
            if k.name == name:
                return k
        raise ManifestError(self.manifest_path, f"no kernel named '{name}'",
                            hint=f"kernels: {', '.join(k.name for k in self.kernels)}")

    @property
    def manifest_path(self) -> str:
        return str(Path(self.manifest_dir or self.root) / "library.yaml")

    def define_flags(self) -> list[str]:
        """The configuration as compiler flags (-DNAME, -DNAME=VALUE, -UNAME); also in compile_flags."""
        return _define_flags(self.defines)

    def source_files(self) -> list[Path]:
        out: list[Path] = []
        for pattern in self.sources:
            out.extend(sorted(Path(self.root).glob(pattern)))
        return out

    def reference(self, kernel: KernelSpec) -> Callable[..., dict[str, Any]]:
        return _load_reference(self.manifest_dir or self.root, kernel.reference, self.manifest_path, kernel.name)


def _define_flags(defines: dict[str, str | None]) -> list[str]:
    return [f"-U{k}" if v is None else (f"-D{k}={v}" if v != "" else f"-D{k}") for k, v in defines.items()]


def library_names(root: Path | None = None) -> list[str]:
    """Libraries whose manifest is in ``root`` and whose sources are present (a manifest describing
    an external tree counts once its checkout is found)."""
    root = root or ROOT
    return sorted(p.parent.name for p in root.glob("*/library.yaml") if _sources_present(p))


def _sources_present(manifest: Path) -> bool:
    try:
        data = yaml.safe_load(manifest.read_text())
    except (OSError, yaml.YAMLError):
        return True     # a broken manifest is listed, so that loading it reports what is wrong
    if not isinstance(data, dict) or data.get("source_root") is None:
        return True
    try:
        _resolve_source_root(data, manifest.parent.resolve(), str(manifest), None)
    except ManifestError:
        return False
    return True


def library_root(name: str) -> Path:
    env = os.environ.get("PORTKERN_LIBRARIES")
    roots = [Path(env)] if env else []
    roots.append(ROOT)
    for r in roots:
        if (r / name / "library.yaml").exists():
            return r / name
    raise ManifestError(str(ROOT / name / "library.yaml"), f"unknown library '{name}'",
                        hint=f"known libraries: {', '.join(library_names())}")


@lru_cache(maxsize=32)
def _load_cached(path: str, mtime: float, source_root: str) -> LibrarySpec:
    return parse_manifest(Path(path), source_root=source_root or None)


def load_library(name_or_path: str | Path, source_root: str | Path | None = None) -> LibrarySpec:
    """The manifest of a library by name or path. ``source_root`` points a manifest that describes an
    external tree at a checkout of it (overriding its ``source_root`` field and environment variable)."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        path = p
    elif p.is_dir():
        path = p / "library.yaml"
    else:
        path = library_root(str(name_or_path)) / "library.yaml"
    if not path.exists():
        raise ManifestError(str(path), "file does not exist")
    override = str(Path(source_root).resolve()) if source_root else ""
    env = _source_root_env(path) if path.exists() else ""
    if override and env:
        # worker processes that load the manifest again find the same tree
        os.environ[env] = override
    if not override and path.exists():
        # a manifest's environment variable is part of what it resolves to
        override = os.environ.get(_source_root_env(path), "") if _source_root_env(path) else ""
    return _load_cached(str(path.resolve()), path.stat().st_mtime, override)


@lru_cache(maxsize=32)
def _source_root_env_cached(path: str, mtime: float) -> str:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError):
        return ""
    sr = data.get("source_root") if isinstance(data, dict) else None
    return str(sr.get("env", "")) if isinstance(sr, dict) else ""


def _source_root_env(path: Path) -> str:
    return _source_root_env_cached(str(path.resolve()), path.stat().st_mtime)


def _resolve_source_root(data: dict, manifest_dir: Path, file: str, override: str | None) -> Path:
    """Where an external tree's sources are: the override, the manifest's environment variable, or
    its default (relative to the manifest's folder)."""
    raw = data.get("source_root")
    if raw is None:
        if override:
            return Path(override).resolve()
        return manifest_dir.resolve()
    if isinstance(raw, str):
        raw = {"default": raw}
    if not isinstance(raw, dict) or set(raw) - {"env", "default"}:
        raise ManifestError(file, "must be a path or a mapping with 'env' (a variable naming the folder) and "
                            "'default' (a path relative to the manifest)", field="source_root")
    env = str(raw.get("env", ""))
    chosen = override or (os.environ.get(env, "") if env else "")
    how = "the --source-root flag" if override else (f"${env}" if chosen else "")
    if not chosen:
        default = raw.get("default")
        if not default:
            raise ManifestError(file, f"no source tree given: set {env or 'source_root.default'}",
                                field="source_root", hint=f"export {env}=path/to/checkout" if env else "")
        chosen = str(manifest_dir / str(default))
        how = f"source_root.default ({default})"
    root = Path(os.path.expanduser(chosen)).resolve()
    if not root.is_dir():
        hint = f"point {env} (or --source-root) at a checkout of the library" if env else \
            "point source_root at a checkout of the library"
        raise ManifestError(file, f"source tree '{root}' (from {how}) is not a folder", field="source_root",
                            hint=hint)
    return root


def _parse_defines(raw: Any, file: str) -> dict[str, str | None]:
    if raw is None:
        return {}
    if isinstance(raw, list):
        out: dict[str, str | None] = {}
        for item in raw:
            key, eq, value = str(item).partition("=")
            out[key.strip()] = value.strip() if eq else ""
        raw = out
    if not isinstance(raw, dict):
        raise ManifestError(file, "must map NAME to a value (null: not defined) or list NAME / NAME=VALUE",
                            field="defines")
    result: dict[str, str | None] = {}
    for k, v in raw.items():
        if not isinstance(k, str) or not k.isidentifier():
            raise ManifestError(file, f"{k!r} is not a macro name", field="defines")
        result[k] = None if v is None else ("" if v is True else str(int(v) if isinstance(v, bool) else v))
    return result


# --------------------------------------------------------------------------- parsing


def _req(d: dict, key: str, file: str, kernel: str | None, where: str = "") -> Any:
    if key not in d:
        raise ManifestError(file, "missing required field", kernel=kernel, field=where + key)
    return d[key]


def _as_list(v: Any, file: str, kernel: str | None, fld: str) -> list:
    if not isinstance(v, list):
        raise ManifestError(file, f"must be a list, got {type(v).__name__}", kernel=kernel, field=fld)
    return v


MAX_MANIFEST_BYTES = 4 << 20
MAX_YAML_NODES = 200_000


def _shown(value: Any, limit: int = 120) -> str:
    """A bounded repr for error messages (a YAML alias bomb must not become a huge message)."""
    try:
        text = reprlib.Repr(maxlevel=3, maxlist=6, maxdict=6, maxstring=60, maxother=60).repr(value)
    except Exception:  # a repr that raises: name the type only
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_manifest_text(path: Path) -> str:
    file = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ManifestError(file, f"cannot be read: {exc.strerror or exc}") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError(file, f"is {len(raw)} bytes; a manifest is at most {MAX_MANIFEST_BYTES}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(file, f"is not UTF-8 text (byte {exc.start})", hint="save it as UTF-8") from None


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many nodes the document has once every alias is expanded (computed without expanding)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # a node that refers to itself (a recursive alias) counts once
    if isinstance(node, yaml.MappingNode):
        total = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        total = 1 + sum(_expanded_size(v, memo) for v in node.value)
    else:
        total = 1
    memo[key] = total
    return total


def _safe_yaml(text: str, file: str) -> Any:
    """yaml.safe_load, refusing documents whose aliases expand into a huge value (a billion-laughs document)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None:
            size = _expanded_size(node, {})
            if size > MAX_YAML_NODES:
                raise ManifestError(file, f"expands to {size} values through its YAML aliases; at most "
                                    f"{MAX_YAML_NODES} are accepted",
                                    hint="write the values out instead of nesting anchors in anchors")
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ManifestError(file, f"not valid YAML: {_shown(str(exc), 400)}") from None
    except RecursionError:
        raise ManifestError(file, "nested too deeply") from None


def _str_list(data: dict, key: str, default: list, file: str) -> list[str]:
    value = data.get(key, default)
    if value is None:
        return list(default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(file, f"must be a list of strings, got {_shown(value)}", field=key,
                            hint=f"write it as a YAML list, e.g. {key}: [\"...\"]")
    return list(value)


MAX_MESSAGE_CHARS = 1500


def parse_manifest(path: Path, source_root: str | None = None) -> LibrarySpec:
    """The LibrarySpec of a library.yaml; ManifestError (with a bounded message) for anything malformed.
    ``source_root`` overrides where a manifest that describes an external tree finds it."""
    try:
        return _parse_manifest(path, source_root)
    except ManifestError as exc:
        text = str(exc.args[0]) if exc.args else ""
        if len(text) > MAX_MESSAGE_CHARS:
            exc.args = (text[:MAX_MESSAGE_CHARS] + " ... (message shortened)",)
            exc.message = exc.args[0]
        raise


def _parse_manifest(path: Path, source_root: str | None = None) -> LibrarySpec:
    file = str(path)
    data = _safe_yaml(_read_manifest_text(path), file)
    if not isinstance(data, dict):
        raise ManifestError(file, "top level must be a mapping")
    unknown_top = set(data) - TOP_LEVEL_FIELDS
    if unknown_top:
        raise ManifestError(file, f"unknown top-level fields {sorted(unknown_top)}; known: "
                            f"{', '.join(sorted(TOP_LEVEL_FIELDS))}", field=sorted(unknown_top)[0])
    name = _req(data, "name", file, None)
    if not isinstance(name, str) or not name.strip():
        raise ManifestError(file, f"must be a non-empty string, got {_shown(name)}", field="name")
    dialect = _req(data, "dialect", file, None)
    if dialect not in ("hip", "cuda"):
        raise ManifestError(file, f"must be 'hip' or 'cuda', got {_shown(dialect)}", field="dialect")
    macros_raw = data.get("macros", {}) or {}
    if not isinstance(macros_raw, dict):
        raise ManifestError(file, "must be a mapping", field="macros")
    unknown = set(macros_raw) - {"kernel", "device_helper", "launch"}
    if unknown:
        raise ManifestError(file, f"unknown macro kinds {sorted(unknown)}; use kernel, device_helper, launch",
                            field="macros")
    for kind, names in macros_raw.items():
        if not isinstance(names, list) or not all(isinstance(v, str) for v in names):
            raise ManifestError(file, f"must be a list of macro names, got {_shown(names)}", field=f"macros.{kind}")
    macros = MacroTable(**{k: list(v) for k, v in macros_raw.items()})
    manifest_dir = path.parent.resolve()
    root = _resolve_source_root(data, manifest_dir, file, source_root)
    include_dirs = _str_list(data, "include_dirs", [], file)
    defines: dict[str, str | None] = {}
    cmake = data.get("cmake")
    if cmake:
        from portkern.ingest.cmake import read_cmake

        if cmake is not True and not isinstance(cmake, list):
            raise ManifestError(file, "must be true (every CMakeLists.txt under the source root) or a list of "
                                "CMake files", field="cmake")
        flags = read_cmake(root, None if cmake is True else [str(c) for c in cmake])
        defines.update(flags.defines)
        include_dirs += [str(d) for d in flags.include_dirs if str(d) not in include_dirs]
    defines.update(_parse_defines(data.get("defines"), file))
    headers_dirs = data.get("headers_dir") or []
    # headers the library's build generates (export, version), kept beside the manifest
    for i, hdir in enumerate([headers_dirs] if isinstance(headers_dirs, str) else headers_dirs):
        hd = (manifest_dir / str(hdir)).resolve()
        if not hd.is_dir():
            raise ManifestError(file, f"folder '{hdir}' does not exist beside the manifest", field="headers_dir")
        include_dirs.insert(i, str(hd))
    unit_headers = str(data.get("unit_headers", "extract"))
    if unit_headers not in ("extract", "include"):
        raise ManifestError(file, f"must be 'extract' or 'include', got {unit_headers!r}", field="unit_headers")
    kernels_raw = _as_list(_req(data, "kernels", file, None), file, None, "kernels")
    kernels = []
    seen: set[str] = set()
    for i, kr in enumerate(kernels_raw):
        if not isinstance(kr, dict):
            raise ManifestError(file, "each kernel must be a mapping", field=f"kernels[{i}]")
        try:
            k = _parse_kernel(kr, file, root, manifest_dir)
        except ManifestError:
            raise
        except (TypeError, AttributeError, ValueError, KeyError, IndexError, RecursionError) as exc:
            # A value of the wrong kind somewhere the checks above do not look: name the kernel.
            name = kr.get("name") if isinstance(kr.get("name"), str) else f"kernels[{i}]"
            raise ManifestError(file, f"a field holds a value of the wrong kind ({type(exc).__name__}: "
                                f"{_shown(str(exc), 200)})", kernel=name,
                                hint="compare the kernel with a working manifest, e.g. libraries/blas/library.yaml") from None
        if k.name in seen:
            raise ManifestError(file, "duplicate kernel name", kernel=k.name, field="name")
        seen.add(k.name)
        kernels.append(k)
    return LibrarySpec(
        name=name, dialect=dialect, root=str(root),
        license=str(data.get("license", "")), description=str(data.get("description", "")),
        include_dirs=include_dirs, sources=_str_list(data, "sources", ["**/*.cu", "**/*.cpp"], file),
        compile_flags=_str_list(data, "compile_flags", [], file) + list(_define_flags(defines)),
        macros=macros, kernels=kernels, manifest_dir="" if root == manifest_dir else str(manifest_dir), defines=defines,
        unit_headers=unit_headers,
        unit_exclude=[str(n) for n in _as_list(data.get("unit_exclude", []) or [], file, None, "unit_exclude")],
    )


def _parse_kernel(kr: dict, file: str, root: Path, manifest_dir: Path | None = None) -> KernelSpec:
    kname = str(_req(kr, "name", file, None))
    known_fields = {"name", "family", "file", "symbol", "dtypes", "args", "launches", "launch", "template_args",
                    "reference", "sizes", "bytes", "flops", "tunables", "defaults", "tolerance",
                    "reduction_length", "description", "constraints", "license"}
    extra = set(kr) - known_fields
    if extra:
        raise ManifestError(file, f"unknown fields {sorted(extra)}", kernel=kname, field=sorted(extra)[0])
    if "license" in kr and (not isinstance(kr["license"], str) or not kr["license"].strip()):
        raise ManifestError(file, "field 'license' must be an SPDX identifier such as MIT (it overrides the "
                            "library's license for this kernel's file)", kernel=kname, field="license")
    src = str(_req(kr, "file", file, kname))
    if not (root / src).exists():
        raise ManifestError(file, f"source file '{src}' does not exist", kernel=kname, field="file")
    symbol = str(_req(kr, "symbol", file, kname))
    dtypes = _as_list(_req(kr, "dtypes", file, kname), file, kname, "dtypes")
    if not dtypes:
        raise ManifestError(file, "lists no dtype; name at least one", kernel=kname, field="dtypes",
                            hint=f"known: {', '.join(DTYPES)}")
    for d in dtypes:
        if not isinstance(d, str) or d not in DTYPES:
            raise ManifestError(file, f"unknown dtype {d!r}; known: {', '.join(DTYPES)}", kernel=kname, field="dtypes")

    args: list[ArgSpec] = []
    for j, ar in enumerate(_as_list(_req(kr, "args", file, kname), file, kname, "args")):
        fld = f"args[{j}]"
        if not isinstance(ar, dict) or "name" not in ar or "role" not in ar:
            raise ManifestError(file, "each argument needs 'name' and 'role'", kernel=kname, field=fld)
        fld = f"args.{ar['name']}"
        if ar["role"] not in ROLES:
            raise ManifestError(file, f"unknown role {ar['role']!r}; known: {', '.join(ROLES)}",
                                kernel=kname, field=fld + ".role")
        bad = set(ar) - {f for f in ArgSpec.__dataclass_fields__}
        if bad:
            raise ManifestError(file, f"unknown fields {sorted(bad)}", kernel=kname, field=fld)
        ar = dict(ar)
        if ar["role"] in INTEGER_ROLES:
            # Sizes, strides and batch counts are C integers; int32 unless the manifest says otherwise.
            ar.setdefault("dtype", "int32")
            if str(ar["dtype"]) not in INTEGER_DTYPES:
                raise ManifestError(file, f"a {ar['role']} argument needs an integer dtype "
                                    f"({', '.join(INTEGER_DTYPES)}), got {ar['dtype']!r}", kernel=kname,
                                    field=fld + ".dtype")
        if "matrix" in ar:
            mat = ar["matrix"]
            if not isinstance(mat, list) or len(mat) != 3:
                raise ManifestError(file, "matrix must be [rows, cols, ld] expressions", kernel=kname,
                                    field=fld + ".matrix")
            ar["matrix"] = [str(v) for v in mat]
        a = ArgSpec(**{k: (str(v) if k in ("shape", "value", "batch_stride", "dtype", "bound") else v)
                       for k, v in ar.items()})
        if a.dtype != "T" and a.dtype not in DTYPES:
            raise ManifestError(file, f"unknown dtype {a.dtype!r}", kernel=kname, field=fld + ".dtype")
        if a.role in ARRAY_ROLES and not a.shape:
            raise ManifestError(file, "array arguments need a 'shape' expression", kernel=kname, field=fld + ".shape")
        if a.role in ("size", "stride", "batch") and not a.value:
            raise ManifestError(file, "needs a 'value' expression", kernel=kname, field=fld + ".value")
        if a.init not in INITS:
            raise ManifestError(file, f"unknown init {a.init!r}; known: {', '.join(INITS)}", kernel=kname,
                                field=fld + ".init")
        if a.batched not in ("", "strided", "pointers"):
            raise ManifestError(file, "batched must be 'strided' or 'pointers'", kernel=kname, field=fld + ".batched")
        args.append(a)
    arg_names = {a.name for a in args}

    sizes = _req(kr, "sizes", file, kname)
    if not isinstance(sizes, dict) or "validate" not in sizes or "bench" not in sizes:
        raise ManifestError(file, "needs 'validate' and 'bench' lists of size mappings", kernel=kname, field="sizes")
    sv = _as_list(sizes["validate"], file, kname, "sizes.validate")
    sb = _as_list(sizes["bench"], file, kname, "sizes.bench")
    size_names: set[str] = set()
    for s in sv + sb:
        if not isinstance(s, dict) or not s or not all(
                isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 40
                for k, v in s.items()):
            raise ManifestError(file, f"each size must map names to non-negative integers, got {_shown(s)}",
                                kernel=kname, field="sizes", hint="write sizes as numbers, e.g. {n: 1024}")
        size_names |= set(s)
    tunables = kr.get("tunables", {}) or {}
    if not isinstance(tunables, dict):
        raise ManifestError(file, "must be a mapping of parameter -> allowed values", kernel=kname, field="tunables")
    defaults = dict(kr.get("defaults", {}) or {})
    for t, vals in tunables.items():
        if not isinstance(vals, list) or not vals:
            raise ManifestError(file, "allowed values must be a non-empty list", kernel=kname, field=f"tunables.{t}")
        defaults.setdefault(t, vals[0])
    env_names = size_names | set(tunables) | set(defaults) | arg_names

    def check(e: Any, fld: str) -> str:
        try:
            free = expr.names(e)
        except expr.ExprError as exc:
            raise ManifestError(file, str(exc), kernel=kname, field=fld) from exc
        unknown_names = free - env_names
        if unknown_names:
            raise ManifestError(file, f"expression {e!r} uses unknown name(s) {sorted(unknown_names)}; known: "
                                f"{', '.join(sorted(env_names))}", kernel=kname, field=fld)
        return str(e)

    for a in args:
        for attr in ("shape", "value", "batch_stride", "bound"):
            v = getattr(a, attr)
            if v and not (a.role == "scalar" and attr == "value"):
                check(v, f"args.{a.name}.{attr}")
        for i, v in enumerate(a.matrix):
            check(v, f"args.{a.name}.matrix[{i}]")

    launches_raw = kr.get("launches")
    if launches_raw is None:
        one = _req(kr, "launch", file, kname)
        if not isinstance(one, dict):
            raise ManifestError(file, "must be a mapping with grid, block, shared_bytes", kernel=kname, field="launch")
        one = dict(one)
        one.setdefault("symbol", symbol)
        one.setdefault("template_args", kr.get("template_args", []))
        one.setdefault("args", [a.name for a in args])
        launches_raw = [one]
    launches = []
    for j, lr in enumerate(_as_list(launches_raw, file, kname, "launches")):
        fld = f"launches[{j}]"
        bad = set(lr) - {"symbol", "template_args", "grid", "block", "shared_bytes", "args"}
        if bad:
            raise ManifestError(file, f"unknown fields {sorted(bad)}", kernel=kname, field=fld)
        if not isinstance(lr, dict):
            raise ManifestError(file, "each launch must be a mapping", kernel=kname, field=fld)
        for part in ("template_args", "grid", "block", "args"):
            if part in lr and not isinstance(lr[part], list):
                raise ManifestError(file, f"must be a list, got {_shown(lr[part])}", kernel=kname,
                                    field=f"{fld}.{part}")
        if not isinstance(kr.get("template_args", []), list):
            raise ManifestError(file, f"must be a list, got {_shown(kr.get('template_args'))}", kernel=kname,
                                field="template_args")
        ls = LaunchSpec(symbol=str(lr.get("symbol", symbol)),
                        template_args=[str(t) for t in lr.get("template_args", kr.get("template_args", []))],
                        grid=[str(g) for g in lr.get("grid", [1, 1, 1])],
                        block=[str(b) for b in lr.get("block", [1, 1, 1])],
                        shared_bytes=str(lr.get("shared_bytes", 0)),
                        args=[str(a) for a in lr.get("args", [a.name for a in args])])
        if len(ls.grid) != 3 or len(ls.block) != 3:
            raise ManifestError(file, "grid and block need 3 expressions each", kernel=kname, field=fld)
        for g in ls.grid + ls.block + [ls.shared_bytes]:
            check(g, fld)
        for an in ls.args:
            if an not in arg_names:
                raise ManifestError(file, f"launch argument '{an}' is not a declared argument", kernel=kname,
                                    field=f"{fld}.args")
        launches.append(ls)

    reference = str(_req(kr, "reference", file, kname))
    if ":" not in reference:
        raise ManifestError(file, "must be 'file.py:function'", kernel=kname, field="reference")
    _load_reference(str(manifest_dir or root), reference, file, kname)
    bytes_moved = check(_req(kr, "bytes", file, kname), "bytes")
    flops = check(_req(kr, "flops", file, kname), "flops")
    red = kr.get("reduction_length", "")
    if red:
        check(red, "reduction_length")
    tol = kr.get("tolerance", {}) or {}
    if not isinstance(tol, dict) or not all(isinstance(v, dict) for v in tol.values()):
        raise ManifestError(file, f"must map dtypes to {{rtol, atol}}, got {_shown(tol)}", kernel=kname,
                            field="tolerance")
    for d, t in tol.items():
        if d not in DTYPES or not isinstance(t, dict) or set(t) - {"rtol", "atol"}:
            raise ManifestError(file, "tolerance maps a dtype to {rtol, atol}", kernel=kname, field=f"tolerance.{d}")
    constraints = [check(c, f"constraints[{i}]")
                   for i, c in enumerate(_as_list(kr.get("constraints", []) or [], file, kname, "constraints"))]
    kernel = KernelSpec(
        name=kname, family=str(kr.get("family", kname)), file=src, symbol=symbol, dtypes=list(dtypes), args=args,
        launches=launches, reference=reference, sizes_validate=sv, sizes_bench=sb, bytes_moved=bytes_moved,
        flops=flops, tunables={k: list(v) for k, v in tunables.items()}, defaults=defaults, tolerance=tol,
        reduction_length=str(red), description=str(kr.get("description", "")), constraints=constraints,
    )
    _check_sizes_evaluate(kernel, file)
    return kernel


def _check_sizes_evaluate(kernel: KernelSpec, file: str) -> None:
    """Evaluate every expression at every listed size with the default tunables, so a manifest that
    divides by zero, gives a negative shape or breaks its own constraints fails at load time."""
    for kind, size_list in (("sizes.validate", kernel.sizes_validate), ("sizes.bench", kernel.sizes_bench)):
        for sizes in size_list:
            try:
                env = kernel_env(kernel, sizes)
            except (expr.ExprError, ArithmeticError, KeyError) as exc:
                raise ManifestError(file, f"argument values do not evaluate at {sizes}: {exc}", kernel=kernel.name,
                                    field=kind) from exc
            for dtype in kernel.dtypes:
                elem = DTYPE_BYTES[dtype]
                fields = [(f"args.{a.name}.shape", a.shape) for a in kernel.args if a.shape]
                fields += [(f"launches[{i}].{part}", e) for i, ls in enumerate(kernel.launches)
                           for part, exprs in (("grid", ls.grid), ("block", ls.block),
                                               ("shared_bytes", [ls.shared_bytes])) for e in exprs]
                fields += [("bytes", kernel.bytes_moved), ("flops", kernel.flops)]
                for fld, e in fields:
                    try:
                        v = expr.evaluate(e, env, elem)
                    except (expr.ExprError, ArithmeticError, KeyError, TypeError) as exc:
                        raise ManifestError(file, f"{e!r} does not evaluate at {sizes}: {exc}", kernel=kernel.name,
                                            field=fld) from exc
                    if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0 or (
                            ".grid" in fld or ".block" in fld) and v < 1:
                        raise ManifestError(file, f"{e!r} is {v} at {sizes}", kernel=kernel.name, field=fld)
                for i, c in enumerate(kernel.constraints):
                    try:
                        holds = expr.evaluate(c, env, elem)
                    except (expr.ExprError, ArithmeticError, KeyError, TypeError) as exc:
                        raise ManifestError(file, f"constraint {c!r} does not evaluate at {sizes}: {exc}",
                                            kernel=kernel.name, field=f"constraints[{i}]") from None
                    if not holds:
                        raise ManifestError(file, f"constraint {c!r} fails at {sizes} with the default tunables "
                                            f"for {dtype}", kernel=kernel.name, field=f"constraints[{i}]")


_REF_CACHE: dict[tuple[str, str, int, int], Callable] = {}


def _load_reference(root: str, ref: str, file: str, kernel: str) -> Callable[..., dict[str, Any]]:
    mod_file, _, func = ref.partition(":")
    path = Path(root) / mod_file
    try:
        st = path.stat()
    except OSError:
        raise ManifestError(file, f"reference module '{mod_file}' does not exist", kernel=kernel,
                            field="reference") from None
    # Keyed on the file's state too: a long-lived worker must see an edited reference.
    key = (root, ref, st.st_mtime_ns, st.st_size)
    if key in _REF_CACHE:
        return _REF_CACHE[key]
    spec = importlib.util.spec_from_file_location(f"portkern_ref_{Path(root).name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    fn = getattr(module, func, None)
    if not callable(fn):
        raise ManifestError(file, f"reference function '{func}' not found in {mod_file}", kernel=kernel,
                            field="reference")
    _REF_CACHE[key] = fn
    return fn


# --------------------------------------------------------------------------- evaluation helpers


def kernel_env(kernel: KernelSpec, sizes: dict[str, int], params: dict[str, int] | None = None) -> dict[str, Any]:
    """Names visible to a kernel's expressions: sizes, tunables (defaults overridden by params), args."""
    env: dict[str, Any] = dict(kernel.defaults)
    env.update(params or {})
    env.update(sizes)
    for a in kernel.args:
        if a.role in ("size", "stride", "batch") and a.value:
            env[a.name] = expr.evaluate(a.value, env)
    return env


def instantiate(template_args: list[str], dtype: str, env: dict[str, Any]) -> list[str]:
    """Template arguments with T replaced by the dtype's C type and tunables by their values."""
    import re

    ctype = C_TYPES[dtype]
    out = []
    for t in template_args:
        s = re.sub(r"\bT\b", ctype, t)
        s = re.sub(r"\b([A-Za-z_]\w*)\b", lambda m: str(env[m.group(1)]) if m.group(1) in env and
                   isinstance(env[m.group(1)], int) else m.group(1), s)
        out.append(s)
    return out

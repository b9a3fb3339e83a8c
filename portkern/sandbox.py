"""Isolation for processes that run untrusted code (candidate kernels) and for compilers.

A worker process that may load a candidate gets, whatever the platform offers:

- no network: a private network namespace (``unshare -rn``) when unprivileged user namespaces work;
- a syscall filter (seccomp, through the ``pyseccomp`` binding of libseccomp) installed by the worker
  itself before it reads any candidate: no ``execve``, no new processes (threads only), no signals
  or ptrace aimed at other processes, no sockets;
- a scrubbed environment (an allow-list: paths Python needs, GPU selection variables, emulator
  settings) and a private temporary folder as its working directory, ``HOME`` and ``TMPDIR``;
- resource limits: CPU seconds, address space (where the runtime tolerates one), file size, processes.

A compiler run on candidate source gets the same resource limits (time, memory, file size).

``isolation_report()`` says what is active on this machine; ``portkern doctor`` prints it.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

# Environment variables a worker keeps (exact names, then prefixes); everything else is dropped.
_KEEP_NAMES = ("LD_LIBRARY_PATH", "LANG", "LC_ALL")
_KEEP_PREFIXES = ("CUDA_", "HIP_", "ROCR_", "ROCM_", "HSA_", "NVIDIA_", "NCCL_", "PORTKERN_EMU_", "PORTKERN_SANDBOX_")
GiB = 1 << 30


def _total_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * GiB


def _env_bytes(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(float(text))
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass
class Limits:
    """Resource limits of one sandboxed process; None leaves that limit as inherited."""

    cpu_seconds: int | None = None
    address_space_bytes: int | None = None
    file_bytes: int | None = 256 << 20
    extra_processes: int | None = 512       # on top of the user's current count (threads count too)

    def _values(self) -> list[tuple[str, int, int | None]]:
        nproc = None
        if self.extra_processes is not None:
            nproc = _user_task_count() + self.extra_processes
        return [("cpu", resource.RLIMIT_CPU, self.cpu_seconds), ("as", resource.RLIMIT_AS, self.address_space_bytes),
                ("fsize", resource.RLIMIT_FSIZE, self.file_bytes), ("nproc", resource.RLIMIT_NPROC, nproc),
                ("core", resource.RLIMIT_CORE, 0)]

    def wrap(self, command: list[str]) -> tuple[list[str], Any]:
        """(command, preexec_fn) that run ``command`` under these limits.

        With util-linux ``prlimit`` on PATH the limits are set by exec'ing through it (safe when the
        caller has threads); otherwise a preexec_fn sets them in the child.
        """
        tool = _prlimit()
        values = self._values()
        if tool:
            flags = [f"--{name}={_capped(which, value)}" for name, which, value in values if value is not None]
            return [tool, *flags, "--", *command], None
        return list(command), self.preexec(values)

    def preexec(self, values: list[tuple[str, int, int | None]] | None = None):
        """A function for ``subprocess.Popen(preexec_fn=...)`` that applies these limits in the child."""
        values = values if values is not None else self._values()

        def apply() -> None:
            for _name, which, value in values:
                _set(which, value)

        return apply


@functools.lru_cache(maxsize=1)
def _prlimit() -> str | None:
    return shutil.which("prlimit")


def _capped(which: int, value: int) -> int:
    _soft, hard = resource.getrlimit(which)
    return int(value) if hard == resource.RLIM_INFINITY else min(int(value), hard)


def _set(which: int, value: int | None) -> None:
    if value is None:
        return
    soft, hard = resource.getrlimit(which)
    value = int(value)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    try:
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        resource.setrlimit(which, (value, hard))


def _user_task_count() -> int:
    """Threads of every process of this real user (what RLIMIT_NPROC counts)."""
    uid = os.getuid()
    count = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        owner = threads = None
        for line in text.splitlines():
            if line.startswith("Uid:"):
                owner = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
        if owner == uid and threads:
            count += threads
    return count


def compiler_limits(timeout_s: float) -> Limits:
    """Limits for a compiler building candidate source (PORTKERN_COMPILE_MEMORY_BYTES overrides memory)."""
    return Limits(cpu_seconds=int(timeout_s) + 5,
                  address_space_bytes=_env_bytes("PORTKERN_COMPILE_MEMORY_BYTES", 4 * GiB),
                  file_bytes=1 * GiB, extra_processes=None)


def worker_limits(timeout_s: float, *, limit_memory: bool, limit_cpu: bool = True) -> Limits:
    """Limits for a worker; ``limit_memory`` is False for runtimes that reserve huge address ranges
    (GPU drivers, AddressSanitizer's shadow memory); ``limit_cpu`` is False for a worker that stays
    (CPU seconds add up over its calls; each call has its own wall-clock limit instead)."""
    if not limit_cpu:
        memory = _env_bytes("PORTKERN_WORKER_MEMORY_BYTES", max(8 * GiB, _total_memory_bytes() // 2))
        return Limits(cpu_seconds=None, address_space_bytes=memory if limit_memory else None)
    cpus = os.cpu_count() or 1
    memory = None
    if limit_memory:
        default = max(8 * GiB, _total_memory_bytes() // 2)
        memory = _env_bytes("PORTKERN_WORKER_MEMORY_BYTES", default)
    return Limits(cpu_seconds=int(timeout_s * cpus) + 30, address_space_bytes=memory)


# --------------------------------------------------------------------------- network namespace


@functools.lru_cache(maxsize=1)
def network_namespace_prefix() -> tuple[str, ...]:
    """Command prefix that starts a program without network, or () where that is not allowed."""
    if os.environ.get("PORTKERN_SANDBOX_NETNS", "1") == "0":
        return ()
    unshare = shutil.which("unshare")
    if not unshare:
        return ()
    # A user namespace first (even for root: the worker then holds no capability outside it), then a
    # network namespace alone where user namespaces are off but we are root.
    tries = [(unshare, "-rn")] + ([(unshare, "-n")] if os.geteuid() == 0 else [])
    for prefix in tries:
        try:
            if subprocess.run([*prefix, "true"], capture_output=True, timeout=20).returncode == 0:
                return prefix
        except (OSError, subprocess.TimeoutExpired):
            continue
    return ()


# --------------------------------------------------------------------------- environment


def scrubbed_env(private_dir: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The allow-listed environment of a worker whose home and temporary folder is ``private_dir``."""
    env = {k: v for k, v in os.environ.items() if k in _KEEP_NAMES or k.startswith(_KEEP_PREFIXES)}
    env.update({
        "PATH": "/usr/bin:/bin",
        "HOME": private_dir,
        "TMPDIR": private_dir,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PORTKERN_SANDBOXED": "1",
    })
    env.setdefault("LANG", "C.UTF-8")
    env.update(extra or {})
    return env


# --------------------------------------------------------------------------- syscall filter

# errno values (Linux, every architecture portkern runs on)
_EPERM, _ENOSYS = 1, 38
_CLONE_THREAD = 0x00010000
_DENIED = ("execve", "execveat", "fork", "vfork", "ptrace", "process_vm_writev", "process_vm_readv",
           "pidfd_open", "pidfd_send_signal", "pidfd_getfd", "socket", "socketpair", "kexec_load",
           "mount", "umount2", "setns", "unshare", "chroot", "pivot_root", "bpf", "perf_event_open",
           "keyctl", "add_key", "request_key", "personality")


def syscall_filter_available() -> tuple[bool, str]:
    if os.environ.get("PORTKERN_SANDBOX_FILTER", "1") == "0":
        return False, "turned off (PORTKERN_SANDBOX_FILTER=0)"
    try:
        import pyseccomp  # noqa: F401  (third-party binding; absent is a reported state, not a bug)
    except (ImportError, OSError) as exc:
        return False, f"pyseccomp unavailable ({exc}); pip install pyseccomp (needs libseccomp)"
    return True, "seccomp through pyseccomp/libseccomp"


_AF_UNIX = 1


def install_syscall_filter(*, local_sockets: bool = False) -> str:
    """Install the worker's seccomp filter in this process (irreversible); '' on success, else why not.

    Threads stay allowed (the emulator and GPU runtimes need them); a new process, a program
    execution, signals or tracing aimed at another process and any socket fail with EPERM.
    ``local_sockets``: Unix-domain sockets stay allowed (a profiler's injected library reports to its
    front end through one; the process has no network either way, in its own network namespace).
    """
    if os.environ.get("PORTKERN_SANDBOX_FILTER", "1") == "0":
        return "syscall filter turned off (PORTKERN_SANDBOX_FILTER=0)"
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError) as exc:
        return f"pyseccomp unavailable: {exc}"
    pid = os.getpid()
    try:
        flt = seccomp.SyscallFilter(seccomp.ALLOW)
        for name in _DENIED:
            if local_sockets and name in ("socket", "socketpair"):
                continue
            try:
                flt.add_rule(seccomp.ERRNO(_EPERM), name)
            except (OSError, ValueError, RuntimeError):
                continue  # a syscall this architecture does not have
        if local_sockets:
            for name in ("socket", "socketpair"):
                flt.add_rule(seccomp.ERRNO(_EPERM), name, seccomp.Arg(0, seccomp.NE, _AF_UNIX))
        # clone: threads only. clone3 passes its flags in memory a filter cannot read: make the
        # C library fall back to clone, which the filter can judge.
        flt.add_rule(seccomp.ERRNO(_EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, _CLONE_THREAD, 0))
        flt.add_rule(seccomp.ERRNO(_ENOSYS), "clone3")
        # Signals only to this process.
        flt.add_rule(seccomp.ERRNO(_EPERM), "kill", seccomp.Arg(0, seccomp.NE, pid))
        flt.add_rule(seccomp.ERRNO(_EPERM), "tgkill", seccomp.Arg(0, seccomp.NE, pid))
        flt.add_rule(seccomp.ERRNO(_EPERM), "tkill")
        flt.load()
    except Exception as exc:  # libseccomp reports through OSError/RuntimeError; any failure is a state
        return f"seccomp filter not installed: {type(exc).__name__}: {exc}"
    return ""


# --------------------------------------------------------------------------- report


@dataclass
class Isolation:
    network_namespace: bool
    syscall_filter: bool
    syscall_filter_note: str
    scrubbed_environment: bool = True
    private_temp_dir: bool = True
    resource_limits: list[str] = field(default_factory=lambda: ["cpu", "address-space (emulator)",
                                                                "file-size", "processes"])
    separate_user: bool = False
    filesystem_restricted: bool = False

    def lines(self) -> list[str]:
        def mark(ok: bool) -> str:
            return "yes" if ok else "NO"

        return [f"no network (network namespace): {mark(self.network_namespace)}",
                f"syscall filter: {mark(self.syscall_filter)} ({self.syscall_filter_note})",
                "scrubbed environment, private temporary folder: yes",
                f"resource limits: {', '.join(self.resource_limits)}",
                f"separate user: {mark(self.separate_user)}; file access restricted to inputs: "
                f"{mark(self.filesystem_restricted)} (the worker can read what the invoking user can)"]

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def isolation_report() -> Isolation:
    ok, note = syscall_filter_available()
    return Isolation(network_namespace=bool(network_namespace_prefix()), syscall_filter=ok,
                     syscall_filter_note=note)

"""Finding the host C++ compiler the emulator builds with, and its AddressSanitizer runtime."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

from portkern.errors import ToolMissingError

# Tried in this order unless PORTKERN_EMU_CXX names one.
CANDIDATES = ("g++", "clang++-19", "clang++")


@dataclass(frozen=True)
class HostCompiler:
    path: str
    version: str          # first line of `--version`
    family: str           # "gcc" | "clang"

    @property
    def identity(self) -> str:
        return f"{self.path} ({self.version})"


def _probe(path: str) -> HostCompiler | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    first = out.stdout.splitlines()[0].strip() if out.stdout else path
    family = "clang" if "clang" in first.lower() else "gcc"
    return HostCompiler(path=path, version=first, family=family)


@lru_cache(maxsize=4)
def _find(preferred: str) -> HostCompiler | None:
    names = [preferred] if preferred else list(CANDIDATES)
    for name in names:
        path = shutil.which(name)
        if path:
            found = _probe(path)
            if found:
                return found
    return None


def find_compiler() -> HostCompiler | None:
    return _find(os.environ.get("PORTKERN_EMU_CXX", ""))


def require_compiler() -> HostCompiler:
    found = find_compiler()
    if found is None:
        wanted = os.environ.get("PORTKERN_EMU_CXX") or " or ".join(CANDIDATES)
        raise ToolMissingError(wanted, "building kernels for the CPU emulator",
                               "install g++ (apt-get install g++) or clang++, or set PORTKERN_EMU_CXX")
    return found


@lru_cache(maxsize=4)
def asan_runtime(compiler_path: str, family: str) -> str:
    """Path of the AddressSanitizer runtime a sanitized build links against ("" if not found)."""
    name = "libasan.so" if family == "gcc" else "libclang_rt.asan-x86_64.so"
    query = ["-print-file-name=" + name] if family == "gcc" else ["-print-file-name=" + name]
    try:
        out = subprocess.run([compiler_path, *query], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    path = out.stdout.strip()
    if family == "clang" and not os.path.isabs(path):
        rt = subprocess.run([compiler_path, "-print-runtime-dir"], capture_output=True, text=True, timeout=30)
        path = os.path.join(rt.stdout.strip(), name)
    return os.path.realpath(path) if os.path.isabs(path) and os.path.exists(path) else ""

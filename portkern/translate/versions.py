"""The releases a translation targets: the installed CUDA toolkit's version, and checks of user input."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from portkern.errors import ConfigError
from portkern.translate.maps import parse_version

DEFAULT_CUDA_VERSION = "13.0"


def check_release(text: str, option: str) -> str:
    """``text`` when it reads as a release number (``12.4``, ``6.2.1``); a clear error otherwise."""
    try:
        if parse_version(text):
            return text.strip()
    except ValueError:
        pass
    raise ConfigError(f"{option} {text!r}: not a release number", hint=f"write it like {option} 12.4")


def installed_cuda_version() -> str:
    """MAJOR.MINOR of the nvcc on PATH (read from the toolkit's version.json, else ``nvcc --version``);
    13.0 when there is none."""
    nvcc = shutil.which("nvcc")
    if not nvcc:
        return DEFAULT_CUDA_VERSION
    version_json = Path(nvcc).resolve().parent.parent / "version.json"
    try:
        full = json.loads(version_json.read_text())["cuda"]["version"]
        return ".".join(full.split(".")[:2])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return DEFAULT_CUDA_VERSION
    m = re.search(r"release (\d+\.\d+)", out)
    return m.group(1) if m else DEFAULT_CUDA_VERSION

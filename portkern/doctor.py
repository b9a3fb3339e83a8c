"""`portkern doctor`: what this machine has for each stage, and how to get what is missing."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from portkern.config import load_config
from portkern.model import Record
from portkern.targets import load_targets

PROBE_KERNEL = "__global__ void portkern_probe(float* x) { x[threadIdx.x] += 1.0f; }\n"


@dataclass
class Check(Record):
    name: str                 # what was checked
    ok: bool
    detail: str               # version, path, what was found
    blocks: str = ""          # what a missing piece blocks
    fix: str = ""             # how to get it
    data: dict = field(default_factory=dict)


def _run(cmd: list[str], timeout: float = 30.0) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None


def find_clang() -> str | None:
    """A clang with the AMDGPU backend: ROCm's first, then versioned Debian ones."""
    for name in ("/opt/rocm/llvm/bin/clang", "clang-22", "clang-19", "clang-20", "clang-21", "clang-18", "clang"):
        path = shutil.which(name) if not name.startswith("/") else (name if os.path.exists(name) else None)
        if path:
            out = _run([path, "-print-targets"])
            if out and "amdgcn" in out.stdout:
                return path
    return None


def find_hip_include() -> str | None:
    for root in ("/opt/rocm/include", "/usr/include", "/usr/local/include"):
        if (Path(root) / "hip" / "hip_runtime.h").exists():
            return root
    return None


def check_nvcc() -> Check:
    nvcc = shutil.which("nvcc")
    if not nvcc:
        return Check("nvcc", False, "not on PATH", blocks="compiling for NVIDIA targets (h100, h200, a100)",
                     fix="install the CUDA toolkit (NVIDIA's cuda-toolkit, or Debian's nvidia-cuda-toolkit) and put nvcc on PATH")
    ver = _run([nvcc, "--version"])
    version = ""
    if ver:
        m = re.search(r"release ([\d.]+)", ver.stdout)
        version = m.group(1) if m else ver.stdout.strip().splitlines()[-1]
    archs_out = _run([nvcc, "--list-gpu-arch"])
    archs = sorted({a.replace("compute_", "sm_") for a in (archs_out.stdout.split() if archs_out else [])})
    wanted = sorted({t.arch for t in load_targets().values() if t.backend == "cuda"})
    missing = [a for a in wanted if a not in archs]
    return Check("nvcc", not missing, f"{nvcc} (CUDA {version}); archs: {', '.join(archs)}",
                 blocks="" if not missing else f"targets with arch {', '.join(missing)}",
                 fix="" if not missing else "install a CUDA toolkit that supports these archs",
                 data={"path": nvcc, "version": version, "archs": archs})


def check_nvrtc() -> Check:
    """NVRTC through cuda-python: compiles CUDA to cubin/PTX in-process, with or without nvcc."""
    from portkern.backends.cuda.nvrtc import (
        NVRTC_PACKAGE_HINT,
        cuda_include_dirs,
        nvrtc_identity,
        nvrtc_version,
    )

    identity = nvrtc_identity()
    if identity is None:
        return Check("NVRTC", False, "cuda.bindings.nvrtc or libnvrtc not found",
                     blocks="compiling for NVIDIA targets without nvcc (compile.cuda_compiler: nvrtc)",
                     fix=NVRTC_PACKAGE_HINT)
    headers = cuda_include_dirs()
    return Check("NVRTC", True, f"{identity}; CUDA headers: {headers[0] if headers else 'none found'}",
                 data={"version": nvrtc_version(), "cuda_include_dirs": headers})


def check_clang() -> Check:
    clang = find_clang()
    if not clang:
        return Check("clang (AMDGPU)", False, "no clang with the AMDGPU backend found",
                     blocks="compiling for AMD targets (mi300x, mi250x)",
                     fix="apt-get install clang-19 lld-19 libamdhip64-dev rocm-device-libs")
    ver = _run([clang, "--version"])
    version = ver.stdout.splitlines()[0] if ver and ver.stdout else "?"
    hip_inc = find_hip_include()
    archs: dict[str, str] = {}
    wanted = sorted({t.arch for t in load_targets().values() if t.backend == "hip"})
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "probe.hip"
        src.write_text(("#include <hip/hip_runtime.h>\n" if hip_inc else "") + PROBE_KERNEL)
        for arch in wanted:
            # -S: code generation for the arch is what is probed; linking device libraries is a separate check
            cmd = [clang, "-x", "hip", f"--offload-arch={arch}", "--offload-device-only", "-nogpulib", "-O1",
                   "-S", str(src), "-o", str(Path(tmp) / f"{arch}.s")]
            out = _run(cmd, timeout=60)
            archs[arch] = "ok" if out and out.returncode == 0 else ((out.stderr.strip().splitlines() or ["failed"])[-1] if out else "timed out")
    bad = [a for a, r in archs.items() if r != "ok"]
    return Check("clang (AMDGPU)", not bad,
                 f"{clang}: {version}; gfx archs compiling a HIP kernel: {', '.join(a for a in archs if a not in bad) or 'none'}",
                 blocks="" if not bad else f"AMD targets with arch {', '.join(bad)}",
                 fix="" if not bad else "install a newer clang (apt-get install clang-19 lld-19)",
                 data={"path": clang, "version": version, "archs": archs})


def check_hip_headers() -> Check:
    inc = find_hip_include()
    if not inc:
        return Check("HIP headers", False, "hip/hip_runtime.h not found", blocks="compiling HIP for AMD targets",
                     fix="apt-get install libamdhip64-dev (or install ROCm)")
    return Check("HIP headers", True, f"{inc}/hip/hip_runtime.h", data={"include_dir": inc})


def check_device_libs() -> Check:
    roots = [Path("/opt/rocm/amdgcn/bitcode"), Path("/usr/lib/x86_64-linux-gnu/amdgcn/bitcode"),
             Path("/usr/lib/llvm-19/lib/clang/19/lib/amdgcn/bitcode")]
    roots += list(Path("/usr/lib").glob("*/amdgcn/bitcode"))
    for r in roots:
        if r.exists() and list(r.glob("ocml*.bc")):
            isa = sorted(p.stem.replace("oclc_isa_version_", "gfx") for p in r.glob("oclc_isa_version_*.bc"))
            return Check("ROCm device libraries", True, f"{r} (isa versions up to {isa[-1] if isa else '?'})",
                         data={"path": str(r), "isa_versions": isa})
    return Check("ROCm device libraries", False, "ocml bitcode not found",
                 blocks="device math functions in AMD code objects (kernels still compile without them)",
                 fix="apt-get install rocm-device-libs (or install ROCm)")


def check_host_cxx() -> Check:
    for name in ("g++", "clang++-19", "clang++"):
        path = shutil.which(name)
        if path:
            ver = _run([path, "--version"])
            return Check("host C++ compiler", True, f"{path}: {ver.stdout.splitlines()[0] if ver else '?'}",
                         data={"path": path})
    return Check("host C++ compiler", False, "no g++ or clang++", blocks="the CPU emulator (validation without a GPU)",
                 fix="apt-get install g++")


def check_gpus() -> list[Check]:
    out: list[Check] = []
    smi = shutil.which("nvidia-smi")
    res = _run([smi, "-L"], timeout=20) if smi else None
    gpus = [line for line in (res.stdout.splitlines() if res and res.returncode == 0 else []) if line.startswith("GPU")]
    out.append(Check("NVIDIA GPU", bool(gpus), "; ".join(gpus) or ("nvidia-smi found no GPU" if smi else "nvidia-smi not found"),
                     blocks="" if gpus else "validating and timing on an NVIDIA device (the emulator and estimates stand in)",
                     fix="" if gpus else "run on a machine with an NVIDIA GPU and its driver", data={"gpus": gpus}))
    amd: list[str] = []
    for tool, args in (("rocm-smi", ["--showproductname"]), ("rocminfo", [])):
        path = shutil.which(tool)
        if path:
            r = _run([path, *args], timeout=20)
            if r and r.returncode == 0:
                amd = [line.strip() for line in r.stdout.splitlines() if "gfx" in line and "Name" in line] or ["present"]
                break
    if not amd and Path("/dev/kfd").exists():
        amd = ["/dev/kfd present"]
    out.append(Check("AMD GPU", bool(amd), "; ".join(amd) or "no AMD GPU (rocm-smi/rocminfo absent or found none)",
                     blocks="" if amd else "validating and timing on an AMD device (the emulator at wave64 and estimates stand in)",
                     fix="" if amd else "run on a machine with an AMD Instinct GPU and ROCm", data={"gpus": amd}))
    return out


def check_model_servers(cfg=None) -> list[Check]:
    cfg = cfg or load_config()
    llm = cfg["llm"]
    out: list[Check] = []
    host = llm["ollama_host"].rstrip("/")
    try:
        r = httpx.get(f"{host}/api/tags", timeout=2.0)
        models = [m.get("name", "") for m in r.json().get("models", [])]
        have = any(m == llm["model"] or m.split(":")[0] == llm["model"] for m in models)
        out.append(Check("Ollama", have, f"{host}: models {', '.join(models) or 'none'}",
                         blocks="" if have else f"model stages with {llm['model']}",
                         fix="" if have else f"ollama pull {llm['model']}", data={"url": host, "models": models}))
    except (httpx.HTTPError, ValueError) as exc:
        out.append(Check("Ollama", False, f"not reachable at {host} ({type(exc).__name__})",
                         blocks="model stages (translate/repair/optimize with the model); rules and sweeps still run",
                         fix=f"start one: `ollama serve` then `ollama pull {llm['model']}` (or set OLLAMA_HOST)",
                         data={"url": host}))
    base = llm["openai_base_url"].rstrip("/")
    if base:
        try:
            r = httpx.get(f"{base}/models", timeout=2.0,
                          headers={"Authorization": f"Bearer {llm['api_key']}"} if llm["api_key"] else None)
            ids = [m.get("id", "") for m in r.json().get("data", [])]
            out.append(Check("OpenAI-compatible server", True, f"{base}: models {', '.join(ids) or 'none'}",
                             data={"url": base, "models": ids}))
        except (httpx.HTTPError, ValueError) as exc:
            out.append(Check("OpenAI-compatible server", False, f"not reachable at {base} ({type(exc).__name__})",
                             blocks="model stages through the OpenAI-compatible provider",
                             fix="start the server (vLLM, llama.cpp server, SGLang) or fix llm.openai_base_url",
                             data={"url": base}))
    return out


def check_python_pkg(module: str, label: str, blocks: str, fix: str) -> Check:
    spec = importlib.util.find_spec(module)
    if spec is None:
        return Check(label, False, "not installed", blocks=blocks, fix=fix)
    from importlib.metadata import PackageNotFoundError, version
    try:
        ver = version(label.split()[0])
    except PackageNotFoundError:
        ver = "installed"
    return Check(label, True, ver)


def check_sandbox() -> Check:
    """Which isolation the worker that runs candidate code gets on this machine."""
    from portkern.sandbox import isolation_report

    iso = isolation_report()
    return Check("candidate sandbox", iso.network_namespace and iso.syscall_filter, "; ".join(iso.lines()),
                 blocks="full isolation of model-written code (it still runs, with the layers marked NO missing)",
                 fix="pip install pyseccomp (needs libseccomp); allow unprivileged user namespaces "
                     "(sysctl kernel.unprivileged_userns_clone=1 or user.max_user_namespaces > 0)",
                 data=iso.to_dict())


def run_checks() -> list[Check]:
    checks = [check_nvcc(), check_nvrtc(), check_clang(), check_hip_headers(), check_device_libs(), check_host_cxx(),
              check_sandbox()]
    checks += check_gpus()
    checks += check_model_servers()
    checks.append(check_python_pkg("ray", "ray", "the Ray executor (--executor ray) and cluster dataset jobs",
                                   "pip install 'portkern[ray]'"))
    checks.append(check_python_pkg("cuda", "cuda-python", "the CUDA device runner (with CuPy as the other option)",
                                   "pip install 'portkern[cuda]'"))
    checks.append(check_python_pkg("cupy", "cupy", "cuBLAS baselines and the CUDA device runner",
                                   "pip install 'portkern[cuda]'"))
    checks.append(check_python_pkg("hip", "hip-python", "the HIP device runner on AMD GPUs",
                                   "pip install 'portkern[rocm]'"))
    checks.append(check_python_pkg("tree_sitter_cuda", "tree-sitter-cuda", "ingest and translation",
                                   "pip install tree-sitter-cuda"))
    return checks

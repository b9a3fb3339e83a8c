"""Configuration: built-in defaults < portkern.yaml < environment variables < command-line flags.

``portkern.yaml`` is looked for at ``$PORTKERN_CONFIG`` if set, else in the current directory.
Environment variables are ``PORTKERN_<SECTION>_<KEY>`` (upper case), for example
``PORTKERN_LLM_MODEL=qwen2.5-coder:7b``; ``OLLAMA_HOST`` is honoured for the Ollama address.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

from portkern.errors import ConfigError

DEFAULTS: dict[str, Any] = {
    "runs_dir": "runs",
    "cache_dir": ".portkern-cache",
    "store": "runs/index.sqlite",
    "executor": "local",
    "ray_address": "",
    "llm": {
        "provider": "ollama",           # "ollama" | "openai" | "none"
        "model": "qwen2.5-coder:7b",
        "ollama_host": "http://127.0.0.1:11434",
        "openai_base_url": "",          # e.g. http://127.0.0.1:8000/v1
        "api_key": "",
        "timeout_s": 120.0,
        "call_seconds": 120.0,          # one model call, retries included; a streamed reply is cut there
        "retries": 3,
        "concurrency": 2,
        "temperature": 0.2,
        "seed": 1234,
        "max_tokens": 2048,
    },
    "search": {"strategy": "sweep", "max_candidates": 16, "max_model_calls": 16,
               "max_gpu_seconds": 300.0, "max_wall_seconds": 1800.0},
    # persistent_worker: one sandboxed worker per GPU serves many candidates (false: a fresh one per call).
    "validate": {"seeds": 2, "timeout_s": 120.0, "persistent_worker": True},
    # Compiler overrides: a path or a name on PATH ("" = discover). Empty rocm_device_libs = search.
    # cuda_compiler: "auto" (nvcc when present, else NVRTC) | "nvcc" | "nvrtc".
    "compile": {"nvcc": "", "hip_clang": "", "nvdisasm": "", "rocm_device_libs": "", "cuda_compiler": "auto"},
    # Adaptive timing: trials until the median's 95% interval lies within ci_fraction of it, between
    # min_trials and max_trials.
    # base_full: time each kernel's base at every bench size and dtype beside the vendor library
    # (false: at the primary point only, like search candidates; for runs that gather timings).
    # base_vendor: with base_full false, still time the vendor library beside the base at that point.
    # check_on: where timed runs are generated and checked on a GPU runner: "auto" (on the GPU when
    # CuPy sees one, else on the host) | "device" | "host".
    # l2_flush: how the cache is emptied before each trial: "auto" (read twice its size where the runner
    # has a sweep kernel, so it holds only clean lines; written otherwise) | "write" (always written).
    # profile: Nsight Compute counters of each correct candidate timed on an NVIDIA GPU, shown to the model
    # server once refine has settled a kernel's structure: "auto" (with refine and a model server) | true | false.
    "bench": {"warmup": 10, "trials": 50, "ci_fraction": 0.02, "min_trials": 10, "max_trials": 200,
              "base_full": True, "base_vendor": True, "check_on": "auto", "l2_flush": "auto", "profile": "auto"},
    # llm_forecast: ask the model server for each predicted candidate's time too (recorded and measured
    # by `portkern model eval`, never used to decide; off by default), at most llm_forecast_max_calls
    # calls per run.
    "perfmodel": {"llm_forecast": False, "llm_forecast_max_calls": 64},
}

_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


class Config(dict):
    """A nested dict with attribute-free, explicit access: ``cfg["llm"]["model"]``."""

    source: str = "defaults"


def _merge(base: dict, over: dict, where: str, path: str = "") -> None:
    for key, value in over.items():
        full = f"{path}{key}"
        if key not in base:
            raise ConfigError(f"{where}: unknown setting '{full}'",
                              hint=f"known settings here: {', '.join(sorted(base))}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: setting '{full}' must be a mapping, got {type(value).__name__}")
            _merge(base[key], value, where, full + ".")
        else:
            base[key] = _coerce(base[key], value, where, full)


def _coerce(default: Any, value: Any, where: str, name: str) -> Any:
    want = type(default)
    if isinstance(value, want) and not (want is int and isinstance(value, bool)):
        return value
    try:
        if want is bool and isinstance(value, str):
            low = value.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if want in (int, float):
            return want(value)
        if want is str:
            return str(value)
    except (TypeError, ValueError):
        pass
    raise ConfigError(f"{where}: setting '{name}' must be {want.__name__}, got {value!r}")


def config_path(environ: dict[str, str] | None = None) -> Path:
    env = (os.environ if environ is None else environ).get("PORTKERN_CONFIG")
    return Path(env) if env else Path.cwd() / "portkern.yaml"


def load_config(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Config:
    environ = dict(os.environ if environ is None else environ)
    cfg = Config(copy.deepcopy(DEFAULTS))
    explicit = path is not None or bool(environ.get("PORTKERN_CONFIG"))
    file = Path(path) if path else config_path(environ)
    if file.exists():
        try:
            data = yaml.safe_load(file.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file}: not valid YAML ({exc})",
                              hint="fix the file or point PORTKERN_CONFIG elsewhere") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: the top level must be a mapping of settings")
        _merge(cfg, data, str(file))
        cfg.source = str(file)
    elif explicit:
        raise ConfigError(f"{file}: config file does not exist",
                          hint="create it, or unset PORTKERN_CONFIG to use ./portkern.yaml when present")
    if environ.get("OLLAMA_HOST"):
        host = environ["OLLAMA_HOST"]
        cfg["llm"]["ollama_host"] = host if "://" in host else f"http://{host}"
    for key, value in environ.items():
        if not key.startswith("PORTKERN_") or key == "PORTKERN_CONFIG":
            continue
        parts = key[len("PORTKERN_"):].lower()
        section, _, rest = parts.partition("_")
        if section in cfg and isinstance(cfg[section], dict) and rest in cfg[section]:
            cfg[section][rest] = _coerce(cfg[section][rest], value, f"environment variable {key}", f"{section}.{rest}")
        elif parts in cfg and not isinstance(cfg[parts], dict):
            cfg[parts] = _coerce(cfg[parts], value, f"environment variable {key}", parts)
    return cfg

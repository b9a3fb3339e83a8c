from __future__ import annotations

import glob
import re
import shutil
from pathlib import Path

import pytest

from portkern.errors import ConfigError
from portkern.translate.maps import build_tables, load_maps


def test_tables_load_with_breadth_in_every_category():
    tables = load_maps()
    counts = tables.counts()
    assert set(counts) >= {"runtime", "driver", "device", "math", "types", "headers", "cublas", "cusolver",
                           "curand", "cufft", "cusparse", "cub"}
    assert counts["runtime"]["mapped"] >= 300
    assert counts["driver"]["mapped"] >= 150
    assert counts["cublas"]["mapped"] >= 250 and counts["cublas"]["roc"] >= 150
    assert counts["cusolver"]["roc"] >= 50
    assert counts["math"]["same_name"] >= 150


def test_known_mappings_both_directions():
    t = load_maps()
    assert t.to_hip["cudaMalloc"].hip == "hipMalloc"
    assert t.to_hip["cudaDeviceProp"].hip == "hipDeviceProp_t"
    assert t.to_hip["cublasSgemm"].roc == "rocblas_sgemm"
    assert t.to_hip["cublasSgemm_v2"].hip == "hipblasSgemm"
    assert t.to_hip["cusolverDnDgetrf"].roc == "rocsolver_dgetrf"
    assert t.to_hip["CUFFT_INVERSE"].hip == "HIPFFT_BACKWARD"
    # reverse preference: runtime over driver, the preferred flag, never a one-way alias
    assert t.to_cuda["hipError_t"].cuda == "cudaError_t"          # not CUresult (driver)
    assert t.to_cuda["hipStream_t"].cuda == "cudaStream_t"        # not CUstream
    assert t.to_cuda["hipMalloc"].cuda == "cudaMalloc"            # not cuMemAlloc
    assert t.to_cuda["hipHostMalloc"].cuda == "cudaHostAlloc"     # marked preferred over cudaMallocHost
    assert t.to_cuda["hipblasSgemm"].cuda == "cublasSgemm"        # not the _v2 alias
    assert t.to_cuda["hip/hip_runtime.h"].cuda == "cuda_runtime.h"
    assert t.to_cuda["hipDeviceSynchronize"].cuda == "cudaDeviceSynchronize"  # not the deprecated one
    assert t.roc_to_cuda["rocblas_sgemm"].cuda == "cublasSgemm"


def _table(category, priority, entries):
    return {"category": category, "priority": priority, "entries": entries}


def test_preference_rule_orders_flag_then_priority_then_deprecation():
    t = build_tables([("a", _table("runtime", 20, {"cudaX": "hipX", "cudaOldX": {"hip": "hipX", "deprecated": True}})),
                      ("b", _table("driver", 10, {"cuX": "hipX"}))])
    assert t.to_cuda["hipX"].cuda == "cudaX"
    t = build_tables([("a", _table("runtime", 20, {"cudaX": "hipX"})),
                      ("b", _table("driver", 10, {"cuX": {"hip": "hipX", "preferred": True}}))])
    assert t.to_cuda["hipX"].cuda == "cuX"


def test_ambiguous_reverse_mapping_is_a_table_error():
    with pytest.raises(ConfigError, match="hipX"):
        build_tables([("a", _table("runtime", 20, {"cudaX": "hipX", "cudaY": "hipX"}))])
    with pytest.raises(ConfigError, match="appears twice"):
        build_tables([("a", _table("runtime", 20, {"cudaX": "hipX"})), ("b", _table("driver", 10, {"cudaX": "hipZ"}))])


def _cuda_include_dir() -> Path | None:
    nvcc = shutil.which("nvcc")
    candidates = [Path(nvcc).resolve().parent.parent / "include"] if nvcc else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/local/cuda*/include"))]
    return next((c for c in candidates if (c / "cuda_runtime_api.h").is_file()), None)


def _words(folder: Path) -> set[str]:
    words: set[str] = set()
    for f in folder.rglob("*.h"):
        words |= set(re.findall(r"\w+", f.read_text(errors="ignore")))
    return words


def test_runtime_and_driver_cuda_names_are_declared_by_the_installed_cuda_headers():
    inc = _cuda_include_dir()
    if inc is None:
        pytest.skip("no CUDA toolkit headers on this machine")
    declared = _words(inc)
    t = load_maps()
    for category in ("runtime", "driver", "types"):
        names = [e.cuda for e in t.entries if e.category == category and not e.deprecated]
        missing = [n for n in names if n not in declared]
        # CUDA removes old names over time; a few may be gone from the newest toolkit, typos would be many
        assert len(missing) <= 0.03 * len(names), (category, missing)


def test_runtime_hip_names_are_declared_by_the_installed_hip_headers():
    inc = Path("/usr/include/hip")
    if not (inc / "hip_runtime_api.h").is_file():
        pytest.skip("no HIP headers on this machine")
    declared = _words(inc)
    t = load_maps()
    for category in ("runtime", "driver"):
        names = [e.hip for e in t.entries if e.category == category]
        missing = [n for n in names if n not in declared]
        # names added in ROCm releases newer than the installed headers are allowed, typos are not
        assert len(missing) <= 0.03 * len(names), (category, missing)


def test_readme_counts_are_generated_from_the_tables():
    from portkern.translate.readme import BEGIN, END, PROJECT_README, README, counts_table

    for readme in (README, PROJECT_README):
        text = readme.read_text()
        assert text[text.index(BEGIN) + len(BEGIN):text.index(END)].strip() == counts_table().strip(), readme

from __future__ import annotations

import glob
import re
import shutil
from pathlib import Path

import pytest

from portkern.errors import ConfigError
from portkern.translate.maps import build_tables, load_maps, parse_version


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
    # hipBLAS's own type names, one way to CUDA's library types (hipblasGemmEx's data types)
    assert t.hip_aliases["HIPBLAS_R_32F"] == "CUDA_R_32F" and t.hip_aliases["HIPBLAS_R_16B"] == "CUDA_R_16BF"
    assert t.hip_aliases["hipblasDatatype_t"] == "cudaDataType_t"
    assert t.hip_aliases["hipblasComplex"] == "cuComplex" and t.hip_aliases["hipblasHalf"] == "__half"


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
    version_h = (inc / "hip_version.h").read_text()
    installed = tuple(int(re.search(rf"define HIP_VERSION_{part} (\d+)", version_h).group(1))
                      for part in ("MAJOR", "MINOR"))
    t = load_maps()
    for category in ("runtime", "driver"):
        # documented rows name the ROCm release that added each name: check those the headers should have
        names = [e.hip for e in t.entries if e.category == category and e.hip and
                 (not e.documented or parse_version(t.api_fact(e.cuda, "hip_added") or "0") <= installed)]
        missing = [n for n in names if n not in declared]
        # names added in ROCm releases newer than the installed headers are allowed, typos are not
        assert len(missing) <= 0.03 * len(names), (category, missing)


def test_readme_counts_are_generated_from_the_tables():
    from portkern.translate.readme import BEGIN, END, PROJECT_README, README, counts_table

    for readme in (README, PROJECT_README):
        text = readme.read_text()
        assert text[text.index(BEGIN) + len(BEGIN):text.index(END)].strip() == counts_table().strip(), readme


# ---------------------------------------------------------------- documented names (api_map.json)

REFERENCE_CSV = Path(__file__).resolve().parents[2] / "shared" / "reference" / "cuda-hip-api-map.csv"


def test_api_map_data_is_what_the_generator_builds_from_the_csv(tmp_path):
    if not REFERENCE_CSV.is_file():
        pytest.skip(f"reference CSV not present ({REFERENCE_CSV.name})")
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_api_map", Path(__file__).resolve().parents[1] / "tools" /
                                                  "gen_api_map.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    out = tmp_path / "api_map.json"
    assert gen.main([str(REFERENCE_CSV), "-o", str(out)]) == 0
    packaged = Path(__file__).resolve().parents[1] / "portkern" / "data" / "maps" / "api_map.json"
    assert out.read_text() == packaged.read_text(), "api_map.json is stale: rerun tools/gen_api_map.py"


def test_every_documented_cuda_name_is_loaded_with_its_facts():
    import csv
    if not REFERENCE_CSV.is_file():
        pytest.skip(f"reference CSV not present ({REFERENCE_CSV.name})")
    t = load_maps()
    with REFERENCE_CSV.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) > 8000
    for row in rows:
        cuda = row["cuda"]
        assert cuda in t.api_rows, cuda
        # every name is either translated, known the same in both, or known to lack a counterpart
        assert cuda in t.to_hip or cuda in t.same or cuda in t.cuda_only or cuda in t.mask_intrinsics or \
            cuda in t.cache_hint_loads or cuda in t.cache_hint_stores or cuda in t.wide_bit_intrinsics or \
            cuda in t.hip_aliases.values() or cuda in __import__("portkern.translate.maps", fromlist=["x"]).RULE_HANDLED, cuda
    assert t.api_fact("cudaThreadSynchronize", "cuda_deprecated") != ""
    assert t.api_source.startswith("HIPIFY documentation")


def test_documented_libraries_both_directions_and_roc():
    t = load_maps()
    assert t.to_hip["cudnnConvolutionForward"].roc == "miopenConvolutionForward"
    assert t.to_hip["cusparseCreateCsr"].roc == "rocsparse_create_csr_descr"
    assert t.to_hip["curandCreateGenerator"].roc == "rocrand_create_generator"
    assert t.to_hip["cuStreamCreate"].hip == "hipStreamCreateWithFlags" or t.to_hip["cuStreamCreate"].hip
    assert t.to_hip["CUstream_st"].hip == "ihipStream_t"
    assert t.roc_to_cuda["rocblas_sdot"].cuda == "cublasSdot"
    assert t.roc_to_cuda["miopenCreate"].cuda == "cudnnCreate"
    assert t.roc_to_cuda["rocsparse_create_handle"].cuda == "cusparseCreate"
    assert t.to_cuda["ihipStream_t"].cuda == "CUstream_st"
    # documented reverse choice: stem match beats a longer library-specific alias, never a plain C++ type
    assert t.to_cuda["hipDataType"].cuda in ("cudaDataType", "cudaDataType_t")
    assert "int" not in t.to_cuda
    assert t.to_cuda["HIPBLAS_OP_C"].cuda == "CUBLAS_OP_C"


def test_documented_reverse_rule_is_deterministic():
    from portkern.translate.maps import MapEntry, _choose_documented

    t = load_maps()
    cands = [MapEntry("cublasXyz_v2", "hipblasXyz", "cublas", documented=True),
             MapEntry("cublasXyz", "hipblasXyz", "cublas", documented=True),
             MapEntry("cuXyz", "hipblasXyz", "driver", documented=True)]
    for order in (cands, cands[::-1], cands[1:] + cands[:1]):
        assert _choose_documented("hipblasXyz", order, {"cublas": 20, "driver": 10}, t).cuda == "cublasXyz"


def test_no_counterpart_names_are_reported_with_their_library_but_own_names_never():
    from portkern.translate import translate_source

    src = ("#include <cudnn.h>\n"
           "typedef int cudaMyType;\n"
           "void cudaMyHelper(cudaMyType x);\n"
           "void f(cudnnHandle_t h) { cudnnFusedOpsPlan_t p; cudaMyHelper(1); cuCtxSetSharedMemConfig(0, 0); }\n")
    r = translate_source(src, "hip")
    by_name = {u.name: u for u in r.unconverted}
    assert "cudaMyType" not in by_name and "cudaMyHelper" not in by_name
    assert by_name["cudnnFusedOpsPlan_t"].reason == "no counterpart"
    assert by_name["cudnnFusedOpsPlan_t"].library == "cudnn"
    # a name with only a MIOpen spelling says so, and --roc translates it
    roc_only = [u for u in r.unconverted if u.library == "cudnn" and u.note]
    assert "hipdnnHandle_t" in r.text
    r2 = translate_source(src, "hip", roc=True)
    assert "miopenHandle_t" in r2.text
    assert all(u.name != "cudnnHandle_t" for u in r2.unconverted)
    assert isinstance(roc_only, list)


def test_roc_argument_differences_are_reported_both_ways():
    from portkern.translate import translate_source

    back = translate_source("void f() { rocsolver_dpotrf(h, rocblas_fill_upper, n, A, n, info); }\n", "cuda", roc=True)
    assert "cusolverDnDpotrf(h, CUBLAS_FILL_MODE_UPPER" in back.text
    notes = [h for h in back.hazards if h.kind == "api-arguments"]
    assert len(notes) == 1 and "workspace" in notes[0].message and not notes[0].fixed
    fwd = translate_source("void f() { cudnnConvolutionForward(h, &a, x, xp, w, wp, c, al, ws, n, &b, y, yp); }\n",
                           "hip", roc=True)
    assert "miopenConvolutionForward(" in fwd.text
    assert [h.line for h in fwd.hazards if h.kind == "api-arguments"] == [1]
    # without --roc the hipDNN-style name keeps cuDNN's argument order: nothing to report
    assert not [h for h in translate_source("void f() { cudnnConvolutionForward(h); }\n", "hip").hazards
                if h.kind == "api-arguments"]


def test_tables_cache_on_disk_is_used_and_survives_a_damaged_file(tmp_path, monkeypatch):
    import portkern.translate.maps as maps

    monkeypatch.setenv("PORTKERN_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("PORTKERN_NO_MAPS_CACHE", raising=False)
    maps.load_maps.cache_clear()
    try:
        built = maps.load_maps()
        files = list(tmp_path.glob("translate-maps-*.pickle"))
        assert len(files) == 1 and files[0].stat().st_size > 100_000
        maps.load_maps.cache_clear()
        cached = maps.load_maps()
        assert cached is not built and cached.counts() == built.counts()
        assert cached.roc_to_cuda["rocblas_sdot"].cuda == "cublasSdot"
        files[0].write_bytes(b"not a pickle")
        maps.load_maps.cache_clear()
        assert maps.load_maps().counts() == built.counts()      # rebuilt and rewritten
        assert files[0].read_bytes() != b"not a pickle"
    finally:
        maps.load_maps.cache_clear()


def test_project_enumerators_variables_and_macro_attributed_functions_are_its_own_names():
    from portkern.translate import translate_source

    src = ("typedef enum rocblas_status_ { rocblas_status_success = 0, rocblas_status_invalid_size } rocblas_status;\n"
           "#define ROCBLAS_KERNEL(n) __global__ __launch_bounds__(n) void\n"
           "template <int N> ROCBLAS_KERNEL(N) rocblas_scal_kernel(float* x) { x[0] = 0; }\n"
           "rocblas_status run(hipStream_t s) {\n"
           "  hipStream_t rocblas_stream = s;\n"
           "  hipLaunchKernelGGL(rocblas_scal_kernel<64>, 1, 64, 0, rocblas_stream, nullptr);\n"
           "  return hipPeekAtLastError() == hipSuccess ? rocblas_status_success : rocblas_status_invalid_size;\n"
           "}\n")
    r = translate_source(src, "cuda")
    assert [u.name for u in r.unconverted] == []
    # a vendor-looking name that is only used, never defined, is still reported
    r2 = translate_source("int f() { return rocblas_status_success; }\n", "cuda")
    assert [(u.name, u.reason) for u in r2.unconverted] == [("rocblas_status_success", "unknown name")]

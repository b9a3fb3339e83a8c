"""Compile helpers without a compiler: occupancy rules, entry-name matching, cache mechanics."""

from __future__ import annotations

import json
import time

import pytest
from portkern.backends.cuda.occupancy import nvidia_occupancy
from portkern.backends.hip.occupancy import amd_occupancy

from portkern import backends
from portkern.compile.cache import CompileCache, compile_key
from portkern.compile.entries import instantiation_block, kernel_name, normalise
from portkern.model import CompileOptions, CompileResult
from portkern.targets import get_target

# ----------------------------------------------------------------------------- occupancy: NVIDIA

def test_h100_register_limited_occupancy_matches_allocation_rules():
    # 128 regs x 32 lanes = 4096 per warp; 16384 per sub-partition -> 4 warps each, 16 per SM;
    # 256-thread blocks are 8 warps -> 2 blocks, 16 of 64 warps.
    occ = nvidia_occupancy(get_target("h100"), registers=128, shared_bytes=0, threads_per_block=256)
    assert (occ.blocks_per_cu, occ.waves_per_cu, occ.limiter) == (2, 16, "registers")
    assert occ.fraction == pytest.approx(0.25)


def test_h100_register_allocation_rounds_up_to_256_per_warp():
    # 33 regs -> 1056 per warp, allocated as 1280: 12 warps per sub-partition, 48 per SM.
    occ = nvidia_occupancy(get_target("h100"), registers=33, shared_bytes=0, threads_per_block=128)
    assert occ.waves_per_cu == 48 and occ.limiter == "registers"


def test_a100_shared_memory_limit_counts_reserved_kib_per_block():
    # 40 KiB + 1 KiB reserved per block; 164 KiB per SM -> 4 blocks.
    occ = nvidia_occupancy(get_target("a100"), registers=16, shared_bytes=40 * 1024, threads_per_block=128)
    assert occ.blocks_per_cu == 4 and occ.limiter == "shared"


def test_nvidia_small_blocks_hit_the_block_limit():
    occ = nvidia_occupancy(get_target("h100"), registers=16, shared_bytes=0, threads_per_block=32)
    assert occ.blocks_per_cu == 32 and occ.limiter == "blocks" and occ.fraction == pytest.approx(0.5)


# ----------------------------------------------------------------------------- occupancy: AMD

def test_mi300x_vgpr_limited_waves_per_simd():
    occ = amd_occupancy(get_target("mi300x"), vgprs=128, sgprs=32, threads_per_block=256)
    assert occ.waves_per_simd == 4 and occ.limiter == "registers"


def test_mi250x_agprs_share_the_unified_file():
    # 100 VGPRs (aligned to 4) + 100 AGPRs = 200 -> 512 // 200 = 2 waves per SIMD.
    occ = amd_occupancy(get_target("mi250x"), vgprs=100, agprs=100, threads_per_block=64)
    assert occ.waves_per_simd == 2


def test_mi300x_full_lds_allows_one_workgroup():
    occ = amd_occupancy(get_target("mi300x"), vgprs=8, lds_bytes=65536, threads_per_block=256)
    assert occ.blocks_per_cu == 1 and occ.waves_per_cu == 4 and occ.limiter == "shared"
    assert occ.waves_per_simd == 1


def test_amd_light_kernel_reaches_eight_waves_per_simd():
    occ = amd_occupancy(get_target("mi300x"), vgprs=16, sgprs=16, threads_per_block=256)
    assert occ.waves_per_simd == 8 and occ.fraction == 1.0


def test_block_larger_than_target_allows_nothing():
    for name in ("mi300x", "h100"):
        target = get_target(name)
        occ = backends.for_target(target).occupancy(target, threads_per_block=2048, registers=8, shared_bytes=0)
        assert (occ.waves_per_cu, occ.limiter) == (0, "threads")


# ----------------------------------------------------------------------------- entries

def test_normalise_ignores_whitespace_but_keeps_type_words_apart():
    assert normalise("axpy< int ,256,  float >") == normalise("axpy<int, 256, float>")
    assert normalise("f<unsigned int>") == "f<unsigned int>"


def test_normalise_writes_cv_qualifiers_as_demanglers_do():
    assert normalise("k<int, const float*, float*>") == kernel_name("void k<int, float const*, float*>(int)")
    assert normalise("k<const double* const*>") == normalise("k<double const* const*>")


def test_kernel_name_strips_return_type_and_parameters():
    assert kernel_name("void axpy_kernel<int, 256, float>(int, float, float const*, float*)") == \
        normalise("axpy_kernel<int, 256, float>")
    assert kernel_name("hidden(float*)") == "hidden"
    assert kernel_name("void ns::k<(anonymous namespace)::T>(int)") == "ns::k<(anonymous namespace)::T>"


def test_instantiation_block_takes_each_entry_address_in_a_host_function():
    block = instantiation_block(["a<int>", "b"])
    assert "(void)&a<int>;" in block and "(void)&b;" in block and "__device__" not in block
    assert instantiation_block([]) == ""


# ----------------------------------------------------------------------------- cache

def _result(key: str) -> CompileResult:
    return CompileResult(backend="cuda", target="h100", arch="sm_90", code_type="cubin", binary=b"\x7fELF...",
                         entry_symbols=["k"], entry_map={}, resources={}, log="", compiler="nvcc", options=CompileOptions(),
                         cache_key=key)


def test_cache_key_changes_with_every_input():
    base = dict(backend="cuda", source="s", options={"a": 1}, arch="sm_90", compiler="nvcc 13")
    keys = {compile_key(**base)}
    for field, value in [("source", "t"), ("options", {"a": 2}), ("arch", "sm_80"), ("compiler", "nvcc 12"),
                         ("backend", "hip")]:
        keys.add(compile_key(**{**base, field: value}))
    assert len(keys) == 6


def test_cache_roundtrip_marks_cached_and_checks_dependencies(tmp_path):
    header = tmp_path / "h.h"
    header.write_text("#define X 1\n")
    cache = CompileCache(tmp_path / "cache")
    cache.put("ab" * 32, _result("ab" * 32), [str(header)])
    hit = cache.get("ab" * 32)
    assert hit is not None and hit.cached and hit.binary == b"\x7fELF..."
    time.sleep(0.01)
    header.write_text("#define X 2  \n")
    assert cache.get("ab" * 32) is None
    # No temp files are left behind by the atomic write.
    assert [p.name for p in (tmp_path / "cache" / "ab").iterdir()] == ["ab" * 32 + ".json"]


def test_cache_ignores_a_corrupt_entry(tmp_path):
    cache = CompileCache(tmp_path)
    path = tmp_path / "cd" / ("cd" * 32 + ".json")
    path.parent.mkdir()
    path.write_text("{not json")
    assert cache.get("cd" * 32) is None
    path.write_text(json.dumps({"format": 999}))
    assert cache.get("cd" * 32) is None

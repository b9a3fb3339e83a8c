"""The library's own architecture directives, which the arch-branch check accepts in a candidate, are
read from its files once per run, not once per candidate."""

from __future__ import annotations

import importlib

import pytest
from minilib import SCALE_HIP, write_minilib

import portkern.ingest.build as ingest_build
from portkern.library import load_library
from portkern.targets import get_target

# the module (portkern.harness exports a function of the same name)
validate_mod = importlib.import_module("portkern.harness.validate")


@pytest.fixture
def counted_walks(monkeypatch):
    calls = []
    real = ingest_build.library_files

    def counting(spec):
        calls.append(spec.root)
        return real(spec)

    monkeypatch.setattr(ingest_build, "library_files", counting)
    validate_mod.forget_library_directives()
    yield calls
    validate_mod.forget_library_directives()


def test_library_directives_are_read_once_until_forgotten(tmp_path, counted_walks):
    manifest = write_minilib(tmp_path)
    (manifest.parent / "include" / "arch.hpp").write_text("#pragma once\n#if defined(__gfx90a__)\n#define OLD 1\n#endif\n")
    lib = load_library(str(manifest))
    mi300x = get_target("mi300x")
    # A branch on an architecture the library never tests: rejected before anything is built.
    cheat = SCALE_HIP + "#ifdef __gfx942__\n#define FAST 1\n#endif\n"
    for _ in range(3):
        res = validate_mod.validate(lib, "scale", mi300x, source=cheat)
        assert not res.passed and res.failure == "arch-branch" and "__gfx942__" in res.detail
    assert len(counted_walks) == 1
    # The library's own test is known, so a candidate may carry it.
    assert "#if defined(__gfx90a__)" in validate_mod._library_directives(lib)
    assert validate_mod.arch_branches(SCALE_HIP + "#if defined(__gfx90a__)\n#endif\n", SCALE_HIP,
                                      validate_mod._library_directives(lib)) == []
    assert len(counted_walks) == 1
    # A new run forgets them: an edit made between runs is seen.
    (manifest.parent / "include" / "arch.hpp").write_text("#pragma once\n#ifdef __gfx942__\n#endif\n")
    validate_mod.forget_library_directives()
    res = validate_mod.validate(lib, "scale", mi300x, source=cheat)
    assert res.failure != "arch-branch"
    assert len(counted_walks) == 2


def test_a_translated_library_test_is_known_in_either_dialects_spelling():
    library = "#if defined(__HIP_DEVICE_COMPILE__) && defined(__GFX12__)\n#define GRID_16BIT 1\n#endif\n"
    body = "__global__ void k(float* x) { x[0] = 1; }\n"
    translated = ("#if (defined(__CUDA_ARCH__) && defined(__GFX12__))\n#endif\n"
                  "#if !(defined(__CUDA_ARCH__) && defined(__GFX12__))\n#endif\n" + body)
    assert validate_mod.arch_branches(translated, body, library) == []
    # a test the library does not have, or one on the emulator, is still a branch
    assert validate_mod.arch_branches("#if defined(__CUDA_ARCH__) && defined(__gfx942__)\n#endif\n" + body,
                                      body, library)
    assert validate_mod.arch_branches("#if defined(PORTKERN_EMU) && defined(__GFX12__)\n#endif\n" + body,
                                      body, library)

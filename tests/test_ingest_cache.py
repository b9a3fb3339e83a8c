"""The on-disk per-file ingest cache: a re-ingest parses only the files whose text changed, unless a
macro definition changed (then every file is scanned again), and gives what a cold ingest gives."""

from __future__ import annotations

import shutil
from pathlib import Path

from portkern.ingest import ingest_tree
from portkern.ingest.build import FileCache, code_version

FIXTURE = Path(__file__).parent / "fixtures" / "rocblas_like"


def _same(a, b) -> None:
    a.seconds = b.seconds = 0.0
    a.root = b.root = ""
    assert a.to_dict() == b.to_dict()


def test_one_changed_file_is_the_only_one_parsed_again(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURE, tree)
    first = FileCache(tmp_path / "cache")
    ingest_tree(tree, profile="rocblas", cache=first)
    parsed_files = first.misses // 2          # each file: its directives, then its declarations
    assert first.hits == 0 and parsed_files >= 8

    changed = tree / "library" / "src" / "blas1" / "rocblas_axpy_kernels.hpp"
    changed.write_text(changed.read_text() + "\n// a comment at the end\n")
    again = FileCache(tmp_path / "cache")     # a new process: only the disk holds the entries
    warm = ingest_tree(tree, profile="rocblas", cache=again)
    assert again.misses == 2 and again.hits == 2 * parsed_files - 2
    _same(warm, ingest_tree(tree, profile="rocblas", cache=FileCache()))


def test_a_changed_definition_scans_every_file_again(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURE, tree)
    first = FileCache(tmp_path / "cache")
    ingest_tree(tree, profile="rocblas", cache=first)
    parsed_files = first.misses // 2

    macros = tree / "library" / "src" / "include" / "device_macros.hpp"
    macros.write_text(macros.read_text() + "\n#define PORTKERN_TEST_NEW_MACRO 1\n")
    again = FileCache(tmp_path / "cache")
    warm = ingest_tree(tree, profile="rocblas", cache=again)
    # the changed file's directives, and every file's declarations
    assert again.misses == 1 + parsed_files
    _same(warm, ingest_tree(tree, profile="rocblas", cache=FileCache()))


def test_cache_keys_carry_the_ingest_code_version(tmp_path):
    cache = FileCache(tmp_path / "cache")
    ingest_tree(FIXTURE, profile="rocblas", cache=cache)
    assert cache.memory and all(f"-{code_version()}-" in key for key in cache.memory)

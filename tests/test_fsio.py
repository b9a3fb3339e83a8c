import os
import stat

from portkern import fsio


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_follows_umask(tmp_path):
    target = tmp_path / "a" / "out.txt"
    fsio.write_text(target, "hello")
    assert target.read_text() == "hello"
    assert _mode(target) == 0o666 & ~fsio.current_umask()


def test_existing_mode_kept_and_no_temp_left(tmp_path):
    target = tmp_path / "kernel.cu"
    target.write_text("old")
    os.chmod(target, 0o664)
    fsio.write_text(target, "new")
    assert target.read_text() == "new"
    assert _mode(target) == 0o664
    assert [p.name for p in tmp_path.iterdir()] == ["kernel.cu"]


def test_explicit_mode(tmp_path):
    target = tmp_path / "run.sh"
    fsio.write_bytes(target, b"#!/bin/sh\n", mode=0o750)
    assert _mode(target) == 0o750


def test_failed_write_leaves_old_content(tmp_path):
    target = tmp_path / "data.json"
    target.write_text("keep")

    class Boom:
        pass

    try:
        fsio.write_bytes(target, Boom())  # not bytes: the write fails
    except TypeError:
        pass
    assert target.read_text() == "keep"
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]

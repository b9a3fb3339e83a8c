"""Foundation: targets registry, doctor, configuration precedence, CLI errors, packaging."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from wheelbuild import build_wheel

from portkern.cli import main
from portkern.config import load_config
from portkern.errors import ConfigError
from portkern.targets import get_target, load_targets

REPO = Path(__file__).resolve().parent.parent


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_targets_json_fields(capsys):
    rc, out, _ = run_cli(capsys, "targets", "--json")
    assert rc == 0
    data = {t["name"]: t for t in json.loads(out)}
    assert {"mi300x", "mi250x", "h100", "h200", "a100"} <= set(data)
    expect = {"mi300x": ("amd", "gfx942", 64), "mi250x": ("amd", "gfx90a", 64), "h100": ("nvidia", "sm_90", 32),
              "h200": ("nvidia", "sm_90", 32), "a100": ("nvidia", "sm_80", 32)}
    for name, (vendor, arch, wave) in expect.items():
        t = data[name]
        assert (t["vendor"], t["arch"], t["wavefront"]) == (vendor, arch, wave)
        assert t["max_threads_per_block"] == 1024
        assert t["shared_bytes_per_block"] >= 65536 and t["shared_bytes_per_cu"] >= t["shared_bytes_per_block"]
        assert t["registers_per_cu"] >= 65536 and t["compute_units"] > 100
        assert t["peak_bandwidth_gbs"] > 1000
        for key in ("fp64", "fp32", "fp16_matrix"):
            assert t["peak_flops"][key] > 1e12
        # matrix units are at least as fast as the vector fp32 path
        assert t["peak_flops"]["fp16_matrix"] > t["peak_flops"]["fp32"]
        for figure in ("compute_units", "peak_bandwidth_gbs", "peak_flops", "shared_bytes_per_cu", "registers_per_cu"):
            assert t["sources"].get(figure), f"{name}: no source for {figure}"
    assert data["h200"]["peak_bandwidth_gbs"] > data["h100"]["peak_bandwidth_gbs"]


def test_unknown_target_lists_known(capsys):
    rc, _, err = run_cli(capsys, "targets", "mi9000")
    assert rc == 3  # an input error
    assert "unknown target 'mi9000'" in err
    for name in ("mi300x", "h100", "a100"):
        assert name in err
    with pytest.raises(ConfigError):
        get_target("nope")
    assert get_target("MI300X").arch == "gfx942"


def test_targets_table(capsys):
    rc, out, _ = run_cli(capsys, "targets", "h100")
    assert rc == 0 and "sm_90" in out and "where each figure comes from" in out


def test_doctor_json_fields(capsys):
    rc, out, _ = run_cli(capsys, "doctor", "--json")
    assert rc == 0
    checks = {c["name"]: c for c in json.loads(out)}
    for name in ("nvcc", "clang (AMDGPU)", "HIP headers", "NVIDIA GPU", "AMD GPU", "Ollama", "ray", "host C++ compiler"):
        assert name in checks, name
        c = checks[name]
        assert isinstance(c["ok"], bool) and c["detail"]
        if not c["ok"]:
            assert c["blocks"] and c["fix"], f"{name}: a missing piece must say what it blocks and how to get it"
    clang = checks["clang (AMDGPU)"]
    if clang["ok"]:
        assert clang["data"]["archs"]["gfx942"] == "ok"
    nvcc = checks["nvcc"]
    if nvcc["ok"]:
        assert "sm_90" in nvcc["data"]["archs"]


def test_doctor_missing_tools_say_how(tmp_path):
    """With an empty PATH every compiler is missing, and doctor still exits 0 with fixes."""
    env = dict(os.environ, PATH=str(tmp_path), OLLAMA_HOST="127.0.0.1:9")
    out = subprocess.run([sys.executable, "-m", "portkern", "doctor", "--json"], capture_output=True, text=True,
                         env=env, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    checks = {c["name"]: c for c in json.loads(out.stdout)}
    assert not checks["nvcc"]["ok"] and "CUDA toolkit" in checks["nvcc"]["fix"]
    assert "NVIDIA targets" in checks["nvcc"]["blocks"]
    assert not checks["Ollama"]["ok"] and "ollama pull" in checks["Ollama"]["fix"]
    assert "127.0.0.1:9" in checks["Ollama"]["detail"]


def test_config_precedence(tmp_path):
    cfg_file = tmp_path / "portkern.yaml"
    cfg_file.write_text("llm:\n  model: from-file\n  timeout_s: 30\nexecutor: ray\n")
    cfg = load_config(cfg_file, environ={})
    assert cfg["llm"]["model"] == "from-file" and cfg["llm"]["timeout_s"] == 30.0 and cfg["executor"] == "ray"
    cfg = load_config(cfg_file, environ={"PORTKERN_LLM_MODEL": "from-env", "OLLAMA_HOST": "10.1.2.3:11434"})
    assert cfg["llm"]["model"] == "from-env"
    assert cfg["llm"]["ollama_host"] == "http://10.1.2.3:11434"
    assert cfg["llm"]["timeout_s"] == 30.0
    assert load_config(tmp_path / "absent.yaml" if False else None, environ={})["llm"]["model"] == "qwen2.5-coder:7b"


@pytest.mark.parametrize("text,needle", [
    ("llm: [unclosed\n", "not valid YAML"),
    ("- a\n- b\n", "top level must be a mapping"),
    ("llm:\n  modle: x\n", "unknown setting 'llm.modle'"),
    ("llm:\n  timeout_s: soon\n", "must be float"),
    ("llm: 3\n", "must be a mapping"),
])
def test_malformed_config(tmp_path, text, needle):
    f = tmp_path / "portkern.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(f, environ={})
    assert needle in str(exc.value) and str(f) in str(exc.value)


def test_malformed_config_through_cli(tmp_path):
    (tmp_path / "portkern.yaml").write_text("llm: [unclosed\n")
    out = subprocess.run([sys.executable, "-m", "portkern", "doctor"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 3 and "portkern.yaml" in out.stderr and "not valid YAML" in out.stderr


def test_bad_env_value():
    with pytest.raises(ConfigError) as exc:
        load_config(None, environ={"PORTKERN_LLM_RETRIES": "many", "PORTKERN_CONFIG": "/nonexistent/x.yaml"})
    assert "does not exist" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        load_config(Path(os.devnull).parent / "definitely-missing.yaml")
    assert "does not exist" in str(exc.value)
    cfg_env = {"PORTKERN_LLM_RETRIES": "many"}
    with pytest.raises(ConfigError) as exc:
        load_config(None, environ=cfg_env)
    assert "PORTKERN_LLM_RETRIES" in str(exc.value)


def test_every_target_loads():
    targets = load_targets()
    assert all(t.dialect == ("hip" if t.vendor == "amd" else "cuda") for t in targets.values())


def test_help_explains(capsys):
    with pytest.raises(SystemExit):
        from portkern.cli import cli
        cli.main(["--help"], prog_name="portkern")
    out = capsys.readouterr().out
    assert "targets" in out and "doctor" in out


def test_editable_install_imports_backends():
    out = subprocess.run([sys.executable, "-c", "import portkern.backends as b; print(b.__file__)"],
                         capture_output=True, text=True, cwd="/", timeout=60)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).resolve() == (REPO / "backends" / "__init__.py").resolve()


@pytest.mark.slow
def test_wheel_install_imports_backends(tmp_path):
    wheel = build_wheel(tmp_path / "wheel")
    names = zipfile.ZipFile(wheel).namelist()
    assert "portkern/backends/__init__.py" in names and "portkern/data/targets.yaml" in names
    assert not any(n.startswith("backends/") for n in names), "backends/ must install as portkern.backends"
    data_files = list((REPO / "backends").rglob("*.h")) + list((REPO / "backends" / "cuda" / "nvrtc_include").glob("*"))
    for emu_header in data_files:
        rel = "portkern/backends/" + emu_header.relative_to(REPO / "backends").as_posix()
        assert rel in names, f"{rel} missing from the wheel"
    site = tmp_path / "site"
    inst = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                          capture_output=True, text=True, timeout=600)
    assert inst.returncode == 0, inst.stderr
    probe = ("import sys; sys.path = [p for p in sys.path if 'site-packages' in p or 'lib/python' in p]; "
             f"sys.path.insert(0, {str(site)!r}); import portkern.backends as b, portkern.targets as t; "
             "print(b.__file__); print(len(t.load_targets()))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    path, count = out.stdout.split()
    assert Path(path).is_relative_to(site) and int(count) >= 5

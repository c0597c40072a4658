"""Offline face search: a tiny random ONNX embedding model the test builds, a gallery of real
photos, and the astronaut's face in a keyframe matched back to her gallery photo."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from recognizer.features import Feature
from recognizer.local_backend import LocalBackend
from recognizer.settings import RecognizerSettings
from tests.support.pictures import SIDE, SKIMAGE_DATA, astronaut_keyframe, tiny_embedder
from videosense_shared.backends import BackendUnavailableError


@pytest.fixture
def embedder(tmp_path: Path) -> Path:
    path = tmp_path / "embedder.onnx"
    tiny_embedder(path)
    return path


def _gallery(root: Path, people: dict[str, str]) -> Path:
    """``people``: gallery name -> a photo shipped with scikit-image."""
    for name, photo in people.items():
        (root / name).mkdir(parents=True)
        shutil.copy(SKIMAGE_DATA / photo, root / name / photo)
    return root


def _backend(embedder: Path, gallery: Path | None, threshold: float) -> LocalBackend:
    return LocalBackend(
        RecognizerSettings(
            face_embedding_model=embedder,
            face_embedding_input_size=SIDE,
            face_gallery=gallery,
            face_similarity_threshold=threshold,
        )
    )


async def test_face_is_named_after_the_most_similar_gallery_photo(
    embedder: Path, tmp_path: Path
) -> None:
    # GIVEN a gallery with the astronaut's portrait and a photo of a coffee cup
    gallery = _gallery(tmp_path / "gallery", {"eileen": "astronaut.png", "cup": "coffee.png"})
    backend = _backend(embedder, gallery, threshold=0.9)
    # WHEN her face in a keyframe is searched
    found = await backend.recognize(astronaut_keyframe(), {Feature.FACES, Feature.FACE_SEARCH})
    # THEN it is matched to her photo by name and by the photo's stable id
    assert [(f.name, f.match_id) for f in found.faces] == [("eileen", "eileen/astronaut.png")]


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        pytest.param({Feature.FACES, Feature.FACE_SEARCH}, [None], id="faces-kept-unnamed"),
        pytest.param({Feature.FACE_SEARCH}, [], id="search-alone-reports-matches-only"),
    ],
)
async def test_face_without_a_similar_gallery_photo_is_not_named(
    embedder: Path, tmp_path: Path, features: set[Feature], expected: list[str | None]
) -> None:
    # GIVEN a gallery without her (same threshold as above)
    gallery = _gallery(tmp_path / "gallery", {"cup": "coffee.png", "rocket": "rocket.jpg"})
    backend = _backend(embedder, gallery, threshold=0.9)
    found = await backend.recognize(astronaut_keyframe(), features)
    assert [f.name for f in found.faces] == expected


async def test_embedding_model_without_gallery_is_refused_clearly(embedder: Path) -> None:
    with pytest.raises(BackendUnavailableError, match="VIDEOSENSE_RECOGNIZER_FACE_GALLERY"):
        await _backend(embedder, None, 0.5).prepare({Feature.FACE_SEARCH})


async def test_empty_gallery_is_refused_clearly(embedder: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackendUnavailableError, match="holds no readable photo"):
        await _backend(embedder, tmp_path / "empty", 0.5).prepare({Feature.FACE_SEARCH})


def test_local_default_features_include_face_search_when_configured(
    embedder: Path, tmp_path: Path
) -> None:
    settings = RecognizerSettings(face_embedding_model=embedder, face_gallery=tmp_path)
    assert Feature.FACE_SEARCH in settings.requested_features()

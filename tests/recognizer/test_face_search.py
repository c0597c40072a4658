"""Offline face search with the packaged dlib models: a gallery of real photos, and the
astronaut's face in a keyframe matched back to a different crop and scale of her portrait.

scikit-image ships one human portrait with a frontal face (the astronaut Eileen Collins, public
domain). The other person is its cameraman photo, whose face is turned away from the camera:
the detector does not find it, so the gallery embeds his whole cropped head. That proves a face
far from every gallery photo is not named; that two different frontal faces are told apart is
measured by ``bench/bench_vision.py`` (Obama against Biden).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from recognizer.features import Feature
from recognizer.local_backend import LocalBackend
from recognizer.settings import RecognizerSettings
from tests.support.pictures import SKIMAGE_DATA, astronaut, astronaut_keyframe
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.vision.face_search import FaceGallery

BOTH = frozenset({Feature.FACES, Feature.FACE_SEARCH})


def her_face_crop() -> np.ndarray:
    """Her head and shoulders cut from the portrait and enlarged 1.6x: not the keyframe's
    framing, scale or compression."""
    return np.asarray(cv2.resize(astronaut()[20:260, 120:330], None, fx=1.6, fy=1.6), np.uint8)


def cameraman_head() -> np.ndarray:
    """The cameraman's head (turned away: no frontal face is detected in it), enlarged 2x."""
    photo = cv2.imread(str(SKIMAGE_DATA / "camera.png"), cv2.IMREAD_GRAYSCALE)
    assert photo is not None, "scikit-image's camera.png is missing"
    gray = photo[110:200, 200:285]
    return np.asarray(cv2.resize(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), None, fx=2, fy=2))


def _gallery(root: Path, people: dict[str, np.ndarray]) -> Path:
    for name, photo in people.items():
        (root / name).mkdir(parents=True)
        assert cv2.imwrite(str(root / name / "photo.png"), photo)
    return root


def _backend(gallery: Path, max_distance: float = 0.6) -> LocalBackend:
    return LocalBackend(RecognizerSettings(face_gallery=gallery, face_match_distance=max_distance))


async def test_face_is_named_after_a_different_photo_of_the_same_person(tmp_path: Path) -> None:
    # GIVEN a gallery with a crop of the astronaut and the cameraman
    gallery = _gallery(
        tmp_path / "gallery", {"eileen": her_face_crop(), "cameraman": cameraman_head()}
    )
    # WHEN her face in a keyframe (rescaled, re-encoded, framed differently) is searched
    found = await _backend(gallery).recognize(astronaut_keyframe(), BOTH)
    # THEN it is matched to her photo by name and by the photo's stable id
    assert [(f.name, f.match_id) for f in found.faces] == [("eileen", "eileen/photo.png")]


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        pytest.param(BOTH, [None], id="faces-kept-unnamed"),
        pytest.param(frozenset({Feature.FACE_SEARCH}), [], id="search-alone-reports-matches"),
    ],
)
async def test_face_without_a_near_gallery_photo_is_not_named(
    tmp_path: Path, features: frozenset[Feature], expected: list[str | None]
) -> None:
    # GIVEN a gallery without her
    gallery = _gallery(tmp_path / "gallery", {"cameraman": cameraman_head()})
    # WHEN her face is searched / THEN it is not named after him
    found = await _backend(gallery).recognize(astronaut_keyframe(), features)
    assert [f.name for f in found.faces] == expected


async def test_threshold_is_the_largest_distance_that_still_names(tmp_path: Path) -> None:
    # GIVEN her gallery photo and a threshold tighter than the photos' distance (~0.12)
    gallery = _gallery(tmp_path / "gallery", {"eileen": her_face_crop()})
    # WHEN searched with a near-zero threshold / THEN no longer named
    found = await _backend(gallery, max_distance=0.01).recognize(astronaut_keyframe(), BOTH)
    assert [f.name for f in found.faces] == [None]


def test_gallery_embeddings_are_128_numbers_cached_by_photo_content(tmp_path: Path) -> None:
    # GIVEN a gallery opened once
    gallery = _gallery(tmp_path / "gallery", {"eileen": her_face_crop()})
    backend = _backend(gallery)
    backend._load(frozenset({Feature.FACE_SEARCH}))
    first = backend._gallery
    assert isinstance(first, FaceGallery)
    assert first._matrix.shape == (1, 128)
    # WHEN the photo is replaced by an unreadable file with the same name, and opened again
    (gallery / "eileen" / "photo.png").write_bytes(b"not a picture")
    # THEN it is embedded anew (the cache is keyed by content): nothing readable is left
    with pytest.raises(BackendUnavailableError, match="holds no readable photo"):
        _backend(gallery)._load(frozenset({Feature.FACE_SEARCH}))


async def test_empty_gallery_says_how_to_add_photos(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackendUnavailableError, match="videosense faces index"):
        await _backend(tmp_path / "empty").prepare({Feature.FACE_SEARCH})


def test_face_search_is_a_default_feature_once_the_gallery_holds_a_photo(tmp_path: Path) -> None:
    # GIVEN an empty gallery / THEN no face search by default (it would fail every video)
    gallery = tmp_path / "gallery"
    assert Feature.FACE_SEARCH not in RecognizerSettings(face_gallery=gallery).requested_features()
    # WHEN a photo is added / THEN face search runs by default
    _gallery(gallery, {"eileen": her_face_crop()})
    assert Feature.FACE_SEARCH in RecognizerSettings(face_gallery=gallery).requested_features()


async def test_a_photo_indexed_while_the_backend_runs_is_searched(tmp_path: Path) -> None:
    # GIVEN a running backend whose gallery holds only the cameraman
    gallery = _gallery(tmp_path / "gallery", {"cameraman": cameraman_head()})
    backend = _backend(gallery)
    assert [f.name for f in (await backend.recognize(astronaut_keyframe(), BOTH)).faces] == [None]
    # WHEN her photo is added to the gallery (as `videosense faces index` does)
    _gallery(gallery, {"eileen": her_face_crop()})
    # THEN the same backend names her on the next keyframe, without a restart
    found = await backend.recognize(astronaut_keyframe(), BOTH)
    assert [f.name for f in found.faces] == ["eileen"]

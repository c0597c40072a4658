"""``videosense faces`` with the local backend: the gallery directory managed for real on a temp
dir, through the command line, and read back by the recognizer's own face search."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from recognizer.features import Feature
from recognizer.local_backend import LocalBackend
from recognizer.settings import RecognizerSettings
from tests.support.pictures import SKIMAGE_DATA, astronaut, astronaut_keyframe
from videosense.cli import main
from videosense.face_collections import FacesError, LocalGallery, check_name

ASTRONAUT = SKIMAGE_DATA / "astronaut.png"
COFFEE = SKIMAGE_DATA / "coffee.png"


@pytest.fixture
def gallery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The local backend configured with a gallery directory that does not exist yet."""
    root = tmp_path / "gallery"
    monkeypatch.setenv("VIDEOSENSE_RECOGNIZER_BACKEND", "local")
    monkeypatch.setenv("VIDEOSENSE_RECOGNIZER_FACE_GALLERY", str(root))
    monkeypatch.delenv("VIDEOSENSE_RECOGNIZER_COLLECTION", raising=False)
    return root


def faces(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["faces", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_index_list_delete_through_the_command_line(
    gallery: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a TIFF photo (a format the recognizer's gallery loader does not read)
    tiff = tmp_path / "portrait.tiff"
    assert cv2.imwrite(str(tiff), astronaut())
    # WHEN two photos of one person and one of another are indexed
    code, out, err = faces(capsys, "index", "--name", "Eileen_Collins", str(ASTRONAUT), str(tiff))
    assert code == 0, err
    assert faces(capsys, "index", "--name", "cup", str(COFFEE))[0] == 0
    # THEN the photos are under <gallery>/<name>/, the TIFF stored as PNG
    stored = sorted(p.relative_to(gallery).as_posix() for p in gallery.rglob("*") if p.is_file())
    assert [s.split("/")[0] for s in stored] == ["Eileen_Collins", "Eileen_Collins", "cup"]
    assert all(s.endswith(".png") for s in stored)
    assert all(cv2.imread(str(gallery / s)) is not None for s in stored)
    assert "Eileen_Collins" in out

    # WHEN the same photo is indexed again / THEN it is not copied twice
    code, out, _ = faces(capsys, "index", "--name", "cup", str(COFFEE))
    assert code == 0
    assert "already indexed" in out
    # AND list shows each name with its face ids (the photos' paths in the gallery)
    code, out, _ = faces(capsys, "list", "--json")
    listed = {p["name"]: p["face_ids"] for p in json.loads(out)}
    assert {name: len(ids) for name, ids in listed.items()} == {"Eileen_Collins": 2, "cup": 1}
    assert sorted(i for ids in listed.values() for i in ids) == stored

    # WHEN one face is deleted by id, then a whole person by name
    code, out, _ = faces(capsys, "delete", "--face-id", listed["Eileen_Collins"][0])
    assert code == 0
    assert f"deleted {listed['Eileen_Collins'][0]}" in out
    assert faces(capsys, "delete", "--name", "cup")[0] == 0
    # THEN only the other photo of the first person is left
    code, out, _ = faces(capsys, "list", "--json")
    assert json.loads(out) == [{"name": "Eileen_Collins", "face_ids": listed["Eileen_Collins"][1:]}]
    assert not (gallery / "cup").exists()


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        pytest.param(
            ["index", "--name", "Jane Doe", str(ASTRONAUT)], 2, "invalid name", id="space in name"
        ),
        pytest.param(["index", "--name", "..", str(ASTRONAUT)], 2, "invalid name", id="dot-dot"),
        pytest.param(["index", "--name", "x", "missing.jpg"], 2, "no such file", id="no file"),
        pytest.param(["delete", "--name", "nobody"], 1, "does not exist", id="no gallery yet"),
        pytest.param(["list"], 1, "does not exist", id="list without gallery"),
    ],
)
def test_bad_requests_fail_with_a_reason_and_change_nothing(
    gallery: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    # GIVEN/WHEN a bad request / THEN its exit code, a one-line reason, no gallery created
    got, out, err = faces(capsys, *argv)
    assert (got, out) == (code, "")
    assert message in err
    assert not gallery.exists()


def test_unset_gallery_defaults_to_the_user_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the local backend with no gallery setting, and a data home of its own
    monkeypatch.setenv("VIDEOSENSE_RECOGNIZER_BACKEND", "local")
    monkeypatch.delenv("VIDEOSENSE_RECOGNIZER_FACE_GALLERY", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    # WHEN a photo is indexed with nothing but a name
    code, _, err = faces(capsys, "index", "--name", "Eileen_Collins", str(ASTRONAUT))
    # THEN it lands in the user's videosense data directory, where the recognizer looks
    assert code == 0, err
    assert len(list((tmp_path / "data" / "videosense" / "faces" / "Eileen_Collins").iterdir())) == 1
    assert RecognizerSettings().face_gallery == tmp_path / "data" / "videosense" / "faces"


def test_a_bad_image_among_good_ones_indexes_none(tmp_path: Path) -> None:
    # GIVEN a good photo and a file that is not an image
    junk = tmp_path / "notes.jpg"
    junk.write_text("not a picture")
    gallery = LocalGallery(tmp_path / "gallery")
    # WHEN both are indexed / THEN it fails naming the file, and nothing was copied
    with pytest.raises(FacesError, match=r"notes\.jpg is not a readable image"):
        gallery.index("someone", [ASTRONAUT, junk])
    assert not (tmp_path / "gallery").exists()


def test_unknown_face_id_is_refused(tmp_path: Path) -> None:
    gallery = LocalGallery(tmp_path / "gallery")
    gallery.index("cup", [COFFEE])
    with pytest.raises(FacesError, match=r"no face 'cup/other\.png'"):
        gallery.delete_face("cup/other.png")


@pytest.mark.parametrize(
    "name", ["Eileen_Collins", "a.b-c:d", "x" * 255], ids=["underscore", "punctuation", "longest"]
)
def test_names_rekognition_accepts_are_accepted(name: str) -> None:
    assert check_name(name) == name


async def test_the_recognizer_names_a_face_indexed_by_the_command_line(
    gallery: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the astronaut and a coffee cup indexed through the command line, nothing else
    assert faces(capsys, "index", "--name", "Eileen_Collins", str(ASTRONAUT))[0] == 0
    assert faces(capsys, "index", "--name", "cup", str(COFFEE))[0] == 0
    # AND the recognizer's local backend with its default settings (the packaged face models)
    settings = RecognizerSettings()
    assert settings.face_gallery == gallery  # the same setting the command line used
    assert Feature.FACE_SEARCH in settings.requested_features()
    # WHEN her face in a keyframe is searched
    found = await LocalBackend(settings).recognize(
        astronaut_keyframe(), {Feature.FACES, Feature.FACE_SEARCH}
    )
    # THEN she is named as indexed, and the match id is the id `faces list` shows
    [face] = found.faces
    assert face.name == "Eileen_Collins"
    listed = faces(capsys, "list", "--json")[1]
    assert face.match_id in json.loads(listed)[0]["face_ids"]

"""The local backend for real: the packaged models (dlib's face detector, RapidOCR) and the
options (OpenCV's Haar cascade, Tesseract) on generated frames and a real face photo.

Ground truth is built into the frames: text rendered at a known place must be read back
exactly, the scikit-image astronaut's face (at pixels 177..270 x 67..160 of her 512x512
portrait) must be found there, and frames without faces (ffmpeg's test patterns among them)
must yield none.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from skimage import data

from recognizer.backend import ImageRecognition, RecognitionError
from recognizer.features import Feature
from recognizer.images import Bgr, encode_jpeg
from recognizer.local_backend import LocalBackend
from recognizer.settings import RecognizerSettings
from tests.support.clips import ffmpeg_binary
from tests.support.pictures import astronaut, pil_text
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.messages import Box

ALL_LOCAL = frozenset({Feature.FACES, Feature.TEXT, Feature.PEOPLE})
OCR_ENGINES = pytest.mark.parametrize("ocr", ["rapidocr", "tesseract"])
FACE_DETECTORS = pytest.mark.parametrize("face_detector", ["hog", "haar"])
#: ffmpeg's synthetic sources: colour bars, counters, fractals, automata. None shows a face.
TEST_PATTERNS = ("testsrc", "testsrc2", "smptebars", "mandelbrot", "cellauto", "rgbtestsrc", "life")


def _backend(**overrides: Any) -> LocalBackend:
    return LocalBackend(RecognizerSettings(**overrides))


def cv2_text(text: str, size: tuple[int, int] = (640, 360), scale: float = 1.4) -> Bgr:
    """Black Hershey text on white, its baseline at mid-height, starting 30 px from the left."""
    w, h = size
    image = np.full((h, w, 3), 255, np.uint8)
    cv2.putText(image, text, (30, h // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3)
    return image


def qr_frame(payload: str) -> Bgr:
    code = cv2.QRCodeEncoder.create().encode(payload)
    big = cv2.resize(code, None, fx=6, fy=6, interpolation=cv2.INTER_NEAREST)
    framed = cv2.copyMakeBorder(big, 60, 60, 200, 200, cv2.BORDER_CONSTANT, value=255)
    return np.asarray(cv2.cvtColor(framed, cv2.COLOR_GRAY2BGR), np.uint8)


def _contains(outer: Box, x: float, y: float) -> bool:
    return (
        outer.left <= x <= outer.left + outer.width and outer.top <= y <= outer.top + outer.height
    )


async def _recognize(
    image: Bgr, features: frozenset[Feature] = ALL_LOCAL, **cfg: Any
) -> ImageRecognition:
    return await _backend(**cfg).recognize(encode_jpeg(image), features)


# ------------------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("render", "phrase"),
    [
        pytest.param(cv2_text, "HELLO WORLD", id="hershey-caps"),
        pytest.param(cv2_text, "Scene 42 begins", id="hershey-mixed-case-digits"),
        pytest.param(pil_text, "Quarterly results", id="truetype-on-dark-background"),
        pytest.param(pil_text, "VIDEOSENSE 2026", id="truetype-caps-digits"),
    ],
)
@OCR_ENGINES
async def test_rendered_text_is_read_back_exactly(
    render: Callable[[str], Bgr], phrase: str, ocr: str
) -> None:
    # GIVEN a frame with one line of rendered text
    frame = render(phrase)
    # WHEN the local backend reads it (with either OCR engine)
    found = await _recognize(frame, frozenset({Feature.TEXT}), ocr=ocr)
    # THEN the line comes back word for word, once, as one confident entry (no word entries)
    assert [t.text for t in found.text] == [phrase]
    assert found.text[0].confidence >= 80


async def test_rapidocr_is_the_default_text_reader() -> None:
    # GIVEN no OCR setting / THEN RapidOCR reads; Tesseract is not even looked for
    found = await _recognize(
        pil_text("Mission briefing"), frozenset({Feature.TEXT}), tesseract_cmd="no-such-binary"
    )
    assert [t.text for t in found.text] == ["Mission briefing"]


@OCR_ENGINES
async def test_text_box_covers_the_rendered_text(ocr: str) -> None:
    # GIVEN text drawn from x=30 on the mid-height baseline of a 640x360 frame
    frame = cv2_text("HELLO WORLD")
    # WHEN it is read
    found = await _recognize(frame, frozenset({Feature.TEXT}), ocr=ocr)
    # THEN the line's relative box sits where the text was drawn
    line = found.text[0]
    assert line.box is not None
    assert abs(line.box.left - 30 / 640) < 0.02
    assert line.box.top < 0.5 < line.box.top + line.box.height + 0.02
    assert 0.3 < line.box.width < 0.7


@OCR_ENGINES
async def test_min_confidence_above_everything_drops_all_text(ocr: str) -> None:
    # GIVEN a clearly readable frame, WHEN only 100%-sure words are wanted
    found = await _recognize(
        cv2_text("HELLO WORLD"), frozenset({Feature.TEXT}), min_confidence=100, ocr=ocr
    )
    # THEN the engines' (always < 100) confidences keep nothing
    assert found.text == ()


async def test_qr_code_is_read_as_text_with_full_confidence() -> None:
    # GIVEN a frame with a QR code in the middle
    found = await _recognize(qr_frame("https://example.com/v/1"), frozenset({Feature.TEXT}))
    # THEN its payload is a text finding boxed around the code
    codes = [t for t in found.text if t.text == "https://example.com/v/1"]
    assert len(codes) == 1
    assert codes[0].confidence == 100
    assert codes[0].box is not None
    assert _contains(codes[0].box, 0.5, 0.5)


@pytest.mark.parametrize(
    "shape", [(1, 1, 3), (8000, 20, 3), (16, 6000, 3)], ids=["1px", "tall-strip", "wide-strip"]
)
async def test_degenerate_frames_have_no_text_rather_than_an_error(
    shape: tuple[int, int, int],
) -> None:
    # GIVEN a keyframe of one pixel, or a strip too thin for RapidOCR's resizing on its own
    frame = np.full(shape, 200, np.uint8)
    # WHEN text and faces are looked for / THEN nothing is found, and nothing fails
    found = await _recognize(frame, frozenset({Feature.TEXT, Feature.FACES}))
    assert (found.text, found.faces) == ((), ())


@OCR_ENGINES
async def test_blank_frame_has_no_text(ocr: str) -> None:
    found = await _recognize(
        np.full((360, 640, 3), 128, np.uint8), frozenset({Feature.TEXT}), ocr=ocr
    )
    assert found.text == ()


# ------------------------------------------------------------------------------------ faces


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(None, id="original-512"),
        # Faces down to ~45 px across (dlib's HOG needs the face's own aspect ratio: a frame
        # squashed to 4:3 drops the astronaut's score below the threshold).
        pytest.param((256, 256), id="small-256"),
        pytest.param((1280, 1280), id="upscaled-1280"),
    ],
)
@FACE_DETECTORS
async def test_astronaut_face_is_found_where_it_is(
    size: tuple[int, int] | None, face_detector: str
) -> None:
    # GIVEN the astronaut portrait, possibly resized like a keyframe
    image = astronaut() if size is None else np.asarray(cv2.resize(astronaut(), size), np.uint8)
    # WHEN faces are looked for (with dlib's detector, the default, or the Haar option)
    found = await _recognize(image, frozenset({Feature.FACES}), face_detector=face_detector)
    # THEN exactly one face, confident, centred on her face (~ (223, 113) of 512)
    assert len(found.faces) == 1
    face = found.faces[0]
    assert face.confidence >= 80
    assert _contains(face.box, 223 / 512, 113 / 512)
    assert 0.1 < face.box.width < 0.3
    assert face.name is None
    assert face.match_id is None


def _noise() -> Bgr:
    return np.random.default_rng(7).integers(0, 256, (360, 640, 3), dtype=np.uint8)


def _skimage(name: str) -> Callable[[], Bgr]:
    def load() -> Bgr:
        rgb: npt.NDArray[Any] = getattr(data, name)()
        if rgb.ndim == 2:
            return np.asarray(cv2.cvtColor(rgb, cv2.COLOR_GRAY2BGR), np.uint8)
        return np.asarray(cv2.cvtColor(rgb[..., :3], cv2.COLOR_RGB2BGR), np.uint8)

    return load


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(lambda: np.full((360, 640, 3), 30, np.uint8), id="black"),
        pytest.param(lambda: cv2_text("NO FACES HERE"), id="text-card"),
        pytest.param(_noise, id="noise"),
        pytest.param(_skimage("coffee"), id="coffee-cup-photo"),
        pytest.param(_skimage("rocket"), id="rocket-photo"),
        pytest.param(_skimage("checkerboard"), id="checkerboard"),
    ],
)
async def test_face_free_frames_have_no_faces(frame: Callable[[], Bgr]) -> None:
    found = await _recognize(frame(), frozenset({Feature.FACES}))
    assert found.faces == ()


def pattern_frame(source: str, folder: Path) -> Bgr:
    """Frame 40 of an ffmpeg test source at 1280x720 (moving sources have moved by then)."""
    out = folder / f"{source}.png"
    subprocess.run(
        [
            ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"{source}=size=1280x720:rate=25",
            "-vf", "select=eq(n\\,40)", "-frames:v", "1", str(out),
        ],
        check=True,
    )  # fmt: skip
    image = cv2.imread(str(out), cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image, np.uint8)


@pytest.mark.parametrize("source", TEST_PATTERNS)
async def test_ffmpeg_test_patterns_have_no_faces(source: str, tmp_path: Path) -> None:
    # GIVEN a frame of one of ffmpeg's test patterns (the Haar cascade saw a face in one)
    frame = pattern_frame(source, tmp_path)
    # WHEN the default detector looks for faces / THEN it finds none
    found = await _recognize(frame, frozenset({Feature.FACES}))
    assert found.faces == ()


async def test_people_detector_reports_no_person_on_a_text_card() -> None:
    found = await _recognize(cv2_text("EMPTY"), frozenset({Feature.PEOPLE}))
    assert found.labels == ()


async def test_only_requested_features_run() -> None:
    # GIVEN a frame with a face; WHEN only text is requested
    found = await _recognize(astronaut(), frozenset({Feature.TEXT}))
    # THEN no face is reported (the detector did not run)
    assert found.faces == ()


# ----------------------------------------------------------------------- unavailable features


@pytest.mark.parametrize(
    ("feature", "says"),
    [
        pytest.param(Feature.CELEBRITIES, "celebrity recognition is unavailable", id="celebs"),
    ],
)
async def test_feature_the_local_backend_cannot_run_is_refused_clearly(
    feature: Feature, says: str
) -> None:
    with pytest.raises(BackendUnavailableError) as caught:
        await _backend().prepare(frozenset({Feature.FACES, feature}))
    assert says in caught.value.reason


async def test_missing_tesseract_is_refused_clearly() -> None:
    backend = _backend(ocr="tesseract", tesseract_cmd="no-such-tesseract-binary")
    with pytest.raises(BackendUnavailableError, match="needs Tesseract"):
        await backend.prepare(frozenset({Feature.TEXT}))


async def test_missing_tesseract_language_is_refused_clearly() -> None:
    backend = _backend(ocr="tesseract", ocr_languages="eng+xyz")
    with pytest.raises(BackendUnavailableError, match="xyz"):
        await backend.prepare(frozenset({Feature.TEXT}))


async def test_undecodable_image_fails_recognition() -> None:
    with pytest.raises(RecognitionError, match="not a decodable image"):
        await _backend().recognize(b"not a jpeg", ALL_LOCAL)


def test_cascade_file_ships_with_opencv() -> None:
    from recognizer.detectors import cascade_dir

    assert (cascade_dir() / "haarcascade_frontalface_default.xml").is_file()
    assert isinstance(cascade_dir(), Path)

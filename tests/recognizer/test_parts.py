"""The recognizer's small pure parts: settings, Tesseract TSV parsing, boxes, image fitting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from recognizer.backend import RecognitionError, decisive
from recognizer.features import Feature, parse_features
from recognizer.images import encode_jpeg, fit_bytes
from recognizer.ocr import detections, parse_tsv
from recognizer.settings import RecognizerSettings
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.bus import RetryableError
from videosense_shared.messages import Box
from videosense_shared.vision.boxes import overlap, pixel_box, relative_box, score_confidence

# What `tesseract img stdout tsv` prints for a 400x100 image with "Hello world" on one line
# and "42" on another, plus the page/block/paragraph/line rows (levels 1-4, conf -1).
TSV = "\n".join(
    [
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
        "1\t1\t0\t0\t0\t0\t0\t0\t400\t100\t-1\t",
        "2\t1\t1\t0\t0\t0\t20\t10\t300\t80\t-1\t",
        "3\t1\t1\t1\t0\t0\t20\t10\t300\t80\t-1\t",
        "4\t1\t1\t1\t1\t0\t20\t10\t300\t30\t-1\t",
        "5\t1\t1\t1\t1\t1\t20\t10\t120\t30\t96.5\tHello",
        "5\t1\t1\t1\t1\t2\t160\t12\t160\t28\t91.5\tworld",
        "4\t1\t1\t1\t2\t0\t20\t60\t40\t30\t-1\t",
        "5\t1\t1\t1\t2\t1\t20\t60\t40\t30\t62.0\t42",
        "5\t1\t1\t1\t2\t2\t70\t60\t10\t30\t95.0\t|",
        "5\t1\t1\t1\t2\t3\t90\t60\t10\t30\t95.0\t ",
    ]
)


# ------------------------------------------------------------------------------- settings


def test_features_come_from_a_comma_list_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIDEOSENSE_RECOGNIZER_FEATURES", " Text, faces,face-search,text ")
    monkeypatch.setenv("VIDEOSENSE_RECOGNIZER_MIN_CONFIDENCE", "65")
    monkeypatch.setenv("VIDEOSENSE_RECOGNIZER_BACKEND", "rekognition")
    monkeypatch.setenv("VIDEOSENSE_RECOGNIZER_COLLECTION", "my-people")
    settings = RecognizerSettings()
    assert settings.requested_features() == (Feature.TEXT, Feature.FACES, Feature.FACE_SEARCH)
    assert (settings.min_confidence, settings.backend) == (65.0, "rekognition")
    assert settings.collection == "my-people"


def test_unknown_feature_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEOSENSE_RECOGNIZER_FEATURES", "faces,emotions")
    with pytest.raises(ValidationError, match="unknown recognition feature 'emotions'"):
        RecognizerSettings()


@pytest.mark.parametrize(
    ("cfg", "expected"),
    [
        pytest.param({}, ("labels", "faces", "text", "people"), id="local"),
        pytest.param(
            {"label_model": "/models/m.onnx"}, ("labels", "faces", "text", "people"), id="local+m"
        ),
        pytest.param(
            {"backend": "rekognition"}, ("labels", "faces", "celebrities", "text"), id="aws"
        ),
        pytest.param(
            {"backend": "rekognition", "collection": "c"},
            ("labels", "faces", "celebrities", "text", "face_search"),
            id="aws+collection",
        ),
    ],
)
def test_default_features_per_backend(
    cfg: dict[str, str], expected: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The default face gallery (empty here) is under the user's data directory.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    settings = RecognizerSettings(**cfg)  # type: ignore[arg-type]
    assert tuple(f.value for f in settings.requested_features()) == expected


def test_defaults() -> None:
    settings = RecognizerSettings()
    assert (settings.backend, settings.min_confidence, settings.collection) == ("local", 80, None)
    # The packaged models by default; OpenCV's cascade and Tesseract are options.
    assert (settings.face_detector, settings.ocr, settings.face_match_distance) == (
        "hog",
        "rapidocr",
        0.6,
    )


def test_parse_features_rejects_unknown_names() -> None:
    assert parse_features("") == ()
    with pytest.raises(ValueError, match="known: labels, people"):
        parse_features("labels,colour")


# ------------------------------------------------------------------------------ tesseract


def test_tsv_words_keep_text_confidence_box_and_line() -> None:
    words = parse_tsv(TSV)
    assert [(w.text, w.confidence, w.line[3]) for w in words] == [
        ("Hello", 96.5, 1),
        ("world", 91.5, 1),
        ("42", 62.0, 2),
        ("|", 95.0, 2),
    ]
    assert (words[1].left, words[1].top, words[1].width, words[1].height) == (160, 12, 160, 28)


def test_lines_join_confident_words_into_one_entry_per_line() -> None:
    found = detections(parse_tsv(TSV), 400, 100, min_confidence=80)
    # "42" is below 80; "|" has no letter or digit; words are not repeated as entries
    assert [t.text for t in found] == ["Hello world"]
    line = found[0]
    assert line.confidence == pytest.approx(94.0)
    assert line.box is not None
    box = (line.box.left, line.box.top, line.box.width, line.box.height)
    assert box == pytest.approx((0.05, 0.1, 0.75, 0.3))


def test_output_without_tsv_header_is_an_error() -> None:
    with pytest.raises(RecognitionError, match="no TSV header"):
        parse_tsv("Error opening data file\n")


def test_empty_output_has_no_words() -> None:
    assert parse_tsv("") == []


# ---------------------------------------------------------------------------------- boxes


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param((0.1, 0.2, 0.3, 0.4), (0.1, 0.2, 0.3, 0.4), id="inside"),
        pytest.param((-0.05, 0.5, 0.2, 0.2), (0.0, 0.5, 0.15, 0.2), id="left-edge"),
        pytest.param((0.9, 0.95, 0.3, 0.3), (0.9, 0.95, 0.1, 0.05), id="bottom-right"),
    ],
)
def test_relative_boxes_are_clipped_to_the_image(
    raw: tuple[float, float, float, float], expected: tuple[float, float, float, float]
) -> None:
    box = relative_box(*raw)
    assert (box.left, box.top, box.width, box.height) == pytest.approx(expected)


def test_pixel_box_is_relative() -> None:
    assert pixel_box(64, 36, 320, 180, 640, 360) == Box(left=0.1, top=0.1, width=0.5, height=0.5)
    with pytest.raises(ValueError, match="image size must be positive"):
        pixel_box(0, 0, 1, 1, 0, 10)


def test_overlap_is_intersection_over_union() -> None:
    a = Box(left=0, top=0, width=0.5, height=0.5)
    assert overlap(a, a) == pytest.approx(1.0)
    assert overlap(a, Box(left=0.25, top=0, width=0.5, height=0.5)) == pytest.approx(1 / 3)
    assert overlap(a, Box(left=0.6, top=0.6, width=0.1, height=0.1)) == 0.0


def test_score_confidence_is_a_monotonic_0_to_100_curve() -> None:
    scores = [score_confidence(s, midpoint=1.0, spread=1.0) for s in (-100, 0, 1, 3, 100)]
    assert scores[0] == 0.0
    assert scores[2] == pytest.approx(50.0)
    assert scores == sorted(scores)
    assert scores[-1] <= 100.0


# --------------------------------------------------------------------------------- images


def test_small_images_are_sent_as_they_are() -> None:
    jpeg = encode_jpeg(np.full((40, 60, 3), 10, np.uint8))
    assert fit_bytes(jpeg, len(jpeg)) is jpeg


def test_undecodable_oversized_bytes_fail() -> None:
    with pytest.raises(RecognitionError):
        fit_bytes(b"x" * 100, 10)


# -------------------------------------------------------------------------- error choice


def test_definitive_failure_decides_over_transient_and_other_errors() -> None:
    group = ExceptionGroup(
        "keyframes",
        [RetryableError("throttled"), ValueError("bug"), RecognitionError("bad image")],
    )
    assert isinstance(decisive(group), RecognitionError)
    nested = ExceptionGroup("outer", [ValueError("x"), ExceptionGroup("in", [RetryableError("t")])])
    assert isinstance(decisive(nested), RetryableError)
    assert isinstance(
        decisive(ExceptionGroup("g", [BackendUnavailableError("no")])), BackendUnavailableError
    )
    assert isinstance(decisive(ExceptionGroup("g", [KeyError("k")])), KeyError)


# -------------------------------------------------------------------------------- wiring


def test_service_provides_the_recognition_stage_on_its_queue() -> None:
    from recognizer.service import service
    from videosense_shared.messages import Stage
    from videosense_shared.topology import RECOGNIZER

    spec = service(RecognizerSettings())
    assert (spec.name, spec.queue, spec.stage) == ("recognizer", RECOGNIZER, Stage.RECOGNITION)


@pytest.mark.parametrize(
    ("backend", "name"),
    [
        pytest.param("local", "local", id="local"),
        pytest.param("rekognition", "rekognition", id="aws"),
    ],
)
async def test_backend_is_chosen_by_settings(backend: str, name: str) -> None:
    from recognizer.backends import make_backend
    from videosense_shared.aws import AwsClients

    # GIVEN a backend chosen by the settings, for a feature both backends offer
    settings = RecognizerSettings(backend=backend, features="faces")
    async with AwsClients("us-east-1") as aws:
        loader = make_backend(settings, aws)
        # WHEN it opens
        chosen = await loader.get()
    # THEN it is the one named, under that name before and after it opened
    assert loader.name == chosen.name == name


async def test_rekognition_backend_gets_its_client_from_the_deployment_clients() -> None:
    from recognizer.backends import make_backend
    from videosense_shared.aws import AwsClients

    # GIVEN the deployment's clients (nothing is called: no network, no credentials needed)
    async with AwsClients("us-east-1") as aws:
        loader = make_backend(RecognizerSettings(backend="rekognition", features="text"), aws)
        # WHEN the backend opens, THEN it builds its client through AwsClients
        await loader.get()
        assert (await aws.rekognition()).meta.service_model.service_name == "rekognition"

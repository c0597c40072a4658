"""``videosense run``'s printed summary: on-screen text shown once per line, and one closing
line saying how to enable what the offline run could not do (labels, captions)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from videosense.report import distinct_text, not_run, print_document
from videosense_shared.document import DocumentKeyframe, StageInfo, VideoDocument
from videosense_shared.messages import (
    ImageRef,
    MediaFacts,
    SourceRef,
    Stage,
    StageStatus,
    TextDetection,
    VideoStatus,
)


def _document(
    texts: tuple[str, ...] = ("Mission briefing",), stages: dict[str, StageInfo] | None = None
) -> VideoDocument:
    keyframe = DocumentKeyframe(
        id="kf-0",
        frame=0,
        t_s=0.0,
        scene_index=0,
        image=ImageRef(bucket="media", key="keyframes/v/000000000.jpg", width=640, height=360),
        text=tuple(TextDetection(text=t, confidence=95.0) for t in texts),
    )
    return VideoDocument(
        video_id="v1",
        status=VideoStatus.COMPLETE,
        source=SourceRef(bucket="media", key="uploads/v1.mp4", etag="e", size_bytes=1),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        stages={Stage(name): info for name, info in (stages or {}).items()},
        keyframes=(keyframe,),
    )


def _local_recognition(*features: str) -> StageInfo:
    return StageInfo(status=StageStatus.COMPLETE, backend="local", features=features)


@pytest.mark.parametrize(
    ("texts", "shown"),
    [
        pytest.param(
            ["Mission briefing", "Mission", "briefing"], ["Mission briefing"], id="line+words"
        ),
        pytest.param(["EXIT", "EXIT"], ["EXIT"], id="same line twice"),
        pytest.param(["Weather report", "Mission briefing"], None, id="two lines"),
        pytest.param(["Mission", "Weather report"], None, id="a word of no other line"),
    ],
)
def test_text_is_shown_once_per_line(texts: list[str], shown: list[str] | None) -> None:
    assert distinct_text(texts) == (texts if shown is None else shown)


def test_summary_prints_a_keyframes_text_lines_without_repeating_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a keyframe whose backend reported a line and each of its words
    doc = _document(("Mission briefing", "Mission", "briefing"))
    # WHEN the summary is printed / THEN no word appears twice
    print_document(doc)
    out = capsys.readouterr().out
    assert "text: Mission briefing\n" in out
    assert out.count("Mission") == 1


def test_one_closing_line_says_how_to_enable_labels_and_captions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the default offline run: local recognition without labels, no captioner
    doc = _document(stages={"recognition": _local_recognition("faces", "text", "people")})
    # WHEN it is printed
    print_document(doc)
    lines = capsys.readouterr().out.splitlines()
    # THEN the last line, and only it, names what did not run and the settings that enable it
    hints = [line for line in lines if "VIDEOSENSE_" in line]
    assert hints == [lines[-1]]
    assert lines[-1].startswith("not run   labels (")
    assert "VIDEOSENSE_RECOGNIZER_LABEL_MODEL" in lines[-1]
    assert "VIDEOSENSE_CAPTIONER_MODEL" in lines[-1]


@pytest.mark.parametrize(
    ("stages", "expected"),
    [
        pytest.param(
            {
                "recognition": _local_recognition("labels", "faces", "text"),
                "captions": StageInfo(status=StageStatus.COMPLETE, backend="local"),
            },
            [],
            id="labels and captions ran",
        ),
        pytest.param(
            {
                "recognition": StageInfo(
                    status=StageStatus.COMPLETE, backend="rekognition", features=("faces",)
                ),
                "captions": StageInfo(status=StageStatus.COMPLETE, backend="local"),
            },
            [],
            id="rekognition without labels was asked for",
        ),
        pytest.param(
            {
                "recognition": _local_recognition("labels", "faces"),
                "captions": StageInfo(status=StageStatus.FAILED, error="no model"),
            },
            ["captions"],
            id="captions failed",
        ),
    ],
)
def test_not_run_lists_only_what_did_not_run(
    stages: dict[str, StageInfo], expected: list[str]
) -> None:
    assert [m.split(" ")[0] for m in not_run(_document(stages=stages))] == expected


def test_an_audio_only_upload_is_described_as_such(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the document of an audio-only upload (no video stream: no size, rate or frames)
    audio = MediaFacts(
        duration_s=75.5, fps=0, width=0, height=0, frame_count=0, video_codec="", has_audio=True
    )
    document = _document(texts=()).model_copy(update={"media": audio, "keyframes": ()})
    # WHEN its summary is printed
    print_document(document)
    # THEN the media line says it is audio only, without a 0x0 frame size
    media = [line for line in capsys.readouterr().out.splitlines() if line.startswith("media")]
    assert media == ["media     audio only, 01:15.500"]

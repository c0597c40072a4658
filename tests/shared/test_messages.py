"""Message contracts: strict, immutable, versioned, round-trippable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from videosense_shared.messages import (
    FramesExtracted,
    ImageRef,
    Keyframe,
    Scene,
    SourceRef,
    Stage,
    StageFailed,
    StageStatus,
    VideoCompleted,
    VideoIngested,
    VideoStatus,
    parse_message,
    utc_now,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "messages"


def _ingested_payload() -> dict[str, object]:
    payload: dict[str, object] = json.loads((FIXTURES / "video_ingested.json").read_text())
    return payload


def test_fixture_parses_as_video_ingested() -> None:
    # GIVEN a VideoIngested as it travels on the wire
    # WHEN it is parsed by type
    message = parse_message(_ingested_payload())
    # THEN it is the right model with the unicode key intact
    assert isinstance(message, VideoIngested)
    assert message.source.key == "uploads/my holiday été.mp4"
    assert message.stages == (Stage.FRAMES,)


def test_round_trip_is_lossless() -> None:
    message = parse_message(_ingested_payload())
    assert parse_message(message.model_dump_json()) == message


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        pytest.param(lambda p: p.update(extra_field=1), "extra", id="unknown-field"),
        pytest.param(lambda p: p.update(schema_version=2), "schema_version", id="future-version"),
        pytest.param(lambda p: p.update(type="VideoDeleted"), "type", id="unknown-type"),
        pytest.param(lambda p: p.pop("video_id"), "video_id", id="missing-video-id"),
        pytest.param(lambda p: p.update(stages=[]), "stages", id="no-stages"),
        pytest.param(lambda p: p.update(stages=["dance"]), "stages", id="unknown-stage"),
    ],
)
def test_invalid_messages_are_rejected(mutate: object, reason: str) -> None:
    payload = _ingested_payload()
    mutate(payload)  # type: ignore[operator]
    with pytest.raises(ValidationError, match=reason):
        parse_message(payload)


def test_messages_are_immutable() -> None:
    message = parse_message(_ingested_payload())
    with pytest.raises(ValidationError):
        message.video_id = "other"  # type: ignore[misc]


def test_frames_extracted_and_completion_round_trip() -> None:
    now = utc_now()
    frames = FramesExtracted(
        message_id="m",
        video_id="v",
        trace_id="t",
        stages=(Stage.FRAMES,),
        chunk_index=0,
        chunk_count=1,
        scene_count=1,
        keyframe_count=1,
        scenes=(Scene(index=0, start_frame=0, end_frame=25, start_s=0, end_s=1),),
        keyframes=(
            Keyframe(
                id="kf000000012",
                frame=12,
                t_s=0.48,
                scene_index=0,
                image=ImageRef(bucket="b", key="frames/v/000000012.jpg", width=320, height=240),
            ),
        ),
        backend="pyav+content",
        started_at=now,
        finished_at=now,
    )
    failed = StageFailed(message_id="f", video_id="v", trace_id="t", stage=Stage.FRAMES, error="x")
    done = VideoCompleted(
        message_id="c",
        video_id="v",
        trace_id="t",
        status=VideoStatus.PARTIAL,
        source=SourceRef(bucket="b", key="k", etag="e", size_bytes=1),
        stages={Stage.FRAMES: StageStatus.COMPLETE},
    )
    for message in (frames, failed, done):
        assert parse_message(message.model_dump_json()) == message


def test_completion_cannot_announce_processing() -> None:
    with pytest.raises(ValidationError):
        VideoCompleted(
            message_id="c",
            video_id="v",
            trace_id="t",
            status=VideoStatus.PROCESSING,
            source=SourceRef(bucket="b", key="k", etag="e", size_bytes=1),
            stages={},
        )

"""The aggregator folds the redaction stage's result into the document (in memory and on the
DynamoDB store's codec path: the document's ``redaction`` field, schema v3 with its face
tracks)."""

from __future__ import annotations

from datetime import timedelta

from tests.aggregator.test_fold_memory import BUCKET, World, world  # noqa: F401 (fixture)
from tests.support.video_messages import sample_video
from videosense_shared.document import DOCUMENT_SCHEMA_VERSION, VideoDocument
from videosense_shared.ids import message_id_for
from videosense_shared.layout import redacted_key
from videosense_shared.messages import (
    FaceTrack,
    ObjectRef,
    Redaction,
    RedactionReady,
    Stage,
    StageStatus,
    VideoStatus,
    utc_now,
)


def _ready(video_id: str, message_id: str, trace_id: str) -> RedactionReady:
    now = utc_now()
    return RedactionReady(
        message_id=message_id_for(message_id, "RedactionReady"),
        video_id=video_id,
        trace_id=trace_id,
        redaction=Redaction(
            image=ObjectRef(bucket=BUCKET, key=redacted_key(video_id)),
            policy="except:presenter",
            style="pixelate",
            faces_redacted=2,
            frames_with_faces=40,
            frame_count=100,
            backend="local",
            face_tracks=(
                FaceTrack(start_s=0.4, end_s=2.24, name="presenter", redacted=False),
                FaceTrack(start_s=1.0, end_s=3.0),
                FaceTrack(start_s=2.5, end_s=3.96, name="jane"),
            ),
        ),
        started_at=now - timedelta(seconds=3),
        finished_at=now,
    )


async def test_redaction_result_lands_in_the_document_once(world: World) -> None:  # noqa: F811
    # GIVEN a video that asked for redaction alone
    video = sample_video(BUCKET, "uploads/redact.mp4", stages=(Stage.REDACTION,))
    await video.create(world.store)
    ready = _ready(video.video_id, video.ingested.message_id, video.ingested.trace_id)
    # WHEN VideoIngested and the result (twice) are folded
    for message in (video.ingested, ready, ready):
        await world.deliver(message)
    # THEN the document holds the redacted copy, the stage completed with its backend
    document = await world.store.read(video.video_id)
    assert document.status == VideoStatus.COMPLETE
    assert document.redaction == ready.redaction
    assert document.stages[Stage.REDACTION].status == StageStatus.COMPLETE
    assert document.stages[Stage.REDACTION].backend == "local"
    assert len(world.completed) == 1
    # AND the written JSON is schema v3 with the redaction block and its face tracks
    written = world.bucket.json(BUCKET, f"documents/{video.video_id}.json")
    assert written["schema_version"] == DOCUMENT_SCHEMA_VERSION == 3
    assert written["redaction"]["image"]["key"] == f"redacted/{video.video_id}.mp4"
    assert written["redaction"]["face_tracks"][0] == {
        "start_s": 0.4,
        "end_s": 2.24,
        "name": "presenter",
        "redacted": False,
    }
    assert VideoDocument.model_validate(written).redaction == ready.redaction


async def test_skipped_redaction_completes_the_video_with_its_reason(world: World) -> None:  # noqa: F811
    # GIVEN an audio-only upload that asked for redaction
    video = sample_video(BUCKET, "uploads/voice.m4a", stages=(Stage.REDACTION,))
    await video.create(world.store)
    # WHEN the redactor skips it
    for message in (video.ingested, video.failed(Stage.REDACTION, "no video", skipped=True)):
        await world.deliver(message)
    # THEN the stage is skipped with the reason and the document has no redacted copy
    document = await world.store.read(video.video_id)
    assert document.stages[Stage.REDACTION].status == StageStatus.SKIPPED
    assert document.stages[Stage.REDACTION].error == "no video"
    assert document.redaction is None


def test_a_v1_document_still_validates() -> None:
    # GIVEN a document written before schema v2 / WHEN read / THEN it validates without redaction
    v1 = {
        "video_id": "v",
        "schema_version": 1,
        "status": "complete",
        "source": {"bucket": "b", "key": "k", "etag": "e", "size_bytes": 1},
        "created_at": "2026-01-01T00:00:00Z",
    }
    assert VideoDocument.model_validate(v1).redaction is None


def test_a_v2_document_still_validates_without_face_tracks() -> None:
    # GIVEN a document written before schema v3: a redaction without face tracks
    v2 = {
        "video_id": "v",
        "schema_version": 2,
        "status": "complete",
        "source": {"bucket": "b", "key": "k", "etag": "e", "size_bytes": 1},
        "created_at": "2026-01-01T00:00:00Z",
        "redaction": {
            "image": {"bucket": "b", "key": "redacted/v.mp4"},
            "policy": "all",
            "style": "pixelate",
            "faces_redacted": 1,
            "frames_with_faces": 10,
            "frame_count": 20,
            "backend": "local",
        },
    }
    # WHEN read / THEN it validates, its tracks unknown (None), not "no faces"
    document = VideoDocument.model_validate(v2)
    assert document.redaction is not None
    assert document.redaction.face_tracks is None
    assert document.redaction.face_tracks_omitted == 0

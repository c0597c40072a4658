"""One set of behaviour tests run against both document stores: DynamoDB (on the emulator) and
memory. The in-memory store stands in for DynamoDB in fast tests only because these agree."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from tests.support.video_messages import SampleVideo, sample_video
from videosense_shared.aws import AwsClients
from videosense_shared.messages import (
    KeyframeCaption,
    KeyframeRecognition,
    Label,
    Segment,
    Stage,
    StageStatus,
    Transcript,
    VideoStatus,
    utc_now,
)
from videosense_shared.provision import provision
from videosense_shared.settings import CommonSettings
from videosense_shared.store import (
    DocumentNotFoundError,
    DocumentStore,
    DynamoDocumentStore,
    InMemoryDocumentStore,
)

BUCKET = "media"


@pytest.fixture(
    params=[
        pytest.param("memory"),
        pytest.param("dynamodb", marks=pytest.mark.integration),
    ]
)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[DocumentStore]:
    if request.param == "memory":
        yield InMemoryDocumentStore()
        return
    request.getfixturevalue("aws_env")
    common = CommonSettings()
    async with AwsClients(common.region) as aws:
        await provision(aws, common)
        yield DynamoDocumentStore(aws.dynamodb, common.table_name)


async def _video(store: DocumentStore, name: str, **kwargs: object) -> SampleVideo:
    video = sample_video(BUCKET, f"uploads/{name}.mp4", **kwargs)  # type: ignore[arg-type]
    await video.create(store)
    return video


async def test_a_header_is_created_once(store: DocumentStore) -> None:
    # GIVEN a created video WHEN created again THEN refused, the first header unchanged
    video = await _video(store, "once")
    assert not await store.create(
        video_id=video.video_id,
        trace_id="other",
        source=video.ingested.source,
        media=None,
        stages=(Stage.TRANSCRIPT,),
    )
    header = await store.header(video.video_id)
    assert header.trace_id == video.ingested.trace_id
    assert header.status == VideoStatus.PROCESSING
    assert header.stage_statuses == {Stage.FRAMES: StageStatus.PENDING}
    assert header.media == video.ingested.media
    assert header.chunks_done == {Stage.FRAMES: 0}


async def test_a_rejected_video_is_created_failed(store: DocumentStore) -> None:
    # GIVEN a header created with an error THEN it is failed and completed already
    video = sample_video(BUCKET, "uploads/rejected.mp4")
    assert await store.create(
        video_id=video.video_id,
        trace_id="t",
        source=video.ingested.source,
        media=None,
        stages=(),
        error="not a video",
    )
    header = await store.header(video.video_id)
    assert (header.status, header.error) == (VideoStatus.FAILED, "not a video")
    assert header.completed_at is not None
    assert await store.finalize(video.video_id) == header


async def test_a_missing_video_is_not_found(store: DocumentStore) -> None:
    # GIVEN no video WHEN read THEN not found; conditional stage writes refuse quietly
    with pytest.raises(DocumentNotFoundError):
        await store.header("nope")
    with pytest.raises(DocumentNotFoundError):
        await store.read("nope")
    with pytest.raises(DocumentNotFoundError):
        await store.finalize("nope")
    with pytest.raises(DocumentNotFoundError):
        await store.record_chunk("nope", Stage.FRAMES, 0, 1)
    now = utc_now()
    assert not await store.finish_stage(
        "nope", Stage.FRAMES, StageStatus.FAILED, started_at=now, finished_at=now, backend=None
    )
    assert not await store.mark_stage_queued("nope", Stage.FRAMES, at=now)
    assert not await store.claim_completion("nope", timedelta(seconds=5))
    assert not await store.reschedule("nope", now)
    with pytest.raises(DocumentNotFoundError):
        await store.header("nope")  # none of the refused writes created a header


async def test_a_stage_is_queued_started_and_finished_once(store: DocumentStore) -> None:
    # GIVEN a video's frames stage, queued
    video = await _video(store, "ledger")
    vid = video.video_id
    t = utc_now()
    assert await store.mark_stage_queued(vid, Stage.FRAMES, at=t)
    assert not await store.mark_stage_queued(vid, Stage.FRAMES, at=t + timedelta(seconds=1))
    # WHEN workers report starts out of order THEN the earliest wins
    assert await store.record_stage_start(vid, Stage.FRAMES, t + timedelta(seconds=20))
    assert await store.record_stage_start(vid, Stage.FRAMES, t + timedelta(seconds=10))
    assert not await store.record_stage_start(vid, Stage.FRAMES, t + timedelta(seconds=15))
    # WHEN it finishes twice THEN the first finish holds
    assert await store.finish_stage(
        vid,
        Stage.FRAMES,
        StageStatus.COMPLETE,
        started_at=t + timedelta(seconds=5),
        finished_at=t + timedelta(seconds=30),
        backend="b",
        model="m",
        features=("labels",),
    )
    assert not await store.finish_stage(
        vid, Stage.FRAMES, StageStatus.FAILED, started_at=None, finished_at=t, backend="x"
    )
    assert not await store.record_stage_start(vid, Stage.FRAMES, t)  # terminal: closed
    assert not await store.finish_stage(
        vid, Stage.CAPTIONS, StageStatus.FAILED, started_at=None, finished_at=t, backend=None
    )  # not requested
    with pytest.raises(ValueError, match="not a terminal"):
        await store.finish_stage(
            vid, Stage.FRAMES, StageStatus.RUNNING, started_at=None, finished_at=t, backend=None
        )
    # THEN the ledger holds the queueing time, the earliest worker start and the first finish
    info = (await store.header(vid)).stages[Stage.FRAMES]
    assert info.status == StageStatus.COMPLETE
    assert info.queued_at == t
    assert info.started_at == t + timedelta(seconds=5)
    assert info.finished_at == t + timedelta(seconds=30)
    assert (info.backend, info.model, info.features, info.error) == ("b", "m", ("labels",), None)


async def test_a_chunk_is_counted_once(store: DocumentStore) -> None:
    # GIVEN chunks delivered with duplicates WHEN counted THEN each counts once
    video = await _video(store, "chunks", chunks=3)
    results = [
        await store.record_chunk(video.video_id, Stage.FRAMES, i, 3) for i in (0, 2, 0, 2, 1)
    ]
    assert results == [True, True, False, False, True]
    header = await store.header(video.video_id)
    assert header.chunks_done == {Stage.FRAMES: 3}
    assert header.chunk_count == {Stage.FRAMES: 3}


async def test_finalize_waits_for_every_stage_and_has_one_winner(store: DocumentStore) -> None:
    # GIVEN two stages, one finished
    video = await _video(store, "final", stages=(Stage.FRAMES, Stage.TRANSCRIPT))
    vid, t = video.video_id, utc_now()
    await store.finish_stage(
        vid, Stage.FRAMES, StageStatus.COMPLETE, started_at=None, finished_at=t, backend="b"
    )
    assert await store.finalize(vid) is None
    await store.finish_stage(
        vid, Stage.TRANSCRIPT, StageStatus.FAILED, started_at=None, finished_at=t, backend="b"
    )
    # WHEN finalised by several callers at once THEN all see the one final status
    headers = await asyncio.gather(*(store.finalize(vid) for _ in range(4)))
    assert {h.status for h in headers if h is not None} == {VideoStatus.PARTIAL}
    assert len({h.completed_at for h in headers if h is not None}) == 1


async def test_the_completion_lease_has_one_holder_until_it_expires(store: DocumentStore) -> None:
    # GIVEN a video
    video = await _video(store, "lease")
    vid = video.video_id
    # WHEN several claim at once THEN one holds the lease
    lease = timedelta(seconds=0.3)
    claims = await asyncio.gather(*(store.claim_completion(vid, lease) for _ in range(4)))
    assert claims.count(True) == 1
    # WHEN the lease expired THEN another may claim; after publishing, none may
    await asyncio.sleep(0.4)
    assert await store.claim_completion(vid, timedelta(minutes=1))
    assert not await store.claim_completion(vid, timedelta(minutes=1))
    await store.mark_published(vid)
    header = await store.header(vid)
    assert header.completion_published
    assert header.completion_lease_until is None
    await asyncio.sleep(0.01)
    assert not await store.claim_completion(vid, timedelta(0))


async def test_the_ingest_lease_has_one_holder_until_it_expires(store: DocumentStore) -> None:
    # GIVEN a video whose VideoIngested is not published yet
    video = await _video(store, "ingest-lease")
    vid = video.video_id
    # WHEN racing deliveries claim at once THEN one holds the lease
    lease = timedelta(seconds=0.3)
    claims = await asyncio.gather(*(store.claim_ingest(vid, lease) for _ in range(4)))
    assert claims.count(True) == 1
    # WHEN the holder crashed and its lease expired THEN its redelivery may claim again
    await asyncio.sleep(0.4)
    assert await store.claim_ingest(vid, timedelta(minutes=1))
    assert not await store.claim_ingest(vid, timedelta(minutes=1))
    # WHEN it is published THEN nobody may claim, even with the lease expired
    await store.mark_ingest_published(vid)
    assert (await store.header(vid)).ingest_published
    assert not await store.claim_ingest(vid, timedelta(0))
    await asyncio.sleep(0.01)
    assert not await store.claim_ingest(vid, timedelta(0))
    # AND a video that does not exist is never claimed (nor created by the claim)
    assert not await store.claim_ingest("nope-ingest", timedelta(minutes=1))
    with pytest.raises(DocumentNotFoundError):
        await store.header("nope-ingest")


async def test_a_video_is_due_until_its_completion_is_published(store: DocumentStore) -> None:
    # GIVEN two new videos WHEN created THEN both are due at once, earliest first
    first = await _video(store, "due-1")
    second = await _video(store, "due-2")
    now = utc_now()
    assert await store.due_videos(now, 10) == [first.video_id, second.video_id]
    assert await store.due_videos(now, 1) == [first.video_id]
    # WHEN one is rescheduled THEN it is due only from then on
    later = now + timedelta(hours=1)
    assert await store.reschedule(first.video_id, later)
    assert (await store.header(first.video_id)).due_at == later
    assert await store.due_videos(now, 10) == [second.video_id]
    assert await store.due_videos(later, 10) == [second.video_id, first.video_id]
    # WHEN its completion is published THEN it leaves the index for good
    await store.mark_published(first.video_id)
    assert await store.due_videos(later + timedelta(days=365), 10) == [second.video_id]
    assert (await store.header(first.video_id)).due_at is None
    assert not await store.reschedule(first.video_id, later)


async def test_results_in_any_order_assemble_one_document(store: DocumentStore) -> None:
    # GIVEN a video with frames, captions, recognition and a transcript
    video = await _video(store, "assemble", stages=tuple(Stage))
    vid, frames = video.video_id, video.frames[0]
    kf = frames.keyframes[1]
    segments = tuple(
        Segment(start_s=i, end_s=i + 0.5, text=f" word{i} ") for i in range(30)
    )  # more than one batch of 25
    # WHEN later stages' results arrive before the keyframes they describe, twice
    for _ in range(2):
        await store.put_captions(
            vid, [KeyframeCaption(keyframe_id=kf.id, frame=kf.frame, caption="a cat")]
        )
        await store.put_recognition(
            vid,
            [
                KeyframeRecognition(
                    keyframe_id=kf.id, frame=kf.frame, labels=(Label(name="cat", confidence=90),)
                ),
                # a keyframe the frame stage never wrote: not part of the document
                KeyframeRecognition(keyframe_id="ghost", frame=999_999),
            ],
        )
        await store.put_transcript(vid, Transcript(language="", text="", segments=segments))
        await store.put_keyframes(vid, reversed(frames.keyframes))
        await store.put_scenes(vid, reversed(frames.scenes))
    # THEN the document holds each once, in order, with every stage's attributes
    document = await store.read(vid)
    assert [s.index for s in document.scenes] == [0, 1]
    assert [k.frame for k in document.keyframes] == [k.frame for k in frames.keyframes]
    described = document.keyframes[1]
    assert (described.caption, [lb.name for lb in described.labels]) == ("a cat", ["cat"])
    assert document.keyframes[0].caption is None
    assert document.transcript is not None
    assert document.transcript.language is None
    assert document.transcript.text == " ".join(f"word{i}" for i in range(30))
    assert document.stages[Stage.CAPTIONS].status == StageStatus.PENDING
    assert document.status == VideoStatus.PROCESSING

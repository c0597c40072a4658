"""The aggregator's fold, completion and give-up rule on the in-memory document store: the same
semantics as DynamoDB (see tests/shared/test_store_contract.py), in milliseconds."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING, cast

import pytest
from botocore.exceptions import ClientError

from aggregator.handler import Aggregator
from tests.support.edges import MemoryBucket, RecordingPublisher
from tests.support.video_messages import SampleVideo, delivery, sample_video
from videosense_shared.bus import PoisonMessage, RetryableError
from videosense_shared.completion import Completion
from videosense_shared.messages import (
    Model,
    ObjectRef,
    Stage,
    StageStatus,
    VideoCompleted,
    VideoStatus,
    utc_now,
)
from videosense_shared.store import InMemoryDocumentStore
from videosense_shared.topology import VIDEO_COMPLETED

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

BUCKET = "media"


class World:
    """An aggregator on an in-memory store, with the completion events it published."""

    def __init__(self) -> None:
        self.store = InMemoryDocumentStore()
        self.bucket = MemoryBucket()
        self.publisher = RecordingPublisher()
        self.completion = Completion(
            self.store, self.bucket, self.publisher, BUCKET, lease=timedelta(seconds=30)
        )
        # The bucket holds documents and claim-checked payloads.
        self.aggregator = Aggregator(self.store, self.completion, cast("S3Client", self.bucket))

    async def deliver(self, message: Model, *, receive_count: int = 1) -> None:
        await self.aggregator.handle(delivery(message, receive_count=receive_count))

    @property
    def completed(self) -> list[VideoCompleted]:
        return cast(list[VideoCompleted], self.publisher.on(VIDEO_COMPLETED))


@pytest.fixture
def world() -> World:
    return World()


async def _created(world: World, key: str, **kwargs: object) -> SampleVideo:
    video = sample_video(BUCKET, key, **kwargs)  # type: ignore[arg-type]
    await video.create(world.store)
    return video


@pytest.mark.parametrize("seed", range(6))
async def test_any_order_with_duplicates_gives_one_document_and_one_event(
    world: World, seed: int
) -> None:
    # GIVEN a video's messages, every one twice, in a random order
    video = await _created(world, f"uploads/{seed}.mp4", chunks=3)
    messages: list[Model] = [video.ingested, *video.frames] * 2
    random.Random(seed).shuffle(messages)
    # WHEN the aggregator folds them all
    for message in messages:
        await world.deliver(message)
    # THEN the document is complete with every scene and keyframe once, and one event went out
    document = await world.store.read(video.video_id)
    assert document.status == VideoStatus.COMPLETE
    assert [s.index for s in document.scenes] == list(range(6))
    assert len(document.keyframes) == 6
    assert [e.status for e in world.completed] == [VideoStatus.COMPLETE]
    written = world.bucket.json(BUCKET, f"documents/{video.video_id}.json")
    assert written["status"] == "complete"


async def test_completion_waits_for_the_last_chunk(world: World) -> None:
    # GIVEN three chunks of which one has not arrived
    video = await _created(world, "uploads/slow.mp4", chunks=3)
    for message in (video.ingested, video.frames[2], video.frames[0], video.frames[0]):
        await world.deliver(message)
    # THEN the video is still processing; WHEN the last arrives THEN it completes
    assert (await world.store.read(video.video_id)).status == VideoStatus.PROCESSING
    assert world.completed == []
    await world.deliver(video.frames[1])
    assert (await world.store.read(video.video_id)).status == VideoStatus.COMPLETE
    assert len(world.completed) == 1


async def test_frames_failure_skips_keyframe_stages(world: World) -> None:
    # GIVEN frames, captions and transcript requested
    video = await _created(
        world, "uploads/undecodable.mp4", stages=(Stage.FRAMES, Stage.CAPTIONS, Stage.TRANSCRIPT)
    )
    # WHEN frames fail and the transcript is skipped
    for message in (
        video.ingested,
        video.failed(Stage.FRAMES, "cannot decode"),
        video.failed(Stage.TRANSCRIPT, "no audio", skipped=True),
    ):
        await world.deliver(message)
    # THEN captions are skipped for want of keyframes, and the video failed once
    document = await world.store.read(video.video_id)
    assert document.stages[Stage.FRAMES].error == "cannot decode"
    assert document.stages[Stage.CAPTIONS].status == StageStatus.SKIPPED
    assert document.status == VideoStatus.FAILED
    assert [e.stages for e in world.completed] == [
        {
            Stage.FRAMES: StageStatus.FAILED,
            Stage.CAPTIONS: StageStatus.SKIPPED,
            Stage.TRANSCRIPT: StageStatus.SKIPPED,
        }
    ]


@pytest.mark.parametrize("ingested_first", [True, False], ids=["ingested-first", "result-first"])
async def test_a_stage_started_when_its_worker_did(world: World, ingested_first: bool) -> None:
    # GIVEN a transcript whose worker started 40 s after the video was queued
    queued = utc_now() - timedelta(seconds=60)
    video = await _created(world, "uploads/timed.mp4", stages=(Stage.TRANSCRIPT,))
    ingested = video.ingested.model_copy(update={"occurred_at": queued})
    started, finished = queued + timedelta(seconds=40), queued + timedelta(seconds=50)
    result = video.transcript(started_at=started, finished_at=finished)
    # WHEN VideoIngested arrives before or after the result
    for message in (ingested, result) if ingested_first else (result, ingested):
        await world.deliver(message)
    # THEN the stage's start is the worker's, whatever the order; the queueing time is kept
    # apart (it is only known when VideoIngested came first: a finished stage is not reopened)
    info = (await world.store.read(video.video_id)).stages[Stage.TRANSCRIPT]
    assert info.started_at == started
    assert info.finished_at == finished
    assert info.queued_at == (queued if ingested_first else None)


async def test_a_chunked_stage_started_with_its_earliest_chunk(world: World) -> None:
    # GIVEN captions of two chunks, the later-folded one started first
    video = await _created(world, "uploads/chunks.mp4", chunks=2, stages=(Stage.FRAMES,))
    early = utc_now() - timedelta(seconds=30)
    late = early + timedelta(seconds=20)
    first = video.frames[0].model_copy(update={"started_at": late})
    second = video.frames[1].model_copy(update={"started_at": early})
    # WHEN they are folded late one first
    for message in (video.ingested, first, second):
        await world.deliver(message)
    # THEN the stage started with the earliest chunk
    info = (await world.store.read(video.video_id)).stages[Stage.FRAMES]
    assert info.started_at == early


async def test_the_last_delivery_fails_the_stage_with_the_reason_and_completes(
    world: World,
) -> None:
    # GIVEN a chunk whose keyframes cannot be stored (here: their payload is gone)
    video = await _created(world, "uploads/poison.mp4", stages=(Stage.FRAMES, Stage.CAPTIONS))
    await world.deliver(video.ingested)
    await world.deliver(video.frames[0])
    broken = video.captions(0).model_copy(
        update={"captions": (), "captions_ref": ObjectRef(bucket=BUCKET, key="messages/gone.json")}
    )
    # WHEN its deliveries fail until the last one
    for receive in range(1, 5):
        with pytest.raises(ClientError, match="NoSuchKey"):
            await world.deliver(broken, receive_count=receive)
    await world.deliver(broken, receive_count=5)
    # THEN the captions stage failed with the readable reason and the video completed, once
    document = await world.store.read(video.video_id)
    error = document.stages[Stage.CAPTIONS].error or ""
    assert document.stages[Stage.CAPTIONS].status == StageStatus.FAILED
    assert error.startswith("its result could not be stored: gave up after 4 deliveries: ")
    assert "NoSuchKey" in error
    assert document.status == VideoStatus.PARTIAL
    assert [e.status for e in world.completed] == [VideoStatus.PARTIAL]


async def test_the_last_delivery_of_a_stage_failure_is_not_folded_again(world: World) -> None:
    # GIVEN a video whose frames failed, but whose StageFailed reaches its last delivery
    video = await _created(world, "uploads/last-failed.mp4")
    await world.deliver(video.ingested)
    # WHEN the last delivery comes, with no failure seen in this process (a crash)
    await world.deliver(video.failed(Stage.FRAMES, "cannot decode"), receive_count=5)
    # THEN the stage failed with the give-up reason that says so, and the video completed
    document = await world.store.read(video.video_id)
    assert "gave up after 4 deliveries: the worker stopped" in (
        document.stages[Stage.FRAMES].error or ""
    )
    assert [e.status for e in world.completed] == [VideoStatus.FAILED]


async def test_the_last_delivery_of_video_ingested_only_completes(world: World) -> None:
    # GIVEN a video whose stage finished (its VideoIngested never folded)
    video = await _created(world, "uploads/late-ingested.mp4")
    await world.deliver(video.frames[0])
    assert len(world.completed) == 1
    # WHEN VideoIngested reaches its last delivery
    await world.deliver(video.ingested, receive_count=5)
    # THEN nothing is folded or published again
    document = await world.store.read(video.video_id)
    assert document.stages[Stage.FRAMES].status == StageStatus.COMPLETE
    assert document.stages[Stage.FRAMES].queued_at is None
    assert len(world.completed) == 1


async def test_a_message_without_document_is_retried_then_dead_lettered(world: World) -> None:
    # GIVEN a chunk for a video that has no document
    video = sample_video(BUCKET, "uploads/never-ingested.mp4")
    # WHEN delivered THEN it is retried, and on the last delivery it goes to the DLQ with why
    with pytest.raises(RetryableError, match="no document"):
        await world.deliver(video.frames[0])
    with pytest.raises(PoisonMessage, match=f"no document for video {video.video_id}"):
        await world.deliver(video.frames[0], receive_count=5)
    assert world.completed == []


async def test_the_last_delivery_leaves_a_held_completion_to_its_holder(world: World) -> None:
    # GIVEN a finished video whose completion another worker is publishing right now
    video = await _created(world, "uploads/held.mp4")
    await world.deliver(video.ingested)
    await world.store.finish_stage(
        video.video_id,
        Stage.FRAMES,
        StageStatus.COMPLETE,
        started_at=None,
        finished_at=utc_now(),
        backend="test",
    )
    await world.store.finalize(video.video_id)
    assert await world.store.claim_completion(video.video_id, timedelta(minutes=1))
    # WHEN a message of that video reaches its last delivery
    await world.deliver(video.frames[0], receive_count=5)
    # THEN it is settled without publishing (the holder publishes; the deadline sweep backs it)
    assert world.completed == []
    assert (await world.store.header(video.video_id)).due_at is not None

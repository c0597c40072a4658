"""The per-video deadline on the in-memory document store: the decision, the sweep and its
loop."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from aggregator.deadline import (
    DeadlinePolicy,
    DeadlineSweeper,
    FinishCompletion,
    TimeOut,
    Wait,
    next_step,
)
from aggregator.settings import AggregatorSettings
from tests.support.edges import MemoryBucket, RecordingPublisher
from tests.support.video_messages import SampleVideo, sample_video
from videosense_shared.completion import Completion
from videosense_shared.document import StageInfo
from videosense_shared.messages import (
    SourceRef,
    Stage,
    StageStatus,
    VideoCompleted,
    VideoStatus,
    utc_now,
)
from videosense_shared.store import Header, InMemoryDocumentStore
from videosense_shared.topology import VIDEO_COMPLETED

BUCKET = "media"
POLICY = DeadlinePolicy(base_s=600, per_video_s=2.0)
GRACE = timedelta(seconds=30)
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _header(
    *,
    status: VideoStatus = VideoStatus.PROCESSING,
    stages: int = 2,
    duration_s: float = 100.0,
    completed_at: datetime | None = None,
    published: bool = False,
) -> Header:
    video = sample_video(BUCKET, "uploads/x.mp4", duration_s=duration_s)
    return Header(
        video_id=video.video_id,
        trace_id="t",
        status=status,
        error=None,
        source=SourceRef(bucket=BUCKET, key="uploads/x.mp4", etag="e", size_bytes=1),
        media=video.ingested.media,
        created_at=T0,
        completed_at=completed_at,
        stages={s: StageInfo(status=StageStatus.RUNNING) for s in list(Stage)[:stages]},
        chunks_done={},
        chunk_count={},
        completion_published=published,
        completion_lease_until=None,
        ingest_published=True,
        due_at=T0,
    )


def test_the_deadline_grows_with_the_video_and_its_stages() -> None:
    # GIVEN 600 s plus 2 s per second of video per stage
    # WHEN a 100 s video with 2 stages is checked THEN it is due 1000 s after it was created
    assert POLICY.due_at(_header()) == T0 + timedelta(seconds=1000)
    assert POLICY.due_at(_header(stages=4, duration_s=0)) == T0 + timedelta(seconds=600)


@pytest.mark.parametrize(
    ("header", "now", "step"),
    [
        pytest.param(_header(), T0, Wait(T0 + timedelta(seconds=1000)), id="first-sight"),
        pytest.param(
            _header(), T0 + timedelta(seconds=999), Wait(T0 + timedelta(seconds=1000)), id="early"
        ),
        pytest.param(
            _header(), T0 + timedelta(seconds=1000), TimeOut(timedelta(seconds=1000)), id="due"
        ),
        pytest.param(
            _header(status=VideoStatus.COMPLETE, completed_at=T0),
            T0 + timedelta(seconds=10),
            Wait(T0 + GRACE),
            id="completing",
        ),
        pytest.param(
            _header(status=VideoStatus.PARTIAL, completed_at=T0),
            T0 + GRACE,
            FinishCompletion(),
            id="abandoned-completion",
        ),
        pytest.param(
            _header(status=VideoStatus.COMPLETE, completed_at=T0, published=True),
            T0 + timedelta(days=1),
            None,
            id="published",
        ),
    ],
)
def test_next_step(header: Header, now: datetime, step: object) -> None:
    # GIVEN a header at a time WHEN the sweep decides THEN it waits, times out, finishes or not
    assert next_step(header, now, POLICY, GRACE) == step


def test_settings_describe_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the deadline settings in the environment WHEN read THEN they make the policy
    monkeypatch.setenv("VIDEOSENSE_AGGREGATOR_DEADLINE_BASE_S", "60")
    monkeypatch.setenv("VIDEOSENSE_AGGREGATOR_DEADLINE_PER_VIDEO_S", "0.5")
    assert AggregatorSettings().deadline == DeadlinePolicy(base_s=60, per_video_s=0.5)
    monkeypatch.setenv("VIDEOSENSE_AGGREGATOR_DEADLINE_BASE_S", "-1")
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        AggregatorSettings()


class World:
    """An in-memory store, completion, and sweepers on them."""

    def __init__(self) -> None:
        self.store = InMemoryDocumentStore()
        self.publisher = RecordingPublisher()
        self.completion = Completion(
            self.store, MemoryBucket(), self.publisher, BUCKET, lease=GRACE
        )

    def sweeper(self) -> DeadlineSweeper:
        return DeadlineSweeper(self.store, self.completion, POLICY, grace=GRACE)

    @property
    def completed(self) -> list[VideoCompleted]:
        return cast(list[VideoCompleted], self.publisher.on(VIDEO_COMPLETED))


@pytest.fixture
def world() -> World:
    return World()


async def _created(world: World, key: str, stages: tuple[Stage, ...]) -> SampleVideo:
    video = sample_video(BUCKET, key, stages=stages, duration_s=100.0)
    await video.create(world.store)
    for stage in stages:
        await world.store.mark_stage_queued(video.video_id, stage, at=utc_now())
    return video


async def test_a_stage_that_never_reports_times_out_and_the_video_completes(world: World) -> None:
    # GIVEN a video whose frames finished but whose transcript never reports
    video = await _created(world, "uploads/stuck.mp4", (Stage.FRAMES, Stage.TRANSCRIPT))
    now = utc_now()
    await world.store.finish_stage(
        video.video_id,
        Stage.FRAMES,
        StageStatus.COMPLETE,
        started_at=now,
        finished_at=now,
        backend="test",
    )
    sweeper = world.sweeper()
    # WHEN the sweep first sees it THEN it only learns the deadline (1000 s from creation)
    assert await sweeper.sweep(now) == 0
    header = await world.store.header(video.video_id)
    assert header.due_at == header.created_at + timedelta(seconds=1000)
    assert await sweeper.sweep(now + timedelta(seconds=999)) == 0
    # WHEN the deadline passed
    assert await sweeper.sweep(now + timedelta(seconds=1001)) == 1
    # THEN the transcript failed with the reason, the video is partial, announced once
    document = await world.store.read(video.video_id)
    assert document.status == VideoStatus.PARTIAL
    transcript = document.stages[Stage.TRANSCRIPT]
    assert transcript.status == StageStatus.FAILED
    assert (transcript.error or "").startswith("timed out after 1000 s")
    assert document.stages[Stage.FRAMES].status == StageStatus.COMPLETE
    assert [e.status for e in world.completed] == [VideoStatus.PARTIAL]
    # AND it left the due index: later sweeps do nothing
    assert await world.store.due_videos(now + timedelta(days=30), 10) == []
    assert await sweeper.sweep(now + timedelta(days=30)) == 0
    assert len(world.completed) == 1


async def test_two_sweepers_at_once_publish_one_completion(world: World) -> None:
    # GIVEN several overdue videos that no stage ever reported on
    videos = [await _created(world, f"uploads/{i}.mp4", (Stage.FRAMES,)) for i in range(5)]
    late = utc_now() + timedelta(days=1)
    # WHEN two sweepers sweep at the same time
    counts = await asyncio.gather(world.sweeper().sweep(late), world.sweeper().sweep(late))
    # THEN every video failed and was announced exactly once
    assert sum(counts) >= 5
    assert sorted(e.video_id for e in world.completed) == sorted(v.video_id for v in videos)
    for video in videos:
        document = await world.store.read(video.video_id)
        assert document.status == VideoStatus.FAILED
    # AND a later sweep finds nothing left
    assert await world.store.due_videos(late + timedelta(days=1), 10) == []


async def test_a_video_finished_normally_is_never_swept(world: World) -> None:
    # GIVEN a video that completed through its messages
    video = await _created(world, "uploads/fine.mp4", (Stage.FRAMES,))
    now = utc_now()
    await world.store.finish_stage(
        video.video_id,
        Stage.FRAMES,
        StageStatus.COMPLETE,
        started_at=now,
        finished_at=now,
        backend="test",
    )
    assert await world.completion.complete_if_due(video.video_id) is not None
    # WHEN sweeps run long after its deadline
    assert await world.sweeper().sweep(now + timedelta(days=1)) == 0
    # THEN it is not in the due index and its document is untouched
    assert await world.store.due_videos(now + timedelta(days=1), 10) == []
    document = await world.store.read(video.video_id)
    assert document.status == VideoStatus.COMPLETE
    assert len(world.completed) == 1


async def test_an_abandoned_completion_is_finished(world: World) -> None:
    # GIVEN a video with a final status whose completion was claimed by a worker that died
    video = await _created(world, "uploads/abandoned.mp4", (Stage.FRAMES,))
    now = utc_now()
    await world.store.finish_stage(
        video.video_id,
        Stage.FRAMES,
        StageStatus.FAILED,
        started_at=None,
        finished_at=now,
        backend=None,
        error="broken",
    )
    await world.store.finalize(video.video_id)
    assert await world.store.claim_completion(video.video_id, timedelta(0))
    # WHEN the sweep runs within the grace period THEN it waits for the publisher
    assert await world.sweeper().sweep(now + GRACE / 2) == 0
    assert world.completed == []
    # WHEN the grace period passed THEN the sweep publishes the completion, once
    await world.sweeper().sweep(now + GRACE * 2)
    await world.sweeper().sweep(now + GRACE * 3)
    assert [e.status for e in world.completed] == [VideoStatus.FAILED]


async def test_the_sweep_loop_stops_promptly(world: World) -> None:
    # GIVEN a sweeper looping every hour
    stop = asyncio.Event()
    task = asyncio.create_task(world.sweeper().run(stop, interval_s=3600))
    await asyncio.sleep(0.05)
    # WHEN stop is set THEN the loop returns at once
    began = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, timeout=2)
    assert time.monotonic() - began < 1


async def test_the_sweep_loop_sweeps_and_survives_a_failing_sweep(world: World) -> None:
    # GIVEN a store whose due index fails once, and an overdue video
    video = await _created(world, "uploads/loop.mp4", (Stage.FRAMES,))
    await world.store.reschedule(video.video_id, utc_now() - timedelta(days=1))
    policy = DeadlinePolicy(base_s=0, per_video_s=0)
    sweeper = DeadlineSweeper(world.store, world.completion, policy, grace=GRACE)
    calls = 0
    due_videos = world.store.due_videos

    async def flaky(until: datetime, limit: int) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("endpoint down")
        return await due_videos(until, limit)

    world.store.due_videos = flaky  # type: ignore[method-assign]
    stop = asyncio.Event()
    # WHEN the loop runs at a short interval
    task = asyncio.create_task(sweeper.run(stop, interval_s=0.01))
    for _ in range(200):
        if world.completed:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, timeout=2)
    # THEN after the failed sweep the next one timed the video out
    assert calls >= 2
    assert [e.video_id for e in world.completed] == [video.video_id]

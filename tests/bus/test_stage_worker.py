"""The stage-worker shape on the emulator: outputs and StageFailed published on the stage's topic,
the give-up rule on the queue's last delivery, and the consumer handing it the receive limit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import pytest
from pydantic import BaseModel

from tests.support.taps import tap
from tests.support.waiting import receive_all
from videosense_shared.aws import AwsClients
from videosense_shared.bus import (
    Attempt,
    Consumer,
    Delivery,
    PoisonMessage,
    Publisher,
    RetryableError,
    StageError,
    StageWorker,
)
from videosense_shared.bus.stage_worker import CRASHED
from videosense_shared.ids import message_id_for, trace_id_for, video_id_for
from videosense_shared.messages import (
    MediaFacts,
    SourceRef,
    Stage,
    StageFailed,
    Transcript,
    TranscriptReady,
    VideoIngested,
    parse_message,
    utc_now,
)
from videosense_shared.settings import CommonSettings, ConsumerSettings
from videosense_shared.topology import TRANSCRIPT_READY

pytestmark = pytest.mark.integration


@dataclass
class Script:
    """The stage's own work, scripted: what each call does, and the attempts it saw."""

    outcomes: list[Exception | None]
    attempts: list[Attempt] = field(default_factory=list)

    async def __call__(self, message: VideoIngested, attempt: Attempt) -> Sequence[BaseModel]:
        self.attempts.append(attempt)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        now = utc_now()
        return [
            TranscriptReady(
                message_id=message_id_for(message.message_id, "TranscriptReady"),
                video_id=message.video_id,
                trace_id=message.trace_id,
                backend="scripted",
                transcript=Transcript(language="en", text="hello"),
                started_at=now,
                finished_at=now,
            )
        ]


@dataclass
class World:
    aws: AwsClients
    common: CommonSettings
    tap: str

    def worker(self, script: Script) -> StageWorker[VideoIngested]:
        return StageWorker(
            stage=Stage.TRANSCRIPT,
            topic=TRANSCRIPT_READY,
            input_type=VideoIngested,
            publisher=Publisher(self.aws.sns, self.aws.sts, self.common),
            process=script,
            backend="scripted",
        )

    async def published(self) -> list[object]:
        return [
            parse_message(raw["Body"])
            for raw in await receive_all(self.aws.sqs, self.tap, settle_s=0.5)
        ]


@pytest.fixture
async def world(aws_env: dict[str, str]) -> AsyncIterator[World]:
    common = CommonSettings()
    async with AwsClients(common.region) as aws:
        topic_arn = (await aws.sns.create_topic(Name=common.topic_name(TRANSCRIPT_READY)))[
            "TopicArn"
        ]
        yield World(aws, common, await tap(aws, common, topic_arn, "tap"))


def _video(stages: tuple[Stage, ...] = (Stage.FRAMES, Stage.TRANSCRIPT)) -> VideoIngested:
    video_id = video_id_for("videosense-media", "uploads/talk.mp4", "etag")
    return VideoIngested(
        message_id=message_id_for(video_id, "VideoIngested"),
        video_id=video_id,
        trace_id=trace_id_for(video_id),
        source=SourceRef(
            bucket="videosense-media", key="uploads/talk.mp4", etag="etag", size_bytes=1
        ),
        media=MediaFacts(
            duration_s=2.0,
            fps=25,
            width=16,
            height=16,
            frame_count=50,
            video_codec="h264",
            has_audio=True,
        ),
        stages=stages,
    )


def _delivery(
    message: VideoIngested, receive_count: int = 1, max_receives: int | None = 4
) -> Delivery:
    return Delivery(
        body=message.model_dump_json(),
        attributes={},
        sqs_message_id="sqs-1",
        receive_count=receive_count,
        max_receives=max_receives,
    )


async def test_outputs_are_published_on_the_stage_topic(world: World) -> None:
    # GIVEN a stage whose work succeeds
    script = Script([])
    # WHEN it handles a video that requested it
    await world.worker(script).handle(_delivery(_video(), receive_count=2))
    # THEN its output is published, and the work saw which delivery it was
    (ready,) = await world.published()
    assert isinstance(ready, TranscriptReady)
    assert script.attempts == [Attempt(2, 4)]
    assert script.attempts[0].left == 1


async def test_a_stage_error_becomes_stage_failed_with_the_reason(world: World) -> None:
    # GIVEN a stage that cannot do this video, and one that has nothing to do
    failing = world.worker(Script([StageError("the codec is unsupported")]))
    skipping = world.worker(Script([StageError("no audio", skipped=True)]))
    # WHEN each handles a video
    await failing.handle(_delivery(_video()))
    await skipping.handle(_delivery(_video()))
    # THEN each publishes StageFailed with its reason, the skip marked as such
    published = await world.published()
    assert {(m.error, m.skipped) for m in published if isinstance(m, StageFailed)} == {
        ("the codec is unsupported", False),
        ("no audio", True),
    }
    assert all(isinstance(m, StageFailed) and m.stage == Stage.TRANSCRIPT for m in published)


async def test_a_video_without_the_stage_is_skipped_without_work(world: World) -> None:
    # GIVEN a video that did not request the stage
    script = Script([])
    # WHEN the stage handles it
    await world.worker(script).handle(_delivery(_video(stages=(Stage.FRAMES,))))
    # THEN nothing ran and nothing was published
    assert script.attempts == []
    assert await world.published() == []


async def test_an_invalid_body_is_poison(world: World) -> None:
    # GIVEN a body that is not the stage's input
    delivery = Delivery(body="{not json", attributes={}, sqs_message_id="x", receive_count=1)
    # WHEN / THEN the worker refuses it as poison, with a reason
    with pytest.raises(PoisonMessage):
        await world.worker(Script([])).handle(delivery)


async def test_the_last_delivery_gives_up_with_the_last_error_without_working(
    world: World,
) -> None:
    # GIVEN a stage that keeps failing transiently, on a queue allowing three deliveries
    script = Script([RetryableError("throttled"), RuntimeError("model server said 503")])
    worker = world.worker(script)
    message = _video()
    for receive in (1, 2):
        with pytest.raises((RetryableError, RuntimeError)):
            await worker.handle(_delivery(message, receive, max_receives=3))
    # WHEN the last delivery comes
    await worker.handle(_delivery(message, 3, max_receives=3))
    # THEN the work did not run again and the stage failed, saying what kept failing
    assert len(script.attempts) == 2
    (failed,) = await world.published()
    assert isinstance(failed, StageFailed)
    assert failed.error == "gave up after 2 deliveries: model server said 503"
    assert failed.message_id == message_id_for(_video().message_id, "StageFailed", "transcript")


async def test_after_a_crash_the_last_delivery_says_the_worker_died(world: World) -> None:
    # GIVEN a fresh worker (the ones that saw the message died with it)
    script = Script([])
    # WHEN it receives the message on the last delivery the queue allows
    await world.worker(script).handle(_delivery(_video(), 5, max_receives=5))
    # THEN it gives up without running the work, saying the worker stopped
    assert script.attempts == []
    (failed,) = await world.published()
    assert isinstance(failed, StageFailed)
    assert failed.error == f"gave up after 4 deliveries: {CRASHED}"


async def test_the_consumer_gives_the_queue_limit_and_the_stage_gives_up_before_the_dlq(
    world: World,
) -> None:
    # GIVEN a queue whose redrive policy allows 3 receives, and a stage that always fails
    sqs = world.aws.sqs
    dlq = (await sqs.create_queue(QueueName="stage-dlq"))["QueueUrl"]
    dlq_arn = (await sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"]))[
        "Attributes"
    ]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
    url = (
        await sqs.create_queue(
            QueueName="stage", Attributes={"RedrivePolicy": policy, "VisibilityTimeout": "5"}
        )
    )["QueueUrl"]
    script = Script([RuntimeError("decoder exploded")] * 10)
    settings = ConsumerSettings(
        concurrency=1, wait_time_s=1, visibility_timeout_s=5, max_retry_delay_s=0
    )
    consumer = Consumer(sqs, url, world.worker(script).handle, settings, name="stage")
    await sqs.send_message(QueueUrl=url, MessageBody=_video().model_dump_json())
    # WHEN the consumer runs until the stage's outcome is published
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        published = await _wait_for_one(world)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    # THEN the work ran twice, knowing the limit, and the third delivery gave up with the reason
    assert [(a.number, a.max_deliveries) for a in script.attempts] == [(1, 3), (2, 3)]
    assert isinstance(published, StageFailed)
    assert published.error == "gave up after 2 deliveries: decoder exploded"
    # AND the message left the queue without reaching the dead-letter queue
    for queue in (url, dlq):
        attrs = await sqs.get_queue_attributes(
            QueueUrl=queue,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        assert set(attrs["Attributes"].values()) == {"0"}


async def _wait_for_one(world: World, timeout_s: float = 30.0) -> object:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        found = await world.published()
        if found:
            (only,) = found
            return only
    pytest.fail("the stage published nothing")

"""The bus against a real AWS emulator (moto or LocalStack): SNS -> SQS -> consumer -> DLQ.

Every test waits on events or polls with a deadline; none uses a fixed sleep to synchronise.
Visibility timeouts are the smallest ConsumerSettings accepts (5 s), so the slowest tests (the
heartbeat and the crash) take a few seconds each by nature.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from pydantic import TypeAdapter

from tests.support.video_messages import video_ingested
from videosense_shared.aws import AwsClients
from videosense_shared.bus import (
    ERROR_ATTRIBUTE,
    Consumer,
    Delivery,
    PoisonMessage,
    Publisher,
    RetryableError,
    parse_typed,
    queue_url,
)
from videosense_shared.messages import (
    AnyMessage,
    VideoIngested,
)
from videosense_shared.settings import CommonSettings, ConsumerSettings

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.literals import QueueAttributeNameType

pytestmark = pytest.mark.integration

REGION = "us-east-1"
ANY_MESSAGE: TypeAdapter[AnyMessage] = TypeAdapter(AnyMessage)
VISIBILITY_S = 5  # the minimum ConsumerSettings allows


# ----------------------------------------------------------------------------------- emulator


@pytest.fixture
def _bus_aws_env(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    # The session's emulator (tests/conftest.py); names carry a fresh per-test prefix, so tests
    # never see each other's queues.
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return aws_env["AWS_ENDPOINT_URL"]


@pytest.fixture
async def aws(_bus_aws_env: str) -> AsyncIterator[AwsClients]:
    async with AwsClients(REGION) as clients:
        yield clients


@pytest.fixture
def common(_bus_aws_env: str) -> CommonSettings:
    return CommonSettings()


# ------------------------------------------------------------------------------------ helpers


@dataclass(frozen=True)
class QueuePair:
    """A work queue and its dead-letter queue."""

    url: str
    arn: str
    dlq_url: str


async def make_queue(
    sqs: SQSClient, common: CommonSettings, logical: str, *, max_receive_count: int | None = 3
) -> QueuePair:
    """Create ``logical``'s queue, with a DLQ and redrive policy unless ``max_receive_count``."""
    dlq_url = (await sqs.create_queue(QueueName=common.queue_name(f"{logical}-dlq")))["QueueUrl"]
    dlq_arn = await _arn(sqs, dlq_url)
    attributes: dict[QueueAttributeNameType, str] = {"VisibilityTimeout": "30"}
    if max_receive_count is not None:
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
        )
    url = (await sqs.create_queue(QueueName=common.queue_name(logical), Attributes=attributes))[
        "QueueUrl"
    ]
    return QueuePair(url=url, arn=await _arn(sqs, url), dlq_url=dlq_url)


async def _arn(sqs: SQSClient, url: str) -> str:
    response = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return response["Attributes"]["QueueArn"]


async def queue_depth(sqs: SQSClient, url: str) -> int:
    """Messages in the queue, visible or in flight."""
    response = await sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    attributes = response["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool],
    *,
    within: float,
    what: str,
    every: float = 0.05,
) -> None:
    """Poll ``check`` until it is true; fail the test if ``within`` seconds pass first."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within}s waiting for: {what}")
        await asyncio.sleep(every)


async def holds_for(check: Callable[[], bool], *, seconds: float, what: str) -> None:
    """Assert that ``check`` stays true for ``seconds`` (sampled every 50 ms)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert check(), f"stopped holding: {what}"
        await asyncio.sleep(0.05)
    assert check(), f"stopped holding: {what}"


def settings(**overrides: Any) -> ConsumerSettings:
    values: dict[str, Any] = {
        "concurrency": 2,
        "batch_size": 10,
        "wait_time_s": 1,  # short polls keep abandoned server-side polls from stealing messages
        "visibility_timeout_s": VISIBILITY_S,
        "max_retry_delay_s": 1,
        "drain_timeout_s": 10.0,
    }
    values.update(overrides)
    return ConsumerSettings(**values)


@asynccontextmanager
async def running(consumer: Consumer) -> AsyncIterator[tuple[asyncio.Event, asyncio.Task[None]]]:
    """Run ``consumer`` in a task; stop it gracefully (and check it returns) on exit."""
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield stop, task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def send(sqs: SQSClient, url: str, message: VideoIngested) -> None:
    """Put a message on a queue directly, attributes as the publisher sets them."""
    await sqs.send_message(
        QueueUrl=url,
        MessageBody=message.model_dump_json(),
        MessageAttributes={
            "video_id": {"DataType": "String", "StringValue": message.video_id},
            "trace_id": {"DataType": "String", "StringValue": message.trace_id},
        },
    )


# -------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("raw", [True, False], ids=["raw-delivery", "sns-envelope"])
async def test_published_message_reaches_the_handler_typed_with_attributes(
    aws: AwsClients, common: CommonSettings, raw: bool
) -> None:
    # GIVEN a topic with a subscribed queue (raw delivery, or the plain SNS envelope)
    topic_arn = (await aws.sns.create_topic(Name=common.topic_name("video-ingested")))["TopicArn"]
    queue = await make_queue(aws.sqs, common, "frame-extractor")
    await aws.sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue.arn,
        Attributes={"RawMessageDelivery": "true" if raw else "false"},
    )
    publisher = Publisher(aws.sns, aws.sts, common)
    received: list[tuple[AnyMessage, Delivery]] = []

    async def handler(delivery: Delivery) -> None:
        received.append((parse_typed(delivery, ANY_MESSAGE), delivery))

    url = await queue_url(aws.sqs, common, "frame-extractor")
    assert url == queue.url
    consumer = Consumer(aws.sqs, url, handler, settings(), name="frame-extractor")
    sent = video_ingested()

    with_context = [structlog.contextvars.merge_contextvars]
    with structlog.testing.capture_logs(processors=with_context) as logs:
        async with running(consumer):
            # WHEN a message is published by its logical topic name
            await publisher.publish("video-ingested", sent)

            # THEN the handler gets it, typed, with the identifying attributes, and it is deleted
            await eventually(lambda: bool(received), within=10, what="handler called")
            await eventually(
                lambda: _is_zero(queue_depth(aws.sqs, queue.url)), within=10, what="deleted"
            )

    assert await publisher.topic_arn("video-ingested") == topic_arn
    message, delivery = received[0]
    assert message == sent
    assert delivery.receive_count == 1
    assert delivery.attributes == {
        "type": "VideoIngested",
        "video_id": sent.video_id,
        "trace_id": sent.trace_id,
        "message_id": sent.message_id,
    }
    handled = [e for e in logs if e["event"] == "message handled"]
    assert handled, logs
    assert handled[0]["video_id"] == sent.video_id
    assert handled[0]["trace_id"] == sent.trace_id
    assert handled[0]["message_id"] == sent.message_id
    assert handled[0]["consumer"] == "frame-extractor"


async def _is_zero(depth: Awaitable[int]) -> bool:
    return await depth == 0


@pytest.mark.parametrize(
    ("body", "reason_fragment"),
    [
        pytest.param("{this is not json", "Invalid JSON", id="malformed-json"),
        pytest.param(
            video_ingested().model_dump_json()[:-1] + ', "surprise": true}',
            "surprise: Extra inputs are not permitted",
            id="unknown-field",
        ),
    ],
)
async def test_poison_goes_to_the_dlq_at_once_with_its_reason(
    aws: AwsClients, common: CommonSettings, body: str, reason_fragment: str
) -> None:
    # GIVEN a queue whose redrive would allow 3 attempts
    queue = await make_queue(aws.sqs, common, "captioner", max_receive_count=3)
    calls: list[Delivery] = []

    async def handler(delivery: Delivery) -> None:
        calls.append(delivery)
        parse_typed(delivery, ANY_MESSAGE)

    # WHEN a message that can never validate arrives
    await aws.sqs.send_message(
        QueueUrl=queue.url,
        MessageBody=body,
        MessageAttributes={"video_id": {"DataType": "String", "StringValue": "v-poison"}},
    )
    async with running(Consumer(aws.sqs, queue.url, handler, settings(), name="captioner")):
        dead = await _receive_one(aws.sqs, queue.dlq_url, within=10)

    # THEN it is in the DLQ after one attempt, body and attributes intact, with the reason
    assert len(calls) == 1
    assert dead["Body"] == body
    attributes = dead["MessageAttributes"]
    assert attributes["video_id"]["StringValue"] == "v-poison"
    assert reason_fragment in attributes[ERROR_ATTRIBUTE]["StringValue"]
    # ... and gone from the source queue: it will not be retried
    assert await queue_depth(aws.sqs, queue.url) == 0


async def _receive_one(sqs: SQSClient, url: str, *, within: float) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        response = await sqs.receive_message(
            QueueUrl=url,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
            AttributeNames=["ApproximateReceiveCount"],
        )
        if response.get("Messages"):
            return response["Messages"][0]
    pytest.fail(f"no message on {url} within {within}s")


async def test_poison_without_a_dlq_is_parked_not_lost(
    aws: AwsClients, common: CommonSettings
) -> None:
    # GIVEN a queue with no redrive policy
    queue = await make_queue(aws.sqs, common, "recognizer", max_receive_count=None)
    calls: list[Delivery] = []

    async def handler(delivery: Delivery) -> None:
        calls.append(delivery)
        raise PoisonMessage("bad")

    await aws.sqs.send_message(QueueUrl=queue.url, MessageBody="{}")
    with structlog.testing.capture_logs() as logs:
        async with running(
            Consumer(aws.sqs, queue.url, handler, settings(max_retry_delay_s=60), name="r")
        ):
            await eventually(
                lambda: any("no dead-letter queue" in e["event"] for e in logs),
                within=10,
                what="misconfiguration logged",
            )
    # THEN the message is still there, invisible for max_retry_delay_s, not deleted
    assert len(calls) == 1
    assert await queue_depth(aws.sqs, queue.url) == 1


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(RetryableError("dependency not ready"), id="retryable-error"),
        pytest.param(ValueError("unexpected bug"), id="any-other-exception"),
    ],
)
async def test_transient_failure_comes_back_after_backoff_and_then_succeeds(
    aws: AwsClients, common: CommonSettings, failure: Exception
) -> None:
    # GIVEN a handler that fails on the first receive only
    queue = await make_queue(aws.sqs, common, "transcriber")
    attempts: list[tuple[int, float]] = []

    async def handler(delivery: Delivery) -> None:
        attempts.append((delivery.receive_count, time.monotonic()))
        if delivery.receive_count == 1:
            raise failure

    await send(aws.sqs, queue.url, video_ingested())
    consumer = Consumer(
        aws.sqs, queue.url, handler, settings(max_retry_delay_s=1), name="transcriber"
    )
    with structlog.testing.capture_logs() as logs:
        async with running(consumer):
            # WHEN it runs
            await eventually(lambda: len(attempts) >= 2, within=10, what="second attempt")
            await eventually(
                lambda: _is_zero(queue_depth(aws.sqs, queue.url)), within=10, what="deleted"
            )

    # THEN the message came back on a later receive, sooner than its visibility timeout (the
    # backoff, at most 1 s here, replaced the 5 s window), and the consumer survived the error
    assert [count for count, _ in attempts] == [1, 2]
    assert attempts[1][1] - attempts[0][1] < VISIBILITY_S
    retried = [e for e in logs if e["event"] == "message will be retried"]
    assert retried
    assert retried[0]["retry_in_s"] <= 1
    if not isinstance(failure, RetryableError):
        # unexpected exceptions are logged with their traceback
        assert any(e.get("exc_info") for e in logs if "unexpectedly" in e["event"])


async def test_persistent_transient_failure_is_redriven_to_the_dlq_by_sqs(
    aws: AwsClients, common: CommonSettings
) -> None:
    # GIVEN maxReceiveCount=3 and a handler that always hits a transient failure
    queue = await make_queue(aws.sqs, common, "aggregator", max_receive_count=3)
    counts: list[int] = []

    async def handler(delivery: Delivery) -> None:
        counts.append(delivery.receive_count)
        raise RetryableError("still throttled")

    await send(aws.sqs, queue.url, video_ingested())
    async with running(
        Consumer(aws.sqs, queue.url, handler, settings(max_retry_delay_s=0), name="aggregator")
    ):
        dead = await _receive_one(aws.sqs, queue.dlq_url, within=15)

    # THEN SQS redrive (not the consumer) moved it after three attempts, without a reason tag
    assert counts == [1, 2, 3]
    assert ERROR_ATTRIBUTE not in dead.get("MessageAttributes", {})
    assert await queue_depth(aws.sqs, queue.url) == 0


async def test_heartbeat_keeps_a_slow_message_from_a_second_consumer(
    aws: AwsClients, common: CommonSettings
) -> None:
    # GIVEN two consumers on one queue; the first one's handler outlasts the visibility timeout
    queue = await make_queue(aws.sqs, common, "captioner")
    started = asyncio.Event()
    release = asyncio.Event()
    slow_calls: list[Delivery] = []
    other_calls: list[Delivery] = []

    async def slow(delivery: Delivery) -> None:
        slow_calls.append(delivery)
        started.set()
        await release.wait()

    async def other(delivery: Delivery) -> None:
        other_calls.append(delivery)

    async with running(Consumer(aws.sqs, queue.url, slow, settings(), name="slow")):
        await send(aws.sqs, queue.url, video_ingested())
        await asyncio.wait_for(started.wait(), timeout=10)
        async with running(Consumer(aws.sqs, queue.url, other, settings(), name="other")):
            # WHEN well over one visibility timeout passes while the handler works
            await holds_for(
                lambda: not other_calls,
                seconds=VISIBILITY_S * 1.8,
                what="the second consumer never gets the in-flight message",
            )
            release.set()
            await eventually(
                lambda: _is_zero(queue_depth(aws.sqs, queue.url)), within=10, what="deleted"
            )

    # THEN the first consumer finished it, once, and nobody else saw it
    assert len(slow_calls) == 1
    assert other_calls == []


async def test_stop_drains_an_in_flight_handler_then_deletes_its_message(
    aws: AwsClients, common: CommonSettings
) -> None:
    queue = await make_queue(aws.sqs, common, "ingest")
    started = asyncio.Event()
    release = asyncio.Event()
    finished: list[str] = []

    async def handler(delivery: Delivery) -> None:
        started.set()
        await release.wait()
        finished.append(delivery.sqs_message_id)

    await send(aws.sqs, queue.url, video_ingested())
    stop = asyncio.Event()
    consumer = Consumer(aws.sqs, queue.url, handler, settings(drain_timeout_s=20), name="ingest")
    task = asyncio.create_task(consumer.run(stop))
    await asyncio.wait_for(started.wait(), timeout=10)

    # WHEN stop is set while the handler is still working
    stop.set()
    await holds_for(lambda: not task.done(), seconds=0.5, what="run() waits for the handler")
    release.set()

    # THEN run() returns once the handler finished, and the message was deleted
    await asyncio.wait_for(task, timeout=10)
    assert len(finished) == 1
    assert consumer.in_flight == 0
    assert await queue_depth(aws.sqs, queue.url) == 0


async def test_stop_cancels_the_long_poll_at_once(aws: AwsClients, common: CommonSettings) -> None:
    # GIVEN an idle consumer in a 20 s long poll
    queue = await make_queue(aws.sqs, common, "ingest")

    async def handler(delivery: Delivery) -> None:
        raise AssertionError("no message was sent")

    with structlog.testing.capture_logs() as logs:
        stop = asyncio.Event()
        task = asyncio.create_task(
            Consumer(aws.sqs, queue.url, handler, settings(wait_time_s=20), name="idle").run(stop)
        )
        await eventually(
            lambda: any(e["event"] == "consumer started" for e in logs), within=5, what="started"
        )
        # WHEN stop is set, THEN run() returns long before the poll would have ended
        begun = time.monotonic()
        stop.set()
        await asyncio.wait_for(task, timeout=5)
    assert time.monotonic() - begun < 3


async def test_drain_timeout_cancels_the_handler_and_releases_the_message(
    aws: AwsClients, common: CommonSettings
) -> None:
    # GIVEN a long visibility timeout and a handler that never finishes on its own
    queue = await make_queue(aws.sqs, common, "recognizer")
    started = asyncio.Event()
    cancelled: list[bool] = []

    async def stuck(delivery: Delivery) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    await send(aws.sqs, queue.url, video_ingested())
    stop = asyncio.Event()
    first = Consumer(
        aws.sqs,
        queue.url,
        stuck,
        # concurrency 1: no long poll of its own is open, so nothing can snap up the released
        # message between the release and the second consumer's poll
        settings(concurrency=1, visibility_timeout_s=60, drain_timeout_s=0.5),
        name="first",
    )
    task = asyncio.create_task(first.run(stop))
    await asyncio.wait_for(started.wait(), timeout=10)

    # WHEN stop is set and the drain timeout passes
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    assert cancelled == [True]

    # THEN another consumer gets the message right away, not 60 s later
    counts: list[int] = []

    async def completes(delivery: Delivery) -> None:
        counts.append(delivery.receive_count)

    async with running(Consumer(aws.sqs, queue.url, completes, settings(), name="second")):
        await eventually(lambda: bool(counts), within=10, what="released message redelivered")
        await eventually(
            lambda: _is_zero(queue_depth(aws.sqs, queue.url)), within=10, what="deleted"
        )
    assert counts == [2]


@pytest.mark.usefixtures("_bus_aws_env")
async def test_crashed_consumer_message_is_redelivered_after_visibility_timeout(
    common: CommonSettings,
) -> None:
    # GIVEN a consumer, with its own clients, stuck in a handler
    async with AwsClients(REGION) as setup:
        queue = await make_queue(setup.sqs, common, "frame-extractor")
        await send(setup.sqs, queue.url, video_ingested())

    started = asyncio.Event()
    received_at: list[float] = []

    async def stuck(delivery: Delivery) -> None:
        received_at.append(time.monotonic())
        started.set()
        await asyncio.Event().wait()

    async with AwsClients(REGION) as doomed:
        crashed = asyncio.create_task(
            Consumer(doomed.sqs, queue.url, stuck, settings(concurrency=1), name="doomed").run(
                asyncio.Event()
            )
        )
        await asyncio.wait_for(started.wait(), timeout=10)
        # WHEN it dies abruptly: its task is cancelled and its connections closed, so it
        # neither deletes nor releases the message
        crashed.cancel()
        with pytest.raises(asyncio.CancelledError):
            await crashed

    # THEN a fresh consumer gets the message once the visibility timeout ran out, and completes it
    redelivered: list[tuple[int, float]] = []

    async def completes(delivery: Delivery) -> None:
        redelivered.append((delivery.receive_count, time.monotonic()))

    async with (
        AwsClients(REGION) as fresh,
        running(Consumer(fresh.sqs, queue.url, completes, settings(), name="fresh")),
    ):
        await eventually(lambda: bool(redelivered), within=VISIBILITY_S + 10, what="redelivery")
        await eventually(
            lambda: _is_zero(queue_depth(fresh.sqs, queue.url)), within=10, what="deleted"
        )
    count, at = redelivered[0]
    assert count == 2
    # not released early: it stayed invisible for (about) the whole visibility timeout
    assert at - received_at[0] >= VISIBILITY_S - 1


async def test_receive_errors_are_logged_and_the_loop_keeps_going(
    aws: AwsClients, common: CommonSettings
) -> None:
    # GIVEN a consumer started before its queue exists (receive fails: QueueDoesNotExist)
    existing = await make_queue(aws.sqs, common, "elsewhere")
    late_name = common.queue_name("late")
    late_url = existing.url.rsplit("/", 1)[0] + "/" + late_name
    handled: list[Delivery] = []

    async def handler(delivery: Delivery) -> None:
        handled.append(delivery)

    with structlog.testing.capture_logs() as logs:
        async with running(Consumer(aws.sqs, late_url, handler, settings(), name="late")):
            await eventually(
                lambda: any(e["event"] == "receive failed; retrying" for e in logs),
                within=10,
                what="receive failure logged",
            )
            # WHEN the queue appears and gets a message
            created = (await aws.sqs.create_queue(QueueName=late_name))["QueueUrl"]
            assert created == late_url
            await send(aws.sqs, late_url, video_ingested())
            # THEN the same loop handles it
            await eventually(lambda: bool(handled), within=15, what="handled after recovery")


async def test_publish_to_an_unreachable_endpoint_is_retryable(common: CommonSettings) -> None:
    # GIVEN clients pointing at a port nobody listens on (botocore retries turned down)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}"
    config = AioConfig(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=2)
    session = get_session()
    async with (
        session.create_client(
            "sns", region_name=REGION, endpoint_url=dead_endpoint, config=config
        ) as sns,
        session.create_client(
            "sts", region_name=REGION, endpoint_url=dead_endpoint, config=config
        ) as sts,
    ):
        publisher = Publisher(sns, sts, common)
        # WHEN publishing THEN the failure is reported as transient, so the input is retried
        with pytest.raises(RetryableError, match="GetCallerIdentity"):
            await publisher.publish("video-ingested", video_ingested())


async def test_publish_to_a_missing_topic_is_not_retryable(
    aws: AwsClients, common: CommonSettings
) -> None:
    # GIVEN no topic at all: retrying cannot help, so the AWS error itself propagates
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        await Publisher(aws.sns, aws.sts, common).publish("video-ingested", video_ingested())
    assert not isinstance(caught.value, RetryableError)

"""``videosense dlq list|show|redrive`` on a provisioned topology in the AWS emulator.

Messages reach the dead-letter queues the way they do in production: a real consumer meets a
poison message and dead-letters it with its reason, or the consumer's own ``DeadLetterQueue``
helper sends one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from pydantic import TypeAdapter

from ingest.notifications import parse_s3_notification
from tests.support.command_line import cli
from tests.support.video_messages import video_ingested
from tests.support.waiting import eventually, receive_all
from videosense.commands.dlq import list_depths, move_back, show
from videosense.dead_letter_queues import dead_letter_queues, resolve
from videosense.redrive import REDRIVE_ATTRIBUTE, is_unsupported, redrive
from videosense_shared.aws import AwsClients
from videosense_shared.bus import ERROR_ATTRIBUTE, Consumer, Delivery, PoisonMessage, parse_typed
from videosense_shared.bus.dead_letter import DeadLetterQueue
from videosense_shared.ids import video_id_for
from videosense_shared.messages import AnyMessage, VideoIngested
from videosense_shared.provision import Provisioned, provision
from videosense_shared.settings import CommonSettings, ConsumerSettings
from videosense_shared.topology import TOPOLOGY

if TYPE_CHECKING:
    from types_aiobotocore_sqs.type_defs import MessageAttributeValueOutputTypeDef

pytestmark = pytest.mark.integration

ANY_MESSAGE: TypeAdapter[AnyMessage] = TypeAdapter(AnyMessage)
Attributes = dict[str, "MessageAttributeValueOutputTypeDef"]


@pytest.fixture
async def aws(aws_env: dict[str, str]) -> AsyncIterator[AwsClients]:
    async with AwsClients(aws_env["AWS_REGION"]) as clients:
        yield clients


@pytest.fixture
def common(aws_env: dict[str, str]) -> CommonSettings:
    return CommonSettings()


@pytest.fixture
async def provisioned(aws: AwsClients, common: CommonSettings) -> Provisioned:
    return await provision(aws, common)


def published_attributes(message: VideoIngested) -> Attributes:
    """The attributes the publisher puts on a message (raw SNS delivery keeps them)."""
    return {
        "type": {"DataType": "String", "StringValue": message.type},
        "video_id": {"DataType": "String", "StringValue": message.video_id},
        "trace_id": {"DataType": "String", "StringValue": message.trace_id},
    }


async def depth(aws: AwsClients, url: str) -> tuple[int, int]:
    """(visible, in flight) of a queue."""
    response = await aws.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    attributes = response["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


async def consume_until_dead_lettered(
    aws: AwsClients,
    provisioned: Provisioned,
    queue: str,
    handler: Callable[[Delivery], Awaitable[None]],
    count: int,
) -> None:
    """Run a real consumer with ``handler`` on ``queue`` until its DLQ holds ``count``."""
    settings = ConsumerSettings(
        concurrency=2, wait_time_s=1, visibility_timeout_s=5, max_retry_delay_s=1
    )
    consumer = Consumer(aws.sqs, provisioned.queue_urls[queue], handler, settings, name=queue)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    dlq_url = provisioned.queue_urls[f"{queue}-dlq"]
    try:

        async def dead_lettered() -> bool:
            return (await depth(aws, dlq_url))[0] >= count

        await eventually(dead_lettered, timeout_s=20, what=f"{count} message(s) in {queue}-dlq")
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def parse_contract(delivery: Delivery) -> None:
    """A stage's first step: a message that is no valid contract message is poison."""
    parse_typed(delivery, ANY_MESSAGE)


# -------------------------------------------------------------------------------------- list


async def test_list_counts_the_messages_of_every_dead_letter_queue(
    aws: AwsClients,
    common: CommonSettings,
    provisioned: Provisioned,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN one message the captioner's consumer dead-lettered, and two in the recognizer's DLQ
    await aws.sqs.send_message(
        QueueUrl=provisioned.queue_urls["captioner"], MessageBody="{not json"
    )
    await consume_until_dead_lettered(aws, provisioned, "captioner", parse_contract, 1)
    recognizer_dlq = DeadLetterQueue(aws.sqs, provisioned.queue_urls["recognizer"])
    for n in range(2):
        await recognizer_dlq.send({"Body": f"poison {n}"}, "bad keyframe list")

    # WHEN every dead-letter queue is listed
    depths = await list_depths(common, dead_letter_queues(common))

    # THEN there is one line per queue of the topology, with its count and nothing in flight
    counts = {d.queue.source: (d.visible, d.in_flight) for d in depths}
    assert counts == {
        **{queue.name: (0, 0) for queue in TOPOLOGY.queues},
        "captioner": (1, 0),
        "recognizer": (2, 0),
    }
    assert [d.queue.name for d in depths][3] == f"{common.prefix}-captioner-dlq"

    # AND the command line prints the same, as JSON or for one queue
    code, out, _ = await cli(capsys, "dlq", "list", "--json")
    assert code == 0
    assert {e["queue"]: e["messages"] for e in json.loads(out)}["recognizer"] == 2
    code, out, _ = await cli(capsys, "dlq", "list", "recognizer")
    assert code == 0
    rows = out.splitlines()[1:]
    assert len(rows) == 1
    assert rows[0].split() == ["recognizer", f"{common.prefix}-recognizer-dlq", "2", "0"]


async def test_list_fails_where_the_topology_is_not_provisioned(
    aws_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an endpoint without this prefix's queues
    # WHEN the queues are listed
    code, out, err = await cli(capsys, "dlq", "list")
    # THEN each is reported missing, and the command fails
    assert code == 1
    assert out.count("missing") == len(TOPOLOGY.queues)
    assert "not found at this endpoint" in err


async def test_an_unknown_queue_is_a_usage_error_naming_the_known_ones(
    aws_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await cli(capsys, "dlq", "show", "thumbnails")
    assert code == 2
    assert "unknown queue 'thumbnails'" in err
    assert "captioner" in err
    assert "aggregator" in err


# -------------------------------------------------------------------------------------- show


async def test_show_tells_why_which_video_and_what_and_leaves_the_messages(
    aws: AwsClients,
    common: CommonSettings,
    provisioned: Provisioned,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN two contract messages the frame extractor cannot validate (an unknown field), one
    # with the publisher's attributes, one bare: its video id is only in the body
    with_attributes = video_ingested("uploads/a.mp4")
    bare = video_ingested("uploads/b.mp4")
    bodies = {}
    for message, attributes in (
        (with_attributes, published_attributes(with_attributes)),
        (bare, {}),
    ):
        body = message.model_dump_json()[:-1] + ', "surprise": true}'
        bodies[message.video_id] = body
        await aws.sqs.send_message(
            QueueUrl=provisioned.queue_urls["frame-extractor"],
            MessageBody=body,
            MessageAttributes=attributes,
        )
    before = time.time()
    await consume_until_dead_lettered(aws, provisioned, "frame-extractor", parse_contract, 2)

    # WHEN the dead-letter queue is shown
    letters, unreleased = await show(common, resolve("frame-extractor", common), 10)

    # THEN each message says why it was dead-lettered, for which video, what it is
    assert unreleased == 0
    by_video = {letter.video_ids: letter for letter in letters}
    assert set(by_video) == {(with_attributes.video_id,), (bare.video_id,)}
    for letter in letters:
        assert letter.reason is not None
        assert "surprise: Extra inputs are not permitted" in letter.reason
        assert letter.message_type == "VideoIngested"
        assert letter.receive_count >= 1
        assert letter.sent_at is not None
        assert abs(letter.sent_at.timestamp() - before) < 60
        body = bodies[letter.video_ids[0]]
        assert letter.body_chars == len(body)
        assert letter.body_excerpt.startswith(body[:100])
        assert letter.body_excerpt.endswith("…")
    # AND both are still in the queue, visible again at once
    assert await depth(aws, provisioned.queue_urls["frame-extractor-dlq"]) == (2, 0)

    # AND the command line shows them the same way, and --limit bounds the list
    code, out, err = await cli(capsys, "dlq", "show", "frame-extractor", "--json", "--limit", "1")
    assert code == 0
    [shown] = json.loads(out)
    assert shown["video_ids"][0] in bodies
    assert "left in the queue" in err
    assert await depth(aws, provisioned.queue_urls["frame-extractor-dlq"]) == (2, 0)


async def test_show_displays_a_body_that_is_not_json(
    aws: AwsClients, provisioned: Provisioned, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a body no parser can read, dead-lettered by the captioner's consumer
    body = "{this is\n\tnot json" + "x" * 300
    await aws.sqs.send_message(
        QueueUrl=provisioned.queue_urls["captioner"],
        MessageBody=body,
        MessageAttributes={"video_id": {"DataType": "String", "StringValue": "v-poison"}},
    )
    await consume_until_dead_lettered(aws, provisioned, "captioner", parse_contract, 1)

    # WHEN it is shown, as text
    code, out, _ = await cli(capsys, "dlq", "show", "captioner")

    # THEN it shows on one line with what is known: the reason, the video, no type
    assert code == 0
    fields = dict(line.strip().split(maxsplit=1) for line in out.splitlines()[1:])
    assert "Invalid JSON" in fields["reason"]
    assert fields["video"] == "v-poison"
    assert fields["type"] == "?"
    assert fields["body"].startswith("{this is not jsonxxx")
    assert fields["body"].endswith(f"({len(body)} chars)")


async def test_show_names_the_video_of_a_dead_lettered_upload_notification(
    aws: AwsClients,
    common: CommonSettings,
    provisioned: Provisioned,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN an upload whose S3 notification the ingest consumer dead-lettered
    key = f"{common.uploads_prefix}holiday clip.mp4"
    put = await aws.s3.put_object(Bucket=common.bucket, Key=key, Body=b"not really a video")

    async def ingest(delivery: Delivery) -> None:
        if parse_s3_notification(delivery.body):  # S3's test event announces nothing: done
            raise PoisonMessage("unsupported upload")

    await consume_until_dead_lettered(aws, provisioned, "ingest", ingest, 1)

    # WHEN the ingest DLQ is shown
    code, out, _ = await cli(capsys, "dlq", "show", "ingest", "--json")

    # THEN the video id is the one ingest derives from the notification's object
    assert code == 0
    [letter] = json.loads(out)
    assert letter["video_ids"] == [video_id_for(common.bucket, key, put["ETag"])]
    assert letter["type"] == "S3 notification"
    assert letter["reason"] == "unsupported upload"


# ----------------------------------------------------------------------------------- redrive


async def receive_count(aws: AwsClients, url: str, count: int) -> list[dict[str, Any]]:
    """Receive (and delete) messages until ``count`` came. LocalStack's message-move task moves
    a message with the receive state it had in the dead-letter queue, so one can stay invisible
    on its queue for a while after the task reports it moved (docs/emulators.md)."""
    received: list[dict[str, Any]] = []

    async def all_came() -> bool:
        received.extend(await receive_all(aws.sqs, url, settle_s=0.5))
        return len(received) >= count

    await eventually(all_came, timeout_s=60, what=f"{count} message(s) back on the queue")
    return received


async def test_redrive_puts_every_message_back_on_its_queue_intact(
    aws: AwsClients,
    common: CommonSettings,
    provisioned: Provisioned,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a contract message and a non-JSON one, dead-lettered by the recognizer's consumer
    message = video_ingested()
    bodies = {message.model_dump_json()[:-1] + ', "surprise": 1}', "not json: \u00e9t\u00e9\n body"}
    for body in bodies:
        await aws.sqs.send_message(
            QueueUrl=provisioned.queue_urls["recognizer"],
            MessageBody=body,
            MessageAttributes=published_attributes(message),
        )
    await consume_until_dead_lettered(aws, provisioned, "recognizer", parse_contract, 2)

    # WHEN the recognizer's DLQ is re-driven through the command line
    code, out, err = await cli(capsys, "dlq", "redrive", "recognizer")

    # THEN both are back on the recognizer queue, body and attributes intact, and the DLQ is empty
    assert code == 0, err
    assert out.strip() == (
        f"moved 2 message(s) from {common.prefix}-recognizer-dlq to {common.prefix}-recognizer"
    )
    assert await depth(aws, provisioned.queue_urls["recognizer-dlq"]) == (0, 0)
    back = await receive_count(aws, provisioned.queue_urls["recognizer"], len(bodies))
    assert {m["Body"] for m in back} == bodies
    for moved in back:
        attributes = moved["MessageAttributes"]
        assert attributes["video_id"]["StringValue"] == message.video_id
        assert attributes["type"]["StringValue"] == "VideoIngested"
        if "moved by receive-and-send" in err:  # a message-move task keeps every attribute
            assert ERROR_ATTRIBUTE not in attributes


async def test_redrive_with_max_moves_that_many_one_by_one(
    aws: AwsClients, common: CommonSettings, provisioned: Provisioned
) -> None:
    # GIVEN three messages the aggregator dead-lettered
    aggregator_dlq = DeadLetterQueue(aws.sqs, provisioned.queue_urls["aggregator"])
    message = video_ingested()
    for n in range(3):
        await aggregator_dlq.send(
            {"Body": f"poison {n}", "MessageAttributes": published_attributes(message)},
            f"reason {n}",
        )

    # WHEN at most two are moved back
    result = await move_back(common, resolve("aggregator", common), 2, quiet=True)

    # THEN two are on the aggregator queue without the dead-letter reason, one stays in the DLQ
    assert (result.moved, result.method, result.came_back) == (2, "receive-and-send", 0)
    assert await depth(aws, provisioned.queue_urls["aggregator-dlq"]) == (1, 0)
    back = await receive_all(aws.sqs, provisioned.queue_urls["aggregator"])
    assert len(back) == 2
    assert {m["Body"] for m in back} < {f"poison {n}" for n in range(3)}
    for moved in back:
        attributes = moved["MessageAttributes"]
        assert ERROR_ATTRIBUTE not in attributes
        assert attributes["video_id"]["StringValue"] == message.video_id
        assert attributes[REDRIVE_ATTRIBUTE]["StringValue"]


async def test_redrive_stops_at_a_message_that_failed_again_during_the_run(
    aws: AwsClients, common: CommonSettings, provisioned: Provisioned
) -> None:
    # GIVEN a poison message in the captioner's DLQ, and the captioner's consumer running: it
    # dead-letters the message again as soon as it is moved back
    dlq = DeadLetterQueue(aws.sqs, provisioned.queue_urls["captioner"])
    await dlq.send({"Body": "{still not json"}, "Invalid JSON")
    settings = ConsumerSettings(concurrency=1, wait_time_s=1, visibility_timeout_s=5)
    consumer = Consumer(
        aws.sqs, provisioned.queue_urls["captioner"], parse_contract, settings, name="captioner"
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        # WHEN the DLQ is re-driven message by message
        result = await asyncio.wait_for(
            redrive(aws, resolve("captioner", common), max_messages=50), timeout=60
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)

    # THEN the run ends instead of moving it round and round, and the message is in the DLQ
    assert result.moved == 1
    assert result.came_back in (0, 1)  # 0: the run had ended before the consumer failed it

    async def dead_again() -> bool:
        return (await depth(aws, provisioned.queue_urls["captioner-dlq"]))[0] == 1

    await eventually(dead_again, timeout_s=20, what="the message back in the DLQ")


async def test_an_endpoint_without_message_move_tasks_is_recognized(
    aws: AwsClients, provisioned: Provisioned
) -> None:
    # GIVEN the emulator's own answer to a message-move task
    dlq_arn = await _arn(aws, provisioned.queue_urls["ingest-dlq"])
    source_arn = provisioned.queue_arns["ingest"]
    probe = await aws.sqs_with_retries(max_attempts=1)
    refusal: ClientError | None = None
    try:
        started: Any = await probe.start_message_move_task(
            SourceArn=dlq_arn, DestinationArn=source_arn
        )
    except ClientError as err:
        refusal = err
    if refusal is None:
        assert started["TaskHandle"]
        pytest.skip("this endpoint runs message-move tasks")
    # THEN it reads as "not supported here", which makes redrive move messages itself
    assert is_unsupported(refusal), refusal.response


async def _arn(aws: AwsClients, url: str) -> str:
    response = await aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return response["Attributes"]["QueueArn"]

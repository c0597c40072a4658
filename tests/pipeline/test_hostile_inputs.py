"""Hostile inputs on the running pipeline: each ends as a dead-letter entry with a readable
reason or as a ``failed`` document with a readable reason, never as a loop or a stuck video.

1. poison that is not JSON, on every service queue;
2. messages of the SQS maximum size (256 KB): padded JSON, and a contract message whose
   fields are huge;
3. a stage result for a video whose document was deleted;
4. a 16384x16384 video;
5. a 10-hour video of 2x2 frames;
6. files whose extension lies (a JPEG named .mp4, a WAV named .mov, text named .mkv).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.support.hostile_media import (
    endless_tiny_video,
    huge_frame_video,
    jpeg_named,
    text_named,
)
from tests.support.waiting import eventually
from videosense.embedded import EmbeddedStack
from videosense_shared.bus import ERROR_ATTRIBUTE
from videosense_shared.messages import (
    MediaFacts,
    SourceRef,
    Stage,
    StageFailed,
    VideoIngested,
    VideoStatus,
)
from videosense_shared.topology import (
    AGGREGATOR,
    FRAME_EXTRACTOR,
    TOPOLOGY,
    TRANSCRIBER,
)

pytestmark = pytest.mark.integration

SQS_MAX_BYTES = 256 * 1024
# The aggregator's receive limit in the deleted-document test: small, so that giving up takes
# seconds rather than the five receives and minutes of backoff of the real topology.
SHORT_RECEIVE_LIMIT = 2


@pytest.fixture
async def stack(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EmbeddedStack]:
    # Short polls and retry delays so that redelivery-based outcomes come within seconds.
    for service in ("INGEST", "FRAME_EXTRACTOR", "CAPTIONER", "RECOGNIZER", "TRANSCRIBER"):
        monkeypatch.setenv(f"VIDEOSENSE_{service}_WAIT_TIME_S", "1")
        monkeypatch.setenv(f"VIDEOSENSE_{service}_MAX_RETRY_DELAY_S", "1")
    monkeypatch.setenv("VIDEOSENSE_AGGREGATOR_WAIT_TIME_S", "1")
    monkeypatch.setenv("VIDEOSENSE_AGGREGATOR_MAX_RETRY_DELAY_S", "1")
    monkeypatch.setenv("VIDEOSENSE_AGGREGATOR_VISIBILITY_TIMEOUT_S", "5")
    monkeypatch.setenv("VIDEOSENSE_AGGREGATOR_COMPLETION_LEASE_S", "2")
    async with EmbeddedStack(endpoint=aws_env["AWS_ENDPOINT_URL"]) as running:
        yield running


def _urls(stack: EmbeddedStack) -> dict[str, str]:
    assert stack.provisioned is not None
    return stack.provisioned.queue_urls


async def _dead_letters(stack: EmbeddedStack, queue: str, count: int) -> list[Any]:
    """Wait for ``count`` messages on ``queue``'s DLQ; return them (received, not deleted)."""
    url = _urls(stack)[f"{queue}-dlq"]
    seen: dict[str, Any] = {}

    async def arrived() -> list[Any]:
        resp = await stack.aws.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=60,  # keep what was seen out of the next receive
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        )
        for message in resp.get("Messages", []):
            seen[message["MessageId"]] = message
        return list(seen.values()) if len(seen) >= count else []

    return await eventually(arrived, timeout_s=60, what=f"{count} message(s) in {queue}-dlq")


def _reason(message: Any) -> str:
    attributes = message.get("MessageAttributes", {})
    assert ERROR_ATTRIBUTE in attributes, f"no {ERROR_ATTRIBUTE} attribute: {attributes}"
    reason: str = attributes[ERROR_ATTRIBUTE]["StringValue"]
    return reason


async def _queue_empty(stack: EmbeddedStack, queue: str) -> bool:
    attrs = await stack.aws.sqs.get_queue_attributes(
        QueueUrl=_urls(stack)[queue],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    values = attrs["Attributes"]
    return (
        values["ApproximateNumberOfMessages"] == "0"
        and values["ApproximateNumberOfMessagesNotVisible"] == "0"
    )


# -- 1 and 2: poison on the queues ------------------------------------------------------------


def _padded_json() -> str:
    """Valid JSON that looks like a message, padded to exactly the SQS maximum."""
    head = '{"type": "VideoIngested", "video_id": "v1", "padding": "'
    tail = '"}'
    return head + "x" * (SQS_MAX_BYTES - len(head) - len(tail)) + tail


def _huge_fields_message() -> str:
    """A ``VideoIngested`` shaped like the contract, every free-text field huge, the whole just
    under the SQS maximum (built without validation: the contract bounds ids)."""
    huge = "v" * 65_000
    message = VideoIngested.model_construct(
        message_id=huge,
        video_id=huge,
        trace_id=huge,
        source=SourceRef(bucket="no-such-bucket", key="k" * 65_000, etag="e", size_bytes=1),
        media=MediaFacts(
            duration_s=1,
            fps=25,
            width=16,
            height=16,
            frame_count=25,
            video_codec="h264",
            has_audio=False,
        ),
        stages=(Stage.FRAMES,),
    )
    body = message.model_dump_json()
    assert SQS_MAX_BYTES - 20_000 < len(body) <= SQS_MAX_BYTES
    return body


async def test_poison_that_is_not_json_is_dead_lettered_with_a_reason_on_every_queue(
    stack: EmbeddedStack,
) -> None:
    # GIVEN a running pipeline WHEN every service queue receives a body that is not JSON
    queues = [queue.name for queue in TOPOLOGY.queues]
    body = "this is {not json at all"
    for queue in queues:
        await stack.aws.sqs.send_message(QueueUrl=_urls(stack)[queue], MessageBody=body)
    # THEN each lands in its queue's DLQ, body intact, with a readable reason, at once
    for queue in queues:
        [message] = await _dead_letters(stack, queue, 1)
        assert message["Body"] == body
        assert _reason(message), queue
        assert message["Attributes"]["ApproximateReceiveCount"] in ("1", "2"), queue
    # AND every queue is drained: nothing loops
    for queue in queues:
        assert await eventually(partial(_queue_empty, stack, queue), what=f"{queue} drained")


async def test_a_message_of_the_sqs_maximum_size_is_dead_lettered_with_a_reason(
    stack: EmbeddedStack,
) -> None:
    # GIVEN valid JSON that looks like a message, padded to 256 KB
    body = _padded_json()
    assert len(body.encode()) == SQS_MAX_BYTES
    queues = [queue.name for queue in TOPOLOGY.queues]
    # WHEN every service queue receives it
    for queue in queues:
        await stack.aws.sqs.send_message(QueueUrl=_urls(stack)[queue], MessageBody=body)
    # THEN each dead-letters it whole, with a short reason (not an echo of the input)
    for queue in queues:
        [message] = await _dead_letters(stack, queue, 1)
        assert message["Body"] == body, queue
        reason = _reason(message)
        assert 0 < len(reason) <= 1000, queue
        assert "x" * 100 not in reason, queue
    for queue in queues:
        assert await eventually(partial(_queue_empty, stack, queue), what=f"{queue} drained")


async def test_a_contract_message_with_huge_fields_ends_in_a_dlq_with_a_reason(
    stack: EmbeddedStack,
) -> None:
    # GIVEN a VideoIngested that validates, but whose ids and key are 65 KB each (no such
    # video exists, so a dead-letter queue is the only place left to say what happened)
    body = _huge_fields_message()
    video_id = json.loads(body)["video_id"]
    # WHEN the stage queues it goes to receive it
    stages = (FRAME_EXTRACTOR, TRANSCRIBER)
    for queue in stages:
        await stack.aws.sqs.send_message(QueueUrl=_urls(stack)[queue], MessageBody=body)

    # THEN for each, a dead-letter entry about that video carries a short reason: the stage's
    # own, or the aggregator's (had the stage given up with a StageFailed)
    async def dead_letters_with_reasons() -> list[str]:
        reasons = []
        for queue in (*stages, AGGREGATOR):
            resp = await stack.aws.sqs.receive_message(
                QueueUrl=_urls(stack)[f"{queue}-dlq"],
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                VisibilityTimeout=0,
                MessageAttributeNames=["All"],
            )
            for message in resp.get("Messages", []):
                if json.loads(message["Body"]).get("video_id") == video_id:
                    reasons.append(_reason(message))
        return reasons if len(reasons) >= len(stages) else []

    reasons = await eventually(dead_letters_with_reasons, timeout_s=60, what="dead letters")
    for reason in reasons:
        assert 0 < len(reason) <= 1000
        assert "v" * 1000 not in reason
    # AND nothing keeps retrying
    for queue in (*stages, AGGREGATOR):
        assert await eventually(partial(_queue_empty, stack, queue), what=f"{queue} drained")


# -- 3: a stage result for a deleted document ---------------------------------------------------


async def _delete_document(stack: EmbeddedStack, video_id: str) -> None:
    """Delete every item of the video's collection, as an operator cleaning up would."""
    table = stack.common.table_name
    pages = stack.aws.dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="video_id = :v",
        ExpressionAttributeValues={":v": {"S": video_id}},
        ProjectionExpression="video_id, sk",
    )
    async for page in pages:
        for item in page.get("Items", []):
            await stack.aws.dynamodb.delete_item(TableName=table, Key=item)


async def test_a_stage_result_for_a_deleted_document_is_dead_lettered_with_a_reason(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    # GIVEN the aggregator on a queue whose receive limit is small (set the way an operator
    # would, then the aggregator restarted so that it reads the new redrive policy)
    urls = _urls(stack)
    await stack.kill_service("aggregator")
    attrs = await stack.aws.sqs.get_queue_attributes(
        QueueUrl=urls[AGGREGATOR], AttributeNames=["RedrivePolicy"]
    )
    redrive = json.loads(attrs["Attributes"]["RedrivePolicy"])
    redrive["maxReceiveCount"] = SHORT_RECEIVE_LIMIT
    await stack.aws.sqs.set_queue_attributes(
        QueueUrl=urls[AGGREGATOR], Attributes={"RedrivePolicy": json.dumps(redrive)}
    )
    await stack.start_service("aggregator")
    # AND a video that went through the pipeline (rejected at once: it is text), whose
    # document was then deleted
    video_id = await stack.upload(text_named(tmp_path / "notes.mp4"))
    assert (await stack.wait_completed(video_id, timeout_s=60)).status == VideoStatus.FAILED
    await _delete_document(stack, video_id)
    # WHEN a late stage result for it reaches the aggregator
    late = StageFailed(
        message_id=f"late-{video_id}",
        video_id=video_id,
        trace_id=video_id,
        stage=Stage.FRAMES,
        error="late result",
    )
    await stack.aws.sqs.send_message(
        QueueUrl=urls[AGGREGATOR],
        MessageBody=late.model_dump_json(),
        MessageAttributes={"type": {"DataType": "String", "StringValue": "StageFailed"}},
    )
    # THEN it ends in the DLQ with a reason naming the missing document, within the limit
    [message] = await _dead_letters(stack, AGGREGATOR, 1)
    assert json.loads(message["Body"])["video_id"] == video_id
    assert "document" in _reason(message)
    assert int(message["Attributes"]["ApproximateReceiveCount"]) <= SHORT_RECEIVE_LIMIT
    # AND nothing keeps retrying it
    assert await eventually(partial(_queue_empty, stack, AGGREGATOR), what="aggregator drained")


# -- 4, 5, 6: hostile uploads -----------------------------------------------------------------


async def test_hostile_uploads_end_failed_with_a_reason_naming_the_limit_or_the_problem(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    # GIVEN hostile uploads: a 16384x16384 video, 10 hours of 2x2 frames, and files whose
    # extension lies about what they are
    uploads = {
        huge_frame_video(tmp_path / "huge 16384.mov"): (
            "frame size 16384x16384 (268.4 Mpx) exceeds the limit of 35.4 Mpx per frame"
            " (VIDEOSENSE_INGEST_MAX_FRAME_PIXELS)"
        ),
        endless_tiny_video(tmp_path / "ten hours.mp4"): (
            "duration 10:00:00 exceeds the limit of 6:00:00 (VIDEOSENSE_INGEST_MAX_DURATION_S)"
        ),
        jpeg_named(tmp_path / "photo.mp4"): "not a video: still image (jpeg_pipe)",
        text_named(tmp_path / "notes.mkv"): (
            "not a video: Invalid data found when processing input"
        ),
    }
    ids = {path: await stack.upload(path) for path in uploads}
    # WHEN the pipeline has dealt with them
    # THEN each one is completed as failed, its document saying exactly why
    for path, reason in uploads.items():
        event = await stack.wait_completed(ids[path], timeout_s=60)
        assert event.status == VideoStatus.FAILED, path.name
        document = await stack.store.read(ids[path])
        assert document.status == VideoStatus.FAILED, path.name
        assert document.error == reason, path.name
    # AND no queue holds anything back: nothing loops on them
    for queue in TOPOLOGY.queues:
        assert await eventually(
            partial(_queue_empty, stack, queue.name), what=f"{queue.name} drained"
        )
        assert not await _dlq_holds_anything(stack, queue.name), queue.name


async def _dlq_holds_anything(stack: EmbeddedStack, queue: str) -> bool:
    attrs = await stack.aws.sqs.get_queue_attributes(
        QueueUrl=_urls(stack)[f"{queue}-dlq"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    values = attrs["Attributes"]
    return values["ApproximateNumberOfMessages"] != "0" or (
        values["ApproximateNumberOfMessagesNotVisible"] != "0"
    )

"""``redrive`` with SQS's message-move task, which the emulator lacks: the SQS wire protocol is
played by botocore's Stubber on real clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiobotocore.stub import AioStubber
from botocore.exceptions import ClientError

from videosense.dead_letter_queues import DeadLetterQueue
from videosense.redrive import RedriveError, is_unsupported, redrive
from videosense_shared.aws import AwsClients

PREFIX = "https://sqs.us-east-1.amazonaws.com/123456789012"
ARN = "arn:aws:sqs:us-east-1:123456789012"
QUEUE = DeadLetterQueue(
    source="captioner", name="videosense-captioner-dlq", source_name="videosense-captioner"
)
HANDLE = "eyJ0YXNrSWQiOiJkYjM4In0="


@pytest.fixture
async def aws(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AwsClients]:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    async with AwsClients("us-east-1") as clients:
        yield clients


def _lookups(stub: AioStubber) -> None:
    for name in (QUEUE.name, QUEUE.source_name):
        stub.add_response("get_queue_url", {"QueueUrl": f"{PREFIX}/{name}"}, {"QueueName": name})
    for name in (QUEUE.name, QUEUE.source_name):
        stub.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": f"{ARN}:{name}"}},
            {"QueueUrl": f"{PREFIX}/{name}", "AttributeNames": ["QueueArn"]},
        )


def _task(status: str, moved: int, *, handle: bool = True, **extra: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "Status": status,
        "SourceArn": f"{ARN}:{QUEUE.name}",
        "DestinationArn": f"{ARN}:{QUEUE.source_name}",
        "ApproximateNumberOfMessagesMoved": moved,
        "ApproximateNumberOfMessagesToMove": 3,
        "StartedTimestamp": 1_700_000_000_000,
        **extra,
    }
    if handle:
        task["TaskHandle"] = HANDLE
    return task


async def test_a_move_task_is_started_to_the_work_queue_and_followed_to_the_end(
    aws: AwsClients,
) -> None:
    # GIVEN SQS accepting a move task that moves one, then all three messages
    probe = await aws.sqs_with_retries(max_attempts=1)
    progress: list[tuple[int, int | None]] = []
    with AioStubber(aws.sqs) as sqs, AioStubber(probe) as start:
        _lookups(sqs)
        start.add_response(
            "start_message_move_task",
            {"TaskHandle": HANDLE},
            {"SourceArn": f"{ARN}:{QUEUE.name}", "DestinationArn": f"{ARN}:{QUEUE.source_name}"},
        )
        listed = {"SourceArn": f"{ARN}:{QUEUE.name}", "MaxResults": 10}
        sqs.add_response("list_message_move_tasks", {"Results": [_task("RUNNING", 1)]}, listed)
        # A finished task no longer carries its handle; older tasks follow the newest.
        sqs.add_response(
            "list_message_move_tasks",
            {"Results": [_task("COMPLETED", 3, handle=False), _task("FAILED", 0, handle=False)]},
            listed,
        )

        # WHEN the dead-letter queue is re-driven
        result = await redrive(
            aws, QUEUE, on_progress=lambda m, t: progress.append((m, t)), poll_s=0
        )

        # THEN the DLQ's messages went to its work queue by the task, and progress was told
        sqs.assert_no_pending_responses()
        start.assert_no_pending_responses()
    assert (result.moved, result.method) == (3, "message-move-task")
    assert progress == [(1, 3), (3, 3)]


async def test_a_failed_move_task_is_an_error_that_says_how_many_moved(aws: AwsClients) -> None:
    probe = await aws.sqs_with_retries(max_attempts=1)
    with AioStubber(aws.sqs) as sqs, AioStubber(probe) as start:
        _lookups(sqs)
        start.add_response("start_message_move_task", {"TaskHandle": HANDLE})
        sqs.add_response(
            "list_message_move_tasks",
            {"Results": [_task("FAILED", 2, FailureReason="AWS.SimpleQueueService.KmsAccess")]},
        )
        with pytest.raises(
            RedriveError, match=r"ended FAILED: AWS\.SimpleQueueService\.KmsAccess"
        ) as err:
            await redrive(aws, QUEUE, poll_s=0)
    assert err.value.moved == 2


async def test_a_refused_move_task_is_reported_not_worked_around(aws: AwsClients) -> None:
    # GIVEN SQS refusing the task for lack of permission
    probe = await aws.sqs_with_retries(max_attempts=1)
    with AioStubber(aws.sqs) as sqs, AioStubber(probe) as start:
        _lookups(sqs)
        start.add_client_error(
            "start_message_move_task", service_error_code="AccessDenied", http_status_code=403
        )
        # WHEN re-driving THEN the refusal reaches the caller: no message is moved by hand
        with pytest.raises(ClientError, match="AccessDenied"):
            await redrive(aws, QUEUE, poll_s=0)
        sqs.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "status", "unsupported"),
    [
        ("UnsupportedOperation", 400, True),
        ("AWS.SimpleQueueService.UnsupportedOperation", 400, True),
        ("NotImplemented", 501, True),
        ("500", 500, True),  # an emulator's bare HTML error page
        ("InternalError", 500, False),
        ("AccessDenied", 403, False),
        ("AWS.SimpleQueueService.NonExistentQueue", 400, False),
    ],
)
def test_unsupported_is_read_from_the_error(code: str, status: int, unsupported: bool) -> None:
    response: Any = {
        "Error": {"Code": code, "Message": "..."},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    err = ClientError(response, "StartMessageMoveTask")
    assert is_unsupported(err) is unsupported

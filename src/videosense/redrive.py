"""Moving dead-lettered messages back to the work queue they came from.

SQS's own message-move task is used where the endpoint has it: SQS moves the messages itself,
at its pace, and reports progress. Where the endpoint does not support it (some emulators), or
when only some messages should move, messages are moved one by one: sent to the work queue
first, deleted from the dead-letter queue second, so an interruption can duplicate a message
(which every consumer tolerates, being idempotent) but never lose one. Those carry the run's id
in :data:`REDRIVE_ATTRIBUTE`, so one that fails again while the run goes on is left in place.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from botocore.exceptions import ClientError

from videosense.dead_letter_queues import DeadLetterQueue, queue_url
from videosense.dead_letters import release
from videosense_shared.aws import AwsClients
from videosense_shared.bus import ERROR_ATTRIBUTE

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.type_defs import (
        ListMessageMoveTasksResultEntryTypeDef,
        MessageAttributeValueTypeDef,
        MessageTypeDef,
    )

Method = Literal["message-move-task", "receive-and-send"]
Progress = Callable[[int, int | None], None]  # (moved so far, to move if known)

# Error codes that say "this endpoint has no such action" rather than "this call failed".
_UNSUPPORTED_CODES = frozenset(
    {
        "NotImplemented",
        "NotImplementedException",
        "UnknownOperationException",
        "InvalidAction",
        "UnsupportedOperation",
        "AWS.SimpleQueueService.UnsupportedOperation",
    }
)
_FINISHED = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
_MOVE_HOLD_S = 60  # visibility of a message while it is being moved by hand
_MAX_ATTRIBUTES = 10  # SQS's limit per message

#: Message attribute marking a message moved back by hand with the id of the run that moved it.
REDRIVE_ATTRIBUTE = "videosense-redrive"


class RedriveError(RuntimeError):
    """The redrive stopped before moving every message; ``moved`` says how many it moved."""

    def __init__(self, message: str, moved: int) -> None:
        super().__init__(message)
        self.moved = moved


@dataclass(frozen=True)
class RedriveResult:
    """What a redrive did."""

    moved: int
    method: Method
    came_back: int = 0  # moved by this run, dead-lettered again meanwhile, left in the DLQ


def is_unsupported(err: ClientError) -> bool:
    """True when ``err`` says the endpoint does not implement the action called.

    Besides the explicit codes, an HTTP 501, or an HTTP 500 whose body was no AWS error
    document at all (botocore then reports the bare status as the code): that is how an
    emulator without the action answers. AWS's own internal errors carry a named code.
    """
    error = err.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in _UNSUPPORTED_CODES or status == 501 or (status == 500 and code == "500")


async def redrive(
    aws: AwsClients,
    dlq: DeadLetterQueue,
    *,
    max_messages: int | None = None,
    on_progress: Progress | None = None,
    poll_s: float = 1.0,
) -> RedriveResult:
    """Move the messages of ``dlq`` back to its work queue (at most ``max_messages``).

    Without ``max_messages``, SQS's message-move task does it where supported (a task cannot
    be limited to a count, so with ``max_messages`` messages are always moved one by one).

    Raises:
        QueueMissingError: the DLQ or its work queue does not exist at this endpoint.
        RedriveError: the move task failed or was cancelled.
        botocore.exceptions.ClientError: SQS refused a request.
    """
    sqs = aws.sqs
    dlq_url = await queue_url(sqs, dlq.name)
    source_url = await queue_url(sqs, dlq.source_name)
    if max_messages is None:
        dlq_arn, source_arn = await _arn(sqs, dlq_url), await _arn(sqs, source_url)
        # One attempt: "not supported" must not wait for botocore's retries to be learnt.
        probe = await aws.sqs_with_retries(max_attempts=1)
        try:
            started = await probe.start_message_move_task(
                SourceArn=dlq_arn, DestinationArn=source_arn
            )
        except ClientError as err:
            if not is_unsupported(err):
                raise
        else:
            return await _follow(sqs, dlq_arn, started["TaskHandle"], on_progress, poll_s)
    return await _move_by_hand(sqs, dlq_url, source_url, max_messages, on_progress)


async def _arn(sqs: SQSClient, url: str) -> str:
    response = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return response["Attributes"]["QueueArn"]


async def _follow(
    sqs: SQSClient, dlq_arn: str, handle: str, on_progress: Progress | None, poll_s: float
) -> RedriveResult:
    while True:
        response = await sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)
        task = _our_task(response.get("Results", []), handle)
        if task is not None:
            moved = task.get("ApproximateNumberOfMessagesMoved", 0)
            to_move = task.get("ApproximateNumberOfMessagesToMove")
            if on_progress is not None:
                on_progress(moved, to_move)
            status = task.get("Status", "")
            if status == "COMPLETED":
                return RedriveResult(moved=moved, method="message-move-task")
            if status in _FINISHED:
                reason = task.get("FailureReason") or "no reason given"
                raise RedriveError(f"the message-move task ended {status}: {reason}", moved)
        await asyncio.sleep(poll_s)


def _our_task(
    tasks: list[ListMessageMoveTasksResultEntryTypeDef], handle: str
) -> ListMessageMoveTasksResultEntryTypeDef | None:
    # A running task carries its handle; a finished one may not, but the newest comes first and
    # only one task can run per source queue, so the newest is ours once it has finished.
    for task in tasks:
        if task.get("TaskHandle") == handle:
            return task
    return tasks[0] if tasks and tasks[0].get("Status") in _FINISHED else None


async def _move_by_hand(
    sqs: SQSClient,
    dlq_url: str,
    source_url: str,
    max_messages: int | None,
    on_progress: Progress | None,
) -> RedriveResult:
    run = uuid.uuid4().hex
    moved = 0
    came_back: list[str] = []
    while not came_back and (max_messages is None or moved < max_messages):
        want = 10 if max_messages is None else min(10, max_messages - moved)
        response = await sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=want,
            VisibilityTimeout=_MOVE_HOLD_S,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            break
        for message in messages:
            mark = message.get("MessageAttributes", {}).get(REDRIVE_ATTRIBUTE)
            if mark is not None and mark.get("StringValue") == run:
                # Moved by this run and dead-lettered again already (a poison message fails
                # at once): moving it again would loop. It stays for inspection.
                came_back.append(message["ReceiptHandle"])
                continue
            await sqs.send_message(
                QueueUrl=source_url,
                MessageBody=message.get("Body", ""),
                MessageAttributes=_forwarded(message, run),
            )
            await sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
            if on_progress is not None:
                on_progress(moved, None)
    await release(sqs, dlq_url, came_back)
    return RedriveResult(moved=moved, method="receive-and-send", came_back=len(came_back))


def _forwarded(message: MessageTypeDef, run: str) -> dict[str, MessageAttributeValueTypeDef]:
    # The message as it was published (every attribute but the dead-letter reason and an older
    # run's mark), marked with this run: the dead-letter queue keeps attributes, so a message
    # that fails again while this run goes on is recognized instead of moved round and round.
    out: dict[str, MessageAttributeValueTypeDef] = {}
    for name, value in message.get("MessageAttributes", {}).items():
        if name in (ERROR_ATTRIBUTE, REDRIVE_ATTRIBUTE):
            continue
        if "StringValue" in value:
            out[name] = {"DataType": value["DataType"], "StringValue": value["StringValue"]}
        elif "BinaryValue" in value:
            out[name] = {"DataType": value["DataType"], "BinaryValue": value["BinaryValue"]}
    if len(out) < _MAX_ATTRIBUTES:
        out[REDRIVE_ATTRIBUTE] = {"DataType": "String", "StringValue": run}
    return out

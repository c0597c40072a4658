"""What is in a dead-letter queue, read without consuming it.

Two things land in a dead-letter queue (``docs/operations.md``): poison messages, sent at once
by the consumer with the reason in the ``videosense-error`` attribute, and messages SQS itself
moved after the queue's receive limit, with no reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ingest.notifications import MalformedNotification, parse_s3_notification
from videosense_shared.bus import ERROR_ATTRIBUTE, unwrap
from videosense_shared.ids import video_id_for

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.type_defs import MessageTypeDef

#: How long ``show`` hides the messages it reads from other readers before releasing them.
PEEK_HOLD_S = 30
_EXCERPT_CHARS = 160


@dataclass(frozen=True)
class DeadLetter:
    """What an operator needs to know about one dead-lettered message."""

    message_id: str
    reason: str | None  # the consumer's reason; None when SQS moved it after the receive limit
    video_ids: tuple[str, ...]
    message_type: str | None
    receive_count: int
    sent_at: datetime | None
    body_excerpt: str
    body_chars: int

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "message_id": self.message_id,
            "reason": self.reason,
            "video_ids": list(self.video_ids),
            "type": self.message_type,
            "receive_count": self.receive_count,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "body_excerpt": self.body_excerpt,
            "body_chars": self.body_chars,
        }


def describe(message: MessageTypeDef) -> DeadLetter:
    """Read one received dead-letter message. Never raises: any body, JSON or not, is shown."""
    body = message.get("Body", "")
    # The published message and its attributes, out of an SNS envelope if it came in one.
    inner, attributes = unwrap(body, message.get("MessageAttributes"))
    document = _json_object(inner)
    message_type = attributes.get("type") or _string(document, "type")
    video_ids: tuple[str, ...] = ()
    body_video_id = _string(document, "video_id")
    if attributes.get("video_id"):
        video_ids = (attributes["video_id"],)
    elif body_video_id:
        video_ids = (body_video_id,)
    elif document is not None and ("Records" in document or "detail-type" in document):
        message_type = message_type or "S3 notification"
        video_ids = _uploaded_video_ids(inner)
    system = message.get("Attributes", {})
    flat = " ".join(inner.split())
    excerpt = flat if len(flat) <= _EXCERPT_CHARS else flat[: _EXCERPT_CHARS - 1] + "…"
    return DeadLetter(
        message_id=message.get("MessageId", ""),
        reason=attributes.get(ERROR_ATTRIBUTE),
        video_ids=video_ids,
        message_type=message_type,
        receive_count=_int(system.get("ApproximateReceiveCount")) or 0,
        sent_at=_epoch_ms(system.get("SentTimestamp")),
        body_excerpt=excerpt,
        body_chars=len(body),
    )


async def peek(
    sqs: SQSClient, url: str, limit: int, *, hold_s: int = PEEK_HOLD_S
) -> tuple[list[DeadLetter], int]:
    """Up to ``limit`` messages of the queue at ``url``, left in the queue.

    Each message is received with a ``hold_s`` visibility timeout (so paging does not see it
    twice) and made visible again (VisibilityTimeout 0) before returning. Returns the messages
    and how many could not be released: those come back by themselves after ``hold_s``.

    Raises:
        botocore.exceptions.ClientError: SQS refused a receive.
    """
    found: dict[str, MessageTypeDef] = {}
    handles: list[str] = []
    try:
        while len(found) < limit:
            response = await sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, limit - len(found)),
                VisibilityTimeout=hold_s,
                # A short long-poll: an empty short poll on AWS may just have missed the hosts.
                WaitTimeSeconds=1,
                AttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            if not messages:
                break
            for message in messages:
                handles.append(message["ReceiptHandle"])
                found.setdefault(message.get("MessageId", message["ReceiptHandle"]), message)
    finally:
        unreleased = await release(sqs, url, handles)
    return [describe(m) for m in list(found.values())[:limit]], unreleased


async def release(sqs: SQSClient, url: str, receipt_handles: Sequence[str]) -> int:
    """Make received messages visible again at once; returns how many SQS did not release.

    Never raises on a refused release: such a message reappears when its timeout ends anyway.
    """
    failed = 0
    for start in range(0, len(receipt_handles), 10):
        chunk = receipt_handles[start : start + 10]
        try:
            response = await sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                    for i, h in enumerate(chunk)
                ],
            )
        except ClientError:
            failed += len(chunk)
        else:
            failed += len(response.get("Failed", []))
    return failed


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _string(document: dict[str, Any] | None, key: str) -> str | None:
    value = document.get(key) if document is not None else None
    return value if isinstance(value, str) and value else None


def _uploaded_video_ids(body: str) -> tuple[str, ...]:
    # The ingest queue carries S3 notifications: the video id is the one ingest would derive.
    try:
        uploads = parse_s3_notification(body)
    except MalformedNotification:
        return ()
    return tuple(video_id_for(u.bucket, u.key, u.version_id or u.etag) for u in uploads)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _epoch_ms(value: str | None) -> datetime | None:
    ms = _int(value)
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms is not None else None

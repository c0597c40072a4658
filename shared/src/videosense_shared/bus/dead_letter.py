"""Sending a poison message straight to its queue's dead-letter queue."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.type_defs import (
        MessageAttributeValueTypeDef,
        MessageTypeDef,
    )

#: Message attribute of a dead-lettered copy that says why it was dead-lettered.
ERROR_ATTRIBUTE = "videosense-error"

# SQS allows at most 10 message attributes; one slot is kept for the error.
_MAX_ATTRIBUTES = 10
_MAX_REASON_CHARS = 1000


class NoDeadLetterQueueError(LookupError):
    """The source queue has no ``RedrivePolicy``, so there is nowhere to send poison to."""


@dataclass(frozen=True)
class RedrivePolicy:
    """A queue's redrive policy: where SQS moves a message, and after how many receives."""

    dlq_url: str
    max_receive_count: int


class DeadLetterQueue:
    """The dead-letter queue of one source queue.

    It is found from the source queue's ``RedrivePolicy`` attribute (the same one SQS redrive
    uses, so the DLQ and the receive limit are declared once, in the topology), then cached.
    """

    def __init__(self, sqs: SQSClient, source_queue_url: str) -> None:
        self._sqs = sqs
        self._source_queue_url = source_queue_url
        self._policy: RedrivePolicy | None = None
        self._lock = asyncio.Lock()

    async def policy(self) -> RedrivePolicy:
        """Return the source queue's redrive policy.

        Raises:
            NoDeadLetterQueueError: the source queue has no usable redrive policy. Not cached, so
                adding a redrive policy takes effect without a restart.
            botocore.exceptions.ClientError: SQS refused a lookup.
        """
        if self._policy is None:
            async with self._lock:
                if self._policy is None:
                    self._policy = await self._lookup()
        return self._policy

    async def url(self) -> str:
        """Return the URL of the dead-letter queue.

        Raises:
            NoDeadLetterQueueError: the source queue has no usable redrive policy.
            botocore.exceptions.ClientError: SQS refused a lookup.
        """
        return (await self.policy()).dlq_url

    async def _lookup(self) -> RedrivePolicy:
        response = await self._sqs.get_queue_attributes(
            QueueUrl=self._source_queue_url, AttributeNames=["RedrivePolicy"]
        )
        raw_policy = response.get("Attributes", {}).get("RedrivePolicy")
        if not raw_policy:
            raise NoDeadLetterQueueError(f"{self._source_queue_url} has no RedrivePolicy")
        try:
            policy = json.loads(raw_policy)
            arn = str(policy["deadLetterTargetArn"])
            max_receive_count = int(policy["maxReceiveCount"])
        except (ValueError, KeyError, TypeError) as exc:
            raise NoDeadLetterQueueError(
                f"{self._source_queue_url} has an unreadable RedrivePolicy: {raw_policy!r}"
            ) from exc
        # arn:aws:sqs:{region}:{account}:{name}
        parts = arn.split(":")
        if len(parts) != 6 or not parts[5]:
            raise NoDeadLetterQueueError(f"unexpected dead-letter queue ARN {arn!r}")
        account, name = parts[4], parts[5]
        found = await self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
        return RedrivePolicy(dlq_url=found["QueueUrl"], max_receive_count=max_receive_count)

    async def send(self, message: MessageTypeDef, reason: str) -> None:
        """Copy ``message`` (original body and attributes) to the DLQ with ``reason`` attached.

        The body is the SQS body exactly as received (an SNS envelope stays an envelope), so a
        redrive back to the source queue replays precisely what failed.

        Raises:
            NoDeadLetterQueueError: the source queue has no dead-letter queue.
            botocore.exceptions.ClientError: SQS refused the send.
        """
        url = await self.url()
        attributes: dict[str, MessageAttributeValueTypeDef] = {}
        for name, value in message.get("MessageAttributes", {}).items():
            if len(attributes) >= _MAX_ATTRIBUTES - 1:
                break
            if name == ERROR_ATTRIBUTE:
                continue  # a redriven message that failed again: the newest reason wins
            if "StringValue" in value:
                attributes[name] = {
                    "DataType": value["DataType"],
                    "StringValue": value["StringValue"],
                }
            elif "BinaryValue" in value:
                attributes[name] = {
                    "DataType": value["DataType"],
                    "BinaryValue": value["BinaryValue"],
                }
        attributes[ERROR_ATTRIBUTE] = {
            "DataType": "String",
            # SQS refuses empty attribute values.
            "StringValue": (reason or "unspecified")[:_MAX_REASON_CHARS],
        }
        await self._sqs.send_message(
            QueueUrl=url, MessageBody=message.get("Body", ""), MessageAttributes=attributes
        )

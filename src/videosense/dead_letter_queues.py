"""The topology's dead-letter queues: which they are, and how full.

Every work queue of :data:`~videosense_shared.topology.TOPOLOGY` has a dead-letter queue
(``Queue.dlq_name``); physical names come from :class:`CommonSettings` (``VIDEOSENSE_PREFIX``).
What is in them is :mod:`videosense.dead_letters`; moving them back, :mod:`videosense.redrive`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from videosense_shared.settings import CommonSettings
from videosense_shared.topology import TOPOLOGY, Topology

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

# Error codes SQS and the emulators use for a queue that does not exist.
_NO_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})


class UnknownQueueError(ValueError):
    """A queue name that is not one of the topology's (the message lists the known ones)."""


class QueueMissingError(LookupError):
    """A topology queue that does not exist at the endpoint (not provisioned there)."""


@dataclass(frozen=True)
class DeadLetterQueue:
    """One dead-letter queue of the topology and the work queue it belongs to."""

    source: str  # logical name of the work queue, e.g. "captioner"
    name: str  # physical name of the dead-letter queue, e.g. "videosense-captioner-dlq"
    source_name: str  # physical name of the work queue


def dead_letter_queues(
    common: CommonSettings, topology: Topology = TOPOLOGY
) -> list[DeadLetterQueue]:
    """Every dead-letter queue of ``topology``, in topology order, with physical names."""
    return [
        DeadLetterQueue(
            source=queue.name,
            name=common.queue_name(queue.dlq_name),
            source_name=common.queue_name(queue.name),
        )
        for queue in topology.queues
    ]


def resolve(name: str, common: CommonSettings, topology: Topology = TOPOLOGY) -> DeadLetterQueue:
    """The dead-letter queue ``name`` designates: a work queue's logical name (``captioner``),
    its DLQ's logical name (``captioner-dlq``) or either physical name.

    Raises:
        UnknownQueueError: no queue of the topology has that name.
    """
    for dlq in dead_letter_queues(common, topology):
        if name in (dlq.source, f"{dlq.source}-dlq", dlq.name, dlq.source_name):
            return dlq
    known = ", ".join(q.name for q in topology.queues)
    raise UnknownQueueError(f"unknown queue {name!r} (known: {known})")


async def queue_url(sqs: SQSClient, name: str) -> str:
    """The URL of the queue with physical name ``name``.

    Raises:
        QueueMissingError: no such queue at this endpoint.
        botocore.exceptions.ClientError: SQS refused the lookup for another reason.
    """
    try:
        return (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in _NO_QUEUE_CODES:
            raise QueueMissingError(f"queue {name} does not exist at this endpoint") from None
        raise


@dataclass(frozen=True)
class Depth:
    """How many messages a dead-letter queue holds (SQS's approximate counts)."""

    queue: DeadLetterQueue
    visible: int | None  # None: the queue does not exist
    in_flight: int | None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "queue": self.queue.source,
            "dlq": self.queue.name,
            "exists": self.visible is not None,
            "messages": self.visible,
            "in_flight": self.in_flight,
        }


async def depth(sqs: SQSClient, queue: DeadLetterQueue) -> Depth:
    """The approximate counts of ``queue`` (``None`` counts when it does not exist).

    Raises:
        botocore.exceptions.ClientError: SQS refused a request.
    """
    try:
        url = await queue_url(sqs, queue.name)
    except QueueMissingError:
        return Depth(queue, None, None)
    response = await sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    attributes = response.get("Attributes", {})
    return Depth(
        queue,
        int(attributes.get("ApproximateNumberOfMessages", 0)),
        int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
    )

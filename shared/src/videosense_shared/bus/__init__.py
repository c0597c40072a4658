"""The message bus: SNS publisher, SQS consumer runtime and the SNS->SQS envelope.

A service wires it like this::

    stop = asyncio.Event()
    install_stop_signals(stop)
    async with AwsClients(common.region) as aws:
        publisher = Publisher(aws.sns, aws.sts, common)
        url = await queue_url(aws.sqs, common, "captioner")
        await Consumer(aws.sqs, url, handler, settings, name="captioner").run(stop)

where ``handler`` is ``async def handler(delivery: Delivery) -> None`` that parses the body with
:func:`parse_typed`, does the work, publishes its outputs, and signals failures with
:class:`RetryableError` or :class:`PoisonMessage`.
"""

from videosense_shared.bus.backoff import retry_delay_s
from videosense_shared.bus.consumer import Consumer, Handler, install_stop_signals, queue_url
from videosense_shared.bus.dead_letter import ERROR_ATTRIBUTE
from videosense_shared.bus.envelope import Delivery, parse_typed, unwrap
from videosense_shared.bus.errors import PoisonMessage, RetryableError, is_transient_aws_error
from videosense_shared.bus.publisher import Publisher
from videosense_shared.bus.stage_worker import (
    Attempt,
    LastErrors,
    StageError,
    StageHandler,
    StageWorker,
    give_up_reason,
)

__all__ = [
    "ERROR_ATTRIBUTE",
    "Attempt",
    "Consumer",
    "Delivery",
    "Handler",
    "LastErrors",
    "PoisonMessage",
    "Publisher",
    "RetryableError",
    "StageError",
    "StageHandler",
    "StageWorker",
    "give_up_reason",
    "install_stop_signals",
    "is_transient_aws_error",
    "parse_typed",
    "queue_url",
    "retry_delay_s",
    "unwrap",
]

"""The aggregator's unit of work: fold one stage message into the video document, then
complete the video if every stage is terminal.

Every step is idempotent or conditional, so duplicates and any delivery order are harmless;
after every message the completion check runs, which also finishes a completion that a crashed
worker left half-done.

The give-up rule (the same as the stage workers'): on the last delivery SQS allows before
dead-lettering, the message is not folded again. The stage it reports on ends ``failed`` with
the reason, and completion runs, so the video completes instead of waiting for a result that
cannot be stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import TypeAdapter

from aggregator.fold import AggregatorInput, Fold, stage_of
from videosense_shared.bus import (
    Delivery,
    LastErrors,
    PoisonMessage,
    RetryableError,
    give_up_reason,
    parse_typed,
)
from videosense_shared.completion import Completion
from videosense_shared.logs import bound, get_logger
from videosense_shared.messages import utc_now
from videosense_shared.store import DocumentNotFoundError, DocumentStore

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = get_logger(__name__)

_INPUT: TypeAdapter[AggregatorInput] = TypeAdapter(AggregatorInput)


class Aggregator:
    """Folds stage outputs into documents and completes them."""

    def __init__(self, store: DocumentStore, completion: Completion, s3: S3Client) -> None:
        self._fold = Fold(store, s3)
        self._completion = completion
        self._last_errors = LastErrors()

    async def handle(self, delivery: Delivery) -> None:
        """Consume one message from the aggregator queue.

        Raises:
            PoisonMessage: not a message the aggregator understands, or the video has no
                document on the last delivery.
            RetryableError: the document does not exist (yet), or a completion is in flight.
            Exception: anything else folding raised; the message comes back.
        """
        message = parse_typed(delivery, _INPUT)
        with bound(video_id=message.video_id, trace_id=message.trace_id):
            try:
                if delivery.is_last:
                    await self._give_up(message, delivery.receive_count - 1)
                else:
                    await self._fold_and_complete(message)
            except DocumentNotFoundError as err:
                # The header is written before any stage message exists, so this is a lagging
                # read or a message for a document that was deleted: retry, then dead-letter.
                reason = f"no document for video {message.video_id}"
                if delivery.is_last:
                    raise PoisonMessage(reason) from err
                raise RetryableError(reason) from err

    async def _fold_and_complete(self, message: AggregatorInput) -> None:
        try:
            await self._fold.apply(message)
            await self._completion.complete_if_due(message.video_id)
        except Exception as err:
            self._last_errors.remember(message.message_id, err)
            raise
        self._last_errors.pop(message.message_id)

    async def _give_up(self, message: AggregatorInput, failed_deliveries: int) -> None:
        stage = stage_of(message)
        if stage is not None:
            last = self._last_errors.pop(message.message_id)
            reason = f"its result could not be stored: {give_up_reason(failed_deliveries, last)}"
            log.error("aggregator gave up on a message", stage=stage.value, reason=reason)
            await self._fold.end_stage(message.video_id, stage, reason, at=utc_now())
        try:
            await self._completion.complete_if_due(message.video_id)
        except RetryableError as err:
            # Another worker holds the completion lease and publishes; should it die, the
            # deadline sweep finishes the completion (the video stays in the "due" index).
            log.warning("completion left to the worker publishing it", error=str(err))

"""The aggregator's unit of work: fold one stage message into the video document.

Every step is idempotent or conditional, so duplicates and any delivery order are harmless;
after every message the completion check runs, which also finishes a completion that a crashed
worker left half-done.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from videosense_shared.bus import Delivery, RetryableError, parse_typed
from videosense_shared.completion import Completion
from videosense_shared.logs import bound, get_logger
from videosense_shared.messages import (
    FramesExtracted,
    Stage,
    StageFailed,
    StageStatus,
    VideoIngested,
)
from videosense_shared.store import DocumentNotFoundError, DocumentStore

log = get_logger(__name__)

AggregatorInput = Annotated[
    VideoIngested | FramesExtracted | StageFailed, Field(discriminator="type")
]
_INPUT: TypeAdapter[AggregatorInput] = TypeAdapter(AggregatorInput)


class Aggregator:
    """Folds stage outputs into documents and completes them."""

    def __init__(self, store: DocumentStore, completion: Completion) -> None:
        self._store = store
        self._completion = completion

    async def handle(self, delivery: Delivery) -> None:
        """Consume one message from the aggregator queue.

        Raises:
            PoisonMessage: not a message the aggregator understands.
            RetryableError: the document does not exist (yet), or a completion is in flight.
        """
        message = parse_typed(delivery, _INPUT)
        with bound(video_id=message.video_id, trace_id=message.trace_id):
            try:
                await self.fold(message)
                await self._completion.complete_if_due(message.video_id)
            except DocumentNotFoundError as err:
                # The header is written before any stage message exists, so this is a lagging
                # read or a message for a document that was deleted: retry, then DLQ.
                raise RetryableError(f"no document for video {message.video_id}") from err

    async def fold(self, message: AggregatorInput) -> None:
        """Apply one message to the document (idempotent)."""
        store = self._store
        match message:
            case VideoIngested():
                for stage in message.stages:
                    await store.mark_stage_started(message.video_id, stage, at=message.occurred_at)
            case FramesExtracted():
                await store.put_scenes(message.video_id, message.scenes)
                await store.put_keyframes(message.video_id, message.keyframes)
                counted = await store.record_chunk(
                    message.video_id, Stage.FRAMES, message.chunk_index, message.chunk_count
                )
                header = await store.header(message.video_id)
                done = header.chunks_done.get(Stage.FRAMES, 0)
                log.info(
                    "frames chunk folded",
                    chunk=message.chunk_index,
                    chunks=message.chunk_count,
                    done=done,
                    duplicate=not counted,
                )
                if done >= message.chunk_count:
                    await store.finish_stage(
                        message.video_id,
                        Stage.FRAMES,
                        StageStatus.COMPLETE,
                        started_at=message.started_at,
                        finished_at=message.finished_at,
                        backend=message.backend,
                    )
            case StageFailed():
                await store.finish_stage(
                    message.video_id,
                    message.stage,
                    StageStatus.SKIPPED if message.skipped else StageStatus.FAILED,
                    started_at=None,
                    finished_at=message.occurred_at,
                    backend=message.backend,
                    error=message.error,
                )
                log.warning("stage failed", stage=message.stage.value, error=message.error)

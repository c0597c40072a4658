"""The aggregator's unit of work: fold one stage message into the video document.

Every step is idempotent or conditional, so duplicates and any delivery order are harmless;
after every message the completion check runs, which also finishes a completion that a crashed
worker left half-done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field, TypeAdapter

from videosense_shared.bus import Delivery, PoisonMessage, RetryableError, parse_typed
from videosense_shared.claimcheck import load_payload
from videosense_shared.completion import Completion
from videosense_shared.logs import bound, get_logger
from videosense_shared.messages import (
    CaptionsReady,
    FramesExtracted,
    KeyframeCaption,
    KeyframeRecognition,
    RecognitionReady,
    Stage,
    StageFailed,
    StageStatus,
    Transcript,
    TranscriptReady,
    VideoIngested,
)
from videosense_shared.store import DocumentNotFoundError, DocumentStore

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = get_logger(__name__)

AggregatorInput = Annotated[
    VideoIngested
    | FramesExtracted
    | CaptionsReady
    | RecognitionReady
    | TranscriptReady
    | StageFailed,
    Field(discriminator="type"),
]
_CAPTIONS: TypeAdapter[tuple[KeyframeCaption, ...]] = TypeAdapter(tuple[KeyframeCaption, ...])
_RESULTS: TypeAdapter[tuple[KeyframeRecognition, ...]] = TypeAdapter(
    tuple[KeyframeRecognition, ...]
)
_TRANSCRIPT: TypeAdapter[Transcript] = TypeAdapter(Transcript)

#: Stages that work on keyframes: without frames they have nothing to do.
KEYFRAME_STAGES = (Stage.CAPTIONS, Stage.RECOGNITION)  # same rule as ingest's stage parsing
_INPUT: TypeAdapter[AggregatorInput] = TypeAdapter(AggregatorInput)


class Aggregator:
    """Folds stage outputs into documents and completes them."""

    def __init__(self, store: DocumentStore, completion: Completion, s3: S3Client) -> None:
        self._store = store
        self._completion = completion
        self._s3 = s3

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
                await self._count_chunk(message, Stage.FRAMES, backend=message.backend)
            case CaptionsReady():
                captions = message.captions
                if message.captions_ref is not None:
                    captions = await load_payload(self._s3, message.captions_ref, _CAPTIONS)
                await store.put_captions(message.video_id, captions)
                await self._count_chunk(
                    message, Stage.CAPTIONS, backend=message.backend, model=message.model
                )
            case RecognitionReady():
                results = message.results
                if message.results_ref is not None:
                    results = await load_payload(self._s3, message.results_ref, _RESULTS)
                await store.put_recognition(message.video_id, results)
                await self._count_chunk(
                    message,
                    Stage.RECOGNITION,
                    backend=message.backend,
                    features=message.features,
                )
            case TranscriptReady():
                transcript = message.transcript
                if message.transcript_ref is not None:
                    transcript = await load_payload(self._s3, message.transcript_ref, _TRANSCRIPT)
                if transcript is None:
                    raise PoisonMessage("TranscriptReady carries neither a transcript nor a ref")
                await store.put_transcript(message.video_id, transcript)
                await store.finish_stage(
                    message.video_id,
                    Stage.TRANSCRIPT,
                    StageStatus.COMPLETE,
                    started_at=message.started_at,
                    finished_at=message.finished_at,
                    backend=message.backend,
                    model=message.model,
                )
            case StageFailed():
                status = StageStatus.SKIPPED if message.skipped else StageStatus.FAILED
                await store.finish_stage(
                    message.video_id,
                    message.stage,
                    status,
                    started_at=None,
                    finished_at=message.occurred_at,
                    backend=message.backend,
                    error=message.error,
                )
                log.warning(
                    "stage ended without result",
                    stage=message.stage.value,
                    status=status.value,
                    error=message.error,
                )
                if message.stage == Stage.FRAMES:
                    # No keyframes will come: stages that work on keyframes cannot run.
                    for stage in KEYFRAME_STAGES:
                        await store.finish_stage(
                            message.video_id,
                            stage,
                            StageStatus.SKIPPED,
                            started_at=None,
                            finished_at=message.occurred_at,
                            backend=None,
                            error="no keyframes: the frames stage did not complete",
                        )

    async def _count_chunk(
        self,
        message: FramesExtracted | CaptionsReady | RecognitionReady,
        stage: Stage,
        *,
        backend: str,
        model: str | None = None,
        features: tuple[str, ...] | None = None,
    ) -> None:
        # The chunk is counted once (marker + counter in one transaction); the stage completes
        # when every chunk is in, whichever order they came in.
        store = self._store
        counted = await store.record_chunk(
            message.video_id, stage, message.chunk_index, message.chunk_count
        )
        header = await store.header(message.video_id)
        done = header.chunks_done.get(stage, 0)
        log.info(
            "chunk folded",
            stage=stage.value,
            chunk=message.chunk_index,
            chunks=message.chunk_count,
            done=done,
            duplicate=not counted,
        )
        if done >= message.chunk_count:
            await store.finish_stage(
                message.video_id,
                stage,
                StageStatus.COMPLETE,
                started_at=message.started_at,
                finished_at=message.finished_at,
                backend=backend,
                model=model,
                features=features,
            )

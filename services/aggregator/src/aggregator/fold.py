"""Folding one stage message into the video document.

Every write is idempotent or conditional, so duplicates and any delivery order converge on the
same document (docs/architecture.md, "The aggregator").
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, TypeAdapter

from videosense_shared.bus import PoisonMessage
from videosense_shared.claimcheck import load_payload
from videosense_shared.logs import get_logger
from videosense_shared.messages import (
    CaptionsReady,
    FramesExtracted,
    KeyframeCaption,
    KeyframeRecognition,
    RecognitionReady,
    RedactionReady,
    Stage,
    StageFailed,
    StageStatus,
    Transcript,
    TranscriptReady,
    VideoIngested,
)
from videosense_shared.stages import KEYFRAME_STAGES
from videosense_shared.store import DocumentStore

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = get_logger(__name__)

AggregatorInput = Annotated[
    VideoIngested
    | FramesExtracted
    | CaptionsReady
    | RecognitionReady
    | TranscriptReady
    | RedactionReady
    | StageFailed,
    Field(discriminator="type"),
]
ChunkMessage = FramesExtracted | CaptionsReady | RecognitionReady

#: Stages that work on keyframes: without frames they have nothing to do.

_CAPTIONS: TypeAdapter[tuple[KeyframeCaption, ...]] = TypeAdapter(tuple[KeyframeCaption, ...])
_RESULTS: TypeAdapter[tuple[KeyframeRecognition, ...]] = TypeAdapter(
    tuple[KeyframeRecognition, ...]
)
_TRANSCRIPT: TypeAdapter[Transcript] = TypeAdapter(Transcript)


def stage_of(message: AggregatorInput) -> Stage | None:
    """The stage a message reports on (``None`` for ``VideoIngested``, which starts them)."""
    match message:
        case VideoIngested():
            return None
        case FramesExtracted():
            return Stage.FRAMES
        case CaptionsReady():
            return Stage.CAPTIONS
        case RecognitionReady():
            return Stage.RECOGNITION
        case TranscriptReady():
            return Stage.TRANSCRIPT
        case RedactionReady():
            return Stage.REDACTION
        case StageFailed():
            return message.stage


class Fold:
    """Applies messages to documents."""

    def __init__(self, store: DocumentStore, s3: S3Client) -> None:
        self._store = store
        self._s3 = s3

    async def apply(self, message: AggregatorInput) -> None:
        """Apply one message to its document (idempotent).

        Raises:
            PoisonMessage: a ``TranscriptReady`` with neither a transcript nor a reference.
            DocumentNotFoundError: the video has no document.
        """
        store, video_id = self._store, message.video_id
        match message:
            case VideoIngested():
                for stage in message.stages:
                    await store.mark_stage_queued(video_id, stage, at=message.occurred_at)
            case FramesExtracted():
                await store.put_scenes(video_id, message.scenes)
                await store.put_keyframes(video_id, message.keyframes)
                await self._count_chunk(message, Stage.FRAMES)
            case CaptionsReady():
                captions = message.captions
                if message.captions_ref is not None:
                    captions = await load_payload(self._s3, message.captions_ref, _CAPTIONS)
                await store.put_captions(video_id, captions)
                await self._count_chunk(message, Stage.CAPTIONS, model=message.model)
            case RecognitionReady():
                results = message.results
                if message.results_ref is not None:
                    results = await load_payload(self._s3, message.results_ref, _RESULTS)
                await store.put_recognition(video_id, results)
                await self._count_chunk(message, Stage.RECOGNITION, features=message.features)
            case TranscriptReady():
                transcript = message.transcript
                if message.transcript_ref is not None:
                    transcript = await load_payload(self._s3, message.transcript_ref, _TRANSCRIPT)
                if transcript is None:
                    raise PoisonMessage("TranscriptReady carries neither a transcript nor a ref")
                await store.put_transcript(video_id, transcript)
                await store.finish_stage(
                    video_id,
                    Stage.TRANSCRIPT,
                    StageStatus.COMPLETE,
                    started_at=message.started_at,
                    finished_at=message.finished_at,
                    backend=message.backend,
                    model=message.model,
                )
            case RedactionReady():
                await store.put_redaction(video_id, message.redaction)
                await store.finish_stage(
                    video_id,
                    Stage.REDACTION,
                    StageStatus.COMPLETE,
                    started_at=message.started_at,
                    finished_at=message.finished_at,
                    backend=message.redaction.backend,
                )
            case StageFailed():
                status = StageStatus.SKIPPED if message.skipped else StageStatus.FAILED
                log.warning(
                    "stage ended without result",
                    stage=message.stage.value,
                    status=status.value,
                    error=message.error,
                )
                await self.end_stage(
                    video_id,
                    message.stage,
                    message.error,
                    at=message.occurred_at,
                    status=status,
                    backend=message.backend,
                )

    async def end_stage(
        self,
        video_id: str,
        stage: Stage,
        reason: str,
        *,
        at: datetime,
        status: StageStatus = StageStatus.FAILED,
        backend: str | None = None,
    ) -> None:
        """End a stage without a result (once: a terminal stage is left as it is).

        When the frame stage ends so, the stages that work on keyframes end ``skipped``: no
        keyframes will come for them.
        """
        await self._store.finish_stage(
            video_id, stage, status, started_at=None, finished_at=at, backend=backend, error=reason
        )
        if stage == Stage.FRAMES:
            for dependent in KEYFRAME_STAGES:
                await self._store.finish_stage(
                    video_id,
                    dependent,
                    StageStatus.SKIPPED,
                    started_at=None,
                    finished_at=at,
                    backend=None,
                    error="no keyframes: the frames stage did not complete",
                )

    async def _count_chunk(
        self,
        message: ChunkMessage,
        stage: Stage,
        *,
        model: str | None = None,
        features: tuple[str, ...] | None = None,
    ) -> None:
        # The chunk is counted once (marker + counter in one transaction); the stage completes
        # when every chunk is in, whichever order they came in. Each chunk's worker start is
        # recorded: the stage started when its first chunk's work did.
        store, video_id = self._store, message.video_id
        await store.record_stage_start(video_id, stage, message.started_at)
        counted = await store.record_chunk(
            video_id, stage, message.chunk_index, message.chunk_count
        )
        done = (await store.header(video_id)).chunks_done.get(stage, 0)
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
                video_id,
                stage,
                StageStatus.COMPLETE,
                started_at=None,
                finished_at=message.finished_at,
                backend=message.backend,
                model=model,
                features=features,
            )

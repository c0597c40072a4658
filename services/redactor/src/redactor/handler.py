"""The redactor's unit of work: ``VideoIngested`` in, ``redacted/{video_id}.mp4`` written and
``RedactionReady`` out (or ``StageFailed``: skipped for audio alone, failed with a reason for a
video that cannot be decoded or written)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from redactor.backend import FaceBackend, RedactionError, RedactionRequest
from redactor.face_tracks import findings_tracks
from redactor.pipeline import Look, redact
from redactor.policy import Policy, parse_policy
from redactor.render import Encoding, RenderError
from redactor.settings import RedactorSettings
from redactor.upload import upload_file
from videosense_shared.backends import BackendLoader, BackendUnavailableError
from videosense_shared.bus import Attempt, Publisher, StageError, StageHandler
from videosense_shared.ids import message_id_for
from videosense_shared.layout import redacted_key
from videosense_shared.logs import get_logger
from videosense_shared.messages import (
    MAX_FACE_NAMES_ERROR,
    ObjectRef,
    Redaction,
    RedactionReady,
    Stage,
    VideoIngested,
    utc_now,
)
from videosense_shared.objects import SourceUnavailableError, download_to_file

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = get_logger(__name__)

#: Why the redaction of an audio-only upload is skipped.
NO_VIDEO = "no video stream (audio only): nothing to redact"


def look(settings: RedactorSettings) -> Look:
    """How the copy looks, from the settings."""
    return Look(
        style=settings.style,
        strength=settings.strength,
        encoding=Encoding(
            crf=settings.crf,
            preset=settings.preset,
            threads=settings.threads,
            params=settings.x264_params,
        ),
    )


class Redactor(StageHandler[VideoIngested]):
    """Runs the redaction stage of one video with the configured backend."""

    def __init__(
        self,
        s3: S3Client,
        publisher: Publisher,
        backends: BackendLoader[FaceBackend],
        settings: RedactorSettings,
    ) -> None:
        super().__init__(Stage.REDACTION, VideoIngested, publisher, backend=backends.name)
        self._s3 = s3
        self._backends = backends
        self._settings = settings
        self._policy: Policy = parse_policy(settings.policy)

    async def process(
        self, message: VideoIngested, attempt: Attempt | None = None
    ) -> list[RedactionReady]:
        """Redact one video; return its ``RedactionReady`` (idempotent: the same key is
        rewritten and the same message id returned on a redelivery).

        Raises:
            StageError: audio only (skipped); the upload is gone or overwritten, cannot be
                decoded or written, or the backend cannot run (failed).
            botocore.exceptions.ClientError: a transient AWS failure (retried by the consumer).
        """
        if not message.media.has_video:
            raise StageError(NO_VIDEO, skipped=True)
        started = utc_now()
        settings = self._settings
        bucket, key = settings.common.bucket, redacted_key(message.video_id)
        with tempfile.TemporaryDirectory(prefix="videosense-redact-") as tmp:
            source, target = Path(tmp) / "source", Path(tmp) / "redacted.mp4"
            try:
                await download_to_file(self._s3, message.source, source)
            except SourceUnavailableError as err:
                raise StageError(err.reason) from err
            request = RedactionRequest(
                video_id=message.video_id,
                source=message.source,
                path=source,
                policy=self._policy,
                redact_text=settings.redact_text,
            )
            try:
                backend = await self._backends.get()
                findings, rendered = await redact(backend, request, target, look(settings))
            except (RedactionError, BackendUnavailableError) as err:
                raise StageError(err.reason) from err
            except RenderError as err:
                raise StageError(str(err)) from err
            await upload_file(self._s3, bucket, key, target)
        tracks, omitted = findings_tracks(findings, self._policy)
        redaction = Redaction(
            image=ObjectRef(bucket=bucket, key=key),
            policy=str(self._policy),
            style=settings.style,
            faces_redacted=len(findings.faces),
            frames_with_faces=rendered.frames_redacted,
            frame_count=rendered.frame_count,
            backend=backend.name,
            text_regions=len(findings.texts) if settings.redact_text else None,
            face_tracks=tracks,
            face_tracks_omitted=omitted,
            face_names_error=(
                findings.names_error[:MAX_FACE_NAMES_ERROR] if findings.names_error else None
            ),
        )
        log.info(
            "video redacted",
            key=key,
            faces=len(findings.faces),
            faces_seen=findings.faces_seen,
            frames=rendered.frame_count,
            frames_redacted=rendered.frames_redacted,
        )
        return [
            RedactionReady(
                message_id=message_id_for(message.message_id, "RedactionReady"),
                video_id=message.video_id,
                trace_id=message.trace_id,
                redaction=redaction,
                started_at=started,
                finished_at=utc_now(),
            )
        ]

"""The clipper's unit of work: ``ClipRequested`` in, ``ClipsReady`` out.

The finished document says where the moments are (:mod:`clipper.moments`); the upload the
document describes is downloaded (pinned to its version) and cut (:mod:`clipper.cutting`); the
files go to ``clips/{video_id}/{request_id}/`` with every answer (complete, empty or failed)
recorded beside them as ``result.json``, so a repeated request is answered from the record
without cutting again and a poll of the record always sees the request end.

A request's deadline (``ClipRequested.deadline_at``) is settled by the one rule of
:mod:`videosense_shared.clip_answers`: a request that reaches the clipper after it is answered
``failed`` without cutting, and a cut that would be recorded too close to it (within
:data:`RECORD_MARGIN_S`) is dropped, its files removed, and the same failure recorded, so a
reader that already saw the request fail never sees it change. The first record of a request
stays (written with ``If-None-Match``): a repeat never rewrites it."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from clipper.cutting import CutError, CutResult, EncodeSettings, cut_ranges
from clipper.moments import describe, find_moments
from clipper.ranges import prepare
from clipper.settings import ClipperSettings
from clipper.worker import ClipRequestError, ClipWorker, answer, result_id
from videosense_shared.bus import Attempt, Delivery, Publisher, RetryableError
from videosense_shared.bus.errors import is_transient_aws_error
from videosense_shared.clip_answers import deadline_of, overdue_answer, read_answer, settle
from videosense_shared.document import VideoDocument
from videosense_shared.layout import clip_key, clips_result_key, document_key
from videosense_shared.logs import get_logger
from videosense_shared.messages import (
    ClipFile,
    ClipRange,
    ClipRequested,
    ClipsReady,
    ClipStatus,
    utc_now,
)
from videosense_shared.objects import (
    SourceUnavailableError,
    download_to_file,
    is_missing,
    read_bytes,
)

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = get_logger(__name__)

T = TypeVar("T")

NO_MOMENTS = "no moments found"
#: A cut is recorded only this long before its request's deadline or earlier: the record's
#: write (and the clocks' difference) must land before the deadline, as readers judge it.
RECORD_MARGIN_S = 5.0


async def _s3_call(call: Awaitable[T], what: str) -> T:
    """Await an S3 call, turning transient failures into ``RetryableError``."""
    try:
        return await call
    except (ClientError, BotoCoreError) as err:
        if is_transient_aws_error(err):
            raise RetryableError(f"{what} failed: {err}") from err
        raise


#: What S3 answers a conditional create of a key that exists (or is being written).
_ALREADY_RECORDED = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _unknown_video(video_id: str) -> str:
    return f"video {video_id} has no finished document (unknown id, or still processing)"


class Clipper:
    """Answers clip requests for the videos of one bucket."""

    def __init__(
        self, s3: S3Client, bucket: str, publisher: Publisher, settings: ClipperSettings
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._settings = settings
        self._worker = ClipWorker(publisher, self.process, self.record)

    async def handle(self, delivery: Delivery) -> None:
        """Consume one delivery of a ``ClipRequested`` (see :class:`~clipper.worker.ClipWorker`).

        Raises:
            PoisonMessage: the body is not a valid request.
            RetryableError: transient trouble; the message comes back later.
        """
        await self._worker.handle(delivery)

    async def process(self, request: ClipRequested, attempt: Attempt | None = None) -> ClipsReady:
        """Cut the moments ``request`` selects; return the answer to publish.

        Raises:
            ClipRequestError: the request cannot be answered with clips (unknown video, a source
                that is gone, a range beyond the end...): the answer is ``failed``.
            RetryableError: S3 had transient trouble.
            botocore.exceptions.ClientError: S3 refused a request.
        """
        started = utc_now()
        settled = await self._settled(request)
        if settled is not None:
            log.info("answering from the record or the deadline", status=settled.status.value)
            return settled
        document = await self._document(request.video_id)
        try:
            found = find_moments(document, request.selector)
        except ValueError as err:
            raise ClipRequestError(str(err)) from err
        ranges = prepare(found.ranges, pad_s=request.pad_s, merge_gap_s=request.merge_gap_s)
        if not ranges:
            reason = f"{NO_MOMENTS} for {describe(request.selector)}"
            return answer(request, ClipStatus.EMPTY, reason, started, found.source)
        if len(ranges) > self._settings.max_ranges:
            raise ClipRequestError(
                f"{len(ranges)} moments found, more than the limit of "
                f"{self._settings.max_ranges}: narrow the selection or raise the merge gap"
            )
        work_dir = self._settings.work_dir or None
        with tempfile.TemporaryDirectory(prefix="clipper-", dir=work_dir) as tmp:
            source = Path(tmp) / f"source{PurePosixPath(document.source.key).suffix[:10]}"
            await self._download(document, source)
            settings = EncodeSettings(
                preset=self._settings.x264_preset,
                crf=self._settings.crf,
                audio_bit_rate=self._settings.audio_bit_rate,
            )
            try:
                results = await asyncio.to_thread(
                    cut_ranges,
                    source,
                    ranges,
                    Path(tmp) / "out",
                    supercut=request.supercut,
                    settings=settings,
                )
            except CutError as err:
                raise ClipRequestError(err.reason) from err
            overdue = self._overdue(request)
            if overdue is not None:
                return overdue
            files = [await self._upload(request, result) for result in results]
        overdue = self._overdue(request)
        if overdue is not None:
            await self._remove(files)
            return overdue
        clips, supercut = (files[:-1], files[-1]) if request.supercut else (files, None)
        ready = ClipsReady(
            message_id=result_id(request),
            video_id=request.video_id,
            trace_id=request.trace_id,
            request_id=request.request_id,
            status=ClipStatus.COMPLETE,
            source=found.source,
            clips=tuple(clips),
            supercut=supercut,
            started_at=started,
            finished_at=utc_now(),
        )
        return ready

    async def record(self, result: ClipsReady) -> ClipsReady:
        """Write ``result`` to ``clips/{video_id}/{request_id}/result.json`` unless the request
        already has a record, and return the recorded answer (the worker calls this for every
        answer and publishes what it returns; the first record stays, so its time, which
        readers judge the deadline by, never moves).

        Raises:
            RetryableError: S3 had transient trouble.
            botocore.exceptions.ClientError: S3 refused the write.
        """
        try:
            await _s3_call(
                self._s3.put_object(
                    Bucket=self._bucket,
                    Key=clips_result_key(result.video_id, result.request_id),
                    Body=result.model_dump_json().encode(),
                    ContentType="application/json",
                    IfNoneMatch="*",
                ),
                "recording the result",
            )
        except ClientError as err:
            if _code(err) not in _ALREADY_RECORDED:
                raise
            recorded = await read_answer(self._s3, self._bucket, result.video_id, result.request_id)
            if recorded is None:  # an unreadable record: nothing better to give than this one
                return result
            log.info("the request already has a recorded answer")
            return recorded.answer
        return result

    async def _settled(self, request: ClipRequested) -> ClipsReady | None:
        """The recorded answer, or the deadline's failure (``None``: there is work to do)."""
        try:
            recorded = await read_answer(
                self._s3, self._bucket, request.video_id, request.request_id
            )
        except (ClientError, BotoCoreError) as err:
            if is_transient_aws_error(err):
                raise RetryableError(f"reading the recorded answer failed: {err}") from err
            raise
        # A request without its own deadline (sent before requests had one) has none here.
        return settle(request, recorded, utc_now(), default_deadline_s=None)

    def _overdue(self, request: ClipRequested) -> ClipsReady | None:
        """The deadline's failure when a record written now could land after the deadline."""
        deadline = deadline_of(request, default_s=None)
        if deadline is None or utc_now() + timedelta(seconds=RECORD_MARGIN_S) < deadline:
            return None
        log.warning("the cut is done too late for the request's deadline; dropping it")
        return overdue_answer(request, deadline)

    async def _remove(self, files: list[ClipFile]) -> None:
        """Delete uploaded clip files of an answer that will not be given.

        Raises:
            RetryableError: S3 had transient trouble (the request comes back, and is answered
                from the deadline then).
        """
        for clip in files:
            try:
                await _s3_call(
                    self._s3.delete_object(Bucket=clip.bucket, Key=clip.key),
                    f"removing {clip.key}",
                )
            except ClientError as err:
                # Refused for good (a role without s3:DeleteObject): the failed answer still
                # stands, and no reader signs the files of a failed request.
                log.warning("could not remove a dropped clip", key=clip.key, error=str(err))

    async def _document(self, video_id: str) -> VideoDocument:
        key = document_key(video_id)
        try:
            raw = await read_bytes(self._s3, self._bucket, key)
        except (ClientError, BotoCoreError) as err:
            if is_missing(err):
                raise ClipRequestError(_unknown_video(video_id)) from err
            if is_transient_aws_error(err):
                raise RetryableError(f"reading {key} failed: {err}") from err
            raise
        try:
            return VideoDocument.model_validate_json(raw)
        except ValidationError as err:
            raise ClipRequestError(f"s3://{self._bucket}/{key} is not a video document") from err

    async def _download(self, document: VideoDocument, path: Path) -> None:
        try:
            await download_to_file(self._s3, document.source, path)
        except SourceUnavailableError as err:
            raise ClipRequestError(f"the source video cannot be read: {err.reason}") from err
        except (ClientError, BotoCoreError) as err:
            if is_transient_aws_error(err):
                raise RetryableError(f"downloading the source failed: {err}") from err
            raise

    async def _upload(self, request: ClipRequested, result: CutResult) -> ClipFile:
        key = clip_key(request.video_id, request.request_id, result.path.name)
        with result.path.open("rb") as body:
            await _s3_call(
                self._s3.put_object(
                    Bucket=self._bucket, Key=key, Body=body, ContentType="video/mp4"
                ),
                f"uploading {key}",
            )
        return ClipFile(
            bucket=self._bucket,
            key=key,
            size_bytes=result.path.stat().st_size,
            ranges=tuple(
                ClipRange(
                    requested_start_s=r.requested.start_s,
                    requested_end_s=r.requested.end_s,
                    start_s=r.start_s,
                    end_s=r.end_s,
                    output_start_s=r.output_start_s,
                    frames=r.frames,
                    method=r.method.value,
                    clamped=r.clamped,
                    reason=r.reason,
                )
                for r in result.ranges
            ),
        )

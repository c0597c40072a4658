"""Reading S3 objects, one way for every service.

Two kinds of reads:

* plain reads of objects the pipeline wrote itself (keyframes, claim-checked payloads,
  documents, Transcribe results): :func:`read_bytes`, with :func:`is_missing` to tell "not
  there" from other failures, and :func:`read_keyframe`, which sorts the failures into
  "retry later" and "fail the stage";
* reads of the *upload* a video describes, pinned to the very version that was announced
  (:func:`head_source`, :func:`download_to_file`, :func:`presign_source`). A key can be
  overwritten while its first version waits in a queue; reading by key would then analyse
  the second file under the first video's id. A pinned read asks S3 for the version id when
  the bucket has versioning, and sends ``If-Match: <etag>`` otherwise, so S3 itself refuses a
  changed object (412) and the video fails with :data:`OVERWRITTEN` instead of being mixed up.
  The new version is a video of its own, started by its own notification.

And one way to write an upload from disk, :func:`upload_file`: in parts, so neither this process
nor the S3 endpoint (the embedded emulator reads a request body whole) ever holds the video.

See ``docs/architecture.md`` (bucket layout and object versions).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from botocore.exceptions import BotoCoreError, ClientError

from videosense_shared.bus.errors import RetryableError, is_transient_aws_error
from videosense_shared.messages import ImageRef, SourceRef

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef, HeadObjectOutputTypeDef

OVERWRITTEN = "the object was overwritten before it was analysed"
"""Why a video fails when its uploaded version can no longer be read."""

GONE = "the uploaded object no longer exists"
"""Why a video fails when its (unversioned) upload was deleted."""

# GetObject says NoSuchKey / NoSuchVersion; HeadObject has no body, so botocore reports the
# bare status ("404"); some emulators and older SDK paths say NotFound.
_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "NotFound", "404"})
# GetObject says PreconditionFailed; HeadObject, again without a body, "412".
_PRECONDITION_CODES = frozenset({"PreconditionFailed", "412"})

_DOWNLOAD_PART = 8 * 1024 * 1024

UPLOAD_PART = 8 * 1024 * 1024
"""Bytes per part of :func:`upload_file` (S3's minimum is 5 MiB, its maximum part count
10,000: 8 MiB parts reach 78 GiB, well past any video this pipeline accepts)."""


def error_code(err: BaseException) -> str:
    """The AWS error code of a ``ClientError`` (``""`` for anything else)."""
    if not isinstance(err, ClientError):
        return ""
    return str(err.response.get("Error", {}).get("Code", ""))


def is_missing(err: BaseException) -> bool:
    """True when ``err`` says the object (or the requested version of it) does not exist."""
    return error_code(err) in _MISSING_CODES


def is_precondition_failed(err: BaseException) -> bool:
    """True when ``err`` is S3 refusing a conditional read (``If-Match`` did not match)."""
    return error_code(err) in _PRECONDITION_CODES


class SourceUnavailableError(Exception):
    """The uploaded version a video describes cannot be read any more; ``reason`` says why.

    Retrying cannot help: callers end the video (ingest) or the stage (``StageError``).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SourceOverwrittenError(SourceUnavailableError):
    """The key now holds another object, or the announced version is gone."""

    def __init__(self) -> None:
        super().__init__(OVERWRITTEN)


class SourceGoneError(SourceUnavailableError):
    """The key was deleted (an unversioned bucket: nothing is left to read)."""

    def __init__(self) -> None:
        super().__init__(GONE)


class Pin(TypedDict, total=False):
    """The request parameters that pin a read to one version of an upload."""

    VersionId: str
    IfMatch: str


def quoted_etag(etag: str) -> str:
    """``etag`` as an HTTP entity tag. S3 reports ETags quoted; :class:`SourceRef` keeps them
    bare; conditional headers need the quotes (the emulator refuses a bare ETag)."""
    return f'"{etag.strip(chr(34))}"'


def pin(source: SourceRef) -> Pin:
    """``VersionId`` when the upload has one, ``IfMatch`` on its ETag otherwise."""
    if source.version_id:
        return {"VersionId": source.version_id}
    return {"IfMatch": quoted_etag(source.etag)}


def unavailable(err: ClientError, source: SourceRef) -> SourceUnavailableError | None:
    """What a failed pinned read of ``source`` means, or ``None`` for another failure.

    A 412 means the key holds another object now. A missing *version* means the same in
    practice: overwriting keeps the old version until the bucket's lifecycle expires it. A
    missing key without a version means the upload was deleted.
    """
    if is_precondition_failed(err):
        return SourceOverwrittenError()
    if is_missing(err):
        return SourceOverwrittenError() if source.version_id else SourceGoneError()
    return None


async def read_bytes(s3: S3Client, bucket: str, key: str) -> bytes:
    """The whole body of a small object (a keyframe, a payload, a document).

    Raises:
        botocore.exceptions.ClientError: the read failed (see :func:`is_missing`).
    """
    resp = await s3.get_object(Bucket=bucket, Key=key)
    async with resp["Body"] as body:
        data: bytes = await body.read()
    return data


class UnreadableImageError(Exception):
    """A keyframe image cannot be read, and retrying will not change that (missing, access
    denied); ``reason`` says which, for the stage's failure."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def read_keyframe(s3: S3Client, image: ImageRef) -> bytes:
    """The JPEG bytes of a keyframe.

    Raises:
        UnreadableImageError: the image is gone or refused for good: the stage should fail
            with the reason rather than park the chunk in a dead-letter queue.
        RetryableError: S3 had transient trouble (throttling, 5xx, a dropped connection).
    """
    where = f"s3://{image.bucket}/{image.key}"
    try:
        return await read_bytes(s3, image.bucket, image.key)
    except (ClientError, BotoCoreError) as err:
        if is_transient_aws_error(err):
            raise RetryableError(f"reading keyframe {where} failed: {err}") from err
        if is_missing(err):
            raise UnreadableImageError(f"keyframe image {where} no longer exists") from err
        raise UnreadableImageError(f"cannot read keyframe image {where}: {err}") from err


async def head_source(s3: S3Client, source: SourceRef) -> HeadObjectOutputTypeDef:
    """``HeadObject`` of the announced version of an upload.

    Raises:
        SourceUnavailableError: that version cannot be read any more (see :func:`unavailable`).
        botocore.exceptions.ClientError: any other failure (access, throttling...).
    """
    try:
        return await s3.head_object(Bucket=source.bucket, Key=source.key, **pin(source))
    except ClientError as err:
        raise unavailable(err, source) or err from err


async def download_to_file(s3: S3Client, source: SourceRef, path: Path) -> None:
    """Stream the announced version of an upload into ``path``, in parts (never the whole
    video in memory).

    Raises:
        SourceUnavailableError: that version cannot be read any more.
        botocore.exceptions.ClientError: any other failure.
        OSError: ``path`` cannot be written.
    """
    try:
        resp = await s3.get_object(Bucket=source.bucket, Key=source.key, **pin(source))
    except ClientError as err:
        raise unavailable(err, source) or err from err
    async with resp["Body"] as body:
        with path.open("wb") as out:
            while part := await body.read(_DOWNLOAD_PART):
                out.write(part)


@dataclass(frozen=True, slots=True)
class Uploaded:
    """What S3 answered for an upload: the ETag (quoted, as S3 reports it) and the version id
    (``None`` in an unversioned bucket, where S3 may say ``"null"``)."""

    etag: str
    version_id: str | None


async def upload_file(
    s3: S3Client,
    path: Path,
    bucket: str,
    key: str,
    *,
    metadata: Mapping[str, str] | None = None,
    part_size: int = UPLOAD_PART,
) -> Uploaded:
    """Upload the file at ``path`` to ``bucket``/``key`` from disk: one ``PutObject`` when it
    fits in one part, a multipart upload of ``part_size`` parts otherwise, one part in memory
    at a time. An upload that fails is aborted (no parts are left behind).

    Raises:
        ValueError: ``part_size`` is below S3's 5 MiB minimum.
        OSError: ``path`` cannot be read.
        botocore.exceptions.ClientError: S3 refused a request.
    """
    if part_size < 5 * 1024 * 1024:
        raise ValueError(f"part_size must be at least 5 MiB, got {part_size}")
    meta = dict(metadata or {})
    with path.open("rb") as source:
        # Disk reads off the event loop: other services may share it (the embedded stack).
        first = await asyncio.to_thread(source.read, part_size)
        if len(first) < part_size:
            put = await s3.put_object(Bucket=bucket, Key=key, Body=first, Metadata=meta)
            return Uploaded(put["ETag"], _version(put.get("VersionId")))
        created = await s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata=meta)
        upload_id = created["UploadId"]
        try:
            parts: list[CompletedPartTypeDef] = []
            part = first
            while part:
                number = len(parts) + 1
                sent = await s3.upload_part(
                    Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=part
                )
                parts.append({"PartNumber": number, "ETag": sent["ETag"]})
                # Dropped before the next read, so one part is held at a time, not two.
                del part
                part = await asyncio.to_thread(source.read, part_size)
            done = await s3.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            # Best effort: the upload's own failure is what the caller must see (an abort
            # that fails too, e.g. after a completion whose answer was lost, is not).
            with contextlib.suppress(ClientError, BotoCoreError):
                await s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise
    return Uploaded(done["ETag"], _version(done.get("VersionId")))


def _version(version_id: str | None) -> str | None:
    # "null" is the version of an object written while versioning was off (moto says it even
    # for unversioned buckets): it tells no two uploads apart, so it is no version.
    return None if version_id in (None, "", "null") else version_id


async def check_current(s3: S3Client, source: SourceRef) -> None:
    """Check that the key still holds the announced object, for a reader that can only be
    given a key (Amazon Transcribe): ``HEAD`` the key with ``If-Match`` on the ETag, whatever
    the version. Checked before such a reader starts and after it finished, a mix-up is caught
    unless the key was overwritten and then restored to the very same content in between.

    Raises:
        SourceOverwrittenError: the key holds another object now.
        SourceGoneError: the key was deleted.
        botocore.exceptions.ClientError: any other failure.
    """
    try:
        await s3.head_object(Bucket=source.bucket, Key=source.key, IfMatch=quoted_etag(source.etag))
    except ClientError as err:
        if is_precondition_failed(err):
            raise SourceOverwrittenError() from err
        if is_missing(err):
            raise SourceGoneError() from err
        raise


@dataclass(frozen=True, slots=True)
class PinnedUrl:
    """A presigned ``GET`` URL of an upload's announced version.

    Attributes:
        url: the presigned URL (a credential: never log it whole).
        if_match: the ``If-Match`` header every request must send, when the pin is the ETag.
            Under SigV4 the header is one of the URL's signed headers, so S3 refuses a request
            without it; under SigV2 it is not signed, but S3 still honours it when sent.
    """

    url: str
    if_match: str | None


async def presign_source(s3: S3Client, source: SourceRef, expires_s: int) -> PinnedUrl:
    """A presigned URL that reads only the announced version of an upload."""
    pinned = pin(source)
    params = {"Bucket": source.bucket, "Key": source.key, **pinned}
    url = await s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s)
    return PinnedUrl(url=url, if_match=pinned.get("IfMatch"))

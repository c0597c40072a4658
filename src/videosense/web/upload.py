"""Uploads from the page: the request body streamed into ``uploads/`` in parts.

The browser sends the file as the raw body of one request; the app forwards it to S3 part by
part (a multipart upload once it outgrows one part), so memory holds at most one part whatever
the file's size, and nothing is written to disk. Before anything is stored, the declared type
and the file's first bytes must say audio or video: a photo or a text file is refused with a
clear answer instead of becoming a failed video. The object lands under the uploads prefix, where
its notification starts the pipeline like any other upload.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from videosense_shared.ids import video_id_for
from videosense_shared.media_containers import SNIFF_BYTES, sniff_container
from videosense_shared.objects import is_missing

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

#: One part of a multipart upload (S3's minimum is 5 MiB; 10,000 parts make 80 GiB).
PART_BYTES = 8 * 1024 * 1024
#: Longest file name kept (S3 keys may be 1024 bytes; names are for people).
MAX_NAME_CHARS = 200

# Declared types accepted besides audio/* and video/*: browsers send no type, or this one, for
# extensions they do not know (.mkv on some systems); the first bytes then decide.
_UNTYPED = frozenset({"", "application/octet-stream"})
_NAME_CHARS = re.compile(r"[^\w.\- ()+,]+")


class UploadRejectedError(ValueError):
    """The upload is refused; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class StoredUpload:
    """An upload now in the bucket, and the video it will be."""

    bucket: str
    key: str
    size_bytes: int
    video_id: str
    container: str


def sniff_media(head: bytes) -> str | None:
    """The container family (video or audio) ``head`` starts, or ``None``.

    Video containers are the probe's own list (:func:`sniff_container`); audio-only uploads are
    analysed too (a transcript), so the common audio formats are known here as well.
    """
    found = sniff_container(head)
    if found is not None:
        return found
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head.startswith((b"ID3", b"fLaC", b"#!AMR", b"caff", b".snd")):
        return "audio"
    # An MPEG audio frame or an ADTS AAC header: 11 (12) sync bits set.
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "mpeg-audio"
    return None


def check_declared_type(content_type: str) -> None:
    """Refuse a declared type that is neither audio nor video.

    Raises:
        UploadRejectedError: 415, with the type refused.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in _UNTYPED or media_type.startswith(("video/", "audio/")):
        return
    raise UploadRejectedError(
        415, f"only video or audio files can be uploaded, not {media_type or 'this'!r}"
    )


def safe_name(filename: str) -> str:
    """The file name as an object name: its last path component, with only plain characters.

    Raises:
        UploadRejectedError: 400, nothing usable is left.
    """
    base = re.split(r"[/\\]", filename)[-1]
    cleaned = _NAME_CHARS.sub("_", base).strip(" ._")[:MAX_NAME_CHARS].strip(" ._")
    if not cleaned:
        raise UploadRejectedError(400, f"{filename!r} is not a usable file name")
    return cleaned


async def store_upload(
    s3: S3Client,
    *,
    bucket: str,
    uploads_prefix: str,
    filename: str,
    content_type: str,
    body: AsyncIterator[bytes],
    max_bytes: int,
) -> StoredUpload:
    """Check and store one upload under ``uploads_prefix``.

    The key is the cleaned file name; when that key is taken, a short random suffix keeps the
    existing object (and its video) untouched.

    Raises:
        UploadRejectedError: 415 not audio or video (declared type or first bytes), 400 empty
            or a bad name, 413 larger than ``max_bytes``. Nothing is stored.
        botocore.exceptions.ClientError: S3 refused a request (any part already sent is
            aborted).
    """
    check_declared_type(content_type)
    name = safe_name(filename)
    reader = _Chunks(body)
    head = await reader.take(SNIFF_BYTES)
    if not head:
        raise UploadRejectedError(400, "the file is empty")
    container = sniff_media(head)
    if container is None:
        raise UploadRejectedError(
            415, f"{name} does not look like a video or audio file (unknown first bytes)"
        )
    key = await _free_key(s3, bucket, f"{uploads_prefix}{name}")
    extra: dict[str, Any] = {"ContentType": _stored_type(content_type)}
    first = head + await reader.take(PART_BYTES - len(head))
    if len(first) > max_bytes:
        raise UploadRejectedError(413, f"the file is larger than {max_bytes} bytes")
    if len(first) < PART_BYTES:
        resp = await s3.put_object(Bucket=bucket, Key=key, Body=first, **extra)
        tag = resp.get("VersionId") or resp["ETag"]
        return StoredUpload(bucket, key, len(first), video_id_for(bucket, key, tag), container)
    return await _multipart(s3, bucket, key, extra, first, reader, max_bytes, container)


async def _multipart(
    s3: S3Client,
    bucket: str,
    key: str,
    extra: dict[str, Any],
    first: bytes,
    reader: _Chunks,
    max_bytes: int,
    container: str,
) -> StoredUpload:
    upload_id = (await s3.create_multipart_upload(Bucket=bucket, Key=key, **extra))["UploadId"]
    parts: list[CompletedPartTypeDef] = []
    size = 0
    try:
        part = first
        while part:
            size += len(part)
            if size > max_bytes:
                raise UploadRejectedError(413, f"the file is larger than {max_bytes} bytes")
            number = len(parts) + 1
            resp = await s3.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=part
            )
            parts.append({"PartNumber": number, "ETag": resp["ETag"]})
            part = await reader.take(PART_BYTES)
        done = await s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        # A refused, failed or abandoned (client gone) upload leaves no parts behind.
        await s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    tag = done.get("VersionId") or done["ETag"]
    return StoredUpload(bucket, key, size, video_id_for(bucket, key, tag), container)


def _stored_type(content_type: str) -> str:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type if media_type not in _UNTYPED else "application/octet-stream"


async def _free_key(s3: S3Client, bucket: str, key: str) -> str:
    # Overwriting a key would fail the video its first version is (architecture: "Object
    # versions"), so a taken name gets a suffix instead.
    if not await _exists(s3, bucket, key):
        return key
    stem, dot, ext = key.rpartition(".")
    if not dot or "/" in ext:
        stem, ext = key, ""
    return f"{stem}-{secrets.token_hex(3)}{'.' + ext if ext else ''}"


async def _exists(s3: S3Client, bucket: str, key: str) -> bool:
    try:
        await s3.head_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if is_missing(err):
            return False
        raise
    return True


class _Chunks:
    """Re-chunks a byte stream into pieces of a requested size."""

    def __init__(self, body: AsyncIterator[bytes]) -> None:
        self._body = body
        self._buffer = bytearray()
        self._done = False

    async def take(self, size: int) -> bytes:
        """Up to ``size`` bytes; fewer only at the end of the stream."""
        while len(self._buffer) < size and not self._done:
            try:
                self._buffer.extend(await anext(self._body))
            except StopAsyncIteration:
                self._done = True
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

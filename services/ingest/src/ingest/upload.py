"""What ingest learns about an upload before accepting it: its metadata and size (``HEAD``)
and its media facts (a probe of the container headers over HTTP range requests).

Both read the announced version only (:mod:`videosense_shared.objects`): a key overwritten
since the notification is refused by S3 itself rather than probed in the first file's place.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from videosense_shared.media import MediaProbeError, ProbeLimits, probe_stream
from videosense_shared.media_http import PreconditionFailedError, RangedHttpReader
from videosense_shared.messages import MediaFacts, SourceRef
from videosense_shared.objects import (
    SourceGoneError,
    SourceOverwrittenError,
    head_source,
    presign_source,
)

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client


@dataclass(frozen=True, slots=True)
class UploadHead:
    """What ``HeadObject`` told about the announced version.

    Attributes:
        metadata: the user metadata (``x-amz-meta-*`` without the prefix).
        size_bytes: the size of that version (the notification's may be stale on a replay).
    """

    metadata: dict[str, str]
    size_bytes: int


async def head_upload(s3: S3Client, source: SourceRef) -> UploadHead | None:
    """``HEAD`` the announced version; ``None`` when the (unversioned) key was deleted.

    Raises:
        SourceOverwrittenError: the key holds another object now, or the version is gone.
        botocore.exceptions.ClientError: S3 failed otherwise (retried by the consumer).
    """
    try:
        resp = await head_source(s3, source)
    except SourceGoneError:
        return None
    return UploadHead(dict(resp.get("Metadata", {})), int(resp["ContentLength"]))


async def probe_upload(
    s3: S3Client, source: SourceRef, size: int, expires_s: int, limits: ProbeLimits
) -> MediaFacts:
    """Probe the announced version without downloading it: only the blocks the demuxer reads
    travel, through a presigned URL pinned to the version (or sending ``If-Match``).

    Raises:
        MediaProbeError: empty, not a video, damaged, or over a limit.
        SourceOverwrittenError: the object changed while it was being probed.
        videosense_shared.media_http.RangeRequestError: an HTTP request failed (transient).
    """
    if size == 0:
        raise MediaProbeError("empty file (0 bytes)")
    pinned = await presign_source(s3, source, expires_s)

    def probe() -> MediaFacts:
        with RangedHttpReader(pinned.url, size, if_match=pinned.if_match) as reader:
            return probe_stream(reader, limits)

    try:
        # The demuxer blocks: it runs off the event loop.
        return await asyncio.to_thread(probe)
    except PreconditionFailedError as err:
        raise SourceOverwrittenError() from err

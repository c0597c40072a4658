"""Reading finished video documents: the ``documents/{video_id}.json`` objects in S3.

The completion step writes one JSON object per video once every requested stage is terminal
(see :mod:`videosense_shared.completion`), so listing that prefix enumerates exactly the
finished videos, needs no table scan, and reads each whole document in one request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from pydantic import ValidationError

from videosense_shared.document import VideoDocument
from videosense_shared.layout import DOCUMENTS_PREFIX, document_key, is_document_key
from videosense_shared.objects import is_missing, read_bytes

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client


class FinishedDocumentNotFoundError(LookupError):
    """The video has no finished document (unknown id, or still processing)."""


async def read_finished(s3: S3Client, bucket: str, video_id: str) -> VideoDocument:
    """The finished document of one video.

    Raises:
        FinishedDocumentNotFoundError: no ``documents/{video_id}.json`` in the bucket.
        pydantic.ValidationError: the object is not a video document (schema v1 to v3).
        botocore.exceptions.ClientError: S3 refused the request (no bucket, access denied...).
    """
    try:
        raw = await read_bytes(s3, bucket, document_key(video_id))
    except ClientError as err:
        if is_missing(err):
            raise FinishedDocumentNotFoundError(video_id) from err
        raise
    return VideoDocument.model_validate_json(raw)


async def finished_documents(
    s3: S3Client, bucket: str, *, on_unreadable: Callable[[str, str], None]
) -> AsyncIterator[VideoDocument]:
    """Every finished document in the bucket, one at a time (memory stays flat).

    ``on_unreadable(key, reason)`` is told about objects under the prefix that are not
    documents (so one bad object does not hide every other video's results).

    Raises:
        botocore.exceptions.ClientError: S3 refused the listing or a read.
    """
    paginator = s3.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=bucket, Prefix=DOCUMENTS_PREFIX):
        for item in page.get("Contents", []):
            key = item["Key"]
            if not is_document_key(key):
                continue
            try:
                raw = await read_bytes(s3, bucket, key)
            except ClientError as err:
                if is_missing(err):
                    continue  # deleted between the listing and the read
                raise
            try:
                yield VideoDocument.model_validate_json(raw)
            except ValidationError as err:
                on_unreadable(key, f"not a video document ({err.error_count()} errors)")

"""Media the browser gets: the video on a short-lived presigned URL, keyframe JPEGs through
the app.

The player streams the upload straight from S3 (range requests, no bytes through the app) on a
URL that expires after ``media_url_ttl_s``. In a versioned bucket the URL is pinned to the
analysed version; an unversioned bucket keeps one version per key, and an overwritten upload
has a failed document anyway (``docs/architecture.md``, "Object versions"). Keyframes are small
and the app already checked that they belong to the video, so it relays them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel

from videosense_shared.messages import ImageRef, SourceRef, utc_now
from videosense_shared.objects import read_bytes

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client


class MediaUrl(BaseModel):
    """Where the player reads the video from, until when."""

    url: str
    expires_at: datetime


async def presigned_media_url(signer: S3Client, source: SourceRef, ttl_s: int) -> MediaUrl:
    """A presigned GET of the uploaded video, valid for ``ttl_s`` seconds.

    Signing is local: no request is sent, and ``signer`` may point at an endpoint only the
    browser reaches.
    """
    params: dict[str, str] = {"Bucket": source.bucket, "Key": source.key}
    if source.version_id:
        params["VersionId"] = source.version_id
    url = await signer.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl_s)
    return MediaUrl(url=url, expires_at=utc_now() + timedelta(seconds=ttl_s))


async def read_image(s3: S3Client, image: ImageRef) -> bytes:
    """A keyframe JPEG's bytes (tens of kilobytes: read whole, then relayed).

    Raises:
        botocore.exceptions.ClientError: S3 refused the read (``is_missing`` tells a 404).
    """
    return await read_bytes(s3, image.bucket, image.key)

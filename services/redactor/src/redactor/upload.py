"""Uploading the redacted copy to its key, whole or in parts, never whole in memory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

#: Files up to this size go in one PUT; larger ones in parts of this size (S3 allows 10,000
#: parts, so up to 640 GB).
PART_BYTES = 64 * 1024 * 1024


async def upload_file(s3: S3Client, bucket: str, key: str, path: Path) -> None:
    """Write ``path`` to ``s3://bucket/key`` (an overwrite of the same key on a redelivery).

    Raises:
        botocore.exceptions.ClientError: S3 refused a request (a failed multipart upload is
            aborted first, so no parts are left behind).
    """
    # The file is local and small to stat; the part reads below are what take time.
    size = path.stat().st_size  # noqa: ASYNC240
    if size <= PART_BYTES:
        with path.open("rb") as body:
            await s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="video/mp4")
        return
    upload = await s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="video/mp4")
    upload_id = upload["UploadId"]
    try:
        parts: list[CompletedPartTypeDef] = []
        with path.open("rb") as body:
            number = 1
            while chunk := body.read(PART_BYTES):
                part = await s3.upload_part(
                    Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk
                )
                parts.append({"ETag": part["ETag"], "PartNumber": number})
                number += 1
        await s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        await s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise

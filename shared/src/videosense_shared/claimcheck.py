"""Claim checks: results too large for an SNS message travel through S3.

SNS caps a message at 256 KiB. A producer calls :func:`fit_for_sns` on its output: when the
message would be larger than :data:`INLINE_LIMIT_BYTES`, the bulky field is written to
:func:`~videosense_shared.layout.payload_key` and the message carries an :class:`ObjectRef`
instead. The key derives from the deterministic message id, so a redelivery overwrites the same
object.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import TypeAdapter

from videosense_shared.bus.errors import RetryableError, is_transient_aws_error
from videosense_shared.layout import payload_key
from videosense_shared.messages import Model, ObjectRef
from videosense_shared.objects import read_bytes

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

#: Leaves room under SNS's 256 KiB for message attributes and JSON escaping.
INLINE_LIMIT_BYTES = 200_000

M = TypeVar("M", bound=Model)
T = TypeVar("T")


async def fit_for_sns(s3: S3Client, bucket: str, message: M, field: str, ref_field: str) -> M:
    """Return ``message`` as is, or with ``field`` moved to S3 and ``ref_field`` pointing at it.

    Raises:
        RetryableError: S3 had transient trouble storing the payload.
        botocore.exceptions.ClientError: the upload failed otherwise.
    """
    if len(message.model_dump_json().encode()) <= INLINE_LIMIT_BYTES:
        return message
    dumped: dict[str, Any] = message.model_dump(mode="json")
    key = payload_key(dumped["video_id"], dumped["message_id"])
    try:
        await s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(dumped[field]).encode(),
            ContentType="application/json",
        )
    except (ClientError, BotoCoreError) as err:
        if is_transient_aws_error(err):
            raise RetryableError(f"storing the payload s3://{bucket}/{key} failed: {err}") from err
        raise
    empty: object = () if isinstance(getattr(message, field), tuple) else None
    return message.model_copy(update={field: empty, ref_field: ObjectRef(bucket=bucket, key=key)})


async def load_payload(s3: S3Client, ref: ObjectRef, adapter: TypeAdapter[T]) -> T:
    """Fetch and validate an offloaded payload.

    Raises:
        botocore.exceptions.ClientError: the object cannot be read.
        pydantic.ValidationError: its content does not match ``adapter``.
    """
    return adapter.validate_json(await read_bytes(s3, ref.bucket, ref.key))

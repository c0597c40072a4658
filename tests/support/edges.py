"""In-memory stand-ins for the S3 and SNS calls the aggregator and completion make, for unit
tests that run the aggregator on the in-memory document store. They keep what was sent, for the
tests to read."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel


class MemoryBucket:
    """``put_object``/``get_object`` of an S3 client, on a dict (a missing key raises S3's
    ``NoSuchKey``)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    async def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> object:  # noqa: N803
        self.objects[(Bucket, Key)] = Body
        return {}

    async def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        if (Bucket, Key) not in self.objects:
            error = {"Error": {"Code": "NoSuchKey", "Message": f"no object {Key}"}}
            raise ClientError(error, "GetObject")  # type: ignore[arg-type]
        return {"Body": _Body(self.objects[(Bucket, Key)])}

    def json(self, bucket: str, key: str) -> Any:
        """The stored object at ``key``, parsed as JSON."""
        return json.loads(self.objects[(bucket, key)])


class RecordingPublisher:
    """A publisher that keeps every message, by topic."""

    def __init__(self) -> None:
        self.published: list[tuple[str, BaseModel]] = []

    async def publish(self, topic: str, message: BaseModel) -> None:
        self.published.append((topic, message))

    def on(self, topic: str) -> list[BaseModel]:
        """Messages published on ``topic``, in order."""
        return [message for t, message in self.published if t == topic]


class _Body:
    """The streaming body of a ``get_object`` response."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def __aenter__(self) -> _Body:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def read(self) -> bytes:
        return self._data

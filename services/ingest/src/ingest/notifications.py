"""Parse what arrives on the ingest queue into the uploaded objects it announces.

Two shapes reach the parser, depending on how the bucket is wired:

* an S3 event notification ``{"Records": [...]}`` (bucket -> SQS, or bucket -> SNS -> SQS),
  possibly several records;
* an EventBridge ``Object Created`` event (bucket -> EventBridge -> SQS).

An SNS ``Notification`` envelope (bucket -> SNS -> SQS without raw delivery) is removed before
the body gets here, by the consumer like for every other queue
(:func:`videosense_shared.bus.unwrap`).

Key encoding differs by shape and by emulator, and getting it wrong means fetching an object
that does not exist:

* S3 notifications URL-encode the key form-style (AWS: ``my+holiday+%C3%A9t%C3%A9.mp4``; moto
  encodes the slashes too: ``uploads%2Fclip.mp4``; LocalStack percent-encodes spaces).
  ``unquote_plus`` decodes all three, and a literal ``+`` arrives as ``%2B``.
* EventBridge events carry the key unencoded on AWS (the documented examples keep ``:`` and
  ``/`` raw) and in moto; LocalStack percent-encodes it. Form decoding would turn a literal
  ``+`` into a space, so these keys get plain ``unquote``, which is exact for AWS and moto
  unless a key contains ``%`` followed by two hex digits (S3 advises against ``%`` in keys).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from videosense_shared.ids import video_id_for
from videosense_shared.messages import SourceRef

__all__ = ["MalformedNotification", "UploadedObject", "parse_s3_notification"]

_T = TypeVar("_T")

_CREATED_PREFIX = "ObjectCreated:"

# EventBridge names the API call ("reason"); S3 notifications name the event. Map the former
# onto the latter so downstream code sees one vocabulary.
_EVENTBRIDGE_REASONS = {
    "PutObject": "ObjectCreated:Put",
    "PostObject": "ObjectCreated:Post",
    "CopyObject": "ObjectCreated:Copy",
    "CompleteMultipartUpload": "ObjectCreated:CompleteMultipartUpload",
}


class MalformedNotification(ValueError):  # noqa: N818 - the name is the ingest contract
    """The message is not an S3 upload notification this service understands.

    Retrying cannot fix it: the consumer sends it to the dead-letter queue at once.
    """


@dataclass(frozen=True, slots=True)
class UploadedObject:
    """One object version that an upload notification announced.

    Attributes:
        bucket: bucket name.
        key: the object key, decoded (exactly what ``GetObject`` expects).
        etag: the ETag without surrounding quotes.
        size_bytes: object size.
        version_id: the version id on a versioned bucket; ``None`` when there is none (or
            it is S3's placeholder ``"null"``).
        event_name: the S3 event name, e.g. ``"ObjectCreated:Put"``.
        event_time: when S3 finished the request (ISO 8601, as S3 wrote it).
    """

    bucket: str
    key: str
    etag: str
    size_bytes: int
    version_id: str | None
    event_name: str
    event_time: str

    def source_ref(self) -> SourceRef:
        """The :class:`SourceRef` a video document records for this object (this version)."""
        return SourceRef(
            bucket=self.bucket,
            key=self.key,
            etag=self.etag,
            size_bytes=self.size_bytes,
            version_id=self.version_id,
        )

    def video_id(self) -> str:
        """The id of the video this object version is: the version id tells two uploads of
        one key apart on a versioned bucket, the ETag otherwise."""
        return video_id_for(self.bucket, self.key, self.version_id or self.etag)


def parse_s3_notification(body: str) -> list[UploadedObject]:
    """Return the objects created according to one ingest-queue message body.

    ``s3:TestEvent`` messages (S3 sends one when notifications are configured), records of
    other event types (``ObjectRemoved:*`` ...) and EventBridge S3 events other than
    ``Object Created`` yield nothing.

    Raises:
        MalformedNotification: the body is not JSON, or not one of the accepted shapes, or a
            record lacks a field or has a field of the wrong type; the message says which.
    """
    try:
        document = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise MalformedNotification(f"not JSON: {exc}") from None
    return _parse_document(document)


def _parse_document(document: Any) -> list[UploadedObject]:
    if not isinstance(document, dict):
        raise MalformedNotification(f"expected a JSON object, got {type(document).__name__}")
    if document.get("Event") == "s3:TestEvent":
        return []
    if "Records" in document:
        return _parse_records(document["Records"])
    if "detail-type" in document:
        return _parse_eventbridge(document)
    shown = ", ".join(repr(k)[:40] for k in sorted(document)[:8]) or "none"
    raise MalformedNotification(f"not an S3 notification or EventBridge event (fields: {shown})")


def _parse_records(records: Any) -> list[UploadedObject]:
    if not isinstance(records, list) or not records:
        raise MalformedNotification("Records must be a non-empty list")
    uploads: list[UploadedObject] = []
    for number, record in enumerate(records, start=1):
        where = f"record {number}"
        if not isinstance(record, dict):
            raise MalformedNotification(f"{where}: expected an object")
        # AWS writes "ObjectCreated:Put"; MinIO-style emitters prefix "s3:".
        event_name = _field(record, "eventName", str, where).removeprefix("s3:")
        if not event_name.startswith(_CREATED_PREFIX):
            continue
        s3 = _field(record, "s3", dict, where)
        bucket = _field(s3, "bucket", dict, f"{where}: s3")
        obj = _field(s3, "object", dict, f"{where}: s3")
        uploads.append(
            UploadedObject(
                bucket=_field(bucket, "name", str, f"{where}: s3.bucket"),
                key=urllib.parse.unquote_plus(_field(obj, "key", str, f"{where}: s3.object")),
                etag=_field(obj, "eTag", str, f"{where}: s3.object").strip('"'),
                size_bytes=_size(obj, f"{where}: s3.object"),
                version_id=_version_id(obj.get("versionId"), f"{where}: s3.object.versionId"),
                event_name=event_name,
                event_time=_field(record, "eventTime", str, where),
            )
        )
    return uploads


def _parse_eventbridge(event: dict[str, Any]) -> list[UploadedObject]:
    where = "EventBridge event"
    source = event.get("source")
    if source != "aws.s3":
        raise MalformedNotification(f"{where}: source is {source!r}, expected 'aws.s3'")
    if event["detail-type"] != "Object Created":
        return []
    detail = _field(event, "detail", dict, where)
    bucket = _field(detail, "bucket", dict, f"{where}: detail")
    obj = _field(detail, "object", dict, f"{where}: detail")
    # AWS writes "etag"; moto writes "eTag", as in S3 notifications.
    etag_field = "etag" if "etag" in obj else "eTag"
    reason = detail.get("reason")
    event_name = _EVENTBRIDGE_REASONS.get(reason) if isinstance(reason, str) else None
    if event_name is None:
        event_name = f"{_CREATED_PREFIX}{reason if isinstance(reason, str) else 'Unknown'}"
    return [
        UploadedObject(
            bucket=_field(bucket, "name", str, f"{where}: detail.bucket"),
            key=urllib.parse.unquote(_field(obj, "key", str, f"{where}: detail.object")),
            etag=_field(obj, etag_field, str, f"{where}: detail.object").strip('"'),
            size_bytes=_size(obj, f"{where}: detail.object"),
            version_id=_version_id(obj.get("version-id"), f"{where}: detail.object.version-id"),
            event_name=event_name,
            event_time=_field(event, "time", str, where),
        )
    ]


def _field(container: Mapping[str, Any], name: str, kind: type[_T], where: str) -> _T:
    if name not in container:
        raise MalformedNotification(f"{where}: missing {name!r}")
    value = container[name]
    if not isinstance(value, kind) or (kind is str and not value):
        expected = "a non-empty string" if kind is str else kind.__name__
        raise MalformedNotification(f"{where}: {name!r} must be {expected}, got {value!r}")
    return value


def _size(obj: Mapping[str, Any], where: str) -> int:
    size = obj.get("size")
    # bool is an int subclass; a size of True is nonsense, not 1.
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise MalformedNotification(f"{where}: 'size' must be a non-negative integer")
    return size


def _version_id(value: Any, where: str) -> str | None:
    # S3 gives objects written while versioning was off the literal version id "null" (moto
    # even sends it for unversioned buckets). It tells no two uploads of a key apart, so it is
    # reported as no version: callers then identify the upload by its ETag.
    if value is None or value == "null":
        return None
    if isinstance(value, str) and value:
        return value
    raise MalformedNotification(f"{where}: must be a non-empty string or absent")

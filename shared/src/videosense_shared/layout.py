"""Where everything lives in the media bucket: one place for every key and prefix.

The services, the CLI and the deployment (bucket lifecycle rules, IAM grants per prefix) all
read the layout from here, so a key format cannot drift between the writer and its readers::

    uploads/...                          videos to analyse (the prefix is a setting)
    frames/{video_id}/{frame:09d}.jpg    keyframe JPEGs (frame extractor)
    messages/{video_id}/{message_id}.json  claim-checked message payloads
    transcripts/{video_id}.json          Amazon Transcribe's result (the prefix is a setting)
    documents/{video_id}.json            finished video documents
    clips/{video_id}/{request_id}/...    clips cut on request (clipper)
    redacted/{video_id}.mp4              redacted copies of videos (redactor)

See ``docs/architecture.md`` for who writes and who reads each area.
"""

from __future__ import annotations

UPLOADS_PREFIX = "uploads/"
"""Default key prefix that starts a video (``VIDEOSENSE_UPLOADS_PREFIX`` overrides it)."""

FRAMES_PREFIX = "frames/"
"""Keyframe JPEGs; expire with the bucket's ``expire-frames`` lifecycle rule."""

MESSAGES_PREFIX = "messages/"
"""Claim-checked payloads of messages too large for SNS; expire with ``expire-messages``."""

TRANSCRIPTS_PREFIX = "transcripts/"
"""Default prefix of Amazon Transcribe's result JSON (the transcriber's
``transcribe_output_prefix`` overrides it)."""

DOCUMENTS_PREFIX = "documents/"
"""Finished video documents: listing it enumerates exactly the finished videos."""

CLIPS_PREFIX = "clips/"
"""Clips cut on request: ``clips/{video_id}/{request_id}/`` holds one request's MP4 files and
its ``result.json`` (the clipper)."""
REDACTED_PREFIX = "redacted/"
"""Redacted copies of videos (faces, and text when asked, pixelated or blurred)."""

_JSON = ".json"


def keyframe_key(video_id: str, frame: int) -> str:
    """S3 key of the keyframe JPEG of ``frame`` (zero-padded, so keys sort by frame)."""
    return f"{FRAMES_PREFIX}{video_id}/{frame:09d}.jpg"


def payload_key(video_id: str, message_id: str) -> str:
    """S3 key of a message's claim-checked payload (deterministic: a redelivery overwrites it)."""
    return f"{MESSAGES_PREFIX}{video_id}/{message_id}{_JSON}"


def transcript_key(video_id: str, prefix: str = TRANSCRIPTS_PREFIX) -> str:
    """S3 key where Amazon Transcribe writes the result JSON of a video."""
    return f"{prefix}{video_id}{_JSON}"


def document_key(video_id: str) -> str:
    """S3 key of a video's finished JSON document."""
    return f"{DOCUMENTS_PREFIX}{video_id}{_JSON}"


def redacted_key(video_id: str) -> str:
    """S3 key of a video's redacted copy (deterministic: a redelivery overwrites it)."""
    return f"{REDACTED_PREFIX}{video_id}.mp4"


def is_document_key(key: str) -> bool:
    """True for a key :func:`document_key` could have produced (under the prefix, ``.json``)."""
    return key.startswith(DOCUMENTS_PREFIX) and key.endswith(_JSON)


def clips_prefix(video_id: str, request_id: str) -> str:
    """Key prefix of one clip request's files (ends with ``/``)."""
    return f"{CLIPS_PREFIX}{video_id}/{request_id}/"


def clip_key(video_id: str, request_id: str, name: str) -> str:
    """S3 key of the clip file ``name`` of a request."""
    return f"{clips_prefix(video_id, request_id)}{name}"


def clips_result_key(video_id: str, request_id: str) -> str:
    """S3 key of a request's recorded result (what a repeat of the request is answered with)."""
    return f"{clips_prefix(video_id, request_id)}result{_JSON}"

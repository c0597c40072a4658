"""Deterministic identifiers.

Ids derive from content and lineage, never from SQS message ids or clocks, so that a redelivered
message produces exactly the same children and every consumer can be idempotent on them.
"""

from __future__ import annotations

import hashlib


def _digest(*parts: str, size: int = 16) -> str:
    h = hashlib.sha256()
    for part in parts:
        # Length-prefix each part so ("ab", "c") and ("a", "bc") never collide.
        encoded = part.encode("utf-8")
        h.update(len(encoded).to_bytes(8, "big"))
        h.update(encoded)
    return h.hexdigest()[: size * 2]


def video_id_for(bucket: str, key: str, etag_or_version: str) -> str:
    """Return the video id of one S3 object version.

    The same upload twice is one video; a changed object (new ETag or version id) is a new one.
    Quotes around an ETag are ignored, since S3 APIs disagree on including them.
    """
    return "v" + _digest(bucket, key, etag_or_version.strip('"'), size=12)


def message_id_for(parent: str, kind: str, *discriminators: str) -> str:
    """Return the id of a message derived from ``parent`` (a video id or a parent message id).

    ``kind`` is the message type; ``discriminators`` tell siblings apart (e.g. a chunk index).
    """
    return _digest(parent, kind, *discriminators, size=16)


def trace_id_for(video_id: str) -> str:
    """Return the trace id that follows one video through every service."""
    return _digest("trace", video_id, size=16)

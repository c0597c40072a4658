"""Sort keys of the items in a video's collection (partition key ``video_id``).

- ``HEADER``: source, media, status, error, requested stages with their status and timings,
  chunk counters, the completion outbox and, until the completion is published, the
  ``due_shard``/``due_at`` keys of the sparse "due" index;
- ``SCENE#000042`` and ``KEYFRAME#000000123``: one per scene / keyframe;
- ``CHUNK#frames#000003``: a marker per folded chunk, so every chunk is counted exactly once;
- ``TRANSCRIPT`` (language) and ``SEGMENT#000007``: the transcript, one item per segment;
- ``REDACTION``: where the redacted copy is and what was redacted.

Numbers are zero-padded so that string order is numeric order within a prefix.
"""

from __future__ import annotations

from videosense_shared.messages import Stage

HEADER = "HEADER"
TRANSCRIPT = "TRANSCRIPT"
REDACTION = "REDACTION"
SCENE_PREFIX = "SCENE#"
KEYFRAME_PREFIX = "KEYFRAME#"
SEGMENT_PREFIX = "SEGMENT#"
CHUNK_PREFIX = "CHUNK#"

#: The one partition of the "due" index. A single value keeps the sweep one query; the index
#: only holds videos that are not yet completed, which is few items however large the table.
DUE_SHARD = "due"


def scene_key(index: int) -> str:
    """Sort key of scene ``index``."""
    return f"{SCENE_PREFIX}{index:06d}"


def keyframe_key(frame: int) -> str:
    """Sort key of the keyframe at frame number ``frame``."""
    return f"{KEYFRAME_PREFIX}{frame:09d}"


def segment_key(position: int) -> str:
    """Sort key of the transcript segment at ``position`` (0-based, in time order)."""
    return f"{SEGMENT_PREFIX}{position:06d}"


def chunk_key(stage: Stage, chunk_index: int) -> str:
    """Sort key of the marker that chunk ``chunk_index`` of ``stage`` was counted."""
    return f"{CHUNK_PREFIX}{stage.value}#{chunk_index:06d}"

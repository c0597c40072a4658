"""DynamoDB attribute values of the document items, both ways.

Structured values (source, media, scenes, keyframes, segments, per-keyframe results) are stored
as JSON strings of their contract models; timestamps as fixed-width ISO-8601 UTC strings, so
that comparing two in a condition expression compares the times.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from videosense_shared.document import DocumentKeyframe, StageInfo
from videosense_shared.messages import (
    Keyframe,
    KeyframeRecognition,
    MediaFacts,
    Segment,
    SourceRef,
    Stage,
    StageStatus,
    Transcript,
    VideoStatus,
)
from videosense_shared.store.keys import HEADER
from videosense_shared.store.protocol import Header
from videosense_shared.topology import DUE_SORT_KEY, PARTITION_KEY, SORT_KEY

#: Attributes a later stage adds to a keyframe item, named like the document's fields.
KEYFRAME_RESULT_FIELDS = ("caption", "labels", "faces", "text")


def s(value: str) -> dict[str, Any]:
    """A string attribute value."""
    return {"S": value}


def n(value: int) -> dict[str, Any]:
    """A number attribute value."""
    return {"N": str(value)}


def ts(value: datetime) -> str:
    """A timestamp as stored: UTC, microseconds always present (fixed width, sortable)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def item_key(video_id: str, sk: str) -> dict[str, Any]:
    """The primary key of one item of a video's collection."""
    return {PARTITION_KEY: s(video_id), SORT_KEY: s(sk)}


def header_key(video_id: str) -> dict[str, Any]:
    """The primary key of a video's header."""
    return item_key(video_id, HEADER)


def recognition_values(result: KeyframeRecognition) -> dict[str, dict[str, Any]]:
    """The keyframe attributes recognition sets, as ``:labels``/``:faces``/``:text`` values."""
    dumped = result.model_dump(mode="json")
    return {f":{name}": s(json.dumps(dumped[name])) for name in ("labels", "faces", "text")}


def decode_keyframe(item: dict[str, Any]) -> DocumentKeyframe:
    """A keyframe item (the frame stage's ``data`` plus later stages' results) as a document
    keyframe."""
    base = Keyframe.model_validate_json(item["data"]["S"])
    extra = {name: json.loads(item[name]["S"]) for name in KEYFRAME_RESULT_FIELDS if name in item}
    return DocumentKeyframe.model_validate({**base.model_dump(), **extra})


def assemble_transcript(language: str | None, segments: list[tuple[str, Segment]]) -> Transcript:
    """The transcript from its segments keyed by sort key (any order); the text joins them."""
    ordered = tuple(seg for _, seg in sorted(segments, key=lambda pair: pair[0]))
    text = " ".join(seg.text.strip() for seg in ordered if seg.text.strip())
    return Transcript(language=language, text=text, segments=ordered)


def _opt(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return None if value is None else str(value["S"])


def _opt_time(item: dict[str, Any], name: str) -> datetime | None:
    value = _opt(item, name)
    return datetime.fromisoformat(value) if value else None


def decode_stages(item: dict[str, Any]) -> dict[Stage, StageInfo]:
    """The header's ``stages`` map."""
    stages: dict[Stage, StageInfo] = {}
    for name, value in item.get("stages", {}).get("M", {}).items():
        fields: dict[str, Any] = {k: v.get("S") for k, v in value["M"].items()}
        if fields.get("features") is not None:
            fields["features"] = json.loads(fields["features"])
        stages[Stage(name)] = StageInfo.model_validate(fields)
    return stages


def encode_new_stages(stages: Sequence[Stage]) -> dict[str, Any]:
    """The ``stages`` map of a new header: every requested stage ``pending``."""
    return {"M": {stage.value: {"M": {"status": s(StageStatus.PENDING.value)}} for stage in stages}}


def decode_header(item: dict[str, Any]) -> Header:
    """The header item, decoded."""
    stages = decode_stages(item)
    done = {st: int(item.get(f"chunks_done_{st.value}", {"N": "0"})["N"]) for st in stages}
    count = {
        st: int(item[f"chunk_count_{st.value}"]["N"])
        for st in stages
        if f"chunk_count_{st.value}" in item
    }
    media = _opt(item, "media")
    return Header(
        video_id=item[PARTITION_KEY]["S"],
        trace_id=item["trace_id"]["S"],
        status=VideoStatus(item["status"]["S"]),
        error=_opt(item, "error"),
        source=SourceRef.model_validate_json(item["source"]["S"]),
        media=MediaFacts.model_validate_json(media) if media else None,
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        completed_at=_opt_time(item, "completed_at"),
        stages=stages,
        chunks_done=done,
        chunk_count=count,
        completion_published=bool(item.get("completion_published", {}).get("BOOL", False)),
        completion_lease_until=_opt_time(item, "completion_lease_until"),
        ingest_published=bool(item.get("ingest_published", {}).get("BOOL", False)),
        due_at=_opt_time(item, DUE_SORT_KEY),
        ingest_lease_until=_opt_time(item, "ingest_lease_until"),
    )

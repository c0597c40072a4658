"""Where a text, a label or a person appears in finished video documents (no AWS here).

A query is matched against each keyframe of a :class:`VideoDocument`; every keyframe that
matches is one :class:`Hit`, in the video's time order:

- ``text``: the query's words, case-insensitive, appear consecutively in a line or a word the
  recognizer read (``"briefing"`` and ``"MISSION BRIEFING"`` both match the line
  ``"Mission briefing:"``; ``"brief"`` does not: words match whole, punctuation is ignored);
- ``label``: a label's name equals the query, case-insensitive;
- ``person``: a recognized face's ``name`` (celebrity or face collection) equals the query,
  case-insensitive.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from videosense_shared.document import DocumentKeyframe, VideoDocument

_WORD = re.compile(r"\w+")


class QueryKind(StrEnum):
    """What a query looks for."""

    TEXT = "text"
    LABEL = "label"
    PERSON = "person"


@dataclass(frozen=True)
class Query:
    """One search: its kind and the text to look for."""

    kind: QueryKind
    value: str

    def __post_init__(self) -> None:
        if not self.value.strip():
            raise ValueError(f"--{self.kind.value} needs a non-empty value")
        if self.kind == QueryKind.TEXT and not _words(self.value):
            raise ValueError(f"--text {self.value!r} has no letters or digits to match")


@dataclass(frozen=True)
class Evidence:
    """What matched in the keyframe: the detected text, label name or face name."""

    value: str
    confidence: float


@dataclass(frozen=True)
class Hit:
    """A keyframe where the query appears."""

    video_id: str
    keyframe_id: str
    t_s: float
    scene_index: int
    frame: int
    image_bucket: str
    image_key: str
    evidence: tuple[Evidence, ...]

    def to_json(self) -> dict[str, object]:
        """The hit as a JSON-ready mapping (``--json`` output)."""
        return {
            "video_id": self.video_id,
            "keyframe_id": self.keyframe_id,
            "t_s": self.t_s,
            "scene_index": self.scene_index,
            "frame": self.frame,
            "image": {"bucket": self.image_bucket, "key": self.image_key},
            "matches": [{"value": e.value, "confidence": e.confidence} for e in self.evidence],
        }


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.casefold()))


def _contains_run(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    width = len(needle)
    return any(haystack[i : i + width] == needle for i in range(len(haystack) - width + 1))


def _evidence(keyframe: DocumentKeyframe, query: Query) -> tuple[Evidence, ...]:
    found: list[Evidence] = []
    if query.kind == QueryKind.TEXT:
        needle = _words(query.value)
        found = [
            Evidence(t.text, t.confidence)
            for t in keyframe.text
            if _contains_run(_words(t.text), needle)
        ]
    elif query.kind == QueryKind.LABEL:
        wanted = query.value.strip().casefold()
        found = [
            Evidence(label.name, label.confidence)
            for label in keyframe.labels
            if label.name.casefold() == wanted
        ]
    else:
        wanted = query.value.strip().casefold()
        found = [
            Evidence(face.name, face.confidence)
            for face in keyframe.faces
            if face.name is not None and face.name.casefold() == wanted
        ]
    # The same line can be reported twice (as a line and as its only word): keep it once.
    unique: dict[str, Evidence] = {}
    for item in found:
        kept = unique.get(item.value)
        if kept is None or item.confidence > kept.confidence:
            unique[item.value] = item
    return tuple(unique.values())


def find_in_document(document: VideoDocument, query: Query) -> list[Hit]:
    """The keyframes of one document where the query appears, in time order."""
    hits: list[Hit] = []
    for keyframe in sorted(document.keyframes, key=lambda k: (k.t_s, k.frame)):
        evidence = _evidence(keyframe, query)
        if evidence:
            hits.append(
                Hit(
                    video_id=document.video_id,
                    keyframe_id=keyframe.id,
                    t_s=keyframe.t_s,
                    scene_index=keyframe.scene_index,
                    frame=keyframe.frame,
                    image_bucket=keyframe.image.bucket,
                    image_key=keyframe.image.key,
                    evidence=evidence,
                )
            )
    return hits


def find(documents: Iterable[VideoDocument], query: Query) -> list[Hit]:
    """Every hit in every document, grouped by video (in the order given), then by time."""
    return [hit for document in documents for hit in find_in_document(document, query)]

"""A finished video document as search index entries: one per thing a search can find.

Per keyframe: each on-screen text line, each label, each recognised person's name and the
caption, with the keyframe's time, scene, id and image. Per transcript segment: its text,
speaker, start and end. Every backend indexes exactly these (see ``docs/architecture.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

from videosense_shared.document import DocumentKeyframe, VideoDocument
from videosense_shared.messages import ImageRef
from videosense_shared.search.query import EntryKind
from videosense_shared.search.words import clean_text, normalized

#: Entry kinds the text-embedding model indexes (natural-language search): sentences, not the
#: single words of labels, names and on-screen text.
EMBEDDED_KINDS = frozenset({EntryKind.TRANSCRIPT, EntryKind.CAPTION})


@dataclass(frozen=True)
class IndexEntry:
    """One searchable thing in a video: what it says and where it is."""

    kind: EntryKind
    text: str
    t_s: float  # keyframe time, or segment start
    end_s: float | None = None  # segment end (transcript only)
    scene_index: int | None = None
    keyframe_id: str | None = None
    image: ImageRef | None = None
    speaker: str | None = None

    @property
    def normalized(self) -> str:
        """The entry's words, lower-case and without accents (for the exact-match bonus)."""
        return normalized(self.text)


def _text_lines(keyframe: DocumentKeyframe) -> list[str]:
    # The recognizer may report a line and also its words ("MISSION BRIEFING", "MISSION",
    # "BRIEFING"): index the lines only, so one line on screen is one hit, not three.
    found = [(i, clean_text(t.text)) for i, t in enumerate(keyframe.text)]
    words = [(i, text, f" {normalized(text)} ") for i, text in found]
    kept: list[tuple[int, str, str]] = []
    for i, text, padded in sorted(words, key=lambda w: -len(w[2])):
        if padded.strip() and not any(padded in other for _, _, other in kept):
            kept.append((i, text, padded))
    return [text for _, text, _ in sorted(kept)]


def _unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    kept: list[str] = []
    for value in values:
        key = normalized(value)
        if key and key not in seen:
            seen.add(key)
            kept.append(value)
    return kept


def keyframe_entries(keyframe: DocumentKeyframe) -> list[IndexEntry]:
    """The entries of one keyframe: text lines, labels, person names, caption."""

    def entry(kind: EntryKind, text: str) -> IndexEntry:
        return IndexEntry(
            kind=kind,
            text=text,
            t_s=keyframe.t_s,
            scene_index=keyframe.scene_index,
            keyframe_id=keyframe.id,
            image=keyframe.image,
        )

    entries = [entry(EntryKind.TEXT, line) for line in _text_lines(keyframe)]
    labels = _unique([clean_text(label.name) for label in keyframe.labels])
    entries += [entry(EntryKind.LABEL, name) for name in labels]
    names = _unique([clean_text(face.name) for face in keyframe.faces if face.name])
    entries += [entry(EntryKind.PERSON, name) for name in names]
    caption = clean_text(keyframe.caption or "")
    if normalized(caption):
        entries.append(entry(EntryKind.CAPTION, caption))
    return entries


def document_entries(document: VideoDocument) -> list[IndexEntry]:
    """Every entry of a finished document: keyframes in time order, then the transcript.

    A failed document usually has none; it is still indexed (as a video) so it can be listed.
    """
    entries: list[IndexEntry] = []
    for keyframe in sorted(document.keyframes, key=lambda k: (k.t_s, k.frame)):
        entries.extend(keyframe_entries(keyframe))
    if document.transcript is not None:
        for segment in document.transcript.segments:
            text = clean_text(segment.text)
            if not normalized(text):
                continue
            speaker = clean_text(segment.speaker) if segment.speaker else None
            entries.append(
                IndexEntry(
                    kind=EntryKind.TRANSCRIPT,
                    text=text,
                    t_s=segment.start_s,
                    end_s=segment.end_s,
                    speaker=speaker or None,
                )
            )
    return entries

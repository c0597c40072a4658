"""Where the moments a selector asks for are in a finished video document (no I/O here).

Matching follows ``videosense find`` (whole words, case-insensitive, punctuation ignored, for
text on screen and spoken words; exact names, case-insensitive, for labels and people); the
range of a match is:

- ``person``: the person's own time on screen, from the face tracks the redaction recorded
  (``redaction.face_tracks``: first to last frame of each track carrying the name) when the
  document has any for that name; otherwise, like ``label``/``text``, the whole scene of each
  keyframe whose faces carry the name;
- ``label``/``text``: the whole scene of each matching keyframe (a keyframe stands for its
  shot, so the clip is the shot, not one frame);
- ``say``: each transcript segment whose words hold the phrase, start to end;
- ``from_s``/``to_s``: that range;
- ``ranges``: those ranges, as given (a client resolved them, e.g. ``videosense clip --query``
  from the search index's hits), duplicates dropped.

Padding and merging come after (:func:`clipper.ranges.prepare`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clipper.ranges import TimeRange
from videosense_shared.document import DocumentKeyframe, VideoDocument
from videosense_shared.messages import ClipSelector, ClipSource

_WORD = re.compile(r"\w+")
_DEFAULT_FPS = 25.0


def words(text: str) -> tuple[str, ...]:
    """The words of ``text``, case-folded, punctuation dropped."""
    return tuple(_WORD.findall(text.casefold()))


def contains_phrase(haystack: str, phrase: str) -> bool:
    """True when the words of ``phrase`` appear consecutively among those of ``haystack``."""
    needle = words(phrase)
    hay = words(haystack)
    width = len(needle)
    return width > 0 and any(hay[i : i + width] == needle for i in range(len(hay) - width + 1))


def _matches(keyframe: DocumentKeyframe, selector: ClipSelector) -> bool:
    if selector.text is not None:
        return any(contains_phrase(t.text, selector.text) for t in keyframe.text)
    if selector.label is not None:
        wanted = selector.label.strip().casefold()
        return any(label.name.casefold() == wanted for label in keyframe.labels)
    if selector.person is not None:
        wanted = selector.person.strip().casefold()
        return any(f.name is not None and f.name.casefold() == wanted for f in keyframe.faces)
    return False


def _keyframe_ranges(document: VideoDocument, selector: ClipSelector) -> list[TimeRange]:
    scenes = {scene.index: scene for scene in document.scenes}
    fps = document.media.fps if document.media and document.media.fps else _DEFAULT_FPS
    found: dict[tuple[float, float], TimeRange] = {}
    for keyframe in document.keyframes:
        if not _matches(keyframe, selector):
            continue
        scene = scenes.get(keyframe.scene_index)
        if scene is not None and scene.end_s > scene.start_s:
            span = TimeRange(scene.start_s, scene.end_s)
        else:  # a document without its scene: the keyframe's own frame
            span = TimeRange(keyframe.t_s, keyframe.t_s + 1.0 / fps)
        found[(span.start_s, span.end_s)] = span
    return sorted(found.values())


def _spoken_ranges(document: VideoDocument, phrase: str) -> list[TimeRange]:
    if document.transcript is None:
        return []
    return sorted(
        TimeRange(segment.start_s, segment.end_s)
        for segment in document.transcript.segments
        if segment.end_s > segment.start_s and contains_phrase(segment.text, phrase)
    )


def _track_ranges(document: VideoDocument, person: str) -> list[TimeRange]:
    """The on-screen ranges of the face tracks carrying ``person``'s name (case-insensitive)."""
    if document.redaction is None or not document.redaction.face_tracks:
        return []
    wanted = person.strip().casefold()
    return sorted(
        {
            TimeRange(track.start_s, track.end_s)
            for track in document.redaction.face_tracks
            if track.name is not None and track.name.casefold() == wanted
        }
    )


@dataclass(frozen=True)
class Moments:
    """The ranges a selector found (time order, unpadded) and where they came from."""

    ranges: list[TimeRange]
    source: ClipSource


def find_moments(document: VideoDocument, selector: ClipSelector) -> Moments:
    """The time ranges of ``document`` that ``selector`` selects, in time order, unpadded
    (empty when nothing matches), and their source.

    Raises:
        ValueError: a ``text`` or ``say`` phrase with no letters or digits to match.
    """
    for phrase in (selector.text, selector.say):
        if phrase is not None and not words(phrase):
            raise ValueError(f"{phrase!r} has no letters or digits to match")
    if selector.from_s is not None and selector.to_s is not None:
        return Moments([TimeRange(selector.from_s, selector.to_s)], "explicit")
    if selector.ranges is not None:
        spans = sorted({TimeRange(span.from_s, span.to_s) for span in selector.ranges})
        return Moments(spans, "explicit")
    if selector.say is not None:
        return Moments(_spoken_ranges(document, selector.say), "transcript")
    if selector.person is not None:
        # A person's exact time on screen where the redaction followed their face; the scenes
        # of the keyframes showing them where it did not (no redaction, or no named track).
        tracked = _track_ranges(document, selector.person)
        if tracked:
            return Moments(tracked, "face_tracks")
    return Moments(_keyframe_ranges(document, selector), "scenes")


def find_ranges(document: VideoDocument, selector: ClipSelector) -> list[TimeRange]:
    """The time ranges of :func:`find_moments`, without their source.

    Raises:
        ValueError: a ``text`` or ``say`` phrase with no letters or digits to match.
    """
    return find_moments(document, selector).ranges


def describe(selector: ClipSelector) -> str:
    """The selector in the command line's words, e.g. ``--person 'Jane Doe'``."""
    if selector.from_s is not None:
        return f"--from {selector.from_s:g} --to {selector.to_s:g}"
    if selector.ranges is not None:
        return f"{len(selector.ranges)} explicit range(s)"
    for name in ("person", "label", "text", "say"):
        value = getattr(selector, name)
        if value is not None:
            return f"--{name} {value!r}"
    return "?"

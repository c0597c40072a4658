"""Where the moments a selector asks for are in a finished video document (no I/O here).

Matching follows ``videosense find`` (whole words, case-insensitive, punctuation ignored, for
text on screen and spoken words; exact names, case-insensitive, for labels and people); the
range of a match is:

- ``person``/``label``/``text``: the whole scene of each matching keyframe (a keyframe stands
  for its shot, so the clip is the shot, not one frame);
- ``say``: each transcript segment whose words hold the phrase, start to end;
- ``from_s``/``to_s``: that range;
- ``ranges``: those ranges, as given (a client resolved them, e.g. ``videosense clip --query``
  from the search index's hits), duplicates dropped.

Padding and merging come after (:func:`clipper.ranges.prepare`).
"""

from __future__ import annotations

import re

from clipper.ranges import TimeRange
from videosense_shared.document import DocumentKeyframe, VideoDocument
from videosense_shared.messages import ClipSelector

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


def find_ranges(document: VideoDocument, selector: ClipSelector) -> list[TimeRange]:
    """The time ranges of ``document`` that ``selector`` selects, in time order, unpadded
    (empty when nothing matches).

    Raises:
        ValueError: a ``text`` or ``say`` phrase with no letters or digits to match.
    """
    for phrase in (selector.text, selector.say):
        if phrase is not None and not words(phrase):
            raise ValueError(f"{phrase!r} has no letters or digits to match")
    if selector.from_s is not None and selector.to_s is not None:
        return [TimeRange(selector.from_s, selector.to_s)]
    if selector.ranges is not None:
        return sorted({TimeRange(span.from_s, span.to_s) for span in selector.ranges})
    if selector.say is not None:
        return _spoken_ranges(document, selector.say)
    return _keyframe_ranges(document, selector)


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

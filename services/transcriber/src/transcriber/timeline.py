"""Assembling a :class:`Transcript` from backend output whose times may be untidy.

Recognisers report times that can overshoot the audio (Whisper's timestamp tokens near the end
of a window, a padded last frame) or, rarely, run backwards. The document promises times inside
the audio with ``start_s <= end_s``, segments in order: this module enforces that in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from videosense_shared.messages import Segment, Transcript, Word


@dataclass
class RawWord:
    """A word as a backend reports it (seconds, confidence 0..1 or unknown)."""

    word: str
    start_s: float
    end_s: float
    confidence: float | None = None


@dataclass
class RawSegment:
    """A segment as a backend reports it."""

    start_s: float
    end_s: float
    text: str
    speaker: str | None = None
    words: list[RawWord] = field(default_factory=list)


def _clamp(value: float, low: float, high: float) -> float:
    # Milliseconds: frame arithmetic leaves float noise (0.9000000000000006) otherwise.
    return round(min(max(value, low), high), 3)


def build_transcript(
    language: str | None, segments: Iterable[RawSegment], duration_s: float | None
) -> Transcript:
    """Order and clamp ``segments`` (and their words) into a :class:`Transcript`.

    Times are rounded to milliseconds and clamped to ``[0, duration_s]`` (no upper bound when
    the duration is unknown), each end is at least its start, segments are sorted by start and
    words kept in order inside their segment; empty segments are dropped. The full text joins
    the segments' texts with spaces. When no segment is left, nothing was said: the language
    is ``None`` whatever the backend guessed (Whisper names one for music or a tone too).
    """
    high = duration_s if duration_s is not None and duration_s > 0 else float("inf")
    out: list[Segment] = []
    for raw in sorted(segments, key=lambda s: s.start_s):
        text = " ".join(raw.text.split())
        if not text:
            continue
        start = _clamp(raw.start_s, 0.0, high)
        end = _clamp(raw.end_s, start, high)
        words: list[Word] = []
        floor = start
        for w in raw.words:
            token = w.word.strip()
            if not token:
                continue
            # Words stay inside their segment and never go backwards.
            w_start = _clamp(w.start_s, floor, end)
            w_end = _clamp(w.end_s, w_start, end)
            confidence = None if w.confidence is None else min(max(w.confidence, 0.0), 1.0)
            words.append(Word(word=token, start_s=w_start, end_s=w_end, confidence=confidence))
            floor = w_start
        out.append(
            Segment(start_s=start, end_s=end, text=text, speaker=raw.speaker, words=tuple(words))
        )
    spoken = language if out else None
    return Transcript(language=spoken, text=" ".join(s.text for s in out), segments=tuple(out))

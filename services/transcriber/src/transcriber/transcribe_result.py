"""Mapping Amazon Transcribe's result JSON onto a :class:`Transcript` (pure: no AWS calls).

The result document (``results``) holds ``items``: ``pronunciation`` items are words with
``start_time``/``end_time`` (strings of seconds), ``alternatives[0]`` with ``content`` and
``confidence`` (a string 0..1) and, with speaker labels, ``speaker_label``; ``punctuation``
items have no times and attach to the word before them. Segments come from ``audio_segments``
when Transcribe provides them (it splits on pauses and speaker turns); otherwise the words are
grouped into speaker turns, and a turn is split at a sentence end after a pause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from transcriber.timeline import RawSegment, RawWord, build_transcript
from videosense_shared.messages import Transcript

# Without audio_segments: a turn is split at a sentence end followed by this much silence, or
# anywhere after a pause this long, so segments stay readable sizes.
_SENTENCE_PAUSE_S = 0.5
_LONG_PAUSE_S = 2.0
_SENTENCE_END = (".", "?", "!")


class TranscribeResultError(ValueError):
    """The result document does not have the shape Amazon Transcribe writes."""


@dataclass
class _Item:
    id: int | None
    kind: str
    content: str
    start_s: float | None
    end_s: float | None
    confidence: float | None
    speaker: str | None


def _float(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(str(value))
    except ValueError as err:
        raise TranscribeResultError(f"not a number: {value!r}") from err


def _items(results: Mapping[str, Any]) -> list[_Item]:
    raw_items = results.get("items")
    if not isinstance(raw_items, list):
        raise TranscribeResultError("results.items is missing")
    items: list[_Item] = []
    for index, raw in enumerate(raw_items):
        alternatives = raw.get("alternatives") or [{}]
        best = alternatives[0]
        kind = str(raw.get("type", ""))
        if kind not in ("pronunciation", "punctuation"):
            raise TranscribeResultError(f"item {index} has an unknown type {kind!r}")
        raw_id = raw.get("id")
        items.append(
            _Item(
                id=int(raw_id) if raw_id is not None else None,
                kind=kind,
                content=str(best.get("content", "")),
                start_s=_float(raw.get("start_time")),
                end_s=_float(raw.get("end_time")),
                confidence=_float(best.get("confidence")),
                speaker=raw.get("speaker_label"),
            )
        )
    return items


def _words_with_punctuation(items: Sequence[_Item]) -> list[tuple[_Item, RawWord]]:
    """Pair every pronunciation item with its word; punctuation is glued onto the word."""
    out: list[tuple[_Item, RawWord]] = []
    for item in items:
        if item.kind == "punctuation":
            if out:
                out[-1][1].word += item.content
            continue
        if item.start_s is None or item.end_s is None:
            raise TranscribeResultError(f"word {item.content!r} has no times")
        out.append((item, RawWord(item.content, item.start_s, item.end_s, item.confidence)))
    return out


def _segment(words: Sequence[RawWord], speaker: str | None) -> RawSegment:
    return RawSegment(
        start_s=words[0].start_s,
        end_s=words[-1].end_s,
        text=" ".join(w.word for w in words),
        speaker=speaker,
        words=list(words),
    )


def _by_audio_segments(
    audio_segments: Sequence[Mapping[str, Any]], words: Sequence[tuple[_Item, RawWord]]
) -> list[RawSegment]:
    by_id = {item.id: word for item, word in words if item.id is not None}
    speakers = {item.id: item.speaker for item, _ in words if item.id is not None}
    segments = []
    for raw in audio_segments:
        ids = [int(i) for i in raw.get("items", [])]
        seg_words = [by_id[i] for i in ids if i in by_id]
        if not seg_words:
            continue
        speaker = raw.get("speaker_label") or next(
            (speakers[i] for i in ids if speakers.get(i)), None
        )
        segment = _segment(seg_words, speaker)
        segment.start_s = _float(raw.get("start_time")) or segment.start_s
        segment.end_s = _float(raw.get("end_time")) or segment.end_s
        segments.append(segment)
    return segments


def _by_turns(words: Sequence[tuple[_Item, RawWord]]) -> list[RawSegment]:
    segments: list[RawSegment] = []
    current: list[RawWord] = []
    speaker: str | None = None
    for item, word in words:
        if current:
            gap = word.start_s - current[-1].end_s
            sentence_end = current[-1].word.endswith(_SENTENCE_END)
            if (
                item.speaker != speaker
                or gap >= _LONG_PAUSE_S
                or (sentence_end and gap >= _SENTENCE_PAUSE_S)
            ):
                segments.append(_segment(current, speaker))
                current = []
        if not current:
            speaker = item.speaker
        current.append(word)
    if current:
        segments.append(_segment(current, speaker))
    return segments


def transcript_from_result(
    document: Mapping[str, Any], language: str | None, duration_s: float | None
) -> Transcript:
    """Map a Transcribe result document onto a transcript.

    ``language`` is the job's language code (given or identified); when unknown, the result's
    own ``language_code`` is used.

    Raises:
        TranscribeResultError: the document is not a Transcribe result.
    """
    results = document.get("results")
    if not isinstance(results, Mapping):
        raise TranscribeResultError("the document has no 'results'")
    words = _words_with_punctuation(_items(results))
    audio_segments = results.get("audio_segments")
    if isinstance(audio_segments, list) and audio_segments:
        segments = _by_audio_segments(audio_segments, words)
    else:
        segments = _by_turns(words)
    language = language or results.get("language_code")
    return build_transcript(language, segments, duration_s)

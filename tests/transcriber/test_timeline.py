"""Transcript assembly: times clamped into the audio, ordered, empty segments dropped."""

from __future__ import annotations

import pytest

from transcriber.timeline import RawSegment, RawWord, build_transcript


def test_times_beyond_the_audio_are_clamped() -> None:
    # GIVEN a segment whose end and last word overshoot a 3 s audio (Whisper near a window end)
    raw = RawSegment(
        2.0, 27.2, " tail  text ", words=[RawWord("tail", 2.0, 2.5), RawWord("text", 26.0, 30.0)]
    )
    # WHEN the transcript is built
    transcript = build_transcript("en", [raw], duration_s=3.0)
    # THEN every time lies in [0, 3], text whitespace normalised
    (segment,) = transcript.segments
    assert (segment.start_s, segment.end_s, segment.text) == (2.0, 3.0, "tail text")
    assert [(w.start_s, w.end_s) for w in segment.words] == [(2.0, 2.5), (3.0, 3.0)]


def test_segments_are_sorted_and_empty_ones_dropped() -> None:
    # GIVEN segments out of order, one of them blank
    segments = [
        RawSegment(5.0, 6.0, "second"),
        RawSegment(1.0, 2.0, "first"),
        RawSegment(3, 4, " "),
    ]
    # WHEN the transcript is built
    transcript = build_transcript(None, segments, duration_s=None)
    # THEN they are in time order without the blank one
    assert [s.text for s in transcript.segments] == ["first", "second"]
    assert transcript.text == "first second"


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        pytest.param([RawWord("a", 1.5, 1.2)], [(1.5, 1.5)], id="end-before-start-becomes-instant"),
        pytest.param(
            [RawWord("a", 1.4, 1.6), RawWord("b", 1.2, 1.3)],
            [(1.4, 1.6), (1.4, 1.4)],
            id="word-going-backwards-is-held",
        ),
        pytest.param([RawWord("a", 0.5, 1.2)], [(1.0, 1.2)], id="word-before-segment-is-moved-in"),
    ],
)
def test_word_times_never_go_backwards(
    words: list[RawWord], expected: list[tuple[float, float]]
) -> None:
    # GIVEN a 1..2 s segment with untidy word times
    transcript = build_transcript(None, [RawSegment(1.0, 2.0, "x", words=words)], None)
    # THEN each word is inside the segment and starts no earlier than the previous one
    assert [(w.start_s, w.end_s) for w in transcript.segments[0].words] == expected


def test_confidence_is_kept_in_range() -> None:
    # GIVEN a backend reporting a probability a hair above 1
    raw = RawSegment(0, 1, "x", words=[RawWord("x", 0, 1, 1.0000001)])
    # THEN it is clamped, and an unknown confidence stays unknown
    assert build_transcript(None, [raw], None).segments[0].words[0].confidence == 1.0
    raw = RawSegment(0, 1, "x", words=[RawWord("x", 0, 1)])
    assert build_transcript(None, [raw], None).segments[0].words[0].confidence is None


@pytest.mark.parametrize(
    "segments",
    [pytest.param([], id="no-segment"), pytest.param([RawSegment(0, 1, "  ")], id="blank-only")],
)
def test_nothing_said_has_no_language(segments: list[RawSegment]) -> None:
    # GIVEN a backend that named a language but produced no words (a tone, music, silence)
    # WHEN the transcript is built / THEN it has no language rather than the backend's guess
    transcript = build_transcript("en", segments, duration_s=4.0)
    assert (transcript.language, transcript.text, transcript.segments) == (None, "", ())


def test_something_said_keeps_its_language() -> None:
    assert build_transcript("de", [RawSegment(0, 1, "hallo")], 2.0).language == "de"

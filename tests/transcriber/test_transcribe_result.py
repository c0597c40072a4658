"""Mapping Amazon Transcribe's result JSON (a real-shaped fixture) onto the transcript."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from transcriber.transcribe_result import TranscribeResultError, transcript_from_result

FIXTURE = Path(__file__).parents[1] / "fixtures" / "transcribe" / "two_speakers.json"


@pytest.fixture
def result() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(FIXTURE.read_text())
    return document


def test_audio_segments_become_segments_with_speakers(result: dict[str, Any]) -> None:
    # GIVEN a two-speaker result with audio_segments
    # WHEN it is mapped
    transcript = transcript_from_result(result, "en-US", duration_s=6.0)
    # THEN one segment per speaker turn, punctuation glued to words, times as numbers
    assert transcript.language == "en-US"
    assert [s.speaker for s in transcript.segments] == ["spk_0", "spk_1"]
    assert [s.text for s in transcript.segments] == [
        "Welcome to the show. Today we talk about rivers.",
        "Thanks, glad to be here!",
    ]
    assert transcript.text == result["results"]["transcripts"][0]["transcript"]
    first, second = transcript.segments
    assert (first.start_s, first.end_s) == (0.64, 3.58)
    assert (second.start_s, second.end_s) == (4.21, 5.66)
    assert [w.word for w in second.words] == ["Thanks,", "glad", "to", "be", "here!"]
    assert second.words[0].start_s == 4.21
    assert second.words[0].end_s == 4.59
    assert second.words[0].confidence == pytest.approx(0.983)


def test_without_audio_segments_words_are_grouped_by_turns_and_pauses(
    result: dict[str, Any],
) -> None:
    # GIVEN an older-style result: no audio_segments, no item ids, no speaker labels
    older = copy.deepcopy(result)
    del older["results"]["audio_segments"]
    del older["results"]["speaker_labels"]
    for item in older["results"]["items"]:
        item.pop("id")
        item.pop("speaker_label")
    # WHEN it is mapped
    transcript = transcript_from_result(older, None, duration_s=None)
    # THEN a sentence end followed by a pause (rivers. -> Thanks: 0.63 s) splits, a short
    # one (show. -> Today: 0.21 s) does not
    assert [s.text for s in transcript.segments] == [
        "Welcome to the show. Today we talk about rivers.",
        "Thanks, glad to be here!",
    ]
    assert all(s.speaker is None for s in transcript.segments)


def test_a_speaker_change_splits_even_without_a_pause(result: dict[str, Any]) -> None:
    # GIVEN no audio_segments and the second speaker starting mid-sentence
    turns = copy.deepcopy(result)
    del turns["results"]["audio_segments"]
    turns["results"]["items"][5]["speaker_label"] = "spk_1"  # "Today"
    # WHEN it is mapped
    transcript = transcript_from_result(turns, "en-US", duration_s=None)
    # THEN every speaker change starts a segment
    assert [(s.speaker, s.text.split()[0]) for s in transcript.segments] == [
        ("spk_0", "Welcome"),
        ("spk_1", "Today"),
        ("spk_0", "we"),
        ("spk_1", "Thanks,"),
    ]


def test_the_language_falls_back_to_the_result(result: dict[str, Any]) -> None:
    # GIVEN a result carrying its language code, and no job language
    result["results"]["language_code"] = "es-US"
    # THEN the result's language is used
    assert transcript_from_result(result, None, None).language == "es-US"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(lambda d: d.pop("results"), "no 'results'", id="no-results"),
        pytest.param(lambda d: d["results"].pop("items"), "items is missing", id="no-items"),
        pytest.param(
            lambda d: d["results"]["items"][0].update(type="music"), "unknown type", id="bad-type"
        ),
        pytest.param(
            lambda d: d["results"]["items"][0].update(start_time="soon"),
            "not a number",
            id="bad-time",
        ),
    ],
)
def test_a_document_of_another_shape_is_refused(
    result: dict[str, Any], mutate: Any, message: str
) -> None:
    # GIVEN a document that is not a Transcribe result
    mutate(result)
    # THEN mapping it raises a readable error
    with pytest.raises(TranscribeResultError, match=message):
        transcript_from_result(result, "en-US", None)

"""pocketsphinx for real, on speech the test generates with flite (no mocks, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.speech import SENTENCES, make_speech_clip, word_accuracy
from transcriber.audio import ExtractedAudio, extract_audio
from transcriber.sphinx import PocketSphinxSpeechModel
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.messages import Transcript


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> ExtractedAudio:
    tmp = tmp_path_factory.mktemp("sphinx")
    clip = make_speech_clip(tmp / "speech.mp4")
    return extract_audio(clip, tmp / "speech.wav")


@pytest.fixture(scope="module")
def transcript(speech: ExtractedAudio) -> Transcript:
    return PocketSphinxSpeechModel().recognize(speech)


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        pytest.param("a b c d", "a b c d", 1.0, id="identical"),
        pytest.param("a b c d", "a x c d", 0.75, id="one-substitution"),
        pytest.param("a b c d", "a c d", 0.75, id="one-deletion"),
        pytest.param("a b", "x y z w v", 0.0, id="floored-at-zero"),
    ],
)
def test_word_accuracy_is_one_minus_wer(reference: str, hypothesis: str, expected: float) -> None:
    assert word_accuracy(reference, hypothesis) == pytest.approx(expected)


def test_recognizes_the_known_sentences(transcript: Transcript) -> None:
    # GIVEN flite speaking three known sentences
    # WHEN pocketsphinx transcribes them
    # THEN at least 80% of the words are right, in English
    reference = " ".join(SENTENCES)
    assert word_accuracy(reference, transcript.text) >= 0.8, transcript.text
    assert transcript.language == "en"


def test_segments_split_on_the_pause_and_stay_inside_the_audio(
    transcript: Transcript, speech: ExtractedAudio
) -> None:
    # GIVEN three sentences 1.2 s apart after 0.7 s of silence
    # THEN each becomes a segment, in order, inside the audio, the first after the silence
    assert len(transcript.segments) == len(SENTENCES), [s.text for s in transcript.segments]
    for segment, sentence in zip(transcript.segments, SENTENCES, strict=True):
        assert word_accuracy(sentence, segment.text) >= 0.7
        assert 0 <= segment.start_s < segment.end_s <= speech.duration_s
    assert transcript.segments[0].start_s > 0.3
    assert transcript.segments[0].end_s < transcript.segments[1].start_s


def test_words_have_ordered_times_and_confidences(
    transcript: Transcript, speech: ExtractedAudio
) -> None:
    # THEN every word lies in its segment, words follow each other, confidences are 0..1
    for segment in transcript.segments:
        assert segment.text == " ".join(w.word for w in segment.words)
        previous_end = segment.start_s
        for word in segment.words:
            assert segment.start_s <= word.start_s <= word.end_s <= segment.end_s
            assert word.start_s >= previous_end - 1e-6
            assert word.confidence is not None
            assert 0 <= word.confidence <= 1
            previous_end = word.end_s
    assert all("(" not in w.word and not w.word.startswith("<") for s in transcript.segments
               for w in s.words)  # fmt: skip


def test_silence_gives_an_empty_transcript(tmp_path: Path) -> None:
    # GIVEN two seconds of digital silence
    import wave

    path = tmp_path / "silence.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16_000)
        wav.writeframes(bytes(2 * 32_000))
    # WHEN it is transcribed
    transcript = PocketSphinxSpeechModel().recognize(ExtractedAudio(path, 2.0))
    # THEN there is no text, no segment and no language (not an error)
    assert transcript.text == ""
    assert transcript.segments == ()
    assert transcript.language is None


@pytest.mark.parametrize(
    "language", [pytest.param("fr", id="french"), pytest.param("de-DE", id="german")]
)
def test_a_language_it_has_no_model_for_is_refused_clearly(language: str) -> None:
    # GIVEN a language pocketsphinx's bundled model does not speak
    # WHEN the model is built
    # THEN it says so instead of transcribing French with an English model
    with pytest.raises(BackendUnavailableError, match="English model only"):
        PocketSphinxSpeechModel(language=language)

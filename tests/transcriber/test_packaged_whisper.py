"""The default transcriber, for real: Whisper base as installed by ``make setup`` (the model
packages), with no configuration and no network, on a few seconds of synthesised speech."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.clips import ffmpeg_binary
from tests.support.speech import espeak_audio, word_accuracy
from tools.make_sample import make_sample
from transcriber.audio import ExtractedAudio, extract_audio
from transcriber.audio_windows import read_windows
from transcriber.packaged_model import PACKAGED_BASE, WHISPER_BASE, PackagedModel
from transcriber.settings import TranscriberSettings
from transcriber.speech_groups import speech_cut
from transcriber.whisper import WhisperSpeechModel
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.messages import Transcript

pytestmark = pytest.mark.integration

ENGLISH = "please send the report to my office before noon on friday"
GERMAN = "Guten Morgen. Heute scheint die Sonne, und wir gehen zusammen in den Park."


@pytest.fixture(scope="module")
def default_model() -> WhisperSpeechModel:
    # The transcriber's defaults, with nothing set in the environment for it.
    settings = TranscriberSettings(_env_prefix="VIDEOSENSE_UNSET_FOR_TEST_")
    model = WhisperSpeechModel(settings.whisper_model, language=settings.language)
    model.load()
    return model


def _audio(tmp_path: Path, text: str, voice: str) -> ExtractedAudio:
    spoken = espeak_audio(tmp_path / f"{voice}.flac", text, voice=voice)
    return extract_audio(spoken, tmp_path / f"{voice}.wav")


def _words_inside(transcript: Transcript, duration_s: float) -> None:
    words = [w for segment in transcript.segments for w in segment.words]
    assert words
    for word in words:
        assert 0 <= word.start_s <= word.end_s <= duration_s, word


def test_with_no_configuration_the_packaged_multilingual_model_is_used() -> None:
    # GIVEN no transcriber setting at all
    settings = TranscriberSettings(_env_prefix="VIDEOSENSE_UNSET_FOR_TEST_")
    # WHEN the whisper backend's model is chosen
    # THEN it is the model installed as packages, found through those packages
    assert settings.backend == "whisper"
    assert settings.whisper_model == PACKAGED_BASE
    for package, file in WHISPER_BASE.parts + WHISPER_BASE.files:
        assert WHISPER_BASE.locate(package, file).is_file()


def test_english_speech_is_transcribed_word_by_word(
    default_model: WhisperSpeechModel, tmp_path: Path
) -> None:
    # GIVEN a short English sentence spoken by espeak-ng, alone in a FLAC file
    audio = _audio(tmp_path, ENGLISH, "en-us")
    # WHEN the default model transcribes it
    transcript = default_model.recognize(audio)
    # THEN the words come out, in English, each timed inside the audio
    assert transcript.language == "en"
    assert word_accuracy(ENGLISH, _plain(transcript.text)) >= 0.8, transcript.text
    assert audio.duration_s is not None
    _words_inside(transcript, audio.duration_s)
    assert default_model.model == PACKAGED_BASE


def test_german_speech_is_identified_as_german(
    default_model: WhisperSpeechModel, tmp_path: Path
) -> None:
    # GIVEN a German sentence, and no language configured
    audio = _audio(tmp_path, GERMAN, "de")
    # WHEN the default model transcribes it
    transcript = default_model.recognize(audio)
    # THEN the document's language is the identified one, and German words come out
    assert transcript.language == "de"
    # (Whisper base hears espeak-ng's German second half differently with every small change
    # of where the decode starts: "Sonne"/"Monde", "Park"/"Tag"; the first half it always gets.)
    assert {"guten", "morgen", "heute", "scheint"} <= set(_plain(transcript.text).split()), (
        transcript.text
    )
    assert audio.duration_s is not None
    _words_inside(transcript, audio.duration_s)


def test_a_tone_with_no_speech_has_no_language(
    default_model: WhisperSpeechModel, tmp_path: Path
) -> None:
    # GIVEN four seconds of a 440 Hz tone and nothing spoken (Whisper alone names "en" for it)
    tone = tmp_path / "tone.flac"
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=4:sample_rate=16000", str(tone),
        ],
        check=True,
    )  # fmt: skip
    audio = extract_audio(tone, tmp_path / "tone.wav")
    # WHEN the default model transcribes it
    transcript = default_model.recognize(audio)
    # THEN no segment, and the language is unknown rather than a guess
    assert transcript.segments == ()
    assert transcript.language is None


def test_a_missing_model_package_is_a_clear_reason_not_a_crash() -> None:
    # GIVEN a packaged model whose package is not installed
    missing = PackagedModel(
        name="packaged:nothing",
        parts=(("videosense_no_such_model_package", "model.bin.part1"),),
        files=(),
    )
    # WHEN its files are opened
    # THEN the backend is unavailable with a reason saying how to install it
    with pytest.raises(BackendUnavailableError, match=r"requirements/models-speech\.txt"):
        missing.open_files()


def test_an_unknown_packaged_name_is_refused_at_load() -> None:
    # GIVEN the whisper backend asked for a packaged model that does not exist
    model = WhisperSpeechModel("packaged:huge")
    # WHEN it loads THEN it says which packaged models exist
    with pytest.raises(BackendUnavailableError, match="packaged:base"):
        model.load()


def _plain(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum() or c.isspace())


def test_the_default_decoding_is_greedy() -> None:
    # Greedy decoding (beam 1) is the default: as accurate as beam 5 on the benchmark's
    # speech at 0.6x its time (bench/README.md), which keeps a minute of video under a minute.
    settings = TranscriberSettings(_env_prefix="VIDEOSENSE_UNSET_FOR_TEST_")
    assert settings.whisper_beam_size == 1


class _Recording:
    """The loaded faster-whisper model, passed through, noting each segment's temperature."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.temperatures: list[float] = []

    def transcribe(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        segments, info = self._model.transcribe(*args, **kwargs)
        listed = list(segments)
        self.temperatures.extend(segment.temperature for segment in listed)
        return iter(listed), info


def test_repeated_speech_is_decoded_once_not_again_at_every_temperature(tmp_path: Path) -> None:
    # GIVEN one sentence said four times in a row (a jingle, an announcement): real text that
    # compresses well, which faster-whisper's loop check would take for a decoding loop
    settings = TranscriberSettings(_env_prefix="VIDEOSENSE_UNSET_FOR_TEST_")
    model = WhisperSpeechModel(
        settings.whisper_model,
        language=settings.language,
        temperature_fallback=settings.whisper_temperature_fallback,
        loop_ratio=settings.whisper_loop_ratio,
    )
    recording = _Recording(model.load())
    model._loaded = recording  # the same model, seen through the recorder
    audio = _audio(tmp_path, " ".join([ENGLISH + "."] * 4), "en")
    # WHEN it is transcribed with the default settings
    transcript = model.recognize(audio)
    # THEN every window is decoded greedily once, and the text is no decoding loop: with the
    # loop check on (ratio 2.4) the hotter re-decodes wrote the sentence about 20 times.
    # Whisper base itself hears three or four of the four identical sentences.
    assert recording.temperatures
    assert set(recording.temperatures) == {0.0}
    heard = _plain(" ".join(segment.text for segment in transcript.segments))
    assert 3 <= heard.count("report to my office") <= 4, heard


def test_speech_running_past_one_decode_is_transcribed_whole(
    default_model: WhisperSpeechModel, tmp_path: Path
) -> None:
    # GIVEN the demo sample's speech (espeak-ng, about 10 s) said five times with short pauses:
    # more than one 30 s decode of Whisper, and the case where faster-whisper's own VAD joining
    # put a decode boundary inside a word (a minute of it lost 17 s of speech and hallucinated a
    # line four times)
    video = make_sample(tmp_path / "talk.mp4", seconds=60, size=(320, 180))
    audio = extract_audio(video, tmp_path / "talk.wav")
    assert audio.duration_s is not None
    # WHEN the default model transcribes it
    transcript = default_model.recognize(audio)
    # THEN every saying is there, and the speech is covered from its start to its end without
    # a hole longer than the pauses between sentences
    heard = _plain(transcript.text)
    assert heard.count("should appear in the transcript") >= 3, transcript.text
    assert heard.count("a title card and a face") >= 3, transcript.text
    words = [w for segment in transcript.segments for w in segment.words]
    assert words[0].start_s < 2
    assert words[-1].end_s > 47
    holes = [b.start_s - a.end_s for a, b in itertools.pairwise(words)]
    assert max(holes) < 2.5, max(holes)


SHORT = "the orange submarine waited quietly beside the northern harbor wall"
SLOW = (
    "seven engineers carried heavy copper cables across the frozen river while "
    "their captain counted every wooden crate twice before sunset"
)
SLOW_AT_S = 16.0
EDGE_WINDOW_S = 24.0


@pytest.fixture(scope="module")
def over_the_edge(tmp_path_factory: pytest.TempPathFactory) -> ExtractedAudio:
    """A short sentence at 2 s, then a slow one (about 14 s, pauses between its words far
    shorter than between sentences) from 16 s: a 24 s window's edge falls inside it."""
    where = tmp_path_factory.mktemp("edge")
    short = espeak_audio(where / "short.wav", SHORT, lead_s=2.0)
    slow = espeak_audio(where / "slow.wav", SLOW, lead_s=SLOW_AT_S, words_per_minute=110)
    joined = where / "joined.flac"
    graph = "[0][1]amix=inputs=2:normalize=0:duration=longest,apad=pad_dur=2[a]"
    subprocess.run(
        [ffmpeg_binary(), "-v", "error", "-nostdin", "-y", "-i", str(short), "-i", str(slow),
         "-filter_complex", graph, "-map", "[a]", str(joined)],
        check=True,
    )  # fmt: skip
    return extract_audio(joined, where / "joined.wav")


def test_a_window_ends_before_speech_that_runs_over_its_edge(over_the_edge: ExtractedAudio) -> None:
    # GIVEN audio whose slow sentence spans a 24 s window's edge
    # WHEN it is read in 24 s windows cut where the speech allows
    windows = list(read_windows(over_the_edge.path, EDGE_WINDOW_S, cut=speech_cut))
    # THEN the first window ends in the pause before the slow sentence (not in the quietest
    # tenth of a second near 24 s, which is inside it), after the short sentence
    first_end = windows[0].start_s + windows[0].duration_s
    assert 6.0 < first_end <= SLOW_AT_S, first_end
    # and the second window, the last, holds the whole slow sentence
    assert len(windows) == 2
    assert windows[1].start_s == pytest.approx(first_end)


def test_speech_over_a_window_edge_is_transcribed_whole(over_the_edge: ExtractedAudio) -> None:
    # GIVEN the default model reading 24 s windows
    settings = TranscriberSettings(_env_prefix="VIDEOSENSE_UNSET_FOR_TEST_")
    model = WhisperSpeechModel(settings.whisper_model, window_s=EDGE_WINDOW_S)
    # WHEN the audio whose slow sentence spans the first window's edge is transcribed
    transcript = model.recognize(over_the_edge)
    # THEN the slow sentence is there word for word, once: nothing lost or doubled at the edge
    # (cut at the quietest point near 24 s, it came out "their camp. Encountered every world")
    heard = _plain(transcript.text)
    assert SLOW in heard, transcript.text
    assert heard.count("captain") == 1, transcript.text
    # and the short sentence before it (alone in its window, decoded with less context: only
    # its second half is asked for word for word)
    assert "beside the northern harbor" in heard, transcript.text

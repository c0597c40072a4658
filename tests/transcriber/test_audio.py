"""Audio extraction: the audio track as 16 kHz mono WAV, without decoding video frames."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import pytest

from tests.support.clips import ffmpeg_binary, make_colour_clip
from tests.support.speech import make_speech_clip
from transcriber.audio import (
    SAMPLE_RATE,
    AudioExtractionError,
    NoAudioTrackError,
    extract_audio,
)


@pytest.fixture(scope="module")
def speech_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_speech_clip(tmp_path_factory.mktemp("speech") / "speech.mp4")


def test_extracts_the_audio_track_as_16k_mono_wav(speech_clip: Path, tmp_path: Path) -> None:
    # GIVEN a video whose AAC track is 48 kHz
    # WHEN its audio is extracted
    audio = extract_audio(speech_clip, tmp_path / "a.wav")
    # THEN the WAV is 16 kHz mono s16 and as long as the video's audio
    with wave.open(str(audio.path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (SAMPLE_RATE, 1, 2)
        assert wav.getnframes() == pytest.approx(audio.duration_s * SAMPLE_RATE, abs=1)
    probe = subprocess.run(
        [ffmpeg_binary().replace("ffmpeg", "ffprobe"), "-v", "error", "-select_streams", "a:0",
         "-show_entries", "stream=duration", "-of", "csv=p=0", str(speech_clip)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert audio.duration_s == pytest.approx(float(probe.stdout), abs=0.1)


def test_the_leading_silence_is_silent_and_speech_is_not(speech_clip: Path, tmp_path: Path) -> None:
    # GIVEN a clip whose speech starts after 0.7 s of silence
    # WHEN its audio is extracted
    audio = extract_audio(speech_clip, tmp_path / "a.wav")
    # THEN the first half second is (nearly) silent and the next second is loud
    with wave.open(str(audio.path), "rb") as wav:
        lead = wav.readframes(SAMPLE_RATE // 2)
        wav.readframes(SAMPLE_RATE // 4)
        speech = wav.readframes(SAMPLE_RATE)
    import numpy as np

    quiet = np.abs(np.frombuffer(lead, dtype=np.int16)).mean()
    loud = np.abs(np.frombuffer(speech, dtype=np.int16)).mean()
    assert quiet < 50 < loud


def test_a_video_without_audio_is_reported_as_such(tmp_path: Path) -> None:
    # GIVEN a video with no audio stream
    clip = make_colour_clip(tmp_path / "mute.mp4", colours=[("red", 10)])
    # WHEN its audio is extracted
    # THEN the missing track is named, not a decode failure
    with pytest.raises(NoAudioTrackError, match="no audio track"):
        extract_audio(clip, tmp_path / "a.wav")


def test_a_file_that_is_not_media_is_an_extraction_error(tmp_path: Path) -> None:
    # GIVEN bytes that are no media container
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"definitely not a video" * 100)
    # WHEN its audio is extracted
    # THEN a readable extraction error, not a crash
    with pytest.raises(AudioExtractionError, match="cannot be opened") as caught:
        extract_audio(junk, tmp_path / "a.wav")
    assert not isinstance(caught.value, NoAudioTrackError)

"""The window splitter behind the whisper backend's bounded memory: quiet cut points found in
synthetic signals, and a WAV read back as consecutive windows no longer than asked for."""

from __future__ import annotations

import gc
import itertools
import tracemalloc
import wave
import weakref
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from transcriber.audio_windows import quiet_cut, read_windows

RATE = 16_000


def _noise(seconds: float, level: float, seed: int = 0) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, round(seconds * RATE)) * level).astype(np.float32)


def _with_gap(
    seconds: float, gap: tuple[float, float], level: float = 0.3, gap_level: float = 0.0
) -> npt.NDArray[np.float32]:
    signal = _noise(seconds, level)
    start, end = round(gap[0] * RATE), round(gap[1] * RATE)
    signal[start:end] = _noise((end - start) / RATE, gap_level, seed=1)
    return signal


def _write_wav(path: Path, samples: npt.NDArray[np.float32]) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


@pytest.mark.parametrize(
    ("gap", "gap_level"),
    [
        pytest.param((8.2, 8.5), 0.0, id="silent gap near the end"),
        pytest.param((6.0, 6.3), 0.0, id="silent gap at the start of the search region"),
        pytest.param((9.0, 9.2), 0.01, id="quiet but not silent gap (-30 dB)"),
    ],
)
def test_the_cut_lands_in_a_pause_near_the_end(gap: tuple[float, float], gap_level: float) -> None:
    # GIVEN 10 s of loud noise with a pause inside the last 5 s
    signal = _with_gap(10.0, gap, gap_level=gap_level)
    # WHEN a cut point is looked for
    cut = quiet_cut(signal, RATE, search_s=5.0)
    # THEN it is inside the pause, so nothing loud is split
    assert gap[0] <= cut / RATE <= gap[1]


@pytest.mark.parametrize(
    "signal",
    [
        pytest.param(_noise(10.0, 0.3), id="no pause at all"),
        pytest.param(_with_gap(10.0, (2.0, 2.5)), id="a pause before the search region"),
    ],
)
def test_without_a_pause_near_the_end_the_cut_is_the_full_window(
    signal: npt.NDArray[np.float32],
) -> None:
    # WHEN nothing in the last 5 s is quiet
    # THEN the window is cut hard at its full length
    assert quiet_cut(signal, RATE, search_s=5.0) == signal.shape[0]


def test_a_silent_tail_keeps_the_window_as_long_as_possible() -> None:
    # GIVEN noise ending in 3 s of digital silence
    signal = _with_gap(10.0, (7.0, 10.0))
    # WHEN a cut point is looked for
    cut = quiet_cut(signal, RATE, search_s=5.0)
    # THEN it is in the last frame (ties go to the latest quiet frame)
    assert signal.shape[0] - 0.1 * RATE <= cut < signal.shape[0]


def test_a_short_window_searches_at_most_its_second_half() -> None:
    # GIVEN a 2 s window with a pause in its first half only
    signal = _with_gap(2.0, (0.3, 0.6))
    # THEN the pause is not used: a cut there would make a very short window
    assert quiet_cut(signal, RATE, search_s=5.0) == signal.shape[0]


def test_the_wav_is_read_as_contiguous_windows_no_longer_than_asked(tmp_path: Path) -> None:
    # GIVEN a 10 s WAV of noise with a pause every 2 s
    signal = _noise(10.0, 0.3)
    for second in (1.8, 3.8, 5.8, 7.8):
        signal[round(second * RATE) : round((second + 0.15) * RATE)] = 0
    wav = _write_wav(tmp_path / "a.wav", signal)
    # WHEN it is read in 2.5 s windows
    windows = list(read_windows(wav, 2.5, search_s=1.0))
    # THEN no window holds more than 2.5 s of samples
    assert all(w.samples.shape[0] <= 2.5 * RATE for w in windows)
    assert all(w.samples.dtype == np.float32 for w in windows)
    # and each window ends in a pause (all but the last)
    for window in windows[:-1]:
        end = window.start_s + window.duration_s
        assert any(s <= end <= s + 0.15 for s in (1.8, 3.8, 5.8, 7.8)), end
    # and the windows follow each other with no gap or overlap, covering the whole file
    assert [w.index for w in windows] == list(range(len(windows)))
    assert windows[0].start_s == 0
    for before, after in itertools.pairwise(windows):
        assert after.start_s == pytest.approx(before.start_s + before.duration_s)
    joined = np.concatenate([w.samples for w in windows])
    expected = np.round(signal * 32767).astype(np.float32) / 32768
    np.testing.assert_allclose(joined, expected, atol=1 / 32768)


def test_the_reader_lets_go_of_a_window_before_reading_the_next(tmp_path: Path) -> None:
    # GIVEN a WAV read in windows
    wav = _write_wav(tmp_path / "a.wav", _noise(6.0, 0.3))
    windows = read_windows(wav, 2.0)
    first = next(windows)
    held = first.samples if first.samples.base is None else first.samples.base
    assert isinstance(held, np.ndarray)
    first_buffer = weakref.ref(held)
    del first, held
    # WHEN the caller drops it and asks for the next one
    second = next(windows)
    gc.collect()
    # THEN the first window's samples are freed: the reader keeps one window at most
    assert first_buffer() is None
    assert second.samples.shape[0] <= 2.0 * RATE


@pytest.mark.parametrize("window_s", [pytest.param(0.0, id="zero"), pytest.param(-1.0, id="neg")])
def test_a_window_length_that_is_not_positive_is_refused(tmp_path: Path, window_s: float) -> None:
    wav = _write_wav(tmp_path / "a.wav", _noise(1.0, 0.3))
    with pytest.raises(ValueError, match="window_s"):
        next(read_windows(wav, window_s))


def test_the_default_window_bounds_whispers_spectrogram() -> None:
    # GIVEN the default window of the transcriber, full of sound (speech-like noise: the VAD
    # keeps all of it)
    from faster_whisper.feature_extractor import FeatureExtractor

    from transcriber.settings import TranscriberSettings
    from transcriber.whisper import DEFAULT_WINDOW_S

    window_s = TranscriberSettings().window_s
    assert window_s == DEFAULT_WINDOW_S
    samples = _noise(window_s, 0.3)
    # WHEN Whisper computes the window's spectrogram (all of it at once, before decoding)
    tracemalloc.start()
    try:
        FeatureExtractor(feature_size=80)(samples)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # THEN the peak stays near 1 MB per second of window: 160 MB at most (a 600 s window,
    # the earlier default, peaks near 590 MB, and a whole 2-hour film would need 7 GB)
    assert peak < 160 * 2**20, f"peaked at {peak / 2**20:.0f} MiB for {window_s:.0f} s"

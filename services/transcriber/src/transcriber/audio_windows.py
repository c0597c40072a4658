"""Reading a long 16-bit mono WAV as consecutive windows cut at quiet points.

A speech model given the whole audio of a two-hour video holds about 460 MB of float32 samples
(64 KB per second). Reading it window by window bounds that by the window length instead. Each
window ends at the quietest short frame near its nominal end (a pause between words), so a
word is rarely split between two windows; when nothing near the end is quiet the window is cut
hard at its full length. A reader that knows where the speech is can choose the cut itself
(``read_windows(cut=...)``: the whisper backend cuts before speech that runs over the edge).
"""

from __future__ import annotations

import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

# Energy is compared over frames this long: shorter than a word, longer than a pitch period.
FRAME_S = 0.1
# Where a cut may move to: the last few seconds of the window (at most half of a short window).
SEARCH_S = 5.0
# A frame is a pause when its RMS is this far below the search region's median...
_RELATIVE_QUIET = 0.25
# ... or below about -50 dBFS whatever its surroundings (a region of silence has a median of 0).
_ABSOLUTE_QUIET = 10 ** (-50 / 20)

#: Where to end a window: given its samples and their rate, the number of samples to keep
#: (at least one, at most all of them).
Cut = Callable[[npt.NDArray[np.float32], int], int]


@dataclass(frozen=True)
class AudioWindow:
    """One window of the audio: float32 samples in [-1, 1] starting ``start_s`` into the file."""

    index: int
    start_s: float
    samples: npt.NDArray[np.float32]
    sample_rate: int

    @property
    def duration_s(self) -> float:
        """Length of the window in seconds."""
        return float(self.samples.shape[0]) / self.sample_rate


def quiet_cut(
    samples: npt.NDArray[np.float32],
    sample_rate: int,
    *,
    frame_s: float = FRAME_S,
    search_s: float = SEARCH_S,
) -> int:
    """Where to end a window of ``samples``: the sample index just after the kept part.

    The last ``search_s`` seconds (at most half the window) are split into ``frame_s`` frames;
    the middle of the quietest frame is the cut when that frame is a pause (well below the
    region's median energy, or near digital silence); ties go to the latest frame, so a silent
    tail keeps the window as long as possible. With no pause the cut is the window's end.

    Raises:
        ValueError: ``sample_rate``, ``frame_s`` or ``search_s`` is not positive.
    """
    if sample_rate <= 0 or frame_s <= 0 or search_s <= 0:
        raise ValueError("sample_rate, frame_s and search_s must be positive")
    total = int(samples.shape[0])
    frame = max(1, round(frame_s * sample_rate))
    region = min(round(search_s * sample_rate), total // 2)
    count = region // frame
    if count < 2:
        return total
    start = total - count * frame
    frames = samples[start:].astype(np.float64).reshape(count, frame)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    # The latest of the quietest frames: argmin on the reversed array finds the last minimum.
    quietest = count - 1 - int(np.argmin(rms[::-1]))
    lowest = float(rms[quietest])
    if lowest > _ABSOLUTE_QUIET and lowest > _RELATIVE_QUIET * float(np.median(rms)):
        return total
    return start + quietest * frame + frame // 2


def read_windows(
    path: Path,
    window_s: float,
    *,
    search_s: float = SEARCH_S,
    frame_s: float = FRAME_S,
    cut: Cut | None = None,
) -> Iterator[AudioWindow]:
    """Yield the mono 16-bit WAV at ``path`` as consecutive windows of at most ``window_s``.

    Only one window's samples are in memory at a time: each is read from the file, cut by
    ``cut`` (default: a quiet point, :func:`quiet_cut` with ``search_s`` and ``frame_s``;
    a result outside 1..len is clamped to it), and the next one is read starting at that
    cut (the seconds after it are read again from the file rather than carried over). The windows
    cover the whole file, without overlap, in order.

    Raises:
        ValueError: ``window_s`` is not positive, or the file is not mono 16-bit PCM.
        wave.Error: the file is not a WAV file.
    """
    if window_s <= 0:
        raise ValueError(f"window_s must be positive, got {window_s}")
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise ValueError(
                f"expected mono 16-bit PCM, got {wav.getnchannels()} channel(s) of "
                f"{8 * wav.getsampwidth()} bits"
            )
        rate = wav.getframerate()
        total = wav.getnframes()
        length = max(1, round(window_s * rate))
        position = 0
        index = 0
        while position < total:
            wav.setpos(position)
            raw = wav.readframes(min(length, total - position))
            samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
            if samples.shape[0] == 0:  # a header claiming more frames than the file holds
                return
            last = position + samples.shape[0] >= total
            if last:
                kept = samples.shape[0]
            elif cut is None:
                kept = quiet_cut(samples, rate, frame_s=frame_s, search_s=search_s)
            else:
                # Clamped: a window always advances, and never past what was read.
                kept = min(max(1, cut(samples, rate)), samples.shape[0])
            yield AudioWindow(
                index=index, start_s=position / rate, samples=samples[:kept], sample_rate=rate
            )
            position += kept
            index += 1
            # Drop this window before reading the next, so two are never held at once.
            del samples, raw

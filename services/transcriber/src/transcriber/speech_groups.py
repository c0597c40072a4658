"""Where Whisper is asked to listen: a window's speech, in groups of at most one decode.

faster-whisper's own ``vad_filter`` cuts the silence out and decodes the speech joined end to
end, 30 s at a time. Its 30 s windows then start and end wherever the joined audio happens to
be, often inside a word; when the model closes a window's last segment with a timestamp, the
next window starts at the window's end and the cut word is mangled or dropped, and the decode
after such a start is often a poor one (on a minute of one sentence repeated: 17 s of speech
lost and a line hallucinated four times). Decoding each stretch of speech on its own is no
better: a short sentence alone in a decode loses the context Whisper uses (a 5 s sentence of
the memory benchmark's film came out "waited, while I stayed" alone and "waited quietly"
joined with the next one).

So the speech Silero VAD finds (the model faster-whisper ships; long speech split at its last
pause before ``MAX_REGION_S``) is grouped, in order, into groups of at most ``MAX_GROUP_S``
seconds of speech, and each group is decoded with ``vad_filter`` on the stretch of audio from
its first speech to its last: joined as before, but at most one decode long, so every decode
starts and ends in a pause.

The same speech decides where a long file's windows end (:func:`speech_cut`): the quietest
tenth of a second near a window's nominal end can be the closure of a plosive inside a word
(a 2-hour film lost "captain counted" to a cut inside "captain", heard as "camp" and
"encountered"), so speech that runs over the edge is left whole to the next window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from faster_whisper.vad import VadOptions, get_speech_timestamps

from transcriber.audio_windows import quiet_cut

SAMPLE_RATE = 16_000
#: Longest stretch of speech without a pause kept whole (longer ones are split at their last
#: pause before it, or cut there if they have none).
MAX_REGION_S = 20.0
#: Most speech in one decode: under Whisper's 30 s with room for the pads VAD adds around each
#: stretch when the group is joined again (0.4 s each side).
MAX_GROUP_S = 24.0
#: The options of both VAD passes (the grouping here, faster-whisper's join of each group).
VAD = VadOptions(max_speech_duration_s=MAX_REGION_S)
#: Speech that ends this close to a window's end may go on past it. VAD pads every stretch of
#: speech by 0.4 s, so speech that stops before the edge ends its stretch 0.4 s after it.
EDGE_S = 0.5

#: A stretch of speech: its first and its end sample.
Region = tuple[int, int]


@dataclass(frozen=True)
class SpeechGroup:
    """Samples ``start``..``end`` of a window: from a group's first speech to its last."""

    start: int
    end: int

    @property
    def start_s(self) -> float:
        """Where the group starts, in seconds into the window."""
        return self.start / SAMPLE_RATE


def speech_regions(samples: npt.NDArray[np.float32]) -> list[Region]:
    """The stretches of speech Silero VAD finds in ``samples`` (16 kHz mono), in order."""
    return [(r["start"], r["end"]) for r in get_speech_timestamps(samples, VAD)]


def speech_groups(
    samples: npt.NDArray[np.float32], regions: Sequence[Region] | None = None
) -> list[SpeechGroup]:
    """The speech in ``samples`` (16 kHz mono) grouped for decoding, in order; empty when
    nothing is spoken. ``regions``: its stretches of speech when already found (else found
    here)."""
    groups: list[SpeechGroup] = []
    start = end = spoken = 0
    for first, last in speech_regions(samples) if regions is None else regions:
        length = last - first
        if spoken and spoken + length > MAX_GROUP_S * SAMPLE_RATE:
            groups.append(SpeechGroup(start, end))
            spoken = 0
        if not spoken:
            start = first
        end = last
        spoken += length
    if spoken:
        groups.append(SpeechGroup(start, end))
    return groups


def speech_cut(samples: npt.NDArray[np.float32], sample_rate: int) -> int:
    """Where to end a window of ``samples`` (16 kHz mono) so that no speech is cut in two.

    When the window's last stretch of speech reaches its end (it may go on in the next one),
    the window ends where that stretch starts, in the pause before it, and the stretch is read
    again whole at the start of the next window. A stretch is at most ``MAX_REGION_S`` long,
    so a long window always keeps most of its samples; when the stretch starts in the window's
    first half (a window not much longer than a stretch), or nothing is spoken near the end,
    the cut falls back on the quietest point near the end (:func:`quiet_cut`).

    Raises:
        ValueError: ``sample_rate`` is not the 16 kHz the voice-activity model reads.
    """
    return SpeechCutter()(samples, sample_rate)


def _cut(samples: npt.NDArray[np.float32], regions: Sequence[Region]) -> int:
    total = int(samples.shape[0])
    if regions:
        start, end = regions[-1]
        runs_over = end >= total - EDGE_S * SAMPLE_RATE
        if runs_over and start > total // 2:
            return start
        if not runs_over:
            # Silence after the last speech: cutting in it splits nothing, and the window
            # stays as long as it can.
            return total
    return quiet_cut(samples, SAMPLE_RATE)


class SpeechCutter:
    """:func:`speech_cut` for :func:`~transcriber.audio_windows.read_windows`, which keeps the
    speech it found in the part of the window it kept: :meth:`take` hands it over, so the
    window's groups are made without running the voice-activity model over it again."""

    def __init__(self) -> None:
        self._kept: list[Region] | None = None

    def __call__(self, samples: npt.NDArray[np.float32], sample_rate: int) -> int:
        """Where to end the window (:func:`speech_cut`).

        Raises:
            ValueError: ``sample_rate`` is not 16 kHz.
        """
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"speech_cut reads {SAMPLE_RATE} Hz audio, got {sample_rate} Hz")
        regions = speech_regions(samples)
        kept = _cut(samples, regions)
        # A stretch cut by a fallback to the quietest point ends at the cut, as the model
        # run on the kept samples would end it.
        self._kept = [(start, min(end, kept)) for start, end in regions if start < kept]
        return kept

    def take(self) -> list[Region] | None:
        """The speech found in the window just cut, once (``None``: the window was not cut by
        this cutter, e.g. the file's last one, which is read whole)."""
        kept, self._kept = self._kept, None
        return kept

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


@dataclass(frozen=True)
class SpeechGroup:
    """Samples ``start``..``end`` of a window: from a group's first speech to its last."""

    start: int
    end: int

    @property
    def start_s(self) -> float:
        """Where the group starts, in seconds into the window."""
        return self.start / SAMPLE_RATE


def speech_groups(samples: npt.NDArray[np.float32]) -> list[SpeechGroup]:
    """The speech in ``samples`` (16 kHz mono) grouped for decoding, in order; empty when
    nothing is spoken."""
    groups: list[SpeechGroup] = []
    start = end = spoken = 0
    for region in get_speech_timestamps(samples, VAD):
        length = region["end"] - region["start"]
        if spoken and spoken + length > MAX_GROUP_S * SAMPLE_RATE:
            groups.append(SpeechGroup(start, end))
            spoken = 0
        if not spoken:
            start = region["start"]
        end = region["end"]
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
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"speech_cut reads {SAMPLE_RATE} Hz audio, got {sample_rate} Hz")
    total = int(samples.shape[0])
    regions = get_speech_timestamps(samples, VAD)
    if regions:
        last = regions[-1]
        runs_over = last["end"] >= total - EDGE_S * SAMPLE_RATE
        if runs_over and last["start"] > total // 2:
            return int(last["start"])
        if not runs_over:
            # Silence after the last speech: cutting in it splits nothing, and the window
            # stays as long as it can.
            return total
    return quiet_cut(samples, sample_rate)

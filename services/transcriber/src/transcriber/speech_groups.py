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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from faster_whisper.vad import VadOptions, get_speech_timestamps

SAMPLE_RATE = 16_000
#: Longest stretch of speech without a pause kept whole (longer ones are split at their last
#: pause before it, or cut there if they have none).
MAX_REGION_S = 20.0
#: Most speech in one decode: under Whisper's 30 s with room for the pads VAD adds around each
#: stretch when the group is joined again (0.4 s each side).
MAX_GROUP_S = 24.0
#: The options of both VAD passes (the grouping here, faster-whisper's join of each group).
VAD = VadOptions(max_speech_duration_s=MAX_REGION_S)


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

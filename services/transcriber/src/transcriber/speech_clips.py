"""Where Whisper is asked to listen: the speech of a window, as clips of at most one decode.

faster-whisper's own ``vad_filter`` cuts the silence out and decodes the speech joined end to
end, 30 s at a time. Its 30 s windows then start and end wherever the joined audio happens to
be, often inside a word; when the model closes a window's last segment with a timestamp, the
next window starts at the window's end and the cut word is mangled or dropped, and the decode
after such a start is often a poor one (on a minute of one sentence repeated: 17 s of speech
lost and a line hallucinated four times). Here Silero VAD (the model faster-whisper ships)
finds the speech, long speech is split at its last pause before ``MAX_CLIP_S``, and each piece
is handed to Whisper as a clip (``clip_timestamps``): every decode starts and ends in a pause,
and its times are the window's own (nothing to map back).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from faster_whisper.vad import VadOptions, get_speech_timestamps

SAMPLE_RATE = 16_000
#: Longest clip handed to Whisper: a whole clip fits one 30 s decode with room to spare, as a
#: decode degrades in the last seconds of a full window (measured: at 30 s the last sentence of
#: a clip came out wrong, at 15-25 s none did).
MAX_CLIP_S = 20.0


def speech_clips(samples: npt.NDArray[np.float32]) -> list[float]:
    """The speech in ``samples`` (16 kHz mono) as ``[start, end, start, end, ...]`` seconds,
    each clip at most :data:`MAX_CLIP_S` long; empty when nothing is spoken."""
    regions = get_speech_timestamps(samples, VadOptions(max_speech_duration_s=MAX_CLIP_S))
    return [t / SAMPLE_RATE for region in regions for t in (region["start"], region["end"])]

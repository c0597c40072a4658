"""The sound of a cut: the source's audio for each range, trimmed to the sample and encoded as
AAC on one continuous timeline, so the clip's audio starts exactly with its first frame.

Audio is always re-encoded: AAC packets overlap their neighbours, so copying them would put the
cut up to one packet (about 21 ms) off and leave a click at each edge; decoding a range's audio
costs little next to its video."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from clipper.source_index import AudioFacts

AAC_FRAME_SAMPLES = 1024
# Decoding starts this long before a range: a decoder's first frames after a seek may be
# incomplete (AAC's overlap), and these are discarded anyway.
_PRE_ROLL_S = 0.5

Samples = npt.NDArray[np.float32]


def _as_planar_float(frame: av.AudioFrame, channels: int) -> Samples:
    raw = frame.to_ndarray()
    if not frame.format.is_planar:
        raw = raw.reshape(-1, channels).T
    if raw.dtype == np.int16:
        data = raw.astype(np.float32) / 32768.0
    elif raw.dtype == np.int32:
        data = raw.astype(np.float32) / 2147483648.0
    elif raw.dtype == np.uint8:
        data = (raw.astype(np.float32) - 128.0) / 128.0
    else:
        data = raw.astype(np.float32)
    return np.ascontiguousarray(data[:channels])


def source_samples(path: Path, first_sample: int, count: int, channels: int) -> Samples:
    """``count`` samples of the source's first audio stream from ``first_sample`` on (at the
    stream's rate, time zero being the container's), as planar float; silence where the
    source has none (before its audio starts, in gaps, after it ends).

    Raises:
        av.FFmpegError: the audio cannot be decoded.
    """
    out = np.zeros((channels, count), dtype=np.float32)
    if count <= 0:
        return out
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        seek_s = max(0.0, first_sample / rate - _PRE_ROLL_S)
        time_base = stream.time_base or Fraction(1, rate)
        container.seek(int(Fraction(seek_s) / time_base), stream=stream, backward=True)
        end = first_sample + count
        cursor: int | None = None
        for frame in container.decode(stream):
            if frame.pts is not None and frame.time_base is not None:
                cursor = round(frame.pts * frame.time_base * rate)
            if cursor is None:
                continue
            data = _as_planar_float(frame, channels)
            lo, hi = max(cursor, first_sample), min(cursor + data.shape[1], end)
            if hi > lo:
                out[:, lo - first_sample : hi - first_sample] = data[:, lo - cursor : hi - cursor]
            cursor += data.shape[1]
            if cursor >= end:
                break
    return out


class AudioTrack:
    """The output's AAC stream, fed range by range on one timeline of samples."""

    def __init__(self, stream: av.AudioStream, facts: AudioFacts) -> None:
        self._stream = stream
        self._rate = facts.sample_rate
        self._layout = facts.layout
        self._channels = stream.codec_context.layout.nb_channels
        self._pending: Samples = np.zeros((self._channels, 0), dtype=np.float32)
        self._fed = 0  # samples handed to the encoder so far

    def add(self, path: Path, start_s: float, output_end_s: float) -> list[av.Packet[Any]]:
        """Append the source's audio from ``start_s`` until the output timeline reaches
        ``output_end_s``; return the packets ready to mux.

        Raises:
            av.FFmpegError: the audio cannot be decoded or encoded.
        """
        placed = self._fed + self._pending.shape[1]
        count = round(output_end_s * self._rate) - placed
        samples = source_samples(path, round(start_s * self._rate), count, self._channels)
        self._pending = np.concatenate([self._pending, samples], axis=1)
        return list(self._encode_whole_frames())

    def _encode_whole_frames(self) -> Iterator[av.Packet[Any]]:
        while self._pending.shape[1] >= AAC_FRAME_SAMPLES:
            chunk = self._pending[:, :AAC_FRAME_SAMPLES]
            self._pending = self._pending[:, AAC_FRAME_SAMPLES:]
            yield from self._encode(chunk)

    def _encode(self, chunk: Samples) -> list[av.Packet[Any]]:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp",
                                           layout=self._layout)  # fmt: skip
        frame.sample_rate = self._rate
        frame.pts = self._fed
        frame.time_base = Fraction(1, self._rate)
        self._fed += chunk.shape[1]
        return list(self._stream.encode(frame))

    def finish(self) -> list[av.Packet[Any]]:
        """Encode what is left and drain the encoder.

        Raises:
            av.FFmpegError: the encoder failed.
        """
        packets = self._encode(self._pending) if self._pending.shape[1] else []
        self._pending = self._pending[:, :0]
        return packets + list(self._stream.encode(None))

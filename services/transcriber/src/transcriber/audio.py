"""Audio extraction: the first audio track of a media file as 16 kHz mono 16-bit PCM WAV.

Only the audio stream's packets are decoded: the demuxer reads video packets off the file but
they are never handed to a decoder, so extraction costs a small fraction of a full decode. The
WAV is written as the audio is decoded, so memory stays bounded whatever the video's length.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 16_000

# A few corrupt packets are skipped (their samples become a gap); more than this and the track
# is declared undecodable rather than transcribed full of holes.
_MAX_BAD_PACKETS = 50


class AudioExtractionError(Exception):
    """The file cannot be opened, or its audio track cannot be decoded."""


class NoAudioTrackError(AudioExtractionError):
    """The container has no audio stream."""


@dataclass(frozen=True)
class ExtractedAudio:
    """A WAV file of 16 kHz mono s16 samples and its duration."""

    path: Path
    duration_s: float


def extract_audio(video: Path, out: Path, *, sample_rate: int = SAMPLE_RATE) -> ExtractedAudio:
    """Write the first audio track of ``video`` to ``out`` as mono s16 WAV at ``sample_rate``.

    Samples are placed on the container's timeline: when the audio starts after zero (an edit
    list, a delayed track), the WAV starts with that much silence, so transcript times match
    the video's.

    Raises:
        NoAudioTrackError: the file has no audio stream.
        AudioExtractionError: the file cannot be opened or its audio cannot be decoded.
    """
    try:
        container = av.open(str(video))
    except av.FFmpegError as err:
        raise AudioExtractionError(f"the file cannot be opened as media: {err}") from err
    with container:
        if not container.streams.audio:
            raise NoAudioTrackError("the video has no audio track")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
        written = 0
        bad_packets = 0
        with wave.open(str(out), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(sample_rate)
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.FFmpegError as err:
                    bad_packets += 1
                    if bad_packets > _MAX_BAD_PACKETS:
                        raise AudioExtractionError(
                            f"the audio track cannot be decoded ({bad_packets} bad packets, "
                            f"last: {err})"
                        ) from err
                    continue
                for frame in frames:
                    if written == 0 and frame.time is not None and frame.time > 0:
                        lead = round(frame.time * sample_rate)
                        wav.writeframes(bytes(2 * lead))
                        written += lead
                    for pcm in resampler.resample(frame):
                        written += _write(wav, pcm)
            for pcm in resampler.resample(None):
                written += _write(wav, pcm)
    if written == 0:
        raise AudioExtractionError("the audio track holds no decodable samples")
    return ExtractedAudio(path=out, duration_s=written / sample_rate)


def _write(wav: wave.Wave_write, frame: av.AudioFrame) -> int:
    # Packed s16 mono: one plane, exactly ``samples`` values (the plane buffer may be padded).
    samples = np.asarray(frame.to_ndarray(), dtype=np.int16).reshape(-1)[: frame.samples]
    wav.writeframes(samples.tobytes())
    return int(frame.samples)

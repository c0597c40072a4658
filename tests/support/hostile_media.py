"""Hostile media files, made small and fast: oversized frames, endless videos, lying extensions.

A 16384x16384 frame would take 400 MB to render and encode the usual way. Here it is a 1-bit
greyscale PNG written row by row (33 KB, a fraction of a second), muxed as-is into a container
by PyAV without any encoder. FFmpeg refuses to decode a frame that large at all (its own limit
is about 268 Mpx including padding), which is the point: only the container header tells the
size.
"""

from __future__ import annotations

import struct
import subprocess
import wave
import zlib
from fractions import Fraction
from pathlib import Path

import av

from tests.support.clips import ffmpeg_binary


def flat_png(width: int, height: int) -> bytes:
    """A black 1-bit greyscale PNG of any size, compressed row by row (memory: one row)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then all-black pixels
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def png_video(path: Path, frames: list[bytes], width: int, height: int) -> Path:
    """Mux PNG ``frames`` (1 fps) into a QuickTime file whose header says ``width`` x ``height``.

    Nothing is decoded or encoded, so the header says exactly what it is told to, whatever
    the frames hold. (Matroska is not used: FFmpeg will not put PNG in it.)
    """
    with av.open(str(path), "w", format="mov") as out:
        stream = out.add_mux_stream("png", rate=1, width=width, height=height)
        stream.time_base = Fraction(1, 1)
        for index, data in enumerate(frames):
            packet = av.Packet(data)
            packet.stream = stream
            packet.pts = packet.dts = index
            packet.duration = 1
            out.mux(packet)
    return path


def huge_frame_video(path: Path, side: int = 16384, frames: int = 3) -> Path:
    """A ``side`` x ``side`` video of ``frames`` flat frames, honest header (~33 KB a frame)."""
    frame = flat_png(side, side)
    return png_video(path, [frame] * frames, side, side)


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
        check=True,
        timeout=120,
    )


def endless_tiny_video(path: Path, hours: float = 10.0, frame_period_s: float = 1.0) -> Path:
    """A ``hours``-long 2x2 H.264 video (the encoder needs even sizes) of one flat colour.

    One frame every ``frame_period_s`` seconds and a single GOP: 10 h at 1 fps is 36 000
    frames in under 500 KB, made in a second or two.
    """
    frames = round(hours * 3600 / frame_period_s)
    _ffmpeg(
        *("-f", "lavfi", "-i", f"color=c=gray:size=2x2:rate=1/{frame_period_s:g}"),
        *("-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast"),
        *("-pix_fmt", "yuv420p", "-g", str(frames), str(path)),
    )
    return path


def size_switching_video(path: Path, small: int = 32, large: int = 128) -> Path:
    """An H.264 Matroska video whose header says ``small`` x ``small`` (its first 100
    frames) and whose last 5 frames are ``large`` x ``large``: a header that lies."""
    parts = []
    for side, colour, count in ((small, "red", 100), (large, "blue", 5)):
        part = path.with_name(f"{path.stem}-{side}.h264")
        _ffmpeg(
            *("-f", "lavfi", "-i", f"color=c={colour}:size={side}x{side}:rate=5"),
            *("-frames:v", str(count), "-c:v", "libx264", "-preset", "ultrafast"),
            *("-pix_fmt", "yuv420p", str(part)),
        )
        parts.append(part.read_bytes())
    stream = path.with_name(f"{path.stem}.h264")
    stream.write_bytes(b"".join(parts))  # an elementary stream may change size at an SPS
    _ffmpeg("-r", "5", "-i", str(stream), "-c", "copy", str(path))
    return path


def jpeg_named(path: Path) -> Path:
    """A JPEG photo, written under ``path`` whatever its extension says."""
    _ffmpeg(
        *("-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1"),
        *("-f", "image2", "-c:v", "mjpeg", str(path)),
    )
    return path


def wav_named(path: Path, seconds: float = 1.0, rate: int = 8000) -> Path:
    """A silent mono WAV (audio, no video), written under ``path`` whatever its extension."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(2 * round(seconds * rate)))
    return path


def text_named(path: Path) -> Path:
    """A plain text file, written under ``path`` whatever its extension says."""
    path.write_text("Shopping list\nmilk\neggs\nnot a video at all\n")
    return path

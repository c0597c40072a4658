"""Videos whose frames say their own number, and sound whose clicks say the time.

Every frame carries its index as a row of white blocks on a black band (bit ``i`` is block
``i``, drawn by ffmpeg's ``drawbox`` with a timeline expression on ``n``), big enough to survive
any re-encoding; :func:`frame_numbers` reads them back. The audio is silent but for a 10 ms
1 kHz burst at the start of every second; :func:`burst_onsets` finds them. Cutting ``[a, b)``
must give frames ``ceil(a*fps) ... `` with no gap or repeat, and bursts at ``k - a``.

Used by the clipper tests and ``bench/bench_clips.py``; generating needs the ffmpeg binary (the
cutting itself does not).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import av
import numpy as np

BITS = 16
BURST_HZ = 1000.0


def _band(width: int, height: int) -> tuple[int, int, int]:
    block = width // BITS
    band_h = max(16, height // 6)
    return block, height - band_h, band_h


def coded_video(
    path: Path,
    *,
    seconds: float,
    fps: int = 25,
    size: tuple[int, int] = (320, 240),
    gop: int = 50,
    codec: str = "libx264",
    preset: str = "veryfast",
    audio: bool = True,
    rotate: int = 0,
) -> Path:
    """Render a numbered video to ``path`` with closed GOPs of ``gop`` frames and B-frames.

    Raises:
        RuntimeError: ffmpeg is missing or failed.
    """
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("the ffmpeg binary is needed to generate coded videos")
    width, height = size
    block, top, band_h = _band(width, height)
    boxes = [f"drawbox=x=0:y={top}:w={width}:h={band_h}:color=black:t=fill"]
    for bit in range(BITS):
        boxes.append(
            f"drawbox=x={bit * block + 2}:y={top + 2}:w={block - 4}:h={band_h - 4}"
            f":color=white:t=fill:enable='mod(floor(n/{1 << bit}),2)'"
        )
    cmd = [
        ffmpeg, "-y", "-v", "error",
        "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}",
    ]  # fmt: skip
    if audio:
        burst = f"if(lt(mod(t\\,1)\\,0.01)\\,0.8*sin(2*PI*{BURST_HZ:g}*t)\\,0)"
        cmd += ["-f", "lavfi", "-i", f"aevalsrc='{burst}':s=48000"]
    cmd += ["-t", f"{seconds}", "-vf", ",".join(boxes), "-pix_fmt", "yuv420p", "-c:v", codec]
    if codec == "libx264":
        cmd += ["-preset", preset, "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
                "-bf", "2"]  # fmt: skip
    else:
        cmd += ["-g", str(gop), "-q:v", "4"]
    if audio:
        cmd += ["-c:a", "aac", "-b:a", "128k"]
    plain = path.with_name(f"plain-{path.name}") if rotate else path
    _run([*cmd, str(plain)])
    if rotate:
        # A display matrix, as a phone writes it: set by a stream-copy remux (ffmpeg applies
        # the tag only when it does not encode).
        _run([ffmpeg, "-y", "-v", "error", "-i", str(plain), "-c", "copy",
              "-metadata:s:v:0", f"rotate={rotate}", str(path)])  # fmt: skip
        plain.unlink()
    return path


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {done.stderr[-2000:]}")


def read_number(luma: np.ndarray) -> int:
    """The frame number drawn on a decoded frame's luma plane."""
    height, width = luma.shape
    block, top, band_h = _band(width, height)
    row = luma[top + band_h // 2]
    return sum(1 << bit for bit in range(BITS) if row[bit * block + block // 2] > 128)


def frame_numbers(path: Path) -> list[int]:
    """The number of every frame of ``path``, in presentation order."""
    with av.open(str(path)) as container:
        return [
            read_number(frame.to_ndarray(format="gray"))
            for frame in container.decode(container.streams.video[0])
        ]


def burst_onsets(path: Path) -> list[float]:
    """Seconds (from the file's time zero) where each click starts."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        chunks = [frame.to_ndarray()[0] for frame in container.decode(stream)]
    samples = np.concatenate(chunks)
    loud = np.abs(samples) > 0.3
    rises = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
    onsets: list[float] = []
    for rise in rises:
        if not onsets or rise / rate - onsets[-1] > 0.5:
            onsets.append(rise / rate)
    return onsets


def expected_frames(start_s: float, end_s: float, fps: int, total: int) -> list[int]:
    """The frame numbers ``[start, end)`` should hold (frames presented in the range)."""
    first = -(-round(start_s * fps * 1000) // 1000)  # ceil, tolerant of float noise
    last = min(total, -(-round(end_s * fps * 1000) // 1000))
    return list(range(first, last))

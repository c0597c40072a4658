"""Cheap, small views of decoded frames: what scene detection and keyframe scoring look at.

Decoding is the frame stage's bottleneck (see docs/architecture.md), so the per-frame work
added on top of it must be close to free. Asking swscale to shrink every frame to a small image
costs 13% to 30% more CPU than decoding alone (measured on 1080p H.264, depending on the
filter). Instead we read the decoder's own planes through numpy views and take every n-th pixel:
a strided copy of ~30 k samples per plane, well under a millisecond.
Aliasing from point sampling slightly raises the frame-to-frame difference under motion, which
the detector's adaptive test absorbs; hard cuts and colour changes are unaffected.

Only planar YUV / gray layouts up to 16 bits take that path; anything else (RGB, packed, NV12,
big-endian...) is converted by swscale to a small ``yuv444p`` frame first: slower but correct.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

import av
import numpy as np
import numpy.typing as npt

Plane: TypeAlias = npt.NDArray[np.int16]
Gray: TypeAlias = npt.NDArray[np.uint8]


@dataclass(frozen=True, eq=False)
class Thumb:
    """A frame reduced to small Y, Cb and Cr planes on a 0-255 scale (chroma ``None``: gray).

    Planes may differ in shape (chroma subsampling, odd sizes); every comparison is a mean per
    plane, so they never need to line up pixel for pixel.
    """

    y: Plane
    u: Plane | None
    v: Plane | None

    def difference(self, other: Thumb, weights: tuple[float, float, float]) -> float:
        """Weighted mean absolute difference of the planes (0-255).

        Gray frames count as neutral chroma (128), so gray-to-colour changes still register.
        """
        wy, wu, wv = weights
        total = wy * _mad(self.y, other.y)
        total += wu * _mad_chroma(self.u, other.u)
        total += wv * _mad_chroma(self.v, other.v)
        return total / (wy + wu + wv)

    def means(self) -> tuple[float, float, float]:
        """Mean Y, Cb, Cr (Cb = Cr = 128 for gray frames)."""
        u = 128.0 if self.u is None else float(self.u.mean())
        v = 128.0 if self.v is None else float(self.v.mean())
        return float(self.y.mean()), u, v


def _mad(a: Plane, b: Plane) -> float:
    if a.shape != b.shape:
        # Only happens if the stream changes resolution mid-way: treat as a total change.
        return 255.0
    return float(np.abs(a - b).mean())


def _mad_chroma(a: Plane | None, b: Plane | None) -> float:
    if a is None and b is None:
        return 0.0
    if a is None or b is None:
        present = a if b is None else b
        assert present is not None
        return float(np.abs(present - 128).mean())
    return _mad(a, b)


class FrameSampler:
    """Turns decoded frames into :class:`Thumb` s and luma images, reusing its sizing decisions.

    Args:
        thumb_width: detection works on planes about this wide (never upscaled).
        luma_width: sharpness is measured on a luma image about this wide.
    """

    def __init__(self, thumb_width: int, luma_width: int) -> None:
        self._thumb_width = thumb_width
        self._luma_width = luma_width

    def thumb(self, frame: av.VideoFrame) -> Thumb:
        """The frame's small Y/Cb/Cr planes."""
        fmt = frame.format
        bits = _direct_bits(fmt)
        if bits is None:
            return self._converted_thumb(frame)
        step = _step(frame.width, self._thumb_width)
        y = _plane(frame, 0, step, step, bits)
        if len(fmt.components) < 3:
            return Thumb(y, None, None)
        # Chroma planes are smaller by the subsampling factor: sample them at the matching
        # step so all three thumbnails cover the picture alike.
        cw, ch = frame.planes[1].width, frame.planes[1].height
        step_x = max(1, round(step * cw / frame.width))
        step_y = max(1, round(step * ch / frame.height))
        return Thumb(
            y, _plane(frame, 1, step_x, step_y, bits), _plane(frame, 2, step_x, step_y, bits)
        )

    def luma(self, frame: av.VideoFrame) -> Gray:
        """An 8-bit luma image about ``luma_width`` wide (for sharpness and hashing)."""
        fmt = frame.format
        bits = _direct_bits(fmt)
        if bits is None:
            width = min(frame.width, self._luma_width)
            height = max(1, round(frame.height * width / frame.width))
            small = frame.reformat(width=width, height=height, format="gray")
            return _view(small, 0, 1, 1, np.dtype(np.uint8)).copy()
        step = _step(frame.width, self._luma_width)
        return _plane(frame, 0, step, step, bits).astype(np.uint8)

    def _converted_thumb(self, frame: av.VideoFrame) -> Thumb:
        width = min(frame.width, self._thumb_width)
        height = max(1, round(frame.height * width / frame.width))
        small = frame.reformat(width=width, height=height, format="yuv444p")
        return Thumb(*(_plane(small, i, 1, 1, 8) for i in range(3)))


def _step(width: int, target: int) -> int:
    return max(1, -(-width // target))


def _direct_bits(fmt: av.video.format.VideoFormat) -> int | None:
    """Bit depth when the planes can be read directly (planar YUV or gray, little endian)."""
    components = fmt.components
    if fmt.is_rgb or fmt.is_big_endian or fmt.has_palette or fmt.is_bayer:
        return None
    if not fmt.is_planar and len(components) > 1:
        return None
    wanted = (0, 1, 2) if len(components) >= 3 else (0,)
    if tuple(c.plane for c in components[: len(wanted)]) != wanted:
        return None  # e.g. NV12: both chroma components share one plane
    bits = components[0].bits
    if not 8 <= bits <= 16 or any(c.bits != bits for c in components[: len(wanted)]):
        return None
    return bits


def _view(
    frame: av.VideoFrame, index: int, step_x: int, step_y: int, dtype: np.dtype[Any]
) -> npt.NDArray[Any]:
    """A zero-copy strided view of one plane (``line_size`` may include padding)."""
    plane = frame.planes[index]
    buffer = memoryview(plane)  # VideoPlane implements the buffer protocol (zero copy)
    rows: npt.NDArray[Any] = np.frombuffer(buffer, dtype=dtype).reshape(plane.height, -1)
    return rows[::step_y, : plane.width : step_x]


def _plane(frame: av.VideoFrame, index: int, step_x: int, step_y: int, bits: int) -> Plane:
    if bits == 8:
        return _view(frame, index, step_x, step_y, np.dtype(np.uint8)).astype(np.int16)
    wide = _view(frame, index, step_x, step_y, np.dtype("<u2"))
    return (wide >> (bits - 8)).astype(np.int16)

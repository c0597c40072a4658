"""Keyframe images: a decoded frame to an upright, size-capped JPEG."""

from __future__ import annotations

from dataclasses import dataclass

import av
import cv2
import numpy as np
import numpy.typing as npt

# Rotation (counter-clockwise degrees, from the stream's display matrix) to the cv2 rotation
# that shows the picture upright, as players (and ffmpeg's autorotate) do.
_UPRIGHT = {
    90: cv2.ROTATE_90_COUNTERCLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_CLOCKWISE,
}


@dataclass(frozen=True)
class Jpeg:
    """An encoded image and its pixel size."""

    data: bytes
    width: int
    height: int


def display_rotation(frame: av.VideoFrame) -> int:
    """The frame's display rotation rounded to a quarter turn: 0, 90, 180 or 270."""
    return round(frame.rotation / 90) % 4 * 90


def fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The largest size with the same aspect ratio that fits ``max_side`` (never upscaled)."""
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def encode(frame: av.VideoFrame, *, max_side: int, quality: int) -> Jpeg:
    """Encode ``frame`` as JPEG, downscaled to fit ``max_side`` and turned upright.

    Raises:
        ValueError: the frame could not be encoded (OpenCV refused it).
    """
    width, height = fit(frame.width, frame.height, max_side)
    # Scale in swscale (area filter: the best downscale quality) while converting to BGR, so
    # the full-size frame is never converted to RGB.
    small = frame.reformat(width=width, height=height, format="bgr24", interpolation="AREA")
    image: npt.NDArray[np.uint8] = small.to_ndarray().astype(np.uint8, copy=False)
    rotation = display_rotation(frame)
    if rotation:
        image = np.ascontiguousarray(cv2.rotate(image, _UPRIGHT[rotation]))
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"OpenCV could not encode a {width}x{height} frame as JPEG")
    out_height, out_width = image.shape[:2]
    return Jpeg(data=buffer.tobytes(), width=out_width, height=out_height)

"""Pixelation and Gaussian blur of boxes, applied to the planes of a YUV 4:2:0 picture.

Working on the Y, U and V planes the decoder produced (the encoder wants the same) avoids two
colour conversions of every frame; a box is applied to the luma plane at full resolution and to
both chroma planes at half resolution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from redactor.tracking import PixelBox

Plane = npt.NDArray[np.uint8]
Style = Literal["pixelate", "blur"]


def cells_across(strength: float) -> int:
    """Pixelation cells across a box's longer side: 16 at strength 0, 4 at strength 1."""
    return max(4, round(16 - 12 * strength))


def blur_sigma(side: float, strength: float) -> float:
    """Gaussian sigma for a box whose longer side is ``side`` pixels."""
    return max(1.0, side * (0.08 + 0.22 * strength))


def _region(plane: Plane, box: PixelBox, scale: int) -> Plane | None:
    h, w = plane.shape
    x0 = max(0, math.floor(box[0] / scale))
    y0 = max(0, math.floor(box[1] / scale))
    x1 = min(w, math.ceil(box[2] / scale))
    y1 = min(h, math.ceil(box[3] / scale))
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    return plane[y0:y1, x0:x1]


def _pixelate(region: Plane, cells: int) -> None:
    h, w = region.shape
    longer = max(h, w)
    cw = max(1, round(w * cells / longer))
    ch = max(1, round(h * cells / longer))
    small = cv2.resize(region, (cw, ch), interpolation=cv2.INTER_AREA)
    region[:] = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def _blur(region: Plane, sigma: float) -> None:
    # Blur a shrunk copy and enlarge it: the same look as a wide kernel, at a fraction of the
    # cost, and no detail of the face survives the shrink.
    h, w = region.shape
    factor = max(1.0, sigma / 4)
    sw, sh = max(1, round(w / factor)), max(1, round(h / factor))
    small = cv2.resize(region, (sw, sh), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=max(0.8, sigma / factor))
    region[:] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def redact_planes(
    planes: Sequence[Plane], boxes: Sequence[PixelBox], style: Style, strength: float
) -> None:
    """Redact ``boxes`` (luma pixels) in place in the Y, U, V planes of a 4:2:0 picture."""
    y, u, v = planes
    for box in boxes:
        side = max(box[2] - box[0], box[3] - box[1])
        for plane, scale in ((y, 1), (u, 2), (v, 2)):
            region = _region(plane, box, scale)
            if region is None:
                continue
            if style == "pixelate":
                _pixelate(region, cells_across(strength))
            else:
                _blur(region, blur_sigma(side / scale, strength))

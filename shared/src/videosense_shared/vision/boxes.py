"""Boxes and scores in the document's terms: relative coordinates and 0-100 confidences."""

from __future__ import annotations

import math

from videosense_shared.messages import Box


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def relative_box(left: float, top: float, width: float, height: float) -> Box:
    """A box from relative coordinates, clipped to the image.

    Detectors (Rekognition among them) report boxes that stick out of the image for faces cut
    by its edge; the document only holds the visible part.
    """
    right = _clamp(left + width)
    bottom = _clamp(top + height)
    x0, y0 = _clamp(left), _clamp(top)
    return Box(left=x0, top=y0, width=max(0.0, right - x0), height=max(0.0, bottom - y0))


def pixel_box(x: float, y: float, w: float, h: float, image_w: int, image_h: int) -> Box:
    """A box from pixel coordinates in an ``image_w`` x ``image_h`` image.

    Raises:
        ValueError: the image size is not positive.
    """
    if image_w <= 0 or image_h <= 0:
        raise ValueError("image size must be positive")
    return relative_box(x / image_w, y / image_h, w / image_w, h / image_h)


def overlap(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when they do not touch)."""
    ix = max(0.0, min(a.left + a.width, b.left + b.width) - max(a.left, b.left))
    iy = max(0.0, min(a.top + a.height, b.top + b.height) - max(a.top, b.top))
    inter = ix * iy
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def score_confidence(score: float, *, midpoint: float, spread: float) -> float:
    """Map a detector's raw score to 0-100 with a logistic curve.

    OpenCV's classic detectors return uncalibrated scores (a cascade's last-stage sum, an SVM
    margin). The curve is centred on ``midpoint`` (-> 50) and ``spread`` sets its width, chosen
    per detector so that the default ``min_confidence`` of 80 sits where false detections stop.
    """
    z = (score - midpoint) / spread
    if z < -60:
        return 0.0
    return 100.0 / (1.0 + math.exp(-z))

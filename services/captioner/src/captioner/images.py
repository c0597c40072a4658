"""Fitting keyframe JPEGs into what a backend accepts (pixels and bytes). CPU work: call it
off the event loop."""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from captioner.backend import CaptioningError, ImageLimits

_QUALITIES = (90, 80, 70, 60)
# Each further pass shrinks the sides by this factor when quality alone is not enough.
_SHRINK = 0.75
_MIN_SIDE = 64


def fit_image(data: bytes, limits: ImageLimits) -> bytes:
    """Return ``data`` unchanged if it fits ``limits``, else a smaller JPEG that does.

    Raises:
        CaptioningError: the bytes are not an image, or cannot be made small enough.
    """
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            fmt = probe.format
    except (UnidentifiedImageError, OSError) as err:
        raise CaptioningError(f"keyframe is not a readable image: {err}") from err
    fits_bytes = limits.max_bytes is None or len(data) <= limits.max_bytes
    if max(width, height) <= limits.max_side and fits_bytes and fmt == "JPEG":
        return data
    with Image.open(io.BytesIO(data)) as opened:
        image = opened.convert("RGB")
    scale = min(1.0, limits.max_side / max(width, height))
    while True:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        resized = image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)
        for quality in _QUALITIES:
            out = io.BytesIO()
            resized.save(out, format="JPEG", quality=quality)
            if limits.max_bytes is None or out.tell() <= limits.max_bytes:
                return out.getvalue()
        if max(size) <= _MIN_SIDE:
            raise CaptioningError(
                f"keyframe cannot be made smaller than {limits.max_bytes} bytes for this backend"
            )
        scale *= _SHRINK

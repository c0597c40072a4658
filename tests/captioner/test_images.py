"""Fitting keyframes into what a backend accepts."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from captioner.backend import CaptioningError, ImageLimits
from captioner.images import fit_image
from tests.fixtures.captioner.tiny_blip import jpeg


def _size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        return image.size


def _noise_jpeg(size: tuple[int, int]) -> bytes:
    # Random pixels compress badly: a large file for its size.
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95)
    return out.getvalue()


def test_an_image_that_fits_is_passed_through_untouched() -> None:
    # GIVEN a small JPEG
    data = jpeg((10, 20, 30), size=(320, 180))
    # WHEN it is fitted into generous limits
    # THEN the very same bytes come back (no re-encoding loss)
    assert fit_image(data, ImageLimits(max_side=1568, max_bytes=3_750_000)) is data


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [
        pytest.param((1920, 1080), 1568, (1568, 882), id="landscape"),
        pytest.param((1080, 1920), 800, (450, 800), id="portrait"),
    ],
)
def test_a_larger_image_is_downscaled_keeping_its_aspect(
    size: tuple[int, int], max_side: int, expected: tuple[int, int]
) -> None:
    # GIVEN a JPEG larger than the backend accepts
    data = jpeg((10, 20, 30), size=size)
    # WHEN it is fitted
    fitted = fit_image(data, ImageLimits(max_side=max_side))
    # THEN its longest side is the limit and its aspect ratio is kept
    assert _size(fitted) == expected


def test_a_heavy_image_is_shrunk_under_the_byte_limit() -> None:
    # GIVEN a noisy JPEG of several hundred KB
    data = _noise_jpeg((800, 600))
    assert len(data) > 300_000
    # WHEN it is fitted into 100 KB
    fitted = fit_image(data, ImageLimits(max_side=1568, max_bytes=100_000))
    # THEN it is a JPEG within the limit
    assert len(fitted) <= 100_000
    assert max(_size(fitted)) <= 800


def test_a_png_keyframe_becomes_a_jpeg() -> None:
    # GIVEN a PNG (backends are told they get JPEG)
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(out, format="PNG")
    # WHEN it is fitted
    # THEN a JPEG of the same size comes back
    assert _size(fit_image(out.getvalue(), ImageLimits(max_side=1568))) == (64, 64)


def test_bytes_that_are_no_image_are_refused() -> None:
    # WHEN the keyframe is not an image
    # THEN the error says so
    with pytest.raises(CaptioningError, match="not a readable image"):
        fit_image(b"<html>", ImageLimits(max_side=1568))

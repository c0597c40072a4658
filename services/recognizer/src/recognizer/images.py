"""Decoding keyframe JPEGs and shrinking images that are too large to send."""

from __future__ import annotations

import cv2
import numpy as np

from recognizer.backend import RecognitionError
from videosense_shared.vision.images import Bgr as Bgr  # the recognizer's picture type


def decode_image(data: bytes) -> Bgr:
    """Decode a JPEG/PNG into a BGR array.

    Raises:
        RecognitionError: the bytes are not a decodable image.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR) if buffer.size else None
    if image is None or image.size == 0:
        raise RecognitionError("the keyframe is not a decodable image")
    return np.asarray(image, dtype=np.uint8)


def encode_jpeg(image: Bgr, quality: int = 90) -> bytes:
    """Encode a BGR array as JPEG.

    Raises:
        RecognitionError: OpenCV could not encode it.
    """
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RecognitionError("could not encode the image as JPEG")
    return bytes(encoded.tobytes())


def fit_bytes(data: bytes, max_bytes: int) -> bytes:
    """Return ``data`` or, when larger than ``max_bytes``, a smaller JPEG of the same picture.

    The picture is scaled down (by the square root of the size ratio, a little more each try)
    and re-encoded until it fits; relative boxes found on it hold for the original.

    Raises:
        RecognitionError: not a decodable image, or it cannot be made small enough.
    """
    if len(data) <= max_bytes:
        return data
    image = decode_image(data)
    scale = (max_bytes / len(data)) ** 0.5
    for _ in range(8):
        h, w = image.shape[:2]
        size = (max(1, int(w * scale)), max(1, int(h * scale)))
        resized = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
        smaller = encode_jpeg(resized, 85)
        if len(smaller) <= max_bytes:
            return smaller
        scale *= 0.8
    raise RecognitionError(f"the image cannot be shrunk under {max_bytes} bytes")

"""On-screen text with RapidOCR: PaddleOCR's PP-OCR detection and recognition models, shipped
inside the ``rapidocr`` wheel (Apache-2.0) and run with onnxruntime, nothing downloaded.

It reads text lines at any angle, on busy backgrounds and in mixed scripts (Latin, accented,
Chinese), where Tesseract, tuned for scanned pages, often reads nothing. Each detected line is
one :class:`TextDetection` with its box and the recognizer's score as confidence.
"""

from __future__ import annotations

import threading
from typing import Any

import cv2
import numpy as np

from videosense_shared.backends import BackendUnavailableError
from videosense_shared.messages import TextDetection
from videosense_shared.vision.boxes import pixel_box
from videosense_shared.vision.images import Bgr

# One onnxruntime thread per model: the services already read several images at once,
# and more threads only oversubscribe the cores. No CPU memory arena: an arena keeps the largest
# working memory any image needed (the detector's tensors of a 720p frame are ~200 MB) for the
# life of the process; without it the tensors are freed after each image (and returned to the
# system under the services' malloc limits, videosense_shared.memory).
_PARAMS = {
    "Global.log_level": "error",
    "EngineConfig.onnxruntime.intra_op_num_threads": 1,
    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    "EngineConfig.onnxruntime.enable_cpu_mem_arena": False,
}


# RapidOCR scales the longer side down to 2000 px and rounds both sides to multiples of 32: a
# strip thinner than 1/40 of its length would round to nothing and fail.
_MAX_ASPECT = 40


def _padded(image: Bgr) -> Bgr:
    """The image with black added below or to the right of a very thin strip (pixel
    coordinates of what is found are unchanged)."""
    h, w = image.shape[:2]
    least = -(-max(h, w) // _MAX_ASPECT)
    if min(h, w) >= least:
        return image
    bottom, right = max(0, least - h), max(0, least - w)
    return np.asarray(
        cv2.copyMakeBorder(image, 0, bottom, 0, right, cv2.BORDER_CONSTANT, value=(0, 0, 0)),
        np.uint8,
    )


class TextReadError(Exception):
    """RapidOCR failed on one image (the image's failure, not the reader's)."""


class RapidOcr:
    """Text lines in images with the packaged PP-OCR models (built by :meth:`check`)."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._lock = threading.Lock()

    def check(self) -> None:
        """Load the models.

        Raises:
            BackendUnavailableError: rapidocr or onnxruntime is not installed, or the models do
                not load.
        """
        if self._engine is not None:
            return
        try:
            # Imported when text is wanted: loading it pulls in onnxruntime.
            from rapidocr import RapidOCR

            self._engine = RapidOCR(params=dict(_PARAMS))
        except ImportError as err:
            raise BackendUnavailableError(
                f"text recognition needs rapidocr and onnxruntime ({err}): run `make setup`, or "
                "set VIDEOSENSE_RECOGNIZER_OCR=tesseract"
            ) from err
        except Exception as err:  # rapidocr raises its own error types while loading models
            raise BackendUnavailableError(f"rapidocr's models do not load: {err}") from err

    def session_options(self) -> list[Any]:
        """The onnxruntime ``SessionOptions`` of the models built so far (detection,
        orientation, recognition: each is built on its first use)."""
        stages = (
            getattr(self._engine, name, None) for name in ("text_det", "text_cls", "text_rec")
        )
        sessions = (getattr(getattr(s, "session", None), "session", None) for s in stages)
        return [s.get_session_options() for s in sessions if s is not None]

    def read(self, image: Bgr, min_confidence: float) -> list[TextDetection]:
        """Lines of text in a BGR image, top to bottom (blocking: run it in a worker thread).

        Raises:
            BackendUnavailableError: :meth:`check` failed.
            TextReadError: rapidocr failed on this image.
        """
        self.check()
        h, w = image.shape[:2]
        try:
            # The engine keeps per-call state between its det/cls/rec steps: one image at a time.
            with self._lock:
                result = self._engine(_padded(image))
        except Exception as err:  # any failure inside the OCR pipeline is this image's failure
            raise TextReadError(
                f"rapidocr failed on the image: {type(err).__name__} {err}".rstrip()
            ) from err
        if result.boxes is None or result.txts is None or result.scores is None:
            return []  # no text found
        out: list[TextDetection] = []
        for corners, text, score in zip(result.boxes, result.txts, result.scores, strict=True):
            confidence = min(100.0, max(0.0, float(score) * 100.0))
            text = str(text).strip()
            if confidence < min_confidence or not any(ch.isalnum() for ch in text):
                continue
            points = np.asarray(corners, np.float64)
            x0, y0 = float(points[:, 0].min()), float(points[:, 1].min())
            x1, y1 = float(points[:, 0].max()), float(points[:, 1].max())
            out.append(
                TextDetection(
                    text=text, confidence=confidence, box=pixel_box(x0, y0, x1 - x0, y1 - y0, w, h)
                )
            )
        return out

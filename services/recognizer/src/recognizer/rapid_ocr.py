"""RapidOCR on keyframes: the shared reader (:mod:`videosense_shared.vision.text`, the packaged
PP-OCR models), with a failure on one image reported as that keyframe's
:class:`~recognizer.backend.RecognitionError`."""

from __future__ import annotations

from recognizer.backend import RecognitionError
from videosense_shared.messages import TextDetection
from videosense_shared.vision import text
from videosense_shared.vision.images import Bgr


class RapidOcr:
    """Text lines in keyframes with RapidOCR (models loaded by :meth:`check`)."""

    def __init__(self) -> None:
        self._reader = text.RapidOcr()

    def check(self) -> None:
        """Load the models.

        Raises:
            BackendUnavailableError: rapidocr or onnxruntime is not installed, or the models do
                not load.
        """
        self._reader.check()

    def read(self, image: Bgr, min_confidence: float) -> list[TextDetection]:
        """Lines of text in a BGR image, top to bottom (blocking: run it in a worker thread).

        Raises:
            BackendUnavailableError: :meth:`check` failed.
            RecognitionError: rapidocr failed on this image.
        """
        try:
            return self._reader.read(image, min_confidence)
        except text.TextReadError as err:
            raise RecognitionError(str(err)) from err

"""OpenCV's classic detectors, shipped inside the opencv-python-headless 4.x wheel: Haar face
cascades (the ``haar`` face detector option; dlib's detector in
:mod:`videosense_shared.vision.faces` is the default), the HOG people detector, and the QR code
and barcode readers.

None needs a model download, so the local backend runs fully offline. Their raw scores are not
probabilities; :func:`videosense_shared.vision.boxes.score_confidence` maps them to 0-100 with
curves chosen on real images (the scikit-image astronaut's face scores 4-7 on the cascade's last
stage, the false detections around it below 0.5).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from recognizer.images import Bgr
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.messages import Box, Face, Label, TextDetection
from videosense_shared.vision.boxes import overlap, pixel_box, score_confidence

# Cascade last-stage sums: ~0.4 on the background patterns it mistakes for faces, 4+ on faces.
_FACE_MIDPOINT, _FACE_SPREAD = 1.0, 1.0
# HOG SVM margins: a standing person scores ~1-3, clutter ~0-0.7.
_PERSON_MIDPOINT, _PERSON_SPREAD = 0.5, 0.4
# Faces smaller than this fraction of the shorter image side are not looked for (noise).
_MIN_FACE_FRACTION = 0.06
# HOG's window is 64x128; frames are shrunk to this width first (people in video are large).
_HOG_WIDTH = 640


def cascade_dir() -> Path:
    """Where the opencv-python wheel keeps its Haar cascades."""
    # cv2.data is a plain module the wheel adds; its type stubs do not declare it.
    data: Any = getattr(cv2, "data")  # noqa: B009
    return Path(data.haarcascades)


class FaceDetector:
    """Frontal faces with the ``haarcascade_frontalface_default`` cascade.

    Raises:
        BackendUnavailableError: the cascade file is missing or does not load.
    """

    def __init__(self, cascade: Path | None = None) -> None:
        path = cascade or cascade_dir() / "haarcascade_frontalface_default.xml"
        classifier = cv2.CascadeClassifier(str(path))
        if classifier.empty():
            raise BackendUnavailableError(f"the face cascade {path} is missing or does not load")
        self._classifier = classifier
        # CascadeClassifier keeps the image being scanned in the object: one scan at a time.
        self._lock = threading.Lock()

    def detect(self, image: Bgr, min_confidence: float) -> list[Face]:
        """Faces in a BGR image, most confident first."""
        h, w = image.shape[:2]
        gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
        side = max(20, int(min(h, w) * _MIN_FACE_FRACTION))
        with self._lock:
            rects, _levels, weights = self._classifier.detectMultiScale3(
                gray,
                scaleFactor=1.1,
                minNeighbors=3,
                minSize=(side, side),
                outputRejectLevels=True,
            )
        faces: list[Face] = []
        for (x, y, fw, fh), weight in zip(rects, np.ravel(weights), strict=True):
            confidence = score_confidence(
                float(weight), midpoint=_FACE_MIDPOINT, spread=_FACE_SPREAD
            )
            if confidence >= min_confidence:
                faces.append(Face(box=pixel_box(x, y, fw, fh, w, h), confidence=confidence))
        return _without_overlaps(faces)


def _without_overlaps(faces: list[Face]) -> list[Face]:
    # The cascade sometimes reports a face and a slightly shifted copy: keep the stronger one.
    kept: list[Face] = []
    for face in sorted(faces, key=lambda f: -f.confidence):
        if all(overlap(face.box, k.box) < 0.3 for k in kept):
            kept.append(face)
    return kept


class PeopleDetector:
    """Standing people with OpenCV's default HOG + linear SVM detector, as ``Person`` labels."""

    def __init__(self) -> None:
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(
            np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), dtype=np.float32)
        )

    def detect(self, image: Bgr, min_confidence: float) -> list[Label]:
        """``Person`` labels with boxes, most confident first."""
        h, w = image.shape[:2]
        scale = min(1.0, _HOG_WIDTH / w)
        small = cv2.resize(image, None, fx=scale, fy=scale) if scale < 1.0 else image
        if small.shape[0] < 128 or small.shape[1] < 64:
            return []  # smaller than one detection window
        rects, weights = self._hog.detectMultiScale(small, winStride=(8, 8), scale=1.05)
        people: list[tuple[float, Box]] = []
        for (x, y, pw, ph), weight in zip(rects, np.ravel(weights), strict=True):
            confidence = score_confidence(
                float(weight), midpoint=_PERSON_MIDPOINT, spread=_PERSON_SPREAD
            )
            if confidence >= min_confidence:
                box = pixel_box(x / scale, y / scale, pw / scale, ph / scale, w, h)
                people.append((confidence, box))
        people.sort(key=lambda p: -p[0])
        return [Label(name="Person", confidence=c, box=b) for c, b in people]


class CodeReader:
    """QR codes and (when this OpenCV build has the reader) 1-D barcodes, read as text.

    A decoded code passed its own error correction or checksum, so its confidence is 100.
    """

    def __init__(self) -> None:
        self._qr = cv2.QRCodeDetector()
        # The barcode reader is in the contrib-free wheel since 4.8; older builds lack it.
        barcode: Any = getattr(cv2, "barcode", None)
        self._barcode: Any = barcode.BarcodeDetector() if barcode is not None else None
        # The readers keep state between detection and decoding: one image at a time.
        self._lock = threading.Lock()

    def read(self, image: Bgr) -> list[TextDetection]:
        """Decoded payloads with the box around each code."""
        h, w = image.shape[:2]
        found: list[TextDetection] = []
        with self._lock:
            ok, texts, points, _ = self._qr.detectAndDecodeMulti(image)
            if ok and points is not None:
                found.extend(_code(t, c, w, h) for t, c in zip(texts, points, strict=True) if t)
            if self._barcode is not None:
                ok, texts, _types, points = self._barcode.detectAndDecodeWithType(image)
                if ok and points is not None:
                    found.extend(_code(t, c, w, h) for t, c in zip(texts, points, strict=True) if t)
        return found


def _code(text: str, corners: npt.NDArray[Any], w: int, h: int) -> TextDetection:
    xs, ys = corners[:, 0], corners[:, 1]
    x0, y0 = float(xs.min()), float(ys.min())
    box = pixel_box(x0, y0, float(xs.max()) - x0, float(ys.max()) - y0, w, h)
    return TextDetection(text=text, confidence=100.0, box=box)

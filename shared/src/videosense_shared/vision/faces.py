"""dlib's face detector and 128-d face embedding, with the weights the
``face-recognition-models`` package ships (installed by ``make setup``, nothing downloaded).

- Detection: dlib's HOG + linear SVM frontal face detector (built into dlib itself). It is the
  detector the face_recognition project's own tests assert boxes for; dlib's CNN detector in the
  same package is 20-50x slower on a CPU and not used.
- Embedding: dlib's ResNet face recognition model (``dlib_face_recognition_resnet_model_v1``),
  128 numbers per face, aligned with the 5-point landmark model. Two photos of one person are
  usually within Euclidean distance 0.6 (dlib's own threshold, 99.38% on LFW).

Only CC0 weights are loaded: the 68-point landmark model in the same package is licensed for
non-commercial use only and is never opened.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from videosense_shared.backends import BackendUnavailableError
from videosense_shared.messages import Box, Face
from videosense_shared.vision.boxes import pixel_box, score_confidence
from videosense_shared.vision.images import Bgr

Vector = npt.NDArray[np.float64]

#: Weights used from ``face-recognition-models`` (both CC0).
EMBEDDING_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
LANDMARK_MODEL = "shape_predictor_5_face_landmarks.dat"

# HOG SVM margins, measured: faces in the face_recognition test photos score 0.86-2.0; the
# best false detections on ffmpeg's test patterns and around the astronaut 0.12-0.21.
_FACE_MIDPOINT, _FACE_SPREAD = 0.3, 0.15
# Windows scoring below this are not even reported by dlib (well under any useful confidence).
_ADJUST_THRESHOLD = -0.5
# The HOG window is 80x80 pixels: frames up to this shorter side are upsampled once so faces
# down to ~40 px are found (what face_recognition does by default); larger images are not,
# which keeps a 1080p frame around a second on one core.
_UPSAMPLE_UP_TO = 1080


def models_dir() -> Path:
    """Where the installed ``face-recognition-models`` package keeps its ``.dat`` files.

    The package is located without importing it: its ``__init__`` needs ``pkg_resources``,
    which current setuptools no longer provides.

    Raises:
        BackendUnavailableError: the package is not installed.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise BackendUnavailableError(
            "face detection needs the face-recognition-models package (run `make setup`, or "
            "set VIDEOSENSE_RECOGNIZER_FACE_DETECTOR=haar for OpenCV's cascade)"
        )
    return Path(locations[0]) / "models"


def _dlib() -> Any:
    try:
        # Imported when faces are wanted: the Haar option runs without the native module.
        import dlib  # type: ignore[import-untyped]
    except ImportError as err:
        raise BackendUnavailableError(
            "face detection needs dlib (the dlib-bin package: run `make setup`, or set "
            "VIDEOSENSE_RECOGNIZER_FACE_DETECTOR=haar for OpenCV's cascade)"
        ) from err
    return dlib


def _rgb(image: Bgr) -> npt.NDArray[np.uint8]:
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


class HogFaceDetector:
    """Frontal faces with dlib's HOG detector.

    Raises:
        BackendUnavailableError: dlib is not installed.
    """

    def __init__(self) -> None:
        self._detector = _dlib().get_frontal_face_detector()
        # dlib's detector objects are not documented as thread-safe: one scan at a time.
        self._lock = threading.Lock()

    def detect(self, image: Bgr, min_confidence: float) -> list[Face]:
        """Faces in a BGR image, most confident first."""
        h, w = image.shape[:2]
        upsample = 1 if min(h, w) <= _UPSAMPLE_UP_TO else 0
        with self._lock:
            rects, scores, _kinds = self._detector.run(_rgb(image), upsample, _ADJUST_THRESHOLD)
        faces: list[Face] = []
        for rect, score in zip(rects, scores, strict=True):
            confidence = score_confidence(score, midpoint=_FACE_MIDPOINT, spread=_FACE_SPREAD)
            if confidence >= min_confidence:
                box = pixel_box(rect.left(), rect.top(), rect.width(), rect.height(), w, h)
                faces.append(Face(box=box, confidence=confidence))
        faces.sort(key=lambda f: -f.confidence)
        return faces


class FaceEmbedder:
    """dlib's 128-d face embedding of a face box, aligned by the 5-point landmarks.

    Raises:
        BackendUnavailableError: dlib or the packaged weights are missing or do not load.
    """

    def __init__(self, folder: Path | None = None) -> None:
        dlib = _dlib()
        root = folder or models_dir()
        try:
            self._landmarks = dlib.shape_predictor(str(root / LANDMARK_MODEL))
            self._model = dlib.face_recognition_model_v1(str(root / EMBEDDING_MODEL))
        except RuntimeError as err:
            raise BackendUnavailableError(f"the face models in {root} do not load: {err}") from err
        self._rectangle = dlib.rectangle
        self._lock = threading.Lock()

    def embed(self, image: Bgr, box: Box) -> Vector:
        """The embedding of the face in ``box`` (relative to ``image``)."""
        h, w = image.shape[:2]
        rect = self._rectangle(
            round(box.left * w),
            round(box.top * h),
            round((box.left + box.width) * w) - 1,
            round((box.top + box.height) * h) - 1,
        )
        rgb = _rgb(image)
        with self._lock:
            shape = self._landmarks(rgb, rect)
            vector = np.asarray(self._model.compute_face_descriptor(rgb, shape), np.float64)
        return vector

"""Offline face search: faces matched against a local gallery by an ONNX embedding model.

The gallery is a directory of photos per person (its layout: :mod:`recognizer.gallery`). Each
photo contributes the embedding of its largest detected face, or
of the whole photo when no face is detected in it (an already cropped face). A face in a
keyframe is named after the gallery photo it is most similar to (cosine similarity of the
L2-normalised embeddings), when that similarity reaches the threshold; ``match_id`` is the
photo's id in the gallery (its path inside it), stable across runs.

The model is any face embedding network exported to ONNX (ArcFace / SFace style) taking one
NCHW RGB crop scaled to -1..1 and returning one vector.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from recognizer.detectors import FaceDetector
from recognizer.gallery import GalleryDirectory
from recognizer.images import Bgr
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.messages import Box

Vector = npt.NDArray[np.float32]


class FaceEmbedder:
    """Runs an ONNX face embedding model with OpenCV's DNN module.

    Raises:
        BackendUnavailableError: the model cannot be read or loaded.
    """

    def __init__(self, model: Path, input_size: int) -> None:
        try:
            self._net = cv2.dnn.readNetFromONNX(str(model))
        except cv2.error as err:
            raise BackendUnavailableError(
                f"the face embedding model {model} does not load: {err.err}"
            ) from err
        if self._net.empty():
            raise BackendUnavailableError(f"the face embedding model {model} does not load")
        self._size = input_size
        self._lock = threading.Lock()  # cv2.dnn.Net: one forward pass at a time

    def embed(self, face: Bgr) -> Vector:
        """The unit-length embedding of a face crop.

        Raises:
            BackendUnavailableError: the model returned an all-zero vector (unusable for matching).
        """
        rgb = cv2.cvtColor(cv2.resize(face, (self._size, self._size)), cv2.COLOR_BGR2RGB)
        scaled = rgb.astype(np.float32) / 127.5 - 1.0
        blob = np.ascontiguousarray(scaled.transpose(2, 0, 1)[np.newaxis])
        with self._lock:
            self._net.setInput(blob)
            vector = np.asarray(self._net.forward(), dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            raise BackendUnavailableError("the face embedding model returned a zero vector")
        result: Vector = vector / norm
        return result


@dataclass(frozen=True)
class GalleryFace:
    """One gallery photo's face: who it is, its id, its embedding."""

    name: str
    match_id: str
    vector: Vector


def crop(image: Bgr, box: Box) -> Bgr:
    """The pixels of a relative box (at least one pixel)."""
    h, w = image.shape[:2]
    x0 = min(w - 1, max(0, int(box.left * w)))
    y0 = min(h - 1, max(0, int(box.top * h)))
    x1 = max(x0 + 1, min(w, round((box.left + box.width) * w)))
    y1 = max(y0 + 1, min(h, round((box.top + box.height) * h)))
    return image[y0:y1, x0:x1]


class FaceGallery:
    """The embeddings of a gallery directory, and nearest-face lookup.

    Raises:
        BackendUnavailableError: the directory does not exist or holds no readable photo.
    """

    def __init__(
        self,
        root: Path,
        embedder: FaceEmbedder,
        detector: FaceDetector,
        *,
        threshold: float,
        min_confidence: float,
    ) -> None:
        gallery = GalleryDirectory(root)
        if not gallery.exists():
            raise BackendUnavailableError(f"the face gallery {root} is not a directory")
        self._embedder = embedder
        self._threshold = threshold
        faces: list[GalleryFace] = []
        for photo in gallery.photos():
            image = cv2.imread(str(photo.path), cv2.IMREAD_COLOR)
            if image is None:
                continue
            pixels = np.asarray(image, np.uint8)
            found = detector.detect(pixels, min_confidence)
            if found:
                largest = max(found, key=lambda f: f.box.width * f.box.height)
                pixels = crop(pixels, largest.box)
            faces.append(GalleryFace(photo.name, photo.photo_id, embedder.embed(pixels)))
        if not faces:
            raise BackendUnavailableError(f"the face gallery {root} holds no readable photo")
        self._faces = faces
        self._matrix = np.stack([f.vector for f in faces])

    def __len__(self) -> int:
        return len(self._faces)

    def match(self, face: Bgr) -> tuple[GalleryFace, float] | None:
        """The most similar gallery face and its cosine similarity, if above the threshold."""
        similarities = self._matrix @ self._embedder.embed(face)
        best = int(np.argmax(similarities))
        similarity = float(similarities[best])
        if similarity < self._threshold:
            return None
        return self._faces[best], similarity

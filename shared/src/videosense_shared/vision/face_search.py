"""Offline face search: faces matched against a local gallery with dlib's 128-d embedding.

The gallery is a directory of photos per person (its layout:
:mod:`videosense_shared.vision.gallery`; ``videosense faces index`` fills it). Each photo
contributes the embedding of its largest detected face, or of the whole photo when no face is
detected in it (an already tight crop).
A face in a keyframe is named after the gallery photo whose embedding is nearest (Euclidean
distance), when that distance is at most the threshold (dlib's 0.6 by default); ``match_id``
is the photo's id in the gallery (its path inside it), stable across runs.

Embeddings of gallery photos are kept in memory per process, keyed by the photo's content, so
a gallery opened again (another backend, a retry, a photo added while the service runs: see
``LocalBackend``) only embeds the photos it has not seen.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from videosense_shared.backends import BackendUnavailableError
from videosense_shared.messages import Box, Face
from videosense_shared.vision.faces import FaceEmbedder, Vector
from videosense_shared.vision.gallery import GalleryDirectory
from videosense_shared.vision.images import Bgr

#: dlib's threshold for "same person" (its LFW accuracy is quoted at this distance).
DEFAULT_MAX_DISTANCE = 0.6
_WHOLE_PHOTO = Box(left=0.0, top=0.0, width=1.0, height=1.0)


class FaceFinder(Protocol):
    """A face detector (dlib's HOG or OpenCV's Haar cascade)."""

    def detect(self, image: Bgr, min_confidence: float) -> list[Face]:
        """Faces in a BGR image, most confident first."""
        ...


@dataclass(frozen=True)
class GalleryFace:
    """One gallery photo's face: who it is, its id, its embedding."""

    name: str
    match_id: str
    vector: Vector


_cache: dict[str, Vector] = {}
_cache_lock = threading.Lock()


def _photo_embedding(
    path: Path, embedder: FaceEmbedder, detector: FaceFinder, min_confidence: float
) -> Vector | None:
    data = path.read_bytes()
    key = hashlib.sha256(data).hexdigest()
    with _cache_lock:
        known = _cache.get(key)
    if known is not None:
        return known
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is None:
        return None
    pixels = np.asarray(image, np.uint8)
    found = detector.detect(pixels, min_confidence)
    box = max(found, key=lambda f: f.box.width * f.box.height).box if found else _WHOLE_PHOTO
    vector = embedder.embed(pixels, box)
    with _cache_lock:
        _cache[key] = vector
    return vector


class FaceGallery:
    """The embeddings of a gallery directory, and nearest-face lookup.

    Raises:
        BackendUnavailableError: the directory does not exist or holds no readable photo.
    """

    def __init__(
        self,
        root: Path,
        embedder: FaceEmbedder,
        detector: FaceFinder,
        *,
        max_distance: float = DEFAULT_MAX_DISTANCE,
        min_confidence: float,
    ) -> None:
        gallery = GalleryDirectory(root)
        if not gallery.exists():
            raise BackendUnavailableError(f"the face gallery {root} is not a directory")
        self._embedder = embedder
        self._max_distance = max_distance
        faces: list[GalleryFace] = []
        photos = gallery.photos()
        self._listed = tuple(photo.photo_id for photo in photos)
        for photo in photos:
            vector = _photo_embedding(photo.path, embedder, detector, min_confidence)
            if vector is not None:
                faces.append(GalleryFace(photo.name, photo.photo_id, vector))
        if not faces:
            raise BackendUnavailableError(f"the face gallery {root} holds no readable photo")
        self._faces = faces
        self._matrix = np.stack([f.vector for f in faces])

    def __len__(self) -> int:
        return len(self._faces)

    @property
    def photo_ids(self) -> tuple[str, ...]:
        """The ids of the photos the gallery held when loaded (readable or not), in order."""
        return self._listed

    def match(self, image: Bgr, box: Box) -> tuple[GalleryFace, float] | None:
        """The nearest gallery face to the face in ``box`` and its distance, if close enough."""
        distances = np.linalg.norm(self._matrix - self._embedder.embed(image, box), axis=1)
        best = int(np.argmin(distances))
        distance = float(distances[best])
        if distance > self._max_distance:
            return None
        return self._faces[best], distance

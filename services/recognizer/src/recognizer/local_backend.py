"""The offline backend: models installed as packages, nothing downloaded, nothing sent out.

What it can do: ``faces`` (dlib's HOG face detector; OpenCV's Haar cascade as an option),
``face_search`` (dlib's 128-d face embedding against the local face gallery), ``people``
(OpenCV's HOG, as ``Person`` labels), ``text`` (RapidOCR text lines, Tesseract as an option,
plus QR codes and barcodes) and ``labels`` (ImageNet classes from the packaged
EfficientNet-Lite0, or a configured ONNX classifier). ``celebrities`` needs Rekognition's
celebrity database.
Requesting what is not there fails the stage with a reason, never silently.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Set

from recognizer.backend import ImageRecognition
from recognizer.detectors import CodeReader, FaceDetector, PeopleDetector
from recognizer.features import Feature
from recognizer.images import Bgr, decode_image
from recognizer.labels_model import LabelModel
from recognizer.ocr import TesseractOcr
from recognizer.packaged_labels import PackagedLabels
from recognizer.rapid_ocr import RapidOcr
from recognizer.settings import RecognizerSettings
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.messages import Face, Label, TextDetection
from videosense_shared.vision.face_search import FaceFinder, FaceGallery
from videosense_shared.vision.faces import FaceEmbedder, HogFaceDetector
from videosense_shared.vision.gallery import GalleryDirectory

_UNAVAILABLE = {
    Feature.CELEBRITIES: (
        "celebrity recognition is unavailable offline: the local backend has no celebrity "
        "model (use VIDEOSENSE_RECOGNIZER_BACKEND=rekognition)"
    ),
}
_NO_GALLERY = (
    "face search needs photos in the local face gallery {root}: add them with "
    "`videosense faces index --name NAME photo.jpg` (or set VIDEOSENSE_RECOGNIZER_FACE_GALLERY)"
)


class LocalBackend:
    """dlib + RapidOCR (+ OpenCV) recognition. Models are loaded on first use of their feature."""

    def __init__(self, settings: RecognizerSettings) -> None:
        self._settings = settings
        self._faces: FaceFinder | None = None
        self._people: PeopleDetector | None = None
        self._codes: CodeReader | None = None
        self._labels: LabelModel | PackagedLabels | None = None
        self._gallery: FaceGallery | None = None
        self._ocr: TesseractOcr | RapidOcr = (
            TesseractOcr(settings.tesseract_cmd, settings.ocr_languages, settings.ocr_timeout_s)
            if settings.ocr == "tesseract"
            else RapidOcr()
        )
        self._ocr_checked = False
        # Keyframes are recognized in parallel threads; the first ones must not each load the
        # detectors (or run the Tesseract check) at the same time.
        self._load_lock = threading.Lock()

    @property
    def name(self) -> str:
        """``local``."""
        return "local"

    async def prepare(self, features: Set[Feature]) -> None:
        """Load what ``features`` need (once, in a worker thread); say clearly what is missing.

        Raises:
            BackendUnavailableError: a feature this backend cannot run, a missing label model,
                face model, OCR engine or cascade, or an empty face gallery.
        """
        await asyncio.to_thread(self._load, frozenset(features))

    def _load(self, features: frozenset[Feature]) -> None:
        with self._load_lock:
            self._load_locked(features)

    def _load_locked(self, features: frozenset[Feature]) -> None:
        """Build the detectors ``features`` need.

        Raises:
            BackendUnavailableError: a feature this backend cannot run, a missing label model,
                face model, OCR engine or cascade, or an empty face gallery.
        """
        if Feature.CELEBRITIES in features:
            raise BackendUnavailableError(_UNAVAILABLE[Feature.CELEBRITIES])
        if Feature.LABELS in features and self._labels is None:
            cfg = self._settings
            if cfg.label_model is None:
                packaged = PackagedLabels(cfg.label_top_k, cfg.label_min_confidence)
                packaged.load()
                self._labels = packaged
            else:
                self._labels = LabelModel(
                    cfg.label_model, cfg.label_names, cfg.label_input_size, cfg.label_top_k
                )
        wants_faces = Feature.FACES in features or Feature.FACE_SEARCH in features
        if wants_faces and self._faces is None:
            self._faces = (
                FaceDetector() if self._settings.face_detector == "haar" else HogFaceDetector()
            )
        if Feature.FACE_SEARCH in features and self._gallery is None:
            self._gallery = self._load_gallery()
        if Feature.PEOPLE in features and self._people is None:
            self._people = PeopleDetector()
        if Feature.TEXT in features:
            if not self._ocr_checked:
                self._ocr.check()
                self._ocr_checked = True
            if self._codes is None:
                self._codes = CodeReader()

    def _load_gallery(self) -> FaceGallery:
        cfg = self._settings
        assert self._faces is not None
        try:
            return FaceGallery(
                cfg.face_gallery,
                FaceEmbedder(),
                self._faces,
                max_distance=cfg.face_match_distance,
                min_confidence=cfg.min_confidence,
            )
        except BackendUnavailableError as err:
            if GalleryDirectory(cfg.face_gallery).photos():
                raise
            raise BackendUnavailableError(_NO_GALLERY.format(root=cfg.face_gallery)) from err

    async def recognize(self, image: bytes, features: Set[Feature]) -> ImageRecognition:
        """Decode the JPEG and run the detectors in a worker thread.

        Raises:
            RecognitionError: the image does not decode, or Tesseract failed on it.
            BackendUnavailableError: a feature cannot run (see :meth:`prepare`, which this
                calls), or the label model's output does not match its names.
        """
        await self.prepare(features)
        return await asyncio.to_thread(self._recognize, image, frozenset(features))

    def _recognize(self, data: bytes, features: frozenset[Feature]) -> ImageRecognition:
        image = decode_image(data)
        minimum = self._settings.min_confidence
        labels: list[Label] = []
        if Feature.LABELS in features:
            if isinstance(self._labels, PackagedLabels):
                labels.extend(self._labels.classify(image))
            elif isinstance(self._labels, LabelModel):
                labels.extend(self._labels.classify(image, self._settings.label_min_confidence))
        if Feature.PEOPLE in features and self._people is not None:
            labels.extend(self._people.detect(image, minimum))
        faces: list[Face] = []
        if self._faces is not None and (
            Feature.FACES in features or Feature.FACE_SEARCH in features
        ):
            faces = self._faces.detect(image, minimum)
        if Feature.FACE_SEARCH in features and self._gallery is not None:
            faces = self._search(image, faces, keep_unmatched=Feature.FACES in features)
        text: list[TextDetection] = []
        if Feature.TEXT in features:
            text = self._read_text(image, minimum)
        return ImageRecognition(labels=tuple(labels), faces=tuple(faces), text=tuple(text))

    def _search(self, image: Bgr, faces: list[Face], *, keep_unmatched: bool) -> list[Face]:
        gallery = self._current_gallery()
        out: list[Face] = []
        for face in faces:
            match = gallery.match(image, face.box)
            if match is not None:
                found, _distance = match
                out.append(face.model_copy(update={"name": found.name, "match_id": found.match_id}))
            elif keep_unmatched:
                out.append(face)
        return out

    def _current_gallery(self) -> FaceGallery:
        """The gallery as it is now: photos indexed or deleted since it was loaded are picked
        up (a service runs for days; only new photos are embedded, see the cache)."""
        photo_ids = tuple(
            p.photo_id for p in GalleryDirectory(self._settings.face_gallery).photos()
        )
        with self._load_lock:
            if self._gallery is None or self._gallery.photo_ids != photo_ids:
                self._gallery = self._load_gallery()
            return self._gallery

    def _read_text(self, image: Bgr, minimum: float) -> list[TextDetection]:
        codes = self._codes.read(image) if self._codes is not None else []
        return [*codes, *self._ocr.read(image, minimum)]

"""Recognizer settings, read from ``VIDEOSENSE_RECOGNIZER_*`` when constructed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from recognizer.features import Feature, parse_features
from recognizer.packaged_labels import packaged_model_installed
from videosense_shared.settings import ConsumerSettings
from videosense_shared.vision.gallery import GalleryDirectory, default_gallery_root

#: Local keyframes analysed at once by default, at most: one per model a keyframe goes through.
_MAX_LOCAL_KEYFRAMES = 4


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity: what a container is pinned to), or the
    machine's count where affinity is not available."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


#: What each backend runs when ``features`` is not set.
DEFAULT_FEATURES: dict[str, tuple[Feature, ...]] = {
    "local": (Feature.FACES, Feature.TEXT, Feature.PEOPLE),
    "rekognition": (Feature.LABELS, Feature.FACES, Feature.CELEBRITIES, Feature.TEXT),
}


class RecognizerSettings(ConsumerSettings):
    """Which backend recognizes what, and how hard it may push.

    ``features`` empty means the backend's default: ``faces,text,people`` for ``local`` (plus
    ``labels`` when the packaged classifier is installed or a label model is configured,
    ``face_search`` when the face gallery holds a photo), ``labels,faces,celebrities,text``
    for ``rekognition`` (plus ``face_search`` when a collection is configured).
    """

    model_config = SettingsConfigDict(env_prefix="VIDEOSENSE_RECOGNIZER_", extra="ignore")

    backend: Literal["local", "rekognition"] = Field(
        default="local",
        description="Who does the recognition: local models (dlib, RapidOCR) or Rekognition.",
    )
    features: Annotated[tuple[Feature, ...], NoDecode] = Field(
        default=(),
        description="Comma list of labels,people,faces,celebrities,text,face_search.",
    )
    min_confidence: float = Field(
        default=80.0,
        ge=0,
        le=100,
        description="ImageRecognition below this confidence (0-100) are dropped.",
    )
    collection: str | None = Field(
        default=None, description="Rekognition face collection that face_search looks faces up in."
    )
    keyframe_parallelism: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description=(
            "Keyframes this worker analyses at once, over all the chunks it handles at once "
            "(each one's image and the models' working memory are held meanwhile). Default: "
            "the CPUs this process may use, at most 4, for local; max_concurrent_calls for "
            "rekognition."
        ),
    )

    # Local backend.
    face_detector: Literal["hog", "haar"] = Field(
        default="hog",
        description="Local face detector: dlib's HOG detector, or OpenCV's Haar cascade.",
    )
    ocr: Literal["rapidocr", "tesseract"] = Field(
        default="rapidocr",
        description="Local text reader: RapidOCR's packaged PP-OCR models, or the Tesseract CLI.",
    )
    tesseract_cmd: str = Field(default="tesseract", description="The Tesseract executable.")
    ocr_languages: str = Field(default="eng", description="Tesseract languages, e.g. 'eng+deu'.")
    ocr_timeout_s: float = Field(default=60.0, gt=0, description="Tesseract time limit per image.")
    label_model: Path | None = Field(
        default=None,
        description=(
            "ONNX image classifier for local labels (NCHW float input, class scores out) "
            "instead of the packaged EfficientNet-Lite0 ImageNet classifier."
        ),
    )
    label_names: Path | None = Field(
        default=None, description="Text file with the label model's class names, one per line."
    )
    label_input_size: int = Field(
        default=224, ge=8, le=4096, description="Square input side of the label model."
    )
    label_top_k: int = Field(default=5, ge=1, le=100, description="Labels kept per keyframe.")
    label_min_confidence: float = Field(
        default=60.0,
        ge=0,
        le=100,
        description=(
            "Local labels below this class probability (%) are dropped. 60 is above what the "
            "packaged classifier gave any ffmpeg test pattern (57% at most, measured)."
        ),
    )

    face_gallery: Path = Field(
        default_factory=default_gallery_root,
        description=(
            "Local face collection (what `videosense faces index` fills): a directory with one "
            "sub-directory of face photos per person (or photos named after the person)."
        ),
    )
    face_match_distance: float = Field(
        default=0.6,
        gt=0,
        le=2,
        description="Largest Euclidean distance of 128-d face embeddings for a local match.",
    )

    # Rekognition backend.
    max_labels: int = Field(default=50, ge=1, le=1000, description="DetectLabels MaxLabels.")
    face_match_threshold: float = Field(
        default=80.0, ge=0, le=100, description="SearchFacesByImage FaceMatchThreshold."
    )
    max_concurrent_calls: int = Field(
        default=4,
        ge=1,
        le=100,
        description="Rekognition calls in flight at once per worker (its TPS limits are low).",
    )
    max_image_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=16_384,
        le=5 * 1024 * 1024,
        description="Images above this are shrunk before being sent (Rekognition's limit: 5 MB).",
    )

    @field_validator("features", mode="before")
    @classmethod
    def _split_features(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_features(value)
        return value

    def keyframes_at_once(self) -> int:
        """How many keyframes this worker analyses at once: ``keyframe_parallelism``, or the
        backend's default.

        Locally, each model runs one image at a time (see the locks in
        :mod:`recognizer.local_backend`), so more keyframes than CPUs only hold more images and
        more of the models' working memory without finishing sooner; past 4 (the models a
        keyframe passes through) no CPU count helps.
        """
        if self.keyframe_parallelism is not None:
            return self.keyframe_parallelism
        if self.backend == "rekognition":
            return self.max_concurrent_calls
        return max(1, min(usable_cpus(), _MAX_LOCAL_KEYFRAMES))

    def requested_features(self) -> tuple[Feature, ...]:
        """The features to run: ``features`` or the backend's default."""
        if self.features:
            return self.features
        defaults = DEFAULT_FEATURES[self.backend]
        if self.backend == "local":
            has_labels = self.label_model is not None or packaged_model_installed()
            labels = (Feature.LABELS,) if has_labels else ()
            search = (Feature.FACE_SEARCH,) if GalleryDirectory(self.face_gallery).photos() else ()
            return (*labels, *defaults, *search)
        if self.backend == "rekognition" and self.collection:
            return (*defaults, Feature.FACE_SEARCH)
        return defaults

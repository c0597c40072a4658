"""Redactor settings, read from ``VIDEOSENSE_REDACTOR_*`` when constructed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from redactor.policy import parse_policy
from videosense_shared.settings import ConsumerSettings
from videosense_shared.vision.gallery import default_gallery_root

BackendName = Literal["local", "rekognition"]
Style = Literal["pixelate", "blur"]


class RedactorSettings(ConsumerSettings):
    """Who finds the faces, whose faces are hidden, how, and how the copy is encoded."""

    model_config = SettingsConfigDict(env_prefix="VIDEOSENSE_REDACTOR_", extra="ignore")

    backend: BackendName = Field(
        default="local",
        description=(
            "local: dlib's face detector and embedding in-process (offline); rekognition: "
            "Rekognition Video face detection / face search jobs on the S3 object."
        ),
    )
    policy: str = Field(
        default="all",
        description=(
            "Whose faces are hidden: 'all', 'only:NAME,...' (only these people) or "
            "'except:NAME,...' (everyone but these people). Names are gallery people (local) "
            "or ExternalImageIds of the collection (rekognition)."
        ),
    )
    style: Style = Field(default="pixelate", description="pixelate (mosaic) or blur (Gaussian).")
    strength: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="How strongly: pixelate 0 -> 16 cells across a box, 1 -> 4; blur sigma grows.",
    )
    redact_text: bool = Field(
        default=False, description="Also hide on-screen text (RapidOCR's packaged models)."
    )

    # Sampling and tracking.
    sample_interval_s: float = Field(
        default=0.2,
        gt=0,
        le=5,
        description=(
            "Faces are detected on a frame every this many seconds (and on the first frame of "
            "every shot); boxes in between are interpolated along each face's track."
        ),
    )
    full_frame_every: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Every this many samples (and at every cut) the whole frame is searched for "
        "new faces; on the samples between, only the regions around the faces already tracked "
        "(much cheaper, same rate for the faces that matter).",
    )
    edge_extend_s: float = Field(
        default=2.0,
        ge=0,
        le=30,
        description="A track that starts or ends at the picture's edge is carried up to this long "
        "along its motion until it has left the picture (a face walking in or out).",
    )
    text_interval_s: float = Field(
        default=1.0, gt=0, le=30, description="Text is read on a frame every this many seconds."
    )
    detect_width: int = Field(
        default=480,
        ge=160,
        le=3840,
        description=(
            "Frames are scaled down to this width for detection (speed); the detector upsamples "
            "once, so faces down to about 40 px at this width are found."
        ),
    )
    min_confidence: float = Field(
        default=50.0,
        ge=0,
        le=100,
        description="Detections below this (0-100) are ignored. Low on purpose: a missed face "
        "is a leak, an extra box only hides a little background.",
    )
    padding: float = Field(
        default=0.4,
        ge=0,
        le=2,
        description="Added to every side of a face box, as a fraction of its size (the detector's "
        "box is tight around eyes and mouth; the padding takes in hair, ears and chin).",
    )
    max_missed_samples: int = Field(
        default=10,
        ge=0,
        le=100,
        description="A track survives this many samples without its face (a turned head, a "
        "missed detection); the gap is interpolated.",
    )
    extend_samples: float = Field(
        default=1.0,
        ge=0,
        le=10,
        description="Tracks are extended by this many sample intervals before their first and "
        "after their last detection (never across a cut), following the face's motion.",
    )
    cut_threshold: float = Field(
        default=0.45,
        gt=0,
        le=1,
        description="Histogram distance (Bhattacharyya, 0-1) between consecutive frames that "
        "counts as a hard cut: tracks end there and the new shot is sampled at once.",
    )

    # Face search (policies only: and except:; under all, it names the recorded face tracks).
    face_gallery: Path = Field(
        default_factory=lambda: Path(
            os.environ.get("VIDEOSENSE_RECOGNIZER_FACE_GALLERY") or default_gallery_root()
        ),
        description="Local face gallery; by default the recognizer's (what `videosense faces "
        "index` fills).",
    )
    face_match_distance: float = Field(
        default=0.6, gt=0, le=2, description="Largest embedding distance that names a face."
    )
    embeddings_per_track: int = Field(
        default=3, ge=1, le=50, description="Faces of a track embedded to name it (majority)."
    )

    # Encoding.
    crf: int = Field(default=20, ge=0, le=51, description="libx264 constant rate factor.")
    preset: str = Field(
        default="veryfast",
        pattern=r"^(ultrafast|superfast|veryfast|faster|fast|medium|slow|slower|veryslow)$",
        description="libx264 preset.",
    )
    x264_params: str = Field(
        default="me=dia:subme=1",
        pattern=r"^([a-z0-9-]+=[A-Za-z0-9.,_-]+(:[a-z0-9-]+=[A-Za-z0-9.,_-]+)*)?$",
        description="x264 options over the preset ('key=value:...'; empty: the preset's). The "
        "default takes superfast's motion search (diamond, one subpixel refinement): about a "
        "quarter less encoder time than veryfast's for ~6% more bytes at the same CRF.",
    )
    threads: int = Field(default=0, ge=0, le=64, description="Encoder threads (0: automatic).")

    # Rekognition backend.
    collection: str | None = Field(
        default_factory=lambda: os.environ.get("VIDEOSENSE_RECOGNIZER_COLLECTION") or None,
        description="Rekognition collection the face search looks faces up in; by default "
        "the recognizer's.",
    )
    notification_topic_arn: str | None = Field(
        default=None,
        description="SNS topic Rekognition Video announces job completion on "
        "(NotificationChannel).",
    )
    notification_role_arn: str | None = Field(
        default=None, description="IAM role Rekognition assumes to publish on that topic."
    )
    face_match_threshold: float = Field(
        default=80.0, ge=0, le=100, description="StartFaceSearch FaceMatchThreshold."
    )
    poll_s: float = Field(default=10.0, gt=0, le=600, description="Job status poll interval.")
    job_timeout_s: float = Field(
        default=4 * 3600.0, gt=0, description="A job running longer fails the stage."
    )

    @field_validator("policy")
    @classmethod
    def _check_policy(cls, value: str) -> str:
        parse_policy(value)
        return value

"""Clipper settings, read from ``VIDEOSENSE_CLIPPER_*`` when constructed."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from videosense_shared.settings import ConsumerSettings


class ClipperSettings(ConsumerSettings):
    """How clips are encoded where they must be, and how much one request may ask for."""

    model_config = SettingsConfigDict(env_prefix="VIDEOSENSE_CLIPPER_", extra="ignore")

    x264_preset: str = Field(
        default="veryfast",
        pattern=r"^(ultrafast|superfast|veryfast|faster|fast|medium|slow|slower|veryslow)$",
        description="libx264 preset of re-encoded frames (smart-cut edges and fallbacks).",
    )
    crf: int = Field(default=18, ge=0, le=51, description="libx264 quality (lower: better).")
    audio_bit_rate: int = Field(default=160_000, ge=32_000, le=512_000)
    max_ranges: int = Field(
        default=200,
        ge=1,
        le=1000,
        description="A request finding more moments than this fails with a reason (its result "
        "message must stay small, and so must the bucket bill).",
    )
    work_dir: str = Field(
        default="", description="Where sources are downloaded and clips written (empty: $TMPDIR)."
    )

"""Ingest settings (``VIDEOSENSE_INGEST_*``)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from videosense_shared.messages import Stage
from videosense_shared.settings import ConsumerSettings, parse_stages

# Stages that have a service behind them. A stage is requestable only once it is built: asking
# for one that is not is a usage error, never a silently faked result.
AVAILABLE_STAGES: tuple[Stage, ...] = (Stage.FRAMES,)
KEYFRAME_STAGES = (Stage.CAPTIONS, Stage.RECOGNITION)


def requestable_stages(value: str) -> tuple[Stage, ...]:
    """Parse a comma list of stages and check every one is available.

    Stages that work on keyframes (captions, recognition) bring in ``frames``.

    Raises:
        ValueError: unknown or not-yet-available stage, or an empty list.
    """
    stages = parse_stages(value)
    if any(s in KEYFRAME_STAGES for s in stages) and Stage.FRAMES not in stages:
        # Captions and recognition work on keyframes: they imply the frame stage.
        stages = (Stage.FRAMES, *stages)
    missing = [s.value for s in stages if s not in AVAILABLE_STAGES]
    if missing:
        available = ", ".join(s.value for s in AVAILABLE_STAGES)
        raise ValueError(
            f"stage(s) {', '.join(missing)} not available in this version (available: {available})"
        )
    return stages


class IngestSettings(ConsumerSettings):
    """How ingest runs."""

    model_config = SettingsConfigDict(env_prefix="VIDEOSENSE_INGEST_", extra="ignore")

    stages: str = Field(
        default="frames",
        description="Stages requested for a video without 'videosense-stages' object metadata.",
    )
    presign_expiry_s: int = Field(default=900, ge=60, le=43_200)

    @field_validator("stages")
    @classmethod
    def _check_stages(cls, value: str) -> str:
        requestable_stages(value)
        return value

    @property
    def default_stages(self) -> tuple[Stage, ...]:
        """The default stages, parsed."""
        return requestable_stages(self.stages)

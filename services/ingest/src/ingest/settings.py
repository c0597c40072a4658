"""Ingest settings (``VIDEOSENSE_INGEST_*``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from videosense_shared.media import DEFAULT_MAX_DURATION_S, DEFAULT_MAX_FRAME_PIXELS, ProbeLimits
from videosense_shared.messages import Stage
from videosense_shared.settings import ConsumerSettings, parse_stages
from videosense_shared.stages import KEYFRAME_STAGES

# Stages that have a service in this version. A deployment may run fewer (see
# IngestSettings.available_stages); asking for a stage with no service behind it is an error,
# never a video that waits forever or a faked result.
AVAILABLE_STAGES: tuple[Stage, ...] = (Stage.FRAMES,)
STAGES_METADATA = "videosense-stages"  # x-amz-meta-videosense-stages: "frames,transcript"


def requestable_stages(
    value: str, available: tuple[Stage, ...] = AVAILABLE_STAGES
) -> tuple[Stage, ...]:
    """Parse a comma list of stages and check every one is ``available``.

    Stages that work on keyframes (captions, recognition) bring in ``frames``.

    Raises:
        ValueError: unknown or not-available stage, or an empty list.
    """
    stages = parse_stages(value)
    if any(s in KEYFRAME_STAGES for s in stages) and Stage.FRAMES not in stages:
        # Captions and recognition work on keyframes: they imply the frame stage.
        stages = (Stage.FRAMES, *stages)
    missing = [s.value for s in stages if s not in available]
    if missing:
        names = ", ".join(s.value for s in available)
        raise ValueError(f"stage(s) {', '.join(missing)} not available (available: {names})")
    return stages


class IngestSettings(ConsumerSettings):
    """How ingest runs."""

    model_config = SettingsConfigDict(env_prefix="VIDEOSENSE_INGEST_", extra="ignore")

    stages: str = Field(
        default="frames",
        description="Stages requested for a video without 'videosense-stages' object metadata.",
    )
    available_stages: str = Field(
        default=",".join(s.value for s in AVAILABLE_STAGES),
        description="Stages whose services run in this deployment.",
    )
    presign_expiry_s: int = Field(default=900, ge=60, le=43_200)
    max_frame_pixels: int = Field(
        default=DEFAULT_MAX_FRAME_PIXELS,
        ge=1,
        description="Largest accepted frame in pixels (default 8192x4320); larger uploads fail.",
    )
    max_duration_s: float = Field(
        default=DEFAULT_MAX_DURATION_S,
        gt=0,
        description="Longest accepted video in seconds (default 6 h); longer uploads fail.",
    )

    @field_validator("available_stages")
    @classmethod
    def _check_available(cls, value: str) -> str:
        parse_stages(value)
        return value

    @model_validator(mode="after")
    def _check_stages(self) -> Self:
        requestable_stages(self.stages, self.available)
        return self

    @property
    def probe_limits(self) -> ProbeLimits:
        """What the probe of an upload accepts, naming these settings in its reasons."""
        prefix = self.model_config.get("env_prefix", "")
        return ProbeLimits(
            max_frame_pixels=self.max_frame_pixels,
            max_duration_s=self.max_duration_s,
            frame_pixels_setting=f"{prefix}MAX_FRAME_PIXELS",
            duration_setting=f"{prefix}MAX_DURATION_S",
        )

    def stages_for(self, metadata: Mapping[str, str]) -> tuple[Stage, ...]:
        """The stages an upload asks for in its ``videosense-stages`` metadata (the default
        stages without it).

        Raises:
            ValueError: the metadata names an unknown or unavailable stage.
        """
        requested = metadata.get(STAGES_METADATA)
        if requested is None:
            return self.default_stages
        try:
            return requestable_stages(requested, self.available)
        except ValueError as err:
            raise ValueError(f"invalid '{STAGES_METADATA}' metadata {requested!r}: {err}") from err

    @property
    def available(self) -> tuple[Stage, ...]:
        """Stages whose services run, parsed."""
        return parse_stages(self.available_stages)

    @property
    def default_stages(self) -> tuple[Stage, ...]:
        """The default stages, parsed."""
        return requestable_stages(self.stages, self.available)

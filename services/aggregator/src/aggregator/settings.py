"""Aggregator settings (``VIDEOSENSE_AGGREGATOR_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aggregator.deadline import DeadlinePolicy
from videosense_shared.settings import ConsumerSettings


class AggregatorSettings(ConsumerSettings):
    """How the aggregator runs."""

    model_config = SettingsConfigDict(env_prefix="VIDEOSENSE_AGGREGATOR_", extra="ignore")

    completion_lease_s: float = Field(
        default=30.0,
        gt=0,
        description="How long a worker may take to publish a completion before another may.",
    )
    deadline_base_s: float = Field(
        default=900.0,
        ge=0,
        description="Time every video gets to finish, whatever its length (queueing, startup).",
    )
    deadline_per_video_s: float = Field(
        default=3.0,
        ge=0,
        description="Extra seconds per second of video, per requested stage.",
    )
    deadline_sweep_interval_s: float = Field(
        default=30.0,
        gt=0,
        description="How often each aggregator worker looks for videos past their deadline.",
    )

    @property
    def deadline(self) -> DeadlinePolicy:
        """The per-video deadline these settings describe."""
        return DeadlinePolicy(base_s=self.deadline_base_s, per_video_s=self.deadline_per_video_s)

"""Aggregator settings (``VIDEOSENSE_AGGREGATOR_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from videosense_shared.settings import ConsumerSettings


class AggregatorSettings(ConsumerSettings):
    """How the aggregator runs."""

    model_config = SettingsConfigDict(env_prefix="VIDEOSENSE_AGGREGATOR_", extra="ignore")

    completion_lease_s: float = Field(
        default=30.0,
        gt=0,
        description="How long a worker may take to publish a completion before another may.",
    )

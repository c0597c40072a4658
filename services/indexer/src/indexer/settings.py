"""Indexer settings (``VIDEOSENSE_INDEXER_*``; the index itself is ``VIDEOSENSE_SEARCH_*``,
shared with the readers of the index)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from videosense_shared.search.settings import SearchSettings
from videosense_shared.settings import ConsumerSettings


class IndexerSettings(ConsumerSettings):
    """How the indexer runs and which index it writes."""

    model_config = SettingsConfigDict(env_prefix="VIDEOSENSE_INDEXER_", extra="ignore")

    search: SearchSettings = Field(default_factory=SearchSettings)

"""Search index settings (``VIDEOSENSE_SEARCH_*``), shared by the indexer (writes), the web
app and ``videosense find`` (read): they must agree on where the index is."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_index_path() -> Path:
    """``$XDG_DATA_HOME/videosense/search.sqlite`` (``~/.local/share/...`` by default): the
    library index that ``videosense run``, ``up`` and ``find`` share on one machine."""
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "videosense" / "search.sqlite"


class SearchSettings(BaseSettings):
    """Which search index backend, and where."""

    model_config = SettingsConfigDict(env_prefix="VIDEOSENSE_SEARCH_", extra="ignore")

    backend: Literal["sqlite", "opensearch"] = Field(
        default="sqlite",
        description="sqlite: one local file (embedded, compose); opensearch: Amazon OpenSearch.",
    )
    index_path: Path = Field(
        default_factory=default_index_path, description="The SQLite file (sqlite backend)."
    )
    opensearch_endpoint: str = Field(
        default="",
        description="https://... of the OpenSearch domain or Serverless collection.",
    )
    opensearch_service: Literal["es", "aoss"] = Field(
        default="es",
        description=(
            "What requests are signed for: es (a domain) or aoss (a Serverless collection, "
            "which also selects its API subset: no delete-by-query, ids chosen by it)."
        ),
    )
    opensearch_collection_type: Literal["search", "vectorsearch"] = Field(
        default="vectorsearch",
        description=(
            "The Serverless collection's type (aoss only): search (ids chosen by the client, "
            "no k-NN, so no natural-language search) or vectorsearch (k-NN, ids chosen by it)."
        ),
    )
    opensearch_index: str = Field(
        default="videosense-entries",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,200}$",
        description="The OpenSearch index of entries (videos go to '<name>-videos').",
    )
    vector_probe: int = Field(
        default=16_000,
        ge=1_000,
        le=1_000_000,
        description=(
            "About how many vectors a natural-language query reads once the library has "
            "inverted lists (sqlite backend): more finds more of the exact nearest, slower."
        ),
    )
    embeddings: bool = Field(
        default=True,
        description=(
            "Vectors for transcript segments and captions (natural-language search) with the "
            "packaged all-MiniLM-L6-v2 model; loaded only when needed."
        ),
    )


def videos_index(entries_index: str) -> str:
    """The OpenSearch index of the videos (one document each) beside ``entries_index``, the
    index of their entries: the adapter writes both, the deployment grants access to both."""
    return f"{entries_index}-videos"

"""Choosing the search index backend from settings: the one place an index is opened.

Use ``index = await open_search_index(SearchSettings(), aws=aws)`` and ``await index.close()``
when done. ``VIDEOSENSE_SEARCH_BACKEND=sqlite`` (default) opens the file
``VIDEOSENSE_SEARCH_INDEX_PATH``; ``opensearch`` talks to
``VIDEOSENSE_SEARCH_OPENSEARCH_ENDPOINT`` with SigV4-signed requests and needs ``aws`` (the
process's :class:`~videosense_shared.aws.AwsClients`, which creates the HTTP client).

Readers (``videosense find``, the web app) and the indexer call the same factory with the same
settings, so they agree on the index. Besides ``search``, every index lists what it holds
(``list_videos``, ``get_video``: failed videos included).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from videosense_shared.search.embeddings import MiniLmEmbedder, TextEmbedder
from videosense_shared.search.protocol import SearchIndex
from videosense_shared.search.settings import SearchSettings
from videosense_shared.search.sqlite_index import SqliteSearchIndex

if TYPE_CHECKING:
    from videosense_shared.aws import AwsClients


class SearchConfigurationError(ValueError):
    """The search settings do not describe a usable backend."""


async def open_search_index(
    settings: SearchSettings | None = None,
    *,
    aws: AwsClients | None = None,
    embedder: TextEmbedder | None = None,
) -> SearchIndex:
    """The search index the settings describe (from the environment unless given).

    ``embedder`` replaces the packaged model (when ``settings.embeddings`` is on); the model
    only loads when a natural-language query or an indexed transcript needs it.

    Raises:
        SearchConfigurationError: OpenSearch without an endpoint or without ``aws``.
        SearchIndexError: the SQLite file cannot be opened or is not a search index.
    """
    cfg = settings or SearchSettings()
    model = (embedder or MiniLmEmbedder()) if cfg.embeddings else None
    if cfg.backend == "sqlite":
        return SqliteSearchIndex(cfg.index_path, embedder=model, probe_vectors=cfg.vector_probe)
    if not cfg.opensearch_endpoint:
        raise SearchConfigurationError(
            "VIDEOSENSE_SEARCH_BACKEND=opensearch needs VIDEOSENSE_SEARCH_OPENSEARCH_ENDPOINT "
            "(https://... of the domain or collection)"
        )
    if not cfg.opensearch_endpoint.startswith(("https://", "http://")):
        raise SearchConfigurationError(
            f"VIDEOSENSE_SEARCH_OPENSEARCH_ENDPOINT {cfg.opensearch_endpoint!r} is not an "
            "http(s) URL"
        )
    if aws is None:
        raise SearchConfigurationError("the opensearch backend needs the AWS clients (aws=...)")
    from videosense_shared.search.opensearch_dialect import dialect_for
    from videosense_shared.search.opensearch_index import OpenSearchIndex

    http = await aws.opensearch_http(service=cfg.opensearch_service)
    return OpenSearchIndex(
        http,
        cfg.opensearch_endpoint,
        index=cfg.opensearch_index,
        embedder=model,
        # Requests signed for aoss go to a Serverless collection, with its type's API subset.
        dialect=dialect_for(cfg.opensearch_service, cfg.opensearch_collection_type),
    )

"""Wiring of the indexer: settings, the search index, the handler, its queue."""

from __future__ import annotations

import asyncio

from indexer.handler import Indexer
from indexer.settings import IndexerSettings
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Delivery, Handler
from videosense_shared.runtime import ServiceSpec
from videosense_shared.search import SearchIndex
from videosense_shared.search.backends import open_search_index
from videosense_shared.search.embeddings import packaged_model_dir
from videosense_shared.services import INDEXER_SERVICE


def service(
    settings: IndexerSettings | None = None, *, index: SearchIndex | None = None
) -> ServiceSpec:
    """The indexer's service spec (settings from the environment unless given).

    ``index``: an index the caller opened and closes (the embedded stack); by default the one
    the search settings describe, opened on the first message and closed with the process.

    Raises:
        EmbeddingModelUnavailableError: embeddings are on but the model is not installed (said
            at start, not once per video).
    """
    cfg = settings or IndexerSettings()
    if cfg.search.embeddings and index is None:
        packaged_model_dir()

    def make_handler(aws: AwsClients) -> Handler:
        indexer: Indexer | None = None
        opening = asyncio.Lock()

        async def handle(delivery: Delivery) -> None:
            nonlocal indexer
            # Opened on first use: opening OpenSearch's client is async, and concurrent
            # handlers must share one index.
            async with opening:
                if indexer is None:
                    opened = index or await open_search_index(cfg.search, aws=aws)
                    indexer = Indexer(opened, aws.s3, cfg.common.bucket)
            await indexer.handle(delivery)

        return handle

    return ServiceSpec.of(INDEXER_SERVICE, settings=cfg, make_handler=make_handler)

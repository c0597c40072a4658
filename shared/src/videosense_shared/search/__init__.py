"""The library search index: what is asked, what comes back, and the interface every index
backend implements. The indexer service writes it; `videosense find` and the web app read it.
See ``docs/architecture.md``.
"""

from videosense_shared.search.protocol import SearchIndex, SearchIndexError
from videosense_shared.search.query import (
    EntryKind,
    IndexedVideo,
    MatchMode,
    SearchHit,
    SearchQuery,
    SearchResults,
    VideoHits,
)

__all__ = [
    "EntryKind",
    "IndexedVideo",
    "MatchMode",
    "SearchHit",
    "SearchIndex",
    "SearchIndexError",
    "SearchQuery",
    "SearchResults",
    "VideoHits",
]

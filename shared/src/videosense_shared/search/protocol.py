"""The narrow interface every search index backend implements (SQLite FTS5 embedded,
OpenSearch on AWS)."""

from __future__ import annotations

from typing import Protocol

from videosense_shared.document import VideoDocument
from videosense_shared.messages import VideoStatus
from videosense_shared.search.query import IndexedVideo, SearchQuery, SearchResults


class SearchIndex(Protocol):
    """A full-text (and, for natural-language queries, semantic) index of finished videos."""

    async def index_video(self, document: VideoDocument) -> int:
        """Index a finished (complete, partial or failed) video, replacing any entries it had:
        indexing the same document twice leaves the index as after once.

        Returns:
            How many entries the video now has (a failed video has none but is listed).

        Raises:
            SearchIndexError: the backend refused or could not be reached.
        """
        ...

    async def remove_video(self, video_id: str) -> None:
        """Remove a video and its entries; removing an unknown video does nothing.

        Raises:
            SearchIndexError: the backend refused or could not be reached.
        """
        ...

    async def search(self, query: SearchQuery) -> SearchResults:
        """Run a query.

        Raises:
            SearchIndexError: the backend refused or could not be reached.
        """
        ...

    async def list_videos(
        self, *, status: VideoStatus | None = None, limit: int = 1000
    ) -> tuple[IndexedVideo, ...]:
        """The indexed videos (with ``status`` only, if given), most recently completed first.

        Raises:
            SearchIndexError: the backend refused or could not be reached.
        """
        ...

    async def get_video(self, video_id: str) -> IndexedVideo | None:
        """One indexed video, or ``None`` when the index does not hold it (yet).

        Raises:
            SearchIndexError: the backend refused or could not be reached.
        """
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...


class SearchIndexError(RuntimeError):
    """The search index backend failed (not a bad query: those fail validation earlier)."""

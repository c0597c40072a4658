"""Choosing the search index backend from settings, and what a misconfiguration says."""

from __future__ import annotations

from pathlib import Path

import pytest

from videosense_shared.search.backends import SearchConfigurationError, open_search_index
from videosense_shared.search.settings import SearchSettings
from videosense_shared.search.sqlite_index import SqliteSearchIndex


async def test_sqlite_is_the_default_and_opens_the_configured_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN only an index path in the environment
    monkeypatch.delenv("VIDEOSENSE_SEARCH_BACKEND", raising=False)
    monkeypatch.setenv("VIDEOSENSE_SEARCH_INDEX_PATH", str(tmp_path / "lib" / "index.sqlite"))

    # WHEN the index is opened from the settings
    index = await open_search_index()

    # THEN it is the SQLite file there (created with its directory)
    assert isinstance(index, SqliteSearchIndex)
    assert index.path == tmp_path / "lib" / "index.sqlite"
    assert index.path.exists()
    await index.close()


async def test_opensearch_without_an_endpoint_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIDEOSENSE_SEARCH_BACKEND", "opensearch")
    monkeypatch.delenv("VIDEOSENSE_SEARCH_OPENSEARCH_ENDPOINT", raising=False)
    with pytest.raises(SearchConfigurationError, match="VIDEOSENSE_SEARCH_OPENSEARCH_ENDPOINT"):
        await open_search_index()


def test_an_unknown_backend_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEOSENSE_SEARCH_BACKEND", "elastic")
    with pytest.raises(ValueError, match="sqlite"):
        SearchSettings()

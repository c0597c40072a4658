"""Natural-language search through the API with the real packaged model (run in numpy, as in
the web image, which has no torch): a question in other words finds the segment it means."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.web.library_seed import seed_video
from videosense_shared.aws import AwsClients
from videosense_shared.search import SearchIndex
from videosense_shared.search.backends import open_search_index
from videosense_shared.search.settings import SearchSettings
from videosense_shared.settings import CommonSettings
from videosense_shared.store import DynamoDocumentStore

pytestmark = pytest.mark.integration


@pytest.fixture
async def index(tmp_path: Path) -> AsyncIterator[SearchIndex]:
    """The embedded backend with the text-embedding model on (the default settings)."""
    opened = await open_search_index(SearchSettings(index_path=tmp_path / "search.sqlite"))
    yield opened
    await opened.close()


async def test_a_question_in_other_words_finds_the_segment(
    http: httpx.AsyncClient, aws: AwsClients, index: SearchIndex, aws_env: dict[str, str]
) -> None:
    # GIVEN a finished video whose transcript says "The weather is fine.", indexed with vectors
    common = CommonSettings()
    await seed_video(aws, common, "vsky", "sky.mp4")
    await index.index_video(await DynamoDocumentStore(aws.dynamodb, common.table_name).read("vsky"))
    # WHEN the transcript is searched in natural language, in words it does not use
    resp = await http.get(
        "/api/search",
        params={"q": "is it sunny outside today", "mode": "natural", "kind": "transcript"},
    )
    # THEN the answer is results, not a 503, and the weather segment comes first
    assert resp.status_code == 200, resp.text
    hits = resp.json()["videos"][0]["hits"]
    assert (hits[0]["text"], hits[0]["t_s"], hits[0]["end_s"]) == (
        "The weather is fine.",
        2.1,
        3.9,
    )

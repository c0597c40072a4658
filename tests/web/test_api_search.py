"""Search through the API over the real embedded index: query parameters become a
``SearchQuery``, hits come back grouped by video with time and keyframe, and bad queries are a
422 (an unavailable kind of search a 503) rather than an error page."""

from __future__ import annotations

import httpx
import pytest

from tests.web.library_seed import seed_video
from videosense_shared.aws import AwsClients
from videosense_shared.search import SearchIndex
from videosense_shared.settings import CommonSettings
from videosense_shared.store import DynamoDocumentStore

pytestmark = pytest.mark.integration


@pytest.fixture
async def indexed(aws: AwsClients, index: SearchIndex, aws_env: dict[str, str]) -> str:
    """A finished video, seeded and indexed as the indexer does on its completion."""
    common = CommonSettings()
    await seed_video(aws, common, "vfind", "find me.mp4")
    document = await DynamoDocumentStore(aws.dynamodb, common.table_name).read("vfind")
    await index.index_video(document)
    return "vfind"


async def test_a_word_on_screen_is_found_at_its_keyframe(
    http: httpx.AsyncClient, indexed: str
) -> None:
    # WHEN a word shown on screen is searched, in another case
    resp = await http.get("/api/search", params={"q": "BRIEFING"})
    # THEN the video is found with the keyframe that shows it, its time and a marked snippet
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [v["video_id"] for v in body["videos"]] == [indexed]
    video = body["videos"][0]
    assert video["source_key"] == "uploads/find me.mp4"
    hit = video["hits"][0]
    assert (hit["kind"], hit["t_s"], hit["keyframe_id"]) == ("text", 0.0, "kf000000000")
    assert "<mark>" in hit["snippet"]
    # AND its keyframe image is served at the URL the page builds from the hit
    image = await http.get(f"/api/videos/{indexed}/keyframes/{hit['keyframe_id']}.jpg")
    assert image.status_code == 200


async def test_filters_map_onto_the_query(http: httpx.AsyncClient, indexed: str) -> None:
    # WHEN the transcript alone is searched for a spoken phrase
    said = await http.get("/api/search", params={"q": "weather is", "kind": "transcript"})
    # THEN the segment is found with its start and end
    hits = said.json()["videos"][0]["hits"]
    assert [(h["kind"], h["t_s"], h["end_s"]) for h in hits] == [("transcript", 2.1, 3.9)]
    # WHEN a person is searched by a prefix of the name, but only before 1 s
    person = await http.get(
        "/api/search", params={"q": "Eile", "mode": "prefix", "kind": "person", "end_s": 1}
    )
    assert [h["text"] for h in person.json()["videos"][0]["hits"]] == ["Eileen Collins"]
    # WHEN the on-screen text is searched in the second scene only / THEN nothing matches
    later = await http.get("/api/search", params={"q": "briefing", "start_s": 2})
    assert later.json()["videos"] == []
    # WHEN another video is named / THEN nothing matches either
    other = await http.get("/api/search", params={"q": "briefing", "video_id": "vother"})
    assert other.json()["videos"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": ""}, "q"),
        ({"q": "   "}, ""),  # the whole query is refused: nothing to search
        ({"q": "x" * 10_000}, "q"),
        ({"q": "***"}, ""),
        ({}, "q"),
        ({"q": "a", "mode": "regex"}, "mode"),
        ({"q": "a", "kind": "everything"}, "kind"),
        ({"q": "a", "start_s": 5, "end_s": 1}, ""),
        ({"q": "a", "limit": 0}, "limit"),
    ],
)
async def test_bad_queries_are_422_with_the_reason(
    http: httpx.AsyncClient, aws: AwsClients, params: dict[str, object], field: str
) -> None:
    # WHEN a search is asked for nothing, for 10,000 characters, or with a bad filter
    resp = await http.get("/api/search", params=params)  # type: ignore[arg-type]
    # THEN it is a 422 that points at the parameter
    assert resp.status_code == 422
    errors = resp.json()["detail"]
    assert errors
    assert errors[0]["loc"][0] == "query"
    if field:
        assert field in errors[0]["loc"]


async def test_a_search_the_index_cannot_run_is_503(http: httpx.AsyncClient, indexed: str) -> None:
    # GIVEN an index opened without the text-embedding model
    # WHEN a natural-language search is asked for
    resp = await http.get("/api/search", params={"q": "a sunny day", "mode": "natural"})
    # THEN the answer says the index cannot do it, as a 503 and not a crash
    assert resp.status_code == 503
    assert "search index" in resp.json()["detail"]

"""The OpenSearch backend at its HTTP edge: what it sends (index templates on first use,
delete-by-query then ``_bulk``, ``_search`` with filters and highlighting, SigV4 signatures) and
what it makes of replies shaped like OpenSearch's (``_bulk`` item errors, ``_search`` hits with
highlights, ``_mget``, a missing index, a refused request). OpenSearch itself cannot run here;
the transport answers as it does."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from botocore.credentials import ReadOnlyCredentials

from tests.support.search_documents import document, keyframe, segment
from videosense_shared.messages import VideoStatus
from videosense_shared.search import EntryKind, MatchMode, SearchQuery
from videosense_shared.search.opensearch_index import OpenSearchIndex
from videosense_shared.search.protocol import SearchIndexError
from videosense_shared.sigv4 import SigV4Auth

ENDPOINT = "https://search-videosense-abc.us-east-1.es.amazonaws.com"
Reply = Callable[[httpx.Request], httpx.Response]


class FakeDomain:
    """Records requests and answers each (method, path) with the reply registered for it."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.replies: dict[tuple[str, str], Reply] = {}

    def on(self, method: str, path: str, status: int, body: dict[str, Any]) -> None:
        self.replies[(method, path)] = lambda _request: httpx.Response(status, json=body)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.get((request.method, request.url.path))
        if reply is None:
            return httpx.Response(200, json={"acknowledged": True})
        return reply(request)

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if (r.method, r.url.path) == (method, path)]


async def _credentials() -> ReadOnlyCredentials:
    return ReadOnlyCredentials("AKIDEXAMPLE", "secret", "session-token")


@pytest.fixture
def domain() -> FakeDomain:
    return FakeDomain()


@pytest.fixture
def index(domain: FakeDomain) -> OpenSearchIndex:
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(domain), auth=SigV4Auth(_credentials, "es", "us-east-1")
    )
    return OpenSearchIndex(client, ENDPOINT, index="vs-entries")


BRIEFING = document(
    "v1",
    keyframe(0, text=("Mission briefing",), labels=("Person",)),
    segments=(segment(1.0, 3.0, "the crew is ready", "spk_0"),),
)


def _bulk_ok(request: httpx.Request) -> httpx.Response:
    actions = [json.loads(line) for line in request.content.decode().splitlines()][::2]
    items = [
        {"index": {"_index": a["index"]["_index"], "_id": a["index"]["_id"], "status": 201}}
        for a in actions
    ]
    return httpx.Response(200, json={"took": 3, "errors": False, "items": items})


async def test_indexing_creates_templates_once_deletes_then_bulk_writes(
    domain: FakeDomain, index: OpenSearchIndex
) -> None:
    # GIVEN a domain that accepts everything
    domain.replies[("POST", "/_bulk")] = _bulk_ok
    domain.on("POST", "/vs-entries/_delete_by_query", 200, {"deleted": 0, "failures": []})

    # WHEN a video is indexed twice
    assert await index.index_video(BRIEFING) == 3
    assert await index.index_video(BRIEFING) == 3

    # THEN both index templates were put once, with the mappings the queries rely on
    templates = {r.url.path: json.loads(r.content) for r in domain.requests if r.method == "PUT"}
    assert set(templates) == {"/_index_template/vs-entries", "/_index_template/vs-entries-videos"}
    entries = templates["/_index_template/vs-entries"]["template"]
    assert entries["mappings"]["properties"]["vector"]["type"] == "knn_vector"
    assert entries["mappings"]["properties"]["video_id"] == {"type": "keyword"}
    # AND each indexing deleted the video's entries before its bulk
    order = [r.url.path for r in domain.requests if r.method == "POST"]
    assert order == ["/vs-entries/_delete_by_query", "/_bulk"] * 2
    deleted = json.loads(domain.sent("POST", "/vs-entries/_delete_by_query")[0].content)
    assert deleted == {"query": {"term": {"video_id": "v1"}}}
    # AND the bulk holds the entries with ids derived from the video, then the video
    bulk = domain.sent("POST", "/_bulk")[0]
    assert bulk.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in bulk.content.decode().splitlines()]
    assert [a["index"]["_id"] for a in lines[::2]] == ["v1:0", "v1:1", "v1:2", "v1"]
    assert [d.get("kind") for d in lines[1::2]][:3] == ["text", "label", "transcript"]
    assert lines[-1]["status"] == "complete"
    assert lines[-1]["entries"] == 3


async def test_requests_are_signed_for_the_domain(
    domain: FakeDomain, index: OpenSearchIndex
) -> None:
    domain.on("GET", "/vs-entries-videos/_doc/v1", 404, {"found": False})
    assert await index.get_video("v1") is None
    signed = domain.requests[0]
    assert signed.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/es/aws4_request" in signed.headers["authorization"]
    assert signed.headers["x-amz-security-token"] == "session-token"
    assert "x-amz-content-sha256" in signed.headers


async def test_a_refused_bulk_item_is_an_index_error(
    domain: FakeDomain, index: OpenSearchIndex
) -> None:
    # GIVEN a bulk reply with one item refused (as OpenSearch reports a mapping conflict)
    domain.on(
        "POST",
        "/_bulk",
        200,
        {
            "took": 2,
            "errors": True,
            "items": [
                {"index": {"_id": "v1:0", "status": 201}},
                {
                    "index": {
                        "_id": "v1:1",
                        "status": 400,
                        "error": {
                            "type": "mapper_parsing_exception",
                            "reason": "failed to parse field [t_s]",
                        },
                    }
                },
            ],
        },
    )
    # WHEN indexing THEN the error names the item and the reason
    with pytest.raises(SearchIndexError, match=r"1 item\(s\) refused.*v1:1.*failed to parse"):
        await index.index_video(BRIEFING)


async def test_search_sends_the_words_never_syntax_and_reads_highlights(
    domain: FakeDomain, index: OpenSearchIndex
) -> None:
    # GIVEN a _search reply with two hits (one holding the phrase) and their videos
    domain.on(
        "POST",
        "/vs-entries/_search",
        200,
        {
            "took": 4,
            "timed_out": False,
            "hits": {
                "total": {"value": 2, "relation": "eq"},
                "max_score": 3.1,
                "hits": [
                    {
                        "_index": "vs-entries",
                        "_id": "v2:4",
                        "_score": 3.1,
                        "_source": {
                            "video_id": "v2", "kind": "transcript",
                            "text": "briefing before the mission", "t_s": 4.0, "end_s": 6.0,
                            "scene_index": None, "keyframe_id": None, "image": None,
                            "speaker": None,
                        },
                        "highlight": {
                            "text": ["<mark>briefing</mark> before the <mark>mission</mark>"]
                        },
                    },
                    {
                        "_index": "vs-entries",
                        "_id": "v1:0",
                        "_score": 2.0,
                        "_source": {
                            "video_id": "v1", "kind": "text", "text": "Mission briefing <b>",
                            "t_s": 0.0, "end_s": None, "scene_index": 0, "keyframe_id": "kf-0",
                            "image": {"bucket": "media", "key": "frames/v/0.jpg",
                                      "width": 640, "height": 360},
                            "speaker": None,
                        },
                        "highlight": {
                            "text": ["<mark>Mission</mark> <mark>briefing</mark> &lt;b&gt;"]
                        },
                    },
                ],
            },
        },
    )  # fmt: skip
    domain.on(
        "POST",
        "/vs-entries-videos/_mget",
        200,
        {
            "docs": [
                {"_id": "v1", "found": True, "_source": {
                    "video_id": "v1", "status": "complete", "source_key": "uploads/v1.mp4",
                    "duration_s": 60.0}},
                {"_id": "v2", "found": True, "_source": {
                    "video_id": "v2", "status": "partial", "source_key": "uploads/v2.mp4",
                    "duration_s": None}},
            ]
        },
    )  # fmt: skip

    # WHEN searching any of the words, with operators in the text, in a time range
    results = await index.search(
        SearchQuery(
            text='(mission" briefing*)',
            mode=MatchMode.ANY,
            kinds=frozenset({EntryKind.TEXT, EntryKind.TRANSCRIPT}),
            start_s=0.0,
        )
    )

    # THEN the request matched the bare words (no query_string), with filters and highlighting
    body = json.loads(domain.sent("POST", "/vs-entries/_search")[0].content)
    query = body["query"]["bool"]
    assert query["must"] == [{"match": {"text": {"query": "mission briefing", "operator": "or"}}}]
    assert {"terms": {"kind": ["text", "transcript"]}} in query["filter"]
    assert body["highlight"]["encoder"] == "html"
    assert "query_string" not in json.dumps(body)
    # AND the entry holding the phrase comes first although OpenSearch scored it lower
    assert [v.video_id for v in results.videos] == ["v1", "v2"]
    first = results.videos[0]
    assert (first.status, first.source_key, first.duration_s) == (
        VideoStatus.COMPLETE,
        "uploads/v1.mp4",
        60.0,
    )
    hit = first.hits[0]
    assert hit.snippet == "<mark>Mission</mark> <mark>briefing</mark> &lt;b&gt;"
    assert hit.image is not None
    assert (hit.keyframe_id, hit.image.key) == ("kf-0", "frames/v/0.jpg")
    assert results.videos[1].hits[0].end_s == 6.0
    assert results.total_hits == 2


async def test_a_search_before_anything_was_indexed_finds_nothing(
    domain: FakeDomain, index: OpenSearchIndex
) -> None:
    not_found = {
        "error": {"type": "index_not_found_exception", "reason": "no such index [vs-entries]"},
        "status": 404,
    }
    domain.on("POST", "/vs-entries/_search", 404, not_found)
    domain.on("POST", "/vs-entries-videos/_search", 404, not_found)
    results = await index.search(SearchQuery(text="anything"))
    assert (results.total_hits, results.videos) == (0, ())
    assert await index.list_videos() == ()


async def test_a_refused_request_is_an_index_error(
    domain: FakeDomain, index: OpenSearchIndex
) -> None:
    domain.on(
        "POST",
        "/vs-entries/_search",
        403,
        {"message": "User: arn:aws:sts::1:assumed-role/web is not authorized"},
    )
    with pytest.raises(SearchIndexError, match="HTTP 403"):
        await index.search(SearchQuery(text="anything"))


async def test_a_failed_video_is_listed(domain: FakeDomain, index: OpenSearchIndex) -> None:
    domain.on(
        "POST",
        "/vs-entries-videos/_search",
        200,
        {
            "hits": {
                "total": {"value": 1, "relation": "eq"},
                "hits": [
                    {
                        "_id": "v3",
                        "_source": {
                            "video_id": "v3",
                            "status": "failed",
                            "source_key": "uploads/v3.mp4",
                            "duration_s": None,
                            "error": "not a video",
                            "entries": 0,
                            "completed_at": "2026-01-01T00:05:00+00:00",
                        },
                    }
                ],
            }
        },
    )
    videos = await index.list_videos(status=VideoStatus.FAILED)
    assert [(v.video_id, v.status, v.error, v.entries) for v in videos] == [
        ("v3", VideoStatus.FAILED, "not a video", 0)
    ]
    sent = json.loads(domain.sent("POST", "/vs-entries-videos/_search")[0].content)
    assert sent["query"] == {"term": {"status": "failed"}}


async def test_a_delete_by_query_with_failures_is_an_index_error(
    domain: FakeDomain, index: OpenSearchIndex
) -> None:
    # GIVEN a domain whose delete-by-query left entries behind (a shard refused some deletes)
    domain.replies[("POST", "/_bulk")] = _bulk_ok
    domain.on(
        "POST",
        "/vs-entries/_delete_by_query",
        200,
        {
            "took": 12,
            "timed_out": False,
            "total": 3,
            "deleted": 2,
            "failures": [
                {
                    "index": "vs-entries",
                    "id": "v1:2",
                    "cause": {"type": "es_rejected_execution_exception", "reason": "queue full"},
                    "status": 429,
                }
            ],
        },
    )
    # WHEN the video is re-indexed THEN the failure is reported, and nothing new is written
    # beside the entries that were not deleted
    with pytest.raises(SearchIndexError, match=r"1 failure\(s\), the first \(v1:2\): queue full"):
        await index.index_video(BRIEFING)
    assert domain.sent("POST", "/_bulk") == []

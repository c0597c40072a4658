"""The OpenSearch backend on a Serverless collection, at its HTTP edge: no ``_delete_by_query``,
no ``refresh`` parameter, so re-indexing finds the video's document ids (``_search`` with
``_source: false``, paged with ``search_after``), writes the new documents, then deletes the old
ids with ``_bulk``. A vector search collection picks every document id; a search collection
takes the client's ids but has no k-NN (no ``knn_vector`` mapping).

OpenSearch Serverless cannot run here: :class:`FakeCollection` keeps documents in memory and
answers ``_search``/``_bulk`` (and on a search collection ``_doc``/``_mget``) with replies
shaped like a collection's, refusing what a collection of its type refuses with the error a
collection gives (``docs/architecture.md``, "The search index", lists the sources), so the
tests see what is left in the index after each step."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs

import httpx
import pytest
from botocore.credentials import ReadOnlyCredentials

from tests.support.search_documents import document, keyframe, segment
from videosense_shared.messages import VideoStatus
from videosense_shared.search import MatchMode, SearchIndex, SearchQuery
from videosense_shared.search import opensearch_index as opensearch_module
from videosense_shared.search.backends import open_search_index
from videosense_shared.search.embeddings import MiniLmEmbedder
from videosense_shared.search.opensearch_bulk import check_bulk_reply
from videosense_shared.search.opensearch_dialect import (
    DOMAIN,
    SEARCH_COLLECTION,
    VECTOR_COLLECTION,
    CollectionType,
    OpenSearchDialect,
    dialect_for,
)
from videosense_shared.search.opensearch_index import OpenSearchIndex, entries_template
from videosense_shared.search.protocol import SearchIndexError
from videosense_shared.search.settings import SearchSettings
from videosense_shared.sigv4 import SigV4Auth

if TYPE_CHECKING:  # the fake _Clients below stands in for it
    from videosense_shared.aws import AwsClients

ENDPOINT = "https://abc123.us-east-1.aoss.amazonaws.com"
ENTRIES = "vs-entries"
VIDEOS = "vs-entries-videos"


def _error(status: int, kind: str, reason: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"type": kind, "reason": reason}, "status": status}
    )


def _knn_fields(template: dict[str, Any]) -> list[str]:
    properties = template.get("template", {}).get("mappings", {}).get("properties", {})
    return [name for name, field in properties.items() if field.get("type") == "knn_vector"]


class FakeCollection:
    """An in-memory stand-in for a Serverless collection's REST API (``kind``: its type)."""

    def __init__(self, kind: CollectionType = "vectorsearch") -> None:
        self.kind = kind
        self.requests: list[httpx.Request] = []
        self.docs: dict[str, dict[str, dict[str, Any]]] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        self._ids = (f"1%{n:019d}" for n in itertools.count(1))
        #: Index actions whose source this returns true for are refused (a mapping error).
        self.refuse_source: Callable[[dict[str, Any]], bool] = lambda _source: False
        #: Delete actions of these ids are refused (the collection is throttling).
        self.refuse_delete: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.strip("/")
        refresh = parse_qs(request.url.query.decode()).get("refresh")
        if refresh:
            # What a collection answers to a write with a refresh policy.
            return _error(400, "status_exception", f"{refresh[0]} refresh policy is not supported.")
        if request.method == "PUT" and path.startswith("_index_template/"):
            template = json.loads(request.content)
            knn = _knn_fields(template)
            if knn and self.kind == "search":
                # A search collection has no k-NN plugin: the mapping type is unknown.
                return _error(
                    400,
                    "mapper_parsing_exception",
                    f"No handler for type [knn_vector] declared on field [{knn[0]}]",
                )
            self.templates[path.removeprefix("_index_template/")] = template
            return httpx.Response(200, json={"acknowledged": True})
        if request.method == "POST" and path == "_bulk":
            return self._bulk(request.content.decode())
        index, _, api = path.partition("/")
        if request.method == "POST" and api == "_search":
            return self._search(index, json.loads(request.content))
        if self.kind == "search" and request.method == "GET" and api.startswith("_doc/"):
            return self._get(index, api.removeprefix("_doc/"))
        if self.kind == "search" and request.method == "POST" and api == "_mget":
            ids = json.loads(request.content)["ids"]
            docs = [json.loads(self._get(index, i).content) for i in ids]
            return httpx.Response(200, json={"docs": docs})
        # _delete_by_query, _refresh, ... (and _mget, _doc on a vector collection): not there.
        return _error(404, "unsupported_operation", f"{request.method} /{path} is not supported")

    def _get(self, index: str, doc_id: str) -> httpx.Response:
        source = self.docs.get(index, {}).get(doc_id)
        if source is None:
            return httpx.Response(404, json={"_index": index, "_id": doc_id, "found": False})
        return httpx.Response(
            200, json={"_index": index, "_id": doc_id, "found": True, "_source": source}
        )

    def of_video(self, index: str, video_id: str) -> list[dict[str, Any]]:
        return [d for d in self.docs.get(index, {}).values() if d["video_id"] == video_id]

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if (r.method, r.url.path) == (method, path)]

    def _bulk(self, body: str) -> httpx.Response:
        lines = [json.loads(line) for line in body.splitlines()]
        items: list[dict[str, Any]] = []
        while lines:
            action = lines.pop(0)
            ((kind, meta),) = action.items()
            index = meta["_index"]
            if kind == "index":
                source = lines.pop(0)
                if "_id" in meta and self.kind == "vectorsearch":
                    item = {"status": 400, "error": {"type": "illegal_argument_exception",
                            "reason": "Document ID is not supported in create/index operation "
                            "request"}}  # fmt: skip
                elif self.refuse_source(source):
                    item = {"status": 400, "error": {"type": "mapper_parsing_exception",
                            "reason": "failed to parse field [text]"}}  # fmt: skip
                elif "vector" in source and self.kind == "search":
                    item = {"status": 400, "error": {"type": "strict_dynamic_mapping_exception",
                            "reason": "mapping set to strict, dynamic introduction of [vector] "
                            "within [_doc] is not allowed"}}  # fmt: skip
                else:
                    doc_id = meta.get("_id") or next(self._ids)
                    existed = doc_id in self.docs.get(index, {})
                    self.docs.setdefault(index, {})[doc_id] = source
                    item = {"_id": doc_id, "status": 200 if existed else 201,
                            "result": "updated" if existed else "created"}  # fmt: skip
            else:
                doc_id = meta["_id"]
                if doc_id in self.refuse_delete:
                    item = {"status": 429, "error": {"type": "rejected_execution_exception",
                            "reason": "too many requests"}}  # fmt: skip
                elif self.docs.get(index, {}).pop(doc_id, None) is not None:
                    item = {"status": 200, "result": "deleted"}
                else:
                    item = {"status": 404, "result": "not_found"}
            items.append({kind: {"_index": index, "_id": meta.get("_id"), **item}})
        errors = any(i[k]["status"] >= 300 for i in items for k in i)
        return httpx.Response(200, json={"took": 5, "errors": errors, "items": items})

    def _search(self, index: str, body: dict[str, Any]) -> httpx.Response:
        if index not in self.docs:
            return _error(404, "index_not_found_exception", f"no such index [{index}]")
        query = body.get("query", {})
        found = list(self.docs[index].items())
        if "term" in query:
            ((field, value),) = query["term"].items()
            found = [(i, d) for i, d in found if d.get(field) == value]
        elif "terms" in query:
            ((field, values),) = query["terms"].items()
            found = [(i, d) for i, d in found if d.get(field) in values]
        by_key = body.get("sort") == [{"doc_key": {"order": "asc", "missing": "_last"}}]
        if by_key:
            found.sort(key=lambda pair: pair[1]["doc_key"])
            if "search_after" in body:
                found = [(i, d) for i, d in found if d["doc_key"] > body["search_after"][0]]
        hits = []
        for doc_id, source in found[: body.get("size", 10)]:
            hit: dict[str, Any] = {"_index": index, "_id": doc_id, "_score": 1.0}
            if body.get("_source") is not False:
                hit["_source"] = {k: v for k, v in source.items() if k != "vector"}
            if by_key:
                hit["sort"] = [source["doc_key"]]
            hits.append(hit)
        return httpx.Response(
            200,
            json={
                "took": 2,
                "timed_out": False,
                "hits": {"total": {"value": len(found), "relation": "eq"}, "hits": hits},
            },
        )


async def _credentials() -> ReadOnlyCredentials:
    return ReadOnlyCredentials("AKIDEXAMPLE", "secret", "session-token")


def _client(collection: FakeCollection) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.MockTransport(collection),
        auth=SigV4Auth(_credentials, "aoss", "us-east-1"),
    )


@pytest.fixture
def collection() -> FakeCollection:
    return FakeCollection()


@pytest.fixture
def index(collection: FakeCollection) -> OpenSearchIndex:
    return OpenSearchIndex(_client(collection), ENDPOINT, index=ENTRIES, dialect=VECTOR_COLLECTION)


BRIEFING = document(
    "v1",
    keyframe(0, text=("Mission briefing",), labels=("Person", "Table")),
    keyframe(50, text=("Launch window",), labels=("Rocket",)),
    segments=(segment(1.0, 3.0, "the crew is ready", "spk_0"),),
)
REVISED = document(
    "v1",
    keyframe(0, text=("Mission briefing",)),
    segments=(segment(1.0, 3.0, "the crew is ready", "spk_0"),),
    status=VideoStatus.PARTIAL,
)
BRIEFING_TEXTS = (
    "Mission briefing",
    "Launch window",
    "Person",
    "Table",
    "Rocket",
    "the crew is ready",
)
OTHER = document("v2", keyframe(0, text=("Mission control",)))


def _texts(collection: FakeCollection, video_id: str) -> list[str]:
    return sorted(d["text"] for d in collection.of_video(ENTRIES, video_id))


async def test_reindexing_on_a_collection_replaces_the_entries_without_delete_by_query(
    collection: FakeCollection, index: OpenSearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a collection holding v1 (six entries) and v2, found two ids per page
    monkeypatch.setattr(opensearch_module, "ID_PAGE", 2)
    assert await index.index_video(BRIEFING) == 6
    assert await index.index_video(OTHER) == 1
    first_ids = set(collection.docs[ENTRIES])
    collection.requests.clear()

    # WHEN v1 is indexed again with fewer entries
    assert await index.index_video(REVISED) == 2

    # THEN v1 has exactly its new entries and one video document, and v2 is untouched
    assert _texts(collection, "v1") == ["Mission briefing", "the crew is ready"]
    (video,) = collection.of_video(VIDEOS, "v1")
    assert (video["status"], video["entries"]) == ("partial", 2)
    assert _texts(collection, "v2") == ["Mission control"]
    assert not first_ids & {i for i, d in collection.docs[ENTRIES].items() if d["video_id"] == "v1"}
    # AND the old ids were found with _source off, paged with search_after on doc_key
    searches = [json.loads(r.content) for r in collection.sent("POST", f"/{ENTRIES}/_search")]
    assert all(s["_source"] is False for s in searches)
    assert [("search_after" in s) for s in searches] == [False, True, True, True]
    # AND the new documents were written before the old ids were deleted
    bulks = [r.content.decode() for r in collection.sent("POST", "/_bulk")]
    assert [next(iter(json.loads(b.splitlines()[0]))) for b in bulks] == ["index", "delete"]
    deleted = [json.loads(line)["delete"]["_id"] for line in bulks[1].splitlines()]
    assert len(deleted) == 7  # six entries and the video document of the first indexing
    # AND nothing a collection refuses was asked for: no delete-by-query, _mget or _doc, no
    # refresh, no document ids on writes
    paths = {r.url.path for r in collection.requests}
    assert not {p for p in paths if "_delete_by_query" in p or "_mget" in p or "/_doc" in p}
    assert all(not r.url.query for r in collection.requests)
    actions = [json.loads(line) for line in bulks[0].splitlines()][::2]
    assert all("_id" not in a["index"] for a in actions)
    # AND the requests were signed for Serverless
    assert "/us-east-1/aoss/aws4_request" in collection.requests[0].headers["authorization"]


async def test_a_partly_refused_write_keeps_the_old_entries_and_a_retry_converges(
    collection: FakeCollection, index: OpenSearchIndex
) -> None:
    # GIVEN v1 indexed, and a collection that refuses one entry of the next write
    await index.index_video(BRIEFING)
    collection.refuse_source = lambda source: source.get("text") == "the crew is ready"

    # WHEN v1 is indexed again THEN the refused item is reported, not ignored
    with pytest.raises(SearchIndexError, match=r"1 item\(s\) refused.*failed to parse field"):
        await index.index_video(REVISED)
    # AND no old entry was deleted (the video is still searchable as before)
    assert set(_texts(collection, "v1")) >= set(BRIEFING_TEXTS)

    # WHEN the retried message indexes it again, the collection accepting everything
    collection.refuse_source = lambda _source: False
    await index.index_video(REVISED)

    # THEN the old entries and those of the failed attempt are gone
    assert _texts(collection, "v1") == ["Mission briefing", "the crew is ready"]
    assert len(collection.of_video(VIDEOS, "v1")) == 1


async def test_a_partly_refused_delete_is_reported(
    collection: FakeCollection, index: OpenSearchIndex
) -> None:
    # GIVEN v1 indexed, and a collection that throttles the delete of one of its entries
    await index.index_video(BRIEFING)
    throttled = next(iter(collection.docs[ENTRIES]))
    collection.refuse_delete = {throttled}

    # WHEN v1 is indexed again THEN the refused delete is an error (the message is retried)
    with pytest.raises(SearchIndexError, match=rf"1 item\(s\) refused, the first \({throttled}\)"):
        await index.index_video(REVISED)
    # AND the retry deletes what was left
    collection.refuse_delete = set()
    await index.index_video(REVISED)
    assert _texts(collection, "v1") == ["Mission briefing", "the crew is ready"]


def test_deleting_a_document_already_gone_is_not_a_failure() -> None:
    # GIVEN a _bulk reply where one delete found nothing (deleted meanwhile) and one succeeded
    items: list[dict[str, Any]] = [
        {"delete": {"_index": ENTRIES, "_id": "a", "status": 404, "result": "not_found"}},
        {"delete": {"_index": ENTRIES, "_id": "b", "status": 200, "result": "deleted"}},
    ]
    reply = {
        "took": 1,
        "errors": True,
        "items": items,
    }
    # WHEN it is checked THEN it passes, but a 404 on an index action does not
    check_bulk_reply(reply)
    refused = {"index": {"_id": "c", "status": 404, "error": {"reason": "no such index"}}}
    with pytest.raises(SearchIndexError, match="no such index"):
        check_bulk_reply({**reply, "items": [*items, refused]})


async def test_reads_on_a_collection_find_videos_by_their_id_field(
    collection: FakeCollection, index: OpenSearchIndex
) -> None:
    # GIVEN two videos indexed in a collection
    await index.index_video(BRIEFING)
    await index.index_video(OTHER)

    # WHEN a video is read, the library listed and a word searched
    video = await index.get_video("v1")
    missing = await index.get_video("nope")
    listed = await index.list_videos()
    results = await index.search(SearchQuery(text="mission"))

    # THEN the video document is found by a search on video_id (ids are the collection's)
    assert video is not None
    assert (video.video_id, video.status, video.entries) == ("v1", VideoStatus.COMPLETE, 6)
    assert missing is None
    assert sorted(v.video_id for v in listed) == ["v1", "v2"]
    # AND the hits carry their video's status and source, read with one terms search
    assert {v.video_id: v.source_key for v in results.videos} == {
        "v1": "uploads/v1.mp4",
        "v2": "uploads/v2.mp4",
    }
    lookups = [json.loads(r.content) for r in collection.sent("POST", f"/{VIDEOS}/_search")]
    assert {"terms": {"video_id": ["v1", "v2"]}} in [q["query"] for q in lookups]
    assert not [r for r in collection.requests if r.url.path.endswith(("_mget", "/v1"))]


async def test_removing_a_video_on_a_collection_deletes_every_document_found(
    collection: FakeCollection, index: OpenSearchIndex
) -> None:
    await index.index_video(BRIEFING)
    await index.index_video(OTHER)
    await index.remove_video("v1")
    await index.remove_video("unknown")  # nothing to find, nothing sent
    assert collection.of_video(ENTRIES, "v1") == []
    assert collection.of_video(VIDEOS, "v1") == []
    assert _texts(collection, "v2") == ["Mission control"]
    assert await index.get_video("v1") is None


async def test_a_search_before_anything_was_indexed_finds_nothing(
    index: OpenSearchIndex,
) -> None:
    results = await index.search(SearchQuery(text="anything"))
    assert (results.total_hits, results.videos) == (0, ())
    assert await index.list_videos() == ()
    assert await index.get_video("v1") is None


async def test_the_collection_template_uses_faiss_and_pages_by_doc_key(
    collection: FakeCollection, index: OpenSearchIndex
) -> None:
    await index.index_video(OTHER)
    mappings = collection.templates[ENTRIES]["template"]["mappings"]["properties"]
    assert mappings["vector"]["method"] == {
        "name": "hnsw",
        "engine": "faiss",
        "space_type": "innerproduct",
    }
    assert mappings["doc_key"] == {"type": "keyword"}
    assert collection.templates[VIDEOS]["template"]["mappings"]["properties"]["doc_key"] == {
        "type": "keyword"
    }
    # AND a domain keeps Lucene's cosine
    domain = entries_template(ENTRIES)["template"]["mappings"]["properties"]["vector"]["method"]
    assert domain["engine"] == "lucene"
    # AND a search collection, which has no k-NN, gets neither index.knn nor a vector field
    search = entries_template(ENTRIES, SEARCH_COLLECTION)["template"]
    assert "index.knn" not in search["settings"]
    assert "vector" not in search["mappings"]["properties"]
    assert (
        search["settings"]["analysis"]
        == entries_template(ENTRIES)["template"]["settings"]["analysis"]
    )


class _Clients:
    """Stands in for ``AwsClients``: hands out a client signed for the asked service whose
    transport is ``answer``."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.services: list[str] = []

    async def opensearch_http(self, *, service: str = "es") -> httpx.AsyncClient:
        self.services.append(service)
        return httpx.AsyncClient(
            transport=httpx.MockTransport(self.answer),
            auth=SigV4Auth(_credentials, service, "us-east-1"),
        )


@pytest.mark.parametrize(("service", "expect_delete_by_query"), [("aoss", False), ("es", True)])
async def test_the_signing_service_setting_chooses_how_a_video_is_replaced(
    service: str, expect_delete_by_query: bool
) -> None:
    # GIVEN settings naming a collection (aoss) or a domain (es), as the CDK stack sets them
    collection = FakeCollection()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/_delete_by_query"):
            collection.requests.append(request)  # what a domain answers
            return httpx.Response(200, json={"deleted": 0, "failures": []})
        if request.url.path == "/_bulk":
            # A domain takes the ids it is given: answer as if the ids were accepted.
            body = request.content.decode()
            if '"_id"' in body.splitlines()[0]:
                collection.requests.append(request)
                items = [{"index": {"_id": json.loads(a)["index"]["_id"], "status": 201}}
                         for a in body.splitlines()[::2]]  # fmt: skip
                return httpx.Response(200, json={"errors": False, "items": items})
        return collection(request)

    clients = _Clients(answer)
    settings = SearchSettings(
        backend="opensearch",
        opensearch_endpoint=ENDPOINT,
        opensearch_service=service,
        opensearch_index=ENTRIES,
        embeddings=False,
    )
    # WHEN the index is opened from them and a video indexed
    index = await open_search_index(settings, aws=cast("AwsClients", clients))
    await index.index_video(OTHER)

    # THEN requests are signed for that service, and only a domain is asked to delete by query
    assert clients.services == [service]
    sent = [r.url.path for r in collection.requests]
    assert any(p.endswith("_delete_by_query") for p in sent) is expect_delete_by_query


# -- a search collection: the client's ids, no k-NN ------------------------------------------------


def _search_settings(collection_type: CollectionType = "search") -> SearchSettings:
    return SearchSettings(
        backend="opensearch",
        opensearch_endpoint=ENDPOINT,
        opensearch_service="aoss",
        opensearch_collection_type=collection_type,
        opensearch_index=ENTRIES,
    )


async def _open_on(collection: FakeCollection, tmp_path: Path) -> SearchIndex:
    # A real embedder whose model is missing: indexing fails if it is ever asked for vectors.
    unusable = MiniLmEmbedder(model_dir=tmp_path / "no-model")
    clients = _Clients(collection)
    return await open_search_index(
        _search_settings(), aws=cast("AwsClients", clients), embedder=unusable
    )


async def test_a_search_collection_refuses_the_vector_template_and_the_domain_delete() -> None:
    # GIVEN a search collection, and the forms a vector collection and a domain take
    collection = FakeCollection("search")
    as_vector = OpenSearchIndex(
        _client(collection), ENDPOINT, index=ENTRIES, dialect=VECTOR_COLLECTION
    )
    as_domain = OpenSearchIndex(_client(collection), ENDPOINT, index=ENTRIES)

    # WHEN they write THEN the collection's own errors come back: no k-NN mapping (both
    # templates have a vector), no refresh policy (so neither form may be sent to it)
    for other in (as_vector, as_domain):
        with pytest.raises(SearchIndexError, match=r"No handler for type \[knn_vector\]"):
            await other.index_video(OTHER)
    with pytest.raises(SearchIndexError, match="true refresh policy is not supported"):
        await as_domain.remove_video("v1")
    assert collection.templates == {}


async def test_a_search_collection_gets_a_template_without_knn_and_no_vectors(
    tmp_path: Path,
) -> None:
    # GIVEN settings naming a search collection, and an embedder that cannot load
    collection = FakeCollection("search")
    index = await _open_on(collection, tmp_path)

    # WHEN a video is indexed
    assert await index.index_video(BRIEFING) == 6

    # THEN the templates were accepted, the entries' without index.knn or a vector field
    entries = collection.templates[ENTRIES]["template"]
    assert "index.knn" not in entries["settings"]
    assert "vector" not in entries["mappings"]["properties"]
    assert entries["mappings"]["properties"]["text"]["analyzer"] == "folded"
    # AND no vector was computed or sent, and nothing a collection refuses was asked for
    assert not any("vector" in d for d in collection.docs[ENTRIES].values())
    assert all(not r.url.query for r in collection.requests)
    assert not [r for r in collection.requests if "_delete_by_query" in r.url.path]
    # AND the documents have the ids derived from the video
    assert sorted(collection.docs[ENTRIES]) == [f"v1:{n}" for n in range(6)]
    assert list(collection.docs[VIDEOS]) == ["v1"]


async def test_reindexing_on_a_search_collection_overwrites_by_id_and_deletes_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a search collection holding v1 (six entries) and v2, found two ids per page
    monkeypatch.setattr(opensearch_module, "ID_PAGE", 2)
    collection = FakeCollection("search")
    index = await _open_on(collection, tmp_path)
    await index.index_video(BRIEFING)
    await index.index_video(OTHER)
    collection.requests.clear()

    # WHEN v1 is indexed again with two entries
    assert await index.index_video(REVISED) == 2

    # THEN v1 has exactly its new entries, under the same ids, and one video document
    assert _texts(collection, "v1") == ["Mission briefing", "the crew is ready"]
    v1_ids = sorted(i for i, d in collection.docs[ENTRIES].items() if d["video_id"] == "v1")
    assert v1_ids == ["v1:0", "v1:1"]
    assert list(collection.of_video(VIDEOS, "v1")) == [collection.docs[VIDEOS]["v1"]]
    assert _texts(collection, "v2") == ["Mission control"]
    # AND only the ids that were not overwritten were deleted, after the write
    bulks = [r.content.decode() for r in collection.sent("POST", "/_bulk")]
    assert [next(iter(json.loads(b.splitlines()[0]))) for b in bulks] == ["index", "delete"]
    deleted = [json.loads(line)["delete"]["_id"] for line in bulks[1].splitlines()]
    assert sorted(deleted) == ["v1:2", "v1:3", "v1:4", "v1:5"]

    # WHEN the video is read and removed THEN by its id, and nothing of it is left
    video = await index.get_video("v1")
    assert video is not None
    assert video.entries == 2
    assert collection.sent("GET", f"/{VIDEOS}/_doc/v1")
    await index.remove_video("v1")
    assert collection.of_video(ENTRIES, "v1") == []
    assert collection.of_video(VIDEOS, "v1") == []
    assert await index.get_video("v1") is None


async def test_natural_language_search_on_a_search_collection_is_refused_with_the_reason(
    tmp_path: Path,
) -> None:
    # GIVEN a search collection with a video, and settings that keep embeddings on
    collection = FakeCollection("search")
    index = await _open_on(collection, tmp_path)
    await index.index_video(BRIEFING)
    collection.requests.clear()

    # WHEN a natural-language query is asked THEN it is refused, naming what would serve it
    with pytest.raises(SearchIndexError, match="vector search collection"):
        await index.search(SearchQuery(text="crew getting ready", mode=MatchMode.NATURAL))
    assert collection.requests == []
    # AND a word search is served, with the collection's highlights or the shared marks
    results = await index.search(SearchQuery(text="crew"))
    assert [v.video_id for v in results.videos] == ["v1"]


@pytest.mark.parametrize(
    ("service", "collection_type", "expected"),
    [
        ("es", "search", DOMAIN),
        ("aoss", "search", SEARCH_COLLECTION),
        ("aoss", "vectorsearch", VECTOR_COLLECTION),
    ],
)
def test_the_dialect_is_decided_from_the_service_and_the_collection_type(
    service: str, collection_type: CollectionType, expected: OpenSearchDialect
) -> None:
    assert dialect_for(service, collection_type) is expected


def test_an_unknown_signing_service_is_refused() -> None:
    with pytest.raises(ValueError, match="es or aoss"):
        dialect_for("s3")

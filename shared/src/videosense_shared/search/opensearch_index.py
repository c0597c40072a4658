"""The search index on Amazon OpenSearch: a managed domain or a Serverless collection, with the
same entries, queries and ranking as the SQLite backend, over the OpenSearch REST API
(SigV4-signed ``httpx`` client, injected; see
:meth:`videosense_shared.aws.AwsClients.opensearch_http`).

Two indices, created from index templates on first use:

- ``<index>``: one document per entry (``video_id``, ``kind``, ``text`` analysed with lower-case
  and ASCII folding, with edge prefixes for prefix queries, times, scene, keyframe, image, and
  for transcript segments and captions a ``vector`` as an HNSW ``knn_vector`` where the endpoint
  has k-NN);
- ``<index>-videos``: one document per video (status, source key, duration, error, entry
  count, completion time), so a failed video with no entries is listed.

What the endpoint accepts is its :class:`~videosense_shared.search.opensearch_dialect.
OpenSearchDialect` (domain, search collection, vector search collection), decided in one place
from the settings. Re-indexing a video replaces its entries:

- **domain**: delete the video's entries by query, then write the new ones and the video
  document with ``_bulk`` (ids derived from the video id, so a retried bulk overwrites, never
  duplicates);
- **Serverless collection**: there is no ``_delete_by_query`` and no ``refresh`` parameter. The
  video's current document ids are found first (``_search`` with ``_source: false``, paged with
  ``search_after`` on a per-document ``doc_key``), the new documents are written with ``_bulk``
  (a search collection takes the ids derived from the video id, so they overwrite; a vector
  search collection picks its own), and only then are the old ids that were not overwritten
  deleted with ``_bulk`` delete actions: the video never has no entries, and a failure at any
  step leaves documents that the next (retried) indexing finds and deletes.

Queries are ``match``/``match_phrase``/``match_phrase_prefix`` on the query's words (never
``query_string``: no user text is parsed as syntax), filtered by kind, video and time, with
highlighting in ``<mark>`` (HTML-encoded); hits are re-scored with the shared exact-phrase
bonuses (:mod:`~videosense_shared.search.ranking`) and grouped by video. Natural-language
queries fuse a ``knn`` query with the any-word query by reciprocal rank (not on a search
collection, which has no k-NN: they are refused with the reason).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from videosense_shared.document import VideoDocument
from videosense_shared.messages import ImageRef, VideoStatus
from videosense_shared.search.embeddings import DIMENSIONS, TextEmbedder
from videosense_shared.search.entries import EMBEDDED_KINDS, document_entries
from videosense_shared.search.opensearch_bulk import (
    BULK_ACTIONS,
    check_bulk_reply,
    chunks,
    delete_lines,
    index_lines,
    item_reason,
)
from videosense_shared.search.opensearch_dialect import DOMAIN, OpenSearchDialect
from videosense_shared.search.protocol import SearchIndexError
from videosense_shared.search.query import (
    EntryKind,
    IndexedVideo,
    MatchMode,
    SearchHit,
    SearchQuery,
    SearchResults,
)
from videosense_shared.search.ranking import final_score, group_by_video, mark_words, rrf_scores
from videosense_shared.search.settings import videos_index
from videosense_shared.search.sqlite_index import HYBRID_DEPTH
from videosense_shared.search.words import query_words

__all__ = ["BULK_ACTIONS", "OpenSearchIndex", "entries_template", "videos_template"]

_OVERFETCH = 3
#: Document ids per page when finding a video's documents on a Serverless collection.
ID_PAGE = 1000
#: Boost of the phrase clause of any-word queries: enough to fetch phrase matches first.
PHRASE_BOOST = 10.0


def entries_template(index: str, dialect: OpenSearchDialect = DOMAIN) -> dict[str, Any]:
    """The index template of the entries index on ``dialect``'s endpoint.

    Where the endpoint has k-NN, ``index.knn`` and a ``vector`` field with its method (Faiss
    with the inner product, the cosine of the model's L2-normalised vectors, on a vector search
    collection; Lucene's cosine on a domain); a search collection refuses both, so its entries
    have no vector.
    """
    settings: dict[str, Any] = {
        "analysis": {
            "analyzer": {
                "folded": {
                    "type": "custom",
                    "tokenizer": "standard",
                    "filter": ["lowercase", "asciifolding"],
                }
            }
        },
    }
    properties: dict[str, Any] = {
        "video_id": {"type": "keyword"},
        "kind": {"type": "keyword"},
        "text": {
            "type": "text",
            "analyzer": "folded",
            "index_prefixes": {"min_chars": 2, "max_chars": 10},
            "index_phrases": True,
        },
        "t_s": {"type": "float"},
        "end_s": {"type": "float"},
        "scene_index": {"type": "integer"},
        "keyframe_id": {"type": "keyword"},
        "image": {"type": "object", "enabled": False},
        "speaker": {"type": "keyword"},
        "doc_key": {"type": "keyword"},
    }
    if dialect.vector_method is not None:
        settings = {"index.knn": True, **settings}
        properties["vector"] = {
            "type": "knn_vector",
            "dimension": DIMENSIONS,
            "method": dict(dialect.vector_method),
        }
    return {
        "index_patterns": [index],
        "priority": 100,
        "template": {
            "settings": settings,
            "mappings": {"dynamic": "strict", "properties": properties},
        },
    }


def videos_template(index: str) -> dict[str, Any]:
    """The index template of the videos index."""
    return {
        "index_patterns": [videos_index(index)],
        "priority": 100,
        "template": {
            "mappings": {
                "dynamic": "strict",
                "properties": {
                    "video_id": {"type": "keyword"},
                    "status": {"type": "keyword"},
                    "source_key": {"type": "keyword"},
                    "duration_s": {"type": "float"},
                    "error": {"type": "text", "index": False},
                    "entries": {"type": "integer"},
                    "completed_at": {"type": "date"},
                    "doc_key": {"type": "keyword"},
                },
            }
        },
    }


class OpenSearchIndex:
    """The :class:`~videosense_shared.search.SearchIndex` on an OpenSearch domain or a
    Serverless collection.

    ``http``: a client that signs requests (owned by the caller's ``AwsClients``);
    ``endpoint``: ``https://...`` of the domain or collection; ``index``: the entries index
    name; ``dialect``: what the endpoint accepts (see the module docstring for what changes).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        endpoint: str,
        *,
        index: str,
        embedder: TextEmbedder | None = None,
        dialect: OpenSearchDialect = DOMAIN,
    ) -> None:
        self._http = http
        self._endpoint = endpoint.rstrip("/")
        self._entries = index
        self._videos = videos_index(index)
        self._embedder = embedder
        self._dialect = dialect
        self._ready = False
        self._ready_lock = asyncio.Lock()

    async def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        ndjson: str | None = None,
        allow: tuple[int, ...] = (),
    ) -> tuple[int, dict[str, Any]]:
        headers = {"content-type": "application/json"}
        content: bytes | None = None
        if ndjson is not None:
            headers["content-type"] = "application/x-ndjson"
            content = ndjson.encode()
        elif body is not None:
            content = json.dumps(body).encode()
        try:
            response = await self._http.request(
                method, f"{self._endpoint}/{path}", content=content, headers=headers
            )
        except httpx.HTTPError as err:
            raise SearchIndexError(f"OpenSearch {method} /{path}: {err}") from err
        try:
            payload = response.json() if response.content else {}
        except ValueError:
            payload = {"error": {"reason": response.text[:200]}}
        if response.status_code >= 400 and response.status_code not in allow:
            raise SearchIndexError(
                f"OpenSearch {method} /{path}: HTTP {response.status_code}: {item_reason(payload)}"
            )
        return response.status_code, payload

    async def _ensure_templates(self) -> None:
        if self._ready:
            return
        async with self._ready_lock:
            if not self._ready:
                # PUT of a template is idempotent: every writer may create it on first use.
                await self._call(
                    "PUT",
                    f"_index_template/{self._entries}",
                    entries_template(self._entries, self._dialect),
                )
                await self._call(
                    "PUT", f"_index_template/{self._videos}", videos_template(self._entries)
                )
                self._ready = True

    # -- writing ------------------------------------------------------------------------------

    async def index_video(self, document: VideoDocument) -> int:
        """Replace the video's entries and its video document.

        Raises:
            SearchIndexError: OpenSearch refused a request or an item of a bulk.
            EmbeddingModelUnavailableError: an embedder is configured but cannot load.
        """
        await self._ensure_templates()
        entries = document_entries(document)
        vectors = None
        embedded = [i for i, e in enumerate(entries) if e.kind in EMBEDDED_KINDS]
        if self._embedder is not None and embedded and self._dialect.vectors:
            texts = [entries[i].text for i in embedded]
            rows = await asyncio.to_thread(self._embedder.embed, texts)
            vectors = {i: rows[n].tolist() for n, i in enumerate(embedded)}
        sources: list[dict[str, Any]] = []
        for n, entry in enumerate(entries):
            source: dict[str, Any] = {
                "video_id": document.video_id,
                "kind": entry.kind.value,
                "text": entry.text,
                "t_s": entry.t_s,
                "end_s": entry.end_s,
                "scene_index": entry.scene_index,
                "keyframe_id": entry.keyframe_id,
                "image": entry.image.model_dump() if entry.image else None,
                "speaker": entry.speaker,
            }
            if vectors is not None and n in vectors:
                source["vector"] = vectors[n]
            sources.append(source)
        video = {
            "video_id": document.video_id,
            "status": document.status.value,
            "source_key": document.source.key,
            "duration_s": document.media.duration_s if document.media else None,
            "error": document.error,
            "entries": len(entries),
            "completed_at": document.completed_at.isoformat() if document.completed_at else None,
        }
        if not self._dialect.delete_by_query:
            await self._replace_on_collection(document.video_id, sources, video)
            return len(entries)
        await self._delete_entries(document.video_id)
        lines: list[str] = []
        for n, source in enumerate(sources):
            lines += index_lines(self._entries, source, f"{document.video_id}:{n}")
        # The video last: it is listed once its entries are in.
        lines += index_lines(self._videos, video, document.video_id)
        for body in chunks(lines, lines_per_action=2):
            await self._bulk(body)
        return len(entries)

    async def _replace_on_collection(
        self, video_id: str, sources: list[dict[str, Any]], video: dict[str, Any]
    ) -> None:
        # Found before writing, deleted after: the video keeps its old entries until the new
        # ones are in.
        old_entries = await self._video_doc_ids(self._entries, video_id)
        old_videos = await self._video_doc_ids(self._videos, video_id)
        # A key unique to this indexing: the sort key that pages a video's documents.
        generation = uuid.uuid4().hex
        own_ids = self._dialect.client_ids
        lines: list[str] = []
        for n, source in enumerate(sources):
            lines += index_lines(
                self._entries,
                {**source, "doc_key": f"{video_id}/{generation}/{n:08d}"},
                f"{video_id}:{n}" if own_ids else None,
            )
        lines += index_lines(
            self._videos,
            {**video, "doc_key": f"{video_id}/{generation}"},
            video_id if own_ids else None,
        )
        for body in chunks(lines, lines_per_action=2):
            await self._bulk(body)
        # With the client's ids the new documents overwrote theirs: only the rest is stale.
        written: set[str] = set()
        if own_ids:
            written = {f"{video_id}:{n}" for n in range(len(sources))} | {video_id}
        stale = delete_lines(self._entries, [i for i in old_entries if i not in written])
        stale += delete_lines(self._videos, [i for i in old_videos if i not in written])
        for body in chunks(stale, lines_per_action=1):
            await self._bulk(body)

    async def _video_doc_ids(self, index: str, video_id: str) -> list[str]:
        """The ids of the video's documents in ``index`` (none when it does not exist yet),
        paged with ``search_after`` on ``doc_key``."""
        ids: list[str] = []
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": ID_PAGE,
                "_source": False,
                "query": {"term": {"video_id": video_id}},
                "sort": [{"doc_key": {"order": "asc", "missing": "_last"}}],
            }
            if after is not None:
                body["search_after"] = after
            code, payload = await self._call("POST", f"{index}/_search", body, allow=(404,))
            if code == 404:
                return ids
            hits = payload.get("hits", {}).get("hits", [])
            ids += [hit["_id"] for hit in hits]
            if len(hits) < ID_PAGE:
                return ids
            after = hits[-1].get("sort")
            if not after or after == [None]:
                # A document without a doc_key cannot be paged past: refuse rather than loop.
                raise SearchIndexError(
                    f"OpenSearch {index}: documents of {video_id} without a doc_key; rebuild "
                    "the index"
                )

    async def _bulk(self, lines: list[str]) -> None:
        _, payload = await self._call("POST", "_bulk", ndjson="\n".join(lines) + "\n")
        check_bulk_reply(payload)

    async def _delete_entries(self, video_id: str) -> None:
        # 404: the index does not exist yet (nothing to delete).
        _, payload = await self._call(
            "POST",
            f"{self._entries}/_delete_by_query?refresh=true&conflicts=proceed",
            {"query": {"term": {"video_id": video_id}}},
            allow=(404,),
        )
        failures = payload.get("failures") or []
        if failures:
            # Entries that were not deleted would be found beside the new ones.
            first = failures[0] if isinstance(failures[0], dict) else {}
            cause = first.get("cause", first) if isinstance(first, dict) else first
            raise SearchIndexError(
                f"OpenSearch _delete_by_query: {len(failures)} failure(s), the first "
                f"({first.get('id')}): {item_reason({'error': cause})}"
            )

    async def remove_video(self, video_id: str) -> None:
        """Remove the video and its entries (nothing happens for an unknown video).

        Raises:
            SearchIndexError: OpenSearch refused a request or an item of a bulk.
        """
        if not self._dialect.delete_by_query:
            entries = await self._video_doc_ids(self._entries, video_id)
            videos = await self._video_doc_ids(self._videos, video_id)
            stale = delete_lines(self._entries, entries) + delete_lines(self._videos, videos)
            for body in chunks(stale, lines_per_action=1):
                await self._bulk(body)
            return
        await self._delete_entries(video_id)
        await self._call("DELETE", f"{self._videos}/_doc/{quote(video_id, safe='')}", allow=(404,))

    # -- listing ------------------------------------------------------------------------------

    async def list_videos(
        self, *, status: VideoStatus | None = None, limit: int = 1000
    ) -> tuple[IndexedVideo, ...]:
        """The indexed videos, most recently completed first.

        Raises:
            SearchIndexError: OpenSearch refused the request.
        """
        query: dict[str, Any] = {"term": {"status": status.value}} if status else {"match_all": {}}
        body = {
            "size": limit,
            "query": query,
            "sort": [{"completed_at": {"order": "desc", "missing": "_last"}}, {"video_id": "asc"}],
        }
        code, payload = await self._call("POST", f"{self._videos}/_search", body, allow=(404,))
        if code == 404:
            return ()
        # On a collection a re-indexed video has two documents until the old one is deleted.
        seen: set[str] = set()
        videos = []
        for hit in payload["hits"]["hits"]:
            if hit["_source"]["video_id"] not in seen:
                seen.add(hit["_source"]["video_id"])
                videos.append(_indexed_video(hit["_source"]))
        return tuple(videos)

    async def get_video(self, video_id: str) -> IndexedVideo | None:
        """One indexed video, or ``None``.

        Raises:
            SearchIndexError: OpenSearch refused the request.
        """
        if not self._dialect.client_ids:
            sources = await self._video_sources([video_id])
            return _indexed_video(sources[video_id]) if video_id in sources else None
        path = f"{self._videos}/_doc/{quote(video_id, safe='')}"
        code, payload = await self._call("GET", path, allow=(404,))
        if code == 404 or not payload.get("found"):
            return None
        return _indexed_video(payload["_source"])

    async def _video_sources(self, video_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The videos' documents by video id: ``_mget`` by id where documents have the client's
        ids, a ``terms`` search on a vector search collection (whose ids are its own)."""
        found: dict[str, dict[str, Any]] = {}
        if self._dialect.client_ids:
            _, payload = await self._call("POST", f"{self._videos}/_mget", {"ids": video_ids})
            for doc in payload.get("docs", []):
                if doc.get("found"):
                    found[doc["_id"]] = doc["_source"]
            return found
        body = {
            # Room for a re-indexed video's old document beside its new one.
            "size": 2 * len(video_ids),
            "query": {"terms": {"video_id": video_ids}},
            "sort": [{"doc_key": {"order": "asc", "missing": "_last"}}],
        }
        code, payload = await self._call("POST", f"{self._videos}/_search", body, allow=(404,))
        if code == 404:
            return found
        for hit in payload["hits"]["hits"]:
            found.setdefault(hit["_source"]["video_id"], hit["_source"])
        return found

    # -- searching ----------------------------------------------------------------------------

    def _filters(self, query: SearchQuery) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = []
        if query.kinds != frozenset(EntryKind):
            filters.append({"terms": {"kind": sorted(k.value for k in query.kinds)}})
        if query.video_id is not None:
            filters.append({"term": {"video_id": query.video_id}})
        if query.start_s is not None:
            # A segment still running at start_s is a hit: its end counts.
            filters.append(
                {
                    "bool": {
                        "should": [
                            {"range": {"end_s": {"gte": query.start_s}}},
                            {
                                "bool": {
                                    "must_not": {"exists": {"field": "end_s"}},
                                    "filter": {"range": {"t_s": {"gte": query.start_s}}},
                                }
                            },
                        ],
                        "minimum_should_match": 1,
                    }
                }
            )
        if query.end_s is not None:
            filters.append({"range": {"t_s": {"lte": query.end_s}}})
        return filters

    def _text_query(self, query: SearchQuery) -> dict[str, Any]:
        words = " ".join(query_words(query.text))
        if query.mode is MatchMode.PHRASE:
            must: dict[str, Any] = {"match_phrase": {"text": {"query": words}}}
        elif query.mode is MatchMode.PREFIX:
            must = {"match_phrase_prefix": {"text": {"query": words}}}
        else:
            must = {"match": {"text": {"query": words, "operator": "or"}}}
        return {
            "bool": {
                "must": [must],
                "filter": self._filters(query),
                # Any-word queries: the entries holding the phrase first.
                "should": [{"match_phrase": {"text": {"query": words, "boost": PHRASE_BOOST}}}]
                if query.mode in (MatchMode.ANY, MatchMode.NATURAL)
                else [],
            }
        }

    async def _search(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
        code, payload = await self._call("POST", f"{self._entries}/_search", body, allow=(404,))
        if code == 404:  # nothing indexed yet
            return [], 0
        hits = payload["hits"]
        total = hits.get("total", {})
        count = int(total.get("value", 0)) if isinstance(total, dict) else int(total)
        return list(hits["hits"]), count

    async def search(self, query: SearchQuery) -> SearchResults:
        """Run the query: full text for phrase/any/prefix, hybrid for natural.

        Raises:
            SearchIndexError: OpenSearch refused the request, or a natural-language query
                without an embedder.
            EmbeddingModelUnavailableError: the embedder cannot load its model.
        """
        if query.mode is MatchMode.NATURAL and not self._dialect.vectors:
            raise SearchIndexError(
                f"natural-language search needs vectors, which an OpenSearch "
                f"{self._dialect.name} cannot hold (no k-NN); search by words, or index into a "
                "domain or a vector search collection"
            )
        depth = HYBRID_DEPTH if query.mode is MatchMode.NATURAL else query.limit * _OVERFETCH
        body = {
            "size": depth,
            "track_total_hits": True,
            "query": self._text_query(query),
            "_source": {"excludes": ["vector"]},
            "highlight": {
                "encoder": "html",
                "pre_tags": ["<mark>"],
                "post_tags": ["</mark>"],
                "fields": {"text": {"number_of_fragments": 0}},
            },
        }
        raw, total = await self._search(body)
        words = query_words(query.text)
        text_hits = []
        for item in raw:
            text = item["_source"]["text"]
            highlighted = item.get("highlight", {}).get("text")
            snippet = highlighted[0] if highlighted else mark_words(text, words)
            # OpenSearch's boost only brings phrase entries into the candidates; the order is
            # the shared bonuses' (decided from the text), as in the SQLite backend.
            score = final_score(float(item.get("_score") or 0.0), text, query.text, phrase=None)
            text_hits.append((item["_id"], _hit(item["_source"], snippet, score)))
        text_hits.sort(key=lambda pair: -pair[1].score)
        if query.mode is not MatchMode.NATURAL:
            hits = [hit for _, hit in text_hits[: query.limit]]
            return await self._results(query, hits, total)
        return await self._hybrid(query, text_hits)

    async def _hybrid(
        self, query: SearchQuery, text_hits: list[tuple[str, SearchHit]]
    ) -> SearchResults:
        if self._embedder is None:
            raise SearchIndexError(
                "natural-language search needs the text-embedding model "
                "(VIDEOSENSE_SEARCH_EMBEDDINGS)"
            )
        vector = (await asyncio.to_thread(self._embedder.embed, [query.text]))[0].tolist()
        knn: dict[str, Any] = {"vector": vector, "k": HYBRID_DEPTH}
        filters = self._filters(query)
        if filters:
            knn["filter"] = {"bool": {"filter": filters}}
        raw, _ = await self._search(
            {
                "size": HYBRID_DEPTH,
                "query": {"knn": {"vector": knn}},
                "_source": {"excludes": ["vector"]},
            }
        )
        by_id = dict(text_hits)
        words = query_words(query.text)
        ids = sorted({item["_id"] for item in raw} | set(by_id))
        numbers = {doc_id: n for n, doc_id in enumerate(ids)}
        for item in raw:
            if item["_id"] not in by_id:
                text = item["_source"]["text"]
                by_id[item["_id"]] = _hit(item["_source"], mark_words(text, words), 0.0)
        fused = rrf_scores(
            [
                [numbers[doc_id] for doc_id, _ in text_hits],
                [numbers[item["_id"]] for item in raw],
            ]
        )
        hits = [
            by_id[doc_id].model_copy(update={"score": fused[numbers[doc_id]]}) for doc_id in ids
        ]
        hits.sort(key=lambda h: -h.score)
        return await self._results(query, hits[: query.limit], len(fused))

    async def _results(
        self, query: SearchQuery, hits: list[SearchHit], total: int
    ) -> SearchResults:
        video_ids = sorted({hit.video_id for hit in hits})
        videos: dict[str, tuple[str, str, float | None]] = {}
        if video_ids:
            for video_id, source in (await self._video_sources(video_ids)).items():
                videos[video_id] = (
                    source["status"],
                    source["source_key"],
                    source.get("duration_s"),
                )
        return SearchResults(query=query, total_hits=total, videos=group_by_video(hits, videos))

    async def close(self) -> None:
        """Nothing to release: the HTTP client belongs to the caller's ``AwsClients``."""


def _hit(source: dict[str, Any], snippet: str, score: float) -> SearchHit:
    image = source.get("image")
    return SearchHit(
        video_id=source["video_id"],
        kind=EntryKind(source["kind"]),
        text=source["text"],
        snippet=snippet,
        score=score,
        t_s=source["t_s"],
        end_s=source.get("end_s"),
        scene_index=source.get("scene_index"),
        keyframe_id=source.get("keyframe_id"),
        image=ImageRef.model_validate(image) if image else None,
        speaker=source.get("speaker"),
    )


def _indexed_video(source: dict[str, Any]) -> IndexedVideo:
    completed = source.get("completed_at")
    return IndexedVideo(
        video_id=source["video_id"],
        status=VideoStatus(source["status"]),
        source_key=source["source_key"],
        duration_s=source.get("duration_s"),
        error=source.get("error"),
        entries=source.get("entries", 0),
        completed_at=datetime.fromisoformat(completed) if completed else None,
    )

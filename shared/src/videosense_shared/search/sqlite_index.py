"""The embedded search index: one SQLite file with FTS5 full-text indexes, one per entry kind
(and, for natural-language search, the entries' text-embedding vectors beside them). The
file's layout is in :mod:`videosense_shared.search.sqlite_schema`.

A search reads only the full-text indexes of the kinds it asks for, and its work is bounded
by a budget of matches (``RANK_LIMIT``) whatever the words: it counts the matches up to the
budget; within it, they are ranked by FTS5's bm25 (``ORDER BY bm25() LIMIT``); past it (a word in a
large share of the library), the newest matches are taken unranked and the total is a lower
bound. Rows, keyframes and snippets are fetched for the best candidates and the final hits
only, never per match.

Writes of one video are one transaction: a reader sees the video's old entries or its new
ones, never a mix. WAL mode lets the indexer write while ``videosense find`` or the web app
reads. SQLite calls block, so they run in a worker thread, one at a time per index object.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from videosense_shared.document import VideoDocument
from videosense_shared.messages import ImageRef, VideoStatus
from videosense_shared.search.embeddings import DIMENSIONS, TextEmbedder, Vectors
from videosense_shared.search.entries import EMBEDDED_KINDS, IndexEntry, document_entries
from videosense_shared.search.fts_query import (
    fts_string,
    match_expression,
    phrase_expression,
    snippet_html,
)
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
from videosense_shared.search.sqlite_schema import FTS_TABLES, prepare
from videosense_shared.search.vector_store import VectorFilter, VectorRow, VectorStore
from videosense_shared.search.words import query_words

#: How many hits each half of a hybrid query contributes to the fusion (more when the query
#: asks for more): twice a default page. Each candidate costs its row and its score, and the
#: fusion's top 50 come from the first few dozen of either half (200 measured 4-5 ms slower at
#: p95 at 10,000 videos, bench/README.md, for no change in the first page).
HYBRID_DEPTH = 100


def hybrid_depth(limit: int) -> int:
    """How deep each half of a hybrid query reads for a page of ``limit`` hits."""
    return max(HYBRID_DEPTH, limit)


#: Matches ranked by bm25 per search (shared by the kinds it reads); past it, the newest
#: matches stand in for all of them and the total is a lower bound (see ``_matches``).
RANK_LIMIT = 3_000
#: How much of the index file is read through a memory map.
MMAP_BYTES = 4 * 2**30
#: Candidates fetched per wanted hit before the exact-match bonus reorders them.
_OVERFETCH = 3

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Filters:
    """A query's video and time filters: a rowid range (the video's entries) and conditions
    on the joined entry row ``e``."""

    low: int | None
    high: int | None
    clauses: tuple[str, ...]
    params: tuple[Any, ...]


_NO_FILTERS = _Filters(low=None, high=None, clauses=(), params=())
_MAX_ROWID = 2**63 - 1


@dataclass(frozen=True)
class _Matches:
    """The best matches of one FTS5 expression in one kind's index (see ``_matches``)."""

    best: tuple[tuple[int, float], ...]  # (entry id, bm25), best first
    counted: int  # matches passing the filters, counted up to the budget + 1
    exact: bool  # counted is all of them
    ranked: bool  # by bm25 (the words' match lists are within the budget), else the newest


@dataclass(frozen=True)
class _Candidate:
    """A full-text match worth scoring: its entry, kind, bm25 and whether it holds the
    phrase."""

    entry_id: int
    kind: EntryKind
    bm25: float
    phrase: bool


@dataclass(frozen=True)
class _Scored:
    """A candidate with its entry row (``_ENTRY_COLUMNS``) and final score."""

    candidate: _Candidate
    row: tuple[Any, ...]
    score: float


class SqliteSearchIndex:
    """The :class:`~videosense_shared.search.SearchIndex` on one SQLite file.

    ``embedder``: the text-embedding model; with it, transcript segments and captions get
    vectors when indexed and ``MatchMode.NATURAL`` queries run (without it they are refused).
    It is only called for those, so a phrase search never loads the model.

    Raises:
        SearchIndexError: the file cannot be opened or is not a search index.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        embedder: TextEmbedder | None = None,
        probe_vectors: int | None = None,
    ) -> None:
        self._path = Path(path)
        self._embedder = embedder
        self._probe_vectors = probe_vectors
        self._lock = threading.Lock()
        try:
            if str(path) != ":memory:":
                self._path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=30.0
            )
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            # Reads through a memory map of the file: a search touches pages all over the
            # match lists and the entries, and through SQLite's small page cache each of them
            # is a read() system call and a copy (measured: most of the CPU time of a
            # time-filtered search of common words). The map is the OS page cache itself, so
            # it costs address space, not memory.
            self._db.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
            prepare(self._db, str(path))
            dimensions = embedder.dimensions if embedder is not None else DIMENSIONS
            self._vectors = VectorStore(self._db, dimensions)
            # A second, read-only connection for the vector half of a natural-language search,
            # so that it runs while the full-text half holds the first (WAL: readers never
            # wait on each other). An in-memory index is one connection's own: no second one.
            self._reader: _Reader | None = None
            if embedder is not None and str(path) != ":memory:":
                reader = sqlite3.connect(
                    str(path), check_same_thread=False, isolation_level=None, timeout=30.0
                )
                reader.execute("PRAGMA query_only = 1")
                reader.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
                self._reader = _Reader(reader, VectorStore(reader, dimensions), threading.Lock())
        except sqlite3.Error as err:
            raise SearchIndexError(f"cannot open the search index {path}: {err}") from err
        except ValueError as err:
            raise SearchIndexError(str(err)) from err

    @property
    def path(self) -> Path:
        """The index file."""
        return self._path

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    async def _run(self, work: Callable[[], _T]) -> _T:
        return await asyncio.to_thread(self._locked, self._lock, work)

    def _locked(self, lock: threading.Lock, work: Callable[[], _T]) -> _T:
        """``work`` holding ``lock`` (its connection's), SQLite's errors as the index's."""
        with lock:
            try:
                return work()
            except sqlite3.Error as err:
                raise SearchIndexError(f"search index {self._path}: {err}") from err

    # -- writing ------------------------------------------------------------------------------

    async def index_video(self, document: VideoDocument) -> int:
        """Index the document, replacing whatever the video had (one transaction).

        Raises:
            SearchIndexError: SQLite failed (disk full, file locked too long...).
            EmbeddingModelUnavailableError: an embedder is configured but cannot load.
        """
        entries = document_entries(document)
        vectors: Vectors | None = None
        embedded = [i for i, e in enumerate(entries) if e.kind in EMBEDDED_KINDS]
        if self._embedder is not None and embedded:
            embedder = self._embedder
            texts = [entries[i].text for i in embedded]
            # CPU-bound, outside the lock: other queries run meanwhile.
            vectors = await asyncio.to_thread(embedder.embed, texts)
        count = await self._run(lambda: self._replace(document, entries, embedded, vectors))
        if vectors is not None and await self._run(self._vectors.needs_training):
            await self.train_vector_lists()
        return count

    async def train_vector_lists(self) -> bool:
        """Train the approximate search's lists on the stored vectors now (index_video does
        when the library reaches :data:`~videosense_shared.search.vector_store.TRAIN_MIN`
        vectors, and again each time it doubles).

        Returns:
            Whether new lists were written (not when the index is too small, or a write came
            in meanwhile).

        Raises:
            SearchIndexError: SQLite failed.
        """
        return await self._run(self._vectors.train)

    def _replace(
        self,
        document: VideoDocument,
        entries: Sequence[IndexEntry],
        embedded: Sequence[int],
        vectors: Vectors | None,
    ) -> int:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            self._delete(document.video_id)
            # Ids assigned here (inside the write lock of BEGIN IMMEDIATE) so that rows go in
            # with executemany: one statement per table, not one per entry.
            next_keyframe = int(
                db.execute("SELECT coalesce(max(id), 0) FROM keyframes").fetchone()[0]
            )
            next_entry = int(db.execute("SELECT coalesce(max(id), 0) FROM entries").fetchone()[0])
            keyframe_rows: dict[str, int] = {}
            keyframe_values: list[tuple[int, str, str, str]] = []
            entry_values: list[tuple[Any, ...]] = []
            entry_ids: list[int] = []
            for entry in entries:
                keyframe_row = None
                if entry.keyframe_id is not None and entry.image is not None:
                    keyframe_row = keyframe_rows.get(entry.keyframe_id)
                    if keyframe_row is None:
                        next_keyframe += 1
                        keyframe_row = keyframe_rows[entry.keyframe_id] = next_keyframe
                        keyframe_values.append(
                            (
                                keyframe_row,
                                document.video_id,
                                entry.keyframe_id,
                                entry.image.model_dump_json(),
                            )
                        )
                next_entry += 1
                entry_ids.append(next_entry)
                entry_values.append(
                    (
                        next_entry,
                        document.video_id,
                        entry.kind.value,
                        entry.text,
                        entry.t_s,
                        entry.end_s,
                        entry.scene_index,
                        keyframe_row,
                        entry.speaker,
                    )
                )
            db.executemany(
                "INSERT INTO keyframes (id, video_id, keyframe_id, image) VALUES (?, ?, ?, ?)",
                keyframe_values,
            )
            db.executemany(
                "INSERT INTO entries (id, video_id, kind, text, t_s, end_s, scene_index, keyframe,"
                " speaker) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                entry_values,
            )
            if vectors is not None and self._embedder is not None:
                self._vectors.add(
                    [
                        VectorRow(
                            entry_ids[i],
                            entries[i].kind.value,
                            entries[i].t_s,
                            _end_or_time(entries[i]),
                        )
                        for i in embedded
                    ],
                    vectors,
                )
                db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('embedding_model', ?)",
                    (self._embedder.model_id,),
                )
            db.execute(
                "INSERT OR REPLACE INTO videos (video_id, status, source_key, duration_s, error,"
                " completed_at, entries, indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?,"
                " strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                (
                    document.video_id,
                    document.status.value,
                    document.source.key,
                    document.media.duration_s if document.media else None,
                    document.error,
                    document.completed_at.isoformat() if document.completed_at else None,
                    len(entries),
                ),
            )
            self._bump_generation()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return len(entries)

    def _delete(self, video_id: str) -> None:
        db = self._db
        low, high = db.execute(
            "SELECT min(id), max(id) FROM entries WHERE video_id = ?", (video_id,)
        ).fetchone()
        if low is not None:
            self._vectors.delete_entries(int(low), int(high))
        db.execute("DELETE FROM entries WHERE video_id = ?", (video_id,))
        db.execute("DELETE FROM keyframes WHERE video_id = ?", (video_id,))
        db.execute("DELETE FROM videos WHERE video_id = ?", (video_id,))

    def _bump_generation(self) -> None:
        self._db.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
        )

    async def remove_video(self, video_id: str) -> None:
        """Remove the video and its entries (nothing happens for an unknown video).

        Raises:
            SearchIndexError: SQLite failed.
        """

        def remove() -> None:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._delete(video_id)
                self._bump_generation()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

        await self._run(remove)

    # -- listing ------------------------------------------------------------------------------

    async def list_videos(
        self, *, status: VideoStatus | None = None, limit: int = 1000
    ) -> tuple[IndexedVideo, ...]:
        """The indexed videos, most recently completed first.

        Raises:
            SearchIndexError: SQLite failed.
        """
        where, params = ("WHERE status = ?", [status.value]) if status else ("", [])
        sql = (
            "SELECT video_id, status, source_key, duration_s, error, entries, completed_at"
            f" FROM videos {where} ORDER BY completed_at DESC, video_id LIMIT ?"
        )
        rows = await self._run(lambda: self._db.execute(sql, [*params, limit]).fetchall())
        return tuple(_indexed_video(row) for row in rows)

    async def get_video(self, video_id: str) -> IndexedVideo | None:
        """One indexed video, or ``None``.

        Raises:
            SearchIndexError: SQLite failed.
        """
        sql = (
            "SELECT video_id, status, source_key, duration_s, error, entries, completed_at"
            " FROM videos WHERE video_id = ?"
        )
        row = await self._run(lambda: self._db.execute(sql, (video_id,)).fetchone())
        return None if row is None else _indexed_video(row)

    # -- searching ----------------------------------------------------------------------------

    async def search(self, query: SearchQuery) -> SearchResults:
        """Run the query: full text for phrase/any/prefix, hybrid for natural.

        Raises:
            SearchIndexError: SQLite failed, or a natural-language query without an embedder.
            EmbeddingModelUnavailableError: the embedder cannot load its model.
        """
        if query.mode is MatchMode.NATURAL:
            return await self._hybrid(query)
        return await self._run(lambda: self._full_text(query))

    def _filters(self, query: SearchQuery) -> _Filters | None:
        """The query's video and time filters as SQL, or ``None`` when they exclude every
        entry (an unknown video)."""
        clauses: list[str] = []
        params: list[Any] = []
        low = high = None
        if query.video_id is not None:
            # A video's entries have consecutive ids: the range lets FTS5 seek to them in each
            # match list instead of walking every match of a common word; the video_id check
            # keeps the answer right even if a range held another video's entry.
            low, high = self._db.execute(
                "SELECT min(id), max(id) FROM entries WHERE video_id = ?", (query.video_id,)
            ).fetchone()
            if low is None:
                return None
            clauses.append("e.video_id = ?")
            params.append(query.video_id)
        if query.start_s is not None:
            # A segment that is still running at start_s is a hit: compare its end.
            clauses.append("coalesce(e.end_s, e.t_s) >= ?")
            params.append(query.start_s)
        if query.end_s is not None:
            clauses.append("e.t_s <= ?")
            params.append(query.end_s)
        return _Filters(low=low, high=high, clauses=tuple(clauses), params=tuple(params))

    def _full_text(self, query: SearchQuery) -> SearchResults:
        ranked, total, exact = self._ranked(query, query.limit * _OVERFETCH)
        best = ranked[: query.limit]
        return self._results(query, self._with_snippets(query, best), total, exact=exact)

    def _ranked(self, query: SearchQuery, depth: int) -> tuple[list[_Scored], int, bool]:
        """The best ``depth`` full-text matches, best first, with their rows (no snippets
        yet), the number of matches and whether that number is exact (else a lower bound)."""
        filters = self._filters(query)
        if filters is None:
            return [], 0, True
        match = match_expression(query)
        words = query_words(query.text)
        # Any-word queries: entries holding the words as a phrase come first (PHRASE_BONUS),
        # whatever bm25 says. The phrase is its own (more selective) FTS query, ranked first;
        # the any-word query fills the rest: the best `depth` of the union, without marking
        # every match of a common word.
        any_words = query.mode in (MatchMode.ANY, MatchMode.NATURAL) and len(words) > 1
        kinds = sorted(query.kinds)
        # The ranking budget is shared by the kinds, so an all-kinds search costs no more than
        # a one-kind search of a word as common.
        budget = max(depth, RANK_LIMIT // len(kinds))
        # Each kind could hold every hit wanted, but together they need not give more than
        # `depth` candidates: each row fetched and scored costs.
        per_kind = max(query.limit, depth // len(kinds))
        candidates: dict[int, _Candidate] = {}
        total = 0
        exact = True
        for kind in kinds:
            table = FTS_TABLES[kind]
            phrase_ids: set[int] = set()
            if any_words:
                phrase = self._matches(table, phrase_expression(query), filters, budget, per_kind)
                for entry_id, bm25 in phrase.best:
                    candidates[entry_id] = _Candidate(entry_id, kind, bm25, phrase=True)
                    phrase_ids.add(entry_id)
            wanted = per_kind + len(phrase_ids)
            matches = self._matches(table, match, filters, budget, wanted)
            total += matches.counted
            exact = exact and matches.exact
            found = list(matches.best)
            if any_words and not matches.ranked:
                # The words as common as that add nothing to bm25 (their IDF is ~0): rank the
                # matches of the others, the words that still tell entries apart.
                counts = {
                    word: len(self._newest(table, fts_string(word), _NO_FILTERS, budget + 1))
                    for word in dict.fromkeys(words)
                }
                selective = [word for word, count in counts.items() if 0 < count <= budget]
                if selective:
                    either = " OR ".join(fts_string(word) for word in selective)
                    found += self._matches(table, either, filters, budget, wanted, rank=True).best
            for entry_id, bm25 in found:
                # Without a separate phrase query, every match of a phrase or prefix search
                # holds the phrase (the bonus is the same for all of them).
                known = candidates.get(entry_id)
                if known is None or (not known.phrase and bm25 < known.bm25):
                    candidates[entry_id] = _Candidate(entry_id, kind, bm25, phrase=not any_words)
        if not candidates:
            return [], total, exact
        rows = {int(row[0]): row for row in self._entries_by_id(list(candidates))}
        scored = [
            _Scored(
                candidate=c,
                row=rows[c.entry_id],
                # bm25() is lower for better matches; scores are higher-is-better.
                score=final_score(-c.bm25, rows[c.entry_id][3], query.text, phrase=c.phrase),
            )
            for c in candidates.values()
            if c.entry_id in rows  # a row removed between the two statements
        ]
        # Equal scores (matches past the budget, not ranked): the newest first.
        scored.sort(key=lambda s: (-s.score, -s.candidate.entry_id))
        return scored[:depth], total, exact

    def _where(self, table: str, match: str, filters: _Filters) -> tuple[str, list[Any]]:
        """``FROM ... WHERE ...`` of the matches of ``match`` in one kind's index that pass
        the filters; the FTS5 table is the outer loop (CROSS JOIN), read in rowid order."""
        join = f" CROSS JOIN entries e ON e.id = {table}.rowid" if filters.clauses else ""
        where = f"FROM {table}{join} WHERE {table} MATCH ?"
        params: list[Any] = [match]
        if filters.low is not None:
            where += f" AND {table}.rowid BETWEEN ? AND ?"
            params += [filters.low, filters.high]
        where += "".join(f" AND {clause}" for clause in filters.clauses)
        return where, [*params, *filters.params]

    def _newest(self, table: str, match: str, filters: _Filters, limit: int) -> list[int]:
        """The ids of the newest ``limit`` matches: one walk down the match list (FTS5 reads it
        in rowid order, no sort), stopped at the limit."""
        where, params = self._where(table, match, filters)
        rows = self._db.execute(
            f"SELECT {table}.rowid {where} ORDER BY {table}.rowid DESC LIMIT ?", [*params, limit]
        ).fetchall()
        return [int(row[0]) for row in rows]

    def _matches(
        self,
        table: str,
        match: str,
        filters: _Filters,
        budget: int,
        depth: int,
        *,
        rank: bool | None = None,
    ) -> _Matches:
        """The best ``depth`` matches of ``match`` in one kind's index, read within ``budget``
        steps whatever the words.

        bm25 ranks them only when the words' whole match lists are within the budget (``rank``
        says so when the caller knows): bm25 first counts the entries holding each word (its
        IDF) by walking the word's whole match list, filters or not, then scores every match,
        so a word in a million entries would cost two million steps for a ranking that barely
        tells its matches apart. Past the budget, the newest matches are taken, unranked (bm25
        0), and a time filter looks at the newest ``budget`` matches only, so a range that few
        of them fall in does not walk the whole list either (a video filter is bounded
        already: the video's rowid range).
        """
        newest: list[int] = []
        if rank is None:
            newest = self._newest(table, match, _NO_FILTERS, budget + 1)
            if not newest:
                return _Matches((), 0, exact=True, ranked=True)
            rank = len(newest) <= budget
        if rank:
            where, params = self._where(table, match, filters)
            score = f"bm25({table})"
            if newest and filters == _NO_FILTERS:
                # bm25() under SQLite's LIMIT sorter (a heap of `depth` rows): measured 1.8x
                # faster than FTS5's "ORDER BY rank", which sorts every match and then seeks
                # each row it returns again.
                rows = self._db.execute(
                    f"SELECT {table}.rowid, {score} {where} ORDER BY {score} LIMIT ?",
                    [*params, depth],
                ).fetchall()
                counted = len(newest)
            else:
                # At most `budget` matches per word: count them and keep the best in one walk.
                rows = self._db.execute(f"SELECT {table}.rowid, {score} {where}", params).fetchall()
                counted = len(rows)
                rows = heapq.nsmallest(depth, rows, key=lambda row: float(row[1]))
            best = tuple((int(row[0]), float(row[1])) for row in rows)
            return _Matches(best, counted, exact=True, ranked=True)
        if filters == _NO_FILTERS:
            return _Matches(
                tuple((i, 0.0) for i in newest[:depth]), len(newest), exact=False, ranked=False
            )
        windowed = filters
        if filters.low is None:
            windowed = replace(filters, low=newest[-1], high=_MAX_ROWID)
        ids = self._newest(table, match, windowed, budget + 1)
        return _Matches(
            tuple((i, 0.0) for i in ids[:depth]),
            len(ids),
            exact=len(ids) <= budget and windowed is filters,
            ranked=False,
        )

    def _with_snippets(self, query: SearchQuery, scored: Sequence[_Scored]) -> list[SearchHit]:
        """The hits, in order, each with its snippet (the matched words marked)."""
        return [_hit(s.row, snippet=snippet_html(s.row[3], query), score=s.score) for s in scored]

    def _results(
        self, query: SearchQuery, hits: list[SearchHit], total: int, *, exact: bool = True
    ) -> SearchResults:
        video_ids = sorted({hit.video_id for hit in hits})
        videos: dict[str, tuple[str, str, float | None]] = {}
        for start in range(0, len(video_ids), 500):
            chunk = video_ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for video_id, status, source_key, duration_s in self._db.execute(
                f"SELECT video_id, status, source_key, duration_s FROM videos"
                f" WHERE video_id IN ({marks})",
                chunk,
            ):
                videos[video_id] = (status, source_key, duration_s)
        return SearchResults(
            query=query,
            total_hits=total,
            total_exact=exact,
            videos=group_by_video(hits, videos),
        )

    def _require_embedder(self) -> TextEmbedder:
        if self._embedder is None:
            raise SearchIndexError(
                "natural-language search needs the text-embedding model: the index was opened "
                "without one (VIDEOSENSE_SEARCH_EMBEDDINGS)"
            )
        return self._embedder

    async def _hybrid(self, query: SearchQuery) -> SearchResults:
        embedder = self._require_embedder()
        reader = self._reader
        depth = hybrid_depth(query.limit)

        def vector_half() -> tuple[Vectors, list[int] | None]:
            vector = embedder.embed([query.text])[0]
            if reader is None:
                return vector, None
            return vector, self._locked(
                reader.lock,
                lambda: self._nearest(query, vector, depth, db=reader.db, vectors=reader.vectors),
            )

        # The question is embedded and its nearest lists read while the full-text half runs:
        # numpy and SQLite both release the GIL, so on two cores the two halves overlap.
        vector_work = asyncio.ensure_future(asyncio.to_thread(vector_half))
        try:
            # The full-text half ranks by its own score (phrase bonus, bm25): best first.
            text_hits, _, _ = await self._run(lambda: self._ranked(query, depth))
        finally:
            query_vector, vector_ranking = await vector_work
        return await self._run(lambda: self._fuse(query, query_vector, text_hits, vector_ranking))

    def _fuse(
        self,
        query: SearchQuery,
        query_vector: Vectors,
        text_hits: Sequence[_Scored],
        vector_ranking: list[int] | None,
    ) -> SearchResults:
        by_id = {s.candidate.entry_id: s for s in text_hits}
        text_ranking = list(by_id)
        if vector_ranking is None:
            vector_ranking = self._nearest(query, query_vector, hybrid_depth(query.limit))
        # An entry the reader found but a write removed since has no row below: it is dropped.
        fused = rrf_scores([text_ranking, vector_ranking])
        best = sorted(fused.items(), key=lambda item: -item[1])[: query.limit]
        missing = [entry_id for entry_id, _ in best if entry_id not in by_id]
        rows = {int(row[0]): row for row in self._entries_by_id(missing)}
        words = query_words(query.text)
        # Snippets from FTS5 for the full-text hits kept; the words marked in the others.
        kept = [replace(by_id[i], score=score) for i, score in best if i in by_id]
        marked = dict(
            zip(
                (s.candidate.entry_id for s in kept),
                self._with_snippets(query, kept),
                strict=True,
            )
        )
        hits = []
        for entry_id, score in best:
            if entry_id in marked:
                hits.append(marked[entry_id])
            elif entry_id in rows:
                row = rows[entry_id]
                hits.append(_hit(row, snippet=mark_words(row[3], words), score=score))
        return self._results(query, hits, len(fused))

    def _entries_by_id(self, entry_ids: Sequence[int]) -> list[Any]:
        if not entry_ids:
            return []
        marks = ", ".join("?" for _ in entry_ids)
        return self._db.execute(
            "SELECT e.id, e.video_id, e.kind, e.text, e.t_s, e.end_s, e.scene_index, e.speaker,"
            " k.keyframe_id, k.image FROM entries e LEFT JOIN keyframes k ON k.id = e.keyframe"
            f" WHERE e.id IN ({marks})",
            list(entry_ids),
        ).fetchall()

    async def nearest(
        self,
        query: SearchQuery,
        *,
        depth: int = HYBRID_DEPTH,
        exact: bool = False,
        probe_vectors: int | None = None,
    ) -> list[int]:
        """The entry ids of the ``depth`` vectors nearest the query's meaning (its filters
        applied), best first: the vector half of a natural-language search, alone. ``exact``
        reads every vector instead of the nearest lists (to measure the approximation);
        ``probe_vectors`` overrides the index's probe size for this call.

        Raises:
            SearchIndexError: SQLite failed, or the index was opened without an embedder.
            EmbeddingModelUnavailableError: the embedder cannot load its model.
        """
        embedder = self._require_embedder()
        query_vector = (await asyncio.to_thread(embedder.embed, [query.text]))[0]
        return await self._run(
            lambda: self._nearest(query, query_vector, depth, exact=exact, probe=probe_vectors)
        )

    def _nearest(
        self,
        query: SearchQuery,
        query_vector: Vectors,
        depth: int,
        *,
        exact: bool = False,
        probe: int | None = None,
        db: sqlite3.Connection | None = None,
        vectors: VectorStore | None = None,
    ) -> list[int]:
        """The vector half on ``db`` and ``vectors`` (default: the index's own connection)."""
        db = db or self._db
        vectors = vectors or self._vectors
        kinds = {k.value for k in query.kinds & EMBEDDED_KINDS}
        if not kinds:
            return []
        low = high = None
        if query.video_id is not None:
            low, high = db.execute(
                "SELECT min(id), max(id) FROM entries WHERE video_id = ?", (query.video_id,)
            ).fetchone()
            if low is None:
                return []
        where = VectorFilter(
            kinds=None if kinds == {k.value for k in EMBEDDED_KINDS} else frozenset(kinds),
            low=low,
            high=high,
            start_s=query.start_s,
            end_s=query.end_s,
        )
        return vectors.nearest(
            query_vector, depth, where, exact=exact, probe_vectors=probe or self._probe_vectors
        )

    async def close(self) -> None:
        """Close the file."""
        if self._reader is not None:
            await asyncio.to_thread(self._reader.db.close)
        await asyncio.to_thread(self._db.close)


@dataclass(frozen=True)
class _Reader:
    """The read-only connection of the vector half, its vector store, and the lock that keeps
    it to one thread at a time."""

    db: sqlite3.Connection
    vectors: VectorStore
    lock: threading.Lock


def _end_or_time(entry: IndexEntry) -> float:
    """A segment's end, or a keyframe's time (it lasts no time)."""
    return entry.end_s if entry.end_s is not None else entry.t_s


def _hit(row: Sequence[Any], *, snippet: str, score: float) -> SearchHit:
    image = ImageRef.model_validate(json.loads(row[9])) if row[9] else None
    return SearchHit(
        video_id=row[1],
        kind=EntryKind(row[2]),
        text=row[3],
        snippet=snippet,
        score=score,
        t_s=row[4],
        end_s=row[5],
        scene_index=row[6],
        speaker=row[7],
        keyframe_id=row[8],
        image=image,
    )


def _indexed_video(row: Sequence[Any]) -> IndexedVideo:
    return IndexedVideo(
        video_id=row[0],
        status=VideoStatus(row[1]),
        source_key=row[2],
        duration_s=row[3],
        error=row[4],
        entries=row[5],
        completed_at=datetime.fromisoformat(row[6]) if row[6] else None,
    )

"""The embedded search index: one SQLite file with an FTS5 full-text index (and, for
natural-language search, the entries' text-embedding vectors beside it).

Tables (see ``docs/architecture.md``, "The search index"):

- ``videos``: one row per indexed video, whatever its status, so a failed video with no
  entries is listed too;
- ``keyframes``: the keyframe image of keyframe entries (kept once per keyframe, not per entry);
- ``entries`` + ``entries_fts``: one row per entry and its FTS5 index (external content, kept
  in step by triggers), ``unicode61`` words without diacritics, prefix indexes for 2 and 3
  characters;
- ``vectors``: a float32 vector per transcript segment and caption, when an embedder is given;
- ``meta``: the schema version, the embedding model, and a generation counter that every write
  bumps (readers in other processes reload their vector matrix when it changes).

Writes of one video are one transaction: a reader sees the video's old entries or its new
ones, never a mix. WAL mode lets the indexer write while ``videosense find`` or the web app
reads. SQLite calls block, so they run in a worker thread, one at a time per index object.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from videosense_shared.document import VideoDocument
from videosense_shared.messages import ImageRef, VideoStatus
from videosense_shared.search.embeddings import TextEmbedder, Vectors
from videosense_shared.search.entries import EMBEDDED_KINDS, IndexEntry, document_entries
from videosense_shared.search.fts_query import (
    MARK_END,
    MARK_START,
    marked_html,
    match_expression,
    phrase_expression,
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
from videosense_shared.search.words import query_words

SCHEMA_VERSION = "1"

#: How many hits each half of a hybrid query contributes to the fusion.
HYBRID_DEPTH = 200
#: Matches ranked by relevance; beyond, the newest matches are taken (see _fts_hits).
RANK_LIMIT = 20_000
#: Candidates fetched per wanted hit before the exact-match bonus reorders them.
_OVERFETCH = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS videos (
    video_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    source_key TEXT NOT NULL,
    duration_s REAL,
    error TEXT,
    completed_at TEXT,
    entries INTEGER NOT NULL,
    indexed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS videos_completed ON videos (completed_at);
CREATE TABLE IF NOT EXISTS keyframes (
    id INTEGER PRIMARY KEY,
    video_id TEXT NOT NULL,
    keyframe_id TEXT NOT NULL,
    image TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS keyframes_video ON keyframes (video_id);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    video_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    t_s REAL NOT NULL,
    end_s REAL,
    scene_index INTEGER,
    keyframe INTEGER,
    speaker TEXT
);
CREATE INDEX IF NOT EXISTS entries_video ON entries (video_id);
CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5 (
    text,
    content = 'entries',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);
CREATE TRIGGER IF NOT EXISTS entries_ai AFTER INSERT ON entries BEGIN
    INSERT INTO entries_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS entries_ad AFTER DELETE ON entries BEGIN
    INSERT INTO entries_fts (entries_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TABLE IF NOT EXISTS vectors (
    entry_id INTEGER PRIMARY KEY,
    video_id TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS vectors_video ON vectors (video_id);
"""

_T = TypeVar("_T")


@dataclass(frozen=True)
class _VectorMatrix:
    """Every stored vector in memory, with what the filters need, for one generation."""

    generation: int
    entry_ids: np.ndarray[Any, np.dtype[np.int64]]
    video_ids: tuple[str, ...]
    kinds: tuple[str, ...]
    starts: np.ndarray[Any, np.dtype[np.float64]]
    ends: np.ndarray[Any, np.dtype[np.float64]]
    matrix: Vectors


class SqliteSearchIndex:
    """The :class:`~videosense_shared.search.SearchIndex` on one SQLite file.

    ``embedder``: the text-embedding model; with it, transcript segments and captions get
    vectors when indexed and ``MatchMode.NATURAL`` queries run (without it they are refused).
    It is only called for those, so a phrase search never loads the model.

    Raises:
        SearchIndexError: the file cannot be opened or is not a search index.
    """

    def __init__(self, path: Path | str, *, embedder: TextEmbedder | None = None) -> None:
        self._path = Path(path)
        self._embedder = embedder
        self._lock = threading.Lock()
        self._vectors: _VectorMatrix | None = None
        try:
            if str(path) != ":memory:":
                self._path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=30.0
            )
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?), ('generation', '0')",
                (SCHEMA_VERSION,),
            )
            schema = self._meta("schema")
        except sqlite3.Error as err:
            raise SearchIndexError(f"cannot open the search index {path}: {err}") from err
        if schema != SCHEMA_VERSION:
            raise SearchIndexError(
                f"{path} holds a search index of schema {schema}, not {SCHEMA_VERSION}"
            )

    @property
    def path(self) -> Path:
        """The index file."""
        return self._path

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    async def _run(self, work: Callable[[], _T]) -> _T:
        def locked() -> _T:
            with self._lock:
                try:
                    return work()
                except sqlite3.Error as err:
                    raise SearchIndexError(f"search index {self._path}: {err}") from err

        return await asyncio.to_thread(locked)

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
        return await self._run(lambda: self._replace(document, entries, embedded, vectors))

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
                db.executemany(
                    "INSERT INTO vectors (entry_id, video_id, vector) VALUES (?, ?, ?)",
                    (
                        (entry_ids[i], document.video_id, vectors[row].tobytes())
                        for row, i in enumerate(embedded)
                    ),
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
        db.execute("DELETE FROM vectors WHERE video_id = ?", (video_id,))
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

    def _filters(self, query: SearchQuery) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if query.kinds != frozenset(EntryKind):
            kinds = sorted(k.value for k in query.kinds)
            # "+" keeps SQLite from reading these columns' indexes first: the FTS match is
            # far more selective than "every entry of this kind" (or of this video), and
            # probing FTS once per row of the video is slower than filtering its matches.
            clauses.append(f"+e.kind IN ({', '.join('?' for _ in kinds)})")
            params += kinds
        if query.video_id is not None:
            clauses.append("+e.video_id = ?")
            params.append(query.video_id)
        if query.start_s is not None:
            # A segment that is still running at start_s is a hit: compare its end.
            clauses.append("coalesce(e.end_s, e.t_s) >= ?")
            params.append(query.start_s)
        if query.end_s is not None:
            clauses.append("e.t_s <= ?")
            params.append(query.end_s)
        return "".join(f" AND {c}" for c in clauses), params

    def _full_text(self, query: SearchQuery) -> SearchResults:
        found, total, exact = self._fts_hits(query, query.limit * _OVERFETCH)
        hits = sorted((hit for _, hit in found), key=lambda h: -h.score)
        return self._results(query, hits[: query.limit], total, exact=exact)

    def _fts_hits(
        self, query: SearchQuery, depth: int
    ) -> tuple[list[tuple[int, SearchHit]], int, bool]:
        """The best ``depth`` full-text hits (with their entry ids), the number of matches and
        whether that number is exact (else a lower bound)."""
        match = match_expression(query)
        filters, params = self._filters(query)
        # Any-word queries: entries holding the words as a phrase come first (PHRASE_BONUS),
        # whatever bm25 says; the phrase set is one more FTS lookup, materialised once.
        words = query_words(query.text)
        any_words = query.mode in (MatchMode.ANY, MatchMode.NATURAL) and len(words) > 1
        phrase_sql = (
            "entries_fts.rowid IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?)"
            if any_words
            else "1"
        )
        phrase_params = [phrase_expression(query)] if any_words else []
        joined = " JOIN entries e ON e.id = entries_fts.rowid" if filters else ""
        where = f"FROM entries_fts{joined} WHERE entries_fts MATCH ?{filters}"
        # Counted up to a bound: a word in a million entries costs a million bm25 scores to
        # rank, far beyond the latency target, so past RANK_LIMIT matches the newest entries
        # stand in for the best (phrase matches first), and the total is a lower bound.
        counted = int(
            self._db.execute(
                f"SELECT count(*) FROM (SELECT 1 {where} LIMIT {RANK_LIMIT + 1})",
                [match, *params],
            ).fetchone()[0]
        )
        exact_total = counted <= RANK_LIMIT
        # Two steps: rank the matches on cheap columns only (SQLite computes a result row for
        # every match before sorting, so a snippet or a join to keyframes here would be paid
        # for all of them), then fetch the details and snippets of the best `depth`.
        select = f"SELECT entries_fts.rowid, bm25(entries_fts), {phrase_sql} AS phrase"
        if exact_total:
            ranked = self._db.execute(
                f"{select} {where} ORDER BY phrase DESC, bm25(entries_fts) LIMIT ?",
                [*phrase_params, match, *params, depth],
            ).fetchall()
        else:
            ranked = []
            if any_words:
                ranked = self._db.execute(
                    f"SELECT entries_fts.rowid, bm25(entries_fts), 1 {where}"
                    " ORDER BY entries_fts.rowid DESC LIMIT ?",
                    [phrase_expression(query), *params, depth],
                ).fetchall()
            ranked += self._db.execute(
                f"{select} {where} ORDER BY entries_fts.rowid DESC LIMIT ?",
                [*phrase_params, match, *params, depth],
            ).fetchall()
        total = counted
        if not ranked:
            return [], total, exact_total
        ranks = {int(row[0]): (float(row[1]), bool(row[2])) for row in ranked}
        marks = ", ".join("?" for _ in ranks)
        rows = self._db.execute(
            "SELECT e.id, e.video_id, e.kind, e.text, e.t_s, e.end_s, e.scene_index, e.speaker,"
            " k.keyframe_id, k.image,"
            f" snippet(entries_fts, 0, '{MARK_START}', '{MARK_END}', '…', 32)"
            " FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid"
            " LEFT JOIN keyframes k ON k.id = e.keyframe"
            f" WHERE entries_fts MATCH ? AND entries_fts.rowid IN ({marks})",
            [match, *ranks],
        ).fetchall()
        hits = []
        for row in rows:
            bm25, phrase = ranks[int(row[0])]
            # bm25() is lower for better matches; scores are higher-is-better.
            score = final_score(-bm25, row[3], query.text, phrase=phrase)
            hits.append((int(row[0]), _hit(row, snippet=marked_html(row[10]), score=score)))
        return hits, total, exact_total

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

    async def _hybrid(self, query: SearchQuery) -> SearchResults:
        embedder = self._embedder
        if embedder is None:
            raise SearchIndexError(
                "natural-language search needs the text-embedding model: the index was opened "
                "without one (VIDEOSENSE_SEARCH_EMBEDDINGS)"
            )
        query_vector = (await asyncio.to_thread(embedder.embed, [query.text]))[0]
        return await self._run(lambda: self._fuse(query, query_vector))

    def _fuse(self, query: SearchQuery, query_vector: Vectors) -> SearchResults:
        # The full-text half ranks by its own score (phrase bonus, bm25): best first.
        text_hits, _, _ = self._fts_hits(query, HYBRID_DEPTH)
        text_hits.sort(key=lambda found: -found[1].score)
        by_id = dict(text_hits)
        text_ranking = [entry_id for entry_id, _ in text_hits]
        vector_ranking = self._nearest(query, query_vector, HYBRID_DEPTH)
        fused = rrf_scores([text_ranking, vector_ranking])
        missing = [i for i in vector_ranking if i not in by_id]
        words = query_words(query.text)
        for row in self._entries_by_id(missing):
            by_id[int(row[0])] = _hit(row, snippet=mark_words(row[3], words), score=0.0)
        hits = [
            by_id[entry_id].model_copy(update={"score": score})
            for entry_id, score in fused.items()
            if entry_id in by_id
        ]
        hits.sort(key=lambda h: -h.score)
        return self._results(query, hits[: query.limit], len(fused))

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

    def _matrix(self) -> _VectorMatrix:
        generation = int(self._meta("generation") or 0)
        if self._vectors is not None and self._vectors.generation == generation:
            return self._vectors
        rows = self._db.execute(
            "SELECT v.entry_id, v.video_id, e.kind, e.t_s, coalesce(e.end_s, e.t_s), v.vector"
            " FROM vectors v JOIN entries e ON e.id = v.entry_id ORDER BY v.entry_id"
        ).fetchall()
        dims = self._embedder.dimensions if self._embedder else 0
        matrix = (
            np.frombuffer(b"".join(r[5] for r in rows), dtype=np.float32).reshape(-1, dims)
            if rows
            else np.zeros((0, dims), dtype=np.float32)
        )
        self._vectors = _VectorMatrix(
            generation=generation,
            entry_ids=np.array([r[0] for r in rows], dtype=np.int64),
            video_ids=tuple(r[1] for r in rows),
            kinds=tuple(r[2] for r in rows),
            starts=np.array([r[3] for r in rows], dtype=np.float64),
            ends=np.array([r[4] for r in rows], dtype=np.float64),
            matrix=matrix,
        )
        return self._vectors

    def _nearest(self, query: SearchQuery, query_vector: Vectors, depth: int) -> list[int]:
        vectors = self._matrix()
        if not len(vectors.entry_ids):
            return []
        keep = np.ones(len(vectors.entry_ids), dtype=bool)
        if query.kinds != frozenset(EntryKind):
            wanted = {k.value for k in query.kinds}
            keep &= np.array([k in wanted for k in vectors.kinds], dtype=bool)
        if query.video_id is not None:
            keep &= np.array([v == query.video_id for v in vectors.video_ids], dtype=bool)
        if query.start_s is not None:
            keep &= vectors.ends >= query.start_s
        if query.end_s is not None:
            keep &= vectors.starts <= query.end_s
        candidates = np.flatnonzero(keep)
        if not len(candidates):
            return []
        similarity = vectors.matrix[candidates] @ query_vector
        top = min(depth, len(candidates))
        best = np.argpartition(-similarity, top - 1)[:top]
        best = best[np.argsort(-similarity[best])]
        return [int(vectors.entry_ids[candidates[i]]) for i in best]

    async def close(self) -> None:
        """Close the file."""
        await asyncio.to_thread(self._db.close)


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

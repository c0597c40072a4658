"""The vectors of the embedded search index: int8 rows in SQLite, grouped in inverted lists.

Tables (``search/sqlite_schema.py``, layout 3):

- ``vectors``: one row per embedded entry (transcript segment, caption): its list, entry id,
  kind, times and code (:mod:`videosense_shared.search.vector_codes`: 388 bytes). Keyed by
  (list, entry) without a rowid, so a list's rows are contiguous in the file and a query reads
  a few runs of pages; an index on the entry id serves deletes and the video filter;
- ``vector_lists``: the centroids of the lists (:mod:`videosense_shared.search.vector_lists`);
- ``meta``: ``vector_count`` (kept by every write), ``vector_lists_trained`` (how many vectors
  the lists were trained on) and ``vector_lists_version``.

Until the library holds ``TRAIN_MIN`` vectors there are no lists (list -1) and a query reads
every vector, block by block: exact, and fast at that size. Past it, the writer trains lists
(and again whenever the library has doubled since), and a new vector goes into its nearest
list as it is written. A query then reads the lists of its nearest centroids, about
``PROBE_VECTORS`` vectors, whatever the size of the library; memory is one block of rows at a
time, never the whole matrix. A query for one video reads that video's vectors only, exactly.

Training reads the vectors and assigns them outside the write lock (in a read snapshot), then
rewrites the table in one short write transaction; if a write came in between, it gives up
and the next write tries again.
"""

from __future__ import annotations

import heapq
import logging
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from videosense_shared.search import vector_codes, vector_lists
from videosense_shared.search.embeddings import Vectors

_log = logging.getLogger(__name__)

#: Below this many vectors, no lists: every query reads them all (exact).
TRAIN_MIN = 20_000
#: The lists are trained again when the library has grown by this factor since.
RETRAIN_GROWTH = 2.0
#: About how many vectors an approximate query reads (its nearest lists, whole).
PROBE_VECTORS = 16_000
#: At least this many lists are read, however large they are.
MIN_PROBE = 4
#: Rows read per block by an exact scan.
_SCAN_BLOCK = 16_384
#: No list yet (the library is below ``TRAIN_MIN``, or the lists are being trained).
UNASSIGNED = -1

VECTOR_TABLES = (
    """CREATE TABLE IF NOT EXISTS vectors (
        list_id INTEGER NOT NULL,
        entry_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        t_s REAL NOT NULL,
        end_s REAL NOT NULL,
        code BLOB NOT NULL,
        PRIMARY KEY (list_id, entry_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS vectors_entry ON vectors (entry_id)",
    """CREATE TABLE IF NOT EXISTS vector_lists (
        list_id INTEGER PRIMARY KEY,
        centroid BLOB NOT NULL
    )""",
)


@dataclass(frozen=True)
class VectorRow:
    """What is stored beside a vector for the query filters."""

    entry_id: int
    kind: str
    t_s: float
    end_s: float


@dataclass(frozen=True)
class VectorFilter:
    """Which vectors a query may return: kinds (``None``: all), an entry id range (one video's
    entries) and a time range (rows still running at ``start_s`` count)."""

    kinds: frozenset[str] | None = None
    low: int | None = None
    high: int | None = None
    start_s: float | None = None
    end_s: float | None = None

    def sql(self) -> tuple[list[str], list[Any]]:
        """The conditions on ``vectors`` and their parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.kinds is not None:
            clauses.append(f"kind IN ({', '.join('?' for _ in self.kinds)})")
            params += sorted(self.kinds)
        if self.low is not None and self.high is not None:
            clauses.append("entry_id BETWEEN ? AND ?")
            params += [self.low, self.high]
        if self.start_s is not None:
            clauses.append("end_s >= ?")
            params.append(self.start_s)
        if self.end_s is not None:
            clauses.append("t_s <= ?")
            params.append(self.end_s)
        return clauses, params


@dataclass(frozen=True)
class _Lists:
    """The centroids as last read, for one ``vector_lists_version``."""

    version: str
    centroids: Vectors


class VectorStore:
    """Writes and searches the vectors on a connection its owner serialises (one thread at a
    time); writes join the owner's open transaction.

    Args:
        db: the index's connection (autocommit mode: the owner opens transactions).
        dimensions: the length of every vector.
    """

    def __init__(self, db: sqlite3.Connection, dimensions: int) -> None:
        self._db = db
        self._dimensions = dimensions
        self._lists: _Lists | None = None

    # -- bookkeeping ------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _count_by(self, delta: int) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('vector_count', ?) ON CONFLICT (key) DO"
            " UPDATE SET value = CAST(value AS INTEGER) + ?",
            (max(0, delta), delta),
        )

    def count(self) -> int:
        """How many vectors the index holds."""
        return int(self._meta("vector_count") or 0)

    def centroids(self) -> Vectors | None:
        """The lists' centroids (cached until the lists change), or ``None`` before any."""
        version = self._meta("vector_lists_version") or "0"
        if self._lists is None or self._lists.version != version:
            blobs = [
                row[0]
                for row in self._db.execute("SELECT centroid FROM vector_lists ORDER BY list_id")
            ]
            centroids = (
                np.frombuffer(b"".join(blobs), dtype="<f4")
                .reshape(-1, self._dimensions)
                .astype(np.float32)
            )
            self._lists = _Lists(version, centroids)
        return self._lists.centroids if len(self._lists.centroids) else None

    # -- writing (inside the owner's transaction) ------------------------------------------

    def add(self, rows: Sequence[VectorRow], vectors: Vectors) -> None:
        """Store the vectors of ``rows``, each in its nearest list (if there are lists)."""
        if not rows:
            return
        centroids = self.centroids()
        lists: Iterable[int] = (
            vector_lists.nearest_list(vectors, centroids).tolist()
            if centroids is not None
            else [UNASSIGNED] * len(rows)
        )
        self._db.executemany(
            "INSERT INTO vectors (list_id, entry_id, kind, t_s, end_s, code)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                (list_id, row.entry_id, row.kind, row.t_s, row.end_s, code)
                for list_id, row, code in zip(
                    lists, rows, vector_codes.encode(vectors), strict=True
                )
            ),
        )
        self._count_by(len(rows))

    def delete_entries(self, low: int, high: int) -> None:
        """Remove the vectors of the entries ``low..high`` (one video's)."""
        removed = self._db.execute(
            "DELETE FROM vectors WHERE entry_id BETWEEN ? AND ?", (low, high)
        ).rowcount
        if removed > 0:
            self._count_by(-removed)

    # -- searching --------------------------------------------------------------------------

    def nearest(
        self,
        query: Vectors,
        depth: int,
        where: VectorFilter,
        *,
        exact: bool = False,
        probe_vectors: int | None = None,
    ) -> list[int]:
        """The entry ids of the ``depth`` stored vectors most similar to ``query``, best
        first: from the nearest lists holding about ``probe_vectors`` vectors (default
        ``PROBE_VECTORS``; more: better recall, slower) unless ``exact``, there are no lists
        yet, or the filter is one video's entries (few: read them all)."""
        clauses, params = where.sql()
        centroids = None if exact or where.low is not None else self.centroids()
        if centroids is not None:
            probe = self._probe(query, centroids, probe_vectors or PROBE_VECTORS)
            lists = ", ".join("?" for _ in probe)
            clauses = [f"list_id IN ({UNASSIGNED}, {lists})", *clauses]
            params = [*probe, *params]
        sql = "SELECT entry_id, code FROM vectors"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        cursor = self._db.execute(sql, params)
        best: list[tuple[float, int]] = []  # a min-heap of the best `depth`
        while rows := cursor.fetchmany(_SCAN_BLOCK):
            scores = vector_codes.similarities([r[1] for r in rows], query, self._dimensions)
            top = min(depth, len(rows))
            picked = np.argpartition(-scores, top - 1)[:top]
            for i in picked.tolist():
                item = (float(scores[i]), int(rows[i][0]))
                if len(best) < depth:
                    heapq.heappush(best, item)
                elif item > best[0]:
                    heapq.heapreplace(best, item)
        return [entry_id for _, entry_id in sorted(best, reverse=True)]

    def _probe(self, query: Vectors, centroids: Vectors, vectors: int) -> list[int]:
        """The lists to read: the nearest ones, as many as hold about ``vectors``."""
        per_list = max(1.0, self.count() / len(centroids))
        wanted = min(len(centroids), max(MIN_PROBE, round(vectors / per_list)))
        closeness = centroids @ query
        nearest = np.argpartition(-closeness, wanted - 1)[:wanted]
        return sorted(int(i) for i in nearest)

    # -- training the lists -----------------------------------------------------------------

    def _blocks(self, sql: str) -> Iterable[list[Any]]:
        cursor = self._db.execute(sql)
        while rows := cursor.fetchmany(_SCAN_BLOCK):
            yield rows

    def needs_training(self) -> bool:
        """Whether the library has reached ``TRAIN_MIN`` vectors without lists, or grown by
        ``RETRAIN_GROWTH`` since they were trained."""
        count = self.count()
        trained = int(self._meta("vector_lists_trained") or 0)
        return count >= TRAIN_MIN and count >= RETRAIN_GROWTH * trained

    def train(self) -> bool:
        """Train the lists on the stored vectors and put every vector in its nearest list.

        Runs outside any transaction of the owner's (it opens its own).

        Returns:
            Whether the new lists were written (``False``: a write came in meanwhile).

        Raises:
            sqlite3.Error: SQLite failed.
        """
        db = self._db
        started = time.perf_counter()
        # One read snapshot for both passes: the rows, the count and the generation agree.
        # Rows are read a block at a time (never the whole table in memory).
        db.execute("BEGIN")
        try:
            writes = self._meta("generation")
            count = self.count()
            if count < TRAIN_MIN:
                return False
            lists = vector_lists.list_count(count)
            rng = np.random.default_rng(count)
            share = min(1.0, lists * vector_lists.SAMPLE_PER_LIST / count)
            parts = []
            for blobs in self._blocks("SELECT code FROM vectors"):
                keep = np.flatnonzero(rng.random(len(blobs)) < share)
                parts.append(vector_codes.vectors([blobs[i][0] for i in keep], self._dimensions))
            sample = np.concatenate(parts)
            if len(sample) < lists:
                return False
            centroids = vector_lists.train(sample, lists)
            del sample, parts
            id_parts, label_parts = [], []
            for rows in self._blocks("SELECT entry_id, code FROM vectors"):
                block = vector_codes.vectors([r[1] for r in rows], self._dimensions)
                id_parts.append(np.array([r[0] for r in rows], dtype=np.int64))
                label_parts.append(vector_lists.nearest_list(block, centroids))
        finally:
            db.execute("COMMIT")
        entry_ids = np.concatenate(id_parts)
        labels = np.concatenate(label_parts)
        db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS vector_assignment (entry_id INTEGER PRIMARY"
            " KEY, list_id INTEGER NOT NULL)"
        )
        # One transaction for the temporary table (a statement's own would commit per row). It
        # writes the connection's temporary database only: no lock on the index file.
        db.execute("BEGIN")
        try:
            db.execute("DELETE FROM temp.vector_assignment")
            db.executemany(
                "INSERT INTO temp.vector_assignment (entry_id, list_id) VALUES (?, ?)",
                zip(entry_ids.tolist(), labels.tolist(), strict=True),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("BEGIN IMMEDIATE")
        try:
            if self._meta("generation") != writes:
                db.execute("ROLLBACK")
                _log.info("search index: vectors changed while training the lists; later")
                return False
            db.execute("DROP TABLE IF EXISTS vectors_trained")
            db.execute(VECTOR_TABLES[0].replace("EXISTS vectors", "EXISTS vectors_trained"))
            db.execute(
                "INSERT INTO vectors_trained (list_id, entry_id, kind, t_s, end_s, code)"
                " SELECT a.list_id, v.entry_id, v.kind, v.t_s, v.end_s, v.code"
                " FROM vectors v JOIN temp.vector_assignment a ON a.entry_id = v.entry_id"
                " ORDER BY a.list_id, v.entry_id"
            )
            db.execute("DROP TABLE vectors")
            db.execute("ALTER TABLE vectors_trained RENAME TO vectors")
            db.execute(VECTOR_TABLES[1])
            db.execute("DELETE FROM vector_lists")
            db.executemany(
                "INSERT INTO vector_lists (list_id, centroid) VALUES (?, ?)",
                ((i, c.astype("<f4").tobytes()) for i, c in enumerate(centroids)),
            )
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('vector_lists_trained', ?)",
                (str(len(entry_ids)),),
            )
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('vector_lists_version', '1') ON CONFLICT"
                " (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )
            db.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.execute("DELETE FROM temp.vector_assignment")
        _log.info(
            "search index: %d vector lists trained on %d vectors in %.1f s",
            lists,
            len(entry_ids),
            time.perf_counter() - started,
        )
        return True

"""The vectors of the embedded search index: int8 records in chunk blobs, grouped in inverted
lists.

Tables (``search/sqlite_schema.py``, layout 4):

- ``vector_chunks`` and ``vector_entries``: a list's vectors of one kind (transcript segment,
  caption) in blobs of up to ``CHUNK_VECTORS`` records, and the chunk of each entry
  (:mod:`videosense_shared.search.vector_chunks`: how appends, removals and training keep
  them correct);
- ``vector_lists``: the centroids of the lists (:mod:`videosense_shared.search.vector_lists`);
- ``meta``: ``vector_count`` (kept by every write), ``vector_lists_trained`` (how many vectors
  the lists were trained on) and ``vector_lists_version``.

Until the library holds ``TRAIN_MIN`` vectors there are no lists (list -1) and a query reads
every vector, chunk by chunk: exact, and fast at that size. Past it, the writer trains lists
(and again whenever the library has doubled since), and a new vector goes into its nearest
list as it is written. A query then reads the lists of its nearest centroids, about
``PROBE_VECTORS`` vectors, whatever the size of the library: a few chunk rows per list, each
scored with one numpy product; memory is a few chunks at a time, never the whole matrix. A
query for one video reads the chunks holding that video's vectors only, exactly.

Training reads the vectors and assigns them outside the write lock (in a read snapshot,
staging them by list in a temporary table), then rewrites the chunks in one write
transaction; if a write came in between, it gives up and the next write tries again.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from videosense_shared.search import vector_codes, vector_lists
from videosense_shared.search.embeddings import Vectors
from videosense_shared.search.vector_chunks import CHUNK_TABLES, ChunkStore
from videosense_shared.search.vector_codes import Records

_log = logging.getLogger(__name__)

#: Below this many vectors, no lists: every query reads them all (exact).
TRAIN_MIN = 20_000
#: The lists are trained again when the library has grown by this factor since.
RETRAIN_GROWTH = 2.0
#: About how many vectors an approximate query reads (its nearest lists, whole).
PROBE_VECTORS = 16_000
#: At least this many lists are read, however large they are.
MIN_PROBE = 4
#: Scored candidates kept before cutting them down to the best (bounds an exact scan's memory).
_CANDIDATES = 65_536
#: No list yet (the library is below ``TRAIN_MIN``, or the lists are being trained).
UNASSIGNED = -1

VECTOR_TABLES = (
    *CHUNK_TABLES,
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

    def chunk_sql(self) -> tuple[list[str], list[Any]]:
        """The conditions on ``vector_chunks`` (the kind: a chunk holds one) and their
        parameters."""
        if self.kinds is None:
            return [], []
        return [f"kind IN ({', '.join('?' for _ in self.kinds)})"], sorted(self.kinds)

    def mask(self, rows: Records) -> npt.NDArray[np.bool_] | None:
        """Which of a chunk's records pass the entry range and time range (``None``: all)."""
        keep: npt.NDArray[np.bool_] | None = None
        conditions = []
        if self.low is not None and self.high is not None:
            ids = rows["entry_id"]
            conditions.append((ids >= self.low) & (ids <= self.high))
        if self.start_s is not None:
            conditions.append(rows["end_s"] >= self.start_s)
        if self.end_s is not None:
            conditions.append(rows["t_s"] <= self.end_s)
        for condition in conditions:
            keep = condition if keep is None else keep & condition
        return keep


@dataclass(frozen=True)
class _Lists:
    """The centroids as last read, for one ``vector_lists_version``."""

    version: str
    centroids: Vectors


class _Best:
    """The ``depth`` best-scored entry ids seen, in bounded memory."""

    def __init__(self, depth: int) -> None:
        self._depth = depth
        self._scores: list[Vectors] = []
        self._ids: list[npt.NDArray[np.int64]] = []
        self._held = 0

    def add(self, scores: Vectors, ids: npt.NDArray[np.int64]) -> None:
        self._scores.append(scores)
        self._ids.append(ids)
        self._held += len(ids)
        if self._held > _CANDIDATES:
            self._cut()

    def _cut(self) -> None:
        scores = np.concatenate(self._scores) if self._scores else np.zeros(0, np.float32)
        ids = np.concatenate(self._ids) if self._ids else np.zeros(0, np.int64)
        if len(scores) > self._depth:
            # Only the candidates scoring at least the depth-th best are sorted (all of those
            # tied with it too, so the order below decides ties, not the partition).
            bar = np.partition(scores, len(scores) - self._depth)[len(scores) - self._depth]
            keep = scores >= bar
            scores, ids = scores[keep], ids[keep]
        # Best score first; equal scores: the newest entry first (a stable, total order, so
        # the lists and an exact scan agree on ties).
        order = np.lexsort((-ids, -scores))[: self._depth]
        self._scores, self._ids = [scores[order]], [ids[order]]
        self._held = len(order)

    def ids(self) -> list[int]:
        """The best entry ids, best first."""
        self._cut()
        return [int(i) for i in self._ids[0]]


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
        self._chunks = ChunkStore(db, dimensions)
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
        lists = (
            vector_lists.nearest_list(vectors, centroids)
            if centroids is not None
            else np.full(len(rows), UNASSIGNED, dtype=np.int64)
        )
        records = vector_codes.records(
            [row.entry_id for row in rows],
            [row.t_s for row in rows],
            [row.end_s for row in rows],
            vectors,
        )
        kinds = np.array([row.kind for row in rows])
        # One append per list and kind the video's vectors fall in (a video about one subject
        # lands in few lists).
        for kind in sorted(set(kinds.tolist())):
            of_kind = kinds == kind
            for list_id in np.unique(lists[of_kind]).tolist():
                self._chunks.append(int(list_id), kind, records[of_kind & (lists == list_id)])
        self._count_by(len(rows))

    def delete_entries(self, low: int, high: int) -> None:
        """Remove the vectors of the entries ``low..high`` (one video's)."""
        removed = self._chunks.delete_entries(low, high)
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
        first (equal scores: the newest entry first): from the nearest lists holding about
        ``probe_vectors`` vectors (default ``PROBE_VECTORS``; more: better recall, slower)
        unless ``exact``, there are no lists yet, or the filter is one video's entries (few:
        read them all)."""
        clauses, params = where.chunk_sql()
        if where.low is not None and where.high is not None:
            chunk_ids = self._chunks.chunks_of(where.low, where.high)
            if not chunk_ids:
                return []
            clauses.append(f"chunk_id IN ({', '.join('?' for _ in chunk_ids)})")
            params += chunk_ids
        else:
            centroids = None if exact else self.centroids()
            if centroids is not None:
                probe = self._probe(query, centroids, probe_vectors or PROBE_VECTORS)
                clauses.append(f"list_id IN ({UNASSIGNED}, {', '.join('?' for _ in probe)})")
                params += probe
        best = _Best(depth)
        for _, rows in self._chunks.read(" AND ".join(clauses), params):
            keep = where.mask(rows)
            if keep is not None:
                rows = rows[keep]
            if len(rows):
                best.add(vector_codes.record_similarities(rows, query), rows["entry_id"])
        return best.ids()

    def _probe(self, query: Vectors, centroids: Vectors, vectors: int) -> list[int]:
        """The lists to read: the nearest ones, as many as hold about ``vectors``."""
        per_list = max(1.0, self.count() / len(centroids))
        wanted = min(len(centroids), max(MIN_PROBE, round(vectors / per_list)))
        closeness = centroids @ query
        nearest = np.argpartition(-closeness, wanted - 1)[:wanted]
        return sorted(int(i) for i in nearest)

    # -- training the lists -----------------------------------------------------------------

    def needs_training(self) -> bool:
        """Whether the library has reached ``TRAIN_MIN`` vectors without lists, or grown by
        ``RETRAIN_GROWTH`` since they were trained."""
        count = self.count()
        trained = int(self._meta("vector_lists_trained") or 0)
        return count >= TRAIN_MIN and count >= RETRAIN_GROWTH * trained

    def _sample(self, count: int, lists: int) -> Vectors:
        """About ``SAMPLE_PER_LIST`` stored vectors per list, drawn at random."""
        rng = np.random.default_rng(count)
        share = min(1.0, lists * vector_lists.SAMPLE_PER_LIST / count)
        parts = [np.zeros((0, self._dimensions), np.float32)]
        for _, rows in self._chunks.read():
            keep = rng.random(len(rows)) < share
            parts.append(vector_codes.record_vectors(rows[keep]))
        return np.concatenate(parts)

    def _stage(self, centroids: Vectors) -> int:
        """Every stored vector's records into ``temp.vector_staging``, by its nearest list.

        Returns:
            How many vectors were staged.
        """
        db = self._db
        staged = 0
        for kind, rows in self._chunks.read():
            labels = vector_lists.nearest_list(vector_codes.record_vectors(rows), centroids)
            db.executemany(
                "INSERT INTO temp.vector_staging (list_id, kind, records) VALUES (?, ?, ?)",
                (
                    (list_id, kind, rows[labels == list_id].tobytes())
                    for list_id in np.unique(labels).tolist()
                ),
            )
            staged += len(rows)
        return staged

    def _staged(self) -> Iterator[tuple[int, str, Records]]:
        """The staged records of each list and kind, in list order."""
        cursor = self._db.execute(
            "SELECT list_id, kind, records FROM temp.vector_staging ORDER BY list_id, kind"
        )
        group: tuple[int, str] | None = None
        parts: list[Records] = []
        for list_id, kind, blob in cursor:
            if group is not None and group != (list_id, kind):
                yield (*group, np.concatenate(parts))
                parts = []
            group = (int(list_id), str(kind))
            parts.append(np.frombuffer(blob, dtype=self._chunks.dtype))
        if group is not None:
            yield (*group, np.concatenate(parts))

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
        db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS vector_staging (list_id INTEGER NOT NULL,"
            " kind TEXT NOT NULL, records BLOB NOT NULL)"
        )
        db.execute(
            "CREATE INDEX IF NOT EXISTS temp.vector_staging_list ON vector_staging (list_id, kind)"
        )
        # One read snapshot for both passes: the rows, the count and the generation agree.
        # Chunks are read a few at a time (never the whole library in memory); the staging
        # table is in the connection's temporary database: no lock on the index file.
        db.execute("BEGIN")
        try:
            db.execute("DELETE FROM temp.vector_staging")
            writes = self._meta("generation")
            count = self.count()
            if count < TRAIN_MIN:
                db.execute("COMMIT")
                return False
            lists = vector_lists.list_count(count)
            sample = self._sample(count, lists)
            if len(sample) < lists:
                db.execute("COMMIT")
                return False
            centroids = vector_lists.train(sample, lists)
            del sample
            staged = self._stage(centroids)
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
            self._chunks.clear()
            for list_id, kind, rows in self._staged():
                self._chunks.insert_packed(list_id, kind, rows)
            db.execute("DELETE FROM vector_lists")
            db.executemany(
                "INSERT INTO vector_lists (list_id, centroid) VALUES (?, ?)",
                ((i, c.astype("<f4").tobytes()) for i, c in enumerate(centroids)),
            )
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('vector_lists_trained', ?)",
                (str(staged),),
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
            db.execute("DELETE FROM temp.vector_staging")
        _log.info(
            "search index: %d vector lists trained on %d vectors in %.1f s",
            lists,
            staged,
            time.perf_counter() - started,
        )
        return True

"""The vectors of the embedded index as chunks: a list's vectors in a few large blobs.

Layout 4 (see ``docs/architecture.md``, "The search index"). A row of ``vector_chunks`` holds
up to ``CHUNK_VECTORS`` vectors of one inverted list and one entry kind as one blob of
records (:func:`~videosense_shared.search.vector_codes.record_dtype`: entry id, times, scale,
int8 codes; 412 bytes at 384 dimensions). A query reads a list with a few row reads and scores
each chunk with one numpy product: SQLite hands over one blob per ~500 vectors instead of one
row per vector (layout 3 spent ~1.5 us per vector in that hand-over alone).

How writes keep it correct and cheap:

- **Appending** fills the list's chunk that has room, in place (SQLite's incremental blob
  I/O: only the pages the new records land on are written), so adding a video does not
  rewrite whole chunks. A chunk is created with room for what is added (a power of two, at
  least ``FIRST_CAPACITY``) and its capacity doubles, by rewriting it, when it is full, up to
  ``CHUNK_VECTORS``; then a new chunk starts. The unused tail of a chunk is zeros, never read
  (``count`` says how many records are in use), and at most half of the one growing chunk of
  each list and kind.
- **Removing** a video's vectors (re-indexing replaces them): ``vector_entries`` maps each
  entry id to its chunk, so the chunks holding the video's entries are found without reading
  any other, and each is rewritten without them (or deleted when empty), in the same
  transaction. Nothing is tombstoned: a removed vector can never come back in a result, and
  no query pays to skip it. Removals are rare (a video re-indexed or deleted), so the cost of
  rewriting a few chunks is paid there, not by every query.
- **Training** the lists rewrites every chunk at once (:meth:`ChunkStore.insert_packed`):
  full chunks of ``CHUNK_VECTORS``, in entry order within each list.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from videosense_shared.search.vector_codes import Records, record_dtype

#: The most vectors a chunk holds (~200 KB at 384 dimensions): a list of ~1,000 vectors is a
#: handful of rows, and a chunk is a good block for the int8-to-float product.
CHUNK_VECTORS = 512
#: The capacity of a new chunk receiving fewer vectors than this.
FIRST_CAPACITY = 16
#: Chunk rows fetched from SQLite at a time when reading many.
_FETCH_ROWS = 64

CHUNK_TABLES = (
    """CREATE TABLE IF NOT EXISTS vector_chunks (
        chunk_id INTEGER PRIMARY KEY,
        list_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        count INTEGER NOT NULL,
        capacity INTEGER NOT NULL,
        records BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS vector_chunks_list ON vector_chunks (list_id, kind)",
    """CREATE TABLE IF NOT EXISTS vector_entries (
        entry_id INTEGER PRIMARY KEY,
        chunk_id INTEGER NOT NULL
    )""",
)


def capacity_for(vectors: int) -> int:
    """The capacity of a chunk to hold ``vectors``: the next power of two, within
    ``FIRST_CAPACITY..CHUNK_VECTORS``."""
    wanted = max(FIRST_CAPACITY, vectors)
    return min(CHUNK_VECTORS, 1 << (wanted - 1).bit_length())


class ChunkStore:
    """Reads and writes ``vector_chunks`` and ``vector_entries`` on a connection its owner
    serialises; writes join the owner's open transaction.

    Args:
        db: the index's connection.
        dimensions: the length of every vector.
    """

    def __init__(self, db: sqlite3.Connection, dimensions: int) -> None:
        self._db = db
        self.dtype = record_dtype(dimensions)

    def _blob(self, rows: Records, capacity: int) -> bytes:
        """``rows`` as a chunk's blob of ``capacity`` records (zeros past them)."""
        padding = (capacity - len(rows)) * self.dtype.itemsize
        return rows.tobytes() + bytes(padding)

    def _decode(self, blob: bytes, count: int) -> Records:
        """The ``count`` records in use in a chunk's blob (a view of it, no copy).

        Raises:
            ValueError: the blob is shorter than ``count`` records.
        """
        if len(blob) < count * self.dtype.itemsize:
            raise ValueError(
                f"a vector chunk holds {len(blob)} bytes, not {count} records of "
                f"{self.dtype.itemsize}: the index is damaged"
            )
        rows: Records = np.frombuffer(blob, dtype=self.dtype, count=count)
        return rows

    # -- writing ------------------------------------------------------------------------------

    def _map(self, chunk_id: int, rows: Records) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO vector_entries (entry_id, chunk_id) VALUES (?, ?)",
            ((entry_id, chunk_id) for entry_id in rows["entry_id"].tolist()),
        )

    def _insert(self, list_id: int, kind: str, rows: Records, capacity: int) -> None:
        cursor = self._db.execute(
            "INSERT INTO vector_chunks (list_id, kind, count, capacity, records)"
            " VALUES (?, ?, ?, ?, ?)",
            (list_id, kind, len(rows), capacity, self._blob(rows, capacity)),
        )
        assert cursor.lastrowid is not None
        self._map(cursor.lastrowid, rows)

    def append(self, list_id: int, kind: str, rows: Records) -> None:
        """Add ``rows`` (records of one kind) to the list ``list_id``."""
        while len(rows):
            found = self._db.execute(
                "SELECT chunk_id, count, capacity FROM vector_chunks WHERE list_id = ? AND"
                " kind = ? AND count < ? ORDER BY chunk_id DESC LIMIT 1",
                (list_id, kind, CHUNK_VECTORS),
            ).fetchone()
            if found is None:
                capacity = capacity_for(len(rows))
                self._insert(list_id, kind, rows[:capacity], capacity)
                rows = rows[capacity:]
                continue
            chunk_id, count, capacity = (int(value) for value in found)
            if count + len(rows) > capacity and capacity < CHUNK_VECTORS:
                # Full below the largest size: rewritten at double the room (or what fits).
                blob = self._db.execute(
                    "SELECT records FROM vector_chunks WHERE chunk_id = ?", (chunk_id,)
                ).fetchone()[0]
                capacity = capacity_for(count + len(rows))
                taken = rows[: capacity - count]
                kept = np.concatenate([self._decode(blob, count), taken])
                self._db.execute(
                    "UPDATE vector_chunks SET count = ?, capacity = ?, records = ?"
                    " WHERE chunk_id = ?",
                    (len(kept), capacity, self._blob(kept, capacity), chunk_id),
                )
            else:
                # Room in place: only the pages the new records land on are written.
                taken = rows[: capacity - count]
                with self._db.blobopen("vector_chunks", "records", chunk_id) as blob_io:
                    blob_io.seek(count * self.dtype.itemsize)
                    blob_io.write(taken.tobytes())
                self._db.execute(
                    "UPDATE vector_chunks SET count = ? WHERE chunk_id = ?",
                    (count + len(taken), chunk_id),
                )
            self._map(chunk_id, taken)
            rows = rows[len(taken) :]

    def delete_entries(self, low: int, high: int) -> int:
        """Remove the vectors of the entries ``low..high``: each chunk holding any is
        rewritten without them (deleted when empty).

        Returns:
            How many vectors were removed.
        """
        db = self._db
        removed = 0
        for chunk_id in self.chunks_of(low, high):
            count, capacity, blob = db.execute(
                "SELECT count, capacity, records FROM vector_chunks WHERE chunk_id = ?",
                (chunk_id,),
            ).fetchone()
            rows = self._decode(blob, int(count))
            ids = rows["entry_id"]
            kept = rows[(ids < low) | (ids > high)]
            removed += len(rows) - len(kept)
            if len(kept):
                db.execute(
                    "UPDATE vector_chunks SET count = ?, records = ? WHERE chunk_id = ?",
                    (len(kept), self._blob(kept, int(capacity)), chunk_id),
                )
            else:
                db.execute("DELETE FROM vector_chunks WHERE chunk_id = ?", (chunk_id,))
        db.execute("DELETE FROM vector_entries WHERE entry_id BETWEEN ? AND ?", (low, high))
        return removed

    def clear(self) -> None:
        """Remove every chunk (before writing them all again)."""
        self._db.execute("DELETE FROM vector_chunks")
        self._db.execute("DELETE FROM vector_entries")

    def insert_packed(self, list_id: int, kind: str, rows: Records) -> None:
        """Write ``rows`` (one list and kind, none stored yet) as full chunks."""
        rows = rows[np.argsort(rows["entry_id"], kind="stable")]
        for start in range(0, len(rows), CHUNK_VECTORS):
            part = rows[start : start + CHUNK_VECTORS]
            self._insert(list_id, kind, part, capacity_for(len(part)))

    # -- reading ------------------------------------------------------------------------------

    def read(self, where: str = "", params: Sequence[Any] = ()) -> Iterator[tuple[str, Records]]:
        """The kind and records in use of each chunk matching ``where`` (SQL on
        ``vector_chunks``), a few rows fetched at a time."""
        sql = "SELECT kind, count, records FROM vector_chunks"
        if where:
            sql += f" WHERE {where}"
        cursor = self._db.execute(sql, list(params))
        while rows := cursor.fetchmany(_FETCH_ROWS):
            for kind, count, blob in rows:
                yield str(kind), self._decode(blob, int(count))

    def chunks_of(self, low: int, high: int) -> list[int]:
        """The chunks holding vectors of the entries ``low..high``."""
        return [
            int(row[0])
            for row in self._db.execute(
                "SELECT DISTINCT chunk_id FROM vector_entries WHERE entry_id BETWEEN ? AND ?",
                (low, high),
            )
        ]

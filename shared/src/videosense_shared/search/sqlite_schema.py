"""The layout of the embedded search index file (SQLite), and the upgrade of older layouts.

Layout 4 (see ``docs/architecture.md``, "The search index"):

- ``videos``: one row per indexed video, whatever its status, so a failed video with no
  entries is listed too;
- ``keyframes``: the keyframe image of keyframe entries (kept once per keyframe, not per entry);
- ``entries``: one row per entry. A video's entries get consecutive ids (they are written in
  one transaction), so "the entries of a video" is a rowid range the full-text index can seek;
- ``fts_<kind>``: one FTS5 index per entry kind (text, label, person, caption, transcript),
  external content on ``entries``, kept in step by triggers; ``unicode61`` words without
  diacritics; prefix indexes for 2 to 5 characters (without its index, a prefix query merges
  the match lists of every word it starts before reading any; past 5 characters a prefix
  starts few words). The kind is where the words are indexed, so a kind filter picks the
  indexes to read, never a row to check per match: a label search for a word that every
  transcript segment holds reads the label index alone;
- ``vector_chunks``, ``vector_entries`` and ``vector_lists``: an int8 vector per transcript
  segment and caption, when an embedder is given, grouped in inverted lists, each list's
  vectors of a kind in blobs of up to 512 (:mod:`videosense_shared.search.vector_chunks`,
  :mod:`videosense_shared.search.vector_store`);
- ``meta``: the layout (``schema``), the embedding model, a generation counter that every
  write bumps, and the vector bookkeeping (``vector_count``, ``vector_lists_*``).

Layout 3 stored one row per vector (``vectors``, keyed by list and entry): a query paid SQLite
~1.5 us per vector to hand the rows over. Opening a layout-3 file packs its rows into chunks,
list by list, keeping the lists and their centroids (one transaction).

Layout 2 stored each vector as 384 float32 in a ``vectors`` table keyed by entry, read whole
into memory by every querying process (1.5 GiB at 10,000 videos): opening a layout-2 file
converts its vectors to layout 3's int8 rows without lists, then as a layout-3 file's (the
writer trains the lists later).

Layout 1 had a single FTS5 index for all kinds: every match of a kind-filtered search was
joined to its row to check the kind. Its ``entries`` table is the same as layout 2's, so
opening a layout-1 file upgrades it in place: the per-kind indexes are built from its entries
(one transaction; minutes for millions of entries) and the old index is dropped; then its
vectors as a layout-2 file's.
"""

from __future__ import annotations

import logging
import sqlite3

import numpy as np

from videosense_shared.search import vector_codes
from videosense_shared.search.query import EntryKind
from videosense_shared.search.vector_chunks import CHUNK_VECTORS, ChunkStore
from videosense_shared.search.vector_codes import Records
from videosense_shared.search.vector_store import VECTOR_TABLES

_log = logging.getLogger(__name__)

SCHEMA_VERSION = "4"
#: Layouts this version upgrades in place.
UPGRADABLE = frozenset({"1", "2", "3"})

#: Layout 3's table of vectors, one row each (what layouts 2 and 3 are converted through).
_LAYOUT_3_VECTORS = """CREATE TABLE vectors (
    list_id INTEGER NOT NULL,
    entry_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    t_s REAL NOT NULL,
    end_s REAL NOT NULL,
    code BLOB NOT NULL,
    PRIMARY KEY (list_id, entry_id)
) WITHOUT ROWID"""

#: The FTS5 index of each entry kind.
FTS_TABLES: dict[EntryKind, str] = {kind: f"fts_{kind.value}" for kind in EntryKind}

_TABLES = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS videos (
        video_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        source_key TEXT NOT NULL,
        duration_s REAL,
        error TEXT,
        completed_at TEXT,
        entries INTEGER NOT NULL,
        indexed_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS videos_completed ON videos (completed_at)",
    """CREATE TABLE IF NOT EXISTS keyframes (
        id INTEGER PRIMARY KEY,
        video_id TEXT NOT NULL,
        keyframe_id TEXT NOT NULL,
        image TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS keyframes_video ON keyframes (video_id)",
    """CREATE TABLE IF NOT EXISTS entries (
        id INTEGER PRIMARY KEY,
        video_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL,
        t_s REAL NOT NULL,
        end_s REAL,
        scene_index INTEGER,
        keyframe INTEGER,
        speaker TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS entries_video ON entries (video_id)",
)


def _fts_statements(kind: EntryKind) -> tuple[str, ...]:
    table = FTS_TABLES[kind]
    # The kind is an enum value written by this module, never user text.
    return (
        f"""CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING fts5 (
            text,
            content = 'entries',
            content_rowid = 'id',
            tokenize = 'unicode61 remove_diacritics 2',
            prefix = '2 3 4 5'
        )""",
        f"""CREATE TRIGGER IF NOT EXISTS {table}_ai AFTER INSERT ON entries
            WHEN new.kind = '{kind.value}' BEGIN
            INSERT INTO {table} (rowid, text) VALUES (new.id, new.text);
        END""",
        f"""CREATE TRIGGER IF NOT EXISTS {table}_ad AFTER DELETE ON entries
            WHEN old.kind = '{kind.value}' BEGIN
            INSERT INTO {table} ({table}, rowid, text) VALUES ('delete', old.id, old.text);
        END""",
    )


def _create(db: sqlite3.Connection) -> None:
    for statement in _TABLES:
        db.execute(statement)
    for statement in VECTOR_TABLES:
        db.execute(statement)
    for kind in EntryKind:
        for statement in _fts_statements(kind):
            db.execute(statement)


def _upgrade_from_1(db: sqlite3.Connection) -> None:
    entries = int(db.execute("SELECT count(*) FROM entries").fetchone()[0])
    _log.warning(
        "search index: upgrading layout 1 to %s (one full-text index per kind) from its "
        "%d entries; this runs once",
        SCHEMA_VERSION,
        entries,
    )
    db.execute("DROP TRIGGER IF EXISTS entries_ai")
    db.execute("DROP TRIGGER IF EXISTS entries_ad")
    db.execute("DROP TABLE IF EXISTS entries_fts")
    for statement in _TABLES:
        db.execute(statement)
    for kind in EntryKind:
        for statement in _fts_statements(kind):
            db.execute(statement)
    for kind, table in FTS_TABLES.items():
        db.execute(
            f"INSERT INTO {table} (rowid, text) SELECT id, text FROM entries WHERE kind = ?",
            (kind.value,),
        )
    _upgrade_from_2(db)


def _upgrade_from_2(db: sqlite3.Connection) -> None:
    """Layout 2's float32 vectors (keyed by entry) become layout 3's int8 rows of no list yet,
    then layout 4's chunks."""
    _log.warning(
        "search index: converting the vectors to layout %s; this runs once", SCHEMA_VERSION
    )
    db.execute("ALTER TABLE vectors RENAME TO vectors_layout2")
    db.execute("DROP INDEX IF EXISTS vectors_video")
    db.execute(_LAYOUT_3_VECTORS)
    cursor = db.execute(
        "SELECT v.entry_id, e.kind, e.t_s, coalesce(e.end_s, e.t_s), v.vector"
        " FROM vectors_layout2 v JOIN entries e ON e.id = v.entry_id"
    )
    converted = 0
    while rows := cursor.fetchmany(4096):
        dims = len(rows[0][4]) // 4
        floats = np.frombuffer(b"".join(r[4] for r in rows), dtype="<f4").reshape(-1, dims)
        db.executemany(
            "INSERT INTO vectors (list_id, entry_id, kind, t_s, end_s, code)"
            " VALUES (-1, ?, ?, ?, ?, ?)",
            ((*row[:4], code) for row, code in zip(rows, vector_codes.encode(floats), strict=True)),
        )
        converted += len(rows)
    db.execute("DROP TABLE vectors_layout2")
    db.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('vector_count', ?)", (str(converted),)
    )
    _upgrade_from_3(db)


def _upgrade_from_3(db: sqlite3.Connection) -> None:
    """Layout 3's rows (one per vector, keyed by list and entry) become chunks of the same
    lists, up to ``CHUNK_VECTORS`` records each; the lists and their centroids stay."""
    _log.warning(
        "search index: packing the vectors into chunks (layout %s); this runs once",
        SCHEMA_VERSION,
    )
    for statement in VECTOR_TABLES:
        db.execute(statement)
    first = db.execute("SELECT length(code) FROM vectors LIMIT 1").fetchone()
    if first is not None:
        chunks = ChunkStore(db, int(first[0]) - 4)
        # In key order (list, then entry), so a list's chunks are written as its rows come and
        # memory holds at most a chunk's worth of rows per kind.
        cursor = db.execute(
            "SELECT list_id, entry_id, kind, t_s, end_s, code FROM vectors"
            " ORDER BY list_id, entry_id"
        )
        pending: dict[tuple[int, str], list[tuple[int, int, str, float, float, bytes]]] = {}

        def flush(key: tuple[int, str]) -> None:
            rows = pending.pop(key)
            codes, scales = vector_codes.decode(
                [row[5] for row in rows], chunks.dtype["code"].shape[0]
            )
            records: Records = vector_codes.pack(
                [row[1] for row in rows],
                [row[3] for row in rows],
                [row[4] for row in rows],
                scales,
                codes,
            )
            chunks.insert_packed(key[0], key[1], records)

        while block := cursor.fetchmany(4096):
            for row in block:
                key = (int(row[0]), str(row[2]))
                if pending and next(iter(pending))[0] != key[0]:
                    for done in list(pending):
                        flush(done)
                pending.setdefault(key, []).append(row)
                if len(pending[key]) == CHUNK_VECTORS:
                    flush(key)
        for done in list(pending):
            flush(done)
    db.execute("DROP TABLE vectors")


def prepare(db: sqlite3.Connection, name: str) -> None:
    """Create the layout in a new file, upgrade an older one in place, or refuse the file.

    One write transaction, so two processes opening the same new (or old) file at once do
    the work once: the second one waits, then finds the current layout.

    Raises:
        sqlite3.Error: SQLite failed (not a database, locked too long...).
        ValueError: the file holds a layout this version neither reads nor upgrades (a newer
            one): its message says how to rebuild the index.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        has_meta = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        row = (
            db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if has_meta
            else None
        )
        found = None if row is None else str(row[0])
        if found is None:
            _create(db)
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?), ('generation', '0')",
                (SCHEMA_VERSION,),
            )
        elif found in UPGRADABLE:
            {"1": _upgrade_from_1, "2": _upgrade_from_2, "3": _upgrade_from_3}[found](db)
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))
            db.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
            )
        elif found != SCHEMA_VERSION:
            raise ValueError(
                f"{name} holds a search index of layout {found}; this version reads layout "
                f"{SCHEMA_VERSION} (and upgrades {', '.join(sorted(UPGRADABLE))}). The index is "
                "derived from the video documents: delete the file (with its -wal and -shm "
                "files) and index the videos again"
            )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise

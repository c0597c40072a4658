"""The layout of the embedded search index file (SQLite), and the upgrade of older layouts.

Layout 3 (see ``docs/architecture.md``, "The search index"):

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
- ``vectors`` and ``vector_lists``: an int8 vector per transcript segment and caption, when
  an embedder is given, grouped in inverted lists (:mod:`videosense_shared.search.vector_store`);
- ``meta``: the layout (``schema``), the embedding model, a generation counter that every
  write bumps, and the vector bookkeeping (``vector_count``, ``vector_lists_*``).

Layout 2 stored each vector as 384 float32 in a ``vectors`` table keyed by entry, read whole
into memory by every querying process (1.5 GiB at 10,000 videos): opening a layout-2 file
converts its vectors to int8 rows without lists (the writer trains the lists later), one
transaction.

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
from videosense_shared.search.vector_store import VECTOR_TABLES

_log = logging.getLogger(__name__)

SCHEMA_VERSION = "3"
#: Layouts this version upgrades in place.
UPGRADABLE = frozenset({"1", "2"})

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
    """Layout 2's float32 vectors (keyed by entry) become int8 rows of no list yet."""
    _log.warning(
        "search index: converting the vectors to layout %s; this runs once", SCHEMA_VERSION
    )
    db.execute("ALTER TABLE vectors RENAME TO vectors_layout2")
    db.execute("DROP INDEX IF EXISTS vectors_video")
    for statement in VECTOR_TABLES:
        db.execute(statement)
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
            (_upgrade_from_1 if found == "1" else _upgrade_from_2)(db)
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

"""The SQLite search index's file layout and bounded work: one full-text index per kind, an
index file of the first layout upgraded in place, a file of an unknown layout refused with
how to rebuild it, and very common words ranked within a bound."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from tests.support.search_documents import document, keyframe, segment
from videosense_shared.search import (
    EntryKind,
    MatchMode,
    SearchQuery,
    SearchResults,
    sqlite_index,
    vector_lists,
    vector_store,
)
from videosense_shared.search.embeddings import MiniLmEmbedder
from videosense_shared.search.protocol import SearchIndexError
from videosense_shared.search.sqlite_index import SqliteSearchIndex
from videosense_shared.search.sqlite_schema import FTS_TABLES, SCHEMA_VERSION
from videosense_shared.search.vector_codes import record_dtype

# The first layout, as it was shipped: one FTS5 index over the entries of every kind.
LAYOUT_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE videos (video_id TEXT PRIMARY KEY, status TEXT NOT NULL, source_key TEXT NOT NULL,
    duration_s REAL, error TEXT, completed_at TEXT, entries INTEGER NOT NULL,
    indexed_at TEXT NOT NULL);
CREATE INDEX videos_completed ON videos (completed_at);
CREATE TABLE keyframes (id INTEGER PRIMARY KEY, video_id TEXT NOT NULL,
    keyframe_id TEXT NOT NULL, image TEXT NOT NULL);
CREATE INDEX keyframes_video ON keyframes (video_id);
CREATE TABLE entries (id INTEGER PRIMARY KEY, video_id TEXT NOT NULL, kind TEXT NOT NULL,
    text TEXT NOT NULL, t_s REAL NOT NULL, end_s REAL, scene_index INTEGER, keyframe INTEGER,
    speaker TEXT);
CREATE INDEX entries_video ON entries (video_id);
CREATE VIRTUAL TABLE entries_fts USING fts5 (text, content = 'entries', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
CREATE TRIGGER entries_ai AFTER INSERT ON entries BEGIN
    INSERT INTO entries_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER entries_ad AFTER DELETE ON entries BEGIN
    INSERT INTO entries_fts (entries_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TABLE vectors (entry_id INTEGER PRIMARY KEY, video_id TEXT NOT NULL,
    vector BLOB NOT NULL);
CREATE INDEX vectors_video ON vectors (video_id);
INSERT INTO meta VALUES ('schema', '1'), ('generation', '3');
INSERT INTO videos VALUES ('old', 'complete', 'uploads/old.mp4', 60.0, NULL,
    '2026-01-01T00:00:00+00:00', 3, '2026-01-01T00:00:00Z');
INSERT INTO keyframes VALUES (1, 'old', 'kf-0',
    '{"bucket": "media", "key": "frames/old/0.jpg", "width": 640, "height": 360}');
INSERT INTO entries VALUES (1, 'old', 'label', 'Car', 0.0, NULL, 0, 1, NULL);
INSERT INTO entries VALUES (2, 'old', 'text', 'Car wash', 0.0, NULL, 0, 1, NULL);
INSERT INTO entries VALUES (3, 'old', 'transcript', 'the car is red', 1.0, 4.0, NULL, NULL,
    'spk_0');
"""


def texts(results: SearchResults) -> list[tuple[str, str]]:
    """(video, text) of every hit, in result order."""
    return [(v.video_id, h.text) for v in results.videos for h in v.hits]


def fts_rows(path: Path) -> dict[str, int]:
    """How many entries each per-kind full-text index holds (read with plain SQLite)."""
    with sqlite3.connect(path) as db:
        return {
            table: int(db.execute(f"SELECT count(*) FROM {table}_docsize").fetchone()[0])
            for table in FTS_TABLES.values()
        }


async def test_each_kind_has_its_own_full_text_index(tmp_path: Path) -> None:
    # GIVEN a video with entries of every kind
    path = tmp_path / "i.sqlite"
    index = SqliteSearchIndex(path)
    await index.index_video(
        document(
            "v1",
            keyframe(0, text=("CAR SALE", "Open"), labels=("Car",), faces=("Ann",), caption="x"),
            segments=(segment(0, 2, "a car"),),
        )
    )

    # THEN each entry is in the index of its kind only
    assert fts_rows(path) == {
        "fts_text": 2,
        "fts_label": 1,
        "fts_person": 1,
        "fts_caption": 1,
        "fts_transcript": 1,
    }
    # AND re-indexing and removing keep them in step (the delete triggers ran per kind)
    await index.index_video(document("v1", keyframe(0, labels=("Bus",))))
    assert sum(fts_rows(path).values()) == 1
    await index.remove_video("v1")
    assert sum(fts_rows(path).values()) == 0
    await index.close()


async def test_a_layout_1_file_is_upgraded_in_place(tmp_path: Path) -> None:
    # GIVEN an index file written by the first layout (one full-text index for all kinds)
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(LAYOUT_1)

    # WHEN this version opens it
    index = SqliteSearchIndex(path)

    # THEN its entries are searchable by kind, from the per-kind indexes, with their keyframes
    labels = await index.search(SearchQuery(text="car", kinds=frozenset({EntryKind.LABEL})))
    assert texts(labels) == [("old", "Car")]
    assert labels.videos[0].hits[0].keyframe_id == "kf-0"
    everything = await index.search(SearchQuery(text="car"))
    assert sorted(h for _, h in texts(everything)) == ["Car", "Car wash", "the car is red"]
    # AND the file now has the current layout, without the old index
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (
            SCHEMA_VERSION,
        )
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert "entries_fts" not in names
    assert "entries_ai" not in names
    # AND new videos go into the new indexes; the old video can be re-indexed
    await index.index_video(document("new", keyframe(0, labels=("Car",))))
    await index.index_video(document("old", keyframe(0, labels=("Bus",))))
    labels = await index.search(SearchQuery(text="car", kinds=frozenset({EntryKind.LABEL})))
    assert texts(labels) == [("new", "Car")]
    await index.close()
    # AND opening it again does not upgrade it twice
    again = SqliteSearchIndex(path)
    assert (await again.search(SearchQuery(text="bus"))).total_hits == 1
    await again.close()


async def test_float32_vectors_of_an_older_layout_become_int8_rows(tmp_path: Path) -> None:
    # GIVEN a layout-1 file (its vectors table is layout 2's: float32 per entry) holding the
    # real model's vector of its transcript segment
    path = tmp_path / "old.sqlite"
    model = MiniLmEmbedder()
    with sqlite3.connect(path) as db:
        db.executescript(LAYOUT_1)
        db.execute(
            "INSERT INTO vectors VALUES (3, 'old', ?)",
            (model.embed(["the car is red"])[0].astype("<f4").tobytes(),),
        )
    # WHEN this version opens it with the model
    index = SqliteSearchIndex(path, embedder=model)
    # THEN the vector is kept, as an int8 record in a chunk of no list yet, and counted
    with sqlite3.connect(path) as db:
        chunks = db.execute("SELECT chunk_id, list_id, kind, count, records FROM vector_chunks")
        [(chunk_id, list_id, kind, count, blob)] = chunks.fetchall()
        assert (list_id, kind, count) == (-1, "transcript", 1)
        stored = np.frombuffer(blob, dtype=record_dtype(384), count=1)
        assert (stored["entry_id"][0], stored["t_s"][0], stored["end_s"][0]) == (3, 1.0, 4.0)
        assert db.execute("SELECT * FROM vector_entries").fetchall() == [(3, chunk_id)]
        assert db.execute("SELECT value FROM meta WHERE key = 'vector_count'").fetchone() == ("1",)
    # AND a question in other words finds the segment through it
    found = await index.nearest(
        SearchQuery(text="a crimson automobile", mode=MatchMode.NATURAL), depth=5
    )
    assert found == [3]
    await index.close()


# Layout 3's vectors, as they were shipped: one row per vector, keyed by list and entry.
LAYOUT_3_VECTORS = """
CREATE TABLE vectors (list_id INTEGER NOT NULL, entry_id INTEGER NOT NULL, kind TEXT NOT NULL,
    t_s REAL NOT NULL, end_s REAL NOT NULL, code BLOB NOT NULL,
    PRIMARY KEY (list_id, entry_id)) WITHOUT ROWID;
CREATE INDEX vectors_entry ON vectors (entry_id);
"""


def as_layout_3(path: Path) -> list[tuple[int, int, str]]:
    """Rewrite a file's vectors as layout 3 stored them (the rest of the file is the same in
    both layouts). Returns (entry, list, kind) of every vector."""
    with sqlite3.connect(path) as db:
        rows = []
        for list_id, kind, count, blob in db.execute(
            "SELECT list_id, kind, count, records FROM vector_chunks"
        ):
            for record in np.frombuffer(blob, dtype=record_dtype(384), count=count):
                code = record["scale"].astype("<f4").tobytes() + record["code"].tobytes()
                rows.append(
                    (list_id, int(record["entry_id"]), kind, record["t_s"], record["end_s"], code)
                )
        db.executescript(LAYOUT_3_VECTORS + "DROP TABLE vector_chunks; DROP TABLE vector_entries;")
        db.executemany("INSERT INTO vectors VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.execute("UPDATE meta SET value = '3' WHERE key = 'schema'")
    return sorted((row[1], row[0], row[2]) for row in rows)


async def test_a_layout_3_file_s_vector_rows_become_chunks_of_the_same_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an index whose writer trained lists (from 6 vectors on, 2 per list), then written
    # back as layout 3 (a row per vector)
    monkeypatch.setattr(vector_store, "TRAIN_MIN", 6)
    monkeypatch.setattr(vector_store, "MIN_PROBE", 2)
    monkeypatch.setattr(vector_lists, "LIST_SIZE", 2)
    path = tmp_path / "v3.sqlite"
    model = MiniLmEmbedder()
    index = SqliteSearchIndex(path, embedder=model, probe_vectors=2)
    said = {
        "space": ("The rocket lifts off the launch pad", "Astronauts float in the station"),
        "food": ("Chop the onions finely", "The soup simmers on the stove"),
        "sport": ("The striker scores a goal", "The crowd cheers in the stadium"),
    }
    for name, lines in said.items():
        await index.index_video(
            document(
                name,
                keyframe(0, caption=f"a picture about {name}"),
                segments=tuple(segment(i, i + 1, line) for i, line in enumerate(lines)),
            )
        )
    questions = ["a football match", "cooking dinner", "going to the moon"]
    before = [
        await index.nearest(SearchQuery(text=q, mode=MatchMode.NATURAL), depth=3) for q in questions
    ]
    await index.close()
    stored = as_layout_3(path)
    assert len(stored) == 9
    assert len({list_id for _, list_id, _ in stored}) > 1

    # WHEN this version opens it
    index = SqliteSearchIndex(path, embedder=model, probe_vectors=2)

    # THEN every vector is in a chunk of its list and kind, the layout-3 table is gone
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (
            SCHEMA_VERSION,
        )
        assert (
            db.execute("SELECT name FROM sqlite_master WHERE name = 'vectors'").fetchone() is None
        )
        packed = []
        for chunk_id, list_id, kind, count, blob in db.execute(
            "SELECT chunk_id, list_id, kind, count, records FROM vector_chunks"
        ):
            for record in np.frombuffer(blob, dtype=record_dtype(384), count=count):
                entry_id = int(record["entry_id"])
                packed.append((entry_id, list_id, kind))
                assert db.execute(
                    "SELECT chunk_id FROM vector_entries WHERE entry_id = ?", (entry_id,)
                ).fetchone() == (chunk_id,)
    assert sorted(packed) == stored
    # AND questions find what they found before, through the same lists
    after = [
        await index.nearest(SearchQuery(text=q, mode=MatchMode.NATURAL), depth=3) for q in questions
    ]
    assert after == before
    # AND a video indexed again replaces its vectors in the chunks
    await index.index_video(document("sport", segments=(segment(0, 1, "A penalty kick"),)))
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT sum(count) FROM vector_chunks").fetchone() == (7,)
        assert db.execute("SELECT value FROM meta WHERE key = 'vector_count'").fetchone() == ("7",)
    await index.close()


async def test_a_file_of_an_unknown_layout_is_refused_with_how_to_rebuild(
    tmp_path: Path,
) -> None:
    # GIVEN an index file of a layout this version does not know (a newer one)
    path = tmp_path / "new.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('schema', '99')")

    # WHEN opening it THEN a clear error names the layouts and says how to rebuild
    with pytest.raises(SearchIndexError, match=r"layout 99.*delete the file.*index the videos"):
        SqliteSearchIndex(path)
    # AND the file was left as it was
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta").fetchall() == [("99",)]


async def test_two_openers_of_a_new_file_both_get_the_layout(tmp_path: Path) -> None:
    first = SqliteSearchIndex(tmp_path / "i.sqlite")
    second = SqliteSearchIndex(tmp_path / "i.sqlite")
    await first.index_video(document("v1", keyframe(0, labels=("Car",))))
    assert (await second.search(SearchQuery(text="car"))).total_hits == 1
    await first.close()
    await second.close()


def common_word_library() -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """Ten videos whose every transcript segment says "car", a few with the label Car."""
    return [
        (f"v{n}", ("Car",) if n % 5 == 0 else ("Bus",), tuple(f"car number {i}" for i in range(6)))
        for n in range(10)
    ]


@pytest.fixture
async def common(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SqliteSearchIndex:
    # A small ranking bound stands in for a word in hundreds of thousands of entries.
    monkeypatch.setattr(sqlite_index, "RANK_LIMIT", 20)
    index = SqliteSearchIndex(tmp_path / "i.sqlite")
    # Indexed first: the oldest entries, the first to fall outside a bounded ranking.
    await index.index_video(
        document(
            "first",
            segments=(segment(0, 1, "the number car"), segment(1, 2, "a zebra crossing")),
        )
    )
    for video_id, labels, said in common_word_library():
        await index.index_video(
            document(
                video_id,
                keyframe(0, labels=labels),
                segments=tuple(segment(i, i + 1, text) for i, text in enumerate(said)),
            )
        )
    await index.index_video(
        document("exact", segments=(segment(0, 1, "car"), segment(1, 2, "blue car number 7")))
    )
    return index


async def test_a_kind_filter_is_not_flooded_by_other_kinds(common: SqliteSearchIndex) -> None:
    # GIVEN "car" in 62 transcript segments, past the ranking bound, and in 2 labels
    # WHEN searching labels THEN both labels are found and counted exactly
    results = await common.search(SearchQuery(text="car", kinds=frozenset({EntryKind.LABEL})))
    assert sorted(texts(results)) == [("v0", "Car"), ("v5", "Car")]
    assert (results.total_hits, results.total_exact) == (2, True)
    await common.close()


async def test_past_the_bound_the_newest_matches_are_ranked_and_the_total_is_a_lower_bound(
    common: SqliteSearchIndex,
) -> None:
    # WHEN searching the transcript for the word in 62 segments (bound 20)
    results = await common.search(
        SearchQuery(text="car", kinds=frozenset({EntryKind.TRANSCRIPT}), limit=5)
    )

    # THEN the total says "at least" the bound, the newest video's exact segment comes first
    assert results.total_exact is False
    assert results.total_hits == 21
    assert results.videos[0].video_id == "exact"
    assert results.videos[0].hits[0].text == "car"
    assert sum(len(v.hits) for v in results.videos) == 5
    await common.close()


async def test_any_word_past_the_bound_still_puts_the_phrase_first(
    common: SqliteSearchIndex,
) -> None:
    # WHEN searching any of "number car": both words are in 60 newer segments ("car number
    # 3"), past the bound, the phrase in the oldest segment only
    results = await common.search(
        SearchQuery(
            text="number car",
            mode=MatchMode.ANY,
            kinds=frozenset({EntryKind.TRANSCRIPT}),
            limit=5,
        )
    )

    # THEN the phrase comes first all the same, both words marked, then the newest others
    first = results.videos[0].hits[0]
    assert (results.videos[0].video_id, first.text) == ("first", "the number car")
    assert first.snippet == "the <mark>number</mark> <mark>car</mark>"
    assert first.score > max(h.score for v in results.videos[1:] for h in v.hits) + 500
    assert results.total_exact is False
    await common.close()


async def test_a_rare_word_is_found_beside_a_word_past_the_bound(
    common: SqliteSearchIndex,
) -> None:
    # WHEN searching any of "car zebra": "car" in 62 segments (past the bound of 20, its
    # newest matches stand in for it), "zebra" in the oldest segment only
    results = await common.search(
        SearchQuery(
            text="car zebra",
            mode=MatchMode.ANY,
            kinds=frozenset({EntryKind.TRANSCRIPT}),
            limit=5,
        )
    )

    # THEN the zebra segment is found, first (bm25 ranks the rare word; the common one's
    # matches are unranked), then the newest "car" segments
    assert texts(results)[0] == ("first", "a zebra crossing")
    assert results.videos[1].video_id == "exact"
    assert results.total_exact is False
    await common.close()


async def test_the_video_filter_finds_a_common_word_in_that_video_only(
    common: SqliteSearchIndex,
) -> None:
    # WHEN searching the word every video says, in one video THEN its six segments, exactly
    results = await common.search(SearchQuery(text="car", video_id="v3", limit=50))
    assert {v.video_id for v in results.videos} == {"v3"}
    assert (results.total_hits, results.total_exact) == (6, True)
    # AND an unknown video finds nothing
    unknown = await common.search(SearchQuery(text="car", video_id="nope"))
    assert (unknown.videos, unknown.total_hits) == ((), 0)
    await common.close()


async def test_a_time_filter_on_a_word_past_the_bound_looks_at_its_newest_matches(
    common: SqliteSearchIndex,
) -> None:
    # WHEN searching the word of 62 segments (bound 20) from 5 s on: two segments of each
    # video overlap it, twenty in all, the oldest videos' among them
    results = await common.search(
        SearchQuery(text="car", kinds=frozenset({EntryKind.TRANSCRIPT}), start_s=5.0, limit=6)
    )

    # THEN only the newest 21 matches (the bound + 1) were looked at: those of "exact", v9, v8
    # and v7, and v6's last; 7 of them in the range: hits from those videos only, and the
    # total says it is a lower bound
    hits = [h for v in results.videos for h in v.hits]
    assert hits
    assert all(h.end_s is not None and h.end_s >= 5.0 for h in hits)
    assert {v.video_id for v in results.videos} <= {"v6", "v7", "v8", "v9"}
    assert (results.total_hits, results.total_exact) == (7, False)
    await common.close()

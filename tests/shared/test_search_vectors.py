"""The vectors of the embedded search index: int8 codes that keep the similarity, an exact
scan while the library is small, inverted lists (IVF) trained by the writer once it is large
and then searched approximately with high recall, filters, re-indexing that replaces a
video's vectors, and the chunks that hold a list's vectors (appended in place, grown, rewritten
without a removed video's vectors). Real SQLite files throughout; the list and chunk sizes are
lowered so that a library of a few thousand vectors (or, with the real model, a few dozen) is
"large"."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from tests.support.search_documents import document, keyframe, segment
from videosense_shared.search import (
    EntryKind,
    MatchMode,
    SearchQuery,
    vector_chunks,
    vector_lists,
    vector_store,
)
from videosense_shared.search.embeddings import MiniLmEmbedder
from videosense_shared.search.settings import SearchSettings
from videosense_shared.search.sqlite_index import SqliteSearchIndex
from videosense_shared.search.sqlite_schema import prepare
from videosense_shared.search.vector_codes import quantize, record_similarities, records
from videosense_shared.search.vector_store import VectorFilter, VectorRow, VectorStore

DIMS = 64


def unit(rows: np.ndarray) -> np.ndarray:
    result: np.ndarray = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    return result


def clustered(count: int, clusters: int, seed: int = 7) -> np.ndarray:
    """Unit vectors around ``clusters`` random directions (as sentence vectors cluster)."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.normal(size=(clusters, DIMS)))
    picks = rng.integers(0, clusters, size=count)
    return unit(centres[picks] + 0.5 * rng.normal(size=(count, DIMS)) / np.sqrt(DIMS))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[VectorStore]:
    db = sqlite3.connect(tmp_path / "v.sqlite", isolation_level=None)
    prepare(db, "v.sqlite")
    yield VectorStore(db, DIMS)
    db.close()


def write(store: VectorStore, rows: list[VectorRow], vectors: np.ndarray) -> None:
    """Add the vectors in one transaction, as the index does (a video's in one)."""
    store._db.execute("BEGIN IMMEDIATE")
    store.add(rows, vectors)
    store._db.execute("COMMIT")


def remove(store: VectorStore, low: int, high: int) -> None:
    """Remove the entries' vectors in one transaction, as the index does."""
    store._db.execute("BEGIN IMMEDIATE")
    store.delete_entries(low, high)
    store._db.execute("COMMIT")


def fill(store: VectorStore, vectors: np.ndarray, first_id: int = 1) -> None:
    rows = [
        VectorRow(first_id + i, "caption" if i % 2 else "transcript", float(i), float(i) + 1)
        for i in range(len(vectors))
    ]
    write(store, rows, vectors)


@pytest.fixture
def small_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lists of ~100 vectors from 1,000 vectors on; a query reads ~500 (5 lists)."""
    monkeypatch.setattr(vector_store, "TRAIN_MIN", 1_000)
    monkeypatch.setattr(vector_store, "PROBE_VECTORS", 500)
    monkeypatch.setattr(vector_lists, "LIST_SIZE", 100)


def test_int8_codes_keep_the_similarity() -> None:
    # GIVEN unit vectors and a query
    rng = np.random.default_rng(1)
    vectors = unit(rng.normal(size=(200, 384)))
    query = unit(rng.normal(size=(1, 384)))[0]
    # WHEN stored as records and compared with the query
    stored = records(list(range(200)), [0.0] * 200, [1.0] * 200, vectors)
    # THEN each is 384 codes + a scale + an id and two times (412 bytes, where float32 codes
    # alone are 1,536) and the similarity is within 0.01
    assert stored.dtype.itemsize == 412
    np.testing.assert_allclose(record_similarities(stored, query), vectors @ query, atol=0.01)


def test_a_small_library_is_searched_exactly(store: VectorStore) -> None:
    # GIVEN fewer vectors than the training size (no lists)
    vectors = clustered(500, 10)
    fill(store, vectors)
    assert store.centroids() is None
    query = vectors[123]
    # WHEN the nearest are asked for
    found = store.nearest(query, 10, VectorFilter())
    # THEN they are the exact ones, the vector itself first
    assert found == store.nearest(query, 10, VectorFilter(), exact=True)
    assert found[0] == 124
    assert set(found) == set((np.argsort(-(vectors @ query))[:10] + 1).tolist())


@pytest.mark.usefixtures("small_lists")
def test_trained_lists_find_what_brute_force_finds(store: VectorStore) -> None:
    # GIVEN a library past the training size, and its lists trained
    vectors = clustered(3_000, 30)
    fill(store, vectors)
    assert store.needs_training()
    assert store.train()
    centroids = store.centroids()
    assert centroids is not None
    assert len(centroids) == 30
    assert not store.needs_training()
    # WHEN 50 queries are answered from the nearest lists and by brute force
    queries = clustered(50, 30, seed=99)
    recall = [
        len(
            set(store.nearest(q, 10, VectorFilter()))
            & set(store.nearest(q, 10, VectorFilter(), exact=True))
        )
        / 10
        for q in queries
    ]
    # THEN the lists find nearly all of the true nearest, reading a few lists only
    assert np.mean(recall) >= 0.9
    assert len(store._probe(queries[0], centroids, vector_store.PROBE_VECTORS)) == 5


@pytest.mark.usefixtures("small_lists")
def test_a_vector_written_after_training_is_found_in_its_list(store: VectorStore) -> None:
    # GIVEN trained lists
    fill(store, clustered(2_000, 20))
    assert store.train()
    # WHEN a new vector is written
    new = clustered(1, 20, seed=5)
    store.add([VectorRow(99_999, "transcript", 0.0, 1.0)], new)
    # THEN it went into a list (none is left unassigned) and is its own nearest neighbour
    unassigned = store._db.execute(
        "SELECT count(*) FROM vector_chunks WHERE list_id = -1"
    ).fetchone()
    assert unassigned == (0,)
    assert store.nearest(new[0], 1, VectorFilter()) == [99_999]


@pytest.mark.usefixtures("small_lists")
def test_filters_hold_in_the_lists(store: VectorStore) -> None:
    # GIVEN trained lists over captions (odd ids) and segments (even ids) at times 0..1999
    vectors = clustered(2_000, 20)
    fill(store, vectors)
    assert store.train()
    query = vectors[10]
    # WHEN filtered by kind / time / entry range
    captions = store.nearest(query, 10, VectorFilter(kinds=frozenset({"caption"})))
    late = store.nearest(query, 10, VectorFilter(start_s=1_000.0))
    ranged = store.nearest(query, 60, VectorFilter(low=100, high=150))
    # THEN only matching vectors come back (the range is read whole: exact)
    assert captions
    assert all(entry_id % 2 == 0 for entry_id in captions)  # row i (odd: caption) is id i + 1
    assert late
    assert all(entry_id >= 1_000 for entry_id in late)  # row i ends at i + 1 = its id
    assert sorted(ranged) == list(range(100, 151))


def test_training_needs_enough_vectors(store: VectorStore) -> None:
    # GIVEN a library below the training size WHEN asked to train THEN nothing is written
    fill(store, clustered(100, 5))
    assert not store.needs_training()
    assert not store.train()
    assert store.centroids() is None


@pytest.fixture(scope="module")
def model() -> MiniLmEmbedder:
    return MiniLmEmbedder()


async def test_reindexing_a_video_replaces_its_vectors(
    tmp_path: Path, model: MiniLmEmbedder
) -> None:
    # GIVEN a video indexed with a segment about the moon
    index = SqliteSearchIndex(tmp_path / "i.sqlite", embedder=model)
    await index.index_video(document("v", segments=(segment(0, 4, "We land on the moon"),)))
    # WHEN it is indexed again, now about soup
    await index.index_video(document("v", segments=(segment(0, 4, "Stir the soup slowly"),)))
    # THEN it has one vector, the new one: a question about space finds no moon any more
    with sqlite3.connect(index.path) as db:
        assert db.execute("SELECT sum(count) FROM vector_chunks").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM vector_entries").fetchone() == (1,)
        assert db.execute("SELECT value FROM meta WHERE key = 'vector_count'").fetchone() == ("1",)
    results = await index.search(SearchQuery(text="space travel", mode=MatchMode.NATURAL))
    assert [h.text for v in results.videos for h in v.hits] == ["Stir the soup slowly"]
    # AND removing the video removes its vector
    await index.remove_video("v")
    with sqlite3.connect(index.path) as db:
        assert db.execute("SELECT count(*) FROM vector_chunks").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM vector_entries").fetchone() == (0,)
    await index.close()


async def test_the_writer_trains_the_lists_and_hybrid_search_still_ranks(
    tmp_path: Path, model: MiniLmEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN lists trained from 6 vectors on, of 2 vectors each
    monkeypatch.setattr(vector_store, "TRAIN_MIN", 6)
    monkeypatch.setattr(vector_store, "PROBE_VECTORS", 2)
    monkeypatch.setattr(vector_store, "MIN_PROBE", 2)
    monkeypatch.setattr(vector_lists, "LIST_SIZE", 2)
    index = SqliteSearchIndex(tmp_path / "i.sqlite", embedder=model)
    topics = {
        "space": ("The rocket lifts off the launch pad", "Astronauts float in the station"),
        "food": ("Chop the onions finely", "The soup simmers on the stove"),
        "sport": ("The striker scores a goal", "The crowd cheers in the stadium"),
    }
    # WHEN videos are indexed past the training size
    for name, (first, second) in topics.items():
        await index.index_video(
            document(
                name,
                keyframe(0, caption=f"a picture about {name}"),
                segments=(segment(0, 4, first), segment(4, 8, second)),
            )
        )
    # THEN the writer trained lists and every vector is in one
    with sqlite3.connect(index.path) as db:
        assert db.execute("SELECT count(*) FROM vector_lists").fetchone()[0] >= 2
        assert db.execute("SELECT count(*) FROM vector_chunks WHERE list_id = -1").fetchone() == (
            0,
        )
    # AND a question still finds its segment first, through the lists
    results = await index.search(
        SearchQuery(
            text="a football match", mode=MatchMode.NATURAL, kinds=frozenset({EntryKind.TRANSCRIPT})
        )
    )
    assert results.videos[0].video_id == "sport"
    # AND a video filter reads that video's vectors only
    only = await index.search(
        SearchQuery(text="a football match", mode=MatchMode.NATURAL, video_id="food")
    )
    assert {v.video_id for v in only.videos} == {"food"}
    await index.close()


@pytest.mark.usefixtures("small_lists")
def test_the_probe_size_trades_reading_for_recall(store: VectorStore) -> None:
    # GIVEN trained lists (a query reads ~500 of 3,000 vectors by default)
    vectors = clustered(3_000, 30)
    fill(store, vectors)
    assert store.train()
    centroids = store.centroids()
    assert centroids is not None
    query = clustered(1, 30, seed=3)[0]
    # WHEN a query may read every list / THEN it reads them all and answers exactly
    assert len(store._probe(query, centroids, 3_000)) == 30
    assert store.nearest(query, 10, VectorFilter(), probe_vectors=3_000) == store.nearest(
        query, 10, VectorFilter(), exact=True
    )
    # AND a small probe reads the minimum of lists
    assert len(store._probe(query, centroids, 1)) == vector_store.MIN_PROBE


def test_the_probe_size_is_a_setting() -> None:
    # GIVEN VIDEOSENSE_SEARCH_VECTOR_PROBE WHEN the settings are read THEN it is bounded
    assert SearchSettings(vector_probe=32_000).vector_probe == 32_000
    with pytest.raises(ValidationError):
        SearchSettings(vector_probe=10)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of at most 8 vectors, created with room for 2."""
    monkeypatch.setattr(vector_chunks, "CHUNK_VECTORS", 8)
    monkeypatch.setattr(vector_chunks, "FIRST_CAPACITY", 2)


def chunk_rows(store: VectorStore) -> list[tuple[int, str, int, int]]:
    """(list, kind, vectors in use, capacity) of every chunk, in the order written."""
    return [
        (int(a), str(b), int(c), int(d))
        for a, b, c, d in store._db.execute(
            "SELECT list_id, kind, count, capacity FROM vector_chunks ORDER BY chunk_id"
        )
    ]


def segments(first_id: int, count: int) -> list[VectorRow]:
    return [VectorRow(first_id + i, "transcript", float(i), float(i) + 1) for i in range(count)]


@pytest.mark.usefixtures("small_chunks")
def test_a_list_is_a_few_chunks_filled_in_place_and_grown(store: VectorStore) -> None:
    # GIVEN vectors of one kind added in three writes (3, then 4, then 20)
    vectors = clustered(27, 3)
    write(store, segments(1, 3), vectors[:3])
    # THEN the first write made one chunk with room for 4 (the next power of two)
    assert chunk_rows(store) == [(-1, "transcript", 3, 4)]
    # WHEN 4 more come THEN that chunk doubled, to the largest size
    write(store, segments(4, 4), vectors[3:7])
    assert chunk_rows(store) == [(-1, "transcript", 7, 8)]
    # WHEN 20 more come THEN the chunk is filled in place, and new chunks hold the rest
    write(store, segments(8, 20), vectors[7:])
    assert chunk_rows(store) == [
        (-1, "transcript", 8, 8),
        (-1, "transcript", 8, 8),
        (-1, "transcript", 8, 8),
        (-1, "transcript", 3, 4),
    ]
    # AND every entry is mapped to the chunk holding it, and found as its own nearest
    mapped = store._db.execute("SELECT count(*) FROM vector_entries").fetchone()
    assert mapped == (27,)
    for i in range(27):
        assert store.nearest(vectors[i], 1, VectorFilter()) == [i + 1]
    # AND a caption goes into a chunk of its own kind (a kind filter skips whole chunks)
    write(store, [VectorRow(100, "caption", 0.0, 1.0)], vectors[:1])
    assert chunk_rows(store)[-1] == (-1, "caption", 1, 2)
    assert store.nearest(vectors[0], 5, VectorFilter(kinds=frozenset({"caption"}))) == [100]


@pytest.mark.usefixtures("small_lists", "small_chunks")
def test_a_removed_video_s_vectors_are_never_returned(store: VectorStore) -> None:
    # GIVEN trained lists over 2,000 vectors, in chunks of at most 8
    vectors = clustered(2_000, 20)
    fill(store, vectors)
    assert store.train()
    chunks_before = len(chunk_rows(store))
    # WHEN a video's entries (ids 500..699) are removed
    remove(store, 500, 699)
    # THEN no search returns them, not even for their own vectors
    for i in range(499, 699, 7):
        assert not set(store.nearest(vectors[i], 10, VectorFilter())) & set(range(500, 700))
        assert not set(store.nearest(vectors[i], 10, VectorFilter(), exact=True)) & set(
            range(500, 700)
        )
    assert store.nearest(vectors[600], 10, VectorFilter(low=500, high=699)) == []
    # AND the chunks, the entry map and the count agree: 1,800 vectors, no empty chunk kept
    db = store._db
    assert db.execute("SELECT sum(count), min(count) > 0 FROM vector_chunks").fetchone() == (
        1_800,
        1,
    )
    assert db.execute("SELECT count(*) FROM vector_entries").fetchone() == (1_800,)
    assert store.count() == 1_800
    assert len(chunk_rows(store)) <= chunks_before
    # AND the video indexed again (new ids) is found in its lists
    write(store, segments(5_000, 200), vectors[499:699])
    assert store.nearest(vectors[600], 1, VectorFilter()) == [5_101]
    assert store.count() == 2_000


@pytest.mark.usefixtures("small_lists", "small_chunks")
def test_probing_every_list_is_exactly_brute_force(store: VectorStore) -> None:
    # GIVEN trained lists, then vectors added after training and a video removed
    vectors = clustered(2_500, 25)
    fill(store, vectors[:2_000])
    assert store.train()
    fill(store, vectors[2_000:], first_id=2_001)
    remove(store, 101, 300)
    centroids = store.centroids()
    assert centroids is not None
    kept = np.array([i for i in range(2_500) if not 100 <= i < 300])
    scales, codes = quantize(vectors)
    stored = codes.astype(np.float32) * scales[:, None]
    # WHEN queries read every list
    for query in clustered(20, 25, seed=11):
        everything = store.nearest(query, 10, VectorFilter(), probe_vectors=10**6)
        # THEN the answer is the exact scan's, in the same order, and brute force's over the
        # stored vectors of the library as it now is
        assert everything == store.nearest(query, 10, VectorFilter(), exact=True)
        brute = kept[np.argsort(-(stored[kept] @ query))[:10]] + 1
        assert set(everything) == set(brute.tolist())

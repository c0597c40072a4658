"""Natural-language search on the real packaged model (all-MiniLM-L6-v2 from its wheel):
meaning finds a segment that shares no word with the question, and hybrid ranking keeps it
first; a phrase search never loads the model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.support.search_documents import document, keyframe, segment
from videosense_shared.search import EntryKind, MatchMode, SearchQuery
from videosense_shared.search.embeddings import MiniLmEmbedder
from videosense_shared.search.sqlite_index import SqliteSearchIndex


async def test_a_question_finds_the_segment_that_means_it(tmp_path: Path) -> None:
    # GIVEN two videos, one with a segment about the moon, one about cooking, embedded
    index = SqliteSearchIndex(tmp_path / "i.sqlite", embedder=MiniLmEmbedder(threads=1))
    await index.index_video(
        document(
            "moon",
            keyframe(0, caption="a rocket on a launch pad"),
            segments=(segment(0, 5, "The astronauts will land on the moon next year"),),
        )
    )
    await index.index_video(
        document("soup", segments=(segment(0, 5, "Chop the onions and stir the soup slowly"),))
    )

    # WHEN asking in words neither segment uses
    results = await index.search(
        SearchQuery(
            text="a man talking about space",
            mode=MatchMode.NATURAL,
            kinds=frozenset({EntryKind.TRANSCRIPT}),
        )
    )

    # THEN the moon segment ranks above the cooking one
    ranked = [(v.video_id, h.text) for v in results.videos for h in v.hits]
    assert ranked[0] == ("moon", "The astronauts will land on the moon next year")
    assert ("soup", "Chop the onions and stir the soup slowly") in ranked[1:]
    await index.close()


def test_vectors_are_unit_length_and_closer_for_closer_meaning() -> None:
    vectors = MiniLmEmbedder(threads=1).embed(
        ["a man talking about space", "we are landing on the moon", "stir the soup"]
    )
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_a_phrase_search_does_not_import_torch(tmp_path: Path) -> None:
    # GIVEN a fresh interpreter with embeddings on (the default) WHEN it opens the index and runs
    # a phrase search THEN torch was never imported
    probe = f"""
import asyncio, sys
from videosense_shared.search.backends import open_search_index
from videosense_shared.search.settings import SearchSettings
from videosense_shared.search import SearchQuery
async def main():
    index = await open_search_index(SearchSettings(index_path={str(tmp_path / "i.sqlite")!r}))
    await index.search(SearchQuery(text="moon"))
    await index.close()
asyncio.run(main())
print("torch" in sys.modules, "transformers" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.split() == ["False", "False"]

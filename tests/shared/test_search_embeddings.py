"""Natural-language search on the real packaged model (all-MiniLM-L6-v2 from its wheel), run
in numpy: its vectors equal the model's own torch pipeline's, meaning finds a segment that
shares no word with the question, hybrid ranking keeps it first, torch is never needed, and a
phrase search never loads the model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.minilm_torch import TorchMiniLm, torch_available
from tests.support.search_documents import document, keyframe, segment
from videosense_shared.search import EntryKind, MatchMode, SearchQuery
from videosense_shared.search.embeddings import (
    MAX_TOKENS,
    EmbeddingModelUnavailableError,
    MiniLmEmbedder,
    packaged_model_dir,
)
from videosense_shared.search.sqlite_index import SqliteSearchIndex

# Varied on purpose: accents and other scripts (the normaliser), punctuation and symbols (the
# pre-tokeniser), words WordPiece splits, very short and empty texts (mean pooling over [CLS]
# and [SEP] only), and texts past 256 tokens (cut, like the model's own pipeline).
SENTENCES = [
    "a man talking about space",
    "The astronauts will land on the moon next year.",
    "Chop the onions and stir the soup slowly",
    "",
    " ",
    "a",
    "?!",
    "Café crème brûlée, naïve façade — déjà vu at the Zürich Hauptbahnhof.",
    "ÀÉÎÕÜ àéîõü ÇçÑñ ß Ø å",
    "東京タワーは高い。 The Tokyo tower is tall.",
    "北京欢迎你 and 서울 and Москва",
    "hello,world...(test)[x]{y}<z>!@#$%^&*",
    "e-mail: someone@example.com, URL https://example.com/a?b=c&d=e",
    "It's 3:45pm on 12/01/2026 and the price is $1,234.56 (\u22127%).",
    "unbelievably antidisestablishmentarianism pseudopseudohypoparathyroidism",
    "SHOUTING IN CAPITALS DOES NOT CHANGE THE WORDS",
    "tabs\tand\nnew lines\r\nmixed   spaces",
    "emoji 🎥🚀 and symbols ©®™ §¶",
    "The quick brown fox jumps over the lazy dog",
    "A dog runs across a green field while children play football.",
    "Speaker 2: we should really look at the quarterly numbers before Friday.",
    "On-screen text: BREAKING NEWS — Storm warning for the northern coast",
    "a person in a red jacket standing next to a white car in the rain",
    "ok",
    "Thank you for watching, and don't forget to subscribe!",
    "numbers 0 1 2 3 4 5 6 7 8 9 10 100 1000 10000",
    "mixedCase camelCaseWords snake_case_words kebab-case-words",
    "the " * 300,
    " ".join(f"word{i}" for i in range(400)),
    "Long speech. " + "We went down to the river and talked about the weather for hours. " * 40,
]


def test_the_numpy_vectors_equal_the_torch_pipelines() -> None:
    if not torch_available():
        pytest.skip("torch and transformers are not installed: no reference to compare with")
    # GIVEN the numpy embedder and the model's own pipeline (transformers on torch)
    # WHEN both embed the same varied texts, long ones included
    mine = MiniLmEmbedder(batch_tokens=2048, batch_size=8).embed(SENTENCES)
    reference = TorchMiniLm().embed(SENTENCES)
    # THEN every vector points the same way (cosine >= 0.9999) and is unit length
    cosines = np.einsum("ij,ij->i", mine, reference)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.9999, (SENTENCES[worst][:60], float(cosines[worst]))
    np.testing.assert_allclose(np.linalg.norm(mine, axis=1), 1.0, rtol=1e-5)


def test_a_long_text_is_cut_at_256_tokens() -> None:
    # GIVEN a text far past the model's 256 tokens, and the same text with more words after
    embedder = MiniLmEmbedder()
    long = " ".join(f"word{i}" for i in range(400))
    longer = long + " and then something about the moon and the stars"
    # WHEN both are embedded
    a, b = embedder.embed([long, longer])
    # THEN the words past the cut change nothing
    assert float(a @ b) > 0.99999
    assert MAX_TOKENS == 256


def test_a_texts_vector_does_not_depend_on_its_batch() -> None:
    # GIVEN a short text embedded alone and amid longer texts (padded batches)
    embedder = MiniLmEmbedder(batch_tokens=512, batch_size=4)
    alone = embedder.embed(["the moon"])[0]
    amid = embedder.embed([SENTENCES[1], "the moon", SENTENCES[-1], SENTENCES[7]])[1]
    # THEN padding changes nothing
    assert float(alone @ amid) > 0.99999


def test_a_broken_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    # GIVEN a model directory whose weights are cut short
    model = tmp_path / "model"
    model.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (model / name).write_bytes((packaged_model_dir() / name).read_bytes())
    (model / "model.safetensors").write_bytes(b"\x08\x00\x00")
    # WHEN it embeds / THEN the error names the model, not an IndexError deep in numpy
    with pytest.raises(EmbeddingModelUnavailableError, match="cannot load the text-embedding"):
        MiniLmEmbedder(model).embed(["x"])


async def test_a_question_finds_the_segment_that_means_it(tmp_path: Path) -> None:
    # GIVEN two videos, one with a segment about the moon, one about cooking, embedded
    index = SqliteSearchIndex(tmp_path / "i.sqlite", embedder=MiniLmEmbedder())
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
    vectors = MiniLmEmbedder().embed(
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


def test_natural_language_search_runs_without_torch(tmp_path: Path) -> None:
    # GIVEN a fresh interpreter in which torch and transformers cannot be imported
    probe = f"""
import asyncio, sys
sys.modules["torch"] = None
sys.modules["transformers"] = None
from tests.support.search_documents import document, segment
from videosense_shared.search.backends import open_search_index
from videosense_shared.search.settings import SearchSettings
from videosense_shared.search import MatchMode, SearchQuery
async def main():
    index = await open_search_index(SearchSettings(index_path={str(tmp_path / "i.sqlite")!r}))
    await index.index_video(document("moon", segments=(segment(0, 5, "We land on the moon"),)))
    found = await index.search(SearchQuery(text="space travel", mode=MatchMode.NATURAL))
    await index.close()
    print(found.videos[0].video_id)
asyncio.run(main())
"""
    # WHEN it indexes a video and runs a natural-language search
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300
    )
    # THEN the search answers
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["moon"]

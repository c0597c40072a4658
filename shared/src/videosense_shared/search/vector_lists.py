"""The inverted lists of the approximate vector search (IVF): spherical k-means in numpy.

The stored vectors are split into lists around centroids learnt by k-means (cosine: centroids
are kept at unit length, a vector belongs to the centroid it has the largest dot product
with). A query reads only the lists of its nearest few centroids: the work per query depends
on how many vectors it reads, not on the size of the library. See ``docs/architecture.md``,
"The search index".
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from videosense_shared.search.embeddings import Vectors

Labels = npt.NDArray[np.int64]

#: Vectors per list the lists are trained for (a query reads ``PROBE_VECTORS`` of them).
LIST_SIZE = 1_000
#: Training sample per list: enough for stable centroids, bounded at large libraries.
SAMPLE_PER_LIST = 48
#: Lloyd iterations.
ITERATIONS = 10
#: Rows per block when assigning: bounds the (rows x lists) similarity matrix (16 MB).
_BLOCK = 4_096


def list_count(vectors: int) -> int:
    """How many lists to train for a library of ``vectors``."""
    return max(1, min(4_096, round(vectors / LIST_SIZE)))


def nearest_list(vectors: Vectors, centroids: Vectors) -> Labels:
    """The list of each row: its most similar centroid (block by block)."""
    labels = np.empty(len(vectors), dtype=np.int64)
    for start in range(0, len(vectors), _BLOCK):
        block = vectors[start : start + _BLOCK] @ centroids.T
        labels[start : start + _BLOCK] = block.argmax(axis=1)
    return labels


def train(sample: Vectors, lists: int, *, seed: int = 0) -> Vectors:
    """``lists`` unit centroids for ``sample`` (rows of unit vectors) by spherical k-means.

    Starts from distinct random rows; a list left empty restarts at the row its centroid
    fits worst, so none stays empty while rows remain.

    Raises:
        ValueError: fewer rows than lists.
    """
    if len(sample) < lists:
        raise ValueError(f"{len(sample)} vectors cannot train {lists} lists")
    rng = np.random.default_rng(seed)
    centroids = sample[rng.choice(len(sample), size=lists, replace=False)].copy()
    for _ in range(ITERATIONS):
        labels = nearest_list(sample, centroids)
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, sample)
        counts = np.bincount(labels, minlength=lists)
        empty = np.flatnonzero(counts == 0)
        if len(empty):
            fit = np.einsum("ij,ij->i", sample, centroids[labels])
            sums[empty] = sample[np.argsort(fit)[: len(empty)]]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centroids = (sums / np.maximum(norms, 1e-12)).astype(np.float32)
    return centroids

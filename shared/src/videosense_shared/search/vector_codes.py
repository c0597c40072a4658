"""How the embedded index stores a vector: int8 codes with a scale per vector.

A unit vector of 384 float32 (1,536 bytes) becomes its largest magnitude over 127 (the scale,
a little-endian float32) and 384 int8 codes ``round(x / scale)``: a quarter of the bytes, and
the dot product with a float query, ``scale * (codes @ query)``, is within about 0.4 % of the
float one (each code is off by at most half a step of 1/127 of the largest component).

Layout 4 stores vectors as *records* packed in chunk blobs (:mod:`.vector_chunks`): entry id,
times, scale and codes, 412 bytes at 384 dimensions (:func:`record_dtype`), so a chunk read
from SQLite is a numpy array without a copy. Layout 3's per-row code (the scale's 4 bytes, then
the codes: :func:`encode`, :func:`decode`) is kept to convert older files. See
``docs/architecture.md``, "The search index".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from videosense_shared.search.embeddings import Vectors

_SCALE_BYTES = 4
#: Rows converted to float at a time (1.5 MB of float32 at 384 dimensions).
_CONVERT_ROWS = 1024


Records = npt.NDArray[np.void]


def record_dtype(dimensions: int) -> np.dtype[np.void]:
    """One stored vector of layout 4, packed little-endian: ``entry_id`` (int64), ``t_s`` and
    ``end_s`` (float64, for the time filter), ``scale`` (float32) and ``code`` (int8 x
    ``dimensions``)."""
    return np.dtype(
        [
            ("entry_id", "<i8"),
            ("t_s", "<f8"),
            ("end_s", "<f8"),
            ("scale", "<f4"),
            ("code", "i1", (dimensions,)),
        ]
    )


def quantize(vectors: Vectors) -> tuple[Vectors, npt.NDArray[np.int8]]:
    """The scale (rows,) and int8 codes (rows, dimensions) of float rows."""
    peaks = np.abs(vectors).max(axis=1) if len(vectors) else np.zeros(0, np.float32)
    scales: Vectors = np.where(peaks > 0, peaks / 127.0, 1.0).astype(np.float32)
    codes: npt.NDArray[np.int8] = np.rint(vectors / scales[:, None]).clip(-127, 127).astype(np.int8)
    return scales, codes


def records(
    entry_ids: Sequence[int],
    t_s: Sequence[float],
    end_s: Sequence[float],
    vectors: Vectors,
) -> Records:
    """The layout-4 records of float rows and what is stored beside them."""
    scales, codes = quantize(vectors)
    return pack(entry_ids, t_s, end_s, scales, codes)


def pack(
    entry_ids: Sequence[int],
    t_s: Sequence[float],
    end_s: Sequence[float],
    scales: Vectors,
    codes: npt.NDArray[np.int8],
) -> Records:
    """Records of int8 codes and their scales (already quantized)."""
    result: Records = np.zeros(len(entry_ids), dtype=record_dtype(codes.shape[1]))
    result["entry_id"] = entry_ids
    result["t_s"] = t_s
    result["end_s"] = end_s
    result["scale"] = scales
    result["code"] = codes
    return result


def record_similarities(rows: Records, query: Vectors) -> Vectors:
    """The dot product of each record's vector with ``query`` (a float32 unit vector)."""
    codes: npt.NDArray[np.int8] = rows["code"]
    result: Vectors = np.empty(len(rows), dtype=np.float32)
    # Converted to float32 a cache-sized block at a time: measured 2.5x faster than the whole
    # block at once, whose float copy goes out to memory and back.
    for start in range(0, len(rows), _CONVERT_ROWS):
        block = codes[start : start + _CONVERT_ROWS].astype(np.float32)
        result[start : start + _CONVERT_ROWS] = block @ query
    result *= rows["scale"]
    return result


def record_vectors(rows: Records) -> Vectors:
    """The records' vectors back as float32 rows (for training the lists)."""
    result: Vectors = rows["code"].astype(np.float32) * rows["scale"][:, None].astype(np.float32)
    return result


def encode(vectors: Vectors) -> list[bytes]:
    """Layout 3's code, one blob per row: its scale, then its int8 codes."""
    scales, codes = quantize(vectors)
    little = scales.astype("<f4")
    return [scale.tobytes() + row.tobytes() for scale, row in zip(little, codes, strict=True)]


def decode(blobs: Sequence[bytes], dimensions: int) -> tuple[npt.NDArray[np.int8], Vectors]:
    """The codes (rows, dimensions) and scales (rows,) of layout-3 blobs (:func:`encode`).

    Raises:
        ValueError: a blob is not ``4 + dimensions`` bytes long.
    """
    width = _SCALE_BYTES + dimensions
    raw: npt.NDArray[Any] = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    if raw.size != width * len(blobs):
        raise ValueError(f"stored vectors are not {width} bytes each: the index is damaged")
    rows = raw.reshape(len(blobs), width)
    scales: Vectors = rows[:, :_SCALE_BYTES].copy().view("<f4").reshape(-1).astype(np.float32)
    codes: npt.NDArray[np.int8] = rows[:, _SCALE_BYTES:].view(np.int8)
    return codes, scales

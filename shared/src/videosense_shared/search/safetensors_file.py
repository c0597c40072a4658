"""Reading a safetensors file into numpy arrays, without the ``safetensors`` package or torch.

The format (https://github.com/huggingface/safetensors): an unsigned little-endian 64-bit
header length, that many bytes of JSON (``{name: {"dtype", "shape", "data_offsets": [begin,
end]}}`` plus an optional ``__metadata__``), then the raw little-endian tensors, offsets
counted from the end of the header. The file is memory-mapped: a tensor used as stored (the
word embeddings) stays in the OS page cache instead of the process's own memory.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

_DTYPES: dict[str, np.dtype[Any]] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
#: A header longer than this is not a model's (the format caps it at 100 MB).
_MAX_HEADER = 100 * 2**20


class SafetensorsError(ValueError):
    """The file is not a readable safetensors file."""


def read_safetensors(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Every tensor of the file, by name, as read-only arrays over a memory map.

    Raises:
        SafetensorsError: the file is truncated, its header is not the format's, or a tensor
            has a type numpy does not hold (bfloat16...).
        OSError: the file cannot be read.
    """
    size = path.stat().st_size
    with path.open("rb") as file:
        head = file.read(8)
        if len(head) < 8:
            raise SafetensorsError(f"{path} is too short to be a safetensors file")
        (length,) = struct.unpack("<Q", head)
        if length > min(_MAX_HEADER, size - 8):
            raise SafetensorsError(f"{path}: header length {length} does not fit the file")
        try:
            header = json.loads(file.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise SafetensorsError(f"{path}: the header is not JSON: {err}") from err
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: the header is not a JSON object")
    data_start = 8 + length
    mapped = np.memmap(path, dtype=np.uint8, mode="r")
    tensors: dict[str, npt.NDArray[Any]] = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = _DTYPES[spec["dtype"]]
            shape = tuple(int(n) for n in spec["shape"])
            begin, end = (int(n) for n in spec["data_offsets"])
        except (KeyError, TypeError, ValueError) as err:
            raise SafetensorsError(f"{path}: tensor {name!r} is not described right") from err
        count = int(np.prod(shape, dtype=np.int64))
        if end - begin != count * dtype.itemsize or data_start + end > size or begin < 0:
            raise SafetensorsError(f"{path}: tensor {name!r} lies outside the file")
        raw = mapped[data_start + begin : data_start + end]
        tensors[name] = raw.view(dtype).reshape(shape)
    return tensors

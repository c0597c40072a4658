"""Reading a PyTorch ``state_dict`` file into numpy arrays, without PyTorch.

The packaged EfficientNet-Lite0 weights are a ``.pth`` file in PyTorch's legacy serialization
(the format ``torch.save`` wrote before 1.6): a few pickles followed by the raw bytes of every
tensor storage. Reading it here keeps PyTorch (hundreds of MB) out of the recognizer.

Unlike ``torch.load`` without ``weights_only``, nothing in the file can run code: the
unpickler builds only ordered dicts and tensors, and refuses any other global.
"""

from __future__ import annotations

import pickle
import struct
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

#: ``torch.save``'s legacy magic number and protocol version.
_MAGIC = 0x1950A86A20F9469CFC6C
_PROTOCOL = 1001

#: PyTorch storage classes and the numpy type of their elements.
_STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class CheckpointError(Exception):
    """The file is not a PyTorch state dict this reader understands."""


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype[Any]


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: np.dtype[Any]


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(
    storage: _StorageRef, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: object
) -> _TensorRef:
    return _TensorRef(storage, offset, tuple(size), tuple(stride))


class _Unpickler(pickle.Unpickler):
    """Builds tensor references instead of tensors; any other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise CheckpointError(f"the checkpoint refers to {module}.{name}, which is not read")

    def persistent_load(self, pid: Any) -> _StorageRef:
        # ('storage', storage type, key, location, number of elements[, view metadata])
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise CheckpointError(f"unexpected persistent id in the checkpoint: {pid!r}")
        storage_type = pid[1]
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"unexpected storage type in the checkpoint: {storage_type!r}")
        return _StorageRef(str(pid[2]), storage_type.dtype)


def _load_pickle(stream: IO[bytes]) -> Any:
    return _Unpickler(stream).load()


def read_state_dict(path: Path) -> dict[str, npt.NDArray[Any]]:
    """The tensors of a legacy-format PyTorch ``state_dict`` file, as numpy arrays by name.

    Raises:
        CheckpointError: the file cannot be read, is in another format (e.g. the zip format of
            PyTorch >= 1.6), refers to anything but tensors, or is cut short.
    """
    try:
        with path.open("rb") as stream:
            return _read(stream)
    except OSError as err:
        raise CheckpointError(f"cannot read {path}: {err}") from err
    except (pickle.UnpicklingError, EOFError, struct.error, ValueError, TypeError) as err:
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint: {err}") from err


def _read(stream: IO[bytes]) -> dict[str, npt.NDArray[Any]]:
    if _load_pickle(stream) != _MAGIC:
        raise CheckpointError("not a legacy PyTorch checkpoint (wrong magic number)")
    if _load_pickle(stream) != _PROTOCOL:
        raise CheckpointError("unsupported PyTorch checkpoint protocol version")
    _load_pickle(stream)  # sys_info: byte order and type sizes of the writer
    state = _load_pickle(stream)
    keys = _load_pickle(stream)
    if not isinstance(state, dict) or not isinstance(keys, list):
        raise CheckpointError("the checkpoint does not hold a state dict")
    # Each storage: its element count (int64, little-endian), then its bytes, in `keys` order.
    refs = [ref for ref in state.values() if isinstance(ref, _TensorRef)]
    dtypes = {ref.storage.key: ref.storage.dtype for ref in refs}
    storages: dict[str, npt.NDArray[Any]] = {}
    for key in keys:
        (count,) = struct.unpack("<q", stream.read(8))
        dtype = dtypes.get(str(key), np.dtype("u1"))
        data = stream.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise CheckpointError("the checkpoint is cut short")
        storages[str(key)] = np.frombuffer(data, dtype=dtype)
    tensors: dict[str, npt.NDArray[Any]] = {}
    for name, ref in state.items():
        if not isinstance(ref, _TensorRef):
            continue
        storage = storages.get(ref.storage.key)
        if storage is None:
            raise CheckpointError(f"the checkpoint has no storage for {name}")
        last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride, strict=True))
        if any(n == 0 for n in ref.size) or min(ref.stride, default=0) < 0 or last >= storage.size:
            raise CheckpointError(f"the tensor {name} does not fit its storage")
        itemsize = storage.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            storage[ref.offset :],
            shape=ref.size,
            strides=tuple(s * itemsize for s in ref.stride),
            writeable=False,
        )
        tensors[str(name)] = np.array(view)
    return tensors

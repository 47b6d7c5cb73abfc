"""Attention layers (Keras 3): `MultiHeadAttention`.

The projections are einsums over Keras' weight layouts (query/key/value kernels
``(dim, heads, key_dim)`` with biases ``(heads, key_dim)``, output kernel
``(heads, value_dim, dim)`` with bias ``(dim,)``), so Keras weights load with
``set_weights``.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import ops
from tapegrad.nn import constraints, initializers, regularizers
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.layers.einsum_dense import einsum_dense
from tapegrad.nn.layers.layer_masks import input_masks, set_keras_mask
from tapegrad.nn.validation import (
    check_bool,
    check_constraint,
    check_int,
    check_positive_int,
    check_probability,
    check_shape,
    layer_owner,
)
from tapegrad.ops.random import dropout_mask, layer_generator

# What a masked score becomes before the softmax (Keras' value; -3e4 would suit float16).
_MASKED_SCORE = -1e9


def _projection_equation(free_dims: int, bound_dims: int, output_dims: int) -> str:
    """``"abc,cde->abde"``-style einsum: keep ``free_dims`` input axes, contract the last
    ``bound_dims`` with the kernel, add ``output_dims`` kernel axes (Keras' layout)."""
    letters = string.ascii_lowercase
    free = letters[:free_dims]
    bound = letters[free_dims : free_dims + bound_dims]
    out = letters[free_dims + bound_dims : free_dims + bound_dims + output_dims]
    return f"{free}{bound},{bound}{out}->{free}{out}"


def _attention_equations(rank: int, attention_axes: Sequence[int]) -> tuple[str, str]:
    """Score and combine einsums for projected tensors ``(batch, *positions, heads, dim)``
    of rank ``rank``, attending over ``attention_axes`` (Keras' construction): scores are
    ``(batch, other positions..., heads, target attended..., source attended...)``."""
    letters = string.ascii_lowercase
    target = letters[:rank]
    batch_dims = [i for i in range(rank - 1) if i not in attention_axes]  # heads included
    source = list(target)
    for offset, axis in enumerate(attention_axes):
        source[axis] = letters[rank + offset]
    source_notation = "".join(source)
    scores = (
        "".join(target[i] for i in batch_dims)
        + "".join(target[i] for i in attention_axes)
        + "".join(source[i] for i in attention_axes)
    )
    return f"{source_notation},{target}->{scores}", f"{scores},{source_notation}->{target}"


def _clone(initializer: Any) -> Any:
    # A fresh instance per weight: an unseeded Initializer returns the same values on
    # every call, and the query, key and value kernels must differ (as in Keras).
    return initializer.clone() if isinstance(initializer, initializers.Initializer) else initializer


class _Projection(Layer):
    """``einsum(inputs, kernel) + bias``: the last ``bound_dims`` input axes → the
    ``output_axes`` (Keras' EinsumDense, as MultiHeadAttention uses it)."""

    def __init__(
        self,
        output_axes: Sequence[int],
        bound_dims: int,
        use_bias: bool,
        kernel_initializer: Any,
        bias_initializer: Any,
        kernel_regularizer: Any,
        bias_regularizer: Any,
        kernel_constraint: Any,
        bias_constraint: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.output_axes = tuple(int(a) for a in output_axes)
        self.bound_dims = bound_dims
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = check_constraint(self, "kernel_constraint", kernel_constraint)
        self.bias_constraint = check_constraint(self, "bias_constraint", bias_constraint)
        self.equation = ""

    def build(self, input_shape: Any) -> None:
        bound = tuple(input_shape[-self.bound_dims :])
        if any(d is None for d in bound):
            raise ValueError(
                f"MultiHeadAttention projection '{self.name}': the feature "
                f"axes of the input must be known, got shape {input_shape}"
            )
        self.equation = _projection_equation(
            len(input_shape) - self.bound_dims, self.bound_dims, len(self.output_axes)
        )
        self.kernel = self.add_weight(
            bound + self.output_axes,
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )
        self.bias = (
            self.add_weight(
                self.output_axes,
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                name="bias",
            )
            if self.use_bias
            else None
        )

    def call(self, inputs: Any) -> Any:
        # One GEMM over every row with the bias added in place (one tape entry), where
        # einsum + add would write the product and then the sum.
        return einsum_dense(self.equation, inputs, self.kernel, self.bias)


class MultiHeadAttention(Layer):
    """Multi-head scaled dot-product attention (Vaswani et al., 2017), Keras 3's layer.

    ``query`` attends to ``key`` (default: ``value``): each is projected to
    ``num_heads`` heads, scores ``softmax(q k^T / sqrt(key_dim))`` (masked positions set
    to -1e9 first) weight the projected values, and the heads are projected back to the
    query's last dimension (or ``output_shape``).

    Args:
        num_heads: Number of attention heads.
        key_dim: Size of each head of the query and key projections.
        value_dim: Size of each head of the value projection (default ``key_dim``).
        dropout: Dropout rate on the attention probabilities while training.
        use_bias: Whether the projections have biases.
        output_shape: Output feature shape (int or tuple; default the query's last dim).
        attention_axes: Axes of the query attended over (an int or ints, counted on the
            query; negative ones from its end): None (default) attends over every axis
            between batch and features; e.g. ``(2,)`` on ``(batch, rows, cols, dim)``
            attends along each row separately.
        sliding_window: Optional positive int: query ``i`` attends only to keys ``j`` with
            ``|i - j| < sliding_window`` (a band; with ``use_causal_mask``, the causal
            sliding window), as Keras 3.15.
        flash_attention: Accepted for Keras compatibility (ignored).
        kernel_initializer: Initializer of the projection kernels (``"glorot_uniform"``).
        bias_initializer: Initializer of the projection biases (``"zeros"``).
        kernel_regularizer: Optional regularizer of the kernels.
        bias_regularizer: Optional regularizer of the biases.
        activity_regularizer: Regularizer of the outputs (its penalty joins `losses`).
        kernel_constraint: Optional constraint of the kernels.
        bias_constraint: Optional constraint of the biases.
        use_gate: Multiply the attended values by a sigmoid gate projected from the query
            (its own ``gate`` kernel and bias, created after ``key``) before the output
            projection, as Keras 3.15.
        seed: Seed of the dropout masks.

    Call arguments:
        query: ``(batch, T, dim)`` (or a list ``[query, value]`` / ``[query, value, key]``).
        value: ``(batch, S, dim_v)``.
        key: Optional ``(batch, S, dim_k)`` (default ``value``).
        attention_mask: Optional boolean ``(batch, T, S)`` (broadcast over missing batch
            and head axes): True where a query position may attend to a key position.
        query_mask, value_mask, key_mask: Optional boolean ``(batch, T)`` / ``(batch, S)``;
            by default the masks the inputs carry (`Embedding(mask_zero=True)`): masked
            keys get no attention, and the output carries the query's mask, as in Keras.
        return_attention_scores: Also return the attention probabilities
            ``(batch, heads, T, S)``.
        training: Whether dropout is active.
        use_causal_mask: Mask out future positions (query ``i`` sees keys ``j <= i``).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.MultiHeadAttention(num_heads=2, key_dim=4)
        >>> x = np.ones((3, 5, 8), np.float32)
        >>> out, scores = layer(x, x, return_attention_scores=True)
        >>> out.shape, scores.shape
        ((3, 5, 8), (3, 2, 5, 5))
        >>> [w.shape for w in layer.weights]
        [(8, 2, 4), (2, 4), (8, 2, 4), (2, 4), (8, 2, 4), (2, 4), (2, 4, 8), (8,)]
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    _check_input_shape = False  # the inputs are packed in a dict; checked in build

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_shape: int | Sequence[int] | None = None,
        attention_axes: Any = None,
        sliding_window: int | None = None,
        flash_attention: bool | None = None,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        use_gate: bool = False,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        owner = layer_owner(self)
        self.num_heads = check_positive_int(owner, "num_heads", num_heads)
        self.key_dim = check_positive_int(owner, "key_dim", key_dim)
        value_dim = check_positive_int(owner, "value_dim", value_dim, allow_none=True)
        self.value_dim = value_dim if value_dim else self.key_dim
        self.dropout = check_probability(owner, "dropout", dropout)
        self.use_bias = check_bool(owner, "use_bias", use_bias)
        if isinstance(output_shape, int | np.integer):
            output_shape = (output_shape,)
        self._output_shape = (
            check_shape(owner, "output_shape", output_shape) if output_shape else None
        )
        if isinstance(attention_axes, int | np.integer):
            attention_axes = (attention_axes,)
        if attention_axes is not None and not isinstance(attention_axes, list | tuple):
            raise ValueError(
                f"{owner}: `attention_axes` must be an int or a tuple of ints, "
                f"got {attention_axes!r}"
            )
        self.attention_axes = (
            None
            if attention_axes is None
            else tuple(check_int(owner, "attention_axes", axis) for axis in attention_axes)
        )
        self.sliding_window = check_positive_int(
            owner, "sliding_window", sliding_window, allow_none=True
        )
        self.use_gate = check_bool(owner, "use_gate", use_gate)
        check_int(owner, "seed", seed, minimum=0, allow_none=True)
        self.flash_attention = (
            None
            if flash_attention is None
            else check_bool(owner, "flash_attention", flash_attention)
        )
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = check_constraint(self, "kernel_constraint", kernel_constraint)
        self.bias_constraint = check_constraint(self, "bias_constraint", bias_constraint)
        self.seed = seed
        self._rng = layer_generator(seed)
        self.query_dense: _Projection | None = None
        self.key_dense: _Projection | None = None
        # Keras creates the gate between key and value: weights keep that order.
        self.gate_dense: _Projection | None = None
        self.value_dense: _Projection | None = None
        self.output_dense: _Projection | None = None

    def __call__(
        self,
        query: Any = None,
        value: Any = None,
        key: Any = None,
        attention_mask: Any = None,
        **kwargs: Any,
    ) -> Any:
        if query is None:
            query = kwargs.pop("inputs")
        if isinstance(query, list | tuple):  # Keras 2 style: [query, value(, key)]
            query = dict(zip(("query", "value", "key"), query, strict=False))
            if len(query) < 2:
                raise ValueError(
                    f"MultiHeadAttention '{self.name}': a list of inputs must be "
                    f"[query, value] or [query, value, key], got {len(query)}"
                )
        # All tensors travel as one dict, so a functional graph records each as an input.
        if not isinstance(query, dict):
            if value is None:
                raise ValueError(
                    f"MultiHeadAttention '{self.name}': value is required "
                    "(pass the query again for self-attention)"
                )
            given = {"query": query, "value": value, "key": key, "attention_mask": attention_mask}
            given.update({name: kwargs.pop(name, None) for name in _MASK_ARGUMENTS})
            query = {name: x for name, x in given.items() if x is not None}
        return super().__call__(query, **kwargs)

    def _projection(self, name: str, output_axes: Sequence[int], bound_dims: int) -> _Projection:
        return _Projection(
            output_axes,
            bound_dims,
            self.use_bias,
            _clone(self.kernel_initializer),
            _clone(self.bias_initializer),
            self.kernel_regularizer,
            self.bias_regularizer,
            self.kernel_constraint,
            self.bias_constraint,
            name=f"{self.name}/{name}",
            dtype=self.dtype,
        )

    def build(self, query_shape: Any, value_shape: Any = None, key_shape: Any = None) -> None:
        """Create the four projections for inputs of these shapes (Keras' signature)."""
        if (
            isinstance(query_shape, list | tuple)
            and query_shape
            and isinstance(query_shape[0], list | tuple)
        ):
            query_shape = dict(zip(("query", "value", "key"), query_shape, strict=False))
        if isinstance(query_shape, dict):
            shapes = query_shape
            query_shape, value_shape = shapes["query"], shapes["value"]
            key_shape = shapes.get("key")
        key_shape = value_shape if key_shape is None else key_shape
        query_shape, value_shape, key_shape = (
            tuple(s) for s in (query_shape, value_shape, key_shape)
        )
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                f"MultiHeadAttention '{self.name}': value and key must have the "
                f"same shape except the last axis, got value_shape="
                f"{value_shape} and key_shape={key_shape}"
            )
        if len(query_shape) < 3 or len(query_shape) != len(value_shape):
            raise ValueError(
                f"MultiHeadAttention '{self.name}': query and value must be "
                f"(batch, positions..., features) of one rank, got shapes "
                f"{query_shape} and {value_shape}"
            )
        rank = len(query_shape)
        axes = (
            tuple(range(1, rank - 1))
            if self.attention_axes is None
            else tuple(sorted({a % rank for a in self.attention_axes}))
        )
        if not axes or axes[0] < 1 or axes[-1] > rank - 2:
            raise ValueError(
                f"MultiHeadAttention '{self.name}': attention_axes {self.attention_axes} "
                f"must be position axes of queries of shape {query_shape} (not the batch "
                "or feature axis)"
            )
        self._attended_axes = axes
        self.query_dense = self._projection("query", (self.num_heads, self.key_dim), 1)
        self.key_dense = self._projection("key", (self.num_heads, self.key_dim), 1)
        if self.use_gate:
            self.gate_dense = self._projection("gate", (self.num_heads, self.value_dim), 1)
        self.value_dense = self._projection("value", (self.num_heads, self.value_dim), 1)
        self.output_dense = self._projection(
            "attention_output", self._output_shape or (query_shape[-1],), 2
        )
        projected = query_shape[:-1] + (self.num_heads, self.value_dim)
        for layer, shape in (
            (self.query_dense, query_shape),
            (self.key_dense, key_shape),
            *([(self.gate_dense, query_shape)] if self.gate_dense is not None else []),
            (self.value_dense, value_shape),
            (self.output_dense, projected),
        ):
            layer.build(shape)
            layer.built = True
        self._dot_equation, self._combine_equation = _attention_equations(rank + 1, axes)

    def compute_output_shape(
        self, query_shape: Any, value_shape: Any = None, key_shape: Any = None
    ) -> tuple[Any, ...]:
        """The query's shape with the last axis replaced by the output shape."""
        if isinstance(query_shape, dict):
            query_shape = query_shape["query"]
        query_shape = tuple(query_shape)
        return query_shape[:-1] + (self._output_shape or query_shape[-1:])

    def call(
        self,
        query: Any,
        value: Any = None,
        key: Any = None,
        attention_mask: Any = None,
        return_attention_scores: bool = False,
        training: bool | None = None,
        use_causal_mask: bool = False,
    ) -> Any:
        if isinstance(query, list | tuple):
            query = dict(zip(("query", "value", "key"), query, strict=False))
        packed = query if isinstance(query, dict) else {"query": query, "value": value}
        query, value = packed["query"], packed["value"]
        key, attention_mask = packed.get("key"), packed.get("attention_mask")
        masks = input_masks(packed)
        # As Keras' MultiHeadAttention does: the inputs' masks are used up here (a later
        # layer given the same query tensor sees no mask).
        for name in ("query", "value", "key"):
            set_keras_mask(packed.get(name), None)
        key = value if key is None else key
        mask = self._attention_mask(query, value, attention_mask, use_causal_mask, masks)
        # Keras scales the projected query; scaling the scores instead is the same product,
        # done inside the softmax's own pass (no pass over q forward or backward).
        scale = 1.0 / math.sqrt(self.key_dim)
        q = self.query_dense(query)
        k = self.key_dense(key)
        v = self.value_dense(value)
        scores = tnp.einsum(self._dot_equation, k, q)  # (batch, ..., heads, T..., S...)
        shape = shape_of(scores)
        positions = len(self._attended_axes)
        if mask is not None:
            while len(shape_of(mask)) < len(shape):
                mask = tnp.expand_dims(mask, -2 * positions - 1)  # the heads axis
        if positions == 1:
            # Mask and softmax as one fused op: one scores-sized array forward and backward.
            probabilities = ops.attention_softmax(scores, mask, scale=scale)
        else:
            scores = scores * scale
            if mask is not None:
                scores = tnp.where(mask, scores, _MASKED_SCORE)
            # Several attended axes: one softmax over all their key positions.
            flat = tnp.reshape(scores, shape[:-positions] + (-1,))
            probabilities = tnp.reshape(ops.softmax(flat, axis=-1), shape)
        if mask is not None and (return_attention_scores or self.dropout > 0 or positions > 1):
            # Keras' softmax path (taken in these cases, not its fused one) zeroes masked
            # positions: a fully masked row attends to nothing instead of uniformly.
            probabilities = tnp.where(mask, probabilities, 0.0)
        weights = probabilities
        if training and self.dropout > 0:
            # The dropout_mask op: a compiled step draws a new mask every run.
            weights = probabilities * dropout_mask(
                probabilities, self.dropout, shape_of(probabilities), self._rng
            )
        combined = tnp.einsum(self._combine_equation, weights, v)
        if self.gate_dense is not None:
            combined = combined * ops.sigmoid(self.gate_dense(query))
        output = self.output_dense(combined)
        return (output, probabilities) if return_attention_scores else output

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        """The query's mask (Keras: the output is masked like the query)."""
        return mask.get("query") if isinstance(mask, dict) else None

    def _attention_mask(
        self, query: Any, value: Any, attention_mask: Any, use_causal_mask: bool, masks: Any
    ) -> Any:
        # Ops rather than NumPy calls, so that a traced graph takes the mask as an input.
        mask = None if attention_mask is None else tnp.not_equal(attention_mask, 0)
        # Keras' automatic mask: query (batch, T, 1) & value and key (batch, 1, S).
        for name, axis in (("query", -1), ("value", -2), ("key", -2)):
            if masks.get(name) is not None:
                extra = tnp.expand_dims(tnp.not_equal(masks[name], 0), axis)
                mask = extra if mask is None else tnp.logical_and(mask, extra)
        if use_causal_mask:
            steps, source = shape_of(query)[1], shape_of(value)[1]
            causal = np.tril(np.ones((1, steps, source), bool))
            mask = causal if mask is None else tnp.logical_and(mask, causal)
        if self.sliding_window is not None:
            # Keras' band: query i attends to keys j with |i - j| < sliding_window.
            steps, source = shape_of(query)[1], shape_of(value)[1]
            distance = np.abs(np.arange(steps)[:, None] - np.arange(source)[None, :])
            band = (distance < self.sliding_window)[None]
            mask = band if mask is None else tnp.logical_and(mask, band)
        return mask

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_shape": list(self._output_shape) if self._output_shape else None,
            "attention_axes": list(self.attention_axes) if self.attention_axes else None,
            "sliding_window": self.sliding_window,
            "use_gate": self.use_gate,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "seed": self.seed,
            # Keras writes the key even when unset (Layer's own config only when set).
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MultiHeadAttention:
        config = dict(config)
        for key in ("kernel_initializer", "bias_initializer"):
            if config.get(key) is not None:
                config[key] = initializers.deserialize(config[key])
        for key in ("kernel_regularizer", "bias_regularizer"):
            if config.get(key) is not None:
                config[key] = regularizers.deserialize(config[key])
        return cls(**config)


__all__ = ["MultiHeadAttention"]


_MASK_ARGUMENTS = ("query_mask", "value_mask", "key_mask")

"""`GroupQueryAttention` (Keras 3): attention with fewer key/value heads than query heads,
each key/value head shared by a group of query heads."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import random
from tapegrad.nn import constraints, initializers, regularizers
from tapegrad.nn.layers.activation_layers import Softmax
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.layers.einsum_dense import EinsumDense
from tapegrad.nn.layers.layer_masks import input_masks
from tapegrad.nn.validation import (
    check_bool,
    check_constraint,
    check_int,
    check_positive_int,
    check_probability,
    layer_owner,
)

_INPUTS = ("query", "value", "key", "query_mask", "value_mask", "key_mask", "attention_mask")


def _fresh(initializer: Any) -> Any:
    # One instance per weight: an unseeded initializer repeats its values (as Keras clones).
    return initializers.deserialize(initializers.serialize(initializer))


class GroupedQueryAttention(Layer):
    """Grouped-query attention (Keras' ``GroupQueryAttention``): ``num_query_heads``
    query heads share ``num_key_value_heads`` key and value heads.

    Args:
        head_dim: Size of each head.
        num_query_heads: Number of query heads.
        num_key_value_heads: Number of key and value heads (divides ``num_query_heads``).
        dropout: Dropout rate of the attention weights while training.
        use_bias: Whether the projections have biases.
        sliding_window: Optional window: query ``i`` attends to keys ``j`` with
            ``|i - j| < sliding_window``.
        flash_attention: Accepted for Keras compatibility (ignored).
        kernel_initializer, bias_initializer: Initializers of the projections.
        kernel_regularizer, bias_regularizer: Optional regularizers.
        activity_regularizer: Regularizer of the outputs (its penalty joins `losses`).
        kernel_constraint, bias_constraint: Optional constraints.
        use_gate: Multiply the attention output by a sigmoid gate computed from the query.
        seed: Seed of the dropout draws.

    Call arguments:
        query: ``(batch, T, dim)``.
        value: ``(batch, S, dim)``.
        key: Optional ``(batch, S, dim)`` (default ``value``).
        query_mask, value_mask, key_mask: Optional boolean ``(batch, T)`` / ``(batch, S)``.
        attention_mask: Optional boolean ``(batch, T, S)``.
        return_attention_scores: Also return the weights ``(batch, heads, T, S)``.
        training: Whether dropout is active.
        use_causal_mask: Query ``i`` attends only to keys ``j <= i``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.GroupQueryAttention(4, num_query_heads=4, num_key_value_heads=2)
        >>> x = np.ones((2, 5, 8), np.float32)
        >>> out, scores = layer(x, x, return_attention_scores=True)
        >>> out.shape, scores.shape
        ((2, 5, 8), (2, 4, 5, 5))
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    _check_input_shape = False

    def __init__(
        self,
        head_dim: int,
        num_query_heads: int,
        num_key_value_heads: int,
        dropout: float = 0.0,
        use_bias: bool = True,
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
        self.head_dim = check_positive_int(owner, "head_dim", head_dim)
        self.num_query_heads = check_positive_int(owner, "num_query_heads", num_query_heads)
        self.num_key_value_heads = check_positive_int(
            owner, "num_key_value_heads", num_key_value_heads
        )
        if self.num_query_heads % self.num_key_value_heads:
            raise ValueError(
                f"{owner}: num_query_heads ({num_query_heads}) must divide by "
                f"num_key_value_heads ({num_key_value_heads})"
            )
        self.num_repeats = self.num_query_heads // self.num_key_value_heads
        self.dropout = check_probability(owner, "dropout", dropout)
        self.use_bias = check_bool(owner, "use_bias", use_bias)
        self.use_gate = check_bool(owner, "use_gate", use_gate)
        self.sliding_window = check_positive_int(
            owner, "sliding_window", sliding_window, allow_none=True
        )
        self.flash_attention = flash_attention
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = check_constraint(self, "kernel_constraint", kernel_constraint)
        self.bias_constraint = check_constraint(self, "bias_constraint", bias_constraint)
        self.seed = check_int(owner, "seed", seed, minimum=0, allow_none=True)
        self.seed_generator = random.SeedGenerator(seed, name=f"{self.name}_seed_generator")
        self._softmax = Softmax(axis=-1, dtype=self.dtype)

    def __call__(self, query: Any = None, value: Any = None, key: Any = None, **kwargs: Any) -> Any:
        if query is None:
            query = kwargs.pop("inputs")
        if not isinstance(query, dict):
            if value is None:
                raise ValueError(
                    f"{layer_owner(self)}: value is required (pass the query again for "
                    "self-attention)"
                )
            given = {"query": query, "value": value, "key": key}
            given.update({name: kwargs.pop(name, None) for name in _INPUTS[3:]})
            # Every tensor travels in one dict, so a functional graph records each input.
            query = {name: x for name, x in given.items() if x is not None}
        return super().__call__(query, **kwargs)

    def _dense(self, name: str, equation: str, output_shape: Any, bias: str, **extra: Any) -> Any:
        return EinsumDense(
            equation,
            output_shape,
            bias_axes=bias if self.use_bias else None,
            kernel_initializer=_fresh(self.kernel_initializer),
            bias_initializer=_fresh(self.bias_initializer),
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            kernel_constraint=self.kernel_constraint,
            bias_constraint=self.bias_constraint,
            name=f"{self.name}/{name}",
            dtype=self.dtype,
            **extra,
        )

    def build(self, input_shape: Any) -> None:
        query_shape, value_shape = tuple(input_shape["query"]), tuple(input_shape["value"])
        key_shape = tuple(input_shape.get("key", value_shape))
        if len(query_shape) != 3 or query_shape[-1] != value_shape[-1]:
            raise ValueError(
                f"{layer_owner(self)}: expects query and value (batch, steps, dim) with one "
                f"dim, got shapes {query_shape} and {value_shape}"
            )
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                f"{layer_owner(self)}: value and key must agree but in the last axis, got "
                f"{value_shape} and {key_shape}"
            )
        heads, kv_heads, dim = self.num_query_heads, self.num_key_value_heads, self.head_dim
        self.query_dense = self._dense("query", "bqm,muh->bquh", (None, heads, dim), "uh")
        self.query_dense.build(query_shape)
        self.key_dense = self._dense("key", "bkm,mvh->bkvh", (None, kv_heads, dim), "vh")
        self.key_dense.build(key_shape)
        self.gate_dense = None
        if self.use_gate:
            self.gate_dense = self._dense(
                "gate", "bqm,muh->bquh", (None, heads, dim), "uh", activation="sigmoid"
            )
            self.gate_dense.build(query_shape)
        self.value_dense = self._dense("value", "bkm,mvh->bkvh", (None, kv_heads, dim), "vh")
        self.value_dense.build(value_shape)
        self.output_dense = self._dense(
            "attention_output", "bquh,uhm->bqm", (None, query_shape[-1]), "m"
        )
        self.output_dense.build((None, None, heads, dim))

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        """The query's mask (Keras: the output is masked like the query)."""
        return mask.get("query") if isinstance(mask, dict) else None

    def _mask(self, tensors: dict[str, Any], use_causal_mask: bool) -> Any:
        """Keras' merged boolean mask ``(batch or 1, T, S)``, or None."""
        steps_q, steps_v = shape_of(tensors["query"])[1], shape_of(tensors["value"])[1]
        masks = []
        given = input_masks(tensors)  # the inputs' own masks where none is passed
        if given["query"] is not None:
            masks.append(tnp.expand_dims(tnp.asarray(given["query"], dtype=bool), -1))
        for name in ("value", "key"):
            if given[name] is not None:
                masks.append(tnp.expand_dims(tnp.asarray(given[name], dtype=bool), -2))
        if use_causal_mask:
            masks.append(np.tril(np.ones((1, steps_q, steps_v), bool)))
        if self.sliding_window is not None:
            distance = np.abs(np.arange(steps_q)[:, None] - np.arange(steps_v)[None, :])
            masks.append((distance < self.sliding_window)[None])
        if tensors.get("attention_mask") is not None:
            masks.append(tnp.asarray(tensors["attention_mask"], dtype=bool))
        if not masks:
            return None
        mask = masks[0]
        for extra in masks[1:]:
            mask = tnp.logical_and(mask, extra)
        return mask

    def call(
        self,
        inputs: dict[str, Any],
        return_attention_scores: bool = False,
        training: bool | None = None,
        use_causal_mask: bool = False,
    ) -> Any:
        mask = self._mask(inputs, use_causal_mask)
        query = self.query_dense(inputs["query"])
        key = self.key_dense(inputs.get("key", inputs["value"]))
        value = self.value_dense(inputs["value"])
        key = tnp.repeat(key, self.num_repeats, axis=2)
        value = tnp.repeat(value, self.num_repeats, axis=2)
        query = query * (1.0 / math.sqrt(float(self.head_dim)))
        scores = tnp.einsum("bquh,bkuh->buqk", query, key)
        if mask is not None:
            mask = tnp.expand_dims(mask, -3)  # the heads axis
        weights = self._softmax(scores, mask=mask)
        attended = weights
        if training and self.dropout > 0:
            attended = random.dropout(weights, self.dropout, seed=self.seed_generator)
        output = tnp.einsum("buqk,bkuh->bquh", attended, value)
        if self.gate_dense is not None:
            output = output * self.gate_dense(inputs["query"])
        output = self.output_dense(output)
        return (output, weights) if return_attention_scores else output

    def compute_output_shape(
        self, query_shape: Any, value_shape: Any = None, key_shape: Any = None
    ) -> Any:
        """The query's shape."""
        return tuple(query_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "head_dim": self.head_dim,
            "num_query_heads": self.num_query_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "use_bias": self.use_bias,
            "use_gate": self.use_gate,
            "sliding_window": self.sliding_window,
            "dropout": self.dropout,
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
    def from_config(cls, config: dict[str, Any]) -> GroupedQueryAttention:
        config = dict(config)
        for key in ("kernel_initializer", "bias_initializer"):
            if key in config:
                config[key] = initializers.deserialize(config[key])
        for key in ("kernel_regularizer", "bias_regularizer"):
            if config.get(key) is not None:
                config[key] = regularizers.deserialize(config[key])
        return cls(**config)


__all__ = ["GroupedQueryAttention"]

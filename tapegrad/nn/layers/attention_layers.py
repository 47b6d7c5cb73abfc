"""Dot-product and additive attention layers (Keras 3): `Attention` (Luong-style) and
`AdditiveAttention` (Bahdanau-style), called on ``[query, value]`` or
``[query, value, key]``."""

from __future__ import annotations

from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import ops, random
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.validation import (
    check_bool,
    check_choice,
    check_int,
    check_probability,
    layer_owner,
)


class Attention(Layer):
    """Dot-product attention: ``softmax(query @ key^T) @ value`` (Keras' ``Attention``).

    Args:
        use_scale: Learn a scalar ``scale`` multiplying the scores.
        score_mode: ``"dot"`` (``query @ key^T``) or ``"concat"`` (the sum over
            features of ``tanh(query + key)``, weighted by a learned scalar).
        dropout: Dropout rate of the attention weights while training.
        seed: Seed of the dropout draws.

    Call arguments:
        inputs: ``[query (batch, Tq, dim), value (batch, Tv, dim)]`` or
            ``[query, value, key (batch, Tv, dim)]`` (``key`` defaults to ``value``).
        mask: Optional ``[query_mask (batch, Tq), value_mask (batch, Tv)]`` booleans:
            masked values get no attention; masked query steps output zeros.
        training: Whether dropout is active.
        return_attention_scores: Also return the attention weights ``(batch, Tq, Tv)``.
        use_causal_mask: Query step ``i`` attends only to value steps ``<= i``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> query, value = np.ones((2, 3, 4), np.float32), np.ones((2, 5, 4), np.float32)
        >>> out, scores = tg.layers.Attention()([query, value], return_attention_scores=True)
        >>> out.shape, scores.shape
        ((2, 3, 4), (2, 3, 5))
    """

    _check_input_shape = False
    _score_modes = ("dot", "concat")

    def __init__(
        self,
        use_scale: bool = False,
        score_mode: str = "dot",
        dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        self.use_scale = check_bool(owner, "use_scale", use_scale)
        self.score_mode = check_choice(owner, "score_mode", score_mode, self._score_modes)
        self.dropout = check_probability(owner, "dropout", dropout)
        self.seed = check_int(owner, "seed", seed, minimum=0, allow_none=True)
        if self.dropout > 0:
            self.seed_generator = random.SeedGenerator(seed, name=f"{self.name}_seed_generator")

    def _split(self, inputs: Any) -> tuple[Any, Any, Any]:
        if not isinstance(inputs, list | tuple) or not 2 <= len(inputs) <= 3:
            raise ValueError(
                f"{layer_owner(self)}: must be called on a list [query, value] or "
                f"[query, value, key], got {type(inputs).__name__}"
                + (f" of length {len(inputs)}" if isinstance(inputs, list | tuple) else "")
            )
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        q, v, k = (tuple(shape_of(x)) for x in (query, value, key))
        if len(q) != 3 or v != k[:-1] + (v[-1],) or q[-1] != k[-1] or q[0] != v[0]:
            raise ValueError(
                f"{layer_owner(self)}: expects query (batch, Tq, dim), value (batch, Tv, "
                f"dim_v) and key (batch, Tv, dim), got shapes {q}, {v}, {k}"
            )
        return query, value, key

    def build(self, input_shape: Any) -> None:
        self.scale = self.add_weight((), "ones", name="scale") if self.use_scale else None
        self.concat_score_weight = (
            self.add_weight((), "ones", name="concat_score_weight")
            if self.score_mode == "concat"
            else None
        )

    def _scores(self, query: Any, key: Any) -> Any:
        if self.score_mode == "dot":
            scores = tnp.matmul(query, tnp.swapaxes(key, -2, -1))
            return scores * self.scale if self.scale is not None else scores
        pairs = tnp.expand_dims(query, -2) + tnp.expand_dims(key, -3)
        if self.scale is not None:
            pairs = self.scale * pairs
        return self.concat_score_weight * tnp.sum(tnp.tanh(pairs), axis=-1)

    def call(
        self,
        inputs: Any,
        mask: Any = None,
        training: bool | None = None,
        return_attention_scores: bool = False,
        use_causal_mask: bool = False,
    ) -> Any:
        query, value, key = self._split(inputs)
        query_mask, value_mask = (None, None) if not mask else (mask[0], mask[1])
        scores = self._scores(query, key)
        scores_mask = None if value_mask is None else tnp.expand_dims(_bool(value_mask), -2)
        if use_causal_mask:
            steps_q, steps_v = shape_of(scores)[-2:]
            causal = np.tril(np.ones((1, steps_q, steps_v), bool))
            scores_mask = causal if scores_mask is None else tnp.logical_and(scores_mask, causal)
        if scores_mask is not None:
            # Keras' bias: masked scores lose 1e9 (finite, so a fully masked row stays finite).
            large = 65504.0 if np.dtype(scores.dtype) == np.float16 else 1.0e9
            scores = tnp.where(scores_mask, scores, scores - large)
        weights = ops.softmax(scores, axis=-1)
        if training and self.dropout > 0:
            weights = random.dropout(weights, self.dropout, seed=self.seed_generator)
        output = tnp.matmul(weights, value)
        if query_mask is not None:
            output = tnp.where(tnp.expand_dims(_bool(query_mask), -1), output, 0.0)
        return [output, weights] if return_attention_scores else output

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The query mask (Keras: the output is masked like the query)."""
        return None if not mask or mask[0] is None else mask[0]

    def compute_output_shape(self, input_shape: Any) -> Any:
        """``(*query_shape[:-1], value_dim)``."""
        return (*tuple(input_shape[0])[:-1], tuple(input_shape[1])[-1])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "use_scale": self.use_scale,
            "score_mode": self.score_mode,
            "dropout": self.dropout,
            "seed": self.seed,
        }


class AdditiveAttention(Attention):
    """Additive (Bahdanau-style) attention: scores ``sum(scale * tanh(query + key))`` over
    the features (Keras' ``AdditiveAttention``).

    Args:
        use_scale: Learn a ``scale`` vector of shape ``(dim,)`` (default True).
        dropout: Dropout rate of the attention weights while training.
        seed: Seed of the dropout draws.

    Call arguments:
        As `Attention`.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.AdditiveAttention()
        >>> layer([np.ones((2, 3, 4), np.float32), np.ones((2, 5, 4), np.float32)]).shape
        (2, 3, 4)
        >>> layer.scale.shape
        (4,)
    """

    def __init__(
        self, use_scale: bool = True, dropout: float = 0.0, seed: int | None = None, **kwargs: Any
    ) -> None:
        kwargs.pop("score_mode", None)
        super().__init__(use_scale=use_scale, dropout=dropout, seed=seed, **kwargs)

    def build(self, input_shape: Any) -> None:
        dim = input_shape[0][-1]
        self.scale = (
            self.add_weight((dim,), "glorot_uniform", name="scale") if self.use_scale else None
        )
        self.concat_score_weight = None

    def _scores(self, query: Any, key: Any) -> Any:
        pairs = tnp.tanh(tnp.expand_dims(query, -2) + tnp.expand_dims(key, -3))
        return tnp.sum(self.scale * pairs if self.scale is not None else pairs, axis=-1)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("score_mode")
        return config


def _bool(mask: Any) -> Any:
    return mask if np.dtype(mask.dtype) == np.bool_ else tnp.asarray(mask) > 0.5


__all__ = ["AdditiveAttention", "Attention"]

"""`ReversibleEmbedding` (Keras 3): an embedding that also maps vectors back to logits
over its vocabulary (``reverse=True``), by default with the same (tied) table."""

from __future__ import annotations

from typing import Any

import tapegrad.numpy as tnp
from tapegrad.nn.layers.embedding import Embedding
from tapegrad.nn.validation import check_bool, check_number, layer_owner


class ReversibleEmbedding(Embedding):
    """`Embedding` plus the reverse projection ``inputs @ embeddings.T`` (Keras'
    ``ReversibleEmbedding``, the tied input/output embedding of language models).

    Args:
        input_dim: Vocabulary size.
        output_dim: Embedding size.
        tie_weights: Reverse with the embedding table itself; False adds a separate
            ``reverse_embeddings (output_dim, input_dim)`` weight.
        embeddings_initializer, embeddings_regularizer, embeddings_constraint, mask_zero:
            As in `Embedding`.
        reverse_dtype: Optional dtype the reverse projection is computed in.
        logit_soft_cap: Optional cap: logits become ``tanh(logits / cap) * cap``.

    Call arguments:
        inputs: Token ids, or with ``reverse=True`` vectors ``(..., output_dim)``.
        reverse: Project vectors to vocabulary logits instead of embedding ids.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.ReversibleEmbedding(10, 4)
        >>> hidden = layer(np.array([[1, 2, 3]]))
        >>> hidden.shape, layer(hidden, reverse=True).shape
        ((1, 3, 4), (1, 3, 10))
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        tie_weights: bool = True,
        embeddings_initializer: Any = "uniform",
        embeddings_regularizer: Any = None,
        embeddings_constraint: Any = None,
        mask_zero: bool = False,
        reverse_dtype: Any = None,
        logit_soft_cap: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            input_dim,
            output_dim,
            embeddings_initializer=embeddings_initializer,
            embeddings_regularizer=embeddings_regularizer,
            embeddings_constraint=embeddings_constraint,
            mask_zero=mask_zero,
            **kwargs,
        )
        owner = layer_owner(self)
        self.tie_weights = check_bool(owner, "tie_weights", tie_weights)
        self.reverse_dtype = reverse_dtype
        self.logit_soft_cap = check_number(
            owner, "logit_soft_cap", logit_soft_cap, low=0, low_open=True, allow_none=True
        )

    def build(self, input_shape: Any = None) -> None:
        super().build(input_shape)
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight(
                (self.output_dim, self.input_dim),
                self.embeddings_initializer,
                name="reverse_embeddings",
            )

    def call(self, inputs: Any, reverse: bool = False) -> Any:
        if not reverse:
            return super().call(inputs)
        kernel = tnp.transpose(self.embeddings) if self.tie_weights else self.reverse_embeddings
        if self.reverse_dtype is not None:
            inputs = tnp.asarray(inputs, dtype=self.reverse_dtype)
            kernel = tnp.asarray(kernel, dtype=self.reverse_dtype)
        logits = tnp.matmul(inputs, kernel)
        if self.logit_soft_cap is not None:
            logits = tnp.tanh(logits / self.logit_soft_cap) * self.logit_soft_cap
        return logits

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """None, as Keras: the embedded sequence carries its mask on the outputs."""
        return None

    def compute_output_shape(self, input_shape: Any, reverse: bool = False) -> Any:
        """``input_shape + (output_dim,)``, or with ``reverse`` the last axis ``input_dim``."""
        shape = list(input_shape)
        if reverse:
            shape[-1] = self.input_dim
        else:
            shape.append(self.output_dim)
        return tuple(shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "tie_weights": self.tie_weights,
            "reverse_dtype": None if self.reverse_dtype is None else str(self.reverse_dtype),
            "logit_soft_cap": self.logit_soft_cap,
        }


__all__ = ["ReversibleEmbedding"]

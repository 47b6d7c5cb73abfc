"""Embedding: integer indices to dense vectors (Keras 3 ``keras.layers.Embedding``)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.graph import is_traced
from tapegrad.nn import constraints, initializers, regularizers
from tapegrad.nn.layers.base import Layer
from tapegrad.nn.validation import check_bool, check_constraint, check_positive_int, layer_owner


class Embedding(Layer):
    """Looks up row ``i`` of an ``(input_dim, output_dim)`` table for every index ``i``.

    The output has the input's shape plus a last axis of size ``output_dim``. The table's
    gradient adds up the output gradients of every position holding the same index.
    Indices must be integers in ``[0, input_dim)``; float inputs holding whole numbers are
    accepted (Keras casts them), anything else raises.

    Args:
        input_dim: Vocabulary size (largest index + 1).
        output_dim: Size of each embedding vector.
        embeddings_initializer: Initializer of the table (Keras' ``"uniform"``:
            uniform in [-0.05, 0.05]).
        embeddings_regularizer: Optional regularizer of the table.
        embeddings_constraint: Optional constraint applied to the table after updates.
        mask_zero: Whether index 0 is padding; `compute_mask` then returns ``inputs != 0``
            (with ``mask_zero=True`` the vocabulary needs ``input_dim = size + 1``).
        weights: Optional initial table, an ``(input_dim, output_dim)`` array (or a list
            holding it); the layer is then built at once.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.Embedding(4, 2, embeddings_initializer="ones")
        >>> layer(np.array([[0, 3, 3]])).shape
        (1, 3, 2)
        >>> layer.embeddings.shape
        (4, 2)
    """

    # Any number of index axes of any size: only the values are checked.
    _check_input_shape = False

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = "uniform",
        embeddings_regularizer: Any = None,
        embeddings_constraint: Any = None,
        mask_zero: bool = False,
        weights: Any = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.pop("input_length", None) is not None:
            warnings.warn(
                "Embedding: argument input_length is deprecated (Keras 3); ignored", stacklevel=2
            )
        super().__init__(**kwargs)
        self.input_dim = check_positive_int(layer_owner(self), "input_dim", input_dim)
        self.output_dim = check_positive_int(layer_owner(self), "output_dim", output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = check_constraint(
            self, "embeddings_constraint", embeddings_constraint
        )
        self.mask_zero = check_bool(layer_owner(self), "mask_zero", mask_zero)
        if weights is not None:
            # The table's shape does not depend on the inputs: build now, like Keras.
            self.build(None)
            self.built = True
            is_list = isinstance(weights, list | tuple) and len(weights) == 1
            self.set_weights(list(weights) if is_list else [weights])

    def build(self, input_shape: Any) -> None:
        self.embeddings = self.add_weight(
            (self.input_dim, self.output_dim),
            self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
            name="embeddings",
        )

    def call(self, inputs: Any) -> Any:
        return tnp.take(self.embeddings, self._indices(inputs), axis=0)

    def _indices(self, inputs: Any) -> Any:
        if is_traced(inputs):
            # Graph tracing: the ids are an input of the step, checked when it runs.
            return tg.ops.class_indices(inputs, self.input_dim, f"Embedding '{self.name}'")
        # Indices are never differentiated: a plain integer array is all `take` needs.
        values = np.asarray(inputs)
        if (
            values.dtype.kind == "f"
            and np.all(np.isfinite(values))
            and np.array_equal(values, np.round(values))
        ):
            values = values.astype(np.int64)
        if values.dtype.kind not in "iu":
            raise TypeError(
                f"Embedding '{self.name}': inputs must be integer indices, got dtype "
                f"{values.dtype}" + (" with non-integer values" if values.dtype.kind == "f" else "")
            )
        if values.size and (values.min() < 0 or values.max() >= self.input_dim):
            raise ValueError(
                f"Embedding '{self.name}': indices must be in [0, {self.input_dim}) "
                f"(input_dim={self.input_dim}), got values in "
                f"[{values.min()}, {values.max()}]"
            )
        return values

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """``inputs != 0`` when ``mask_zero`` (a boolean tensor), else ``None``."""
        if not self.mask_zero:
            return None
        # An op (not NumPy): the mask travels with the output, also in traced graphs.
        return tnp.not_equal(tnp.asarray(inputs), 0)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
            "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
            # Keras writes the key even when unset (Layer's own config only when set).
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Embedding:
        config = dict(config)
        config["embeddings_initializer"] = initializers.deserialize(
            config["embeddings_initializer"]
        )
        if config.get("embeddings_regularizer") is not None:
            config["embeddings_regularizer"] = regularizers.deserialize(
                config["embeddings_regularizer"]
            )
        return cls(**config)


__all__ = ["Embedding"]

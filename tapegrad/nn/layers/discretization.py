"""`Discretization` (Keras 3): numbers to bucket indices, with quantile `adapt`.

`adapt` follows Keras' streaming quantile summary (so adapted boundaries equal Keras'):
each batch is reduced to about ``1 / epsilon`` weighted points, summaries are merged by
a weighted merge and re-compressed by interpolating cumulative weights, and the
boundaries are the summary compressed to ``num_bins`` equal-weight buckets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.validation import check_bool, check_choice, check_number, layer_owner


def _summarize(values: np.ndarray, epsilon: float) -> np.ndarray:
    """``[points, weights]``: every ``step``-th sorted value, weighted by ``step``."""
    values = np.sort(values.reshape(-1))
    step = max(values.size * epsilon, 1)
    points = values[int(step - 1) :: int(step)]
    return np.stack([points, np.full_like(points, step)])


def _compress(summary: np.ndarray, epsilon: float) -> np.ndarray:
    """The summary re-sampled at cumulative-weight fractions ``epsilon, 2 epsilon, ...``."""
    if summary.shape[1] * epsilon < 1:
        return summary
    fractions = epsilon + np.arange(0.0, 1.0, epsilon)
    cumulative = summary[1].cumsum()
    position = cumulative / cumulative[-1]
    points = np.interp(fractions, position, summary[0])
    cumulative = np.interp(fractions, position, cumulative)
    weights = cumulative - np.concatenate(([0.0], cumulative[:-1]))
    return np.stack((points, weights)).astype("float32")


def _merge(first: np.ndarray, second: np.ndarray, epsilon: float) -> np.ndarray:
    merged = np.concatenate((first, second), axis=1)
    return _compress(merged[:, np.argsort(merged[0], kind="stable")], epsilon)


class Discretization(Layer):
    """Buckets numbers by ``bin_boundaries`` (bucket ``i`` holds ``b[i-1] <= x < b[i]``),
    as integer indices or encoded vectors.

    Args:
        bin_boundaries: Sorted boundaries; or None, then ``num_bins`` and `adapt`.
        num_bins: Number of buckets `adapt` makes (equal-count quantiles).
        epsilon: Error tolerance of `adapt`'s quantiles.
        output_mode: ``"int"`` (indices, int32), ``"one_hot"``, ``"multi_hot"`` or
            ``"count"`` (as `CategoryEncoding`, with ``len(bin_boundaries) + 1`` tokens).
        sparse: Must be False.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0])
        >>> layer(np.array([[-1.5, 1.0, 3.4, 0.5]])).numpy()
        array([[0, 2, 3, 1]], dtype=int32)
    """

    _check_input_shape = False

    def __init__(
        self,
        bin_boundaries: Sequence[float] | None = None,
        num_bins: int | None = None,
        epsilon: float = 0.01,
        output_mode: str = "int",
        sparse: bool = False,
        dtype: Any = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, dtype=dtype, **kwargs)
        owner = layer_owner(self)
        if check_bool(owner, "sparse", sparse):
            raise ValueError(f"{owner}: sparse=True is not supported (no sparse tensors)")
        self.sparse = False
        self.output_mode = check_choice(
            owner, "output_mode", output_mode, ("int", "one_hot", "multi_hot", "count")
        )
        if num_bins is not None and (
            isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 0
        ):
            raise ValueError(f"{owner}: num_bins must be an int >= 0, got {num_bins!r}")
        if (num_bins is None) == (bin_boundaries is None):
            raise ValueError(f"{owner}: set exactly one of num_bins and bin_boundaries")
        if bin_boundaries is not None:
            bounds = np.asarray(bin_boundaries, np.float64)
            if bounds.ndim != 1 or np.any(np.diff(bounds) < 0):
                raise ValueError(
                    f"{owner}: bin_boundaries must be a sorted list of numbers, got "
                    f"{bin_boundaries!r}"[:200]
                )
            bin_boundaries = [float(b) for b in bounds]
        self.bin_boundaries = bin_boundaries
        self.num_bins = num_bins
        self.epsilon = check_number(owner, "epsilon", epsilon, low=0, low_open=True)
        self.summary = np.zeros((2, 0), np.float32)

    def adapt(self, data: Any, steps: int | None = None) -> None:
        """Learn ``num_bins`` quantile boundaries from ``data`` (an array or Tensor, or an
        iterable of batches; ``steps`` limits the batches taken).

        Args:
            data: The values.
            steps: At most this many batches of an iterable.
        """
        owner = layer_owner(self)
        if self.num_bins is None:
            raise ValueError(f"{owner}: built with bin_boundaries; use num_bins to adapt")
        batches = [data] if isinstance(data, np.ndarray) or hasattr(data, "numpy") else data
        summary = np.zeros((2, 0), np.float32)
        for index, batch in enumerate(batches):
            if steps is not None and index >= steps:
                break
            values = np.asarray(batch.numpy() if hasattr(batch, "numpy") else batch)
            summary = _merge(
                _summarize(values.astype("float32"), self.epsilon), summary, self.epsilon
            )
        if summary.shape[1] == 0:
            raise ValueError(f"{owner}: adapt received no data")
        self.summary = summary
        self.bin_boundaries = _compress(summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def call(self, inputs: Any) -> Any:
        if self.bin_boundaries is None:
            raise ValueError(
                f"{layer_owner(self)}: pass bin_boundaries or call adapt() before using it"
            )
        inputs = tnp.asarray(inputs)
        bounds = np.asarray(
            self.bin_boundaries,
            np.dtype(inputs.dtype) if np.dtype(inputs.dtype).kind == "f" else np.float64,
        )
        # Bucket index: how many boundaries are <= x (NumPy's digitize, right=False).
        indices = tnp.sum(
            tnp.asarray(tnp.expand_dims(inputs, -1) >= bounds, dtype="int32"), axis=-1
        )
        indices = tnp.asarray(indices, dtype="int32")
        if self.output_mode == "int":
            return indices
        return self._encode(indices, len(self.bin_boundaries) + 1)

    def _encode(self, indices: Any, depth: int) -> Any:
        shape = tuple(shape_of(indices))
        if len(shape) == 0:
            indices = tnp.expand_dims(indices, -1)
            shape = (1,)
        hot = tnp.asarray(tnp.expand_dims(indices, -1) == np.arange(depth), dtype=self.dtype)
        if self.output_mode == "one_hot":
            return hot[..., 0, :] if len(shape) > 1 and shape[-1] == 1 else hot
        axis = 1 if len(shape) > 1 else 0
        if self.output_mode == "multi_hot":
            return tnp.max(hot, axis=axis)
        return tnp.sum(hot, axis=axis)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Keras' shapes: the input's for ``"int"``, else with ``depth`` buckets last."""
        shape = tuple(input_shape)
        if self.output_mode == "int":
            return shape
        depth = len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins
        if self.output_mode == "one_hot":
            if shape and shape[-1] == 1 and len(shape) > 1:
                return shape[:-1] + (depth,)
            return shape + (depth,)
        return (shape[0], *shape[2:], depth) if len(shape) >= 2 else (depth,)

    def get_config(self) -> dict[str, Any]:
        config = {
            **super().get_config(),
            "bin_boundaries": self.bin_boundaries,
            "num_bins": self.num_bins,
            "epsilon": self.epsilon,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
        }
        # Keras 3's Discretization writes no "trainable" (it has no weights to train).
        config.pop("trainable", None)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Discretization:
        config = dict(config)
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            # An adapted layer: its learned boundaries come back as they were.
            boundaries = config.pop("bin_boundaries")
            layer = cls(**config)
            layer.bin_boundaries = list(boundaries)
            return layer
        return cls(**config)


__all__ = ["Discretization"]

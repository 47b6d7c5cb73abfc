"""Numeric preprocessing layers (Keras 3): `Rescaling`, `Normalization` (with `adapt`),
`CategoryEncoding` and `Resizing`.

They run inside models like any layer (eagerly or compiled) and have no trainable
weights; `Normalization` keeps what `adapt` learned in non-trainable weights, so it is
saved with the model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import ops
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.layers.conv import normalize_data_format
from tapegrad.nn.validation import check_bool, check_choice, check_positive_int, layer_owner

# Keras' backend.epsilon(): the smallest standard deviation `Normalization` divides by.
_EPSILON = 1e-7


def _to_json(value: Any) -> Any:
    return np.asarray(value).tolist() if isinstance(value, np.ndarray | list | tuple) else value


class Rescaling(Layer):
    """``inputs * scale + offset``, e.g. ``Rescaling(1 / 255)`` for images.

    Args:
        scale: A number, or an array broadcast against the inputs (per channel).
        offset: A number or an array, added after scaling.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.Rescaling(1 / 127.5, offset=-1)(np.array([0.0, 255.0])).numpy()
        array([-1.,  1.], dtype=float32)
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    _check_input_shape = False

    def __init__(self, scale: Any, offset: Any = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name, value in (("scale", scale), ("offset", offset)):
            array = np.asarray(value)
            if array.dtype.kind not in "biuf" or not np.all(np.isfinite(array)):
                raise ValueError(
                    f"{layer_owner(self)}: {name} must be a finite number or array of "
                    f"numbers, got {value!r}"[:200]
                )
        self.scale = scale
        self.offset = offset

    def call(self, inputs: Any) -> Any:
        scale = np.asarray(self.scale, self.dtype)
        offset = np.asarray(self.offset, self.dtype)
        return tnp.asarray(inputs, dtype=self.dtype) * scale + offset

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "scale": _to_json(self.scale),
            "offset": _to_json(self.offset),
        }


class Normalization(Layer):
    """``(inputs - mean) / sqrt(variance)`` per position of the kept ``axis``, with the
    statistics given or learned by `adapt` (Keras' ``Normalization``).

    Args:
        axis: The axis (or axes) with separate statistics, e.g. -1: one mean and
            variance per feature; None: one for everything.
        mean: Optional mean (then ``variance`` too): a number or an array
            broadcast over the kept axes. Without it, call `adapt` first.
        variance: Optional variance, like ``mean``.
        invert: Undo a normalization instead: ``mean + inputs * sqrt(variance)``.

    Without ``mean``, the layer's weights are ``mean``, ``variance`` and ``count`` (as in
    Keras 3, ``count`` is kept for older saved files and stays 0: `adapt` sets only the
    mean and variance).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.Normalization()
        >>> layer.adapt(np.array([[0.0, 10.0], [2.0, 30.0]], np.float32))
        >>> layer(np.array([[1.0, 20.0]], np.float32)).numpy()
        array([[0., 0.]], dtype=float32)
        >>> [w.name.split("/")[-1] for w in layer.weights]
        ['mean', 'variance', 'count']
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    _check_input_shape = False

    def __init__(
        self,
        axis: int | Sequence[int] | None = -1,
        mean: Any = None,
        variance: Any = None,
        invert: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        axes = () if axis is None else (axis,) if isinstance(axis, int | np.integer) else axis
        if not isinstance(axes, Sequence) or not all(
            isinstance(a, int | np.integer) and not isinstance(a, bool) for a in axes
        ):
            raise ValueError(f"{owner}: axis must be None, an int or ints, got {axis!r}")
        self.axis = tuple(int(a) for a in axes)
        if (mean is None) != (variance is None):
            raise ValueError(
                f"{owner}: give both mean and variance, or neither (then call adapt); got "
                f"mean={mean!r}, variance={variance!r}"[:200]
            )
        if mean is not None:
            if np.shape(mean) != np.shape(variance) or np.ndim(mean) > len(self.axis):
                raise ValueError(
                    f"{owner}: mean and variance must have one shape, of rank at most the "
                    f"number of axes ({len(self.axis)}); got shapes {np.shape(mean)} and "
                    f"{np.shape(variance)}"
                )
        self.input_mean = mean
        self.input_variance = variance
        self.invert = check_bool(owner, "invert", invert)

    def build(self, input_shape: Any) -> None:
        owner = layer_owner(self)
        rank = len(input_shape)
        if any(not -rank <= a < rank for a in self.axis):
            raise ValueError(f"{owner}: axis {self.axis} out of range for inputs of rank {rank}")
        self._keep_axis = tuple(sorted(a % rank for a in self.axis))
        if any(input_shape[a] is None for a in self._keep_axis):
            raise ValueError(
                f"{owner}: the kept axes {self._keep_axis} of inputs {tuple(input_shape)} must "
                "be known"
            )
        self._reduce_axis = tuple(a for a in range(rank) if a not in self._keep_axis)
        self._broadcast_shape = tuple(
            int(input_shape[a]) if a in self._keep_axis else 1 for a in range(rank)
        )
        self._build_input_shape = tuple(input_shape)
        shape = tuple(int(input_shape[a]) for a in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(shape, "zeros", trainable=False, name="mean")
            self.adapt_variance = self.add_weight(shape, "ones", trainable=False, name="variance")
            self.count = self.add_weight((), "zeros", "int32", trainable=False, name="count")
        else:
            self._fixed = (
                self._broadcast(np.asarray(self.input_mean, self.dtype)),
                self._broadcast(np.asarray(self.input_variance, self.dtype)),
            )

    def _broadcast(self, value: np.ndarray) -> np.ndarray:
        """A given statistic (its trailing axes are the kept axes) in broadcast shape."""
        expanded = [1] * len(self._broadcast_shape)
        for i in range(1, value.ndim + 1):
            expanded[self._keep_axis[-i]] = value.shape[-i]
        return np.broadcast_to(value.reshape(expanded), self._broadcast_shape)

    def adapt(self, data: Any) -> None:
        """Learn the mean and variance of ``data`` (an array or Tensor, or an iterable of
        batches, which are combined exactly as one array would be).

        Args:
            data: The samples, batch axis first.
        """
        owner = layer_owner(self)
        if self.input_mean is not None:
            raise ValueError(f"{owner}: mean and variance were given: adapt is not needed")
        batches: Iterable[Any] = (
            [data] if isinstance(data, np.ndarray) or hasattr(data, "numpy") else data
        )
        total_mean = total_var = None
        total_count = 0
        for batch in batches:
            if isinstance(batch, tuple):  # (x, y) pairs of a dataset: x is adapted
                batch = batch[0]
            array = np.asarray(batch.numpy() if hasattr(batch, "numpy") else batch, np.float64)
            if not self.built:
                self.build(array.shape)
                self.built = True
            if any(array.shape[a] != self._build_input_shape[a] for a in self._keep_axis):
                raise ValueError(
                    f"{owner}: adapt data of shape {array.shape} does not match the "
                    f"layer's input shape {self._build_input_shape} on axes {self._keep_axis}"
                )
            count = math.prod(array.shape[a] for a in self._reduce_axis)
            batch_mean = array.mean(axis=self._reduce_axis)
            batch_var = array.var(axis=self._reduce_axis)
            if total_mean is None:
                total_mean, total_var, total_count = batch_mean, batch_var, count
                continue
            # Chan's parallel combination: the batches give the statistics of the whole.
            total_count += count
            weight = count / total_count
            new_mean = total_mean * (1 - weight) + batch_mean * weight
            total_var = (total_var + (total_mean - new_mean) ** 2) * (1 - weight) + (
                batch_var + (batch_mean - new_mean) ** 2
            ) * weight
            total_mean = new_mean
        if total_mean is None:
            raise ValueError(f"{owner}: adapt received no data")
        self.adapt_mean.assign(total_mean.astype(self.dtype))
        self.adapt_variance.assign(total_var.astype(self.dtype))
        # `count` stays as it is: Keras 3 keeps the weight for older saved models only and
        # never updates it, so the saved state matches Keras's.

    def call(self, inputs: Any) -> Any:
        if self.input_mean is None:
            mean = tnp.reshape(self.adapt_mean, self._broadcast_shape)
            variance = tnp.reshape(self.adapt_variance, self._broadcast_shape)
        else:
            mean, variance = self._fixed
        inputs = tnp.asarray(inputs, dtype=self.dtype)
        std = tnp.maximum(tnp.sqrt(variance), _EPSILON)
        if self.invert:
            return mean + inputs * std
        return (inputs - mean) / std

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": list(self.axis),
            "invert": self.invert,
            "mean": _to_json(self.input_mean),
            "variance": _to_json(self.input_variance),
        }


class CategoryEncoding(Layer):
    """Integer category ids to one-hot, multi-hot or count vectors of ``num_tokens``.

    Ids outside ``[0, num_tokens)`` give all-zero rows, as on Keras' JAX backend.

    Args:
        num_tokens: Number of categories.
        output_mode: ``"one_hot"`` (one vector per id; a trailing axis of size 1 is
            replaced), ``"multi_hot"`` (1 for each id present in a sample's last axis;
            also ``"binary"``) or ``"count"`` (how often each id occurs).
        sparse: Must be False (tapegrad has no sparse tensors).

    Call arguments:
        inputs: Integer ids, ``(batch,)`` or ``(batch, ids)``.
        count_weights: Optional weights of the ids for ``"count"`` (summed per category).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.CategoryEncoding(4, "multi_hot")(np.array([[0, 1], [2, 2]])).numpy()
        array([[1., 1., 0., 0.],
               [0., 0., 1., 0.]], dtype=float32)
    """

    _check_input_shape = False

    def __init__(
        self,
        num_tokens: int | None = None,
        output_mode: str = "multi_hot",
        sparse: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        if num_tokens is None:
            raise ValueError(f"{owner}: num_tokens must be set")
        self.num_tokens = check_positive_int(owner, "num_tokens", num_tokens)
        if output_mode == "binary":
            output_mode = "multi_hot"
        self.output_mode = check_choice(
            owner, "output_mode", output_mode, ("count", "one_hot", "multi_hot")
        )
        if check_bool(owner, "sparse", sparse):
            raise ValueError(f"{owner}: sparse=True is not supported (no sparse tensors)")
        self.sparse = False

    def call(self, inputs: Any, count_weights: Any = None) -> Any:
        owner = layer_owner(self)
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(f"{owner}: count_weights are only used with output_mode='count'")
        inputs = tnp.asarray(inputs)
        shape = tuple(shape_of(inputs))
        if np.dtype(inputs.dtype).kind not in "biuf" or len(shape) > 2:
            raise ValueError(
                f"{owner}: expects integer ids of shape (batch,) or (batch, ids), got "
                f"{shape} of dtype {inputs.dtype}"
            )
        if len(shape) == 0:
            inputs = tnp.expand_dims(inputs, -1)
        ids = np.arange(self.num_tokens)
        hot = tnp.asarray(tnp.expand_dims(inputs, -1) == ids, dtype=self.dtype)
        if self.output_mode == "one_hot":
            return hot[..., 0, :] if len(shape) > 1 and shape[-1] == 1 else hot
        axis = 1 if len(shape) > 1 else 0
        if self.output_mode == "multi_hot":
            return tnp.max(hot, axis=axis)
        if count_weights is not None:
            hot = hot * tnp.expand_dims(tnp.asarray(count_weights, dtype=self.dtype), -1)
        return tnp.sum(hot, axis=axis)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Keras' shapes: ``(..., num_tokens)`` replacing or extending the last axis."""
        shape = tuple(input_shape)
        if not shape:
            return (self.num_tokens,)
        if self.output_mode == "one_hot" and (shape[-1] != 1 or len(shape) == 1):
            return shape + (self.num_tokens,)
        return shape[:-1] + (self.num_tokens,)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_tokens": self.num_tokens,
            "output_mode": self.output_mode,
        }


class Resizing(Layer):
    """Resizes images to ``(height, width)`` (Keras' ``Resizing``; JAX's resampling
    without antialiasing: half-pixel centres, edges clamped).

    Args:
        height: Output height.
        width: Output width.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        crop_to_aspect_ratio: Crop the largest centred window of the target aspect
            ratio first (no distortion).
        pad_to_aspect_ratio: Pad the image to the target aspect ratio first, with
            ``fill_value``: ``floor(difference / 2)`` rows/columns on each side (an odd
            difference leaves the result one short, resized away, as Keras does).
        fill_mode: ``"constant"`` (the only mode, as in Keras).
        fill_value: Padding value for ``pad_to_aspect_ratio``.
        antialias: Must be False.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.Resizing(4, 6)(np.ones((2, 8, 8, 3), np.float32)).shape
        (2, 4, 6, 3)
    """

    _check_input_shape = False

    def __init__(
        self,
        height: int,
        width: int,
        interpolation: str = "bilinear",
        crop_to_aspect_ratio: bool = False,
        pad_to_aspect_ratio: bool = False,
        fill_mode: str = "constant",
        fill_value: float = 0.0,
        antialias: bool = False,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        self.height = check_positive_int(owner, "height", height)
        self.width = check_positive_int(owner, "width", width)
        self.interpolation = check_choice(
            owner, "interpolation", interpolation, ("bilinear", "nearest")
        )
        self.crop_to_aspect_ratio = check_bool(owner, "crop_to_aspect_ratio", crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = check_bool(owner, "pad_to_aspect_ratio", pad_to_aspect_ratio)
        if self.crop_to_aspect_ratio and self.pad_to_aspect_ratio:
            raise ValueError(
                f"{owner}: only one of crop_to_aspect_ratio and pad_to_aspect_ratio may be True"
            )
        self.fill_mode = check_choice(owner, "fill_mode", fill_mode, ("constant",))
        self.fill_value = float(fill_value)
        if check_bool(owner, "antialias", antialias):
            raise ValueError(f"{owner}: antialias=True is not supported")
        self.antialias = False
        self.data_format = normalize_data_format(data_format, owner)

    def _axes(self, rank: int) -> tuple[int, int]:
        if self.data_format == "channels_first":
            return rank - 2, rank - 1
        return rank - 3, rank - 2

    def call(self, inputs: Any) -> Any:
        shape = tuple(shape_of(inputs))
        if len(shape) not in (3, 4):
            raise ValueError(
                f"{layer_owner(self)}: expects images (batch, height, width, channels) or "
                f"one image (height, width, channels) ({self.data_format}), got shape {shape}"
            )
        if np.dtype(inputs.dtype).kind != "f":
            inputs = tnp.asarray(inputs, dtype=self.dtype)
        # ops.image.resize crops and pads (floor(difference / 2) on each side) as Keras.
        return ops.image.resize(
            inputs,
            (self.height, self.width),
            interpolation=self.interpolation,
            crop_to_aspect_ratio=self.crop_to_aspect_ratio,
            pad_to_aspect_ratio=self.pad_to_aspect_ratio,
            fill_value=self.fill_value,
            data_format=self.data_format,
        )

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape with height and width replaced."""
        shape = list(input_shape)
        h_axis, w_axis = self._axes(len(shape))
        shape[h_axis], shape[w_axis] = self.height, self.width
        return tuple(shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "interpolation": self.interpolation,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "antialias": self.antialias,
            "data_format": self.data_format,
        }


__all__ = ["CategoryEncoding", "Normalization", "Rescaling", "Resizing"]

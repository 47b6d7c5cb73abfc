"""Reshaping layers (Keras 3): `Permute`, `RepeatVector`, `ZeroPadding1D/2D/3D`,
`Cropping1D/2D/3D` and `UpSampling1D/2D/3D`.

Padding and cropping amounts are ``((before, after), ...)`` per spatial axis, as Keras
stores them. Bilinear upsampling is one small interpolation matrix per axis applied with
`tensordot` (no loop over pixels); its gradient is the transposed matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.layers.conv import normalize_data_format, normalize_tuple
from tapegrad.nn.validation import check_choice, check_positive_int, layer_owner


def _spatial_axes(rank: int, data_format: str) -> list[int]:
    return list(range(2, 2 + rank)) if data_format == "channels_first" else list(range(1, 1 + rank))


def _check_input(layer: Layer, shape: Sequence[Any], rank: int) -> None:
    if len(shape) != rank + 2:
        raise ValueError(
            f"{layer_owner(layer)}: expects inputs with {rank} spatial axes, a batch and a "
            f"channel axis ({rank + 2} dims), got shape {tuple(shape)}"
        )


def _amounts(owner: str, name: str, value: Any, rank: int) -> tuple[tuple[int, int], ...]:
    """Keras' forms: an int (every side), ``rank`` ints (symmetric per axis), or ``rank``
    pairs ``(before, after)``; for one axis also one pair ``(before, after)``."""

    def pair(item: Any, what: str) -> tuple[int, int]:
        if isinstance(item, int | np.integer) and not isinstance(item, bool) and item >= 0:
            return (int(item), int(item))
        if (
            isinstance(item, list | tuple)
            and len(item) == 2
            and all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in item)
            and min(item) >= 0
        ):
            return (int(item[0]), int(item[1]))
        raise ValueError(
            f"{owner}: {what} must be a non-negative int or a pair of them, got {value!r}"
        )

    if rank == 1:
        return (pair(value, name),)
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return (pair(value, name),) * rank
    if not isinstance(value, list | tuple) or len(value) != rank:
        raise ValueError(
            f"{owner}: {name} must be an int or {rank} entries (ints or (before, after) "
            f"pairs), got {value!r}"
        )
    return tuple(pair(item, name) for item in value)


class _ZeroPadding(Layer):
    """Zero rows/columns/planes at the edges of the spatial axes; subclassed by rank."""

    rank = 1
    _check_input_shape = False

    def __init__(self, padding: Any, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        self.padding = _amounts(owner, "padding", padding, self.rank)
        self.data_format = normalize_data_format(data_format, owner)

    def call(self, inputs: Any) -> Any:
        _check_input(self, shape_of(inputs), self.rank)
        widths = [(0, 0)] * (self.rank + 2)
        for axis, amount in zip(
            _spatial_axes(self.rank, self.data_format), self.padding, strict=True
        ):
            widths[axis] = amount
        return tnp.pad(inputs, widths)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape with each spatial axis grown by its padding."""
        shape = list(input_shape)
        for axis, (a, b) in zip(
            _spatial_axes(self.rank, self.data_format), self.padding, strict=True
        ):
            shape[axis] = None if shape[axis] is None else shape[axis] + a + b
        return tuple(shape)

    def get_config(self) -> dict[str, Any]:
        padding: Any = [list(p) for p in self.padding]
        return {
            **super().get_config(),
            "padding": padding[0] if self.rank == 1 else padding,
            "data_format": self.data_format,
        }


class ZeroPadding1D(_ZeroPadding):
    """Zeros at the start and end of the steps axis of ``(batch, steps, features)``.

    Args:
        padding: An int (both ends) or ``(before, after)``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.ZeroPadding1D((1, 2))(np.ones((1, 3, 2), np.float32)).shape
        (1, 6, 2)
    """

    rank = 1

    def __init__(self, padding: Any = 1, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding2D(_ZeroPadding):
    """Zero rows and columns around images.

    Args:
        padding: An int, ``(symmetric_height, symmetric_width)``, or
            ``((top, bottom), (left, right))``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.ZeroPadding2D(((1, 0), (2, 2)))(np.ones((1, 3, 3, 1), np.float32)).shape
        (1, 4, 7, 1)
    """

    rank = 2

    def __init__(
        self, padding: Any = (1, 1), data_format: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    """Zero planes around volumes ``(batch, d1, d2, d3, channels)``.

    Args:
        padding: An int, 3 ints, or 3 ``(before, after)`` pairs.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.ZeroPadding3D()(np.ones((1, 2, 2, 2, 1), np.float32)).shape
        (1, 4, 4, 4, 1)
    """

    rank = 3

    def __init__(
        self, padding: Any = ((1, 1), (1, 1), (1, 1)), data_format: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(padding, data_format, **kwargs)


class _Cropping(Layer):
    """Removes rows/columns/planes at the edges of the spatial axes; subclassed by rank."""

    rank = 1
    _check_input_shape = False

    def __init__(self, cropping: Any, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        self.cropping = _amounts(owner, "cropping", cropping, self.rank)
        self.data_format = normalize_data_format(data_format, owner)

    def call(self, inputs: Any) -> Any:
        shape = shape_of(inputs)
        _check_input(self, shape, self.rank)
        self.compute_output_shape(shape)  # the checks
        index = [slice(None)] * (self.rank + 2)
        for axis, (a, b) in zip(
            _spatial_axes(self.rank, self.data_format), self.cropping, strict=True
        ):
            index[axis] = slice(a, shape[axis] - b)
        return inputs[tuple(index)]

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape with each spatial axis shrunk by its cropping."""
        shape = list(input_shape)
        for axis, (a, b) in zip(
            _spatial_axes(self.rank, self.data_format), self.cropping, strict=True
        ):
            if shape[axis] is None:
                continue
            if a + b >= shape[axis]:
                raise ValueError(
                    f"{layer_owner(self)}: cropping {self.cropping} leaves nothing of inputs "
                    f"of shape {tuple(input_shape)}"
                )
            shape[axis] -= a + b
        return tuple(shape)

    def get_config(self) -> dict[str, Any]:
        cropping: Any = [list(c) for c in self.cropping]
        config = {**super().get_config(), "cropping": cropping[0] if self.rank == 1 else cropping}
        if self.rank > 1:
            config["data_format"] = self.data_format
        return config


class Cropping1D(_Cropping):
    """Crops the steps axis of ``(batch, steps, features)``.

    Args:
        cropping: An int (both ends) or ``(start, end)``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.Cropping1D((1, 2))(np.ones((1, 5, 2), np.float32)).shape
        (1, 2, 2)
    """

    rank = 1

    def __init__(self, cropping: Any = (1, 1), **kwargs: Any) -> None:
        super().__init__(cropping, None, **kwargs)


class Cropping2D(_Cropping):
    """Crops rows and columns of images.

    Args:
        cropping: An int, ``(symmetric_height, symmetric_width)``, or
            ``((top, bottom), (left, right))``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.Cropping2D(((1, 0), (1, 1)))(np.ones((1, 4, 4, 3), np.float32)).shape
        (1, 3, 2, 3)
    """

    rank = 2

    def __init__(
        self, cropping: Any = ((0, 0), (0, 0)), data_format: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(cropping, data_format, **kwargs)


class Cropping3D(_Cropping):
    """Crops volumes ``(batch, d1, d2, d3, channels)``.

    Args:
        cropping: An int, 3 ints, or 3 ``(before, after)`` pairs.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.Cropping3D()(np.ones((1, 3, 4, 5, 1), np.float32)).shape
        (1, 1, 2, 3, 1)
    """

    rank = 3

    def __init__(
        self,
        cropping: Any = ((1, 1), (1, 1), (1, 1)),
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(cropping, data_format, **kwargs)


def interpolation_matrix(in_size: int, out_size: int, method: str) -> np.ndarray:
    """``(out_size, in_size)`` weights resampling one axis (half-pixel centres, edges
    clamped): ``"nearest"`` or ``"bilinear"`` as JAX's ``image.resize`` without
    antialiasing, which Keras 3 uses.

    Examples:
        >>> interpolation_matrix(2, 4, "bilinear")
        array([[1.  , 0.  ],
               [0.75, 0.25],
               [0.25, 0.75],
               [0.  , 1.  ]])
    """
    rows = np.arange(out_size)
    matrix = np.zeros((out_size, in_size))
    if method == "nearest":
        source = np.minimum(np.floor((rows + 0.5) * in_size / out_size), in_size - 1)
        matrix[rows, source.astype(int)] = 1.0
        return matrix
    position = np.clip((rows + 0.5) * in_size / out_size - 0.5, 0, in_size - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, in_size - 1)
    frac = position - low
    np.add.at(matrix, (rows, low), 1 - frac)
    np.add.at(matrix, (rows, high), frac)
    return matrix


def resample_axis(inputs: Any, axis: int, out_size: int, method: str) -> Any:
    """``inputs`` resampled to ``out_size`` along ``axis`` by `interpolation_matrix`."""
    in_size = shape_of(inputs)[axis]
    matrix = interpolation_matrix(in_size, out_size, method).astype(inputs.dtype)
    moved = tnp.tensordot(inputs, matrix, axes=([axis], [1]))  # the new axis comes last
    return tnp.moveaxis(moved, -1, axis)


class _UpSampling(Layer):
    """Repeats (or interpolates) along the spatial axes; subclassed by rank."""

    rank = 1
    _check_input_shape = False

    def __init__(
        self,
        size: Any,
        data_format: str | None = None,
        interpolation: str = "nearest",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        self.size = normalize_tuple(size, self.rank, "size", owner)
        self.data_format = normalize_data_format(data_format, owner)
        self.interpolation = check_choice(
            owner, "interpolation", str(interpolation).lower(), ("nearest", "bilinear")
        )

    def call(self, inputs: Any) -> Any:
        shape = shape_of(inputs)
        _check_input(self, shape, self.rank)
        for axis, factor in zip(_spatial_axes(self.rank, self.data_format), self.size, strict=True):
            if factor == 1:
                continue
            if self.interpolation == "nearest":
                inputs = tnp.repeat(inputs, factor, axis=axis)
            else:
                inputs = resample_axis(inputs, axis, shape[axis] * factor, "bilinear")
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape with each spatial axis multiplied by its factor."""
        shape = list(input_shape)
        for axis, factor in zip(_spatial_axes(self.rank, self.data_format), self.size, strict=True):
            shape[axis] = None if shape[axis] is None else shape[axis] * factor
        return tuple(shape)


class UpSampling1D(_UpSampling):
    """Repeats each step ``size`` times along the steps axis of ``(batch, steps, features)``.

    Args:
        size: The repeat factor.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.array([[[1.0], [2.0]]], np.float32)
        >>> tg.layers.UpSampling1D(2)(x).numpy()[0, :, 0]
        array([1., 1., 2., 2.], dtype=float32)
    """

    rank = 1

    def __init__(self, size: int = 2, **kwargs: Any) -> None:
        super().__init__(size, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**Layer.get_config(self), "size": self.size[0]}


class UpSampling2D(_UpSampling):
    """Upsamples images by ``size`` factors: repeated rows and columns (``"nearest"``) or
    bilinear interpolation (``"bilinear"``, as Keras 3's JAX backend resizes).

    Args:
        size: An int or ``(rows, cols)`` factors.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        interpolation: ``"nearest"`` or ``"bilinear"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.array([[[[0.0], [1.0]]]], np.float32)
        >>> tg.layers.UpSampling2D((1, 2), interpolation="bilinear")(x).numpy()[0, 0, :, 0]
        array([0.  , 0.25, 0.75, 1.  ], dtype=float32)
    """

    rank = 2

    def __init__(
        self,
        size: Any = (2, 2),
        data_format: str | None = None,
        interpolation: str = "nearest",
        **kwargs: Any,
    ) -> None:
        super().__init__(size, data_format, interpolation, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "size": list(self.size),
            "data_format": self.data_format,
            "interpolation": self.interpolation,
        }


class UpSampling3D(_UpSampling):
    """Repeats each voxel ``size`` times along the three spatial axes.

    Args:
        size: An int or 3 factors.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.UpSampling3D()(np.ones((1, 1, 2, 3, 1), np.float32)).shape
        (1, 2, 4, 6, 1)
    """

    rank = 3

    def __init__(
        self, size: Any = (2, 2, 2), data_format: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(size, data_format, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": list(self.size), "data_format": self.data_format}


class Permute(Layer):
    """Permutes the non-batch axes: ``dims`` is a permutation of ``1 .. rank``.

    Args:
        dims: The new order of the axes, 1-based (the batch axis stays first).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.Permute((2, 1))(np.ones((4, 10, 64), np.float32)).shape
        (4, 64, 10)
    """

    _check_input_shape = False

    def __init__(self, dims: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        dims_tuple = tuple(dims) if isinstance(dims, list | tuple) else None
        if dims_tuple is None or sorted(dims_tuple) != list(range(1, len(dims_tuple) + 1)):
            raise ValueError(
                f"{layer_owner(self)}: dims must be a permutation of 1..rank (the batch axis "
                f"0 stays), got {dims!r}"
            )
        self.dims = tuple(int(d) for d in dims_tuple)

    def call(self, inputs: Any) -> Any:
        if len(shape_of(inputs)) != len(self.dims) + 1:
            raise ValueError(
                f"{layer_owner(self)}: dims {self.dims} need inputs of rank "
                f"{len(self.dims) + 1}, got shape {tuple(shape_of(inputs))}"
            )
        return tnp.transpose(inputs, (0, *self.dims))

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape, permuted."""
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """Repeats ``(batch, features)`` inputs ``n`` times: ``(batch, n, features)``.

    Args:
        n: Number of repetitions.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.RepeatVector(3)(np.ones((2, 4), np.float32)).shape
        (2, 3, 4)
    """

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = check_positive_int(layer_owner(self), "n", n)

    def call(self, inputs: Any) -> Any:
        shape = shape_of(inputs)
        if len(shape) != 2:
            raise ValueError(
                f"{layer_owner(self)}: expects (batch, features) inputs, got shape {tuple(shape)}"
            )
        return tnp.repeat(tnp.expand_dims(inputs, 1), self.n, axis=1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """``(batch, n, features)``."""
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}


__all__ = [
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "Permute",
    "RepeatVector",
    "UpSampling1D",
    "UpSampling2D",
    "UpSampling3D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "ZeroPadding3D",
]

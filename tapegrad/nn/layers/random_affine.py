"""Random affine augmentation layers (Keras 3): `RandomRotation`, `RandomZoom`,
`RandomTranslation`, `RandomShear`.

The sampling is Keras' ``ops.image.affine_transform`` on the JAX backend (SciPy's
``map_coordinates`` conventions): output pixel ``(y, x)`` reads the input at
``(b0 x + b1 y + b2, a0 x + a1 y + a2)`` with bilinear or nearest interpolation, and
points outside the image follow ``fill_mode`` (``"reflect"``: ``d c b a | a b c d``,
``"wrap"``, ``"nearest"``, ``"constant"``: ``fill_value``). Pixels are gathered with
`take_along_axis` on the flattened image (no loop over pixels), so the output is
differentiable with respect to the image and a compiled step draws new angles each run.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import random
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.layers.conv import normalize_data_format
from tapegrad.nn.validation import check_choice, check_int, layer_owner

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")


def _fix_index(index: Any, size: int, fill_mode: str) -> Any:
    """Integer source indices mapped into ``[0, size)`` as SciPy/JAX's modes do."""
    if fill_mode == "nearest":
        return tnp.clip(index, 0, size - 1)
    if fill_mode == "wrap":
        return tnp.mod(index, size)
    if fill_mode == "reflect":  # JAX's reflect: the triangle wave of 2 * index + 1
        period = 2 * size
        folded = tnp.abs(tnp.mod(2 * index + 1 + period, 2 * period) - period)
        return tnp.floor_divide(folded - 1, 2)
    return index  # constant: out-of-range points are replaced by the fill value


def _round_half_away(x: Any) -> Any:
    """JAX's order-0 rounding (half away from zero, not NumPy's half to even)."""
    return tnp.sign(x) * tnp.floor(tnp.abs(x) + 0.5)


def affine_transform(
    images: Any,
    transform: Any,
    interpolation: str = "bilinear",
    fill_mode: str = "constant",
    fill_value: float = 0.0,
) -> Any:
    """Apply one affine map per image of ``(batch, height, width, channels)`` images.

    Args:
        images: Channels-last images.
        transform: ``(batch, 8)``: Keras' ``[a0, a1, a2, b0, b1, b2, c0, c1]`` mapping
            output ``(x, y)`` to input ``(a0 x + a1 y + a2, b0 x + b1 y + b2)`` (``c0``,
            ``c1``, the projective part, must be 0).
        interpolation: ``"bilinear"`` or ``"nearest"``.
        fill_mode: ``"reflect"``, ``"wrap"``, ``"nearest"`` or ``"constant"``.
        fill_value: The value of outside points for ``"constant"``.

    Returns:
        The transformed images, same shape and dtype.

    Examples:
        >>> import numpy as np
        >>> x = np.arange(4.0).reshape(1, 1, 4, 1)
        >>> shift = np.array([[1.0, 0, 1.5, 0, 1, 0, 0, 0]])  # read 1.5 pixels to the right
        >>> affine_transform(x, shift, fill_mode="nearest").numpy().ravel()
        array([1.5, 2.5, 3. , 3. ])
    """
    images = tnp.asarray(images)
    batch, height, width, channels = shape_of(images)
    dtype = np.dtype(images.dtype)
    transform = tnp.asarray(transform, dtype=dtype)
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    rows, cols = rows.astype(dtype), cols.astype(dtype)

    def coefficient(k: int) -> Any:
        return tnp.reshape(transform[:, k], (batch, 1, 1))

    source_x = coefficient(0) * cols + coefficient(1) * rows + coefficient(2)
    source_y = coefficient(3) * cols + coefficient(4) * rows + coefficient(5)
    flat = tnp.reshape(images, (batch, height * width, channels))
    if interpolation == "nearest":
        corners = [((_round_half_away(source_y), 1.0), (_round_half_away(source_x), 1.0))]
    else:
        y0, x0 = tnp.floor(source_y), tnp.floor(source_x)
        wy, wx = source_y - y0, source_x - x0
        corners = [
            ((y, w_y), (x, w_x))
            for y, w_y in ((y0, 1 - wy), (y0 + 1, wy))
            for x, w_x in ((x0, 1 - wx), (x0 + 1, wx))
        ]
    output = None
    for (row, row_weight), (col, col_weight) in corners:
        row_index = tnp.asarray(row, dtype="int64")
        col_index = tnp.asarray(col, dtype="int64")
        valid = None
        if fill_mode == "constant":
            valid = (row_index >= 0) & (row_index < height) & (col_index >= 0) & (col_index < width)
        row_index = tnp.clip(_fix_index(row_index, height, fill_mode), 0, height - 1)
        col_index = tnp.clip(_fix_index(col_index, width, fill_mode), 0, width - 1)
        index = tnp.reshape(row_index * width + col_index, (batch, height * width, 1))
        values = tnp.reshape(
            tnp.take_along_axis(flat, index, axis=1), (batch, height, width, channels)
        )
        if valid is not None:
            values = tnp.where(tnp.expand_dims(valid, -1), values, fill_value)
        term = (
            values
            if interpolation == "nearest"
            else values * tnp.expand_dims(row_weight * col_weight, -1)
        )
        output = term if output is None else output + term
    return tnp.asarray(output, dtype=dtype)


def rotation_transform(angles: Any, height: int, width: int) -> Any:
    """Keras' ``(batch, 8)`` transform rotating about the image centre by ``angles``
    (degrees; positive: counter-clockwise in the output)."""
    radians = angles * (math.pi / 180.0)
    cos, sin = tnp.cos(radians), tnp.sin(radians)
    cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
    a0, a1 = cos, -sin
    b0, b1 = sin, cos
    a2 = cx - cx * a0 - cy * a1
    b2 = cy - cx * b0 - cy * b1
    zeros = tnp.zeros_like(angles)
    return tnp.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def _factor_range(
    owner: str, name: str, factor: Any, low_open: bool = False
) -> tuple[float, float]:
    """Keras' factor forms: ``f`` (``[-f, f]``) or ``(lower, upper)``, within [-1, 1]
    (``(-1, 1]`` for zoom factors, ``low_open``)."""
    bad = ValueError(
        f"{owner}: {name} must be a number or a pair of numbers in "
        f"{'(' if low_open else '['}-1, 1], got {factor!r}"
    )
    values = list(factor) if isinstance(factor, list | tuple) else [factor]
    if len(values) not in (1, 2) or (isinstance(factor, list | tuple) and len(values) != 2):
        raise bad
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise bad
        if value > 1 or value < -1 or (low_open and value == -1):
            raise bad
    if len(values) == 2:
        low, high = sorted(float(v) for v in values)
        return low, high
    return -abs(float(values[0])), abs(float(values[0]))


class _RandomAffine(Layer):
    """An augmentation drawing one affine map per image while training; subclasses say
    how to draw it (`_transform`)."""

    _check_input_shape = False

    def __init__(
        self,
        fill_mode: str,
        interpolation: str,
        seed: int | None,
        fill_value: float,
        data_format: str | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        self.fill_mode = check_choice(owner, "fill_mode", fill_mode, _FILL_MODES)
        self.interpolation = check_choice(
            owner, "interpolation", interpolation, ("nearest", "bilinear")
        )
        self.seed = check_int(owner, "seed", seed, minimum=0, allow_none=True)
        self.fill_value = float(fill_value)
        self.data_format = normalize_data_format(data_format, owner)
        self.generator = random.SeedGenerator(seed, name=f"{self.name}_generator")

    def _uniform(self, batch: int, low: float, high: float) -> Any:
        """``(batch,)`` draws in ``[low, high)`` (constant when the range is empty)."""
        if low == high:
            return tnp.full((batch,), low, dtype=self.dtype)
        return random.uniform((batch,), low, high, dtype=self.dtype, seed=self.generator)

    def _transform(self, batch: int, height: int, width: int) -> Any:
        raise NotImplementedError

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        shape = tuple(shape_of(inputs))
        if len(shape) not in (3, 4):
            raise ValueError(
                f"{layer_owner(self)}: expects images (batch, height, width, channels) or "
                f"one image ({self.data_format}), got shape {shape}"
            )
        inputs = tnp.asarray(inputs, dtype=self.dtype)
        if training is False:
            return inputs
        images = inputs if len(shape) == 4 else tnp.expand_dims(inputs, 0)
        if self.data_format == "channels_first":
            images = tnp.transpose(images, (0, 2, 3, 1))
        batch, height, width, _ = shape_of(images)
        out = affine_transform(
            images,
            self._transform(batch, height, width),
            self.interpolation,
            self.fill_mode,
            self.fill_value,
        )
        if self.data_format == "channels_first":
            out = tnp.transpose(out, (0, 3, 1, 2))
        return out if len(shape) == 4 else out[0]

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "data_format": self.data_format,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "interpolation": self.interpolation,
            "seed": self.seed,
        }


class RandomRotation(_RandomAffine):
    """Rotates each image by a random angle while training (Keras' ``RandomRotation``).

    Args:
        factor: Fraction of a full turn: ``f`` draws angles in ``[-f * 360, f * 360]``
            degrees, ``(lower, upper)`` in ``[lower * 360, upper * 360]``.
        fill_mode: ``"reflect"`` (default), ``"wrap"``, ``"constant"`` or ``"nearest"``.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        seed: Seed of the layer's generator.
        fill_value: The value of outside points for ``fill_mode="constant"``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Call arguments:
        inputs: Images ``(batch, height, width, channels)`` or one image.
        training: Whether to rotate (default True when called directly, as in Keras).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.RandomRotation((0.25, 0.25), fill_mode="constant")
        >>> x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
        >>> layer(x).numpy()[0, :, :, 0].round(4)  # a quarter turn
        array([[2., 5., 8.],
               [1., 4., 7.],
               [0., 3., 6.]], dtype=float32)
    """

    def __init__(
        self,
        factor: Any,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        seed: int | None = None,
        fill_value: float = 0.0,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = _factor_range(layer_owner(self), "factor", factor)

    def _transform(self, batch: int, height: int, width: int) -> Any:
        angles = self._uniform(batch, self.factor[0] * 360.0, self.factor[1] * 360.0)
        return rotation_transform(angles, height, width)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "factor": list(self.factor)}


class RandomZoom(_RandomAffine):
    """Zooms each image by random factors while training (Keras' ``RandomZoom``): the
    image is sampled over ``1 + f`` times its height (and width), about its centre, so a
    positive ``f`` zooms out and a negative one zooms in.

    Args:
        height_factor: ``f`` (``[-f, f]``) or ``(lower, upper)``, within (-1, 1].
        width_factor: Like ``height_factor``; None keeps the aspect ratio (one draw).
        fill_mode: ``"reflect"`` (default), ``"wrap"``, ``"constant"`` or ``"nearest"``.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        seed: Seed of the layer's generator.
        fill_value: The value of outside points for ``fill_mode="constant"``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.RandomZoom((1.0, 1.0), fill_mode="constant")
        >>> layer(np.ones((1, 3, 3, 1), np.float32)).numpy()[0, :, :, 0]  # zoomed out 2x
        array([[0., 0., 0.],
               [0., 1., 0.],
               [0., 0., 0.]], dtype=float32)
    """

    def __init__(
        self,
        height_factor: Any,
        width_factor: Any = None,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        seed: int | None = None,
        fill_value: float = 0.0,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        owner = layer_owner(self)
        self.height_factor = height_factor
        self.height_range = _factor_range(owner, "height_factor", height_factor, low_open=True)
        self.width_factor = width_factor
        self.width_range = (
            None
            if width_factor is None
            else _factor_range(owner, "width_factor", width_factor, low_open=True)
        )

    def _transform(self, batch: int, height: int, width: int) -> Any:
        zoom_y = self._uniform(batch, 1.0 + self.height_range[0], 1.0 + self.height_range[1])
        zoom_x = (
            zoom_y
            if self.width_range is None
            else self._uniform(batch, 1.0 + self.width_range[0], 1.0 + self.width_range[1])
        )
        zeros = tnp.zeros_like(zoom_x)
        x_offset = (width - 1.0) / 2.0 * (1.0 - zoom_x)
        y_offset = (height - 1.0) / 2.0 * (1.0 - zoom_y)
        return tnp.stack([zoom_x, zeros, x_offset, zeros, zoom_y, y_offset, zeros, zeros], 1)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "height_factor": _to_list(self.height_factor),
            "width_factor": _to_list(self.width_factor),
        }


class RandomTranslation(_RandomAffine):
    """Shifts each image by random fractions of its height and width while training
    (Keras' ``RandomTranslation``).

    Args:
        height_factor: ``f`` (shifts in ``[-f, f] * height``) or ``(lower, upper)``,
            within [-1, 1]; positive values move the image down.
        width_factor: Like ``height_factor``, for the width (positive: right).
        fill_mode: ``"reflect"`` (default), ``"wrap"``, ``"constant"`` or ``"nearest"``.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        seed: Seed of the layer's generator.
        fill_value: The value of outside points for ``fill_mode="constant"``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.RandomTranslation(0.0, (0.25, 0.25), fill_mode="constant")
        >>> layer(np.arange(4, dtype=np.float32).reshape(1, 1, 4, 1)).numpy().ravel()
        array([0., 0., 1., 2.], dtype=float32)
    """

    def __init__(
        self,
        height_factor: Any,
        width_factor: Any,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        seed: int | None = None,
        fill_value: float = 0.0,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        owner = layer_owner(self)
        self.height_factor = height_factor
        self.height_range = _factor_range(owner, "height_factor", height_factor)
        self.width_factor = width_factor
        self.width_range = _factor_range(owner, "width_factor", width_factor)

    def _transform(self, batch: int, height: int, width: int) -> Any:
        shift_y = self._uniform(batch, *self.height_range) * height
        shift_x = self._uniform(batch, *self.width_range) * width
        ones, zeros = tnp.ones_like(shift_x), tnp.zeros_like(shift_x)
        return tnp.stack([ones, zeros, -shift_x, zeros, ones, -shift_y, zeros, zeros], 1)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "height_factor": _to_list(self.height_factor),
            "width_factor": _to_list(self.width_factor),
        }


class RandomShear(_RandomAffine):
    """Shears each image by random factors while training (Keras' ``RandomShear``): the
    output pixel ``(x, y)`` reads the input at ``(x + s_x y, s_y x + y)``, with one random
    sign per image for both factors.

    Args:
        x_factor: ``f`` (``s_x`` in ``[-f, f]``) or ``(lower, upper)``, within [0, 1].
        y_factor: Like ``x_factor``, for ``s_y``.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        fill_mode: ``"reflect"`` (default), ``"wrap"``, ``"constant"`` or ``"nearest"``.
        fill_value: The value of outside points for ``fill_mode="constant"``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: Seed of the layer's generator.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.RandomShear(0.3, 0.2, seed=0)(np.ones((2, 5, 5, 3), np.float32)).shape
        (2, 5, 5, 3)
    """

    def __init__(
        self,
        x_factor: Any = 0.0,
        y_factor: Any = 0.0,
        interpolation: str = "bilinear",
        fill_mode: str = "reflect",
        fill_value: float = 0.0,
        data_format: str | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        owner = layer_owner(self)
        self.x_factor = _shear_range(owner, "x_factor", x_factor)
        self.y_factor = _shear_range(owner, "y_factor", y_factor)

    def _transform(self, batch: int, height: int, width: int) -> Any:
        sign = tnp.where(self._uniform(batch, 0.0, 1.0) > 0.5, -1.0, 1.0)
        shear_y = self._uniform(batch, *self.y_factor) * sign
        shear_x = self._uniform(batch, *self.x_factor) * sign
        ones, zeros = tnp.ones_like(shear_x), tnp.zeros_like(shear_x)
        return tnp.stack([ones, shear_x, zeros, shear_y, ones, zeros, zeros, zeros], 1)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "x_factor": list(self.x_factor),
            "y_factor": list(self.y_factor),
        }


def _shear_range(owner: str, name: str, factor: Any) -> tuple[float, float]:
    """Keras' shear factors: every given number within [0, 1]; ``f`` gives ``[-f, f]``."""
    values = list(factor) if isinstance(factor, list | tuple) else [factor]
    if (isinstance(factor, list | tuple) and len(values) != 2) or not all(
        isinstance(v, int | float | np.number) and not isinstance(v, bool) and 0 <= v <= 1
        for v in values
    ):
        raise ValueError(
            f"{owner}: {name} must be a number or a pair of numbers in [0, 1], got {factor!r}"
        )
    if len(values) == 2:
        low, high = sorted(float(v) for v in values)
        return low, high
    return -float(values[0]), float(values[0])


def _to_list(factor: Any) -> Any:
    return list(factor) if isinstance(factor, list | tuple) else factor


__all__ = ["RandomRotation", "RandomShear", "RandomTranslation", "RandomZoom"]

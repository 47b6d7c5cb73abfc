"""`GroupNormalization`, `UnitNormalization` and `RMSNormalization` (Keras 3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import ops
from tapegrad.nn import constraints, initializers, regularizers
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.validation import check_bool, check_constraint, check_number, layer_owner


class GroupNormalization(Layer):
    """Normalizes each example over groups of channels: the channels along ``axis`` are
    split into ``groups`` groups, each normalized over its channels and every other
    non-batch axis, then scaled by ``gamma`` and shifted by ``beta`` per channel.

    Args:
        groups: Number of groups (must divide the channels); -1 for one group per channel
            (instance normalization).
        axis: The channel axis.
        epsilon: Added to the variance.
        center: Learn the offset ``beta``.
        scale: Learn the scale ``gamma``.
        beta_initializer, gamma_initializer: Initializers.
        beta_regularizer, gamma_regularizer: Optional regularizers.
        beta_constraint, gamma_constraint: Optional constraints.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.random.default_rng(0).standard_normal((2, 5, 4)).astype(np.float32)
        >>> out = tg.layers.GroupNormalization(groups=2)(x).numpy()
        >>> bool(abs(out[0, :, :2].mean()) < 1e-5), out.shape
        (True, (2, 5, 4))
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    _check_input_shape = False

    def __init__(
        self,
        groups: int = 32,
        axis: int = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        if (
            isinstance(groups, bool)
            or not isinstance(groups, int | np.integer)
            or (groups <= 0 and groups != -1)
        ):
            raise ValueError(
                f"{owner}: groups must be a positive int (or -1 for instance "
                f"normalization), got {groups!r}"
            )
        if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
            raise ValueError(f"{owner}: axis must be an int, got {axis!r}")
        self.groups = int(groups)
        self.axis = int(axis)
        self.epsilon = check_number(owner, "epsilon", epsilon, low=0)
        self.center = check_bool(owner, "center", center)
        self.scale = check_bool(owner, "scale", scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = check_constraint(self, "beta_constraint", beta_constraint)
        self.gamma_constraint = check_constraint(self, "gamma_constraint", gamma_constraint)

    def build(self, input_shape: Any) -> None:
        owner = layer_owner(self)
        rank = len(input_shape)
        if not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ValueError(
                f"{owner}: axis {self.axis} is not a non-batch axis of inputs of shape "
                f"{tuple(input_shape)}"
            )
        dim = input_shape[self.axis]
        if dim is None:
            raise ValueError(f"{owner}: axis {self.axis} of inputs {tuple(input_shape)} is unknown")
        if self.groups == -1:
            self.groups = int(dim)
        if dim < self.groups or dim % self.groups:
            raise ValueError(
                f"{owner}: the {dim} channels must be a multiple of groups ({self.groups}) "
                "and at least as many"
            )
        self.channels = int(dim)
        self.gamma = (
            self.add_weight(
                (dim,),
                self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
                name="gamma",
            )
            if self.scale
            else None
        )
        self.beta = (
            self.add_weight(
                (dim,),
                self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
                name="beta",
            )
            if self.center
            else None
        )

    def call(self, inputs: Any) -> Any:
        shape = tuple(shape_of(inputs))
        axis = self.axis % len(shape)
        if shape[axis] != self.channels:
            raise ValueError(
                f"{layer_owner(self)}: inputs of shape {shape} have {shape[axis]} channels on "
                f"axis {self.axis}, but the layer was built for {self.channels}"
            )
        last = tnp.moveaxis(inputs, axis, -1)
        moved_shape = shape_of(last)
        grouped = tnp.reshape(last, (shape[0], -1, self.groups, self.channels // self.groups))
        mean = tnp.mean(grouped, axis=(1, 3), keepdims=True)
        variance = tnp.mean(tnp.square(grouped - mean), axis=(1, 3), keepdims=True)
        normalized = (grouped - mean) / tnp.sqrt(variance + self.epsilon)
        out = tnp.reshape(normalized, moved_shape)
        if self.gamma is not None:
            out = out * self.gamma
        if self.beta is not None:
            out = out + self.beta
        return tnp.moveaxis(out, -1, axis)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "groups": self.groups,
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GroupNormalization:
        config = dict(config)
        for key in ("beta_initializer", "gamma_initializer"):
            if key in config:
                config[key] = initializers.deserialize(config[key])
        for key in ("beta_regularizer", "gamma_regularizer"):
            if config.get(key) is not None:
                config[key] = regularizers.deserialize(config[key])
        return cls(**config)


class UnitNormalization(Layer):
    """Scales each example to unit L2 norm along ``axis``: ``x / max(||x||, 1e-12)``.

    Args:
        axis: An axis or a list of axes to normalize over.

    Examples:
        >>> import tapegrad as tg
        >>> tg.layers.UnitNormalization()(tg.tensor([[3.0, 4.0]])).numpy()
        array([[0.6, 0.8]], dtype=float32)
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    _check_input_shape = False

    def __init__(self, axis: int | Sequence[int] = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        axes = list(axis) if isinstance(axis, list | tuple) else [axis]
        if not axes or not all(
            isinstance(a, int | np.integer) and not isinstance(a, bool) for a in axes
        ):
            raise ValueError(f"{layer_owner(self)}: axis must be an int or ints, got {axis!r}")
        self.axis = [int(a) for a in axis] if isinstance(axis, list | tuple) else int(axis)

    def call(self, inputs: Any) -> Any:
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        square_sum = tnp.sum(tnp.square(inputs), axis=axis, keepdims=True)
        # max(norm, eps) as Keras, written so that an all-zero example has a finite gradient.
        return inputs / tnp.sqrt(tnp.maximum(square_sum, 1e-24))

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class RMSNormalization(Layer):
    """Root-mean-square normalization with a learned ``scale``:
    ``x / sqrt(mean(x**2, axis) + epsilon) * scale`` (Keras' ``RMSNormalization``).

    Args:
        axis: The axis or axes normalized over (and given a scale).
        epsilon: Added to the mean square.

    Examples:
        >>> import tapegrad as tg
        >>> layer = tg.layers.RMSNormalization(epsilon=0.0)
        >>> layer(tg.tensor([[3.0, 4.0]])).numpy().round(4)
        array([[0.8485, 1.1314]], dtype=float32)
        >>> layer.scale.shape
        (2,)
    """

    _check_input_shape = False

    def __init__(
        self, axis: int | Sequence[int] = -1, epsilon: float = 1e-6, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        axes = list(axis) if isinstance(axis, list | tuple) else [axis]
        if not axes or not all(
            isinstance(a, int | np.integer) and not isinstance(a, bool) for a in axes
        ):
            raise ValueError(f"{owner}: axis must be an int or ints, got {axis!r}")
        self.axis = sorted(int(a) for a in axis) if isinstance(axis, list | tuple) else int(axis)
        self.epsilon = check_number(owner, "epsilon", epsilon, low=0)

    def build(self, input_shape: Any) -> None:
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        rank = len(input_shape)
        if any(not -rank <= a < rank for a in axes):
            raise ValueError(
                f"{layer_owner(self)}: axis {self.axis} is out of range for inputs of shape "
                f"{tuple(input_shape)}"
            )
        self.scale = self.add_weight(tuple(input_shape[a] for a in axes), "ones", name="scale")

    def call(self, inputs: Any) -> Any:
        shape = tuple(shape_of(inputs))
        axes = sorted(
            a % len(shape) for a in (self.axis if isinstance(self.axis, list) else [self.axis])
        )
        # The scale broadcast from the first normalized axis on (Keras fails on axes that
        # are not the trailing ones; here they work too).
        scale = tnp.reshape(
            self.scale, [shape[d] if d in axes else 1 for d in range(axes[0], len(shape))]
        )
        return ops.rms_normalization(inputs, scale, self.axis, self.epsilon)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}


__all__ = ["GroupNormalization", "RMSNormalization", "UnitNormalization"]

"""Activation layers (Keras 3): `ReLU`, `LeakyReLU`, `PReLU`, `ELU`, `Softmax`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import ops
from tapegrad.nn import activations, constraints, initializers, regularizers
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.validation import check_constraint, check_number, layer_owner


class ReLU(Layer):
    """Rectified linear unit with Keras' optional cap, leak and threshold.

    ``f(x) = max_value`` for ``x >= max_value``, ``x`` for ``threshold <= x <
    max_value``, ``negative_slope * (x - threshold)`` otherwise.

    Args:
        max_value: Upper bound of the output (None: unbounded); not negative.
        negative_slope: Slope below the threshold; not negative.
        threshold: Values below it are zeroed (or leak); not negative.

    Examples:
        >>> import tapegrad as tg
        >>> tg.layers.ReLU(max_value=6.0)(tg.tensor([-1.0, 3.0, 9.0])).numpy()
        array([0., 3., 6.], dtype=float32)
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    def __init__(
        self,
        max_value: float | None = None,
        negative_slope: float = 0.0,
        threshold: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        self.max_value = (
            None if max_value is None else check_number(owner, "max_value", max_value, low=0)
        )
        self.negative_slope = check_number(owner, "negative_slope", negative_slope, low=0)
        self.threshold = check_number(owner, "threshold", threshold, low=0)
        self._check_input_shape = False

    def call(self, inputs: Any) -> Any:
        return activations.relu(
            inputs,
            negative_slope=self.negative_slope,
            max_value=self.max_value,
            threshold=self.threshold,
        )

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


class LeakyReLU(Layer):
    """``x`` for positive inputs, ``negative_slope * x`` otherwise.

    Args:
        negative_slope: Slope of the negative part (Keras' default 0.3); not negative.
            ``alpha`` (Keras 2's name) is accepted too.

    Examples:
        >>> import tapegrad as tg
        >>> tg.layers.LeakyReLU()(tg.tensor([-1.0, 2.0])).numpy()
        array([-0.3,  2. ], dtype=float32)
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any) -> None:
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.negative_slope = check_number(
            layer_owner(self), "negative_slope", negative_slope, low=0
        )
        self._check_input_shape = False

    def call(self, inputs: Any) -> Any:
        return activations.leaky_relu(inputs, negative_slope=self.negative_slope)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(Layer):
    """Leaky ReLU with a learned slope ``alpha`` per input element (or shared over axes).

    ``f(x) = x`` for ``x >= 0``, ``alpha * x`` otherwise.

    Args:
        alpha_initializer: Initializer of ``alpha`` (default zeros).
        alpha_regularizer: Optional regularizer of ``alpha``.
        alpha_constraint: Optional constraint of ``alpha``.
        shared_axes: Axes (1-based, the batch axis is 0) along which ``alpha`` is shared,
            e.g. ``[1, 2]`` for one slope per channel of ``(batch, h, w, channels)``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.PReLU(alpha_initializer="ones", shared_axes=[1, 2])
        >>> layer(np.full((1, 2, 2, 3), -1.0, np.float32)).numpy()[0, 0, 0]
        array([-1., -1., -1.], dtype=float32)
        >>> layer.alpha.shape
        (1, 1, 3)
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    def __init__(
        self,
        alpha_initializer: Any = "Zeros",
        alpha_regularizer: Any = None,
        alpha_constraint: Any = None,
        shared_axes: int | Sequence[int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = check_constraint(self, "alpha_constraint", alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = list(shared_axes) if isinstance(shared_axes, list | tuple) else [shared_axes]
            if not all(isinstance(a, int | np.integer) and a >= 1 for a in axes):
                raise ValueError(
                    f"{layer_owner(self)}: shared_axes must be axes >= 1 (the batch axis is "
                    f"0), got {shared_axes!r}"
                )
            self.shared_axes = [int(a) for a in axes]

    def build(self, input_shape: Any) -> None:
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if axis > len(shape):
                raise ValueError(
                    f"{layer_owner(self)}: shared axis {axis} is out of range for inputs of "
                    f"shape {tuple(input_shape)}"
                )
            shape[axis - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(
                f"{layer_owner(self)}: every non-batch axis that is not shared must be "
                f"known, got input shape {tuple(input_shape)}"
            )
        self.alpha = self.add_weight(
            shape,
            self.alpha_initializer,
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
            name="alpha",
        )

    def call(self, inputs: Any) -> Any:
        return ops.relu(inputs) - self.alpha * ops.relu(-inputs)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
            "alpha_constraint": constraints.serialize(self.alpha_constraint),
            "shared_axes": self.shared_axes,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PReLU:
        config = dict(config)
        config["alpha_initializer"] = initializers.deserialize(config["alpha_initializer"])
        if config.get("alpha_regularizer") is not None:
            config["alpha_regularizer"] = regularizers.deserialize(config["alpha_regularizer"])
        return cls(**config)


class ELU(Layer):
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Args:
        alpha: Scale of the negative part.

    Examples:
        >>> import tapegrad as tg
        >>> tg.layers.ELU()(tg.tensor([0.0, 1.0])).numpy()
        array([0., 1.], dtype=float32)
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = check_number(layer_owner(self), "alpha", alpha)
        self._check_input_shape = False

    def call(self, inputs: Any) -> Any:
        return activations.elu(inputs, alpha=self.alpha)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """Softmax over ``axis`` (an int or a list of axes), with an optional mask.

    Args:
        axis: Axis, or axes, to normalize over.

    Call arguments:
        inputs: The logits.
        mask: Optional boolean (or 0/1) array broadcastable to ``inputs``: masked
            positions get probability 0 (Keras: ``-1e9`` logits, then zeroed).

    Examples:
        >>> import tapegrad as tg
        >>> tg.layers.Softmax()(tg.tensor([1.0, 2.0, 1.0])).numpy().round(4)
        array([0.2119, 0.5761, 0.2119], dtype=float32)
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    def __init__(self, axis: int | Sequence[int] = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        axes = list(axis) if isinstance(axis, list | tuple) else [axis]
        if not axes or not all(isinstance(a, int | np.integer) for a in axes):
            raise ValueError(f"{layer_owner(self)}: axis must be an int or ints, got {axis!r}")
        self.axis = [int(a) for a in axis] if isinstance(axis, list | tuple) else int(axis)
        self._check_input_shape = False

    def call(self, inputs: Any, mask: Any = None) -> Any:
        if mask is not None:
            mask = self._boolean_mask(inputs, mask)
            # Keras' large negative logit (finite: a fully masked axis stays a number).
            large = -1e9 if np.dtype(inputs.dtype).itemsize >= 4 else -3e4
            inputs = tnp.where(mask, inputs, large)
        if isinstance(self.axis, list) and len(self.axis) > 1:
            axes = tuple(self.axis)
            outputs = tnp.exp(inputs - ops.logsumexp(inputs, axis=axes, keepdims=True))
        else:
            axis = self.axis[0] if isinstance(self.axis, list) else self.axis
            outputs = activations.softmax(inputs, axis=axis)
        if mask is not None:
            # A fully masked axis gives zeros rather than a uniform distribution.
            outputs = tnp.where(mask, outputs, 0.0)
        return outputs

    def _boolean_mask(self, inputs: Any, mask: Any) -> Any:
        mask_shape, input_shape = tuple(shape_of(mask)), tuple(shape_of(inputs))
        broadcastable = len(mask_shape) <= len(input_shape) and all(
            m in (1, i) for m, i in zip(mask_shape[::-1], input_shape[::-1], strict=False)
        )
        if not broadcastable:
            raise ValueError(
                f"{layer_owner(self)}: the mask must be broadcastable to the inputs, got "
                f"mask shape {mask_shape} for inputs of shape {input_shape}"
            )
        if np.dtype(mask.dtype) != np.bool_:
            mask = mask > 0.5
        return mask

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


__all__ = ["ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax"]

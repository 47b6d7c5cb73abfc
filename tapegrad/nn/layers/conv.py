"""Convolution layers: Conv1D, Conv2D, Conv3D (Keras 3 semantics).

The kernel is ``(*kernel_size, in_channels // groups, filters)`` whatever the data format,
as in Keras, so weights move between the two libraries unchanged. The computation is
`tapegrad.ops.conv` (cross-correlation, channels-last inside; ``channels_first`` inputs
are transposed in and out by the op).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tapegrad.numpy as tnp
from tapegrad import backend, ops
from tapegrad.nn import activations, constraints, initializers, regularizers
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.validation import check_bool, check_constraint, check_int_tuple, check_positive_int

_DATA_FORMATS = ("channels_last", "channels_first")


def normalize_tuple(value: Any, rank: int, name: str, layer: str) -> tuple[int, ...]:
    """An int or ``rank`` positive ints as a tuple of ``rank`` ints (Keras' helper).

    Examples:
        >>> normalize_tuple(3, 2, "kernel_size", "Conv2D")
        (3, 3)
    """
    return check_int_tuple(layer, name, value, rank)


def normalize_data_format(value: str | None, layer: str) -> str:
    """``None`` → `tapegrad.backend.image_data_format` (``"channels_last"`` unless set);
    anything else must be one of the two formats."""
    data_format = backend.image_data_format() if value is None else str(value).lower()
    if data_format not in _DATA_FORMATS:
        raise ValueError(
            f"{layer}: data_format must be 'channels_last' or 'channels_first', got {value!r}"
        )
    return data_format


def check_rank(
    layer: Layer, inputs: Any, rank: int, data_format: str, channels: int | None = None
) -> None:
    """Inputs must be ``(batch, *spatial, channels)`` (or channels-first) with ``rank``
    spatial dims, and ``channels`` channels when given."""
    shape = tuple(shape_of(inputs))
    axis = 1 if data_format == "channels_first" else -1
    if len(shape) != rank + 2 or (channels is not None and shape[axis] != channels):
        layout = "(batch, channels, *spatial)" if axis == 1 else "(batch, *spatial, channels)"
        wanted = "" if channels is None else f" with {channels} channels"
        raise ValueError(
            f"Input to layer '{layer.name}' ({type(layer).__name__}) has shape {shape}, but "
            f"the layer expects {layout} with {rank} spatial dims{wanted} ({data_format})"
        )


class BaseConv(Layer):
    """N-D convolution ``activation(conv(inputs, kernel) + bias)``; subclassed by rank.

    Args:
        rank: Number of spatial dims (1, 2 or 3).
        filters: Number of output channels.
        kernel_size: An int or ``rank`` ints: the window.
        strides: An int or ``rank`` ints (Keras forbids strides > 1 with dilation > 1).
        padding: ``"valid"``, ``"same"`` (output size ``ceil(n / stride)``), or for
            Conv1D ``"causal"`` (left padding only: output ``t`` sees inputs ``<= t``).
        data_format: ``"channels_last"`` (default, also for None) or ``"channels_first"``.
        dilation_rate: An int or ``rank`` ints: spacing of the kernel taps.
        groups: Split the input channels into this many groups, each convolved with its
            own ``filters // groups`` filters (both counts must divide by it).
        activation: Activation function or name (None: linear).
        use_bias: Whether to add a bias per filter.
        kernel_initializer: Kernel initializer (default "glorot_uniform").
        bias_initializer: Bias initializer (default "zeros").
        kernel_regularizer: Optional regularizer of the kernel.
        bias_regularizer: Optional regularizer of the bias.
        activity_regularizer: Regularizer of the outputs (its penalty joins `losses`).
        kernel_constraint: Optional constraint applied to the kernel after updates.
        bias_constraint: Optional constraint applied to the bias after updates.
    """

    # Spatial sizes may change between calls; `call` checks the rank and the channels.
    _check_input_shape = False

    def __init__(
        self,
        rank: int,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = 1,
        groups: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        layer = f"{type(self).__name__} '{self.name}'"
        self.rank = rank
        self.filters = check_positive_int(layer, "filters", filters)
        self.groups = check_positive_int(layer, "groups", groups)
        if self.filters % self.groups:
            raise ValueError(f"{layer}: filters ({filters}) must divide by groups ({groups})")
        self.kernel_size = normalize_tuple(kernel_size, rank, "kernel_size", layer)
        self.strides = normalize_tuple(strides, rank, "strides", layer)
        self.dilation_rate = normalize_tuple(dilation_rate, rank, "dilation_rate", layer)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{layer}: strides {self.strides} > 1 together with dilation_rate "
                f"{self.dilation_rate} > 1 is not supported (as in Keras)"
            )
        self.padding = str(padding).lower()
        allowed = ("valid", "same", "causal") if rank == 1 else ("valid", "same")
        if self.padding not in allowed:
            raise ValueError(f"{layer}: padding must be one of {allowed}, got {padding!r}")
        self.data_format = normalize_data_format(data_format, layer)
        self.activation = activations.get(activation)
        self.use_bias = check_bool(layer, "use_bias", use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = check_constraint(self, "kernel_constraint", kernel_constraint)
        self.bias_constraint = check_constraint(self, "bias_constraint", bias_constraint)

    def _channel_axis(self) -> int:
        return 1 if self.data_format == "channels_first" else -1

    def build(self, input_shape: Any) -> None:
        layer = f"{type(self).__name__} '{self.name}'"
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{layer}: expects inputs with {self.rank} spatial dims, a batch and a "
                f"channel axis, got shape {tuple(input_shape)}"
            )
        in_channels = input_shape[self._channel_axis()]
        if in_channels is None or in_channels % self.groups:
            raise ValueError(
                f"{layer}: the channel axis of inputs {tuple(input_shape)} "
                f"({self.data_format}) must be known and divide by groups={self.groups}"
            )
        self.in_channels = int(in_channels)
        shape = (*self.kernel_size, self.in_channels // self.groups, self.filters)
        self.kernel = self.add_weight(
            shape,
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )
        self.bias = (
            self.add_weight(
                (self.filters,),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                name="bias",
            )
            if self.use_bias
            else None
        )

    def call(self, inputs: Any) -> Any:
        check_rank(self, inputs, self.rank, self.data_format, self.in_channels)
        padding = self.padding
        if padding == "causal":
            left = (self.kernel_size[0] - 1) * self.dilation_rate[0]
            pads = ((0, 0), (left, 0), (0, 0))
            if self.data_format == "channels_first":
                pads = ((0, 0), (0, 0), (left, 0))
            inputs = tnp.pad(inputs, pads)
            padding = "valid"
        # The bias goes into the convolution op: one op less, and its gradient is a GEMV.
        out = ops.conv(
            inputs,
            self.kernel,
            strides=self.strides,
            padding=padding,
            data_format=self.data_format,
            dilation_rate=self.dilation_rate,
            bias=self.bias,
        )
        return self.activation(out) if self.activation is not None else out

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "groups": self.groups,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            # Keras writes the key even when unset (Layer's own config only when set).
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BaseConv:
        config = dict(config)
        for key in ("kernel_initializer", "bias_initializer"):
            config[key] = initializers.deserialize(config[key])
        for key in ("kernel_regularizer", "bias_regularizer"):
            if config.get(key) is not None:
                config[key] = regularizers.deserialize(config[key])
        return cls(**config)


class Conv1D(BaseConv):
    """1-D convolution over ``(batch, steps, channels)`` (Keras' ``Conv1D``).

    Args:
        filters, kernel_size, strides, padding, data_format, dilation_rate, groups,
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint:
            As in `BaseConv`; ``padding`` may also be ``"causal"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.Conv1D(2, 3, padding="causal", kernel_initializer="ones")
        >>> x = np.arange(4.0, dtype=np.float32).reshape(1, 4, 1)
        >>> layer(x).numpy()[0]
        array([[0., 0.],
               [1., 1.],
               [3., 3.],
               [6., 6.]], dtype=float32)
        >>> layer.kernel.shape
        (3, 1, 2)
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: Any = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = 1,
        groups: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            1,
            filters,
            kernel_size,
            strides,
            padding,
            data_format,
            dilation_rate,
            groups,
            activation,
            use_bias,
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            bias_regularizer,
            activity_regularizer,
            kernel_constraint,
            bias_constraint,
            **kwargs,
        )


class Conv2D(BaseConv):
    """2-D convolution over ``(batch, height, width, channels)`` (Keras' ``Conv2D``).

    Args:
        filters, kernel_size, strides, padding, data_format, dilation_rate, groups,
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint:
            As in `BaseConv`.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.Conv2D(4, 3, padding="same", activation="relu")
        >>> layer(np.ones((2, 8, 8, 3), np.float32)).shape
        (2, 8, 8, 4)
        >>> layer.kernel.shape, layer.count_params()
        ((3, 3, 3, 4), 112)
        >>> tg.layers.Conv2D(4, 3, strides=2)(np.ones((2, 8, 8, 3), np.float32)).shape
        (2, 3, 3, 4)
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: Any = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = 1,
        groups: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            2,
            filters,
            kernel_size,
            strides,
            padding,
            data_format,
            dilation_rate,
            groups,
            activation,
            use_bias,
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            bias_regularizer,
            activity_regularizer,
            kernel_constraint,
            bias_constraint,
            **kwargs,
        )


class Conv3D(BaseConv):
    """3-D convolution over ``(batch, depth, height, width, channels)`` (Keras' ``Conv3D``).

    Args:
        filters, kernel_size, strides, padding, data_format, dilation_rate, groups,
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint:
            As in `BaseConv`.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.Conv3D(2, 2)(np.ones((1, 3, 4, 5, 1), np.float32)).shape
        (1, 2, 3, 4, 2)
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: Any = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = 1,
        groups: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            3,
            filters,
            kernel_size,
            strides,
            padding,
            data_format,
            dilation_rate,
            groups,
            activation,
            use_bias,
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            bias_regularizer,
            activity_regularizer,
            kernel_constraint,
            bias_constraint,
            **kwargs,
        )


__all__ = ["Conv1D", "Conv2D", "Conv3D"]

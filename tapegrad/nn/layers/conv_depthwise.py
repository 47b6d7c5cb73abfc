"""Depthwise and separable convolution layers (Keras 3): `DepthwiseConv1D`,
`DepthwiseConv2D`, `SeparableConv1D`, `SeparableConv2D`.

Weights use Keras' layouts: the depthwise kernel is ``(*kernel_size, in_channels,
depth_multiplier)`` and the pointwise kernel ``(1, ..., 1, in_channels * depth_multiplier,
filters)``. The computation is `tapegrad.ops.depthwise_conv` / `ops.separable_conv`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tapegrad.numpy as tnp
from tapegrad import ops
from tapegrad.nn import activations, constraints, initializers, regularizers
from tapegrad.nn.layers.base import Layer
from tapegrad.nn.layers.conv import check_rank, normalize_data_format, normalize_tuple
from tapegrad.nn.validation import check_bool, check_constraint, check_positive_int

_INITIALIZERS = ("depthwise_initializer", "pointwise_initializer", "bias_initializer")
_REGULARIZERS = ("depthwise_regularizer", "pointwise_regularizer", "bias_regularizer")


class BaseDepthwiseConv(Layer):
    """Each input channel convolved with its own ``depth_multiplier`` filters; with
    ``filters`` set, followed by a 1x1 convolution mixing the channels (separable).

    Args:
        rank: Number of spatial dims (1 or 2).
        filters: None (depthwise: ``in_channels * depth_multiplier`` outputs) or the
            output channels of the pointwise step (separable).
        kernel_size: An int or ``rank`` ints.
        strides: An int or ``rank`` ints (not > 1 together with dilation > 1).
        padding: ``"valid"`` or ``"same"``.
        depth_multiplier: Depthwise filters per input channel.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        dilation_rate: An int or ``rank`` ints.
        activation: Activation function or name (None: linear).
        use_bias: Whether to add a bias per output channel.
        depthwise_initializer, pointwise_initializer, bias_initializer: Initializers.
        depthwise_regularizer, pointwise_regularizer, bias_regularizer: Optional
            regularizers.
        activity_regularizer: Regularizer of the outputs (its penalty joins `losses`).
        depthwise_constraint, pointwise_constraint, bias_constraint: Optional constraints.
    """

    _check_input_shape = False  # spatial sizes may change; `call` checks rank and channels

    def __init__(
        self,
        rank: int,
        filters: int | None,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        depth_multiplier: int = 1,
        data_format: str | None = None,
        dilation_rate: Any = 1,
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        pointwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        pointwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        pointwise_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        layer = f"{type(self).__name__} '{self.name}'"
        self.rank = rank
        self.filters = None if filters is None else check_positive_int(layer, "filters", filters)
        self.depth_multiplier = check_positive_int(layer, "depth_multiplier", depth_multiplier)
        self.kernel_size = normalize_tuple(kernel_size, rank, "kernel_size", layer)
        self.strides = normalize_tuple(strides, rank, "strides", layer)
        self.dilation_rate = normalize_tuple(dilation_rate, rank, "dilation_rate", layer)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{layer}: strides {self.strides} > 1 together with dilation_rate "
                f"{self.dilation_rate} > 1 is not supported (as in Keras)"
            )
        self.padding = str(padding).lower()
        if self.padding not in ("valid", "same"):
            raise ValueError(f"{layer}: padding must be 'valid' or 'same', got {padding!r}")
        self.data_format = normalize_data_format(data_format, layer)
        self.activation = activations.get(activation)
        self.use_bias = check_bool(layer, "use_bias", use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.depthwise_constraint = check_constraint(
            self, "depthwise_constraint", depthwise_constraint
        )
        self.pointwise_constraint = check_constraint(
            self, "pointwise_constraint", pointwise_constraint
        )
        self.bias_constraint = check_constraint(self, "bias_constraint", bias_constraint)

    def build(self, input_shape: Any) -> None:
        layer = f"{type(self).__name__} '{self.name}'"
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{layer}: expects inputs with {self.rank} spatial dims, a batch and a "
                f"channel axis, got shape {tuple(input_shape)}"
            )
        axis = 1 if self.data_format == "channels_first" else -1
        if input_shape[axis] is None:
            raise ValueError(f"{layer}: the channel axis of inputs {tuple(input_shape)} is unknown")
        self.in_channels = int(input_shape[axis])
        depthwise_shape = (*self.kernel_size, self.in_channels, self.depth_multiplier)
        # Keras names the depthwise layer's kernel "kernel", the separable one's
        # "depthwise_kernel".
        separable = self.filters is not None
        depthwise = self.add_weight(
            depthwise_shape,
            self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
            name="depthwise_kernel" if separable else "kernel",
        )
        if separable:
            self.depthwise_kernel = depthwise
            self.pointwise_kernel = self.add_weight(
                (*(1,) * self.rank, self.in_channels * self.depth_multiplier, self.filters),
                self.pointwise_initializer,
                regularizer=self.pointwise_regularizer,
                constraint=self.pointwise_constraint,
                name="pointwise_kernel",
            )
        else:
            self.kernel = depthwise
        self.bias = (
            self.add_weight(
                (self._out_channels(),),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                name="bias",
            )
            if self.use_bias
            else None
        )

    def _out_channels(self) -> int:
        return (
            self.filters if self.filters is not None else self.in_channels * self.depth_multiplier
        )

    def call(self, inputs: Any) -> Any:
        check_rank(self, inputs, self.rank, self.data_format, self.in_channels)
        options = {
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
        }
        if self.filters is None:
            out = ops.depthwise_conv(inputs, self.kernel, **options)
        else:
            out = ops.separable_conv(
                inputs, self.depthwise_kernel, self.pointwise_kernel, **options
            )
        if self.bias is not None:
            channels = self._out_channels()
            shape = (
                (channels,) + (1,) * self.rank
                if self.data_format == "channels_first"
                else (channels,)
            )
            out = out + tnp.reshape(self.bias, shape)
        return self.activation(out) if self.activation is not None else out

    def get_config(self) -> dict[str, Any]:
        config = {
            **super().get_config(),
            "depth_multiplier": self.depth_multiplier,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
            "depthwise_constraint": constraints.serialize(self.depthwise_constraint),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            # Keras writes the key even when unset (Layer's own config only when set).
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
        }
        if self.filters is not None:
            config["filters"] = self.filters
            config["pointwise_initializer"] = initializers.serialize(self.pointwise_initializer)
            config["pointwise_regularizer"] = regularizers.serialize(self.pointwise_regularizer)
            config["pointwise_constraint"] = constraints.serialize(self.pointwise_constraint)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BaseDepthwiseConv:
        config = dict(config)
        for key in _INITIALIZERS:
            if key in config:
                config[key] = initializers.deserialize(config[key])
        for key in _REGULARIZERS:
            if config.get(key) is not None:
                config[key] = regularizers.deserialize(config[key])
        return cls(**config)


class DepthwiseConv1D(BaseDepthwiseConv):
    """Depthwise 1-D convolution: each channel of ``(batch, steps, channels)`` convolved
    with its own ``depth_multiplier`` filters (Keras' ``DepthwiseConv1D``).

    Args:
        kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate,
        activation, use_bias, depthwise_initializer, bias_initializer,
        depthwise_regularizer, bias_regularizer, activity_regularizer,
        depthwise_constraint, bias_constraint: As in `BaseDepthwiseConv`.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.DepthwiseConv1D(3, depth_multiplier=2)
        >>> layer(np.ones((1, 6, 3), np.float32)).shape, layer.kernel.shape
        ((1, 4, 6), (3, 3, 2))
    """

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        strides: Any = 1,
        padding: str = "valid",
        depth_multiplier: int = 1,
        data_format: str | None = None,
        dilation_rate: Any = 1,
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            1,
            None,
            kernel_size,
            strides,
            padding,
            depth_multiplier,
            data_format,
            dilation_rate,
            activation,
            use_bias,
            depthwise_initializer=depthwise_initializer,
            bias_initializer=bias_initializer,
            depthwise_regularizer=depthwise_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            depthwise_constraint=depthwise_constraint,
            bias_constraint=bias_constraint,
            **kwargs,
        )


class DepthwiseConv2D(BaseDepthwiseConv):
    """Depthwise 2-D convolution: each channel of an image convolved with its own
    ``depth_multiplier`` filters (Keras' ``DepthwiseConv2D``).

    Args:
        kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate,
        activation, use_bias, depthwise_initializer, bias_initializer,
        depthwise_regularizer, bias_regularizer, activity_regularizer,
        depthwise_constraint, bias_constraint: As in `BaseDepthwiseConv`.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.DepthwiseConv2D(3, padding="same")
        >>> layer(np.ones((1, 5, 5, 2), np.float32)).shape, layer.kernel.shape
        ((1, 5, 5, 2), (3, 3, 2, 1))
    """

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        strides: Any = (1, 1),
        padding: str = "valid",
        depth_multiplier: int = 1,
        data_format: str | None = None,
        dilation_rate: Any = (1, 1),
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            2,
            None,
            kernel_size,
            strides,
            padding,
            depth_multiplier,
            data_format,
            dilation_rate,
            activation,
            use_bias,
            depthwise_initializer=depthwise_initializer,
            bias_initializer=bias_initializer,
            depthwise_regularizer=depthwise_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            depthwise_constraint=depthwise_constraint,
            bias_constraint=bias_constraint,
            **kwargs,
        )


class SeparableConv1D(BaseDepthwiseConv):
    """Depthwise 1-D convolution followed by a pointwise one mixing the channels
    (Keras' ``SeparableConv1D``).

    Args:
        filters, kernel_size, strides, padding, data_format, dilation_rate,
        depth_multiplier, activation, use_bias, depthwise_initializer,
        pointwise_initializer, bias_initializer, depthwise_regularizer,
        pointwise_regularizer, bias_regularizer, activity_regularizer,
        depthwise_constraint, pointwise_constraint, bias_constraint:
            As in `BaseDepthwiseConv`.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.SeparableConv1D(4, 3, depth_multiplier=2)
        >>> layer(np.ones((1, 6, 3), np.float32)).shape, layer.pointwise_kernel.shape
        ((1, 4, 4), (1, 6, 4))
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: Any = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = 1,
        depth_multiplier: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        pointwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        pointwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        pointwise_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            1,
            filters,
            kernel_size,
            strides,
            padding,
            depth_multiplier,
            data_format,
            dilation_rate,
            activation,
            use_bias,
            depthwise_initializer,
            pointwise_initializer,
            bias_initializer,
            depthwise_regularizer,
            pointwise_regularizer,
            bias_regularizer,
            activity_regularizer,
            depthwise_constraint,
            pointwise_constraint,
            bias_constraint,
            **kwargs,
        )


class SeparableConv2D(BaseDepthwiseConv):
    """Depthwise 2-D convolution followed by a pointwise one mixing the channels
    (Keras' ``SeparableConv2D``).

    Args:
        filters, kernel_size, strides, padding, data_format, dilation_rate,
        depth_multiplier, activation, use_bias, depthwise_initializer,
        pointwise_initializer, bias_initializer, depthwise_regularizer,
        pointwise_regularizer, bias_regularizer, activity_regularizer,
        depthwise_constraint, pointwise_constraint, bias_constraint:
            As in `BaseDepthwiseConv`.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.SeparableConv2D(8, 3, padding="same")
        >>> layer(np.ones((1, 5, 5, 2), np.float32)).shape, layer.count_params()
        ((1, 5, 5, 8), 42)
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: Any = (1, 1),
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = (1, 1),
        depth_multiplier: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        pointwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        pointwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        pointwise_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            2,
            filters,
            kernel_size,
            strides,
            padding,
            depth_multiplier,
            data_format,
            dilation_rate,
            activation,
            use_bias,
            depthwise_initializer,
            pointwise_initializer,
            bias_initializer,
            depthwise_regularizer,
            pointwise_regularizer,
            bias_regularizer,
            activity_regularizer,
            depthwise_constraint,
            pointwise_constraint,
            bias_constraint,
            **kwargs,
        )


__all__ = ["DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"]

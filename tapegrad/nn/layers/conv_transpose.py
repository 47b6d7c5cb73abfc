"""Transposed convolution layers (Keras 3): `Conv1DTranspose`, `Conv2DTranspose`,
`Conv3DTranspose`.

The kernel is ``(*kernel_size, filters, in_channels)``, Keras' layout, so weights move
between the two libraries unchanged. The computation is `tapegrad.ops.conv_transpose`
(the input gradient of a convolution, run forward).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tapegrad.numpy as tnp
from tapegrad import ops
from tapegrad.nn.layers.conv import BaseConv, check_rank
from tapegrad.nn.validation import check_int_tuple


def transpose_output_length(
    length: int | None,
    kernel: int,
    stride: int,
    padding: str,
    output_padding: int | None,
    dilation: int,
) -> int | None:
    """One spatial size of a transposed convolution's output (Keras' formula).

    Examples:
        >>> transpose_output_length(4, 3, 2, "valid", None, 1)
        9
        >>> transpose_output_length(4, 3, 2, "same", 1, 1)
        8
    """
    if length is None:
        return None
    span = (kernel - 1) * dilation + 1
    if output_padding is None:
        return length * stride + max(span - stride, 0) if padding == "valid" else length * stride
    pad = span // 2 if padding == "same" else 0
    return (length - 1) * stride + span - 2 * pad + output_padding


class BaseConvTranspose(BaseConv):
    """N-D transposed convolution ``activation(conv_transpose(inputs, kernel) + bias)``.

    Args:
        rank: Number of spatial dims (1, 2 or 3).
        filters: Number of output channels.
        kernel_size: An int or ``rank`` ints.
        strides: An int or ``rank`` ints: the upsampling factors.
        padding: ``"valid"`` or ``"same"``.
        output_padding: None (Keras' default sizes) or an int or ``rank`` ints, each below
            its stride: extra rows/columns at the end of the output.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        dilation_rate: An int or ``rank`` ints.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint:
            As in `BaseConv`.
    """

    def __init__(
        self,
        rank: int,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        output_padding: Any = None,
        data_format: str | None = None,
        dilation_rate: Any = 1,
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
        if str(padding).lower() == "causal":
            raise ValueError(
                f"{type(self).__name__}: padding must be 'valid' or 'same', got {padding!r}"
            )
        super().__init__(
            rank,
            filters,
            kernel_size,
            strides,
            padding,
            data_format,
            dilation_rate,
            1,
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
        layer = f"{type(self).__name__} '{self.name}'"
        self.output_padding = (
            None
            if output_padding is None
            else check_int_tuple(layer, "output_padding", output_padding, rank, minimum=0)
        )
        if self.output_padding is not None and any(
            p >= s for p, s in zip(self.output_padding, self.strides, strict=True)
        ):
            raise ValueError(
                f"{layer}: output_padding {self.output_padding} must be below strides "
                f"{self.strides} on every axis"
            )

    def build(self, input_shape: Any) -> None:
        layer = f"{type(self).__name__} '{self.name}'"
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{layer}: expects inputs with {self.rank} spatial dims, a batch and a "
                f"channel axis, got shape {tuple(input_shape)}"
            )
        in_channels = input_shape[self._channel_axis()]
        if in_channels is None:
            raise ValueError(f"{layer}: the channel axis of inputs {tuple(input_shape)} is unknown")
        self.in_channels = int(in_channels)
        self.kernel = self.add_weight(
            (*self.kernel_size, self.filters, self.in_channels),
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
        out = ops.conv_transpose(
            inputs,
            self.kernel,
            strides=self.strides,
            padding=self.padding,
            output_padding=self.output_padding,
            data_format=self.data_format,
            dilation_rate=self.dilation_rate,
        )
        if self.bias is not None:
            shape = (
                (self.filters,) + (1,) * self.rank
                if self.data_format == "channels_first"
                else (self.filters,)
            )
            out = out + tnp.reshape(self.bias, shape)
        return self.activation(out) if self.activation is not None else out

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Output shape by Keras' formula (see `transpose_output_length`)."""
        first = self.data_format == "channels_first"
        spatial = input_shape[2:] if first else input_shape[1:-1]
        paddings = self.output_padding or (None,) * self.rank
        sizes = tuple(
            transpose_output_length(n, k, s, self.padding, p, d)
            for n, k, s, p, d in zip(
                spatial, self.kernel_size, self.strides, paddings, self.dilation_rate, strict=True
            )
        )
        batch = input_shape[0]
        return (batch, self.filters, *sizes) if first else (batch, *sizes, self.filters)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("groups")
        config["output_padding"] = (
            None if self.output_padding is None else list(self.output_padding)
        )
        return config


def _transpose_class(rank: int, name: str, example: str) -> type[BaseConvTranspose]:
    """The rank-specific class: Keras' signature with ``rank`` fixed."""

    def __init__(  # noqa: N807
        self: BaseConvTranspose,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: Any = 1,
        padding: str = "valid",
        output_padding: Any = None,
        data_format: str | None = None,
        dilation_rate: Any = 1,
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
        BaseConvTranspose.__init__(
            self,
            rank,
            filters,
            kernel_size,
            strides,
            padding,
            output_padding,
            data_format,
            dilation_rate,
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

    doc = f"""{rank}-D transposed convolution (Keras' ``{name}``), e.g. to upsample.

    Args:
        filters, kernel_size, strides, padding, output_padding, data_format,
        dilation_rate, activation, use_bias, kernel_initializer, bias_initializer,
        kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
        bias_constraint: As in `BaseConvTranspose`.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
{example}
    """
    return type(name, (BaseConvTranspose,), {"__init__": __init__, "__doc__": doc})


Conv1DTranspose = _transpose_class(
    1,
    "Conv1DTranspose",
    "        >>> tg.layers.Conv1DTranspose(2, 3, strides=2)(np.ones((1, 4, 1), np.float32)).shape\n"
    "        (1, 9, 2)",
)
Conv2DTranspose = _transpose_class(
    2,
    "Conv2DTranspose",
    "        >>> layer = tg.layers.Conv2DTranspose(4, 3, strides=2, padding='same')\n"
    "        >>> layer(np.ones((1, 5, 5, 2), np.float32)).shape\n"
    "        (1, 10, 10, 4)\n"
    "        >>> layer.kernel.shape\n"
    "        (3, 3, 4, 2)",
)


class Conv3DTranspose(BaseConvTranspose):
    """3-D transposed convolution (Keras' ``Conv3DTranspose``; as in Keras, its
    ``data_format`` comes before ``output_padding`` in the positional order).

    Args:
        filters, kernel_size, strides, padding, data_format, output_padding,
        dilation_rate, activation, use_bias, kernel_initializer, bias_initializer,
        kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
        bias_constraint: As in `BaseConvTranspose`.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.Conv3DTranspose(2, 2, strides=2)(np.ones((1, 2, 2, 2, 1))).shape
        (1, 4, 4, 4, 2)
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: Any = (1, 1, 1),
        padding: str = "valid",
        data_format: str | None = None,
        output_padding: Any = None,
        dilation_rate: Any = (1, 1, 1),
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
            output_padding,
            data_format,
            dilation_rate,
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


__all__ = ["Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"]

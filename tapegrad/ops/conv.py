"""Convolution and pooling ops with Keras 3 ``keras.ops`` signatures.

Keras conventions: kernels are ``(*window, C_in / groups, C_out)`` whatever the data
format; ``padding="same"`` pads ``max((ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)`` per
dim, the odd element at the end (as TF and XLA); average pooling with ``"same"`` divides by
the number of real elements in each window. The primitives work channels-last;
``data_format="channels_first"`` transposes in and out.
"""

from __future__ import annotations

import math
from typing import Any

from tapegrad.core import prims as P
from tapegrad.core.tensor import shape_of

__all__ = [
    "average_pool",
    "conv",
    "conv_transpose",
    "depthwise_conv",
    "max_pool",
    "separable_conv",
]


def _tuple(value: Any, n: int, name: str, op: str) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    out = tuple(int(v) for v in value)
    if len(out) == 1 and n > 1:
        return out * n
    if len(out) != n:
        raise ValueError(f"{op}: {name} must be an int or {n} ints, got {value!r}")
    return out


def _check_rank(op: str, inputs: Any, data_format: str | None) -> tuple[int, bool]:
    """The number of spatial dims, and whether the layout is channels-first."""
    fmt = "channels_last" if data_format is None else data_format
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{op}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}"
        )
    ndim = len(shape_of(inputs))
    if ndim < 3:
        raise ValueError(
            f"{op}: inputs must have a batch, at least one spatial and a channel dim, "
            f"got shape {shape_of(inputs)}"
        )
    return ndim - 2, fmt == "channels_first"


def _to_last(x: Any, first: bool) -> Any:
    if not first:
        return x
    ndim = len(shape_of(x))
    return P.transpose_p(x, axes=(0, *range(2, ndim), 1))


def _to_first(x: Any, first: bool) -> Any:
    if not first:
        return x
    ndim = len(shape_of(x))
    return P.transpose_p(x, axes=(0, ndim - 1, *range(1, ndim - 1)))


def _padding(
    op: str,
    padding: str,
    spatial: tuple[int, ...],
    window: tuple[int, ...],
    strides: tuple[int, ...],
    dilation: tuple[int, ...],
) -> tuple[tuple[int, int], ...]:
    mode = padding.lower() if isinstance(padding, str) else padding
    if mode == "valid":
        return ((0, 0),) * len(spatial)
    if mode != "same":
        raise ValueError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    pads = []
    for n, k, s, d in zip(spatial, window, strides, dilation, strict=True):
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


def conv(
    inputs: Any,
    kernel: Any,
    strides: Any = 1,
    padding: str = "valid",
    data_format: str | None = None,
    dilation_rate: Any = 1,
    bias: Any = None,
) -> Any:
    """N-D convolution (cross-correlation), as ``keras.ops.conv``.

    Args:
        inputs: ``(N, *spatial, C_in)`` (or ``(N, C_in, *spatial)`` channels-first).
        kernel: ``(*window, C_in / groups, C_out)``; ``groups`` is inferred from C_in.
        strides: An int or one int per spatial dim.
        padding: ``"valid"`` or ``"same"``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        dilation_rate: An int or one int per spatial dim.
        bias: Optional ``(C_out,)`` added to every output position (a tapegrad extension:
            one op instead of a convolution and a broadcast add, and a faster gradient).

    Returns:
        ``(N, *out, C_out)`` (channels-first: ``(N, C_out, *out)``).

    Examples:
        >>> import numpy as np
        >>> x = np.arange(5.0).reshape(1, 5, 1)
        >>> conv(x, np.ones((3, 1, 1)), padding="same")[0, :, 0]
        array([1., 3., 6., 9., 7.])
        >>> conv(x, np.ones((3, 1, 1)), bias=np.array([10.0]))[0, :, 0]
        array([13., 16., 19.])
    """
    nd, first = _check_rank("conv", inputs, data_format)
    x = _to_last(inputs, first)
    x_shape, k_shape = shape_of(x), shape_of(kernel)
    if len(k_shape) != nd + 2 or k_shape[-2] == 0 or x_shape[-1] % k_shape[-2]:
        raise ValueError(
            f"conv: kernel {k_shape} must be (*window, C_in / groups, C_out) for inputs "
            f"{shape_of(inputs)} ({data_format or 'channels_last'})"
        )
    strides = _tuple(strides, nd, "strides", "conv")
    dilation = _tuple(dilation_rate, nd, "dilation_rate", "conv")
    window = tuple(k_shape[:-2])
    pads = _padding("conv", padding, tuple(x_shape[1:-1]), window, strides, dilation)
    params = {
        "strides": strides,
        "padding": pads,
        "dilation": dilation,
        "groups": x_shape[-1] // k_shape[-2],
    }
    y = P.conv_p(x, kernel, **params) if bias is None else P.conv_p(x, kernel, bias, **params)
    return _to_first(y, first)


def depthwise_conv(
    inputs: Any,
    kernel: Any,
    strides: Any = 1,
    padding: str = "valid",
    data_format: str | None = None,
    dilation_rate: Any = 1,
) -> Any:
    """Depthwise convolution, as ``keras.ops.depthwise_conv``.

    Args:
        inputs: ``(N, *spatial, C)`` (or channels-first).
        kernel: ``(*window, C, depth_multiplier)``; output channel ``c * m + j`` is input
            channel ``c`` convolved with ``kernel[..., c, j]``.
        strides, padding, data_format, dilation_rate: As in `conv`.

    Examples:
        >>> import numpy as np
        >>> x = np.ones((1, 4, 2))
        >>> depthwise_conv(x, np.ones((2, 2, 1)) * [[1.0], [10.0]])[0, :, :]
        array([[ 2., 20.],
               [ 2., 20.],
               [ 2., 20.]])
    """
    k_shape = shape_of(kernel)
    grouped = P.reshape_p(kernel, shape=(*k_shape[:-2], 1, k_shape[-2] * k_shape[-1]))
    return conv(inputs, grouped, strides, padding, data_format, dilation_rate)


def separable_conv(
    inputs: Any,
    depthwise_kernel: Any,
    pointwise_kernel: Any,
    strides: Any = 1,
    padding: str = "valid",
    data_format: str | None = None,
    dilation_rate: Any = 1,
) -> Any:
    """Depthwise convolution followed by a 1x1 convolution (``keras.ops.separable_conv``)."""
    depthwise = depthwise_conv(
        inputs, depthwise_kernel, strides, padding, data_format, dilation_rate
    )
    return conv(depthwise, pointwise_kernel, 1, "valid", data_format, 1)


def _transpose_pads(
    window: tuple[int, ...],
    strides: tuple[int, ...],
    dilation: tuple[int, ...],
    padding: str,
    output_padding: tuple[int | None, ...],
) -> list[tuple[int, int]]:
    """Keras' padding of the stride-dilated input of a transposed convolution."""
    mode = padding.lower()
    if mode not in ("valid", "same"):
        raise ValueError(f"conv_transpose: padding must be 'valid' or 'same', got {padding!r}")
    pads = []
    for k, s, d, extra in zip(window, strides, dilation, output_padding, strict=True):
        span = (k - 1) * d + 1
        if mode == "valid":
            extra = max(span, s) - span if extra is None else extra
            pads.append((span - 1, span - 1 + extra))
            continue
        total = s + span - 2 if extra is None else span + span % 2 - 2 + extra
        left = min(total // 2 + total % 2, span - 1)
        pads.append((left, total - left))
    return pads


def conv_transpose(
    inputs: Any,
    kernel: Any,
    strides: Any = 1,
    padding: str = "valid",
    output_padding: Any = None,
    data_format: str | None = None,
    dilation_rate: Any = 1,
) -> Any:
    """Transposed convolution, as ``keras.ops.conv_transpose``.

    The gradient of `conv` with respect to its input, computed forward: each input element
    spreads ``kernel`` over the output.

    Args:
        inputs: ``(N, *spatial, C_in)`` (or channels-first).
        kernel: ``(*window, C_out, C_in)`` (Keras' layout for transposed convolutions).
        strides, padding, data_format, dilation_rate: As in `conv`.
        output_padding: None (Keras' default sizes: ``n * s`` for ``"same"``) or an int
            or one int per spatial dim added at the end of the output.

    Examples:
        >>> import numpy as np
        >>> conv_transpose(np.ones((1, 2, 1)), np.ones((3, 1, 1)), strides=2)[0, :, 0]
        array([1., 1., 2., 1., 1.])
    """
    nd, first = _check_rank("conv_transpose", inputs, data_format)
    x = _to_last(inputs, first)
    x_shape, k_shape = shape_of(x), shape_of(kernel)
    if len(k_shape) != nd + 2 or k_shape[-1] != x_shape[-1]:
        raise ValueError(
            f"conv_transpose: kernel {k_shape} must be (*window, C_out, C_in) with C_in = "
            f"{x_shape[-1]} for inputs {shape_of(inputs)}"
        )
    strides = _tuple(strides, nd, "strides", "conv_transpose")
    dilation = _tuple(dilation_rate, nd, "dilation_rate", "conv_transpose")
    extras = (
        (None,) * nd
        if output_padding is None
        else _tuple(output_padding, nd, "output_padding", "conv_transpose")
    )
    window = tuple(k_shape[:-2])
    conv_pads, out = [], []
    for n, k, s, d, (left, right) in zip(
        x_shape[1:-1],
        window,
        strides,
        dilation,
        _transpose_pads(window, strides, dilation, padding, extras),
        strict=True,
    ):
        span = (k - 1) * d + 1
        # The forward convolution whose input gradient this is: its output is `inputs`.
        conv_pads.append((span - 1 - left, span - 1 - right))
        out.append((n - 1) * s + 1 + left + right - span + 1)
    y = P.conv_input_grad_p(
        x,
        kernel,
        input_shape=tuple(out),
        strides=strides,
        padding=tuple(conv_pads),
        dilation=dilation,
        groups=1,
    )
    return _to_first(y, first)


def _pool_args(
    op: str, inputs: Any, pool_size: Any, strides: Any, padding: str, data_format: str | None
) -> tuple[Any, bool, dict[str, Any]]:
    nd, first = _check_rank(op, inputs, data_format)
    x = _to_last(inputs, first)
    window = _tuple(pool_size, nd, "pool_size", op)
    steps = window if strides is None else _tuple(strides, nd, "strides", op)
    pads = _padding(op, padding, tuple(shape_of(x)[1:-1]), window, steps, (1,) * nd)
    return x, first, {"window": window, "strides": steps, "padding": pads}


def max_pool(
    inputs: Any,
    pool_size: Any,
    strides: Any = None,
    padding: str = "valid",
    data_format: str | None = None,
) -> Any:
    """Max pooling, as ``keras.ops.max_pool``; the gradient goes to each window's first max.

    Args:
        inputs: ``(N, *spatial, C)`` (or channels-first).
        pool_size: An int or one int per spatial dim.
        strides: Defaults to ``pool_size``.
        padding: ``"valid"`` or ``"same"`` (padding never wins the max).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> max_pool(np.array([[[1.0], [3.0], [2.0], [0.0], [5.0]]]), 2)[0, :, 0]
        array([3., 2.])
    """
    x, first, params = _pool_args("max_pool", inputs, pool_size, strides, padding, data_format)
    return _to_first(P.max_pool_p(x, **params), first)


def average_pool(
    inputs: Any,
    pool_size: Any,
    strides: Any = None,
    padding: str = "valid",
    data_format: str | None = None,
) -> Any:
    """Average pooling, as ``keras.ops.average_pool``; ``"same"`` padding is not counted.

    Examples:
        >>> import numpy as np
        >>> average_pool(np.array([[[1.0], [3.0], [2.0]]]), 2, padding="same")[0, :, 0]
        array([2., 2.])
    """
    x, first, params = _pool_args("average_pool", inputs, pool_size, strides, padding, data_format)
    return _to_first(P.avg_pool_p(x, **params), first)

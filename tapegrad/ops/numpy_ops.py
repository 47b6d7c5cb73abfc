"""``keras.ops`` names of NumPy flavour that `tapegrad.numpy` lacks, with Keras's dtypes.

Window functions (``bartlett``, ``blackman``, ``hamming``, ``hanning``, ``kaiser``) and
``geomspace`` give floatx (float32) as Keras does; ``cdist``, ``vander``, ``i0`` and
``slogdet`` are differentiable composites; ``nextafter`` and ``view`` read values (no
gradient: their results are steps of the floating-point grid and bit patterns).

Examples:
    >>> import tapegrad as tg
    >>> tg.ops.hanning(4).numpy()
    array([0.  , 0.75, 0.75, 0.  ], dtype=float32)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor, shape_of
from tapegrad.numpy import linalg as _linalg
from tapegrad.ops.activations import float_input
from tapegrad.ops.core import concrete_value, floatx_dtype, standardize_dtype

__all__ = [
    "bartlett",
    "bitwise_invert",
    "blackman",
    "cdist",
    "geomspace",
    "hamming",
    "hanning",
    "i0",
    "kaiser",
    "nextafter",
    "slogdet",
    "vander",
    "view",
]


def _window_length(op: str, x: Any) -> int:
    value = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    if value.ndim != 0 or value.dtype.kind not in "iuf" or value != np.floor(value):
        raise ValueError(f"ops.{op}: the window length must be an integer scalar, got {x!r}")
    return int(value)


def bartlett(x: Any) -> Tensor:
    """The Bartlett (triangular) window of ``x`` points, floatx.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.bartlett(5).numpy()
        array([0. , 0.5, 1. , 0.5, 0. ], dtype=float32)
    """
    return Tensor(np.bartlett(_window_length("bartlett", x)).astype(floatx_dtype()))


def blackman(x: Any) -> Tensor:
    """The Blackman window of ``x`` points, floatx.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.blackman(3).numpy().round(4)
        array([-0.,  1., -0.], dtype=float32)
    """
    return Tensor(np.blackman(_window_length("blackman", x)).astype(floatx_dtype()))


def hamming(x: Any) -> Tensor:
    """The Hamming window of ``x`` points, floatx.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.hamming(3).numpy()
        array([0.08, 1.  , 0.08], dtype=float32)
    """
    return Tensor(np.hamming(_window_length("hamming", x)).astype(floatx_dtype()))


def hanning(x: Any) -> Tensor:
    """The Hann window of ``x`` points, floatx.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.hanning(3).numpy()
        array([0., 1., 0.], dtype=float32)
    """
    return Tensor(np.hanning(_window_length("hanning", x)).astype(floatx_dtype()))


def kaiser(x: Any, beta: float) -> Tensor:
    """The Kaiser window of ``x`` points with shape parameter ``beta``, floatx.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.kaiser(3, 0.0).numpy()
        array([1., 1., 1.], dtype=float32)
    """
    return Tensor(np.kaiser(_window_length("kaiser", x), float(beta)).astype(floatx_dtype()))


def geomspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    dtype: Any = None,
    axis: int = 0,
) -> Tensor:
    """Numbers spaced evenly on a log scale (floatx unless ``dtype`` says otherwise).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.geomspace(1, 1000, num=4).numpy()
        array([   1.,   10.,  100., 1000.], dtype=float32)
    """
    target = floatx_dtype() if dtype is None else standardize_dtype(dtype, "geomspace")
    values = [v.numpy() if isinstance(v, Tensor) else v for v in (start, stop)]
    out = np.geomspace(values[0], values[1], num=int(num), endpoint=endpoint, axis=axis)
    return Tensor(out.astype(target))


def vander(x: Any, N: int | None = None, increasing: bool = False) -> Any:  # noqa: N803
    """The Vandermonde matrix of a 1-D ``x``: columns ``x**(N-1), ..., x, 1`` (reversed with
    ``increasing``), differentiable.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.vander(tg.tensor([1.0, 2.0, 3.0]), 3).numpy()
        array([[1., 1., 1.],
               [4., 2., 1.],
               [9., 3., 1.]], dtype=float32)
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    if len(shape_of(x)) != 1:
        raise ValueError(f"ops.vander: x must be 1-D, got shape {shape_of(x)}")
    columns = shape_of(x)[0] if N is None else int(N)
    powers = np.arange(columns) if increasing else np.arange(columns)[::-1].copy()
    column = P.reshape_p(x, shape=(-1, 1))
    if x.dtype.kind in "iu":
        return P.power_p(column, powers.astype(x.dtype))
    # Products, not pow: x**0 is 1 and the derivative exact even at x = 0.
    result = [P.broadcast_to_p(np.ones((1, 1), x.dtype), shape=(shape_of(x)[0], 1))]
    for _ in range(1, columns):
        result.append(result[-1] * column)
    ordered = result if increasing else result[::-1]
    return P.concatenate_p(*ordered, axis=1) if ordered else P.reshape_p(column, shape=(-1, 0))


def cdist(x: Any, y: Any) -> Any:
    """Euclidean distances between the rows of ``x (..., m, d)`` and ``y (..., n, d)``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.cdist(tg.tensor([[0.0, 0.0]]), tg.tensor([[3.0, 4.0], [0.0, 1.0]])).numpy()
        array([[5., 1.]], dtype=float32)
    """
    x, y = float_input(x), float_input(y)
    if len(shape_of(x)) < 2 or len(shape_of(y)) < 2:
        raise ValueError(
            f"ops.cdist: inputs must have rank >= 2, got {shape_of(x)} and {shape_of(y)}"
        )
    if shape_of(x)[-1] != shape_of(y)[-1]:
        raise ValueError(
            f"ops.cdist: the last dims must match, got {shape_of(x)} and {shape_of(y)}"
        )
    xs = P.reshape_p(x, shape=shape_of(x)[:-1] + (1, shape_of(x)[-1]))
    ys = P.reshape_p(y, shape=shape_of(y)[:-2] + (1,) + shape_of(y)[-2:])
    squared = P.sum_p(P.square_p(xs - ys), axis=(-1 % (len(shape_of(x)) + 1),), keepdims=False)
    return P.sqrt_p(squared)


def bitwise_invert(x: Any) -> Any:
    """Bitwise NOT of integers (logical NOT of booleans), as ``numpy.invert``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.bitwise_invert(tg.tensor([0, 5])).numpy()
        array([-1, -6])
    """
    return P.invert_p(x if isinstance(x, Tensor) else Tensor(x))


# Abramowitz & Stegun 9.8.1-2: I0 on |x| <= 3.75 in t = (x / 3.75)^2, and
# exp(|x|) / sqrt(|x|) times a polynomial in 3.75 / |x| beyond (relative error below 2e-7).
_I0_SMALL = (0.0045813, 0.0360768, 0.2659732, 1.2067492, 3.0899424, 3.5156229, 1.0)
_I0_LARGE = (
    0.00392377,
    -0.01647633,
    0.02635537,
    -0.02057706,
    0.00916281,
    -0.00157565,
    0.00225319,
    0.01328592,
    0.39894228,
)


def _polynomial(coefficients: tuple[float, ...], t: Any) -> Any:
    total = coefficients[0] + 0 * t
    for c in coefficients[1:]:
        total = total * t + c
    return total


def i0(x: Any) -> Any:
    """The modified Bessel function of the first kind, order 0, differentiable
    (polynomial approximations of Abramowitz & Stegun, relative error below 2e-7).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.i0(tg.tensor([0.0, 1.0, 5.0])).numpy().round(4)
        array([ 1.    ,  1.2661, 27.2399], dtype=float32)
    """
    x = float_input(x)
    dtype = x.dtype
    ax = P.abs_p(x)
    small = _polynomial(_I0_SMALL, P.square_p(x / np.asarray(3.75, dtype)))
    far = P.maximum_p(ax, np.asarray(3.75, dtype))
    large = P.exp_p(far) / P.sqrt_p(far) * _polynomial(_I0_LARGE, np.asarray(3.75, dtype) / far)
    return P.where_p(P.less_equal_p(ax, np.asarray(3.75, dtype)), small, large)


def _values(op: str, *xs: Any) -> list[np.ndarray]:
    return [concrete_value(x, f"ops.{op} (computed from values)") for x in xs]


def nextafter(x1: Any, x2: Any) -> Tensor:
    """The next floating-point value after ``x1`` towards ``x2`` (values only, no gradient).

    Examples:
        >>> import tapegrad as tg
        >>> float(tg.ops.nextafter(tg.tensor(1.0), 2.0)) - 1.0 == 2.0**-23
        True
    """
    a, b = _values("nextafter", x1, x2)
    dtype = np.result_type(a.dtype, b.dtype, np.float32 if a.dtype.kind != "f" else a.dtype)
    if isinstance(x1, Tensor) and x1.dtype.kind == "f":
        dtype = x1.dtype
    return Tensor(np.nextafter(a.astype(dtype), b.astype(dtype)))


def view(x: Any, dtype: Any = None) -> Tensor:
    """The bits of ``x`` reinterpreted as ``dtype`` (values only, no gradient).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.view(tg.tensor([1.0]), "int32").numpy()
        array([1065353216], dtype=int32)
    """
    (value,) = _values("view", x)
    if dtype is None:
        return Tensor(value.copy())
    return Tensor(value.view(standardize_dtype(dtype, "view")).copy())


def slogdet(x: Any) -> tuple[Any, Any]:
    """Sign and log of the absolute determinant: ``(sign, logabsdet)``, differentiable.

    Examples:
        >>> import tapegrad as tg
        >>> sign, logdet = tg.ops.slogdet(tg.tensor([[-2.0, 0.0], [0.0, 3.0]]))
        >>> float(sign), f"{float(logdet):.4f}"
        (-1.0, '1.7918')
    """
    sign, log_abs = _linalg.slogdet(float_input(x))
    return sign, log_abs

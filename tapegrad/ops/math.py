"""Keras 3's math ops (``keras.ops.segment_sum``, ``top_k``, ``in_top_k``, ``erfinv``, ...).

Composites of primitives: segment reductions are scatter-adds (`take_add`) or masked
reductions, ``top_k`` gathers the values its index primitive found (so the values carry
gradients), ``erfinv`` refines an approximation by Newton steps written with ``erf``, so its
first and second derivatives are those of the inverse function.

Examples:
    >>> import tapegrad as tg
    >>> tg.ops.segment_sum(tg.tensor([1.0, 2.0, 3.0]), tg.tensor([0, 0, 2]), num_segments=3)
    Tensor([3., 0., 3.], dtype=float32)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor, shape_of
from tapegrad.core.tracing import is_traced
from tapegrad.numpy import argsort, take_along_axis
from tapegrad.numpy.linalg import slogdet
from tapegrad.ops.activations import float_input
from tapegrad.ops.core import concrete_value

__all__ = [
    "divide_no_nan",
    "erfc",
    "erfinv",
    "extract_sequences",
    "in_top_k",
    "logdet",
    "rsqrt",
    "segment_max",
    "segment_min",
    "segment_prod",
    "segment_sum",
    "top_k",
]


def _segments(
    op: str, data: Any, segment_ids: Any, num_segments: int | None
) -> tuple[Any, Any, int]:
    data = data if isinstance(data, Tensor) else Tensor(data)
    ids = segment_ids
    ids_shape = shape_of(ids)
    if len(ids_shape) != 1 or not shape_of(data) or ids_shape[0] != shape_of(data)[0]:
        raise ValueError(
            f"ops.{op}: segment_ids must be 1-D with one id per row of data, got segment_ids "
            f"of shape {ids_shape} for data of shape {shape_of(data)}"
        )
    traced = isinstance(ids, Tensor) and is_traced(ids)
    if num_segments is None:
        values = concrete_value(ids, f"ops.{op} without num_segments (pass num_segments)")
        num_segments = int(values.max()) + 1 if values.size else 0
    if not traced:
        values = np.asarray(ids.numpy() if isinstance(ids, Tensor) else ids)
        if values.dtype.kind not in "iu":
            raise TypeError(f"ops.{op}: segment_ids must be integers, got dtype {values.dtype}")
        if values.size and (values.min() < 0 or values.max() >= num_segments):
            raise ValueError(
                f"ops.{op}: segment_ids must be in [0, {num_segments}), got ids in "
                f"[{values.min()}, {values.max()}]"
            )
        ids = values
    return data, ids, int(num_segments)


def segment_sum(
    data: Any,
    segment_ids: Any,
    num_segments: int | None = None,
    sorted: bool = False,  # noqa: A002
) -> Any:
    """Sum of the rows of ``data`` sharing a segment id (empty segments give 0).

    Args:
        data: A tensor; its first axis is segmented.
        segment_ids: One integer id per row, in ``[0, num_segments)``.
        num_segments: The number of segments (default: ``max(segment_ids) + 1``; required
            inside `tapegrad.function`).
        sorted: Accepted for compatibility (any order works).

    Returns:
        ``(num_segments, *data.shape[1:])``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.segment_sum(tg.tensor([[1.0], [2.0], [4.0]]), [1, 1, 0]).numpy()
        array([[4.],
               [3.]], dtype=float32)
    """
    data, ids, n = _segments("segment_sum", data, segment_ids, num_segments)
    return P.take_add_p(data, ids, axis=0, shape=(n, *shape_of(data)[1:]))


def _masked_segments(
    op: str, data: Any, segment_ids: Any, num_segments: int | None, fill: Any, reduce: Any
) -> Any:
    data, ids, n = _segments(op, data, segment_ids, num_segments)
    rows = shape_of(data)[0]
    rest = shape_of(data)[1:]
    # (segments, rows) membership, broadcast over the other axes of data.
    member = P.equal_p(P.reshape_p(ids, shape=(1, rows)), np.arange(n).reshape(n, 1))
    member = P.reshape_p(member, shape=(n, rows) + (1,) * len(rest))
    filled = P.where_p(member, P.reshape_p(data, shape=(1, rows, *rest)), fill)
    return reduce(filled, axis=(1,), keepdims=False)


def _lowest(dtype: np.dtype) -> np.ndarray:
    return np.asarray(-np.inf if dtype.kind == "f" else np.iinfo(dtype).min, dtype)


def _highest(dtype: np.dtype) -> np.ndarray:
    return np.asarray(np.inf if dtype.kind == "f" else np.iinfo(dtype).max, dtype)


def segment_max(
    data: Any,
    segment_ids: Any,
    num_segments: int | None = None,
    sorted: bool = False,  # noqa: A002
) -> Any:
    """Maximum of the rows sharing a segment id (empty segments: ``-inf``, as JAX).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.segment_max(tg.tensor([1.0, 2.0, 3.0]), [0, 0, 2], num_segments=3).numpy()
        array([  2., -inf,   3.], dtype=float32)
    """
    data = data if isinstance(data, Tensor) else Tensor(data)
    fill = _lowest(data.dtype)
    return _masked_segments("segment_max", data, segment_ids, num_segments, fill, P.max_p)


def segment_min(
    data: Any,
    segment_ids: Any,
    num_segments: int | None = None,
    sorted: bool = False,  # noqa: A002
) -> Any:
    """Minimum of the rows sharing a segment id (empty segments: ``inf``, as JAX).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.segment_min(tg.tensor([1.0, 2.0, 3.0]), [0, 0, 1]).numpy()
        array([1., 3.], dtype=float32)
    """
    data = data if isinstance(data, Tensor) else Tensor(data)
    fill = _highest(data.dtype)
    return _masked_segments("segment_min", data, segment_ids, num_segments, fill, P.min_p)


def segment_prod(
    data: Any,
    segment_ids: Any,
    num_segments: int | None = None,
    sorted: bool = False,  # noqa: A002
) -> Any:
    """Product of the rows sharing a segment id (empty segments give 1).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.segment_prod(tg.tensor([2.0, 3.0, 4.0]), [0, 0, 1]).numpy()
        array([6., 4.], dtype=float32)
    """
    data = data if isinstance(data, Tensor) else Tensor(data)
    fill = np.asarray(1, data.dtype)
    return _masked_segments("segment_prod", data, segment_ids, num_segments, fill, P.prod_p)


def top_k(x: Any, k: int, sorted: bool = True) -> tuple[Any, Any]:  # noqa: A002
    """The ``k`` largest values along the last axis and their indices (int32, as Keras).

    Ties keep the lower index first. The values are differentiable (the gradient flows to
    the chosen entries).

    Args:
        x: A tensor with at least one axis.
        k: How many, at most ``x.shape[-1]``.
        sorted: Accepted for compatibility (the result is always sorted, largest first).

    Returns:
        ``(values, indices)``.

    Examples:
        >>> import tapegrad as tg
        >>> values, indices = tg.ops.top_k(tg.tensor([1.0, 3.0, 2.0]), 2)
        >>> values.numpy(), indices.numpy()
        (array([3., 2.], dtype=float32), array([1, 2], dtype=int32))
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    shape = shape_of(x)
    if not shape:
        raise ValueError("ops.top_k: x must have at least one axis, got a scalar")
    if not 0 <= int(k) <= shape[-1]:
        raise ValueError(f"ops.top_k: k must be in [0, {shape[-1]}] for shape {shape}, got {k}")
    order = argsort(-x if x.dtype.kind != "b" else ~x, axis=-1, kind="stable")
    indices = order[..., : int(k)]
    values = take_along_axis(x, indices, axis=-1)
    return values, P.cast_p(indices, dtype=np.dtype(np.int32))


def in_top_k(targets: Any, predictions: Any, k: int) -> Any:
    """Whether each target's prediction is among the ``k`` largest of its row (ties count).

    Args:
        targets: Integer class ids, shape ``(batch,)``.
        predictions: Scores, shape ``(batch, classes)``.
        k: How many top entries count.

    Returns:
        A boolean tensor of shape ``(batch,)``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.in_top_k(tg.tensor([1, 0]), tg.tensor([[0.1, 0.9, 0.0], [0.5, 0.2, 0.3]]), 1)
        Tensor([ True,  True], dtype=bool)
    """
    predictions = predictions if isinstance(predictions, Tensor) else Tensor(predictions)
    targets = targets if isinstance(targets, Tensor) else Tensor(targets)
    if len(shape_of(predictions)) != 2 or shape_of(targets) != shape_of(predictions)[:1]:
        raise ValueError(
            f"ops.in_top_k: predictions must be (batch, classes) and targets (batch,), got "
            f"{shape_of(predictions)} and {shape_of(targets)}"
        )
    kth = top_k(predictions, k)[0][:, -1:] if k > 0 else None
    target_scores = take_along_axis(predictions, P.reshape_p(targets, shape=(-1, 1)), axis=-1)
    if kth is None:
        return P.reshape_p(P.less_p(target_scores, target_scores), shape=(-1,))
    return P.reshape_p(P.greater_equal_p(target_scores, kth), shape=(-1,))


def rsqrt(x: Any) -> Any:
    """``1 / sqrt(x)``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.rsqrt(tg.tensor([4.0])).numpy()
        array([0.5], dtype=float32)
    """
    return P.reciprocal_p(P.sqrt_p(float_input(x)))


def erfc(x: Any) -> Any:
    """The complementary error function ``1 - erf(x)``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.erfc(tg.tensor([0.0])).numpy()
        array([1.], dtype=float32)
    """
    x = float_input(x)
    return np.asarray(1.0, x.dtype) - P.erf_p(x)


# Giles (2010), "Approximating the erfinv function": single-precision polynomials in
# w = -log(1 - x^2), for the centre (w < 5) and the tails; Newton steps refine them.
_CENTRE = (
    2.81022636e-08,
    3.43273939e-07,
    -3.5233877e-06,
    -4.39150654e-06,
    0.00021858087,
    -0.00125372503,
    -0.00417768164,
    0.246640727,
    1.50140941,
)
_TAIL = (
    -0.000200214257,
    0.000100950558,
    0.00134934322,
    -0.00367342844,
    0.00573950773,
    -0.0076224613,
    0.00943887047,
    1.00167406,
    2.83297682,
)


def _horner(coefficients: tuple[float, ...], w: Any) -> Any:
    total = coefficients[0] + 0 * w
    for c in coefficients[1:]:
        total = total * w + c
    return total


def erfinv(x: Any) -> Any:
    """The inverse error function on ``(-1, 1)`` (``±inf`` at ``±1``, NaN outside).

    An approximation (Giles 2010) refined by two Newton steps written with ``erf``: the
    result is accurate to the dtype, and its first and second derivatives are those of the
    inverse, ``sqrt(pi) / 2 * exp(y**2)`` and its derivative.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.erfinv(tg.tensor([0.0, 0.5])).numpy().round(5)
        array([0.     , 0.47694], dtype=float32)
    """
    x = float_input(x)
    dtype = x.dtype
    inside = P.less_p(P.abs_p(x), np.asarray(1, dtype))
    # Clamp to (-1, 1) for the approximation; the edges are put back at the end.
    safe = P.where_p(inside, P.stop_gradient_p(x), np.asarray(0, dtype))
    w = -P.log_p((np.asarray(1, dtype) - safe) * (np.asarray(1, dtype) + safe))
    centre = _horner(_CENTRE, w - np.asarray(2.5, dtype))
    tail = _horner(_TAIL, P.sqrt_p(P.maximum_p(w, np.asarray(5, dtype))) - np.asarray(3, dtype))
    y = P.stop_gradient_p(P.where_p(P.less_p(w, np.asarray(5, dtype)), centre, tail) * safe)
    # Newton steps on erf(y) = x, recorded: they make the derivatives the inverse's.
    slope_scale = np.asarray(2 / math.sqrt(math.pi), dtype)
    x_safe = P.where_p(inside, x, np.asarray(0, dtype))
    for _ in range(2):
        y = y - (P.erf_p(y) - x_safe) / (slope_scale * P.exp_p(-P.square_p(y)))
    infinity = P.where_p(P.greater_p(x, 0), np.asarray(np.inf, dtype), np.asarray(-np.inf, dtype))
    edge = P.where_p(
        P.equal_p(P.abs_p(x), np.asarray(1, dtype)), infinity, np.asarray(np.nan, dtype)
    )
    return P.where_p(inside, y, edge)


def logdet(x: Any) -> Any:
    """``log(|det(x)|)`` (batched over leading axes), from ``slogdet`` (stable), as Keras.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.logdet(tg.tensor([[2.0, 0.0], [0.0, 3.0]])).numpy().round(4)
        np.float32(1.7918)
    """
    return slogdet(float_input(x))[1]


def divide_no_nan(x1: Any, x2: Any) -> Any:
    """``x1 / x2``, 0 where ``x2`` is 0 (no NaN and no gradient from those entries).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.divide_no_nan(tg.tensor([1.0, 2.0]), tg.tensor([0.0, 4.0])).numpy()
        array([0. , 0.5], dtype=float32)
    """
    x1, x2 = float_input(x1), float_input(x2)
    zero = P.equal_p(x2, np.asarray(0, x2.dtype))
    safe = P.where_p(zero, np.asarray(1, x2.dtype), x2)
    return P.where_p(zero, np.asarray(0, x1.dtype), x1 / safe)


def extract_sequences(x: Any, sequence_length: int, sequence_stride: int) -> Any:
    """Frames of ``sequence_length`` samples every ``sequence_stride`` along the last axis.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.extract_sequences(tg.tensor([1.0, 2.0, 3.0, 4.0, 5.0]), 3, 2).numpy()
        array([[1., 2., 3.],
               [3., 4., 5.]], dtype=float32)
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    shape = shape_of(x)
    length, stride = int(sequence_length), int(sequence_stride)
    if not shape or length < 1 or stride < 1 or length > shape[-1]:
        raise ValueError(
            f"ops.extract_sequences: need 1 <= sequence_length <= x.shape[-1] and "
            f"sequence_stride >= 1, got {sequence_length}, {sequence_stride} for shape {shape}"
        )
    frames = (shape[-1] - length) // stride + 1
    positions = np.arange(frames)[:, None] * stride + np.arange(length)[None, :]
    return P.take_p(x, positions, axis=len(shape) - 1)

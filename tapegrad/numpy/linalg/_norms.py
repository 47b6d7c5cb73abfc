"""Norms, condition numbers and rank: ``norm``, ``vector_norm``, ``matrix_norm``, ``cond``,
``matrix_rank``.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> float(tnp.linalg.norm(np.array([[3.0, 0.0], [0.0, 4.0]]), ord="nuc"))
    7.0
    >>> tg.grad(tnp.linalg.norm)(np.array([3.0, 4.0])).numpy()
    array([0.6, 0.8])
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.prims.reduction import count_nonzero_p
from tapegrad.core.tensor import Tensor
from tapegrad.numpy import _manipulation
from tapegrad.numpy._arguments import ndim_of as _ndim
from tapegrad.numpy._arguments import shape_of as _shape
from tapegrad.numpy._arguments import value_of as _value
from tapegrad.numpy._axes import axis_index
from tapegrad.numpy.linalg._checks import check_square as _square
from tapegrad.numpy.linalg._checks import check_stacked as _stacked
from tapegrad.numpy.linalg._checks import float_dtype as _float_dtype

__all__ = ["cond", "matrix_norm", "matrix_rank", "norm", "vector_norm"]


def _as_float(x: Any) -> Any:
    return x if np.result_type(_value(x)).kind in "fc" else P.cast_p(x, dtype=np.float64)


def _safe_sqrt(x: Any) -> Any:
    """``sqrt(x)`` whose derivative at 0 is 0 (a subgradient of the norm at 0), not inf.
    NaN stays NaN (the norm of a vector holding a NaN is NaN, as in NumPy)."""
    zero = P.equal_p(x, 0)
    return P.where_p(zero, 0, P.sqrt_p(P.where_p(zero, 1, x)))


def _last(x: Any, index: int) -> Any:
    return P.getitem_p(x, index=(Ellipsis, index))


def _squares(x: Any) -> Any:
    """``|x|**2`` elementwise (``x * x`` for real numbers)."""
    if np.result_type(_value(x)).kind == "c":
        return P.real_p(x * P.conj_p(x))
    return x * x


def _vector_norm(x: Any, ord: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
    if ord is None or ord == 2:
        return _safe_sqrt(P.sum_p(_squares(x), axis=axis, keepdims=keepdims))
    if ord == np.inf:
        return P.max_p(P.abs_p(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return P.min_p(P.abs_p(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        nonzero = P.cast_p(P.not_equal_p(x, 0), dtype=_float_dtype(x))
        return P.sum_p(nonzero, axis=axis, keepdims=keepdims)
    if ord == 1:
        return P.sum_p(P.abs_p(x), axis=axis, keepdims=keepdims)
    total = P.sum_p(P.power_p(P.abs_p(x), ord), axis=axis, keepdims=keepdims)
    return P.power_p(total, 1.0 / ord)


def _svd_norm(x: Any, row: int, col: int, reduce: Any) -> Any:
    moved = _manipulation.moveaxis(x, (row, col), (-2, -1))
    s = P.svd_p(moved)[1]
    return reduce(s, axis=(_ndim(s) - 1,), keepdims=False)


def _abs_sums(x: Any, summed: int, reduced: int, reduce: Any) -> Any:
    # Reduce over `reduced` after summing |x| over `summed` (which shifts later axes).
    sums = P.sum_p(P.abs_p(x), axis=(summed,), keepdims=False)
    return reduce(sums, axis=(reduced - 1 if reduced > summed else reduced,), keepdims=False)


def _matrix_norm(x: Any, ord: Any, row: int, col: int) -> Any:
    if ord == 2:
        return _svd_norm(x, row, col, P.max_p)
    if ord == -2:
        return _svd_norm(x, row, col, P.min_p)
    if ord == "nuc":
        return _svd_norm(x, row, col, P.sum_p)
    if ord == 1:
        return _abs_sums(x, row, col, P.max_p)
    if ord == -1:
        return _abs_sums(x, row, col, P.min_p)
    if ord == np.inf:
        return _abs_sums(x, col, row, P.max_p)
    if ord == -np.inf:
        return _abs_sums(x, col, row, P.min_p)
    if ord in (None, "fro", "f"):
        return _safe_sqrt(P.sum_p(_squares(x), axis=tuple(sorted((row, col))), keepdims=False))
    raise ValueError(f"norm: invalid norm order {ord!r} for matrices")


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """Matrix or vector norm (``numpy.linalg.norm``), every order NumPy has.

    The gradient at the zero vector (2-norm) or zero matrix (Frobenius) is 0, a
    subgradient, instead of NaN.

    Args:
        x: Input; integers are converted to float64.
        ord: Vector orders ``None``/2, 1, ``inf``, ``-inf``, 0 (no gradient), any other
            number p; matrix orders ``"fro"``, ``"nuc"``, 2, -2, 1, -1, ``inf``, ``-inf``.
        axis: ``None`` (the whole 1-D or 2-D array; the flattened array when ``ord`` is
            None), an int (vector norms) or a pair of ints (matrix norms).
        keepdims: Keep the normed axes with length 1.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> float(tnp.linalg.norm(np.array([[3.0, 0.0], [0.0, 4.0]]), ord="nuc"))
        7.0
        >>> tg.grad(tnp.linalg.norm)(np.array([3.0, 4.0])).numpy()
        array([0.6, 0.8])
    """
    x = _as_float(x)
    nd = _ndim(x)
    if axis is None:
        if ord is None or (ord in ("f", "fro") and nd == 2) or (ord == 2 and nd == 1):
            flat = P.reshape_p(x, shape=(-1,))
            ret = _safe_sqrt(P.sum_p(_squares(flat), axis=None, keepdims=False))
            return P.reshape_p(ret, shape=(1,) * nd) if keepdims else ret
        axis = tuple(range(nd))
    elif not isinstance(axis, tuple):
        try:
            axis = (operator.index(axis),)
        except TypeError as err:
            raise TypeError("norm: 'axis' must be None, an integer or a tuple of integers") from err
    for a in axis:
        if not -nd <= int(a) < nd:
            raise np.exceptions.AxisError(
                f"norm: axis {a} is out of bounds for array of dimension {nd}"
            )
    axes = tuple(int(a) % nd for a in axis)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) != 2:
        raise ValueError(f"norm: improper number of dimensions to norm (axis={axis})")
    row, col = axes
    if row == col:
        raise ValueError("norm: duplicate axes given")
    ret = _matrix_norm(x, ord, row, col)
    if keepdims:
        shape = list(_shape(x))
        shape[row] = shape[col] = 1
        ret = P.reshape_p(ret, shape=tuple(shape))
    return ret


def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:
    """Vector norm over any axes (``numpy.linalg.vector_norm``); see `norm` for ``ord``."""
    x = _as_float(x)
    shape = _shape(x)
    nd = len(shape)
    if axis is None:
        flat, inner, target = P.reshape_p(x, shape=(-1,)), 0, tuple(range(nd))
    elif isinstance(axis, tuple):
        # Several axes: move them to the front and flatten them into one.
        target = tuple(axis_index(a, nd, "vector_norm") for a in axis)
        rest = tuple(i for i in range(nd) if i not in target)
        moved = P.transpose_p(x, axes=target + rest)
        flat, inner = P.reshape_p(moved, shape=(-1,) + tuple(shape[i] for i in rest)), 0
    else:
        inner = axis_index(axis, nd, "vector_norm")
        flat, target = x, (inner,)
    ret = norm(flat, ord=ord, axis=inner)
    if keepdims:
        ret = P.reshape_p(ret, shape=tuple(1 if i in target else s for i, s in enumerate(shape)))
    return ret


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Any:
    """Matrix norm over the last two axes (``numpy.linalg.matrix_norm``)."""
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


def cond(x: Any, p: Any = None) -> Any:
    """Condition number (``numpy.linalg.cond``); ``p`` is a `norm` order for matrices.

    ``inf`` for singular matrices (then not differentiable).
    """
    _stacked("cond", x)
    if p is None or p in (2, -2):
        s = P.svd_p(x)[1]
        first, last = _last(s, 0), _last(s, -1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return last / first if p == -2 else first / last
    _square("cond", x)
    # As NumPy: the inverse is NaN where a matrix is singular, and a NaN condition number
    # becomes inf unless the matrix itself holds a NaN. Per matrix, and decided when the
    # op runs (so also in a traced function).
    inverse = P.inv_or_nan_p(x)
    with np.errstate(invalid="ignore"):
        result = norm(x, p, axis=(-2, -1)) * norm(inverse, p, axis=(-2, -1))
    nd = _ndim(x)
    nan_in_x = P.max_p(P.isnan_p(x), axis=(nd - 2, nd - 1))
    singular = P.logical_and_p(P.isnan_p(result), P.logical_not_p(nan_in_x))
    return P.where_p(singular, np.inf, result)


def matrix_rank(
    A: Any,  # noqa: N803
    tol: Any = None,
    hermitian: bool = False,
    *,
    rtol: Any = None,
) -> Any:
    """Rank by SVD (``numpy.linalg.matrix_rank``): an integer, not differentiable.

    With Tensors, NumPy's count of singular values above the tolerance in primitives
    (a traced graph counts those it computes); 0-d and 1-d inputs give a Python int, read
    from the values (traced ones are refused).
    """
    if not any(isinstance(v, Tensor) for v in (A, tol, rtol)):
        return np.linalg.matrix_rank(A, tol=tol, hermitian=hermitian, rtol=rtol)
    if _ndim(A) < 2:
        return int(not np.all(np.asarray(A) == 0))
    matrices = _as_float(A)
    s = P.abs_p(P.eigh_p(matrices)[0]) if hermitian else P.svd_p(matrices)[1]
    last = _ndim(s) - 1
    if tol is None:
        if rtol is None:
            rtol = max(_shape(A)[-2:]) * np.finfo(_float_dtype(s)).eps
        else:
            rtol = _column(rtol)
        tol = P.max_p(s, axis=(last,), keepdims=True) * rtol
    else:
        tol = _column(tol)
    return count_nonzero_p(P.greater_p(s, tol), axis=-1)


def _column(x: Any) -> Any:
    """``x[..., None]``."""
    if isinstance(x, Tensor):
        return P.reshape_p(x, shape=_shape(x) + (1,))
    return np.asarray(x)[..., None]

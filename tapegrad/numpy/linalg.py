"""tapegrad.numpy.linalg: NumPy's linear algebra, differentiable to any order.

``solve``, ``det``, ``slogdet``, ``cholesky``, ``eigh``, ``svd``, ``qr`` and ``pinv`` are
primitives (``tapegrad/core/prims/linalg.py``); everything else is composed of them. All
functions take stacks of matrices ``(..., m, n)`` like NumPy. ``eigh`` and ``cholesky``
read only the lower triangle (as NumPy does), so their gradients are lower-triangular.
``matrix_rank`` is not differentiable (an integer); ``eig``/``eigvals`` (complex results)
are not provided: use ``eigh``/``eigvalsh`` for symmetric matrices.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> a = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> tg.grad(lambda a: tnp.linalg.slogdet(a).logabsdet)(a).numpy().round(6)
    array([[ 0.6, -0.2],
           [-0.2,  0.4]])
    >>> tnp.linalg.solve(a, np.array([3.0, 5.0])).round(6)
    array([0.8, 1.4])
"""

from __future__ import annotations

import operator
from typing import Any, NamedTuple

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.prims.linalg import matrix_transpose as _mT
from tapegrad.core.prims.linalg import sym_from_lower
from tapegrad.core.prims.reduction import argsort_p, count_nonzero_p
from tapegrad.core.tensor import Tensor
from tapegrad.numpy import _indexing, _manipulation, _products
from tapegrad.numpy._axes import axis_index

LinAlgError = np.linalg.LinAlgError


class SlogdetResult(NamedTuple):
    sign: Any
    logabsdet: Any


class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class SVDResult(NamedTuple):
    U: Any  # noqa: N815 - NumPy's field names
    S: Any  # noqa: N815
    Vh: Any  # noqa: N815


class QRResult(NamedTuple):
    Q: Any  # noqa: N815
    R: Any  # noqa: N815


class LstsqResult(NamedTuple):
    x: Any
    residuals: Any
    rank: Any
    s: Any


# -- helpers -----------------------------------------------------------------------------
def _raw(x: Any) -> Any:
    return getattr(x, "_value", x)


def _value(x: Any) -> np.ndarray:
    return np.asarray(_raw(x))


def _shape(x: Any) -> tuple[int, ...]:
    return np.shape(getattr(x, "_value", x))


def _ndim(x: Any) -> int:
    return len(_shape(x))


def _float_dtype(x: Any) -> np.dtype:
    dtype = np.result_type(_value(x))
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


def _square(name: str, a: Any) -> None:
    shape = _shape(a)
    if len(shape) < 2:
        raise LinAlgError(
            f"linalg.{name}: {len(shape)}-dimensional array given; it must be at least "
            "two-dimensional"
        )
    if shape[-1] != shape[-2]:
        raise LinAlgError(f"linalg.{name}: last 2 dimensions must be square, got shape {shape}")


def _stacked(name: str, a: Any) -> None:
    if _ndim(a) < 2:
        raise LinAlgError(
            f"linalg.{name}: {_ndim(a)}-dimensional array given; it must be at least "
            "two-dimensional"
        )


def _identity_like(a: Any) -> np.ndarray:
    return np.eye(_shape(a)[-1], dtype=_float_dtype(a))


def _as_float(x: Any) -> Any:
    return x if np.result_type(_value(x)).kind in "fc" else P.cast_p(x, dtype=np.float64)


def _safe_sqrt(x: Any) -> Any:
    """``sqrt(x)`` whose derivative at 0 is 0 (a subgradient of the norm at 0), not inf.
    NaN stays NaN (the norm of a vector holding a NaN is NaN, as in NumPy)."""
    zero = P.equal_p(x, 0)
    return P.where_p(zero, 0, P.sqrt_p(P.where_p(zero, 1, x)))


def _last(x: Any, index: int) -> Any:
    return P.getitem_p(x, index=(Ellipsis, index))


# -- solving and inverting -----------------------------------------------------------------
def solve(a: Any, b: Any) -> Any:
    """Solve ``a @ x = b`` for ``x`` (``numpy.linalg.solve``).

    Args:
        a: Square matrices, shape ``(..., n, n)``.
        b: A vector ``(n,)`` (only when 1-D, as in NumPy 2) or matrices ``(..., n, k)``;
            batch dimensions broadcast.

    Returns:
        ``x`` with the broadcast shape of ``b``.
    """
    _square("solve", a)
    return P.solve_p(a, b)


def inv(a: Any) -> Any:
    """Inverse of each square matrix (``numpy.linalg.inv``), as ``solve(a, I)``."""
    _square("inv", a)
    return P.solve_p(a, _identity_like(a))


def tensorsolve(a: Any, b: Any, axes: Any = None) -> Any:
    """Solve the tensor equation ``tensordot(a, x, x.ndim) = b`` (``numpy.linalg.tensorsolve``)."""
    an = _ndim(a)
    if axes is not None:
        order = list(range(an))
        for k in axes:
            order.remove(k % an)
            order.insert(an, k % an)
        a = P.transpose_p(a, axes=tuple(order))
    old_shape = _shape(a)[-(an - _ndim(b)):]
    size = int(np.prod(old_shape, dtype=np.int64))
    if int(np.prod(_shape(a), dtype=np.int64)) != size * size:
        raise LinAlgError(
            "tensorsolve: input arrays must satisfy prod(a.shape[b.ndim:]) == "
            f"prod(a.shape[:b.ndim]), got shapes {_shape(a)} and {_shape(b)}"
        )
    square = P.reshape_p(a, shape=(size, size))
    x = P.solve_p(square, P.reshape_p(b, shape=(size,)))
    return P.reshape_p(x, shape=old_shape)


def tensorinv(a: Any, ind: int = 2) -> Any:
    """Inverse of an N-d array with respect to ``tensordot`` (``numpy.linalg.tensorinv``)."""
    if ind <= 0:
        raise ValueError(f"tensorinv: invalid ind argument {ind}; it must be positive")
    shape = _shape(a)
    inv_shape = shape[ind:] + shape[:ind]
    rows = int(np.prod(shape[ind:], dtype=np.int64))
    return P.reshape_p(inv(P.reshape_p(a, shape=(rows, -1))), shape=inv_shape)


def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = np._NoValue) -> Any:
    """Moore-Penrose pseudo-inverse (``numpy.linalg.pinv``).

    Its derivative assumes the rank is locally constant (singular values below the cutoff
    stay below it), which is the case almost everywhere.

    Args:
        a: Matrices ``(..., m, n)``.
        rcond: Relative cutoff for small singular values (a scalar; default 1e-15).
        hermitian: Treat ``a`` as symmetric (only its lower triangle is read).
        rtol: Array-API name of ``rcond``; ``None`` means ``max(m, n) * eps``.

    Returns:
        Pseudo-inverses, shape ``(..., n, m)``.
    """
    _stacked("pinv", a)
    if rcond is None:
        if rtol is np._NoValue:
            rcond = 1e-15
        elif rtol is None:
            rcond = max(_shape(a)[-2:]) * np.finfo(_float_dtype(a)).eps
        else:
            rcond = rtol
    elif rtol is not np._NoValue:
        raise ValueError("pinv: `rtol` and `rcond` can't be both set")
    if np.ndim(_raw(rcond)) != 0:
        raise NotImplementedError("tapegrad.numpy.linalg.pinv: rcond must be a scalar")
    if hermitian:
        a = sym_from_lower(a)
    # A fixed parameter: a traced rcond has no value yet, so float() refuses it.
    return P.pinv_p(a, rcond=float(rcond), hermitian=bool(hermitian))


def lstsq(a: Any, b: Any, rcond: Any = None) -> LstsqResult:
    """Least-squares solution of ``a @ x = b`` (``numpy.linalg.lstsq``), via `pinv`.

    Returns:
        ``(x, residuals, rank, s)``: ``residuals`` (squared 2-norms of ``b - a @ x``) is
        empty unless ``a`` has full column rank and more rows than columns; ``rank`` is not
        differentiable.
    """
    if _ndim(a) != 2 or _ndim(b) not in (1, 2):
        raise LinAlgError(
            f"lstsq: a must be 2-D and b 1-D or 2-D, got shapes {_shape(a)} and {_shape(b)}"
        )
    m, n = _shape(a)
    if _shape(b)[0] != m:
        raise LinAlgError(f"lstsq: incompatible dimensions {_shape(a)} and {_shape(b)}")
    if rcond is None:
        rcond = np.finfo(_float_dtype(a)).eps * max(m, n)
    x = P.matmul_p(P.pinv_p(a, rcond=float(rcond), hermitian=False), b)
    s = P.svd_p(a)[1]
    residuals = np.zeros((0,), dtype=_float_dtype(x))
    if m <= n:
        # No residuals whatever the rank: it is computed with primitives (a graph value).
        large = P.greater_p(s, rcond * P.max_p(s)) if min(m, n) else np.zeros(0, bool)
        return LstsqResult(x, residuals, P.cast_p(count_nonzero_p(large), dtype=np.int32), s)
    # The residuals exist only at full column rank: their shape depends on the values, so
    # they are read (which refuses a traced `a`).
    s_raw = np.asarray(s)
    rank = np.int32(np.sum(s_raw > rcond * s_raw.max())) if s_raw.size else np.int32(0)
    if rank == n:
        r = P.matmul_p(a, x) - b
        residuals = P.sum_p(r * r, axis=(0,), keepdims=_ndim(b) == 1)
    return LstsqResult(x, residuals, rank, s)


# -- determinants ------------------------------------------------------------------------
def det(a: Any) -> Any:
    """Determinant of each square matrix (``numpy.linalg.det``).

    The gradient is the cofactor matrix, finite also at singular matrices.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> singular = np.array([[1.0, 2.0], [2.0, 4.0]])
        >>> tg.grad(tnp.linalg.det)(singular).numpy().round(6)
        array([[ 4., -2.],
               [-2.,  1.]])
    """
    _square("det", a)
    return P.det_p(a)


def slogdet(a: Any) -> SlogdetResult:
    """Sign and log of the absolute determinant (``numpy.linalg.slogdet``).

    Returns:
        ``SlogdetResult(sign, logabsdet)``; ``sign`` carries no gradient.
    """
    _square("slogdet", a)
    return SlogdetResult(*P.slogdet_p(a))


# -- decompositions ----------------------------------------------------------------------
def cholesky(a: Any, /, *, upper: bool = False) -> Any:
    """Cholesky factor of symmetric positive-definite matrices (``numpy.linalg.cholesky``).

    Args:
        a: Matrices ``(..., n, n)``; only the lower triangle is read (the upper one when
            ``upper=True``).
        upper: Return ``U`` with ``a = U.T @ U`` instead of ``L`` with ``a = L @ L.T``.
    """
    _square("cholesky", a)
    if upper:
        return _mT(P.cholesky_p(_mT(a)))
    return P.cholesky_p(a)


def _lower(a: Any, uplo: str) -> Any:
    if uplo not in ("L", "U"):
        raise ValueError(f"eigh: UPLO argument must be 'L' or 'U', got {uplo!r}")
    return a if uplo == "L" else _mT(a)


def eigh(a: Any, UPLO: str = "L") -> EighResult:  # noqa: N803 - NumPy's name
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices (``numpy.linalg.eigh``).

    Eigenvector gradients exist only for distinct eigenvalues; at exact ties their terms
    are dropped (so functions of the eigenvalues alone keep finite gradients).

    Args:
        a: Matrices ``(..., n, n)``; only the triangle named by ``UPLO`` is read.
        UPLO: ``"L"`` (lower, default) or ``"U"``.

    Returns:
        ``EighResult(eigenvalues, eigenvectors)``, shapes ``(..., n)`` and ``(..., n, n)``.
    """
    _square("eigh", a)
    return EighResult(*P.eigh_p(_lower(a, UPLO)))


def eigvalsh(a: Any, UPLO: str = "L") -> Any:  # noqa: N803
    """Eigenvalues (ascending) of symmetric matrices (``numpy.linalg.eigvalsh``)."""
    return eigh(a, UPLO).eigenvalues


def _hermitian_svd(a: Any, compute_uv: bool) -> Any:
    # NumPy's own route: eigh, then |w| sorted descending; the signs move into Vh. Signs
    # and order are primitives: a traced graph sorts the eigenvalues it computes.
    w, v = P.eigh_p(a)
    dtype = _float_dtype(w)
    signs = P.where_p(P.signbit_p(w), dtype.type(-1), dtype.type(1))
    order = P.getitem_p(argsort_p(P.abs_p(w), axis=-1), index=(Ellipsis, slice(None, None, -1)))
    s = _indexing.take_along_axis(w * signs, order, axis=-1)
    if not compute_uv:
        return s
    row = _shape(order)[:-1] + (1, _shape(order)[-1])
    u = _indexing.take_along_axis(v, P.reshape_p(order, shape=row), axis=-1)
    sorted_signs = _indexing.take_along_axis(signs, order, axis=-1)
    return SVDResult(u, s, _mT(u * P.reshape_p(sorted_signs, shape=row)))


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> Any:
    """Singular value decomposition (``numpy.linalg.svd``), reduced form.

    Singular-vector gradients need distinct singular values; singular values alone have
    gradients everywhere. Losses should not depend on the signs of singular vectors.

    Args:
        a: Matrices ``(..., m, n)``.
        full_matrices: Only meaningful for non-square ``a``, where the extra columns are
            not unique (so not differentiable): pass ``False`` there.
        compute_uv: Return ``(U, S, Vh)``; else only ``S``.
        hermitian: ``a`` is symmetric (lower triangle read): computed from `eigh`.

    Returns:
        ``SVDResult(U, S, Vh)`` with shapes ``(..., m, k)``, ``(..., k)``, ``(..., k, n)``,
        ``k = min(m, n)``, or ``S`` alone.
    """
    _stacked("svd", a)
    if hermitian:
        _square("svd", a)
        return _hermitian_svd(a, compute_uv)
    if not compute_uv:
        return P.svd_p(a)[1]
    m, n = _shape(a)[-2:]
    if full_matrices and m != n:
        raise NotImplementedError(
            f"tapegrad.numpy.linalg.svd: full_matrices=True is not supported for non-square "
            f"matrices (shape {_shape(a)}): the extra singular vectors are not unique; pass "
            "full_matrices=False"
        )
    return SVDResult(*P.svd_p(a))


def svdvals(x: Any, /) -> Any:
    """Singular values, descending (``numpy.linalg.svdvals``)."""
    return svd(x, compute_uv=False)


def qr(a: Any, mode: str = "reduced") -> Any:
    """QR decomposition (``numpy.linalg.qr``).

    Args:
        a: Matrices ``(..., m, n)``; tall, square and wide are all differentiable (the
            leading ``min(m, n)`` columns must have full rank).
        mode: ``"reduced"`` (default), ``"r"``, or ``"complete"`` when ``m <= n`` (then the
            same as reduced). ``"raw"`` is not supported.

    Returns:
        ``QRResult(Q, R)``, or ``R`` for ``mode="r"``.
    """
    _stacked("qr", a)
    m, n = _shape(a)[-2:]
    if mode == "r":
        return P.qr_p(a)[1]
    if mode == "reduced" or (mode == "complete" and m <= n):
        return QRResult(*P.qr_p(a))
    if mode in ("complete", "raw"):
        raise NotImplementedError(
            f"tapegrad.numpy.linalg.qr: mode={mode!r} is not supported for shape {_shape(a)} "
            "(not unique, so not differentiable); use mode='reduced'"
        )
    raise ValueError(f"qr: unrecognized mode {mode!r}")


# -- norms -------------------------------------------------------------------------------
def _vector_norm(x: Any, ord: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
    if ord is None or ord == 2:
        return _safe_sqrt(P.sum_p(x * x, axis=axis, keepdims=keepdims))
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
        return _safe_sqrt(P.sum_p(x * x, axis=tuple(sorted((row, col))), keepdims=False))
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
            ret = _safe_sqrt(P.sum_p(flat * flat, axis=None, keepdims=False))
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


def matrix_rank(A: Any, tol: Any = None, hermitian: bool = False, *,  # noqa: N803
                rtol: Any = None) -> Any:
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


# -- products ----------------------------------------------------------------------------
def matrix_power(a: Any, n: int) -> Any:
    """``a`` raised to the integer power ``n`` (``numpy.linalg.matrix_power``).

    Negative powers invert first; ``n == 0`` gives identities (zero gradient).
    """
    _square("matrix_power", a)
    try:
        n = operator.index(n)
    except TypeError as err:
        raise TypeError(f"matrix_power: exponent must be an integer, got {n!r}") from err
    if n == 0:
        eye = np.broadcast_to(np.eye(_shape(a)[-1], dtype=_value(a).dtype), _shape(a)).copy()
        return Tensor._wrap(eye) if isinstance(a, Tensor) else eye
    if n < 0:
        a, n = inv(a), -n
    # Binary exponentiation, in NumPy's order of products.
    z = result = None
    while n > 0:
        z = a if z is None else P.matmul_p(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else P.matmul_p(result, z)
    return result


def _chain_order(shapes: list[tuple[int, ...]]) -> np.ndarray:
    """NumPy's dynamic programme for the cheapest matrix-chain parenthesisation."""
    n = len(shapes)
    dims = [s[0] for s in shapes] + [shapes[-1][1]]
    cost = np.zeros((n, n))
    split = np.zeros((n, n), dtype=int)
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i, j] = np.inf
            for k in range(i, j):
                q = cost[i, k] + cost[k + 1, j] + dims[i] * dims[k + 1] * dims[j + 1]
                if q < cost[i, j]:
                    cost[i, j], split[i, j] = q, k
    return split


def _chain(arrays: list[Any], split: np.ndarray, i: int, j: int) -> Any:
    if i == j:
        return arrays[i]
    k = split[i, j]
    return P.matmul_p(_chain(arrays, split, i, k), _chain(arrays, split, k + 1, j))


def multi_dot(arrays: Any, *, out: Any = None) -> Any:
    """Product of two or more matrices in the cheapest order (``numpy.linalg.multi_dot``).

    The first array may be 1-D (a row vector) and the last 1-D (a column vector).
    """
    if out is not None:
        raise TypeError("tapegrad.numpy.linalg.multi_dot: out= is not supported")
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("multi_dot: expecting at least two arrays")
    if len(arrays) == 2:
        return _products.dot(arrays[0], arrays[1])
    first_1d, last_1d = _ndim(arrays[0]) == 1, _ndim(arrays[-1]) == 1
    if first_1d:
        arrays[0] = P.reshape_p(arrays[0], shape=(1, -1))
    if last_1d:
        arrays[-1] = P.reshape_p(arrays[-1], shape=(-1, 1))
    shapes = [_shape(a) for a in arrays]
    if any(len(s) != 2 for s in shapes):
        raise LinAlgError(f"multi_dot: arrays must be 2-D (ends may be 1-D), got {shapes}")
    result = _chain(arrays, _chain_order(shapes), 0, len(arrays) - 1)
    if first_1d and last_1d:
        return P.getitem_p(result, index=(0, 0))
    if first_1d or last_1d:
        return P.reshape_p(result, shape=(-1,))
    return result


# -- array-API names (NumPy 2): thin wrappers over tapegrad.numpy ---------------------------
def matmul(x1: Any, x2: Any, /) -> Any:
    """Matrix product (``numpy.linalg.matmul``)."""
    return _products.matmul(x1, x2)


def outer(x1: Any, x2: Any, /) -> Any:
    """Outer product of two vectors (``numpy.linalg.outer``)."""
    if _ndim(x1) != 1 or _ndim(x2) != 1:
        raise ValueError(
            f"linalg.outer: inputs must be 1-D, got shapes {_shape(x1)} and {_shape(x2)}"
        )
    return _products.outer(x1, x2)


def tensordot(x1: Any, x2: Any, /, *, axes: Any = 2) -> Any:
    """Tensor dot product (``numpy.linalg.tensordot``)."""
    return _products.tensordot(x1, x2, axes=axes)


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """Dot product of vectors along ``axis``, broadcasting (``numpy.linalg.vecdot``)."""
    product = x1 * x2
    nd = _ndim(product)
    return P.sum_p(product, axis=(axis_index(axis, nd, "vecdot"),), keepdims=False)


def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """Cross product of 3-vectors (``numpy.linalg.cross``)."""
    if axis != -1:
        raise NotImplementedError("tapegrad.numpy.linalg.cross: only axis=-1 is supported")
    return _products.cross(x1, x2)


def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Any:
    """Sum of the diagonals of the last two axes (``numpy.linalg.trace``)."""
    out = _manipulation.trace(x, offset, -2, -1)
    return out if dtype is None else P.cast_p(out, dtype=np.dtype(dtype))


def diagonal(x: Any, /, *, offset: int = 0) -> Any:
    """Diagonals of the last two axes (``numpy.linalg.diagonal``)."""
    return _manipulation.diagonal(x, offset, -2, -1)


def matrix_transpose(x: Any, /) -> Any:
    """Swap the last two axes (``numpy.linalg.matrix_transpose``)."""
    _stacked("matrix_transpose", x)
    return _mT(x)


__all__ = [
    "EighResult", "LinAlgError", "LstsqResult", "QRResult", "SVDResult", "SlogdetResult",
    "cholesky", "cond", "cross", "det", "diagonal", "eigh", "eigvalsh",
    "inv", "lstsq", "matmul", "matrix_norm", "matrix_power", "matrix_rank",
    "matrix_transpose", "multi_dot", "norm", "outer", "pinv", "qr", "slogdet", "solve",
    "svd", "svdvals", "tensordot", "tensorinv", "tensorsolve", "trace", "vecdot",
    "vector_norm",
]

"""NumPy's index tricks: ``r_``, ``c_``, ``mgrid``, ``ogrid``, ``s_``, ``index_exp``.

``r_`` and ``c_`` concatenate with NumPy's rules (slices as ranges, ``a:b:5j`` as
``linspace``, string directives ``'0,2,0'``, ``'r'``, ``'c'``) and are differentiable in
the Tensors they concatenate (and in Tensor slice bounds). ``mgrid``/``ogrid`` build
grids whose bounds may be Tensors. Without a Tensor in the key, each gives NumPy's own
result.

Examples:
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> x = tg.tensor([1.0, 2.0])
    >>> tnp.r_[x, 0.0, x * 2]
    Tensor([1., 2., 0., 2., 4.], dtype=float32)
    >>> tg.grad(lambda x: (tnp.c_[x, x * x] ** 2).sum())(x)
    Tensor([ 6., 36.], dtype=float32)
    >>> tnp.mgrid[0:1:3j]
    array([0. , 0.5, 1. ])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor
from tapegrad.numpy._arguments import array_like, dtype_of, holds_tensor, shape_of, unwrap
from tapegrad.numpy._creation import arange, linspace, meshgrid
from tapegrad.numpy._manipulation import concatenate, stack, swapaxes

__all__ = ["c_", "index_exp", "mgrid", "ogrid", "r_", "s_"]

s_ = np.s_
index_exp = np.index_exp


def _holds_tensor(key: tuple[Any, ...]) -> bool:
    for item in key:
        if isinstance(item, slice):
            if any(isinstance(b, Tensor) for b in (item.start, item.stop, item.step)):
                return True
        elif isinstance(item, Tensor) or (isinstance(item, list | tuple) and holds_tensor(item)):
            return True
    return False


def _range(item: slice) -> Any:
    """A slice as NumPy's index tricks read it: ``a:b:nj`` is ``linspace(a, b, n)``,
    ``a:b:s`` is ``arange(a, b, s)``."""
    start = 0 if item.start is None else item.start
    step = 1 if item.step is None else item.step
    tensor = any(isinstance(b, Tensor) for b in (start, item.stop, step))
    if isinstance(step, complex | np.complexfloating):
        grid = linspace if tensor else np.linspace
        return grid(start, item.stop, num=int(abs(step)))
    return (arange if tensor else np.arange)(start, item.stop, step)


def _with_ndmin(x: Any, ndmin: int, trans1d: int) -> Any:
    """``np.array(x, ndmin=ndmin)`` with the new axes placed by ``trans1d`` (NumPy's rule)."""
    shape = shape_of(x)
    ndim = len(shape)
    if ndim >= ndmin:
        return x
    x = P.reshape_p(x, shape=(1,) * (ndmin - ndim) + tuple(shape))
    if trans1d == -1:
        return x
    k2, k1 = ndmin - ndim, trans1d
    if k1 < 0:
        k1 += k2 + 1
    axes = list(range(ndmin))
    return P.transpose_p(x, axes=tuple(axes[:k1] + axes[k2:] + axes[k1:k2]))


class AxisConcatenator:
    """NumPy's ``r_``/``c_``: concatenation along an axis, differentiable in Tensors.

    Args:
        axis: The axis to concatenate along.
        ndmin: The rank every piece is raised to.
        trans1d: Where a piece's own axes go when it is raised (NumPy's ``trans1d``).
        numpy_twin: NumPy's own object, used when the key holds no Tensor.
    """

    def __init__(self, axis: int, ndmin: int, trans1d: int, numpy_twin: Any) -> None:
        self.axis, self.ndmin, self.trans1d = axis, ndmin, trans1d
        self._numpy = numpy_twin

    def __getitem__(self, key: Any) -> Any:
        if not isinstance(key, tuple):
            key = (key,)
        if not _holds_tensor(key):
            return self._numpy[key]
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        matrix = None
        pieces: list[Any] = []
        types: list[Any] = []
        for k, item in enumerate(key):
            if isinstance(item, str):
                if k != 0:
                    raise ValueError("special directives must be the first entry.")
                if item in ("r", "c"):
                    matrix = item
                    continue
                axis, ndmin, trans1d = _directive(item, axis, ndmin, trans1d)
                continue
            if isinstance(item, slice):
                piece = _range(item)
                if ndmin > 1:
                    piece = _with_ndmin(piece, ndmin, -1)
                    if trans1d != -1:
                        piece = swapaxes(piece, -1, trans1d)
                types.append(dtype_of(piece))
            elif isinstance(item, bool | int | float | complex | np.generic):
                piece = P.reshape_p(np.asarray(item), shape=(1,) * ndmin)
                types.append(item)  # Python numbers are weak, as in NumPy
            else:
                piece = _with_ndmin(array_like(item), ndmin, trans1d)
                types.append(dtype_of(piece))
            pieces.append(piece)
        dtype = np.result_type(*types)
        pieces = [p if dtype_of(p) == dtype else P.cast_p(p, dtype=dtype) for p in pieces]
        out = concatenate(pieces, axis=axis)
        if matrix is not None and len(shape_of(out)) == 1:
            # NumPy's matrix result: a row ('r') or a column ('c'), 2-D here.
            out = P.reshape_p(out, shape=(1, -1) if matrix == "r" else (-1, 1))
        return out

    def __len__(self) -> int:
        return 0


def _directive(item: str, axis: int, ndmin: int, trans1d: int) -> tuple[int, int, int]:
    """A string directive: ``'axis'``, ``'axis,ndmin'`` or ``'axis,ndmin,trans1d'``."""
    try:
        values = [int(v) for v in item.split(",")]
    except ValueError as err:
        raise ValueError(f"unknown special directive {item!r}") from err
    if len(values) > 3:
        raise ValueError(f"unknown special directive {item!r}")
    axis = values[0]
    if len(values) > 1:
        ndmin = values[1]
    if len(values) > 2:
        trans1d = values[2]
    return axis, ndmin, trans1d


def _bounds(item: slice) -> list[Any]:
    """A slice's start, stop and step as NumPy's grids type them (Python numbers weak, a
    complex step as its length)."""
    step = 1 if item.step is None else item.step
    if isinstance(step, complex | np.complexfloating):
        step = abs(step)
    start = 0 if item.start is None else item.start
    return [unwrap(b) for b in (start, item.stop, step)]


class GridMaker:
    """NumPy's ``mgrid`` (dense) and ``ogrid`` (open): grids from slices whose bounds may be
    Tensors (differentiable in them).

    Args:
        sparse: ``True`` for ``ogrid``.
        numpy_twin: NumPy's own object, used when no bound is a Tensor.
    """

    def __init__(self, sparse: bool, numpy_twin: Any) -> None:
        self.sparse = sparse
        self._numpy = numpy_twin

    def __getitem__(self, key: Any) -> Any:
        items = key if isinstance(key, tuple) else (key,)
        if not _holds_tensor(items):
            return self._numpy[key]
        ranges = [_range(item) for item in items]
        if not isinstance(key, tuple):
            return ranges[0]
        dtype = np.result_type(*[b for item in items for b in _bounds(item)])
        ranges = [r if dtype_of(r) == dtype else P.cast_p(r, dtype=dtype) for r in ranges]
        grids = meshgrid(*ranges, indexing="ij", sparse=self.sparse)
        return grids if self.sparse else stack(grids)

    def __len__(self) -> int:
        return 0


r_ = AxisConcatenator(0, 1, -1, np.r_)
c_ = AxisConcatenator(-1, 2, 0, np.c_)
mgrid = GridMaker(False, np.mgrid)
ogrid = GridMaker(True, np.ogrid)

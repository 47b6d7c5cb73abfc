"""Collectives for user code: sums, means, gathers and broadcasts across processes.

Each is a primitive of the table (`tapegrad.core.prims.collective`), so it works on NumPy
arrays and on Tensors, inside a `GradientTape`, under `grad`/`jvp`/`vjp`, in
`check_grads` and in `tapegrad.function` compiled graphs, with these derivatives (the
gradient of the *total* over processes of whatever each process computes):

===============  ====================================  ===========================
op               reverse mode (VJP)                    forward mode (JVP)
===============  ====================================  ===========================
``all_sum``      ``all_sum(g)``                        ``all_sum(t)``
``all_mean``     ``all_mean(g)``                       ``all_mean(t)``
``all_gather``   this process's rows of ``all_sum(g)``  ``all_gather(t)``
``broadcast``    ``all_sum(g)`` on root, 0 elsewhere   ``broadcast(t)``
===============  ====================================  ===========================

On one process (no MPI, or ``mpiexec -n 1``) each is the identity. Every process must call
the same collectives in the same order (a tape's backward walk and a compiled graph run
them in the same order on every process, since each traces the same program).

Why a distributed sum can differ from the single-process one in the last bits: MPI adds
the processes' arrays in an order of its choosing (a ring, a tree), and floating-point
addition is not associative. ``DataParallel(deterministic=True)`` gathers and then adds in
rank order instead, which reproduces a single process's sum of the same parts exactly.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> from tapegrad.distribution import all_mean
    >>> x = tg.Variable(np.array([1.0, 2.0]))
    >>> with tg.GradientTape() as tape:
    ...     y = tg.numpy.sum(all_mean(x) ** 2)
    >>> tape.gradient(y, x).numpy()  # one process: all_mean is the identity
    array([2., 4.])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tapegrad.core.prims.collective import (
    all_gather_p,
    all_mean_p,
    all_sum_p,
    broadcast_p,
    reduce_scatter_p,
)
from tapegrad.core.prims.shape import concatenate_p, reshape_p, split_p
from tapegrad.core.tensor import dtype_of, shape_of
from tapegrad.distribution.comm import world


def all_sum(x: Any) -> Any:
    """The elementwise sum of ``x`` over all processes, on every process.

    Args:
        x: An array or Tensor of the same shape and dtype on every process.

    Returns:
        The sum (a Tensor for a Tensor argument, else an array).

    Examples:
        >>> import numpy as np
        >>> all_sum(np.array([1.0, 2.0]))  # on 2 processes: twice each entry
        array([1., 2.])
    """
    return all_sum_p(x)


def all_mean(x: Any) -> Any:
    """The elementwise mean of ``x`` over all processes, on every process.

    Args:
        x: An array or Tensor of the same shape and dtype on every process.

    Returns:
        The mean, in ``x``'s float dtype (integers give float64).

    Examples:
        >>> import numpy as np
        >>> all_mean(np.array([1.0, 3.0]))
        array([1., 3.])
    """
    return all_mean_p(x)


def all_gather(x: Any) -> Any:
    """Every process's ``x`` concatenated on axis 0 in rank order, on every process.

    The processes' arrays may differ in their first axis (a last partial batch).

    Args:
        x: An array or Tensor with at least one axis (same dtype and trailing axes on
            every process).

    Returns:
        The concatenation: ``sum of the processes' x.shape[0]`` rows.

    Examples:
        >>> import numpy as np
        >>> all_gather(np.array([[1.0, 2.0]]))
        array([[1., 2.]])
    """
    return all_gather_p(x)


def reduce_scatter(x: Any, rows: int) -> Any:
    """This process's ``rows`` rows of the sum of ``x`` over processes (`all_gather`'s
    transpose: process ``r`` gets the rows after those of processes ``0 .. r-1``).

    Args:
        x: An array or Tensor of the same shape on every process, whose first axis is the
            sum of the processes' ``rows``.
        rows: How many rows this process takes.

    Returns:
        An array or Tensor of ``rows`` rows.

    Examples:
        >>> import numpy as np
        >>> reduce_scatter(np.array([[1.0], [2.0]]), rows=2)
        array([[1.],
               [2.]])
    """
    return reduce_scatter_p(x, rows=rows)


def broadcast(x: Any, root: int = 0) -> Any:
    """Process ``root``'s ``x`` on every process.

    Args:
        x: An array or Tensor of the same shape and dtype on every process (only the
            root's values are read).
        root: The rank whose values are sent.

    Returns:
        The root's values.

    Examples:
        >>> import numpy as np
        >>> broadcast(np.array([5.0]))
        array([5.])
    """
    return broadcast_p(x, root=root)


def average_gradients(grads: Sequence[Any]) -> list[Any]:
    """Average gradients over processes with one fused all-reduce per dtype.

    For custom training loops: ``grads = tape.gradient(loss, weights)`` on each process's
    share of the batch, then ``average_gradients(grads)`` before
    ``optimizer.apply_gradients``. The gradients are laid end to end in list order in one
    flat buffer per dtype, averaged with one ``all_mean`` and cut back into their shapes,
    so every process must pass the same list (same order, shapes, dtypes and Nones).
    Differentiable and traceable, like the collectives it is made of.

    Args:
        grads: Arrays, Tensors or None (kept as None).

    Returns:
        A list of the averaged gradients, in order.

    Examples:
        >>> import numpy as np
        >>> average_gradients([np.ones(2), None, np.float32(3.0)])
        [array([1., 1.]), None, np.float32(3.0)]
    """
    grads = list(grads)
    if world().size == 1:
        return grads
    out: list[Any] = list(grads)
    groups: dict[Any, list[int]] = {}
    for index, grad in enumerate(grads):
        if grad is not None:
            groups.setdefault(dtype_of(grad), []).append(index)
    for indices in groups.values():
        shapes = [shape_of(grads[i]) for i in indices]
        sizes = [_size(shape) for shape in shapes]
        flat = concatenate_p(
            *[reshape_p(grads[i], shape=(n,)) for i, n in zip(indices, sizes, strict=True)]
        )
        mean = all_mean_p(flat)
        if len(indices) == 1:  # one gradient of this dtype: nothing to split
            pieces: Any = (mean,)
        else:
            bounds = tuple((sum(sizes[:k]), sum(sizes[: k + 1])) for k in range(len(sizes)))
            pieces = split_p(mean, bounds=bounds, axis=0)
        for i, piece, shape in zip(indices, pieces, shapes, strict=True):
            out[i] = reshape_p(piece, shape=shape)
    return out


def _size(shape: tuple[int, ...]) -> int:
    size = 1
    for n in shape:
        size *= n
    return size


__all__ = [
    "all_gather",
    "all_mean",
    "all_sum",
    "average_gradients",
    "broadcast",
    "reduce_scatter",
]

"""Collective primitives: ops whose result combines the values of every process.

``all_sum``, ``all_mean``, ``all_gather`` (concatenation on axis 0), ``reduce_scatter`` (this
process's rows of an ``all_sum``: ``all_gather``'s transpose) and ``broadcast``. They are
primitives so that they differentiate, trace and compile like every other op; their rules
see the sum over processes as one linear map, transposed by the VJP:

* ``all_sum``: every process's output depends on every process's input, so the cotangent
  of an input is the sum of every process's output cotangent: ``all_sum(g)``;
* ``all_mean``: ``all_mean(g)``;
* ``all_gather``: this process's rows of ``all_sum(g)`` (``reduce_scatter``), and back;
* ``broadcast(x, root)``: ``all_sum(g)`` on ``root``, zeros elsewhere.

Forward mode: each is linear, so the tangent goes through the same op.

Core knows nothing of MPI: the implementations ask a *communicator* installed with
`set_communicator` (``tapegrad.distribution`` installs its own when imported). With none
installed, or a communicator of one process, every op is the identity on a copy. A
communicator has ``rank``, ``size``, ``allreduce_sum(array)``, ``allgather(array)`` (a list
of every process's array) and ``bcast(array, root)``.

The ops are ``stateful``: graph passes never fold, merge or drop them (a collective whose
result no one reads must still run, or the other processes would wait for it forever), and
every process must run the same collectives in the same order.

Examples:
    >>> import numpy as np
    >>> all_sum_p(np.array([1.0, 2.0]))  # one process: the sum over one process
    array([1., 2.])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from tapegrad.core.primitive import Primitive
from tapegrad.core.prims.elementwise import where_p
from tapegrad.core.tensor import shape_of


class Communicator(Protocol):
    """What the collective primitives need of a communicator."""

    rank: int
    size: int

    def allreduce_sum(self, array: Any) -> np.ndarray: ...

    def allgather(self, array: Any) -> list[np.ndarray]: ...

    def bcast(self, value: Any, root: int = 0) -> Any: ...


_provider: Callable[[], Communicator] | None = None


def set_communicator(
    provider: Callable[[], Communicator] | None,
) -> Callable[[], Communicator] | None:
    """Install the function that returns the communicator the collectives use.

    Args:
        provider: A function returning the communicator (called at each collective, so
            it may create one lazily), or None for a single process.

    Returns:
        The previous provider, for restoring.

    Examples:
        >>> previous = set_communicator(None)
        >>> set_communicator(previous) is None
        True
    """
    global _provider
    previous = _provider
    _provider = provider
    return previous


def communicator() -> Communicator | None:
    """The communicator the collectives use now; None: a single process.

    Examples:
        >>> communicator() is None or communicator().size >= 1
        True
    """
    if _provider is None:
        return None
    comm = _provider()
    return comm if comm.size > 1 else None


def process_rank() -> int:
    """This process's rank among the communicator's processes (0 for a single process)."""
    comm = communicator()
    return 0 if comm is None else comm.rank


def _copy(x: Any) -> np.ndarray:
    return np.array(x, order="C", copy=True)


def _declare(prim: Primitive) -> Primitive:
    prim.stateful = True
    prim.returns = "fresh"  # (a new C-ordered array on every process count)
    prim.c_order = lambda inputs_c, shapes, out_shape, params: True
    return prim


# -- all_sum, all_mean ---------------------------------------------------------------------
def _all_sum(x: Any) -> np.ndarray:
    comm = communicator()
    return _copy(x) if comm is None else comm.allreduce_sum(np.asarray(x))


def _all_mean(x: Any) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "fc":  # (integers and booleans average to float64, as np.mean)
        x = x.astype(np.float64)
    comm = communicator()
    if comm is None:
        return _copy(x)
    total = comm.allreduce_sum(x)
    total /= total.dtype.type(comm.size)
    return total


all_sum_p = _declare(Primitive("all_sum", _all_sum))
all_sum_p.defvjp(lambda g, ans, x: all_sum_p(g))
all_sum_p.defjvp(lambda t, ans, x: all_sum_p(t))
all_sum_p.zero_preserving = True

all_mean_p = _declare(Primitive("all_mean", _all_mean))
all_mean_p.defvjp(lambda g, ans, x: all_mean_p(g))
all_mean_p.defjvp(lambda t, ans, x: all_mean_p(t))
all_mean_p.zero_preserving = True


# -- all_gather and its transpose, reduce_scatter ------------------------------------------
def _all_gather(x: Any) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("all_gather: concatenates on axis 0, so x needs at least one axis")
    comm = communicator()
    return _copy(x) if comm is None else np.concatenate(comm.allgather(x), axis=0)


def _reduce_scatter(g: Any, *, rows: int) -> np.ndarray:
    # The sum over processes of g, then this process's `rows` rows (after the rows of the
    # processes of lower rank: all_gather's layout, whatever each process's count).
    comm = communicator()
    if comm is None:
        if np.shape(g)[0] != rows:
            raise ValueError(f"reduce_scatter: {rows} rows asked of a single process's {g.shape}")
        return _copy(g)
    counts = [int(c[0]) for c in comm.allgather(np.array([rows], np.int64))]
    start = sum(counts[: comm.rank])
    total = comm.allreduce_sum(np.asarray(g))
    if total.shape[0] != sum(counts):
        raise ValueError(
            f"reduce_scatter: {total.shape[0]} rows to share, the processes ask for {counts}"
        )
    return _copy(total[start : start + rows])


all_gather_p = _declare(Primitive("all_gather", _all_gather))
reduce_scatter_p = _declare(Primitive("reduce_scatter", _reduce_scatter))
all_gather_p.defvjp(lambda g, ans, x: reduce_scatter_p(g, rows=shape_of(x)[0]))
all_gather_p.defjvp(lambda t, ans, x: all_gather_p(t))
all_gather_p.zero_preserving = True
reduce_scatter_p.defvjp(lambda g, ans, x, rows: all_gather_p(g))
reduce_scatter_p.defjvp(lambda t, ans, x, rows: reduce_scatter_p(t, rows=rows))
reduce_scatter_p.zero_preserving = True


# -- broadcast -----------------------------------------------------------------------------
def _broadcast(x: Any, *, root: int = 0) -> np.ndarray:
    comm = communicator()
    if comm is None:
        if root != 0:
            raise ValueError(f"broadcast: root {root} is not a process (one process: 0)")
        return _copy(x)
    x = np.ascontiguousarray(x)
    out = np.asarray(comm.bcast(x, root=root))  # (only the root's x is sent)
    if out.shape != x.shape or out.dtype != x.dtype:
        raise ValueError(
            f"broadcast: process {comm.rank} holds {x.shape} {x.dtype}, the root "
            f"(process {root}) sends {out.shape} {out.dtype}: every process must pass an "
            "array of the root's shape and dtype"
        )
    return _copy(out) if comm.rank == root else out


def _broadcast_vjp(g: Any, ans: Any, x: Any, root: int = 0) -> Any:
    # Only the root's input reached the outputs. The zeros elsewhere are selected, not
    # returned as a constant: every process then records the same ops, so a derivative
    # of this rule runs the same collectives everywhere (a constant would skip the sum's
    # own derivative on some processes and leave the others waiting).
    return where_p(np.bool_(process_rank() == root), all_sum_p(g), 0)


broadcast_p = _declare(Primitive("broadcast", _broadcast))
broadcast_p.defvjp(_broadcast_vjp)
broadcast_p.defjvp(lambda t, ans, x, root=0: broadcast_p(t, root=root))
broadcast_p.zero_preserving = True

__all__ = [
    "Communicator",
    "all_gather_p",
    "all_mean_p",
    "all_sum_p",
    "broadcast_p",
    "communicator",
    "process_rank",
    "reduce_scatter_p",
    "set_communicator",
]

"""Keras 3's control-flow ops: ``cond``, ``switch``, ``while_loop``, ``fori_loop``, ``scan``,
``map``, ``vectorized_map`` and ``associative_scan``, with JAX's semantics.

They run as Python control flow over tapegrad ops, so eagerly every step is recorded by
tapes and gradients flow through every iteration. Inside `tapegrad.function` they unroll
while the predicate, the branch index and the trip count are concrete (Python values or
tensors computed outside the traced function); a predicate computed inside the traced
function raises the tracer's `TracerValueError` saying so (a compiled Keras step then runs
eagerly): data-dependent control flow is not traced into the graph yet (use
``tapegrad.numpy.where`` for value-dependent choices).

Examples:
    >>> import tapegrad as tg
    >>> tg.ops.fori_loop(0, 3, lambda i, x: x * 2.0, tg.tensor(1.0)).numpy()
    array(8., dtype=float32)
    >>> tg.grad(lambda x: tg.ops.fori_loop(0, 3, lambda i, v: v * x, x))(2.0).numpy()
    array(32., dtype=float32)
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import shape_of
from tapegrad.core.tree import tree_flatten, tree_unflatten
from tapegrad.ops.core import concrete_value, convert_to_tensor

__all__ = [
    "associative_scan",
    "cond",
    "fori_loop",
    "map",
    "scan",
    "switch",
    "vectorize",
    "vectorized_map",
    "while_loop",
]


def _concrete(op: str, what: str, value: Any) -> Any:
    """The value of a predicate/index/trip count, refusing one computed by a traced graph."""
    if isinstance(value, bool | int):
        return value
    # Data-dependent control flow does not trace into the graph yet: a value computed
    # inside tapegrad.function gets the tracer's error (compiled Keras steps run eagerly).
    return concrete_value(value, f"ops.{op}'s {what} (data-dependent control flow)")


def _truth(op: str, what: str, value: Any) -> bool:
    concrete = _concrete(op, what, value)
    if np.ndim(concrete) != 0:
        raise ValueError(f"ops.{op}: the {what} must be a scalar, got shape {np.shape(concrete)}")
    return bool(concrete)


def cond(pred: Any, true_fn: Callable[[], Any], false_fn: Callable[[], Any]) -> Any:
    """``true_fn()`` if ``pred`` else ``false_fn()`` (only the chosen branch runs).

    Args:
        pred: A scalar boolean (Python or tensor).
        true_fn: Called without arguments when ``pred`` holds.
        false_fn: Called otherwise.

    Returns:
        The chosen branch's output.

    Examples:
        >>> import tapegrad as tg
        >>> x = tg.tensor(2.0)
        >>> tg.ops.cond(x > 0, lambda: x * 10, lambda: -x).numpy()
        array(20., dtype=float32)
    """
    if not callable(true_fn) or not callable(false_fn):
        raise TypeError(
            f"ops.cond: true_fn and false_fn must be callables, got {true_fn!r} and {false_fn!r}"
        )
    return true_fn() if _truth("cond", "predicate", pred) else false_fn()


def switch(index: Any, branches: Sequence[Callable[..., Any]], *operands: Any) -> Any:
    """``branches[index](*operands)``, the index clamped to ``[0, len(branches) - 1]`` (JAX).

    Examples:
        >>> import tapegrad as tg
        >>> branches = [lambda x: x + 1, lambda x: x * 10]
        >>> tg.ops.switch(1, branches, tg.tensor(2.0)).numpy()
        array(20., dtype=float32)
        >>> tg.ops.switch(7, branches, tg.tensor(2.0)).numpy()  # clamped to the last branch
        array(20., dtype=float32)
    """
    if not branches:
        raise ValueError("ops.switch: branches must be a non-empty sequence of callables")
    value = _concrete("switch", "branch index", index)
    if np.ndim(value) != 0 or np.asarray(value).dtype.kind not in "iub":
        raise ValueError(f"ops.switch: index must be a scalar integer, got {value!r}")
    chosen = builtins.min(builtins.max(int(value), 0), len(branches) - 1)
    return branches[chosen](*operands)


def while_loop(
    cond: Callable[..., Any],
    body: Callable[..., Any],
    loop_vars: Any,
    maximum_iterations: int | None = None,
) -> Any:
    """Repeat ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` holds.

    A tuple or list of loop variables is unpacked into ``cond`` and ``body`` and the result
    is a tuple; a single loop variable is passed and returned as it is (Keras's rules).

    Args:
        cond: Returns a scalar boolean.
        body: Returns new loop variables of the same structure.
        loop_vars: The initial values.
        maximum_iterations: Stop after this many iterations (None: no bound).

    Returns:
        The final loop variables.

    Examples:
        >>> import tapegrad as tg
        >>> i, x = tg.ops.while_loop(lambda i, x: i < 3, lambda i, x: (i + 1, x * 2), (0, 1.0))
        >>> i, float(x)
        (3, 8.0)
    """
    if not callable(cond) or not callable(body):
        raise TypeError(f"ops.while_loop: cond and body must be callables, got {cond!r}, {body!r}")
    is_tuple = isinstance(loop_vars, tuple | list)
    current = tuple(loop_vars) if is_tuple else (loop_vars,)
    steps = 0
    while maximum_iterations is None or steps < maximum_iterations:
        if not _truth("while_loop", "loop condition", cond(*current)):
            break
        result = body(*current)
        current = tuple(result) if isinstance(result, tuple | list) else (result,)
        steps += 1
    return current if is_tuple else current[0]


def fori_loop(lower: int, upper: int, body_fun: Callable[[Any, Any], Any], init_val: Any) -> Any:
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``; returns ``val``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.fori_loop(0, 4, lambda i, total: total + i, 0)
        6
    """
    low = int(_concrete("fori_loop", "lower bound", lower))
    high = int(_concrete("fori_loop", "upper bound", upper))
    val = init_val
    for i in range(low, high):
        val = body_fun(i, val)
    return val


def _stack(op: str, items: list[Any]) -> Any:
    """Stack a list of equally structured outputs leaf-wise along a new first axis."""
    first_leaves, treedef = tree_flatten(items[0])
    columns: list[list[Any]] = [[leaf] for leaf in first_leaves]
    for item in items[1:]:
        leaves, other = tree_flatten(item)
        if other != treedef:
            raise ValueError(f"ops.{op}: every step must return the same structure")
        for column, leaf in zip(columns, leaves, strict=True):
            column.append(leaf)
    stacked = []
    for column in columns:
        if builtins.all(leaf is None for leaf in column):
            stacked.append(None)
            continue
        parts = [P.reshape_p(c, shape=(1, *shape_of(c))) for c in column]
        stacked.append(P.concatenate_p(*parts, axis=0))
    return tree_unflatten(treedef, stacked)


def scan(
    f: Callable[[Any, Any], tuple[Any, Any]],
    init: Any,
    xs: Any = None,
    length: int | None = None,
    reverse: bool = False,
    unroll: int | bool = 1,
) -> tuple[Any, Any]:
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``; stack the ``y``.

    JAX's ``lax.scan``: ``xs`` and the outputs may be nested structures; with ``xs=None``
    the loop runs ``length`` times with ``x=None``; ``reverse`` scans from the end (the
    stacked outputs keep the order of ``xs``).

    Args:
        f: ``(carry, x) -> (carry, y)``.
        init: The initial carry.
        xs: What to scan over (leading axis), or None.
        length: The number of steps (needed when ``xs`` is None).
        reverse: Scan from the last element.
        unroll: Accepted for compatibility (the loop always runs step by step).

    Returns:
        ``(final_carry, stacked_ys)``.

    Examples:
        >>> import tapegrad as tg
        >>> carry, ys = tg.ops.scan(lambda c, x: (c + x, c * x), 0.0, tg.tensor([1.0, 2.0, 3.0]))
        >>> float(carry), ys.numpy()
        (6.0, array([0., 2., 9.], dtype=float32))
    """
    if not callable(f):
        raise TypeError(f"ops.scan: f must be a callable, got {f!r}")
    if not isinstance(unroll, bool) and (not isinstance(unroll, int) or unroll < 1):
        raise ValueError(f"ops.scan: unroll must be a positive int or a bool, got {unroll!r}")
    if xs is None and length is None:
        raise ValueError("ops.scan: got no xs to scan over and no length")
    if xs is None:
        leaves, treedef = [], None
        n = int(length)  # type: ignore[arg-type]
    else:
        leaves, treedef = tree_flatten(xs)
        leaves = [convert_to_tensor(leaf) for leaf in leaves]
        sizes = {shape_of(leaf)[0] if shape_of(leaf) else None for leaf in leaves}
        n = int(length) if length is not None else next(iter(sizes))
        if None in sizes or len(sizes) != 1 or next(iter(sizes)) != n:
            raise ValueError(
                f"ops.scan: every leaf of xs needs the same leading axis of length {n}, got "
                f"shapes {[shape_of(leaf) for leaf in leaves]}"
            )
    carry = init
    ys = []
    for i in reversed(range(n)) if reverse else range(n):
        x = tree_unflatten(treedef, [leaf[i] for leaf in leaves]) if leaves else None
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    if not ys:
        return carry, None
    return carry, _stack("scan", ys)


def map(f: Callable[[Any], Any], xs: Any) -> Any:  # noqa: A001
    """``f`` applied to each slice of ``xs`` along its leading axis, the results stacked.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.map(lambda row: row.sum(), tg.tensor([[1.0, 2.0], [3.0, 4.0]])).numpy()
        array([3., 7.], dtype=float32)
    """
    _, ys = scan(lambda carry, x: ((), f(x)), (), xs)
    return ys


def vectorized_map(function: Callable[[Any], Any], elements: Any) -> Any:
    """``function`` applied to each slice of ``elements`` along the leading axis, stacked.

    Runs one call per slice (as Keras's NumPy backend); results equal a vectorized map.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.vectorized_map(lambda v: v * 2, tg.tensor([[1.0], [2.0]])).numpy()
        array([[2.],
               [4.]], dtype=float32)
    """
    return map(function, elements)


def associative_scan(
    f: Callable[[Any, Any], Any], elems: Any, reverse: bool = False, axis: int = 0
) -> Any:
    """Inclusive prefix scan with an associative ``f`` along ``axis`` (JAX's semantics).

    ``f`` receives slices that keep ``axis`` (of length 1), so functions written for
    ``jax.lax.associative_scan`` work unchanged. ``elems`` may be a nested structure.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.associative_scan(lambda a, b: a + b, tg.tensor([1.0, 2.0, 3.0])).numpy()
        array([1., 3., 6.], dtype=float32)
    """
    if not callable(f):
        raise TypeError(f"ops.associative_scan: f must be a callable, got {f!r}")
    leaves, treedef = tree_flatten(elems)
    leaves = [convert_to_tensor(leaf) for leaf in leaves]
    ndim = len(shape_of(leaves[0]))
    if not -ndim <= axis < ndim:
        raise ValueError(f"ops.associative_scan: axis {axis} is out of range for rank {ndim}")
    axis %= ndim
    n = shape_of(leaves[0])[axis]
    if builtins.any(shape_of(leaf)[axis] != n for leaf in leaves):
        raise ValueError(
            f"ops.associative_scan: every leaf needs the same length along axis {axis}, got "
            f"shapes {[shape_of(leaf) for leaf in leaves]}"
        )

    def part(leaf: Any, i: int) -> Any:
        index = (builtins.slice(None),) * axis + (builtins.slice(i, i + 1),)
        return leaf[index]

    order = list(reversed(range(n))) if reverse else list(range(n))
    total = None
    outputs: list[list[Any]] = []
    for i in order:
        piece = tree_unflatten(treedef, [part(leaf, i) for leaf in leaves])
        total = piece if total is None else f(total, piece)
        outputs.append(tree_flatten(total)[0])
    if reverse:
        outputs.reverse()
    columns = [P.concatenate_p(*column, axis=axis) for column in zip(*outputs, strict=True)]
    return tree_unflatten(treedef, columns)


_DIMS = r"\((?:\w+(?:,\w+)*)?\)"
_SIGNATURE = re.compile(rf"^{_DIMS}(?:,{_DIMS})*->{_DIMS}(?:,{_DIMS})*$")


def _parse_signature(signature: str) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """``"(m,n),(n)->(m)"`` as core dimension names per input and per output."""
    compact = signature.replace(" ", "")
    if not _SIGNATURE.match(compact):
        raise ValueError(f"ops.vectorize: not a valid gufunc signature: {signature!r}")
    inputs, outputs = compact.split("->")

    def groups(part: str) -> list[tuple[str, ...]]:
        return [tuple(g for g in group.split(",") if g) for group in re.findall(r"\((.*?)\)", part)]

    return groups(inputs), groups(outputs)


def vectorize(
    pyfunc: Callable[..., Any], *, excluded: Any = None, signature: str | None = None
) -> Callable[..., Any]:
    """``pyfunc`` made to map over the leading (broadcast) axes of its arguments, as
    ``numpy.vectorize`` / ``jax.numpy.vectorize``.

    ``pyfunc`` is called once per element (or per core block of a gufunc ``signature``
    such as ``"(n),(n)->()"``) and the results are stacked, so it may use any tapegrad op
    and the result is differentiable. Keyword arguments and the positions in
    ``excluded`` are passed through unchanged.

    Args:
        pyfunc: The function of one element (or core block) per argument.
        excluded: Positions (ints) of positional arguments not to vectorize.
        signature: A generalized-ufunc signature; default: scalar core dims.

    Returns:
        The vectorized function.

    Examples:
        >>> import tapegrad as tg
        >>> dot = tg.ops.vectorize(lambda a, b: (a * b).sum(), signature="(n),(n)->()")
        >>> dot(tg.tensor([[1.0, 2.0], [3.0, 4.0]]), tg.tensor([1.0, 1.0])).numpy()
        array([3., 7.], dtype=float32)
        >>> tg.ops.vectorize(lambda x: x * 2 if x > 0 else -x)(tg.tensor([-1.0, 3.0])).numpy()
        array([1., 6.], dtype=float32)
    """
    if not callable(pyfunc):
        raise TypeError(f"ops.vectorize: pyfunc must be a callable, got {pyfunc!r}")
    skip = set(excluded or ())
    cores, outputs = _parse_signature(signature) if signature is not None else (None, None)

    def vectorized(*args: Any, **kwargs: Any) -> Any:
        positions = [i for i in range(len(args)) if i not in skip]
        if cores is not None and len(cores) != len(positions):
            raise ValueError(
                f"ops.vectorize: the signature {signature!r} has {len(cores)} inputs, got "
                f"{len(positions)} vectorized arguments"
            )
        tensors = {i: convert_to_tensor(args[i]) for i in positions}
        core_ndim = {i: len(cores[k]) if cores else 0 for k, i in enumerate(positions)}
        loops = []
        for i in positions:
            shape = shape_of(tensors[i])
            if len(shape) < core_ndim[i]:
                raise ValueError(
                    f"ops.vectorize: argument {i} of shape {shape} has fewer axes than its "
                    f"core dimensions in {signature!r}"
                )
            loops.append(shape[: len(shape) - core_ndim[i]])
        try:
            loop_shape = tuple(np.broadcast_shapes(*loops)) if loops else ()
        except ValueError:
            raise ValueError(
                f"ops.vectorize: the loop axes of the arguments do not broadcast: {loops}"
            ) from None
        count = int(np.prod(loop_shape))
        flat = {}
        for i in positions:
            core_shape = shape_of(tensors[i])[len(shape_of(tensors[i])) - core_ndim[i] :]
            full = P.broadcast_to_p(tensors[i], shape=loop_shape + core_shape)
            flat[i] = P.reshape_p(full, shape=(count, *core_shape))
        results = []
        for n in range(count):
            call = [flat[i][n] if i in flat else args[i] for i in range(len(args))]
            results.append(pyfunc(*call, **kwargs))
        if not results:
            raise ValueError("ops.vectorize: the broadcast arguments have no elements")
        stacked = _stack("vectorize", results)
        leaves, treedef = tree_flatten(stacked)
        shaped = [P.reshape_p(leaf, shape=loop_shape + shape_of(leaf)[1:]) for leaf in leaves]
        if outputs is not None and len(outputs) != len(shaped):
            raise ValueError(
                f"ops.vectorize: pyfunc returned {len(shaped)} outputs, the signature "
                f"{signature!r} declares {len(outputs)}"
            )
        return tree_unflatten(treedef, shaped)

    return vectorized

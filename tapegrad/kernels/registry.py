"""The kernel registry: faster implementations of primitives, by engine and array type.

The primitive table (`tapegrad.core.prims`) holds math: each primitive's ``impl`` is the
reference NumPy implementation. A *kernel* is another function with the same signature and
the same results (bit for bit, or within a few ulps where its docstring says so) that is
faster on some arrays: a NumPy fast path, a numba loop, later a GPU array library. Kernels
register here for a primitive and an *engine* (``"numpy"``, ``"numba"``, ...), with an
``applies(*args, **params)`` predicate saying which arrays they take; the eager call
(`Primitive.__call__`) and the code generator both run the first kernel of an enabled engine
that applies, else the primitive's ``impl``. One switch (`tapegrad.config.disable_engine`)
turns an engine off everywhere.

An engine is chosen *per array type*: a GPU engine registers kernels whose ``applies`` tests
for its own arrays, so NumPy arrays never reach it and its arrays never reach NumPy code::

    import cupy
    from tapegrad.core.prims import exp_p
    from tapegrad.kernels import register_kernel

    def on_gpu(*args, **params):
        return any(isinstance(a, cupy.ndarray) for a in args)

    register_kernel(exp_p, "cupy", cupy.exp, applies=on_gpu)

The registry writes each primitive's enabled kernels into its ``kernels`` field (a tuple of
``(applies, fn)`` pairs, highest priority first), so the call path pays one attribute test
for primitives that have none. Engines are tried in the order of `enabled_engines`.

`tapegrad.kernels` re-exports this module and registers the kernels of the engines shipped
with tapegrad, each in its own module.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from tapegrad.core.primitive import PRIMITIVES, Primitive, select_kernel

Predicate = Callable[..., bool]


class Kernel(NamedTuple):
    """One registered kernel: its engine, function and predicate (None: always applies)."""

    engine: str
    fn: Callable[..., Any]
    applies: Predicate | None


# Engine name -> enabled, in priority order (the first enabled engine that applies wins).
# The shipped engines come last: an engine first seen goes before them, as one for other
# array types (a GPU's) must see its arrays before the NumPy engine's kernels that apply
# to every array (relu's).
_SHIPPED = ("numba", "numpy")
_ENGINES: dict[str, bool] = dict.fromkeys(_SHIPPED, True)
# Primitive -> {engine: Kernel}, in registration order of the engines.
_KERNELS: dict[Primitive, dict[str, Kernel]] = {}
# Primitive -> {engine: operand(shape, dtype) -> array or None} (see `register_operand`).
_OPERANDS: dict[Primitive, dict[str, Callable[..., Any]]] = {}
_lock = threading.Lock()


def _primitive(primitive: Primitive | str) -> Primitive:
    if isinstance(primitive, Primitive):
        return primitive
    try:
        return PRIMITIVES[primitive]
    except KeyError:
        raise ValueError(f"register_kernel: no primitive named {primitive!r}") from None


def _refresh(prim: Primitive) -> None:
    """Write ``prim``'s enabled kernels, in engine priority order, into its record."""
    by_engine = _KERNELS.get(prim, {})
    prim.kernels = tuple(
        (k.applies, k.fn)
        for engine, on in _ENGINES.items()
        if on and (k := by_engine.get(engine)) is not None
    )


def register_kernel(
    primitive: Primitive | str,
    engine: str,
    fn: Callable[..., Any],
    applies: Predicate | None = None,
) -> None:
    """Register ``fn`` as ``primitive``'s kernel for ``engine``.

    Args:
        primitive: A `Primitive` or its name.
        engine: The engine's name (``"numpy"``, ``"numba"``, ...); an engine seen for the
            first time is enabled and tried before the shipped ``"numba"`` and ``"numpy"``.
        fn: A function with the signature of ``primitive.impl``, returning what it returns.
        applies: ``applies(*args, **params) -> bool`` on the call's arrays: whether ``fn``
            takes them (array type, dtype, size). None: always.

    A later registration for the same primitive and engine replaces the earlier one.

    Examples:
        >>> import numpy as np
        >>> from tapegrad.core.primitive import Primitive
        >>> square = Primitive("square_kernel_example", lambda x: x * x, register=False)
        >>> register_kernel(square, "numpy", np.square,
        ...                 applies=lambda x: isinstance(x, np.ndarray))
        >>> kernel_for(square, np.arange(3)) is np.square
        True
        >>> square(np.arange(3))
        array([0, 1, 4])
        >>> kernel_for(square, 3) is square.impl
        True
    """
    prim = _primitive(primitive)
    with _lock:
        _add_engine(engine, True)
        _KERNELS.setdefault(prim, {})[engine] = Kernel(engine, fn, applies)
        _refresh(prim)


def kernel_for(primitive: Primitive | str, *args: Any, **params: Any) -> Callable[..., Any]:
    """The function that runs ``primitive`` on these arrays: the first enabled engine's
    kernel whose ``applies`` accepts them, else ``primitive.impl``.

    Examples:
        >>> import numpy as np
        >>> from tapegrad.core.prims import exp_p
        >>> kernel_for(exp_p, np.ones(2)) is exp_p.impl
        True
    """
    prim = _primitive(primitive)
    return select_kernel(prim, args, params) if prim.kernels else prim.impl


def kernels_of(primitive: Primitive | str) -> list[Kernel]:
    """Every kernel registered for ``primitive`` (enabled engines or not), by engine priority.

    Examples:
        >>> from tapegrad.core.prims import relu_p
        >>> [k.engine for k in kernels_of(relu_p)]
        ['numpy']
    """
    by_engine = _KERNELS.get(_primitive(primitive), {})
    return [by_engine[engine] for engine in _ENGINES if engine in by_engine]


def register_operand(primitive: Primitive | str, engine: str, operand: Callable[..., Any]) -> None:
    """Register what generated code passes instead of the constant of ``primitive``'s
    one-step ``ufunc_steps`` (relu's ``maximum(x, 0)``), for ``engine``.

    Args:
        primitive: A `Primitive` (or its name) whose ``ufunc_steps`` is one binary step.
        engine: The engine's name; its operand is used only while it is enabled.
        operand: ``operand(shape, dtype) -> array | None``: an array of the result's shape
            and dtype equal to the constant there (the same values and bits), or None where
            the scalar is as good.

    Examples:
        >>> import numpy as np
        >>> from tapegrad.core.prims import relu_p
        >>> operand_for(relu_p, (64, 64), np.dtype(np.float32)).shape
        (64, 64)
        >>> operand_for(relu_p, (3,), np.dtype(np.float32)) is None
        True
    """
    prim = _primitive(primitive)
    steps = prim.ufunc_steps
    if steps is None or len(steps) != 1 or steps[0][1] is None:
        raise ValueError(
            f"register_operand: primitive {prim.name!r} is not one ufunc step with a constant"
        )
    with _lock:
        _add_engine(engine, True)
        _OPERANDS.setdefault(prim, {})[engine] = operand


def operand_for(primitive: Primitive | str, shape: tuple[int, ...], dtype: Any) -> Any:
    """The first enabled engine's replacement for ``primitive``'s step constant on a
    result of ``shape`` and ``dtype``, or None (use the constant)."""
    by_engine = _OPERANDS.get(_primitive(primitive), {})
    for engine, on in _ENGINES.items():
        if on and engine in by_engine:
            array = by_engine[engine](tuple(shape), np.dtype(dtype))
            if array is not None:
                return array
    return None


def enable_engine(name: str) -> None:
    """Turn engine ``name`` on (engines are on unless turned off)."""
    _set_engine(name, True)


def disable_engine(name: str) -> None:
    """Turn engine ``name`` off everywhere: its kernels are skipped until it is enabled."""
    _set_engine(name, False)


def enabled_engines() -> tuple[str, ...]:
    """The enabled engines, in the order their kernels are tried."""
    return tuple(name for name, on in _ENGINES.items() if on)


def _add_engine(name: str, on: bool) -> None:
    """Add engine ``name`` before the shipped engines (under the lock); known: unchanged."""
    global _ENGINES
    if name in _ENGINES:
        return
    first = [e for e in _ENGINES if e not in _SHIPPED]
    _ENGINES = {**{e: _ENGINES[e] for e in first}, name: on, **{e: _ENGINES[e] for e in _SHIPPED}}


def _set_engine(name: str, on: bool) -> None:
    with _lock:
        _add_engine(name, on)
        _ENGINES[name] = on
        for prim in _KERNELS:
            _refresh(prim)


__all__ = [
    "Kernel",
    "disable_engine",
    "enable_engine",
    "enabled_engines",
    "kernel_for",
    "kernels_of",
    "operand_for",
    "register_kernel",
    "register_operand",
]

"""Updates of many Variables in one call (PyTorch's ``_foreach_`` paths), for optimizers.

An optimizer step updates every weight the same way: ``variable -= rate * gradient``. Done
one Variable at a time through ops, each update costs a primitive call (``gradient *
rate``, a new Tensor) and an ``assign_sub``; here the common case, plain arrays that the
Variables own, is two NumPy calls per Variable and nothing else. Whatever the fast path does
not cover (a traced step, a recording tape, a Variable whose array escaped or is leased,
another dtype) goes through the ops, so the results are the same bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad.core import primitive as _primitive
from tapegrad.core.tensor import Tensor
from tapegrad.core.tracing import current_tracer
from tapegrad.core.variable import Variable

__all__ = ["foreach_assign_sub"]


def foreach_assign_sub(
    variables: Sequence[Variable], deltas: Sequence[Any], scale: Any = None
) -> None:
    """Subtract ``deltas[i] * scale`` from ``variables[i]``, for every ``i``.

    The same as ``variables[i].assign_sub(deltas[i] * scale)`` in a loop (bit for bit),
    without its per-Variable op where the arrays allow (see the module docstring).

    Args:
        variables: The Variables to update.
        deltas: One Tensor (or array) per Variable, of its shape.
        scale: A scalar (Python number, 0-d array or 0-d Tensor) multiplying every delta;
            None: the deltas as they are.

    Returns:
        None: the Variables are updated.

    Raises:
        ValueError: when ``variables`` and ``deltas`` differ in length, or a delta's shape
            is not its Variable's.

    Examples:
        >>> import tapegrad as tg
        >>> w, b = tg.Variable([1.0, 2.0]), tg.Variable([0.5])
        >>> foreach_assign_sub([w, b], [tg.tensor([10.0, 10.0]), tg.tensor([1.0])], 0.1)
        >>> w.numpy(), b.numpy()
        (array([0., 1.], dtype=float32), array([0.4], dtype=float32))
    """
    if len(variables) != len(deltas):
        raise ValueError(f"foreach_assign_sub: {len(variables)} variables but {len(deltas)} deltas")
    factor = scale._value if isinstance(scale, Tensor) else scale
    # Ops that would be recorded (a tape, a tracer, a forward accumulator), a step being
    # traced or anomaly checks: the loop of ops below.
    fast = (
        not _primitive.active_recorders()
        and current_tracer() is None
        and not _primitive.anomaly_enabled()
        and (factor is None or type(factor) in (float, int) or _is_scalar_array(factor))
    )
    factor_dtype = factor.dtype if type(factor) is np.ndarray else None
    wrap = Tensor._wrap
    for variable, delta in zip(variables, deltas, strict=True):
        if fast and type(delta) is Tensor and type(variable) is Variable:
            new = delta._value
            # (a 0-d factor of another dtype would change the product's: the ops' way)
            if type(new) is np.ndarray and (factor_dtype is None or factor_dtype == new.dtype):
                step = new if factor is None else np.multiply(new, factor)
                # In place when the Variable owns its array and the dtypes and shapes match.
                if variable._update_in_place(wrap(step), np.subtract):
                    continue
        # (a subclass of Variable may update its own way)
        variable.assign_sub(delta if scale is None else delta * scale)


def _is_scalar_array(factor: Any) -> bool:
    return type(factor) is np.ndarray and factor.ndim == 0

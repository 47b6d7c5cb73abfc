"""Symbolic reverse mode: `gradients`, Theano's ``T.grad`` / TF1's ``tf.gradients``.

Inside a function traced by `tapegrad.function`, the tracer keeps every recorded primitive
call (once a trace has called `gradients`: until then traces keep none, since they would
hold every value of the trace alive, and the first call makes the function trace again).
`gradients` runs the same reverse sweep a `GradientTape` runs (`core.backward.backward`)
over those calls, in tensor mode: each VJP rule is itself written with primitives, so its
calls are recorded by the tracer and become the nodes of the gradient graph. There is no
second set of derivative rules, and gradients of gradients work the same way.
"""

from __future__ import annotations

from typing import Any

from tapegrad.core.backward import backward
from tapegrad.core.tensor import Tensor
from tapegrad.core.tree import tree_flatten, tree_unflatten
from tapegrad.graph.function import current_tracer
from tapegrad.graph.trace import EntriesNeeded


def gradients(ys: Any, xs: Any, grad_ys: Any = None, unconnected_gradients: str = "none") -> Any:
    """Build the graph of the gradient of ``sum(ys)`` with respect to ``xs``.

    Only inside a function traced by `tapegrad.function` (eagerly, use
    `tapegrad.GradientTape` or `tapegrad.grad`).

    Args:
        ys: A traced Tensor or a list of them; their gradients are summed (a non-scalar
            ``y`` counts as the sum of its elements, as in TF).
        xs: A Tensor (an argument, an intermediate value or a Variable) or a nested
            list/tuple/dict of them.
        grad_ys: Optional starting cotangents, one per ``y`` (same shapes); default ones.
        unconnected_gradients: ``"none"`` or ``"zero"`` for ``xs`` the ``ys`` do not reach.

    Returns:
        Gradients with the structure of ``xs`` (None for unconnected or integer ``xs``).

    Raises:
        RuntimeError: called outside a traced function.

    Examples:
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> @tg.function
        ... def slope(x):
        ...     y = tnp.sum(x ** 3)
        ...     (dx,) = tg.gradients(y, [x])
        ...     (ddx,) = tg.gradients(tnp.sum(dx), [x])
        ...     return dx, ddx
        >>> [g.numpy() for g in slope(tnp.array([1.0, 2.0]))]
        [array([ 3., 12.], dtype=float32), array([ 6., 12.], dtype=float32)]
    """
    if unconnected_gradients not in ("none", "zero"):
        raise ValueError(
            f"unconnected_gradients must be 'none' or 'zero', got {unconnected_gradients!r}"
        )
    tracer = current_tracer()
    if tracer is None:
        raise RuntimeError(
            "tapegrad.gradients builds a symbolic gradient and works only inside a "
            "function traced by tapegrad.function; in eager code use tapegrad.GradientTape "
            "(tape.gradient(y, x)) or tapegrad.grad(f)"
        )
    if not getattr(tracer, "keep_entries", True):
        # This trace did not keep the recorded calls (they would hold every value of the
        # trace alive): the function traces again, keeping them.
        raise EntriesNeeded()
    targets = list(ys) if isinstance(ys, list | tuple) else [ys]
    if grad_ys is None:
        seeds: list[Any] = [None] * len(targets)
    else:
        seeds = list(grad_ys) if isinstance(grad_ys, list | tuple) else [grad_ys]
        if len(seeds) != len(targets):
            raise ValueError(
                f"gradients: {len(targets)} ys but {len(seeds)} grad_ys (one per y, or None)"
            )
        for k, (y, seed) in enumerate(zip(targets, seeds, strict=True)):
            y_shape = y.shape if isinstance(y, Tensor) else ()
            seed_shape = getattr(seed, "shape", ())
            if seed is not None and tuple(seed_shape) != tuple(y_shape):
                raise ValueError(
                    f"gradients: grad_ys[{k}] has shape {tuple(seed_shape)} but ys[{k}] has "
                    f"shape {tuple(y_shape)}"
                )
    flat_xs, treedef = tree_flatten(xs)
    for k, x in enumerate(flat_xs):
        if not isinstance(x, Tensor):
            raise TypeError(
                f"gradients: xs leaf {k} is a {type(x).__name__}, not a Tensor of the traced "
                "function (an argument, a value computed from one, or a Variable)"
            )
    grads = backward(tracer.entries, targets, seeds, flat_xs, True, unconnected_gradients)
    return tree_unflatten(treedef, grads)


__all__ = ["gradients"]

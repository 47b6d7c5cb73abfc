"""Gradient accumulation (Keras 3's ``gradient_accumulation_steps``) and conditional updates.

With ``gradient_accumulation_steps=n``, each ``apply`` call adds its gradients to
accumulator Variables (optimizer Variables named ``<w>_gradient_accumulator``, created in
``build`` after the moving averages). Every ``n``-th call (``(raw_iterations + 1) % n ==
0``, the raw counter being the ``iteration`` Variable, which counts calls) updates the
variables with ``(g + accumulated) / n`` — clipped, weight-decayed and stepped as one
ordinary update — and resets the accumulators. ``optimizer.iterations`` is then the raw
counter divided by ``n``, so bias corrections and moving averages count updates, while a
learning-rate schedule is called with the raw counter, both as in Keras 3.15.

Eagerly the decision is a Python ``if``. Inside `tapegrad.function` the condition is a
traced tensor, so the update is computed at every call and kept only where the condition
holds (``tnp.where``), as Keras' JAX backend does: the same values either way.

Examples:
    >>> import tapegrad as tg
    >>> from tapegrad.nn.optimizers import SGD
    >>> w = tg.Variable([1.0])
    >>> opt = SGD(learning_rate=1.0, gradient_accumulation_steps=2)
    >>> opt.apply([tg.tensor([1.0])], [w]); w.numpy()   # accumulated, not applied
    array([1.], dtype=float32)
    >>> opt.apply([tg.tensor([3.0])], [w]); w.numpy()   # the mean gradient, 2
    array([-1.], dtype=float32)
    >>> int(opt.iterations), int(opt.variables[0])
    (1, 2)
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import tapegrad.numpy as tnp
from tapegrad.graph import is_traced

__all__ = ["accumulate_or_update", "check_steps", "run_if"]


def check_steps(owner: str, steps: Any) -> None:
    """Raise ``ValueError`` unless ``steps`` is None (or 0, as Keras allows) or an int >= 2.

    Examples:
        >>> check_steps("SGD", 4)
        >>> check_steps("SGD", 1)
        Traceback (most recent call last):
        ...
        ValueError: SGD: `gradient_accumulation_steps` must be an integer >= 2, got 1
    """
    if not steps:
        return
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 2:
        raise ValueError(
            f"{owner}: `gradient_accumulation_steps` must be an integer >= 2, got {steps!r}"
        )


def run_if(condition: Any, state: Sequence[Any], update: Callable[[], None]) -> None:
    """Run ``update()`` where ``condition`` holds; else leave the Variables in ``state``.

    Args:
        condition: A scalar boolean Tensor.
        state: Every Variable ``update`` may assign.
        update: The update, a function of no arguments.

    Examples:
        >>> import tapegrad as tg
        >>> v = tg.Variable(1.0)
        >>> run_if(tg.tensor(False), [v], lambda: v.assign(5.0)); v.numpy()
        array(1., dtype=float32)
    """
    if not is_traced(condition):
        if bool(condition):
            update()
        return
    # Traced: the condition has no value yet; compute both and choose per call.
    before = [tnp.copy(v) for v in state]
    update()
    for variable, old in zip(state, before, strict=True):
        variable.assign(tnp.where(condition, variable, old))


def accumulate_or_update(
    steps: int,
    raw_iterations: Any,
    accumulators: list[Any],
    grads: list[Any],
    variables: list[Any],
    optimizer_variables: Sequence[Any],
    update: Callable[[list[Any], list[Any]], None],
) -> None:
    """Add ``grads`` to the accumulators, or (every n-th call) run ``update`` on the mean.

    Args:
        steps: ``gradient_accumulation_steps``.
        raw_iterations: The optimizer's ``iteration`` Variable (counts calls; not yet
            incremented for this one).
        accumulators: The accumulator Variables of ``variables``, one each.
        grads: This call's (unscaled) gradients.
        variables: Their model Variables.
        optimizer_variables: All the optimizer's Variables (a traced update restores them
            on the calls that only accumulate).
        update: ``update(mean_grads, variables)``: clipping, weight decay, update steps.
    """
    is_update_step = tnp.equal((raw_iterations + 1) % steps, 0)
    # Read before any assignment: the update and the new accumulators both need them.
    totals = [g + a for g, a in zip(grads, accumulators, strict=True)]
    if not is_traced(is_update_step):
        if bool(is_update_step):
            update([t / steps for t in totals], variables)
            for accumulator in accumulators:
                accumulator.assign(tnp.zeros_like(accumulator))
        else:
            for accumulator, total in zip(accumulators, totals, strict=True):
                accumulator.assign(total)
        return
    accumulator_ids = {id(a) for a in accumulators}
    state = list(variables) + [v for v in optimizer_variables if id(v) not in accumulator_ids]
    run_if(is_update_step, state, lambda: update([t / steps for t in totals], variables))
    for accumulator, total in zip(accumulators, totals, strict=True):
        accumulator.assign(tnp.where(is_update_step, tnp.zeros_like(total), total))

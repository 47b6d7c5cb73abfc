"""Exponential moving average of the model's weights, kept by an optimizer (Keras 3's
``use_ema``, ``ema_momentum``, ``ema_overwrite_frequency``).

After each update, every trainable variable ``w`` the optimizer was built with moves its
average ``a`` (an optimizer Variable named ``<w>_average``, saved with the optimizer state)::

    m = ema_momentum if iterations != 0 else 0      # the first step copies w
    a = m * a + (1 - m) * w

``iterations`` is read before its increment, as in Keras. With ``ema_overwrite_frequency=n``,
after every ``n``-th update the variables are overwritten with their averages;
``finalize_variable_values`` (what ``fit`` calls at its end) does the same once. The rule is
written with tapegrad ops on Variables, so a compiled train step computes it at every call.
"""

from __future__ import annotations

import numbers
from typing import Any

import tapegrad.numpy as tnp
from tapegrad.nn.validation import check_number

__all__ = ["check_ema_arguments", "overwrite_with_average", "update_moving_average"]


def check_ema_arguments(
    owner: str, use_ema: Any, ema_momentum: Any, ema_overwrite_frequency: Any
) -> None:
    """Raise ``ValueError`` naming ``owner`` and the argument when one is out of range.

    Args:
        owner: the optimizer's class name, for the message.
        use_ema: must be a bool.
        ema_momentum: a float in ``[0, 1]``.
        ema_overwrite_frequency: ``None`` or an int ``>= 1``.

    Examples:
        >>> check_ema_arguments("SGD", True, 0.9, None)
        >>> check_ema_arguments("SGD", False, 5.0, None)
        >>> check_ema_arguments("SGD", True, 0.9, 0)
        Traceback (most recent call last):
        ...
        ValueError: SGD: `ema_overwrite_frequency` must be an int >= 1 or None, got 0
    """
    if not isinstance(use_ema, bool):
        raise ValueError(f"{owner}: `use_ema` must be True or False, got {use_ema!r}")
    if not use_ema:
        return  # as Keras: the other two are only checked when used
    check_number(owner, "ema_momentum", ema_momentum, low=0.0, high=1.0)
    frequency = ema_overwrite_frequency
    if frequency is not None and (
        isinstance(frequency, bool) or not isinstance(frequency, numbers.Integral) or frequency < 1
    ):
        raise ValueError(
            f"{owner}: `ema_overwrite_frequency` must be an int >= 1 or None, got {frequency!r}"
        )


def update_moving_average(optimizer: Any) -> None:
    """Move each average toward its variable (the rule above); then overwrite if due.

    Args:
        optimizer: a built optimizer with ``use_ema=True`` (its ``iterations`` not yet
            incremented for this update).
    """
    iterations = optimizer.iterations
    not_first_step = tnp.not_equal(iterations, 0)
    momentum = optimizer.ema_momentum
    for variable, average in zip(
        optimizer._trainable_variables, optimizer._model_variables_moving_average, strict=True
    ):
        step_momentum = tnp.astype(not_first_step, variable.dtype) * momentum
        average.assign(step_momentum * average + (1 - step_momentum) * variable)
    frequency = optimizer.ema_overwrite_frequency
    if frequency:
        # A tensor condition, not a Python one, so a traced step decides at every call.
        due = tnp.equal((iterations + 1) % frequency, 0)
        for variable, average in zip(
            optimizer._trainable_variables, optimizer._model_variables_moving_average, strict=True
        ):
            variable.assign(tnp.where(due, average, variable))


def overwrite_with_average(optimizer: Any, variables: Any) -> None:
    """Assign each variable its moving average (Keras'
    ``_overwrite_model_variables_with_average_value``).

    Args:
        optimizer: a built optimizer with ``use_ema=True``.
        variables: the model's trainable variables, in the order the optimizer was built.

    Raises:
        ValueError: the number of variables differs from the number of averages.
    """
    variables = list(variables)
    averages = optimizer._model_variables_moving_average
    if len(variables) != len(averages):
        raise ValueError(
            f"{type(optimizer).__name__}: cannot overwrite {len(variables)} model variables "
            f"with the {len(averages)} moving averages the optimizer holds; was it built for "
            "this model?"
        )
    for variable, average in zip(variables, averages, strict=True):
        variable.assign(average)

"""Checking ops: validate values where they are computed (eagerly or in compiled code)."""

from __future__ import annotations

from typing import Any

from tapegrad.core.prims import class_indices_p


def class_indices(labels: Any, num_classes: int, name: str = "class_indices") -> Any:
    """Integer class labels as int64, checked to be integral and in ``[0, num_classes)``.

    Args:
        labels: Integer labels, or floats holding integral values.
        num_classes: Number of classes.
        name: Named in the error message (the loss or metric asking).

    Returns:
        The labels as int64 (a Tensor when given one; no gradient).

    Raises:
        ValueError: a label is fractional or out of range (when the values are computed:
            inside a traced function, when the compiled step runs).
        TypeError: the labels are not numbers.

    Examples:
        >>> import tapegrad as tg
        >>> class_indices(tg.tensor([0.0, 2.0]), 3).numpy()
        array([0, 2])
        >>> class_indices([3], 3)
        Traceback (most recent call last):
        ValueError: class_indices: labels must be in [0, 3) for 3 classes, got labels in [3, 3]
    """
    return class_indices_p(labels, num_classes=int(num_classes), name=name)


__all__ = ["class_indices"]

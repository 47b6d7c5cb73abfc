"""Checking primitives: convert a value and raise a clear error when it is invalid.

They are primitives so the check runs whenever the value does — in eager code and in
the generated code of a traced function, where Python cannot look at values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core.primitive import Primitive


def _class_indices(labels: Any, *, num_classes: int, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.dtype == np.int64 and labels.flags.c_contiguous:
        # The common case, on every training step: one pass (negatives viewed as unsigned
        # are huge), no copy.
        if labels.size and labels.view(np.uint64).max() >= num_classes:
            raise ValueError(
                f"{name}: labels must be in [0, {num_classes}) for {num_classes} "
                f"classes, got labels in [{labels.min()}, {labels.max()}]"
            )
        return labels
    if labels.dtype.kind == "f":
        fractional = labels[labels != np.round(labels)]
        if fractional.size:
            raise ValueError(
                f"{name}: labels must be integer class indices in [0, {num_classes}); got "
                f"{labels.dtype} labels with non-integral values, e.g. "
                f"{fractional.flat[0]!r}"
            )
    elif labels.dtype.kind not in "biu":
        raise TypeError(f"{name}: labels must be integer class indices, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"{name}: labels must be in [0, {num_classes}) for {num_classes} "
            f"classes, got labels in [{labels.min()}, {labels.max()}]"
        )
    return labels.astype(np.int64)


# class_indices(labels): int64 class indices, after checking they are integral and in
# [0, num_classes). Integer outputs carry no gradient.
class_indices_p = Primitive(
    "class_indices", _class_indices, differentiable=False, returns="unknown"
)

__all__ = ["class_indices_p"]

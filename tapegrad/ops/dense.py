"""The `Dense` layer's affine map as one op, next to the composite it must equal.

`dense` is ``inputs @ kernel + bias``; `dense_reference` writes it with ``matmul`` and
``add``. Eagerly `dense` records the `dense` primitive (`tapegrad.core.prims.products`): one
tape entry where ``matmul`` and ``add`` would record two, and a bias gradient that is one
sum. In a traced function it records the reference's ``matmul`` and ``add``: the code
generator fuses those with the activation that follows (one reused buffer), which it does
not do for a `dense` node. Values and gradients are the same either way
(tests/ops/test_dense.py).
"""

from __future__ import annotations

from typing import Any

from tapegrad.core import prims as P
from tapegrad.core.primitive import symbolic_recorder
from tapegrad.core.prims.products import dense_check
from tapegrad.core.tensor import shape_of


def dense_reference(inputs: Any, kernel: Any, bias: Any = None) -> Any:
    """``inputs @ kernel + bias`` with ``matmul`` and ``add``: the definition of `dense`.

    Examples:
        >>> import numpy as np
        >>> dense_reference(np.ones((1, 2)), np.ones((2, 3)), np.arange(3.0))
        array([[2., 3., 4.]])
    """
    out = P.matmul_p(inputs, kernel)
    return out if bias is None else P.add_p(out, bias)


def dense(inputs: Any, kernel: Any, bias: Any = None) -> Any:
    """``inputs @ kernel + bias``: the `Dense` layer's affine map, as one op.

    Args:
        inputs: ``(..., features)``.
        kernel: ``(features, units)``.
        bias: ``(units,)``, or None for no bias.

    Returns:
        ``(..., units)``.

    Raises:
        ValueError: Shapes that do not fit, naming all three.

    Examples:
        >>> import numpy as np
        >>> dense(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32),
        ...       np.arange(4, dtype=np.float32))
        array([[3., 4., 5., 6.],
               [3., 4., 5., 6.]], dtype=float32)
    """
    if bias is None:
        return P.matmul_p(inputs, kernel)
    if symbolic_recorder() is None:
        return P.dense_p(inputs, kernel, bias)
    dense_check(shape_of(inputs), shape_of(kernel), shape_of(bias))
    return dense_reference(inputs, kernel, bias)


__all__ = ["dense", "dense_reference"]

"""tapegrad: automatic differentiation for NumPy-style code, with a Keras-style API.

Every basic op carries its derivative rules (the primitive table); tapes record what
ran and backprop chains those rules. See ``docs/architecture.md``.
"""

from typing import Any

import numpy as _np

from tapegrad import debug, ops
from tapegrad.core import (
    ForwardAccumulator,
    GradientTape,
    Primitive,
    Tensor,
    Variable,
    custom_gradient,
    defjvp,
    defvjp,
    grad,
    hessian,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    stop_gradient,
    value_and_grad,
    vjp,
)
from tapegrad.core.custom import primitive
from tapegrad.utils.gradcheck import check_grads

__version__ = "0.1.0"


def tensor(data: Any, dtype: Any = None) -> Tensor:
    """Make a Tensor from array-like data (Python floats default to float32).

    Examples:
        >>> import tapegrad as tg
        >>> tg.tensor([[1, 2], [3, 4]]).shape
        (2, 2)
        >>> tg.tensor(1.5).dtype
        dtype('float32')
    """
    return Tensor(data, dtype)


constant = tensor

float32 = _np.float32
float64 = _np.float64
int32 = _np.int32
int64 = _np.int64

__all__ = [
    "ForwardAccumulator",
    "GradientTape",
    "Primitive",
    "Tensor",
    "Variable",
    "check_grads",
    "constant",
    "custom_gradient",
    "debug",
    "ops",
    "defjvp",
    "defvjp",
    "grad",
    "hessian",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jvp",
    "primitive",
    "stop_gradient",
    "tensor",
    "value_and_grad",
    "vjp",
]

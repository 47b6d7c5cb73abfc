"""The engine: primitive table, Tensor, tapes, forward mode and transforms.

Nothing here knows about layers or graphs.
"""

# `primitive` the decorator is exported by the top-level package only: here the name
# belongs to the module tapegrad.core.primitive.
from tapegrad.core.custom import custom_gradient, defjvp, defvjp, stop_gradient
from tapegrad.core.foreach import foreach_assign_sub
from tapegrad.core.forward import ForwardAccumulator
from tapegrad.core.primitive import PRIMITIVES, Primitive
from tapegrad.core.tape import GradientTape
from tapegrad.core.tensor import Tensor
from tapegrad.core.tracing import is_traced
from tapegrad.core.transforms import (
    grad,
    hessian,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
)
from tapegrad.core.tree import tree_flatten, tree_map, tree_unflatten
from tapegrad.core.variable import Variable, current_path, name_scope

__all__ = [
    "PRIMITIVES",
    "ForwardAccumulator",
    "GradientTape",
    "Primitive",
    "Tensor",
    "Variable",
    "current_path",
    "custom_gradient",
    "defjvp",
    "defvjp",
    "foreach_assign_sub",
    "grad",
    "hessian",
    "is_traced",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jvp",
    "name_scope",
    "stop_gradient",
    "tree_flatten",
    "tree_map",
    "tree_unflatten",
    "value_and_grad",
    "vjp",
]

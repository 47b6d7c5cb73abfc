"""Extending the engine: custom_gradient (TF), primitive/defvjp/defjvp (HIPS autograd),
stop_gradient."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad.core.primitive import PRIMITIVES, Primitive, bind, set_recorders
from tapegrad.core.prims.shape import stop_gradient_p
from tapegrad.core.tensor import Tensor, Variable
from tapegrad.core.tree import tree_flatten, tree_unflatten


def stop_gradient(x: Any) -> Any:
    """The value of ``x``, with no gradient flowing back through it.

    Examples:
        >>> import tapegrad as tg
        >>> tg.grad(lambda x: x * tg.stop_gradient(x))(3.0).numpy()
        array(3., dtype=float32)
    """
    return stop_gradient_p(x)


class _VariableReads:
    """A recorder that only notes which trainable Variables an op reads."""

    def __init__(self) -> None:
        self.variables: dict[int, Variable] = {}

    def tracks(self, tensor: Tensor) -> bool:
        return False

    def record(self, prim: Primitive, args: Any, values: Any, params: Any, result: Any) -> None:
        for arg in args:
            if type(arg) is Variable and arg.trainable:
                self.variables.setdefault(id(arg), arg)


def custom_gradient(f: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate ``f(*x) -> (y, grad_fn)`` to give ``y`` the gradient ``grad_fn(dy)``.

    TensorFlow semantics: ``grad_fn(dy)`` returns one gradient per Tensor argument (a
    single value or a tuple). If ``grad_fn`` accepts ``variables=``, the trainable
    Variables read inside ``f`` are passed to it and it returns
    ``(input_grads, variable_grads)``. ``grad_fn`` is written with tapegrad ops, so
    higher derivatives differentiate it; forward mode transposes it.

    Examples:
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> @tg.custom_gradient
        ... def log1pexp(x):
        ...     e = tnp.exp(x)
        ...     def grad_fn(dy):
        ...         return dy * (1 - 1 / (1 + e))
        ...     return tnp.log(1 + e), grad_fn
        >>> tg.grad(log1pexp)(tg.tensor(100.0)).numpy()
        array(1., dtype=float32)
    """

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        reads = _VariableReads()
        # The forward pass is opaque to tapes: its gradient is grad_fn, not its ops.
        previous = set_recorders((reads,))
        try:
            out, grad_fn = f(*args, **kwargs)
        finally:
            set_recorders(previous)
        wants_variables = "variables" in inspect.signature(grad_fn).parameters
        variables = list(reads.variables.values()) if wants_variables else []
        tensor_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        inputs = [args[i] for i in tensor_positions] + variables
        out_leaves, out_tree = tree_flatten(out)
        out_values = [o._value if isinstance(o, Tensor) else np.asarray(o) for o in out_leaves]
        multiple = len(out_leaves) != 1 or out_tree is not None
        prim = Primitive(
            f"custom_gradient:{getattr(f, '__name__', 'f')}",
            (lambda *_: tuple(out_values)) if multiple else (lambda *_: out_values[0]),
            multiple_results=multiple,
            register=False,
        )
        n_args = len(tensor_positions)
        cache: dict[str, Any] = {}

        def all_grads(g: Any) -> list[Any]:
            # One backward call of grad_fn serves the rules of every argument.
            if cache.get("g") is not g:
                dy = tree_unflatten(out_tree, list(g)) if multiple else g
                if wants_variables:
                    input_grads, variable_grads = grad_fn(dy, variables=variables)
                else:
                    input_grads, variable_grads = grad_fn(dy), []
                if not isinstance(input_grads, tuple | list):
                    input_grads = [input_grads]
                if len(input_grads) != n_args:
                    raise ValueError(
                        f"custom_gradient '{prim.name}': grad_fn returned "
                        f"{len(input_grads)} gradients for {n_args} Tensor arguments"
                    )
                cache["g"], cache["grads"] = g, list(input_grads) + list(variable_grads)
            return cache["grads"]

        def rule_for(k: int) -> Callable[..., Any]:
            return lambda g, ans, *xs: all_grads(g)[k]

        prim.defvjp(*[rule_for(k) for k in range(len(inputs))])
        result = bind(prim, tuple(inputs), {})
        if not inputs:
            result = tuple(Tensor(v) for v in out_values) if multiple else Tensor(out_values[0])
        return tree_unflatten(out_tree, list(result)) if multiple else result

    return wrapper


def primitive(
    fun: Callable[..., Any] | None = None, *, name: str | None = None, elementwise: bool = False
) -> Any:
    """Declare a new basic op from a function on NumPy arrays (HIPS-autograd style).

    Give it derivative rules with `defvjp` (and `defjvp`); without a JVP rule forward mode
    transposes the VJP. The op then works under tapes, every transform and higher order.

    Args:
        fun: Implementation on plain arrays.
        name: Name in the primitive table (default: the function's qualified name).
        elementwise: The op broadcasts elementwise (rules may then ignore broadcasting).

    Returns:
        The `Primitive`, callable like the function.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> @tg.primitive
        ... def cube(x):
        ...     return x ** 3
        >>> tg.defvjp(cube, lambda ans, x: lambda g: g * 3 * x ** 2)
        >>> tg.grad(cube)(2.0).numpy()
        array(12., dtype=float32)
        >>> tg.grad(tg.grad(cube))(2.0).numpy()
        array(12., dtype=float32)
    """
    if fun is None:
        return functools.partial(primitive, name=name, elementwise=elementwise)
    impl = fun

    def as_array(*args: Any, **kwargs: Any) -> Any:
        out = impl(*args, **kwargs)
        if isinstance(out, tuple):
            return tuple(np.asarray(o) for o in out)
        return out if isinstance(out, np.ndarray | np.generic) else np.asarray(out)

    qualified = name or f"{fun.__module__}.{fun.__qualname__}"
    prim = Primitive(qualified, as_array, elementwise=elementwise, register=False)
    # Redefining a user primitive (re-running a notebook cell) replaces it.
    PRIMITIVES[qualified] = prim
    return prim


def defvjp(prim: Primitive, *vjp_makers: Callable[..., Any] | None) -> None:
    """Set VJP rules in HIPS-autograd form: ``maker(ans, *args, **kw) -> (g -> grad)``.

    One maker per positional argument; ``None`` for an argument without a gradient.
    """

    def flat(maker: Callable[..., Any] | None) -> Callable[..., Any] | None:
        if maker is None:
            return None
        return lambda g, ans, *args, **kw: maker(ans, *args, **kw)(g)

    prim.defvjp(*[flat(m) for m in vjp_makers])


def defjvp(prim: Primitive, *jvp_rules: Callable[..., Any] | None) -> None:
    """Set JVP rules in HIPS-autograd form: ``rule(g, ans, *args, **kw) -> tangent``."""
    prim.defjvp(*jvp_rules)


__all__ = ["custom_gradient", "defjvp", "defvjp", "primitive", "stop_gradient"]

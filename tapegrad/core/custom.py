"""Extending the engine: custom_gradient (TF), primitive/defvjp/defjvp (HIPS autograd),
stop_gradient."""

from __future__ import annotations

import functools
import inspect
import itertools
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad.core.primitive import (
    PRIMITIVES,
    Primitive,
    bind,
    set_recorders,
    symbolic_recorder,
)
from tapegrad.core.prims.shape import stop_gradient_p
from tapegrad.core.tensor import Tensor
from tapegrad.core.tree import tree_flatten, tree_unflatten
from tapegrad.core.variable import Variable, mark_shared


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


# -- custom_gradient inside a traced function (tapegrad.function) -------------------------
# There the forward ops must be graph nodes (the compiled code computes them), yet tapes must
# see one op whose gradient is grad_fn. So the forward runs with only the tracer recording,
# and its outputs pass through `custom_gradient`: a table primitive whose value is its last
# arguments and whose VJP calls the grad_fn kept by the tracer of that trace (under a key
# param). grad_fn runs on traced tensors when the traced code asks for gradients, which adds
# its ops to the graph. Outside that trace the key means nothing: such a node has a value
# but no gradient (an outer tape replaying the graph gets a clear error).
_TRACED_GRADIENTS: weakref.WeakKeyDictionary[Any, dict[int, Callable[[Any], list[Any]]]] = (
    weakref.WeakKeyDictionary()
)
_keys = itertools.count()


def _custom_gradient_impl(*args: Any, key: int, n_inputs: int) -> Any:
    # Copies: generated code may reuse an input's buffer once the input is dead.
    outs = tuple(np.array(a, copy=True) for a in args[n_inputs:])
    return outs if len(outs) > 1 else outs[0]


def _custom_gradient_vjp(argnum: int, g: Any, ans: Any, *args: Any, key: int, n_inputs: int) -> Any:
    if argnum >= n_inputs:
        return None  # the forward's own ops are not differentiated: grad_fn replaces them
    tracer = symbolic_recorder()
    rules = _TRACED_GRADIENTS.get(tracer, {}) if tracer is not None else {}
    if key not in rules:
        raise ValueError(
            "custom_gradient inside tapegrad.function: its grad_fn exists only while the "
            "function is traced; take the gradient inside the traced function (or declare "
            "the op with tapegrad.primitive and defvjp)"
        )
    return rules[key](g)[argnum]


# One primitive per arity (a graph node has one output exactly when its primitive returns one).
custom_gradient_p = Primitive("custom_gradient", _custom_gradient_impl, variadic=True)
custom_gradient_multi_p = Primitive(
    "custom_gradient_multi", _custom_gradient_impl, multiple_results=True, variadic=True
)
custom_gradient_p.defvjp(_custom_gradient_vjp)
custom_gradient_multi_p.defvjp(_custom_gradient_vjp)


def _traced_call(
    f: Callable[..., Any], tracer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """`custom_gradient`'s wrapper while `tracer` traces a function (see above)."""
    reads = _VariableReads()
    previous = set_recorders((tracer, reads))  # the graph gets the forward; tapes do not
    try:
        out, grad_fn = f(*args, **kwargs)
    finally:
        set_recorders(previous)
    rule = _GradientRule(f, grad_fn, args, reads, out)
    outs = [o if isinstance(o, Tensor) else Tensor(np.asarray(o)) for o in rule.out_leaves]
    key = next(_keys)
    several = len(outs) > 1
    # The rule takes a tuple of cotangents when f returns a structure: a lone output of
    # one (a 1-tuple) gets its cotangent wrapped.
    grads_of = functools.partial(_traced_grads, rule, rule.multiple and not several)
    _TRACED_GRADIENTS.setdefault(tracer, {})[key] = grads_of
    prim = custom_gradient_multi_p if several else custom_gradient_p
    result = prim(*rule.inputs, *outs, key=key, n_inputs=len(rule.inputs))
    if not rule.multiple:
        return result
    return tree_unflatten(rule.out_tree, list(result) if several else [result])


def _traced_grads(rule: _GradientRule, wrap: bool, g: Any) -> list[Any]:
    return rule.grads((g,) if wrap else g)


def traced_gradient_function(tracer: Any, key: int) -> Callable[..., Any] | None:
    """The user's ``grad_fn`` behind a traced ``custom_gradient`` node (``key`` param) of
    ``tracer``'s trace, or None (`tapegrad.explain` shows its source)."""
    grads_of = _TRACED_GRADIENTS.get(tracer, {}).get(key)
    return grads_of.args[0].grad_fn if isinstance(grads_of, functools.partial) else None


class _GradientRule:
    """``grad_fn`` as one gradient per input, from the outputs' cotangents (a tuple of them
    when ``f`` returns several). The inputs are the Tensor arguments, then the trainable
    Variables read in ``f`` when ``grad_fn`` takes ``variables=``."""

    def __init__(
        self,
        f: Callable[..., Any],
        grad_fn: Callable[..., Any],
        args: tuple[Any, ...],
        reads: _VariableReads,
        out: Any,
    ) -> None:
        self.name = f"custom_gradient:{getattr(f, '__name__', 'f')}"
        self.grad_fn = grad_fn
        self.wants_variables = "variables" in inspect.signature(grad_fn).parameters
        self.variables = list(reads.variables.values()) if self.wants_variables else []
        self.n_args = sum(isinstance(a, Tensor) for a in args)
        self.inputs: list[Tensor] = [a for a in args if isinstance(a, Tensor)]
        self.inputs += self.variables
        self.out_leaves, self.out_tree = tree_flatten(out)
        self.multiple = len(self.out_leaves) != 1 or self.out_tree is not None
        self._g: Any = None
        self._grads: list[Any] = []

    def grads(self, g: Any) -> list[Any]:
        # One backward call of grad_fn serves the rules of every argument.
        if self._g is not g:
            dy = tree_unflatten(self.out_tree, list(g)) if self.multiple else g
            if self.wants_variables:
                input_grads, variable_grads = self.grad_fn(dy, variables=self.variables)
            else:
                input_grads, variable_grads = self.grad_fn(dy), []
            if not isinstance(input_grads, tuple | list):
                input_grads = [input_grads]
            if len(input_grads) != self.n_args:
                raise ValueError(
                    f"custom_gradient '{self.name}': grad_fn returned "
                    f"{len(input_grads)} gradients for {self.n_args} Tensor arguments"
                )
            self._g, self._grads = g, list(input_grads) + list(variable_grads)
        return self._grads


def custom_gradient(f: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate ``f(*x) -> (y, grad_fn)`` to give ``y`` the gradient ``grad_fn(dy)``.

    TensorFlow semantics: ``grad_fn(dy)`` returns one gradient per Tensor argument (a
    single value or a tuple). If ``grad_fn`` accepts ``variables=``, the trainable
    Variables read inside ``f`` are passed to it and it returns
    ``(input_grads, variable_grads)``. ``grad_fn`` is written with tapegrad ops, so
    higher derivatives differentiate it; forward mode transposes it. Inside a
    `tapegrad.function` the forward's ops are compiled and gradients taken inside the
    traced function use ``grad_fn`` (a graph containing it has no gradient outside).

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
        tracer = symbolic_recorder()
        if tracer is not None:
            return _traced_call(f, tracer, args, kwargs)
        reads = _VariableReads()
        # The forward pass is opaque to tapes: its gradient is grad_fn, not its ops.
        previous = set_recorders((reads,))
        try:
            out, grad_fn = f(*args, **kwargs)
        finally:
            set_recorders(previous)
        rule = _GradientRule(f, grad_fn, args, reads, out)
        inputs = rule.inputs
        out_values = [o._value if isinstance(o, Tensor) else np.asarray(o) for o in rule.out_leaves]
        for leaf in rule.out_leaves:
            if isinstance(leaf, Variable):  # (its array becomes the result's)
                mark_shared(leaf)
        multiple = rule.multiple
        prim = Primitive(
            rule.name,
            (lambda *_: tuple(out_values)) if multiple else (lambda *_: out_values[0]),
            multiple_results=multiple,
            register=False,
        )

        def rule_for(k: int) -> Callable[..., Any]:
            return lambda g, ans, *xs: rule.grads(g)[k]

        prim.defvjp(*[rule_for(k) for k in range(len(inputs))])
        result = bind(prim, tuple(inputs), {})
        if not inputs:
            result = tuple(Tensor(v) for v in out_values) if multiple else Tensor(out_values[0])
        return tree_unflatten(rule.out_tree, list(result)) if multiple else result

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

    # Graph verification reads the user's signature (arity, param names) through this.
    as_array.__wrapped__ = fun  # type: ignore[attr-defined]
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
        rule = lambda g, ans, *args, **kw: maker(ans, *args, **kw)(g)  # noqa: E731
        rule.__wrapped__ = maker  # type: ignore[attr-defined]  # (explain shows the maker)
        return rule

    prim.defvjp(*[flat(m) for m in vjp_makers])


def defjvp(prim: Primitive, *jvp_rules: Callable[..., Any] | None) -> None:
    """Set JVP rules in HIPS-autograd form: ``rule(g, ans, *args, **kw) -> tangent``."""
    prim.defjvp(*jvp_rules)


__all__ = [
    "custom_gradient",
    "defjvp",
    "defvjp",
    "primitive",
    "stop_gradient",
    "traced_gradient_function",
]

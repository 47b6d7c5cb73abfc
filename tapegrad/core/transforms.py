"""Function transforms (JAX / HIPS-autograd style) over the tape and forward mode.

``grad``, ``value_and_grad``, ``vjp`` and ``jacobian`` run the function under a
`GradientTape`; ``jvp`` and ``jacfwd`` under a `ForwardAccumulator`. Arguments may be
arrays, Tensors or nested lists/tuples/dicts of them; results have the same structure.
Because every transform only uses recorders, they nest: ``grad(grad(f))``,
``jacfwd(grad(f))``, ``grad(lambda x: jvp(f, (x,), (v,))[1])``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tapegrad.core import prims
from tapegrad.core.floatx import default_float
from tapegrad.core.forward import ForwardAccumulator, tangents_of
from tapegrad.core.primitive import active_recorders
from tapegrad.core.prims.shape import identity_p
from tapegrad.core.tape import GradientTape, stack_new_axis
from tapegrad.core.tensor import Tensor, dtype_of, shape_of
from tapegrad.core.tree import tree_flatten, tree_unflatten
from tapegrad.core.variable import Variable, mark_shared


def _fresh(leaf: Any) -> Any:
    """A new Tensor for one differentiated argument leaf.

    A recorded identity keeps the link to the caller's Tensor for outer transforms, and
    gives each argument position its own identity (``f(x, x)`` has two gradients).
    """
    if isinstance(leaf, Tensor):
        if any(r.tracks(leaf) for r in active_recorders()):
            return identity_p(leaf)
        # No outer transform sees this tensor: a new wrapper suffices (nothing to record).
        if isinstance(leaf, Variable):
            # The wrapper shares the Variable's array (a tape records it, the function may
            # return it): the Variable's next update must leave that array as it is.
            mark_shared(leaf)
        return Tensor._wrap(leaf._value)
    if leaf is None or isinstance(leaf, str | bytes):
        return leaf  # not an array: passed through untouched
    return Tensor(leaf)


def _tensors(leaves: list[Any]) -> list[Tensor]:
    return [leaf for leaf in leaves if isinstance(leaf, Tensor)]


def _gradients(tape: GradientTape, target: Any, leaves: list[Any], **kwargs: Any) -> list[Any]:
    """Gradients for every leaf; leaves that are not Tensors (None, strings) get None."""
    tensors = _tensors(leaves)
    seed = kwargs.get("output_gradients")
    if tensors:
        targets, seeds = (
            (tree_flatten(target)[0], tree_flatten(seed)[0])
            if seed is not None
            else ([target], [None])
        )
        flat = tape.gradient_flat(targets, seeds, tensors, kwargs["unconnected_gradients"])
    else:
        flat = []
    found = iter(flat)
    return [next(found) if isinstance(leaf, Tensor) else None for leaf in leaves]


def _argnums_tuple(argnums: int | Sequence[int]) -> tuple[int, ...]:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _prepare(args: tuple[Any, ...], argnums: tuple[int, ...]) -> tuple[list[Any], list[Any]]:
    """Replace the differentiated arguments by fresh Tensors; return (args, their leaves)."""
    new_args = list(args)
    leaves_per_arg = []
    for i in argnums:
        if i >= len(args):
            raise TypeError(f"argnums={i} but the function was called with {len(args)} arguments")
        leaves, treedef = tree_flatten(args[i])
        fresh = [_fresh(leaf) for leaf in leaves]
        new_args[i] = tree_unflatten(treedef, fresh)
        leaves_per_arg.append((fresh, treedef))
    return new_args, leaves_per_arg


def _check_numeric(out: Any, name: str, float_arguments: bool = True) -> None:
    """Only a float (or complex) output has a gradient: refuse bools, integers, text and
    objects instead of differentiating them to 0 (as JAX and HIPS autograd refuse them).
    Integer outputs are accepted when no differentiated argument is a float (they all get
    None gradients)."""
    try:
        dtype = out.dtype if isinstance(out, Tensor) else np.asarray(out).dtype
    except (TypeError, ValueError):  # a ragged list or other non-array
        dtype = np.dtype(object)
    if dtype.kind not in ("fc" if float_arguments else "biufc"):
        what = f"dtype {dtype}" if dtype.kind in "biu" else type(out).__name__
        raise TypeError(
            f"{name} requires the function to return a float number (a scalar Tensor), "
            f"got {what} {out!r:.60}; a comparison or count has no gradient (cast to a "
            "float first if the value is meant to be differentiated)"
        )


def _check_complex(out: Any, leaves: list[Any], holomorphic: bool) -> None:
    """JAX's rule: a complex output needs ``holomorphic=True``, which needs complex
    inputs and a complex output (the gradient is then f'(z), not a real function's)."""
    kind = _dtype_kind(out)
    if not holomorphic:
        if kind == "c":
            raise TypeError(
                "grad requires real-valued outputs (a float dtype), but got "
                f"{dtype_of(out._value if isinstance(out, Tensor) else out)}. For "
                "holomorphic differentiation, pass holomorphic=True. For differentiation of "
                "non-holomorphic functions involving complex outputs, use vjp directly."
            )
        return
    for leaf in leaves:
        if isinstance(leaf, Tensor) and leaf._value.dtype.kind != "c":
            raise TypeError(
                "grad with holomorphic=True requires inputs with complex dtype, but got "
                f"{leaf._value.dtype}."
            )
    if kind != "c":
        raise TypeError(
            "grad with holomorphic=True requires outputs with complex dtype, but got "
            f"{dtype_of(out._value if isinstance(out, Tensor) else out)}."
        )


def _dtype_kind(out: Any) -> str:
    value = out._value if isinstance(out, Tensor) else out
    try:
        return dtype_of(value).kind
    except (TypeError, ValueError):
        return "O"


def _inexact(leaf: Any) -> bool:
    dtype = getattr(leaf, "dtype", None)
    return dtype is not None and np.dtype(dtype).kind in "fc"


def _check_scalar(out: Any, name: str) -> None:
    value = out._value if isinstance(out, Tensor) else out
    if getattr(value, "shape", ()) != ():
        raise TypeError(
            f"{name} requires a scalar output, got shape {shape_of(value)}; use vjp or "
            "jacobian for non-scalar functions"
        )


def value_and_grad(
    fun: Callable[..., Any],
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
) -> Callable[..., Any]:
    """Make a function returning ``(fun(*args), gradient)`` (JAX conventions).

    Complex numbers follow JAX: for a real-valued ``fun`` of a complex ``z`` the
    gradient is ``conj(df/dz)`` in Wirtinger terms (the c with ``df = Re(c dz)``, so
    ``|z|**2`` gives ``2 conj(z)``); a complex output needs ``holomorphic=True``.

    Args:
        fun: Scalar-valued function of arrays/Tensors (or nested structures).
        argnums: Which positional argument(s) to differentiate.
        has_aux: ``fun`` returns ``(value, aux)``; the result is ``((value, aux), grad)``.
        holomorphic: ``fun`` is holomorphic in complex arguments and returns a complex
            number: the gradient is the complex derivative ``f'(z)``.

    Returns:
        A function with the same arguments as ``fun``. The gradient has the structure
        of the differentiated argument (a tuple of them when ``argnums`` is a tuple).

    Examples:
        >>> import tapegrad as tg
        >>> value, g = tg.value_and_grad(lambda x: (x ** 2).sum())(tg.tensor([1.0, 2.0]))
        >>> float(value), g.numpy()
        (5.0, array([2., 4.], dtype=float32))
    """
    argnum_tuple = _argnums_tuple(argnums)

    @functools.wraps(fun)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with GradientTape(watch_accessed_variables=False) as tape:
            new_args, prepared = _prepare(args, argnum_tuple)
            for fresh, _ in prepared:
                tape.watch(_tensors(fresh))
            out = fun(*new_args, **kwargs)
        value, aux = out if has_aux else (out, None)
        all_leaves = [leaf for fresh, _ in prepared for leaf in fresh]
        # Integer and bool arguments get None gradients (the output of such a function may
        # be an integer); with a float argument, the output must be a float too.
        _check_numeric(value, "grad", any(_inexact(leaf) for leaf in all_leaves))
        _check_complex(value, all_leaves, holomorphic)
        if not isinstance(value, Tensor):
            value = Tensor(value)
        _check_scalar(value, "grad")
        flat_grads = _gradients(tape, value, all_leaves, unconnected_gradients="zero")
        grads = []
        start = 0
        for fresh, treedef in prepared:
            grads.append(tree_unflatten(treedef, flat_grads[start : start + len(fresh)]))
            start += len(fresh)
        grad_out = grads[0] if isinstance(argnums, int) else tuple(grads)
        return ((value, aux), grad_out) if has_aux else (value, grad_out)

    return wrapper


def grad(
    fun: Callable[..., Any],
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
) -> Callable[..., Any]:
    """Make a function returning the gradient of scalar ``fun`` (see `value_and_grad`).

    Args:
        fun: Scalar-valued function of arrays/Tensors (or nested structures).
        argnums: Which positional argument(s) to differentiate.
        has_aux: ``fun`` returns ``(value, aux)``; the result is ``(grad, aux)``.
        holomorphic: Differentiate a holomorphic complex-valued ``fun`` (JAX's flag).

    Returns:
        The gradient function.

    Examples:
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> tg.grad(tnp.sin)(0.0).numpy()
        array(1., dtype=float32)
        >>> tg.grad(tg.grad(lambda x: x ** 3))(2.0).numpy()
        array(12., dtype=float32)
        >>> tg.grad(lambda z: tnp.abs(z) ** 2)(tg.tensor(3 + 4j)).numpy()
        array(6.-8.j, dtype=complex64)
        >>> tg.grad(lambda z: z ** 2, holomorphic=True)(tg.tensor(3 + 4j)).numpy()
        array(6.+8.j, dtype=complex64)
    """
    vg = value_and_grad(fun, argnums, has_aux, holomorphic)

    @functools.wraps(fun)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if has_aux:
            (_, aux), g = vg(*args, **kwargs)
            return g, aux
        return vg(*args, **kwargs)[1]

    return wrapper


def vjp(fun: Callable[..., Any], *primals: Any, has_aux: bool = False) -> Any:
    """Evaluate ``fun(*primals)`` and return ``(out, vjp_fn)``; ``vjp_fn(ct)`` gives a
    tuple with one cotangent per primal (it can be called several times).

    Examples:
        >>> import tapegrad as tg
        >>> out, back = tg.vjp(lambda x: x * 3.0, tg.tensor([1.0, 2.0]))
        >>> back(tg.tensor([1.0, 10.0]))[0].numpy()
        array([ 3., 30.], dtype=float32)
    """
    argnums = tuple(range(len(primals)))
    tape = GradientTape(persistent=True, watch_accessed_variables=False)
    with tape:
        new_args, prepared = _prepare(primals, argnums)
        for fresh, _ in prepared:
            tape.watch(_tensors(fresh))
        out = fun(*new_args)
    value, aux = out if has_aux else (out, None)
    all_leaves = [leaf for fresh, _ in prepared for leaf in fresh]

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        flat = _gradients(
            tape, value, all_leaves, output_gradients=cotangent, unconnected_gradients="zero"
        )
        grads, start = [], 0
        for fresh, treedef in prepared:
            grads.append(tree_unflatten(treedef, flat[start : start + len(fresh)]))
            start += len(fresh)
        return tuple(grads)

    return (value, vjp_fn, aux) if has_aux else (value, vjp_fn)


def jvp(fun: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> Any:
    """Forward mode: ``(fun(*primals), J @ tangents)`` in one pass, no reverse sweep.

    Examples:
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> out, tangent = tg.jvp(tnp.sin, (0.0,), (2.0,))
        >>> tangent.numpy()
        array(2., dtype=float32)
    """
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    new_args, prepared = _prepare(tuple(primals), tuple(range(len(primals))))
    flat_primals = [leaf for fresh, _ in prepared for leaf in fresh]
    flat_tangents = [leaf for t in tangents for leaf in tree_flatten(t)[0]]
    pairs = [
        (p, t) for p, t in zip(flat_primals, flat_tangents, strict=True) if isinstance(p, Tensor)
    ]
    with ForwardAccumulator([p for p, _ in pairs], [t for _, t in pairs]) as acc:
        out = fun(*new_args)
    return out, tangents_of(acc, out)


def jacobian(fun: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """Reverse-mode Jacobian: shape ``out.shape + arg.shape`` (JAX's ``jacrev``).

    Examples:
        >>> import tapegrad as tg
        >>> tg.jacobian(lambda x: x * x)(tg.tensor([1.0, 2.0])).numpy()
        array([[2., 0.],
               [0., 4.]], dtype=float32)
    """
    argnum_tuple = _argnums_tuple(argnums)

    @functools.wraps(fun)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with GradientTape(persistent=True, watch_accessed_variables=False) as tape:
            new_args, prepared = _prepare(args, argnum_tuple)
            for fresh, _ in prepared:
                tape.watch(_tensors(fresh))
            out = fun(*new_args, **kwargs)
        if not isinstance(out, Tensor):
            out = Tensor(out)
        jacs = [
            tree_unflatten(treedef, tape.jacobian(out, fresh, unconnected_gradients="zero"))
            for fresh, treedef in prepared
        ]
        return jacs[0] if isinstance(argnums, int) else tuple(jacs)

    return wrapper


jacrev = jacobian


def jacfwd(fun: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """Forward-mode Jacobian: one `jvp` per input element; shape ``out.shape + arg.shape``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.jacfwd(lambda x: x * x)(tg.tensor([1.0, 2.0])).numpy()
        array([[2., 0.],
               [0., 4.]], dtype=float32)
    """
    argnum_tuple = _argnums_tuple(argnums)

    @functools.wraps(fun)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        jacs = []
        for argnum in argnum_tuple:
            leaves, treedef = tree_flatten(args[argnum])
            per_leaf = [
                _jacfwd_leaf(fun, args, kwargs, argnum, leaves, treedef, k)
                for k in range(len(leaves))
            ]
            jacs.append(tree_unflatten(treedef, per_leaf))
        return jacs[0] if isinstance(argnums, int) else tuple(jacs)

    return wrapper


def _jacfwd_leaf(
    fun: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    argnum: int,
    leaves: list[Any],
    treedef: Any,
    k: int,
) -> Any:
    leaf = leaves[k]
    value = leaf._value if isinstance(leaf, Tensor) else np.asarray(leaf)
    shape, dtype = shape_of(value), dtype_of(value)
    if dtype.kind not in "fc":
        dtype = default_float()  # (floatx: float64 for NumPy users)
    n = int(np.prod(shape, dtype=np.int64))

    def partial(x: Any) -> Any:
        new_leaves = list(leaves)
        new_leaves[k] = x
        new_args = list(args)
        new_args[argnum] = tree_unflatten(treedef, new_leaves)
        return fun(*new_args, **kwargs)

    columns = []
    out = None
    for j in range(n):
        basis = np.zeros(n, dtype=dtype)
        basis[j] = 1
        out, tangent = jvp(partial, (leaf,), (basis.reshape(shape),))
        columns.append(tangent)
    if out is None:
        out = partial(leaf)
        out_shape = shape_of(out._value if isinstance(out, Tensor) else out)
        return Tensor._wrap(np.zeros(out_shape + shape, dtype=dtype))
    out_shape = shape_of(columns[0]._value)
    # columns[j] has the output's shape; the Jacobian puts the input axes last.
    stacked = stack_new_axis(columns)
    ndim_out = len(out_shape)
    moved = prims.transpose_p(stacked, axes=tuple(range(1, ndim_out + 1)) + (0,))
    return prims.reshape_p(moved, shape=out_shape + shape)


def hessian(fun: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """Hessian of a scalar function: forward-over-reverse, ``jacfwd(grad(fun))``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.hessian(lambda x: (x ** 3).sum())(tg.tensor([1.0, 2.0])).numpy()
        array([[ 6.,  0.],
               [ 0., 12.]], dtype=float32)
    """
    return jacfwd(grad(fun, argnums), argnums)

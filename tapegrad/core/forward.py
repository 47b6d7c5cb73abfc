"""Forward mode: a ForwardAccumulator propagates tangents through each op's JVP rule.

Like a tape it observes every op (`record`), but instead of storing the op it computes
the output tangent at once. JVP rules run on Tensors when an outer recorder is active
(so a tape outside can differentiate the tangents: reverse-over-forward) and on plain
arrays otherwise. Tapes inside the accumulator are paused while it computes tangents,
and the tangents of a tape's backward ops are computed like any others, which gives
forward-over-reverse (`jvp(grad(f))`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import primitive as _primitive
from tapegrad.core.broadcast import broadcast_tangent, unbroadcast
from tapegrad.core.primitive import Primitive, set_recorders
from tapegrad.core.tensor import Tensor, dtype_of, shape_of
from tapegrad.core.tree import tree_flatten, tree_unflatten

_INEXACT = "fc"


class ForwardAccumulator:
    """Compute Jacobian-vector products while a computation runs (``tf.autodiff``'s).

    Like a tape, it sees only the ops of the thread (or asyncio task) that entered it.

    Args:
        primals: A Tensor or nested structure of Tensors to perturb.
        tangents: Matching tangents (arrays or Tensors of the same shapes).

    Examples:
        >>> import tapegrad as tg
        >>> x = tg.tensor(2.0)
        >>> with ForwardAccumulator(x, tg.tensor(1.0)) as acc:
        ...     y = x * x * x
        >>> acc.jvp(y).numpy()
        array(12., dtype=float32)
    """

    def __init__(self, primals: Any, tangents: Any) -> None:
        flat_primals = tree_flatten(primals)[0]
        flat_tangents = tree_flatten(tangents)[0]
        if len(flat_primals) != len(flat_tangents):
            raise ValueError(
                f"ForwardAccumulator: {len(flat_primals)} primals but {len(flat_tangents)} tangents"
            )
        self._tangents: dict[int, tuple[Tensor, Any]] = {}
        self._outer: tuple[Any, ...] = ()
        self._pending = list(zip(flat_primals, flat_tangents, strict=True))

    def __enter__(self) -> ForwardAccumulator:
        self._outer = _primitive.active_recorders()
        for primal, tangent in self._pending:
            self._attach(primal, tangent)
        set_recorders(self._outer + (self,))
        return self

    def __exit__(self, *exc: object) -> None:
        set_recorders(tuple(r for r in _primitive.active_recorders() if r is not self))

    def _attach(self, primal: Any, tangent: Any) -> None:
        if not isinstance(primal, Tensor):
            raise TypeError(
                f"ForwardAccumulator: primals must be Tensors, got {type(primal).__name__}"
            )
        dtype = dtype_of(primal._value)
        if dtype.kind not in _INEXACT:
            return
        if not isinstance(tangent, Tensor):
            tangent = np.asarray(tangent, dtype=dtype)
        if shape_of(_value(tangent)) != shape_of(primal._value):
            raise ValueError(
                f"ForwardAccumulator: tangent shape {shape_of(_value(tangent))} does not "
                f"match primal shape {shape_of(primal._value)}"
            )
        self._tangents[id(primal)] = (primal, self._mode_value(tangent))

    def _mode_value(self, tangent: Any) -> Any:
        # With an outer recorder, tangents stay Tensors so it can see how they are made.
        if self._outer:
            return tangent if isinstance(tangent, Tensor) else Tensor._wrap(tangent)
        return _value(tangent)

    def tracks(self, tensor: Tensor) -> bool:
        """Whether ``tensor`` carries a tangent in this accumulator."""
        return id(tensor) in self._tangents

    def jvp(self, tensor: Any, unconnected_gradients: str = "none") -> Any:
        """The tangent of ``tensor`` (None, or zeros with ``unconnected_gradients="zero"``)."""
        found = self._tangents.get(id(tensor))
        if found is None:
            value = tensor._value if isinstance(tensor, Tensor) else np.asarray(tensor)
            if dtype_of(value).kind not in "biufc":
                return None  # not numeric (a string, an object): no tangent
            if unconnected_gradients == "zero":
                return Tensor._wrap(np.zeros(shape_of(value), dtype_of(value)))
            return None
        tangent = found[1]
        return tangent if isinstance(tangent, Tensor) else Tensor._wrap(np.asarray(tangent))

    def record(
        self,
        prim: Primitive,
        args: tuple[Any, ...],
        values: list[Any],
        params: dict[str, Any],
        result: Any,
    ) -> None:
        """Called by `bind` for every op: compute the output tangent if an input has one."""
        tangents = self._tangents
        perturbed = [i for i, a in enumerate(args) if isinstance(a, Tensor) and id(a) in tangents]
        if not perturbed:
            return
        tensor_mode = bool(self._outer)
        previous = set_recorders(self._outer)
        try:
            out = self._output_tangent(prim, args, values, params, result, perturbed, tensor_mode)
        finally:
            set_recorders(previous)
        if prim.multiple_results:
            for o, t in zip(result, out, strict=True):
                if t is not None and dtype_of(o._value).kind in _INEXACT:
                    tangents[id(o)] = (o, self._mode_value(t))
        elif out is not None and dtype_of(result._value).kind in _INEXACT:
            tangents[id(result)] = (result, self._mode_value(out))

    def _output_tangent(
        self,
        prim: Primitive,
        args: tuple[Any, ...],
        values: list[Any],
        params: dict[str, Any],
        result: Any,
        perturbed: list[int],
        tensor_mode: bool,
    ) -> Any:
        if tensor_mode:
            inputs: Any = args
            ans = result
        else:
            inputs = values
            ans = tuple(o._value for o in result) if prim.multiple_results else result._value
        total: Any = None
        for i in perturbed:
            t = self._tangents[id(args[i])][1]
            rule = prim.jvp_rule(i)
            if rule is not None:
                contribution = rule(t, ans, *inputs, **params)
            else:
                contribution = jvp_by_transposition(prim, i, t, result, args, params)
            if contribution is None:
                continue
            if prim.elementwise:
                contribution = broadcast_tangent(contribution, shape_of(_value(ans)))
            if total is None:
                total = contribution
            elif prim.multiple_results:
                total = tuple(
                    b if a is None else a if b is None else a + b
                    for a, b in zip(total, contribution, strict=True)
                )
            else:
                total = total + contribution
        return total


def jvp_by_transposition(
    prim: Primitive,
    argnum: int,
    tangent: Any,
    result: Any,
    args: tuple[Any, ...],
    params: dict[str, Any],
) -> Any:
    """Forward mode for an op that only has a VJP rule (custom gradients, user primitives).

    The VJP ``g -> J^T g`` is linear in ``g``; differentiating it with respect to ``g``
    in the direction ``tangent`` gives ``J tangent``. Costs one extra reverse pass.
    """
    from tapegrad.core.tape import GradientTape

    outs = result if prim.multiple_results else (result,)
    dummies = [Tensor._wrap(np.zeros(shape_of(o._value), dtype_of(o._value))) for o in outs]
    with GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(dummies)
        g = tuple(dummies) if prim.multiple_results else dummies[0]
        ans = result
        vjp_value = prim.vjp_rule(argnum)(g, ans, *args, **params)
        if prim.elementwise:
            vjp_value = unbroadcast(vjp_value, shape_of(_value(args[argnum])))
    grads = tape.gradient(
        vjp_value, dummies, output_gradients=tangent, unconnected_gradients="zero"
    )
    return tuple(grads) if prim.multiple_results else grads[0]


def _value(x: Any) -> Any:
    return x._value if isinstance(x, Tensor) else x


def tangents_of(accumulator: ForwardAccumulator, outputs: Any) -> Any:
    """Tangents of a nested structure of outputs (zeros where unconnected)."""
    leaves, treedef = tree_flatten(outputs)
    return tree_unflatten(treedef, [accumulator.jvp(o, "zero") for o in leaves])

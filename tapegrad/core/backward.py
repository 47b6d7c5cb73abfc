"""The backward walk: one reverse sweep over recorded entries through the VJP rules.

A `GradientTape` records the entries; `tapegrad.graph.gradients` runs the same sweep over
a traced function's calls (in tensor mode, so the gradient becomes graph nodes).

It runs in one of two modes (`WalkOptions`):

* **array mode** (nothing else is recording): rules get plain arrays, so a first-order
  gradient costs only the NumPy calls of the rules;
* **tensor mode** (an outer tape or forward accumulator is active): rules get Tensors,
  their ops are recorded by the outer recorders, and higher derivatives fall out.

Masked branches: the cotangent that `where` sends to its unselected elements is a
*structural* zero. The walk remembers those positions and re-zeroes them after every
elementwise VJP, so ``where(x > 0, sqrt(x), 0)`` has gradient 0 (not 0 * inf = NaN) at 0.

Observers: a graph tracer with a true ``observes_backward`` attribute (`tapegrad.explain`'s)
is told, through its ``step`` attribute, which part of the sweep runs while it records the
ops of a tensor-mode walk: ``(entry, argnum, part)`` with ``part`` one of ``"vjp"`` (the
rule of argument ``argnum`` of ``entry``), ``"mask"``, ``"unbroadcast"``, ``"accumulate"``,
or ``(None, -1, "result")`` while the gradients are cast to their sources' dtypes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from tapegrad.core import primitive as _primitive
from tapegrad.core import prims
from tapegrad.core.broadcast import unbroadcast
from tapegrad.core.primitive import Primitive
from tapegrad.core.tensor import Tensor, dtype_of, shape_of

# One recorded op: (primitive, args, arg values, params, result, source line or None).
Entry = tuple[Primitive, tuple[Any, ...], list[Any], dict[str, Any], Any, "str | None"]

_INEXACT = "fc"


def backward(
    entries: list[Entry],
    targets: list[Any],
    seeds: list[Any],
    sources: list[Any],
    tensor_mode: bool,
    unconnected: str = "none",
) -> list[Any]:
    """Reverse-mode sweep over recorded entries.

    Args:
        entries: Recorded ops, in execution order.
        targets: Tensors to differentiate (their gradients are summed).
        seeds: A starting cotangent per target (None: ones).
        sources: Tensors to differentiate with respect to.
        tensor_mode: Run rules on Tensors (so outer recorders see them) instead of arrays.
        unconnected: ``"none"`` or ``"zero"``, for sources the targets do not reach.

    Returns:
        One gradient (Tensor or None) per source.
    """
    # Integer and bool sources have no gradient (None): never follow them, or rules of ops
    # they feed (where's condition) would be asked for a derivative that does not exist.
    source_ids = {
        id(s) for s in sources if isinstance(s, Tensor) and s._value.dtype.kind in _INEXACT
    }
    # Forward pass: keep only entries that depend on a source, and for each the
    # arguments through which it does (their VJPs are the only ones worth computing).
    relevant = set(source_ids)
    needed: list[tuple[Entry, tuple[int, ...]]] = []
    quiet = False  # set when a `where` mask can occur: then NumPy's warnings are silenced
    for entry in entries:
        args = entry[1]
        argnums: tuple[int, ...] = ()
        i = 0
        for a in args:
            if id(a) in relevant:
                argnums += (i,)
            i += 1
        if argnums:
            needed.append((entry, argnums))
            prim = entry[0]
            if prim.multiple_results:
                relevant.update(id(o) for o in entry[4])
            else:
                relevant.add(id(entry[4]))
            if prim.zero_mask_rule is not None:
                quiet = True

    cotangents: dict[int, Any] = {}
    for target, seed in zip(targets, seeds, strict=True):
        if not isinstance(target, Tensor) or id(target) not in relevant:
            continue
        value = target._value
        dtype = value.dtype
        if dtype.kind not in _INEXACT:
            continue
        if seed is None:
            seed = np.array(1, dtype) if value.shape == () else np.ones(value.shape, dtype)
        elif isinstance(seed, Tensor) and not tensor_mode:
            seed = seed._value
        # In tensor mode a constant seed stays an array: the rules' ops on constants take
        # the primitives' fast path, and only what depends on recorded tensors is recorded.
        key = id(target)
        cotangents[key] = seed if key not in cotangents else cotangents[key] + seed

    # 0 * inf in masked branches is expected (and repaired): silence NumPy's warnings for
    # walks that can carry masks, once, rather than around every rule.
    saved_err = np.seterr(all="ignore") if quiet else None
    # Under graph tracing, `where` masks must be graph values too (not arrays computed
    # from the trace-time values), so the rules get the recorded Tensors.
    symbolic = (
        next((r for r in _primitive.active_recorders() if getattr(r, "symbolic", False)), None)
        if tensor_mode
        else None
    )
    lift = symbolic.lift if symbolic is not None else None
    observer = symbolic if getattr(symbolic, "observes_backward", False) else None
    previous_step = observer.step if observer is not None else None
    anomaly = _primitive.anomaly_enabled()
    try:
        if tensor_mode or quiet or anomaly:
            options = WalkOptions(tensor_mode, quiet, anomaly, lift, observer)
            _walk(needed, cotangents, source_ids, options)
        else:
            _walk_arrays(needed, cotangents, source_ids)
        if observer is not None:
            observer.step = (None, -1, "result")
        return _collect(sources, cotangents, unconnected)
    finally:
        if saved_err is not None:
            np.seterr(**saved_err)
        if observer is not None:
            observer.step = previous_step


@dataclasses.dataclass(frozen=True, slots=True)
class WalkOptions:
    """How the backward walk runs its VJP rules.

    The default (all off) is the array mode of a first-order gradient, the one every
    training step takes: rules on arrays, no masks, no checks.

    Attributes:
        tensor_mode: Rules get the recorded Tensors (their ops are recorded by the outer
            recorders, so higher derivatives fall out) instead of arrays.
        masks: Some recorded op declares a ``zero_mask_rule`` (`where`): remember the
            structural zeros and re-zero them after every elementwise VJP.
        anomaly: Check every cotangent for NaN/inf (`detect_anomaly`).
        lift: Under graph tracing, maps an argument to the traced value the rules must see.
        observer: A tracer told which part of the sweep runs (its ``step``), see above.
    """

    tensor_mode: bool = False
    masks: bool = False
    anomaly: bool = False
    lift: Any = None
    observer: Any = None


ARRAYS = WalkOptions()


def _walk(
    needed: list[tuple[Entry, tuple[int, ...]]],
    cotangents: dict[int, Any],
    source_ids: set[int],
    options: WalkOptions = ARRAYS,
) -> None:
    """The reverse sweep proper: one VJP per (entry, relevant argument).

    It runs for every training step: what an option does not need costs one test of a
    local per entry or argument.
    """
    g: Any
    inputs: tuple[Any, ...] | list[Any]
    mask: Any
    tensor_mode = options.tensor_mode
    track_masks = options.masks
    anomaly = options.anomaly
    lift = options.lift
    observer = options.observer
    # Scatter-style cotangents add into a buffer in place only on plain arrays.
    in_place = not (tensor_mode or anomaly)
    get = cotangents.get
    pop = cotangents.pop
    masks: dict[int, Any] = {}
    # Cotangent buffers this walk allocated itself, by key: safe to add into in place.
    owned: dict[int, np.ndarray] = {}
    for entry, argnums in reversed(needed):
        prim, args, values, params, result, line = entry
        if prim.multiple_results:
            g = tuple(_take(cotangents, id(o), source_ids) for o in result)
            if all(part is None for part in g):
                continue
            if not prim.symbolic_zeros:  # (otherwise the rules take None for unused outputs)
                g = tuple(
                    _zeros_for(o) if part is None else part
                    for part, o in zip(g, result, strict=True)
                )
            ans = result if tensor_mode else tuple(o._value for o in result)
            incoming_mask = None
            if prim.vjp_joint is not None and len(argnums) > 1 and in_place:
                # Several arguments' cotangents from one computation (array mode only).
                grads = prim.vjp_joint(argnums, g, ans, *values, **params)
                _accumulate_joint(cotangents, masks, track_masks, args, argnums, grads)
                continue
        else:
            rid = id(result)
            g = get(rid) if rid in source_ids else pop(rid, None)
            if g is None:
                continue
            ans = result if tensor_mode else result._value
            incoming_mask = masks.pop(rid, None) if masks else None
        if tensor_mode:
            # Graph tracing: an argument passed as the raw array of a traced value (a
            # `where` condition, say) must enter the rules as that traced value.
            inputs = args if lift is None else tuple(lift(a) for a in args)
        else:
            inputs = values
        rules = () if prim.variadic else prim.vjp_rules
        accumulate = prim.vjp_accumulate if in_place and incoming_mask is None else None
        for i in argnums:
            if i == 0 and accumulate is not None:
                _accumulate_in_place(prim, cotangents, owned, args[0], values, g, ans, params)
                continue
            rule = rules[i] if i < len(rules) else None
            if rule is None:
                rule = prim.vjp_rule(i)  # a variadic rule, or the "not differentiable" error
            if observer is not None:
                observer.step = (entry, i, "vjp")
            grad = rule(g, ans, *inputs, **params)
            if grad is None:
                continue
            if track_masks:
                if observer is not None:
                    observer.step = (entry, i, "mask")
                mask = None
                if prim.elementwise:
                    mask = incoming_mask
                    if prim.zero_mask_rule is not None:
                        own = (
                            prim.zero_mask_rule(i, ans, *inputs, **params)
                            if lift
                            else prim.zero_mask_rule(i, _value(ans), *values, **params)
                        )
                        if own is not None:
                            mask = own if mask is None else (mask | own)
                    elif mask is not None and not prim.zero_preserving:
                        # Masked positions may have computed 0 * inf: make them exact zeros.
                        grad = prims.where_p(mask, 0, grad)
                    shape = values[i].shape
                    if grad.shape != shape:
                        if observer is not None:
                            observer.step = (entry, i, "unbroadcast")
                        grad = unbroadcast(grad, shape)
                        mask = None  # a summed cotangent has no structural zeros left
            elif prim.elementwise:
                shape = values[i].shape
                if grad.shape != shape:
                    if observer is not None:
                        observer.step = (entry, i, "unbroadcast")
                    grad = unbroadcast(grad, shape)
            if anomaly:
                _check_backward(prim, grad, line)
            key = id(args[i])
            if observer is not None:
                observer.step = (entry, i, "accumulate")
            if track_masks:
                _accumulate(cotangents, masks, key, grad, mask)
            else:
                previous = get(key)
                cotangents[key] = grad if previous is None else previous + grad


def _walk_arrays(
    needed: list[tuple[Entry, tuple[int, ...]]], cotangents: dict[int, Any], source_ids: set[int]
) -> None:
    """`_walk` in array mode, the first-order gradient of every training step."""
    _walk(needed, cotangents, source_ids, ARRAYS)


def _collect(sources: list[Any], cotangents: dict[int, Any], unconnected: str) -> list[Any]:
    """Each source's gradient as a Tensor of its dtype (None/zeros if unconnected)."""
    grads: list[Any] = []
    for source in sources:
        grad = cotangents.get(id(source))
        source_dtype = source._value.dtype
        if grad is not None and isinstance(grad, np.ndarray):
            if grad.dtype == source_dtype and grad.shape == source._value.shape:
                grads.append(Tensor._wrap(grad))  # the common case
                continue
        if source_dtype.kind not in _INEXACT:
            grads.append(None)
            continue
        if grad is None:
            if unconnected == "zero":
                grads.append(Tensor._wrap(np.zeros(shape_of(source._value), source_dtype)))
            else:
                grads.append(None)
            continue
        if grad.dtype != source_dtype:
            if source_dtype.kind == "f":
                # A real source keeps the real part of a complex cotangent (JAX's rule).
                grad = prims.real_part(grad)
            grad = prims.cast_p(grad, dtype=source_dtype)
        if grad.shape != source._value.shape:
            grad = prims.broadcast_to_p(grad, shape=shape_of(source._value))
        grads.append(grad if isinstance(grad, Tensor) else Tensor._wrap(np.asarray(grad)))
    return grads


def _take(cotangents: dict[int, Any], key: int, source_ids: set[int]) -> Any:
    # A source's own cotangent is its answer: read it, keep it.
    if key in source_ids:
        return cotangents.get(key)
    return cotangents.pop(key, None)


def _zeros_for(out: Tensor) -> Any:
    return np.zeros(shape_of(out._value), dtype=dtype_of(out._value))


def _accumulate_in_place(
    prim: Primitive,
    cotangents: dict[int, Any],
    owned: dict[int, np.ndarray],
    arg: Tensor,
    values: list[Any],
    g: Any,
    ans: Any,
    params: dict[str, Any],
) -> None:
    """Add a scatter-style cotangent into the argument's owned buffer (see vjp_accumulate)."""
    key = id(arg)
    buffer = owned.get(key)
    current = cotangents.get(key)
    if buffer is None or current is not buffer:
        # The cotangent's dtype, as the VJP rule would give (an integer source's is float).
        buffer = np.zeros(values[0].shape, np.result_type(g))
        if current is not None:
            buffer += current._value if isinstance(current, Tensor) else current
        owned[key] = buffer
        cotangents[key] = buffer
    prim.vjp_accumulate(buffer, g, ans, *values, **params)  # type: ignore[misc]


def _accumulate_joint(
    cotangents: dict[int, Any],
    masks: dict[int, Any],
    track_masks: bool,
    args: tuple[Any, ...],
    argnums: tuple[int, ...],
    grads: tuple[Any, ...],
) -> None:
    """Add a joint VJP's cotangents (see ``vjp_joint``) to their arguments'."""
    for i, grad in zip(argnums, grads, strict=True):
        if grad is None:
            continue
        key = id(args[i])
        if track_masks:
            _accumulate(cotangents, masks, key, grad, None)
        else:
            previous = cotangents.get(key)
            cotangents[key] = grad if previous is None else previous + grad


def _accumulate(
    cotangents: dict[int, Any], masks: dict[int, Any], key: int, grad: Any, mask: Any
) -> None:
    previous = cotangents.get(key)
    if previous is None:
        cotangents[key] = grad
        if mask is not None:
            masks[key] = mask
        return
    cotangents[key] = previous + grad
    if key in masks:
        if mask is None:
            del masks[key]
        else:
            masks[key] = masks[key] & mask


def _check_backward(prim: Primitive, grad: Any, line: str | None) -> None:
    arr = np.asarray(_value(grad))
    if arr.dtype.kind in _INEXACT and not np.all(np.isfinite(arr)):
        bad = "NaN" if np.isnan(arr).any() else "inf"
        raise FloatingPointError(
            f"detect_anomaly: backward (VJP) of op '{prim.name}' produced {bad}; "
            f"the op was created at {line or '<unknown>'}"
        )


def _value(x: Any) -> Any:
    return x._value if isinstance(x, Tensor) else x

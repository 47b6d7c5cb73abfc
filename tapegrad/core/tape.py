"""GradientTape: records ops on watched tensors and walks them backwards through VJP rules.

The backward walk runs in one of two modes:

* **array mode** (nothing else is recording): rules get plain arrays, so a first-order
  gradient costs only the NumPy calls of the rules;
* **tensor mode** (an outer tape or forward accumulator is active): rules get Tensors,
  their ops are recorded by the outer recorders, and higher derivatives fall out.

Masked branches: the cotangent that `where` sends to its unselected elements is a
*structural* zero. The walk remembers those positions and re-zeroes them after every
elementwise VJP, so ``where(x > 0, sqrt(x), 0)`` has gradient 0 (not 0 * inf = NaN) at 0.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np

from tapegrad.core import primitive as _primitive
from tapegrad.core.broadcast import unbroadcast
from tapegrad.core.primitive import _RECORDERS, Primitive, set_recorders
from tapegrad.core.tensor import Tensor, Variable, dtype_of, shape_of
from tapegrad.core.tree import tree_flatten, tree_unflatten

# One recorded op: (primitive, args, arg values, params, result, source line or None).
Entry = tuple[Primitive, tuple[Any, ...], list[Any], dict[str, Any], Any, "str | None"]

_INEXACT = "fc"


class GradientTape:
    """Record operations for automatic differentiation (TensorFlow's ``tf.GradientTape``).

    A tape records the ops of the thread (or asyncio task) that entered it, and only
    those: tapes of other threads never see them (docs/threads.md).

    Args:
        persistent: Allow several ``gradient``/``jacobian`` calls (the record is kept).
        watch_accessed_variables: Watch every trainable Variable read while recording.

    Examples:
        >>> import tapegrad as tg
        >>> x = tg.tensor(3.0)
        >>> with tg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = x * x
        >>> tape.gradient(y, x).numpy()
        array(6., dtype=float32)
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True) -> None:
        self._persistent = persistent
        self._watch_variables = watch_accessed_variables
        self._entries: list[Entry] = []
        # id -> Tensor for every tensor whose value depends on a watched one (kept alive
        # here, so ids stay unique while the tape lives).
        self._tracked: dict[int, Tensor] = {}
        # Kept after a non-persistent gradient releases the record (as in TensorFlow).
        self._variables: dict[int, Variable] = {}
        self._used = False

    # -- recording ----------------------------------------------------------------------
    def __enter__(self) -> GradientTape:
        # (the context variable itself, not set_recorders: one tape per training step)
        _RECORDERS.set(_RECORDERS.get() + (self,))
        return self

    def __exit__(self, *exc: object) -> None:
        active = _RECORDERS.get()
        if active and active[-1] is self:  # the usual case: this tape is the innermost
            _RECORDERS.set(active[:-1])
        else:
            _RECORDERS.set(tuple(r for r in active if r is not self))

    def watch(self, tensor: Any) -> None:
        """Track a Tensor (or a nested structure of them) so gradients can reach it."""
        for leaf in tree_flatten(tensor)[0]:
            if not isinstance(leaf, Tensor):
                raise TypeError(
                    f"GradientTape.watch: expected a tapegrad Tensor or Variable, got "
                    f"{type(leaf).__name__}; wrap arrays with tapegrad.tensor(...)"
                )
            self._tracked[id(leaf)] = leaf
            if isinstance(leaf, Variable):
                self._variables[id(leaf)] = leaf

    def tracks(self, tensor: Tensor) -> bool:
        """Whether ``tensor`` is watched by this tape or derived from a watched tensor."""
        return id(tensor) in self._tracked

    def watched_variables(self) -> tuple[Variable, ...]:
        """The Variables this tape watches, in the order they were first seen."""
        return tuple(self._variables.values())

    @contextlib.contextmanager
    def stop_recording(self) -> Iterator[None]:
        """Temporarily stop this tape from recording (other tapes keep recording)."""
        previous = set_recorders(tuple(r for r in _primitive.active_recorders() if r is not self))
        try:
            yield
        finally:
            set_recorders(previous)

    def reset(self) -> None:
        """Forget everything recorded so far."""
        self._entries.clear()
        self._tracked.clear()

    def record(
        self, prim: Primitive, args: tuple[Any, ...], values: list[Any], params: dict[str, Any],
        result: Any,
    ) -> None:
        """Called for every op run while this tape is active (the hot path: keep lean)."""
        tracked = self._tracked
        hit = False
        if self._watch_variables:
            for arg in args:
                if id(arg) in tracked:
                    hit = True
                elif type(arg) is Variable and arg.trainable:
                    tracked[id(arg)] = arg
                    self._variables[id(arg)] = arg
                    hit = True
        else:
            # Ids of live non-Tensor objects can never match a live tracked Tensor's id.
            for arg in args:
                if id(arg) in tracked:
                    hit = True
                    break
        if not hit:
            return
        line = (_primitive.user_source_line()
                if _primitive._anomaly_blocks and _primitive.anomaly_enabled() else None)
        self._entries.append((prim, args, values, params, result, line))
        if prim.multiple_results:
            for out in result:
                if out._value.dtype.kind in _INEXACT:
                    tracked[id(out)] = out
        elif result._value.dtype.kind in _INEXACT:
            tracked[id(result)] = result

    # -- differentiation ----------------------------------------------------------------
    def gradient(
        self,
        target: Any,
        sources: Any,
        output_gradients: Any = None,
        unconnected_gradients: str = "none",
    ) -> Any:
        """Gradients of ``target`` with respect to ``sources``.

        A non-scalar target is treated as the sum of its elements (TensorFlow semantics),
        unless ``output_gradients`` gives the cotangent to start from. A list of targets
        is summed too.

        Args:
            target: A Tensor or nested structure of Tensors to differentiate.
            sources: A Tensor/Variable or any nested list/tuple/dict of them.
            output_gradients: Cotangents for the targets (same structure), or None.
            unconnected_gradients: ``"none"`` (default) gives None for a source the target
                does not depend on; ``"zero"`` gives zeros.

        Returns:
            Gradients in the structure of ``sources`` (``None`` for unconnected or
            integer sources).
        """
        self._check_usable()
        flat_sources, treedef = tree_flatten(sources)
        for source in flat_sources:
            if not isinstance(source, Tensor):
                raise TypeError(
                    "GradientTape.gradient: sources must be Tensors or Variables, got "
                    f"{type(source).__name__}"
                )
        targets = tree_flatten(target)[0]
        if output_gradients is None:
            seeds: list[Any] = [None] * len(targets)
        else:
            seeds = tree_flatten(output_gradients)[0]
            if len(seeds) != len(targets):
                raise ValueError(
                    f"GradientTape.gradient: {len(targets)} targets but {len(seeds)} "
                    "output_gradients"
                )
        return tree_unflatten(
            treedef, self._gradient_flat(targets, seeds, flat_sources, unconnected_gradients)
        )

    def _gradient_flat(
        self, targets: list[Any], seeds: list[Any], sources: list[Tensor], unconnected: str
    ) -> list[Any]:
        """`gradient` on flat lists (the transforms call this directly: no tree work)."""
        grads = self._backward(targets, seeds, sources, unconnected)
        if not self._persistent:
            self._release()
        return grads

    def jacobian(
        self, target: Any, source: Any, unconnected_gradients: str = "none"
    ) -> Any:
        """Full Jacobian: shape ``target.shape + source.shape`` for each source.

        Args:
            target: A Tensor.
            source: A Tensor/Variable or nested structure of them.
            unconnected_gradients: ``"none"`` or ``"zero"``.

        Returns:
            Jacobians in the structure of ``source``.
        """
        self._check_usable()
        flat_sources, treedef = tree_flatten(source)
        target_shape = shape_of(target._value)
        n = int(np.prod(target_shape, dtype=np.int64))
        dtype = dtype_of(target._value)
        rows: list[list[Any]] = [[] for _ in flat_sources]
        for k in range(n):
            seed = np.zeros(n, dtype=dtype)
            seed[k] = 1
            grads = self._backward([target], [seed.reshape(target_shape)], flat_sources, "none")
            for row, grad in zip(rows, grads, strict=True):
                row.append(grad)
        out: list[Any] = []
        for src, row in zip(flat_sources, rows, strict=True):
            src_dtype = dtype_of(src._value)
            connected = any(grad is not None for grad in row)
            if src_dtype.kind not in _INEXACT or not (connected or unconnected_gradients == "zero"):
                out.append(None)
                continue
            zeros = np.zeros(shape_of(src._value), src_dtype)
            row = [zeros if grad is None else grad for grad in row]
            out.append(_stack(row, target_shape + shape_of(src._value), src_dtype))
        if not self._persistent:
            self._release()
        return tree_unflatten(treedef, out)

    def batch_jacobian(self, target: Any, source: Any) -> Any:
        """Per-example Jacobian: ``target`` (b, ...) and ``source`` (b, ...) give
        (b, target dims..., source dims...), assuming examples do not interact."""
        self._check_usable()
        target_shape = shape_of(target._value)
        batch = target_shape[0]
        if shape_of(source._value)[0] != batch:
            raise ValueError(
                f"batch_jacobian: target batch {batch} and source batch "
                f"{shape_of(source._value)[0]} differ"
            )
        per_example = int(np.prod(target_shape[1:], dtype=np.int64))
        dtype = dtype_of(target._value)
        rows = []
        for k in range(per_example):
            seed = np.zeros((batch, per_example), dtype=dtype)
            seed[:, k] = 1
            rows.append(self._backward([target], [seed.reshape(target_shape)], [source], "zero")[0])
        # rows[k] has shape (b, source dims...); put k after the batch axis.
        source_rest = shape_of(source._value)[1:]
        stacked = _stack(rows, (per_example, batch) + source_rest, dtype_of(source._value))
        ndim = 2 + len(source_rest)
        moved = _prims().transpose_p(stacked, axes=(1, 0) + tuple(range(2, ndim)))
        result = _prims().reshape_p(moved, shape=target_shape + source_rest)
        if not self._persistent:
            self._release()
        return result

    # -- internals ----------------------------------------------------------------------
    def _check_usable(self) -> None:
        if self._used:
            raise RuntimeError(
                "A non-persistent GradientTape can only compute one set of gradients; "
                "use GradientTape(persistent=True) for several"
            )

    def _release(self) -> None:
        self._used = True
        self._entries = []
        self._tracked = {}

    def _backward(
        self, targets: list[Any], seeds: list[Any], sources: list[Any], unconnected: str
    ) -> list[Any]:
        if unconnected not in ("none", "zero"):
            raise ValueError(
                f"unconnected_gradients must be 'none' or 'zero', got {unconnected!r}"
            )
        # The walk's own ops are never recorded on this tape; any other active recorder
        # sees them (tensor mode), which is what makes higher derivatives work.
        active = _primitive.active_recorders()
        # Only what the tape watched (or derived from it) can receive a gradient.
        tracked = self._tracked
        watched = [s if id(s) in tracked else _UNWATCHED for s in sources]
        if self not in active:  # the usual case (the tape has exited): nothing to pause
            grads = backward(self._entries, targets, seeds, watched, bool(active), unconnected)
        else:
            others = tuple([r for r in active if r is not self])
            previous = set_recorders(others)
            try:
                grads = backward(self._entries, targets, seeds, watched, bool(others),
                                 unconnected)
            finally:
                set_recorders(previous)
        return [
            _unconnected(s, unconnected) if w is _UNWATCHED else g
            for s, w, g in zip(sources, watched, grads, strict=True)
        ]


# Stands in for a source the tape never watched: never matches a recorded tensor.
_UNWATCHED = Tensor._wrap(np.zeros(0))


def _unconnected(source: Tensor, unconnected: str) -> Any:
    dtype = dtype_of(source._value)
    if unconnected == "zero" and dtype.kind in _INEXACT:
        return Tensor._wrap(np.zeros(shape_of(source._value), dtype))
    return None


def _stack(rows: list[Any], shape: tuple[int, ...], dtype: Any) -> Any:
    """Stack gradient rows into one Tensor of ``shape`` (differentiable in tensor mode)."""
    prims = _prims()
    if not rows:
        return Tensor._wrap(np.zeros(shape, dtype=dtype))
    flat = [prims.reshape_p(r, shape=(1,) + tuple(shape_of(_value(r)))) for r in rows]
    joined = prims.concatenate_p(*flat, axis=0) if len(flat) > 1 else flat[0]
    out = prims.reshape_p(joined, shape=shape)
    return out if isinstance(out, Tensor) else Tensor._wrap(out)


def _value(x: Any) -> Any:
    return x._value if isinstance(x, Tensor) else x


def _prims() -> Any:
    from tapegrad.core import prims

    return prims


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
    source_ids = {id(s) for s in sources
                  if isinstance(s, Tensor) and s._value.dtype.kind in _INEXACT}
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
    lift = next((r.lift for r in _primitive.active_recorders() if getattr(r, "symbolic", False)),
                None) if tensor_mode else None
    anomaly = _primitive.anomaly_enabled()
    try:
        if tensor_mode or quiet or anomaly:
            _walk(needed, cotangents, source_ids, WalkOptions(tensor_mode, quiet, anomaly, lift))
        else:
            _walk_arrays(needed, cotangents, source_ids)
    finally:
        if saved_err is not None:
            np.seterr(**saved_err)
    return _collect(sources, cotangents, unconnected)


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
    """

    tensor_mode: bool = False
    masks: bool = False
    anomaly: bool = False
    lift: Any = None


ARRAYS = WalkOptions()


def _walk(
    needed: list[tuple[Entry, tuple[int, ...]]], cotangents: dict[int, Any],
    source_ids: set[int], options: WalkOptions = ARRAYS,
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
    # Scatter-style cotangents add into a buffer in place only on plain arrays.
    in_place = not (tensor_mode or anomaly)
    get = cotangents.get
    pop = cotangents.pop
    masks: dict[int, Any] = {}
    # Cotangent buffers this walk allocated itself, by key: safe to add into in place.
    owned: dict[int, np.ndarray] = {}
    for (prim, args, values, params, result, line), argnums in reversed(needed):
        if prim.multiple_results:
            g = tuple(_take(cotangents, id(o), source_ids) for o in result)
            if all(part is None for part in g):
                continue
            g = tuple(
                _zeros_for(o) if part is None else part for part, o in zip(g, result, strict=True)
            )
            ans = result if tensor_mode else tuple(o._value for o in result)
            incoming_mask = None
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
            grad = rule(g, ans, *inputs, **params)
            if grad is None:
                continue
            if track_masks:
                mask = None
                if prim.elementwise:
                    mask = incoming_mask
                    if prim.zero_mask_rule is not None:
                        own = (prim.zero_mask_rule(i, ans, *inputs, **params) if lift else
                               prim.zero_mask_rule(i, _value(ans), *values, **params))
                        if own is not None:
                            mask = own if mask is None else (mask | own)
                    elif mask is not None and not prim.zero_preserving:
                        # Masked positions may have computed 0 * inf: make them exact zeros.
                        grad = _prims().where_p(mask, 0, grad)
                    shape = values[i].shape
                    if grad.shape != shape:
                        grad = unbroadcast(grad, shape)
                        mask = None  # a summed cotangent has no structural zeros left
            elif prim.elementwise:
                shape = values[i].shape
                if grad.shape != shape:
                    grad = unbroadcast(grad, shape)
            if anomaly:
                _check_backward(prim, grad, line)
            key = id(args[i])
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
            grad = _prims().cast_p(grad, dtype=source_dtype)
        if grad.shape != source._value.shape:
            grad = _prims().broadcast_to_p(grad, shape=shape_of(source._value))
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
    prim: Primitive, cotangents: dict[int, Any], owned: dict[int, np.ndarray], arg: Tensor,
    values: list[Any], g: Any, ans: Any, params: dict[str, Any],
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

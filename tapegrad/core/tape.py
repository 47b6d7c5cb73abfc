"""GradientTape: records ops on watched tensors; `core.backward` walks them back.

A tape records, for every op that depends on a watched tensor, the primitive, its
arguments, their values, its params and its result (an `Entry`); `gradient`, `jacobian`
and `batch_jacobian` run the reverse sweep of `tapegrad.core.backward` over that record.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from tapegrad.core import primitive as _primitive
from tapegrad.core import prims
from tapegrad.core.backward import Entry, backward
from tapegrad.core.primitive import Primitive, active_recorders, set_recorders
from tapegrad.core.tensor import Tensor, dtype_of, shape_of
from tapegrad.core.tree import tree_flatten, tree_unflatten
from tapegrad.core.variable import Variable, lease, lease_all, release, release_all

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
        # Leases keep the arrays this tape's record holds as they are (updates allocate)
        # until the tape is done with its record (`_release`, `reset`, garbage collection):
        # one on every Variable (`lease_all`) from the first op recording a Variable (a tape
        # not watching accessed Variables: from `__enter__`, its hot loop never looks for
        # them), and one per Variable `watch`ed (`lease`; id -> Variable).
        self._leased: dict[int, Variable] = {}
        self._leases_all = False
        self._used = False

    def __del__(self) -> None:
        if hasattr(self, "_leases_all"):  # (not: __init__ did not finish)
            self._release_leases()

    # -- recording ----------------------------------------------------------------------
    def __enter__(self) -> GradientTape:
        if not self._watch_variables and not self._leases_all:
            self._leases_all = True
            lease_all(self)
        set_recorders(active_recorders() + (self,))
        return self

    def __exit__(self, *exc: object) -> None:
        active = active_recorders()
        if active and active[-1] is self:  # the usual case: this tape is the innermost
            set_recorders(active[:-1])
        else:
            set_recorders(tuple(r for r in active if r is not self))

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
                self.retain(leaf)

    def retain(self, variable: Variable) -> None:
        """Keep ``variable``'s arrays as they are while this tape holds its record: its
        updates allocate new arrays instead (the record may hold the current one). Taken
        for every Variable an op recorded here reads; the transforms take it for a
        Variable they differentiate through a new Tensor on its array.

        Examples:
            >>> import tapegrad as tg
            >>> v = tg.Variable([1.0])
            >>> with tg.GradientTape(persistent=True) as tape:
            ...     y = v * v
            >>> _ = v.assign_add([1.0])  # a new array: the record keeps the old one
            >>> tape.gradient(y, v).numpy()  # 2 v, with v as the op read it
            array([2.], dtype=float32)
        """
        if id(variable) not in self._leased:
            self._leased[id(variable)] = variable
            lease(variable, self)

    @property
    def watch_accessed_variables(self) -> bool:
        """Whether trainable Variables read while recording are watched automatically."""
        return self._watch_variables

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
        # (a tape watching accessed Variables leases them again when it records one; one
        # that does not keeps its lease: it may record on)
        self._release_leases(every=self._watch_variables)

    def record(
        self,
        prim: Primitive,
        args: tuple[Any, ...],
        values: list[Any],
        params: dict[str, Any],
        result: Any,
    ) -> None:
        """Called for every op run while this tape is active (the hot path: keep lean)."""
        tracked = self._tracked
        hit = False
        # A non-trainable Variable argument (untracked: leased if the op is recorded).
        unleased = False
        if self._watch_variables:
            for arg in args:
                if id(arg) in tracked:
                    hit = True
                elif type(arg) is Variable:
                    if arg.trainable:
                        tracked[id(arg)] = arg
                        self._variables[id(arg)] = arg
                        # (once per Variable: later ops find it tracked)
                        if not self._leases_all:
                            self._leases_all = True
                            lease_all(self)
                        hit = True
                    else:
                        unleased = True
        else:
            # Ids of live non-Tensor objects can never match a live tracked Tensor's id.
            for arg in args:
                if id(arg) in tracked:
                    hit = True
                    break
        if not hit:
            return
        if unleased and not self._leases_all:
            self._leases_all = True
            lease_all(self)
        line = (
            _primitive.user_source_line()
            if _primitive._anomaly_blocks and _primitive.anomaly_enabled()
            else None
        )
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
            treedef, self.gradient_flat(targets, seeds, flat_sources, unconnected_gradients)
        )

    def gradient_flat(
        self, targets: list[Any], seeds: list[Any], sources: list[Tensor], unconnected: str
    ) -> list[Any]:
        """`gradient` on flat lists, without the structure work (the transforms' call).

        Args:
            targets: Tensors to differentiate (their gradients are summed).
            seeds: One starting cotangent per target, or None for ones.
            sources: Tensors or Variables to differentiate with respect to.
            unconnected: ``"none"`` or ``"zero"``.

        Returns:
            One gradient (a Tensor, or None) per source.
        """
        grads = self._backward(targets, seeds, sources, unconnected)
        if not self._persistent:
            self._release()
        return grads

    def jacobian(self, target: Any, source: Any, unconnected_gradients: str = "none") -> Any:
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
        moved = prims.transpose_p(stacked, axes=(1, 0) + tuple(range(2, ndim)))
        result = prims.reshape_p(moved, shape=target_shape + source_rest)
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
        self._release_leases()

    def _release_leases(self, every: bool = True) -> None:
        leased = self._leased
        if leased:
            self._leased = {}
            release(leased.values(), self)
        if every and self._leases_all:
            self._leases_all = False
            release_all(self)

    def _backward(
        self, targets: list[Any], seeds: list[Any], sources: list[Any], unconnected: str
    ) -> list[Any]:
        if unconnected not in ("none", "zero"):
            raise ValueError(f"unconnected_gradients must be 'none' or 'zero', got {unconnected!r}")
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
                grads = backward(self._entries, targets, seeds, watched, bool(others), unconnected)
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


def stack_new_axis(rows: list[Any]) -> Any:
    """Stack arrays or Tensors of one shape along a new first axis, through primitives
    (differentiable when the rows are recorded Tensors).

    Examples:
        >>> import numpy as np
        >>> stack_new_axis([np.ones(2), np.zeros(2)]).tolist()
        [[1.0, 1.0], [0.0, 0.0]]
    """
    flat = [prims.reshape_p(r, shape=(1,) + tuple(shape_of(r))) for r in rows]
    return prims.concatenate_p(*flat, axis=0) if len(flat) > 1 else flat[0]


def _stack(rows: list[Any], shape: tuple[int, ...], dtype: Any) -> Any:
    """Stack gradient rows into one Tensor of ``shape`` (differentiable in tensor mode)."""
    if not rows:
        return Tensor._wrap(np.zeros(shape, dtype=dtype))
    out = prims.reshape_p(stack_new_axis(rows), shape=shape)
    return out if isinstance(out, Tensor) else Tensor._wrap(out)

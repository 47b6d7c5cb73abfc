"""The primitive table: one record per basic op, and `bind`, the one place ops execute.

A `Primitive` holds an op's array implementation and its derivative rules:

* ``vjp_rules[i](g, ans, *args, **params)`` returns the cotangent for argument ``i``
  given the output cotangent ``g`` (reverse mode);
* ``jvp_rules[i](t, ans, *args, **params)`` returns the output tangent contributed by
  the tangent ``t`` of argument ``i`` (forward mode).

Rules are written with tapegrad ops, so they run on plain arrays (fast first-order path)
or on Tensors (recorded by outer tapes: derivatives of any order).

Elementwise primitives declare ``elementwise=True``: their rules see cotangents and
tangents in the broadcast output shape and the engine reduces them to each argument's
shape (see `broadcast.unbroadcast`), so no rule deals with broadcasting.

The recorder stack and anomaly mode are per *context* (`contextvars`): each thread starts
with an empty stack, and each asyncio task works on a copy of its creator's, so a tape sees
only the ops of its own thread or task (docs/threads.md).
"""

from __future__ import annotations

import contextvars
import functools
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad.core.tensor import Tensor
from tapegrad.core.variable import note_views

Rule = Callable[..., Any]
_new = object.__new__
_wrap = Tensor._wrap

#: Every primitive by name: graph tracing, saving and coverage reports read this table.
PRIMITIVES: dict[str, Primitive] = {}

# The recorders (tapes, forward accumulators, tracers) that observe op execution in this
# thread or asyncio task, outermost first. Replaced wholesale (never mutated) so a paused
# slice is cheap; a thread that dies takes its stack with it.
_RECORDERS: contextvars.ContextVar[tuple[Any, ...]] = contextvars.ContextVar(
    "tapegrad_recorders", default=()
)
_get_recorders = _RECORDERS.get

# Anomaly detection (tapegrad.debug.detect_anomaly) checks every result for NaN/inf: its
# depth is per context too. `_anomaly_blocks` counts the blocks open in any thread, so the
# ops of every other thread (and all ops when none is open) skip the context lookup.
_ANOMALY: contextvars.ContextVar[int] = contextvars.ContextVar("tapegrad_anomaly", default=0)
_anomaly_blocks = 0
_anomaly_lock = threading.Lock()


class Primitive:
    """A basic op: implementation plus derivative rules, declared once.

    Args:
        name: Unique name, used in error messages, graph listings and saved models.
        impl: Function on plain arrays (NumPy) returning an array (or a tuple of arrays
            when ``multiple_results``).
        elementwise: The op broadcasts its array arguments elementwise.
        multiple_results: ``impl`` returns a tuple of arrays.
        differentiable: ``False`` for ops whose outputs carry no gradient (comparisons,
            ``argmax``, ``floor``): they are never recorded and their result gets ``None``.
        returns, reduce_ufunc, view_method, scatter_index: Facts about the impl that the
            code generator reads (see the attributes of the same names); ``returns`` also
            sets ``may_alias``, which tells Variables about views of their arrays.
        symbolic_zeros: With ``multiple_results``: the VJP rules take ``None`` as the
            cotangent of an output nothing used (JAX's symbolic zeros), so the backward
            walk allocates no zeros for it (see the attribute of the same name).

    Examples:
        >>> import numpy as np
        >>> cube = Primitive("cube_example", lambda x: x**3)
        >>> cube.defvjp(lambda g, ans, x: g * 3 * x**2)
        >>> cube(np.array(2.0))
        np.float64(8.0)
    """

    __slots__ = (
        "name",
        "impl",
        "vjp_rules",
        "jvp_rules",
        "elementwise",
        "multiple_results",
        "differentiable",
        "zero_mask_rule",
        "zero_preserving",
        "vjp_accumulate",
        "variadic",
        "stateful",
        "ufunc",
        "kernels",
        "paired_with",
        "_returns",
        "may_alias",
        "reduce_ufunc",
        "view_method",
        "scatter_index",
        "ufunc_steps",
        "c_order",
        "symbolic_zeros",
        "vjp_joint",
    )

    def __init__(
        self,
        name: str,
        impl: Callable[..., Any],
        *,
        elementwise: bool = False,
        multiple_results: bool = False,
        differentiable: bool = True,
        variadic: bool = False,
        register: bool = True,
        returns: str | None = None,
        reduce_ufunc: Any = None,
        view_method: tuple[str, str] | None = None,
        scatter_index: str | None = None,
        symbolic_zeros: bool = False,
    ) -> None:
        self.name = name
        self.impl = impl
        self.vjp_rules: tuple[Rule | None, ...] = ()
        self.jvp_rules: tuple[Rule | None, ...] = ()
        self.elementwise = elementwise
        self.multiple_results = multiple_results
        self.differentiable = differentiable
        # Variadic ops (concatenate, einsum) have one rule taking the argnum first.
        self.variadic = variadic
        # zero_mask_rule(argnum, ans, *args, **params) -> bool array or None: positions of
        # the output whose cotangent reaches argument `argnum` as an exact (structural)
        # zero. `where` declares it so masked branches never turn 0 * inf into NaN.
        self.zero_mask_rule: Rule | None = None
        # The VJP maps an exact zero cotangent to exact zeros whatever the inputs (linear
        # with constant coefficients): masked zeros need no repair after it.
        self.zero_preserving = False
        # vjp_accumulate(buffer, g, ans, *args, **params): add argument 0's cotangent into
        # an array the backward walk owns, in place (scatter-style VJPs such as getitem:
        # many slices of one tensor then cost their own size, not the tensor's each).
        self.vjp_accumulate: Rule | None = None
        # Each call gives a new result for the same inputs (random numbers): graph passes
        # never fold, merge or hoist it.
        self.stateful = False
        # The NumPy ufunc that computes `impl` exactly, when there is one: generated code
        # calls it with ``out=`` into a reused buffer.
        self.ufunc: Any = None
        # ``(applies, fn)`` pairs of the enabled engines' kernels, highest priority first:
        # written by the kernel registry (`tapegrad.kernels`), read by `select_kernel`.
        self.kernels: tuple[tuple[Rule | None, Rule], ...] = ()
        # ``(partner, both)``: where a graph computes this op and ``partner`` on the same
        # inputs (a loss and its derivative), the primitive ``both`` returns the two results
        # of one shared computation; generated code calls it instead.
        self.paired_with: tuple[Primitive, Primitive] | None = None
        # Facts the code generator plans buffers with (declared by every primitive of the
        # table; None: undeclared, read as "unknown"). What the impl returns:
        # "input": argument 0 itself (identity); "view": may be a view of an input,
        # C-ordered when its inputs are;
        # "fresh_like_inputs": a new array, laid out as NumPy lays out a ufunc's result
        # (C order for C-ordered inputs); "fresh": a new array of any layout;
        # "unknown": may be a view, of any layout.
        self.returns = returns  # (also sets `may_alias`)
        # The ufunc whose ``reduce(x, axis=axis, keepdims=keepdims)`` the impl is (sum: add):
        # generated code calls it with ``out=`` into a reused buffer.
        self.reduce_ufunc = reduce_ufunc
        # ``(method, param)``: the impl is ``x.method(params[param])`` on an array (reshape):
        # generated code calls the method without the impl's Python frame.
        self.view_method = view_method
        # The impl is zeros with argument 0 added at ``params[scatter_index]`` (index_add):
        # generated code writes ``x + op(g)`` as ``x[index] += g`` where that is exact.
        self.scatter_index = scatter_index
        # ``((ufunc, constant or None), ...)``: the impl of one argument is these ufunc calls
        # in order (``y = ufunc(y, constant)``, or ``ufunc(y)``), starting from ``y = x``
        # (relu: maximum with 0): generated code writes them into one buffer with ``out=``.
        self.ufunc_steps: tuple[tuple[Any, Any], ...] | None = None
        # ``c_order(inputs_c, input_shapes, out_shape, params) -> bool``: whether the result
        # is C-ordered, where `returns` says less (a transpose is a view, C-ordered only
        # for the identity permutation; a 2-D matmul is C-ordered whatever its inputs).
        self.c_order: Rule | None = None
        # A multiple-results op whose VJP rules take None for the cotangent of an output
        # nothing used: the walk passes None rather than a zeros array of that output's
        # size (auxiliary outputs, states nobody reads). Off: the rules get zeros.
        self.symbolic_zeros = symbolic_zeros
        # vjp_joint(argnums, g, ans, *args, **params) -> the cotangents of the arguments
        # ``argnums`` (in that order) from one computation, for a multiple-results op whose
        # rules would each redo the same work (the LSTM's BPTT): a first-order walk on
        # arrays calls it once where an entry needs several arguments' cotangents.
        self.vjp_joint: Rule | None = None
        if register:
            if name in PRIMITIVES:
                raise ValueError(f"a primitive named {name!r} is already registered")
            PRIMITIVES[name] = self

    @property
    def returns(self) -> str | None:
        """What the impl returns (see ``__init__``); None: undeclared ("unknown")."""
        return self._returns

    @returns.setter
    def returns(self, returns: str | None) -> None:
        self._returns = returns
        # The result may share memory with an input: a call with a Variable argument
        # tells the Variable (`note_views`), whose next update then allocates.
        self.may_alias = returns not in ("fresh", "fresh_like_inputs")

    def defvjp(self, *rules: Rule | None) -> None:
        """Set the VJP rule of each positional argument (``None``: not differentiable)."""
        self.vjp_rules = tuple(rules)

    def defjvp(self, *rules: Rule | None) -> None:
        """Set the JVP rule of each positional argument (``None``: not differentiable)."""
        self.jvp_rules = tuple(rules)

    def vjp_rule(self, argnum: int) -> Rule:
        """The VJP rule for argument ``argnum``, or a clear error if there is none."""
        rule = self._rule(self.vjp_rules, argnum)
        if rule is None:
            raise TypeError(
                f"primitive '{self.name}' is not differentiable with respect to "
                f"argument {argnum} (no VJP rule); wrap it in stop_gradient if that is intended"
            )
        return rule

    def jvp_rule(self, argnum: int) -> Rule | None:
        """The JVP rule for argument ``argnum``, or None if the op declares none."""
        return self._rule(self.jvp_rules, argnum)

    def _rule(self, rules: tuple[Rule | None, ...], argnum: int) -> Rule | None:
        if self.variadic:
            first = rules[0] if rules else None
            return functools.partial(first, argnum) if first is not None else None
        return rules[argnum] if argnum < len(rules) else None

    def __call__(self, *args: Any, **params: Any) -> Any:
        """Execute the op: unwrap Tensors, run impl, wrap the result, notify recorders.

        With no Tensor among the arguments this is a plain call of the implementation:
        derivative rules running on arrays pay nothing for the framework. (This is the
        hottest function of the engine, hence the inlined loops.)
        """
        n_args = len(args)
        if n_args == 1:
            first = args[0]
            values = [first._value] if isinstance(first, Tensor) else None
        elif n_args == 2:
            first, second = args
            first_is = isinstance(first, Tensor)
            second_is = isinstance(second, Tensor)
            if first_is or second_is:
                values = [
                    first._value if first_is else first,
                    second._value if second_is else second,
                ]
            else:
                values = None
        else:
            values = None
            i = 0
            for arg in args:
                if isinstance(arg, Tensor):
                    if values is None:
                        values = list(args)
                    values[i] = arg._value
                i += 1
        if values is None:
            if self.kernels:  # (select_kernel inlined, as below)
                fn = self.impl
                for applies, kernel in self.kernels:
                    if applies is None or applies(*args, **params):
                        fn = kernel
                        break
                result = fn(*args, **params)
            else:
                result = self.impl(*args, **params)
            if _anomaly_blocks and _ANOMALY.get():
                _check_finite(self, result, "forward")
            return result
        try:
            if self.kernels:
                fn = self.impl
                for applies, kernel in self.kernels:
                    if applies is None or applies(*values, **params):
                        fn = kernel
                        break
                raw = fn(*values, **params)
            else:
                raw = self.impl(*values, **params)
        except ValueError as err:
            raise _shape_error(self, values, err) from err
        if _anomaly_blocks and _ANOMALY.get():
            _check_finite(self, raw, "forward")
        if self.may_alias:  # (a view of a Variable's array must keep its value)
            note_views(raw, args)
        if self.multiple_results:
            result = tuple(_wrap(r) for r in raw)
        else:
            result = _new(Tensor)
            result._value = raw
        recorders = _get_recorders()  # (the one context lookup of a call)
        if recorders:
            if self.differentiable:
                for recorder in recorders:
                    recorder.record(self, args, values, params, result)
            else:
                # Comparisons, floor, stop_gradient: no gradient, so tapes skip them, but a
                # graph tracer must see them (a traced `relu` needs its `x > 0`).
                for recorder in recorders:
                    if getattr(recorder, "records_nondifferentiable", False):
                        recorder.record(self, args, values, params, result)
        return result

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


def select_kernel(prim: Primitive, args: Any, params: dict[str, Any]) -> Rule:
    """The first of ``prim.kernels`` that applies to these arrays, else ``prim.impl``.

    Kernels are registered by `tapegrad.kernels` (the registry fills ``prim.kernels``);
    ``args`` are plain arrays (Tensors unwrapped).
    """
    for applies, fn in prim.kernels:
        if applies is None or applies(*args, **params):
            return fn
    return prim.impl


def bind(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    """Execute ``prim`` on ``args`` with ``params`` (same as calling the primitive)."""
    return prim(*args, **params)


def _shape_error(prim: Primitive, values: list[Any], err: Exception) -> Exception:
    """Re-raise an implementation's ValueError naming the op and its argument shapes."""
    shapes = ", ".join(str(getattr(v, "shape", type(v).__name__)) for v in values)
    # numpy.linalg.LinAlgError (a ValueError) keeps its type: callers catch it by name.
    kind = type(err) if isinstance(err, np.linalg.LinAlgError) else ValueError
    message = str(err)
    if not message.startswith(f"{prim.name}: "):  # (impls that check shapes name the op)
        message = f"{prim.name}: {message}"
    return kind(f"{message} (argument shapes: {shapes})")


def set_recorders(recorders: tuple[Any, ...]) -> tuple[Any, ...]:
    """Replace the recorder stack of this thread (or asyncio task); returns the previous
    one for restoring.

    A recorder has ``record(prim, args, values, params, result)`` (called after every
    differentiable op that has a Tensor argument) and ``tracks(tensor)``; one whose
    ``records_nondifferentiable`` attribute is true also sees the ops without gradients
    (comparisons, ``stop_gradient``): graph tracing needs them, tapes do not.

    Examples:
        >>> previous = set_recorders(())
        >>> active_recorders()
        ()
        >>> set_recorders(previous)
        ()
    """
    previous = _get_recorders()
    _RECORDERS.set(recorders)
    return previous


def active_recorders() -> tuple[Any, ...]:
    """The recorders observing this thread's (or asyncio task's) ops now, outermost first.

    Examples:
        >>> import tapegrad as tg
        >>> with tg.GradientTape() as tape:
        ...     active_recorders() == (tape,)
        True
        >>> active_recorders()
        ()
    """
    return _get_recorders()


def symbolic_recorder() -> Any:
    """The graph tracer among the active recorders (`tapegrad.function` marks its recorder
    ``symbolic``), or None: rules that would pick a formula from values ask it first."""
    for recorder in _get_recorders():
        if getattr(recorder, "symbolic", False):
            return recorder
    return None


def push_anomaly(delta: int) -> None:
    """Enter (+1) or leave (-1) anomaly detection in this thread (or asyncio task)."""
    global _anomaly_blocks
    with _anomaly_lock:  # (``+=`` on a global is not atomic across threads)
        _anomaly_blocks += delta
    _ANOMALY.set(_ANOMALY.get() + delta)


def anomaly_enabled() -> bool:
    """Whether `tapegrad.debug.detect_anomaly` is active in this thread (or asyncio task).

    Examples:
        >>> import tapegrad as tg
        >>> with tg.debug.detect_anomaly():
        ...     anomaly_enabled()
        True
        >>> anomaly_enabled()
        False
    """
    return bool(_anomaly_blocks) and _ANOMALY.get() > 0


# Programs shipped inside the package (the demo's model and its Lambdas): their lines
# are the user's code of that program, so they are named rather than skipped.
_APPLICATION_MODULES = frozenset({"tapegrad.cli"})


def user_source_line() -> str:
    """The innermost stack frame outside tapegrad, as ``file:line in function``."""
    frame: Any = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        engine = module == "tapegrad" or module.startswith("tapegrad.")
        if not engine or module in _APPLICATION_MODULES:
            code = frame.f_code
            return f"{code.co_filename}:{frame.f_lineno} in {code.co_name}"
        frame = frame.f_back
    return "<unknown>"


def _check_finite(prim: Primitive, result: Any, phase: str) -> None:
    import numpy as np

    parts = result if isinstance(result, tuple) else (result,)
    for part in parts:
        value = part._value if isinstance(part, Tensor) else part
        arr = np.asarray(value)
        if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
            bad = "NaN" if np.isnan(arr).any() else "inf"
            raise FloatingPointError(
                f"detect_anomaly: {phase} of op '{prim.name}' produced {bad}, "
                f"at {user_source_line()}"
            )

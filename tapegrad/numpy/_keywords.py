"""NumPy's keywords that a tapegrad.numpy function does not take itself: each one served
here, or refused with an error naming it.

NumPy's functions share keywords about where results go (``out``, ``where``), how inputs
convert (``dtype``, ``casting``), memory (``order``, ``subok``, ``copy``, ``device``,
``like``) and a few conveniences (``initial``, ``correction``, ``include_initial``,
``ndmin``, ``shape``). tapegrad's functions take the arguments they compute with; the
namespace's wrapper (`tapegrad.symbolic.symbolic_aware`) hands a call to `keyword_handler`'s
handler only when it names one of these, so plain calls pay one ``if``.

* ``out`` is refused (a Tensor is immutable: nothing is written; use the result), unless
  ``None``. ``where`` masks reductions (``sum(a, where=m)``); on ufuncs it is refused,
  since without ``out`` NumPy leaves the masked elements uninitialized.
* ``dtype`` converts the array inputs first (checked against ``casting``, NumPy's rule),
  so gradients come back in the inputs' own dtypes.
* ``order``, ``subok``, ``copy`` and ``device="cpu"`` are accepted and change nothing:
  Tensors are immutable values with no memory layout or subclass to choose.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> tnp.sin(tg.tensor([0.5]), dtype="float64").dtype
    dtype('float64')
    >>> tnp.sum(tg.tensor([1.0, 2.0, 3.0]), where=np.array([True, False, True]), initial=10.0)
    Tensor(14., dtype=float32)
    >>> tnp.exp(tg.tensor([1.0]), out=np.empty(1))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: tapegrad.numpy.exp: out= is not supported: a Tensor is immutable, so no ...
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor
from tapegrad.numpy._arguments import dtype_of, ndim_of, one_axis, shape_of

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
_CASTINGS = ("no", "equiv", "safe", "same_kind", "unsafe")
_ORDERS = (None, "K", "A", "C", "F")
# Reductions whose where= masks the input with the reduction's identity (max/min: initial).
_IDENTITY: dict[str, float | None] = {
    "sum": 0.0,
    "nansum": 0.0,
    "prod": 1.0,
    "nanprod": 1.0,
    "any": False,
    "all": True,
    "max": None,
    "amax": None,
    "min": None,
    "amin": None,
    "nanmax": None,
    "nanmin": None,
}
_COMBINE = {"sum": "add", "nansum": "add", "prod": "multiply", "nanprod": "multiply"}
_COMBINE |= {n: "maximum" for n in ("max", "amax", "nanmax")}
_COMBINE |= {n: "minimum" for n in ("min", "amin", "nanmin")}


class Call:
    """One call being rewritten: arguments in, result transforms out."""

    def __init__(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.name = name
        self.args = list(args)
        self.kwargs = kwargs
        self.after: list[Callable[[Any], Any]] = []
        self.casting = "same_kind"
        self.where: Any = True
        self.initial: Any = None

    def refuse(self, keyword: str, why: str) -> TypeError:
        return TypeError(f"tapegrad.numpy.{self.name}: {keyword}= is not supported: {why}")


Rule = Callable[[Call, Any], None]


def _out(call: Call, value: Any) -> None:
    if value is None or (isinstance(value, tuple) and all(v is None for v in value)):
        return
    raise call.refuse(
        "out", "a Tensor is immutable, so no array is written; use the returned value"
    )


def _ufunc_where(call: Call, value: Any) -> None:
    if value is True:
        return
    raise call.refuse(
        "where",
        "without out= NumPy leaves the masked-out elements uninitialized; write "
        f"tnp.where(mask, tnp.{call.name}(...), fallback)",
    )


def _other_where(call: Call, value: Any) -> None:
    if value is not True and value is not inspect.Parameter.empty:
        raise call.refuse("where", "select the elements with tnp.where or indexing first")


def _clip_bound(keyword: str) -> Rule:
    """NumPy 2's ``min``/``max`` of ``clip``: its ``a_min``/``a_max``."""

    def rule(call: Call, value: Any) -> None:
        if value is not inspect.Parameter.empty:
            call.kwargs[f"a_{keyword}"] = value

    return rule


def _reduction_where(call: Call, value: Any) -> None:
    call.where = value


def _initial(call: Call, value: Any) -> None:
    call.initial = value


def _casting(call: Call, value: Any) -> None:
    if value not in _CASTINGS:
        raise ValueError(
            f"tapegrad.numpy.{call.name}: casting= must be one of {list(_CASTINGS)}, got {value!r}"
        )
    call.casting = value


def _cast(call: Call, x: Any, dtype: np.dtype) -> Any:
    if isinstance(x, list | tuple) and x and not isinstance(x[0], int | float | complex | bool):
        return type(x)(_cast(call, item, dtype) for item in x)
    if not isinstance(x, Tensor | np.ndarray | list | tuple):
        return x
    source = dtype_of(x)
    if source == dtype:
        return x
    if not np.can_cast(source, dtype, call.casting):
        raise TypeError(
            f"tapegrad.numpy.{call.name}: cannot cast input from {source} to {dtype} with "
            f"casting rule {call.casting!r} (dtype=, casting=)"
        )
    return P.cast_p(x, dtype=dtype)


def _dtype(call: Call, value: Any) -> None:
    if value is None:
        return
    dtype = np.dtype(value)
    call.args = [_cast(call, a, dtype) for a in call.args]


def _accept(values: tuple[Any, ...] | None = None) -> Rule:
    """A keyword that changes nothing for Tensors (memory, subclasses): checked, then
    dropped."""

    def rule(call: Call, value: Any) -> None:
        if values is not None and value not in values:
            keyword = rule.__name__
            raise ValueError(f"tapegrad.numpy.{call.name}: {keyword}= must be one of {values}")

    return rule


def _refuse_unless(default: Any, why: str) -> Callable[[str], Rule]:
    def make(keyword: str) -> Rule:
        def rule(call: Call, value: Any) -> None:
            if value is default or (default is not None and value == default):
                return
            raise call.refuse(keyword, why)

        return rule

    return make


def _device(call: Call, value: Any) -> None:
    if value not in (None, "cpu"):
        raise call.refuse("device", f"tapegrad computes on the CPU (device={value!r})")


def _correction(call: Call, value: Any) -> None:
    if call.kwargs.get("ddof", 0) != 0:
        raise ValueError(f"tapegrad.numpy.{call.name}: ddof and correction can't both be given")
    call.kwargs["ddof"] = value


def _ndmin(call: Call, value: int) -> None:
    def expand(result: Any) -> Any:
        missing = int(value) - ndim_of(result)
        if missing <= 0:
            return result
        return P.reshape_p(result, shape=(1,) * missing + shape_of(result))

    call.after.append(expand)


def _shape(call: Call, value: Any) -> None:
    if value is None:
        return
    shape = (int(value),) if isinstance(value, int | np.integer) else tuple(value)
    # The template of a *_like call: same dtype, the new shape (values are never read).
    call.args[0] = np.zeros(shape, dtype_of(call.args[0]))


def _include_initial(call: Call, value: bool) -> None:
    if not value:
        return
    identity = 0 if call.name == "cumulative_sum" else 1

    def prepend(result: Any) -> Any:
        axis = call.kwargs.get("axis")
        axis = 0 if axis is None else one_axis(axis, ndim_of(result))
        shape = list(shape_of(result))
        shape[axis] = 1
        first = np.full(shape, identity, dtype_of(result))
        return P.concatenate_p(first, result, axis=axis)

    call.after.append(prepend)


def _sort_order(call: Call, value: Any) -> None:
    if value is not None:
        raise call.refuse("order", "fields of a structured dtype; Tensors hold numbers")


_NOT_LIKE = _refuse_unless(None, "NumPy's dispatch to another array type; tapegrad makes Tensors")
_NOT_SIGNATURE = _refuse_unless(None, "choosing NumPy's inner loop; dtype= sets the precision")

# Keyword -> rule, for any function that does not take the keyword itself.
RULES: dict[str, Rule] = {
    "out": _out,
    "casting": _casting,
    "dtype": _dtype,
    "initial": _initial,
    "device": _device,
    "like": _NOT_LIKE("like"),
    "signature": _NOT_SIGNATURE("signature"),
    "order": _accept(_ORDERS),
    "subok": _accept(),
    "copy": _accept(),
    "stable": _accept(),  # (stability never changes the sorted values)
    "optimize": _accept(),  # (a contraction order: same result)
    "einsum_call": _accept((False,)),
    "ndmin": _ndmin,
    "ndmax": _refuse_unless(0, "the depth of nested sequences is always read whole")("ndmax"),
    "shape": _shape,
    "correction": _correction,
    "include_initial": _include_initial,
    "mean": _refuse_unless(inspect.Parameter.empty, "pass the data; the mean is computed")("mean"),
    "kind": _accept(("introselect", None)),
    "axes": _refuse_unless(inspect.Parameter.empty, "move axes with tnp.moveaxis first")("axes"),
    "keepdims": _refuse_unless(False, "expand the result with tnp.expand_dims")("keepdims"),
}
# ``axis`` of gufuncs only (every other function takes ``axis`` itself).
_GUFUNC_AXIS = _refuse_unless(inspect.Parameter.empty, "move axes with tnp.moveaxis first")
for _keyword, _rule in RULES.items():
    _rule.__name__ = _keyword


def _rule(name: str, keyword: str, ufunc: bool) -> Rule | None:
    if keyword == "where":
        if name in _IDENTITY or name == "mean":
            return _reduction_where
        return _ufunc_where if ufunc else _other_where
    if name == "clip" and keyword in ("min", "max"):
        return _clip_bound(keyword)
    if keyword == "order" and name in ("sort", "partition"):
        return _sort_order
    if keyword == "axis" and ufunc:
        return _GUFUNC_AXIS("axis")
    return RULES.get(keyword)


def _named(fn: Any) -> set[str]:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return set()
    return {p.name for p in parameters if p.kind in _NAMED}


def _masked(call: Call, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` over the input with ``where``'s masked-out elements replaced by the
    reduction's identity (``initial`` for max/min), as NumPy reduces only where True."""
    fill = _IDENTITY.get(call.name, 0.0)
    if call.where is not True and fill is None:
        if call.initial is None:
            raise ValueError(
                f"tapegrad.numpy.{call.name}: where= needs initial= (the reduction has no "
                "identity), as in NumPy"
            )
        fill = call.initial
    a = call.args[0]
    if call.where is not True:
        mask = call.where._value if isinstance(call.where, Tensor) else np.asarray(call.where)
        call.args[0] = P.where_p(
            np.broadcast_to(mask, shape_of(a)), a, np.asarray(fill, dtype_of(a))
        )
    if call.name == "mean" and call.where is not True:
        # The mean of the kept elements: their sum over their count.
        kept = np.broadcast_to(mask, shape_of(a)).astype(dtype_of(a))
        axis, keepdims = call.kwargs.get("axis"), call.kwargs.get("keepdims", False)
        total = P.sum_p(call.args[0], axis=_axes(axis, ndim_of(a)), keepdims=bool(keepdims))
        return lambda *args, **kwargs: total / np.sum(kept, axis=axis, keepdims=bool(keepdims))
    if call.initial is not None:
        combine = getattr(P, f"{_COMBINE[call.name]}_p")
        return lambda *args, **kwargs: combine(fn(*args, **kwargs), call.initial)
    return fn


def _axes(axis: Any, ndim: int) -> tuple[int, ...] | None:
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    return tuple(one_axis(int(a), ndim) for a in axes)


def _signature(
    fn: Any, theirs: inspect.Signature, served: set[str], primitive: bool
) -> inspect.Signature:
    """``fn``'s own signature with the keywords served here added (keyword-only, NumPy's
    defaults); a primitive shows NumPy's parameters it serves."""
    if primitive:
        kept = [p for p in theirs.parameters.values() if p.kind not in _NAMED or p.name in served]
        return theirs.replace(parameters=kept)
    own = inspect.signature(fn)
    params = [p for p in own.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    extra = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in theirs.parameters.values()
        if p.name in served
    ]
    var_keyword = [p for p in own.parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD]
    return own.replace(parameters=params + extra + var_keyword)


def keyword_handler(name: str, fn: Any, numpy_module: Any = np) -> Callable[..., Any] | None:
    """The handler of NumPy's keywords that ``fn`` (tapegrad.numpy's ``name``) lacks.

    Args:
        name: The public name (NumPy's function of that name gives the keywords).
        fn: tapegrad's function or primitive.
        numpy_module: Where NumPy's function is (``numpy`` or ``numpy.linalg``).

    Returns:
        None when ``fn`` takes every keyword NumPy's function takes; else a function with
        NumPy's full signature (``__signature__``) that serves or refuses the others and
        calls ``fn``. Its ``handled`` attribute is the set of those keywords.
    """
    theirs = getattr(numpy_module, name, None)
    if theirs is None:
        return None
    try:
        signature = inspect.signature(theirs)
    except (TypeError, ValueError):
        return None
    ufunc = isinstance(theirs, np.ufunc)
    primitive = isinstance(fn, P.Primitive)
    own = _named(fn) if not primitive else set()
    positional = [p.name for p in signature.parameters.values() if p.kind in _POSITIONAL]
    rules: dict[str, Rule] = {}
    moved: dict[str, int] = {}
    for param in signature.parameters.values():
        if param.name in own or param.kind not in _NAMED:
            continue
        rule = _rule(name, param.name, ufunc)
        if param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and rule is None:
            if primitive:  # (a primitive takes its arrays by position only)
                moved[param.name] = positional.index(param.name)
            continue
        if rule is not None:
            rules[param.name] = rule
    if not rules and not moved:
        return None
    order = sorted(rules, key=lambda k: k != "casting")  # (casting before dtype)

    def handle(*args: Any, **kwargs: Any) -> Any:
        for keyword, index in moved.items():
            if keyword in kwargs and len(args) == index:
                args = (*args, kwargs.pop(keyword))
        call = Call(name, args, kwargs)
        for keyword in order:
            if keyword in kwargs:
                rules[keyword](call, kwargs.pop(keyword))
        target = fn
        if call.where is not True or call.initial is not None:
            target = _masked(call, fn)
        result = target(*call.args, **call.kwargs)
        for transform in call.after:
            out = transform(result)
            result = result if out is None else out
        return result

    handle.__signature__ = _signature(fn, signature, set(rules) | set(moved), primitive)  # type: ignore[attr-defined]
    handle.handled = frozenset(rules) | frozenset(moved)  # type: ignore[attr-defined]
    return handle

"""Keras's argument names for the NumPy-named ops whose NumPy names differ.

Keras calls the first argument of ``ops.mean`` ``x`` where NumPy says ``a``, ``ops.clip``'s
bounds ``x_min``/``x_max``, ``ops.where``'s branches ``x1``/``x2``... Positional calls are
the same; `keras_named` makes the Keras keywords work too (and shows Keras's names in the
signature) by renaming them to the NumPy function's parameters before the call. Only true
renames are listed (a Keras name NumPy does not use, for a NumPy name Keras does not use).

Examples:
    >>> import tapegrad as tg
    >>> float(tg.ops.mean(x=tg.tensor([1.0, 3.0])))
    2.0
    >>> tg.ops.clip(tg.tensor([-1.0, 5.0]), x_min=0.0, x_max=1.0).numpy()
    array([0., 1.], dtype=float32)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["KERAS_ARGUMENT_NAMES", "apply_keras_names", "keras_named", "rename_arguments"]

# (Keras name -> NumPy name, the ops using those names), read from Keras 3.15's signatures.
_GROUPS: tuple[tuple[dict[str, str], tuple[str, ...]], ...] = (
    # Keras x for NumPy's a
    (
        {"x": "a"},
        (
            "all",
            "amax",
            "amin",
            "any",
            "argmax",
            "argmin",
            "argpartition",
            "argsort",
            "average",
            "copy",
            "count_nonzero",
            "cumprod",
            "cumsum",
            "diagonal",
            "empty_like",
            "expand_dims",
            "full_like",
            "histogram",
            "logsumexp",
            "max",
            "mean",
            "median",
            "min",
            "moveaxis",
            "nanargmax",
            "nanargmin",
            "nancumprod",
            "nancumsum",
            "nanmax",
            "nanmean",
            "nanmedian",
            "nanmin",
            "nanpercentile",
            "nanprod",
            "nanquantile",
            "nanstd",
            "nansum",
            "nanvar",
            "ndim",
            "nonzero",
            "ones_like",
            "percentile",
            "ptp",
            "quantile",
            "ravel",
            "repeat",
            "reshape",
            "roll",
            "round",
            "shape",
            "size",
            "sort",
            "squeeze",
            "std",
            "sum",
            "swapaxes",
            "take",
            "trace",
            "transpose",
            "var",
            "zeros_like",
        ),
    ),
    # Keras x1, x2 for NumPy's a, b
    (
        {"x1": "a", "x2": "b"},
        (
            "allclose",
            "cross",
            "dot",
            "inner",
            "isclose",
            "kron",
            "outer",
            "tensordot",
            "vdot",
        ),
    ),
    # Keras x for NumPy's ary
    (
        {"x": "ary"},
        (
            "array_split",
            "dsplit",
            "hsplit",
            "split",
            "vsplit",
        ),
    ),
    # Keras x for NumPy's m
    (
        {"x": "m"},
        (
            "flip",
            "fliplr",
            "flipud",
            "tril",
            "triu",
        ),
    ),
    # Keras x, y for NumPy's x1, x2
    (
        {"x": "x1", "y": "x2"},
        (
            "bitwise_left_shift",
            "bitwise_right_shift",
            "left_shift",
            "right_shift",
        ),
    ),
    # Keras x1, x2 for NumPy's x, y
    (
        {"x1": "x", "x2": "y"},
        (
            "hypot",
            "logaddexp",
            "logaddexp2",
            "where",
        ),
    ),
    # Keras xs for NumPy's tup
    (
        {"xs": "tup"},
        (
            "dstack",
            "hstack",
            "vstack",
        ),
    ),
    # Keras x for NumPy's array
    (
        {"x": "array"},
        (
            "broadcast_to",
            "pad",
        ),
    ),
    # Keras x for NumPy's v
    (
        {"x": "v"},
        (
            "diag",
            "diagflat",
        ),
    ),
    # Keras x for NumPy's z
    ({"x": "z"}, ("angle",)),
    # Keras x1, x2 for NumPy's arr, values
    ({"x1": "arr", "x2": "values"}, ("append",)),
    # Keras x for NumPy's object
    ({"x": "object"}, ("array",)),
    # Keras x, x_min, x_max for NumPy's a, a_min, a_max
    ({"x": "a", "x_min": "a_min", "x_max": "a_max"}, ("clip",)),
    # Keras xs for NumPy's arrays
    ({"xs": "arrays"}, ("concatenate",)),
    # Keras x1, x2 for NumPy's a, v
    ({"x1": "a", "x2": "v"}, ("correlate",)),
    # Keras x for NumPy's val
    ({"x": "val"}, ("imag",)),
    # Keras x1, x2 for NumPy's element, test_elements
    ({"x1": "element", "x2": "test_elements"}, ("isin",)),
    # Keras array for NumPy's m
    ({"array": "m"}, ("rot90",)),
    # Keras sorted_sequence, values for NumPy's a, v
    ({"sorted_sequence": "a", "values": "v"}, ("searchsorted",)),
    # Keras x for NumPy's arrays
    ({"x": "arrays"}, ("stack",)),
    # Keras x, repeats for NumPy's A, reps
    ({"x": "A", "repeats": "reps"}, ("tile",)),
)

#: Op name -> {Keras argument name: tapegrad.numpy argument name}.
KERAS_ARGUMENT_NAMES: dict[str, dict[str, str]] = {
    name: renames for renames, names in _GROUPS for name in names
}


def keras_named(fn: Callable[..., Any], renames: dict[str, str]) -> Callable[..., Any]:
    """``fn`` accepting Keras's keyword names ``renames`` (Keras name -> ``fn``'s name).

    Args:
        fn: A `tapegrad.numpy` function.
        renames: Keras argument name -> the name of the same parameter of ``fn``.

    Returns:
        A function that renames those keywords, then calls ``fn``; its signature shows
        Keras's names.

    Examples:
        >>> import tapegrad.numpy as tnp
        >>> total = keras_named(tnp.sum, {"x": "a"})
        >>> float(total(x=[1.0, 2.0]))
        3.0
    """
    signature = inspect.signature(fn)
    parameters = list(signature.parameters.values())
    position = {p.name: i for i, p in enumerate(parameters)}
    positional_only = {
        keras: position[name]
        for keras, name in renames.items()
        if parameters[position[name]].kind is inspect.Parameter.POSITIONAL_ONLY
    }

    @functools.wraps(fn)
    def op(*args: Any, **kwargs: Any) -> Any:
        if kwargs:
            args, kwargs = rename_arguments(fn, renames, positional_only, args, kwargs)
        return fn(*args, **kwargs)

    keras_names = {name: keras for keras, name in renames.items()}
    op.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p.replace(name=keras_names.get(p.name, p.name)) for p in parameters]
    )
    return op


def rename_arguments(
    fn: Callable[..., Any],
    renames: dict[str, str],
    positional_only: dict[str, int],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Keras keywords in ``kwargs`` moved to ``fn``'s names (or positions).

    Examples:
        >>> rename_arguments(len, {"x": "obj"}, {"x": 0}, (), {"x": [1, 2]})
        (([1, 2],), {})
    """
    for keras, name in renames.items():
        if keras not in kwargs:
            continue
        value = kwargs.pop(keras)
        if keras in positional_only:
            if len(args) != positional_only[keras]:
                raise TypeError(
                    f"{getattr(fn, '__name__', fn)}: argument {keras!r} given by name and "
                    "by position"
                )
            args = (*args, value)
        elif name in kwargs:
            raise TypeError(f"{getattr(fn, '__name__', fn)}: got both {keras!r} and {name!r}")
        else:
            kwargs[name] = value
    return args, kwargs


def apply_keras_names(namespace: dict[str, Any]) -> None:
    """Replace the ops of a module's globals listed in `KERAS_ARGUMENT_NAMES` by their
    `keras_named` versions (done once, where ``tapegrad.ops`` is assembled).

    Examples:
        >>> import tapegrad.numpy as tnp
        >>> space = {"mean": tnp.mean}
        >>> apply_keras_names(space)
        >>> list(__import__("inspect").signature(space["mean"]).parameters)[0]
        'x'
    """
    for name, renames in KERAS_ARGUMENT_NAMES.items():
        if name in namespace:
            namespace[name] = keras_named(namespace[name], renames)

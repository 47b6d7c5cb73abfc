"""Symbolic dispatch: public ops called on symbolic tensors record a graph node.

Keras 3's functional API lets ``ops.mean(x, axis=1)`` or ``x + inputs`` run on the
symbolic tensors made by ``Input``: the call becomes a node of the model's graph. Here the
public functions of `tapegrad.numpy` and `tapegrad.ops` are wrapped once, where their
namespace is built (`wrap_namespace`). The wrapper runs the function as usual; only when
it fails does it look for a symbolic argument: an object whose type defines
``__tapegrad_symbolic_call__(op, args, kwargs)`` (as NumPy's ``__array_function__``, a
protocol, so this layer never imports the layers above it). Symbolic tensors make every
NumPy use of themselves fail, so a call on them always ends in the protocol, and a call
on data pays one Python frame (``try`` costs nothing until something raises).

Each wrapped function knows its public name (``tapegrad.numpy.mean``); `lookup_op`
resolves such a name back to the function, and only names of wrapped functions resolve:
a saved model names its ops and loading looks them up in this fixed registry, never
importing or executing anything a file names.

Examples:
    >>> import tapegrad.numpy as tnp
    >>> from tapegrad.symbolic import lookup_op
    >>> tnp.mean.__tapegrad_op__
    'tapegrad.numpy.mean'
    >>> lookup_op("tapegrad.numpy.mean") is tnp.mean
    True
"""

from __future__ import annotations

import functools
import importlib
import operator
from collections.abc import Callable
from typing import Any

from tapegrad.core import Primitive

# The Python operators a symbolic tensor supports, by the name their nodes are saved under.
# (The operator functions, run on Tensors, are exactly the eager operators' semantics.)
OPERATORS: dict[str, Callable[..., Any]] = {
    f"operator.{name}": getattr(operator, name)
    for name in (
        "add",
        "sub",
        "mul",
        "truediv",
        "floordiv",
        "mod",
        "pow",
        "matmul",
        "neg",
        "pos",
        "abs",
        "invert",
        "and_",
        "or_",
        "xor",
        "lt",
        "le",
        "gt",
        "ge",
        "eq",
        "ne",
        "getitem",
    )
}

# The namespaces whose wrapped functions `lookup_op` resolves (a name must start so).
_NAMESPACES = ("tapegrad.numpy", "tapegrad.ops")


def symbolic_handler(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The ``__tapegrad_symbolic_call__`` of the first symbolic argument, or None.

    Args:
        args: Positional arguments of an op call (lists, tuples and dicts are searched).
        kwargs: Keyword arguments of the call.

    Returns:
        The handler (a callable ``(op, args, kwargs)``), or None when no argument is
        symbolic.

    Examples:
        >>> symbolic_handler((1.0, [2.0]), {"axis": 0}) is None
        True
    """
    stack: list[Any] = [*args, *kwargs.values()]
    while stack:
        value = stack.pop()
        if isinstance(value, list | tuple):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        else:
            handler = getattr(type(value), "__tapegrad_symbolic_call__", None)
            if handler is not None:
                return handler
    return None


def symbolic_aware(
    fn: Callable[..., Any],
    public_name: str,
    prepare: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None,
    keywords: Callable[..., Any] | None = None,
) -> Callable[..., Any]:
    """``fn`` that records a graph node when called on symbolic tensors.

    Args:
        fn: A public op (a function of arrays and Tensors).
        public_name: Its public name, e.g. ``"tapegrad.numpy.mean"``.
        prepare: Rewrites the positional arguments when one of them is a list or tuple
            (NumPy's ``array_like``: `tapegrad.numpy` stacks lists holding Tensors).
        keywords: Called instead of ``fn`` when a call names one of its ``handled``
            keywords (NumPy's keywords ``fn`` lacks: `tapegrad.numpy._keywords`); its
            ``__signature__`` becomes the wrapper's.

    Returns:
        The wrapped function (``fn`` itself if it is already wrapped).

    Examples:
        >>> import numpy as np
        >>> double = symbolic_aware(lambda x: x * 2, "tapegrad.numpy.double_example")
        >>> double(np.array([1.0]))
        array([2.])
    """
    if hasattr(fn, "__tapegrad_op__"):
        return fn
    handled = frozenset(getattr(keywords, "handled", ()))

    @functools.wraps(fn)
    def op(*args: Any, **kwargs: Any) -> Any:
        try:
            if kwargs and keywords is not None and not handled.isdisjoint(kwargs):
                return keywords(*(args if prepare is None else prepare(args)), **kwargs)
            if prepare is not None:
                # (A class check per argument: the lists are rare, the calls many.)
                for arg in args:
                    if arg.__class__ is list or arg.__class__ is tuple:
                        return fn(*prepare(args), **kwargs)
            return fn(*args, **kwargs)
        except Exception:
            handler = symbolic_handler(args, kwargs)
            if handler is None:
                raise
        # (Outside the except block: an error of the symbolic call is not chained.)
        return handler(op, args, kwargs)

    if isinstance(fn, Primitive):
        # A primitive has no __name__; keep its record's facts reachable (``.name``, ...).
        op.__name__ = public_name.rsplit(".", 1)[-1]
        op.__doc__ = f"``{public_name}``: the primitive ``{fn.name}``."
    # Found again (and pickled by reference) where it is public: ``tapegrad.numpy.mean``.
    op.__module__, op.__qualname__ = public_name.rsplit(".", 1)
    op.__tapegrad_op__ = public_name  # type: ignore[attr-defined]
    op.__tapegrad_raw__ = fn  # type: ignore[attr-defined]
    if keywords is not None:
        op.__signature__ = keywords.__signature__  # type: ignore[attr-defined]
    return op


def wrap_namespace(
    namespace: dict[str, Any],
    prefix: str,
    prepare: Callable[[str, Any], Callable[[tuple[Any, ...]], tuple[Any, ...]] | None]
    | None = None,
    keywords: Callable[[str, Any], Callable[..., Any] | None] | None = None,
) -> None:
    """Wrap every public function of a namespace's globals with `symbolic_aware`.

    Only the names of the namespace's ``__all__`` when it has one (a module that defines
    ops and imports helpers exports the ops only).

    Args:
        namespace: A module's ``globals()`` (or ``vars(module)``).
        prefix: The module's public name (``"tapegrad.numpy"``).
        prepare: Given a name and its function, the argument rewriter its wrapper uses
            (`symbolic_aware`'s ``prepare``), or None.
        keywords: Given a name and its function, the handler of the keywords it lacks
            (`symbolic_aware`'s ``keywords``), or None.

    Examples:
        >>> import numpy as np
        >>> space = {"twice": lambda x: x * 2, "_hidden": len, "np": np}
        >>> wrap_namespace(space, "tapegrad.numpy.example")
        >>> space["twice"].__tapegrad_op__, hasattr(space["_hidden"], "__tapegrad_op__")
        ('tapegrad.numpy.example.twice', False)
    """
    exported = namespace.get("__all__")
    for name, value in list(namespace.items()):
        if exported is not None and name not in exported:
            continue
        if name.startswith("_") or not _is_plain_function(value):
            continue
        rewrite = None if prepare is None else prepare(name, value)
        handler = None if keywords is None else keywords(name, value)
        namespace[name] = symbolic_aware(value, f"{prefix}.{name}", rewrite, handler)


def _is_plain_function(value: Any) -> bool:
    # Python functions and primitives: classes, modules, dtypes and NumPy's objects stay.
    return isinstance(value, Primitive | functools.partial) or (
        callable(value) and type(value).__name__ == "function"
    )


def op_name(op: Callable[..., Any]) -> str:
    """The public name a symbolic node saves for ``op`` (a wrapped op or an operator).

    Args:
        op: A function wrapped by `symbolic_aware`, or one of `OPERATORS`.

    Returns:
        Its name, which `lookup_op` resolves back.

    Examples:
        >>> import operator
        >>> op_name(operator.add)
        'operator.add'
    """
    name = getattr(op, "__tapegrad_op__", None)
    if name is not None:
        return str(name)
    for key, value in OPERATORS.items():
        if value is op:
            return key
    raise ValueError(f"{op!r} is not a public tapegrad op (tapegrad.numpy / tapegrad.ops)")


def lookup_op(name: Any) -> Callable[..., Any]:
    """The op a saved node names: a wrapped public function or a Python operator.

    Only modules of tapegrad's own namespaces are looked in (already imported by
    tapegrad itself), and only functions marked by `symbolic_aware` are returned.

    Args:
        name: E.g. ``"tapegrad.numpy.mean"``, ``"tapegrad.ops.relu"``, ``"operator.add"``.

    Returns:
        The function.

    Raises:
        ValueError: ``name`` is not a public tapegrad op.

    Examples:
        >>> lookup_op("operator.getitem").__name__
        'getitem'
        >>> lookup_op("os.system")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: 'os.system' is not a public tapegrad op ...
    """
    if isinstance(name, str) and name in OPERATORS:
        return OPERATORS[name]
    found = None
    if isinstance(name, str) and name.startswith(tuple(f"{n}." for n in _NAMESPACES)):
        parts = name.split(".")
        if all(part.isidentifier() and not part.startswith("_") for part in parts):
            module_name = ".".join(parts[:2])
            found = importlib.import_module(module_name)
            for part in parts[2:]:
                found = getattr(found, part, None)
    if found is None or getattr(found, "__tapegrad_op__", None) is None:
        raise ValueError(
            f"{name!r} is not a public tapegrad op (tapegrad.numpy.*, tapegrad.ops.*, operator.*)"
        )
    return found  # type: ignore[no-any-return]

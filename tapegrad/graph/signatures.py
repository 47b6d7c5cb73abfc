"""What a graph node may pass a primitive: its inputs and params against the impl's signature.

A node is the call ``impl(*inputs, **params)``. A graph read from a file may hold any
node, so before anything runs it, `Graph.verify` and the loader check each node here:

* every param name is a Python identifier (not a keyword), whatever the impl;
* the number of inputs fits the impl's positional parameters (a ufunc takes exactly
  ``nin``; an impl with ``*args`` — a variadic primitive — any number), and is at least
  the number of derivative rules (one per argument);
* every param is a keyword parameter of the impl that no input already fills, unless the
  impl takes ``**kwargs``; every required parameter is given;
* NumPy's ``out`` parameter is never reachable: a node such as ``tanh`` with inputs
  ``[0, 0]`` would otherwise make NumPy write the result into the node's own input.

Ufunc impls take no params from a graph at all (their keywords — ``out``, ``where``,
``casting``, ``dtype`` — change where and how results are written, not what an op is).
User primitives (`tapegrad.primitive`) are checked against the user's own function.

Examples:
    >>> from tapegrad.core.primitive import PRIMITIVES
    >>> call_problem(PRIMITIVES["tanh"], 2, {})
    "2 inputs, but primitive 'tanh' takes 1 (its impl's signature: (x))"
    >>> call_problem(PRIMITIVES["sum"], 1, {"axis": (0,), "keepdims": False}) is None
    True
    >>> call_problem(PRIMITIVES["sum"], 1, {"axes": 0})
    "unknown param 'axes' (primitive 'sum' takes: axis, keepdims)"
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import keyword
from collections.abc import Mapping
from typing import Any

import numpy as np

from tapegrad.core.primitive import Primitive

# NumPy's output argument: results written into an array the graph names would alias it.
_WRITE_TARGETS = frozenset({"out"})


@dataclasses.dataclass(frozen=True)
class CallSpec:
    """The calls an impl accepts, as a graph node can make them.

    Attributes:
        positional: Names of the parameters inputs fill, in order.
        var_positional: The impl takes ``*args`` (any number of inputs).
        keywords: Parameter names params may set (the signature's own strings).
        var_keyword: The impl takes ``**kwargs`` (any identifier as a param).
        required: Parameters without a default (given by an input or a param).
        text: The signature, for messages.
    """

    positional: tuple[str, ...]
    var_positional: bool
    keywords: Mapping[str, str]
    var_keyword: bool
    required: tuple[str, ...]
    text: str


def is_param_name(key: Any) -> bool:
    """Whether ``key`` can name a param: a str that is an identifier and not a keyword."""
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)


def call_spec(prim: Primitive) -> CallSpec | None:
    """The calls ``prim.impl`` accepts, or None when its signature cannot be read.

    Args:
        prim: A primitive.

    Returns:
        The `CallSpec` (cached per impl), or None (a builtin without a signature).
    """
    return _spec_of(prim.impl)


@functools.lru_cache(maxsize=1024)
def _spec_of(impl: Any) -> CallSpec | None:
    if isinstance(impl, np.ufunc):
        names = tuple(f"x{k + 1}" if impl.nin > 1 else "x" for k in range(impl.nin))
        return CallSpec(names, False, {}, False, names, f"({', '.join(names)})")
    try:
        signature = inspect.signature(impl)  # follows __wrapped__ to a user's function
    except (TypeError, ValueError):
        return None
    positional: list[str] = []
    keywords: dict[str, str] = {}
    required: list[str] = []
    var_positional = var_keyword = False
    stopped = False  # parameters from `out` on are never filled by inputs
    for param in signature.parameters.values():
        kind = param.kind
        if kind is param.VAR_POSITIONAL:
            var_positional = not stopped
            continue
        if kind is param.VAR_KEYWORD:
            var_keyword = True
            continue
        if param.name in _WRITE_TARGETS:
            stopped = True
            continue
        if kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD) and not stopped:
            positional.append(param.name)
        if kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            keywords[param.name] = param.name
        if param.default is param.empty:
            required.append(param.name)
    shown = [p.replace(annotation=p.empty) for p in signature.parameters.values()]
    text = str(signature.replace(parameters=shown, return_annotation=signature.empty))
    return CallSpec(tuple(positional), var_positional, keywords, var_keyword, tuple(required), text)


def call_problem(prim: Primitive, n_inputs: int, params: Any) -> str | None:
    """What is wrong with calling ``prim`` on ``n_inputs`` inputs and ``params`` (or None).

    Args:
        prim: The node's primitive.
        n_inputs: How many inputs the node passes (positionally).
        params: The node's params (a dict).

    Returns:
        None when the call fits the impl's signature, else a message naming the
        primitive, the count or the param, and what the primitive takes.
    """
    if not isinstance(params, dict):
        return f"params must be a dict, got {type(params).__name__}"
    for key in params:
        if not is_param_name(key):
            return f"param name {_shown(key)} is not a Python identifier"
    spec = call_spec(prim)
    if spec is None:
        return None
    name = prim.name
    if not spec.var_positional and n_inputs > len(spec.positional):
        most = "at most " if set(spec.positional) - set(spec.required) else ""
        return (
            f"{_count(n_inputs)}, but primitive {name!r} takes {most}{len(spec.positional)} "
            f"(its impl's signature: {spec.text})"
        )
    filled = set(spec.positional[:n_inputs])
    for key in params:
        if key in filled:
            return f"param {key!r} of primitive {name!r} is also given as an input"
        if key not in spec.keywords and not spec.var_keyword:
            takes = ", ".join(k for k in spec.keywords if k not in filled) or "no params"
            return f"unknown param {key!r} (primitive {name!r} takes: {takes})"
    for required in spec.required:
        if required not in filled and required not in params:
            if required in spec.keywords:
                return f"missing param {required!r} of primitive {name!r}"
            return (
                f"{_count(n_inputs)}, but primitive {name!r} needs its argument "
                f"{required!r} (its impl's signature: {spec.text})"
            )
    rules = len(prim.vjp_rules)
    if not spec.var_positional and not prim.variadic and n_inputs < rules:
        # One derivative rule per argument: `where` with only its condition would be
        # NumPy's index form, another op.
        return f"{_count(n_inputs)}, but primitive {name!r} takes {rules} (one per derivative rule)"
    return None


def keyword_name(prim: Primitive, key: str) -> str | None:
    """The impl's own name for the keyword parameter ``key`` (None if it declares none)."""
    spec = call_spec(prim)
    return None if spec is None else spec.keywords.get(key)


def _count(n_inputs: int) -> str:
    return f"{n_inputs} input" + ("" if n_inputs == 1 else "s")


def _shown(key: Any) -> str:
    text = repr(key)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["CallSpec", "call_problem", "call_spec", "is_param_name", "keyword_name"]

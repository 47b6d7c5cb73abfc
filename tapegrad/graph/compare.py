"""Comparing graphs: whether two traces compute the same thing, and exact value equality.

`describe_difference` is what `trace` asks when a function is traced more than once (at
other batch sizes, say); `values_equal` compares params, literals and constants exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.graph.ir import Atom, Graph, Literal, format_aval, format_value


def describe_difference(first: Graph, second: Graph) -> str | None:
    """How two graphs compute differently (None if they compute the same thing).

    Compares structure, primitives, params, literals and constant values, and the
    inputs' kinds, ranks and dtypes; sizes of axes are ignored, so two traces at
    different batch sizes of a batch-independent function compare equal.
    """
    if [(i.kind, len(i.shape), i.dtype) for i in first.inputs] != [
        (i.kind, len(i.shape), i.dtype) for i in second.inputs
    ]:
        return "the inputs differ (kinds, ranks or dtypes)"
    if first.in_tree != second.in_tree or first.out_tree != second.out_tree:
        return "the argument or result structures differ"
    if len(first.nodes) != len(second.nodes):
        return f"{len(first.nodes)} vs {len(second.nodes)} primitive calls"
    names_a, names_b = _canonical_ids(first), _canonical_ids(second)
    consts_a, consts_b = first.constants, second.constants
    for index, (a, b) in enumerate(zip(first.nodes, second.nodes, strict=True)):
        where = f"node {index} ({a.primitive})"
        if a.primitive != b.primitive:
            return f"node {index} calls {a.primitive!r} vs {b.primitive!r}"
        if len(a.inputs) != len(b.inputs):
            return f"{where}: a different number of arguments"
        for k, (x, y) in enumerate(zip(a.inputs, b.inputs, strict=True)):
            problem = _atom_difference(x, y, names_a, names_b, consts_a, consts_b)
            if problem:
                return f"{where}, argument {k}: {problem}"
        if sorted(a.params) != sorted(b.params):
            return f"{where}: different params"
        for key in a.params:
            if not values_equal(a.params[key], b.params[key]):
                first_value, second_value = format_value(a.params[key]), format_value(b.params[key])
                return f"{where}: param {key}={first_value} vs {second_value}"
    if len(first.outputs) != len(second.outputs):
        return "a different number of outputs"
    for k, (x, y) in enumerate(zip(first.outputs, second.outputs, strict=True)):
        problem = _atom_difference(x, y, names_a, names_b, consts_a, consts_b)
        if problem:
            return f"output {k}: {problem}"
    return None


def _canonical_ids(graph: Graph) -> dict[int, tuple[Any, ...]]:
    """Value id -> (role, position): comparable across independently traced graphs."""
    names: dict[int, tuple[Any, ...]] = {}
    for k, spec in enumerate(graph.inputs):
        names[spec.id] = ("input", k)
    for k, value_id in enumerate(graph.constants):
        names[value_id] = ("constant", k)
    for k, node in enumerate(graph.nodes):
        for j, out_id in enumerate(node.outputs):
            names[out_id] = ("node", k, j)
    return names


def _atom_difference(
    x: Atom,
    y: Atom,
    names_a: dict[int, Any],
    names_b: dict[int, Any],
    consts_a: dict[int, Any],
    consts_b: dict[int, Any],
) -> str | None:
    if isinstance(x, Literal) or isinstance(y, Literal):
        if not (isinstance(x, Literal) and isinstance(y, Literal)) or not values_equal(
            x.value, y.value
        ):
            return f"{format_value(x)} vs {format_value(y)}"
        return None
    role_a, role_b = names_a.get(x), names_b.get(y)
    if role_a is None or role_b is None or role_a[0] != role_b[0]:
        return f"reads a {role_a and role_a[0]} vs a {role_b and role_b[0]}"
    if role_a[0] == "constant":
        a, b = consts_a[x], consts_b[y]
        if not values_equal(a, b):
            return (
                f"a constant {format_aval(np.shape(a), np.asarray(a).dtype)} with different "
                f"values or shape ({format_aval(np.shape(b), np.asarray(b).dtype)})"
            )
        return None
    if role_a != role_b:
        return "reads a different value"
    return None


def values_equal(a: Any, b: Any) -> bool:
    """Exact equality of params, literals and constants (arrays by dtype, shape, values)."""
    if isinstance(a, np.ndarray | np.generic) or isinstance(b, np.ndarray | np.generic):
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        return (
            type(a) is type(b)
            and a_arr.dtype == b_arr.dtype
            and a_arr.shape == b_arr.shape
            and bool(np.array_equal(a_arr, b_arr, equal_nan=a_arr.dtype.kind in "fc"))
        )
    if isinstance(a, tuple | list):
        return (
            type(a) is type(b)
            and len(a) == len(b)
            and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and sorted(a) == sorted(b)
            and all(values_equal(a[k], b[k]) for k in a)
        )
    if isinstance(a, slice):
        return isinstance(b, slice) and values_equal(
            (a.start, a.stop, a.step), (b.start, b.stop, b.step)
        )
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True  # NaN literals compare equal
    return type(a) is type(b) and bool(a == b)

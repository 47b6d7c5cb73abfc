"""Nested list/tuple/dict structures: flatten to leaves and rebuild (like jax.tree_util)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# A tree definition: None for a leaf, else (kind, metadata, child definitions).
TreeDef = Any


def tree_flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """Leaves of a nested list/tuple/dict (dicts in sorted-key order) and its structure.

    Examples:
        >>> leaves, treedef = tree_flatten({"b": [1, 2], "a": (3,)})
        >>> leaves
        [3, 1, 2]
        >>> tree_unflatten(treedef, [30, 10, 20])
        {'a': (30,), 'b': [10, 20]}
    """
    if not isinstance(tree, dict | list | tuple):
        return [tree], None  # a single leaf: the common case, kept cheap
    kind = type(tree)
    if (kind is list or kind is tuple) and not any(
        isinstance(item, dict | list | tuple) for item in tree
    ):
        # A flat list of leaves (a model's weights, every step): no recursion.
        return list(tree), (kind.__name__, None, [None] * len(tree))
    leaves: list[Any] = []
    treedef = _flatten_into(tree, leaves)
    return leaves, treedef


def _flatten_into(tree: Any, leaves: list[Any]) -> TreeDef:
    if isinstance(tree, dict):
        keys = sorted(tree)
        return ("dict", keys, [_flatten_into(tree[k], leaves) for k in keys])
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return ("namedtuple", type(tree), [_flatten_into(v, leaves) for v in tree])
    if isinstance(tree, tuple | list):
        return (type(tree).__name__, None, [_flatten_into(v, leaves) for v in tree])
    leaves.append(tree)
    return None


def tree_unflatten(treedef: TreeDef, leaves: list[Any]) -> Any:
    """Rebuild the structure described by ``treedef`` from ``leaves`` (in flatten order)."""
    if treedef is None:
        return leaves[0]
    kind, _, children = treedef
    if kind in ("list", "tuple") and not any(children):  # flat: leaves as they are
        return list(leaves) if kind == "list" else tuple(leaves)
    return _build(treedef, iter(leaves))


def _build(treedef: TreeDef, leaves: Any) -> Any:
    if treedef is None:
        return next(leaves)
    kind, meta, children = treedef
    values = [_build(child, leaves) for child in children]
    if kind == "dict":
        return dict(zip(meta, values, strict=True))
    if kind == "namedtuple":
        return meta(*values)
    return tuple(values) if kind == "tuple" else values


def tree_map(func: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """Apply ``func`` leaf-wise over one or more trees of the same structure."""
    leaves, treedef = tree_flatten(tree)
    others = [tree_flatten(r)[0] for r in rest]
    return tree_unflatten(treedef, [func(*xs) for xs in zip(leaves, *others, strict=True)])

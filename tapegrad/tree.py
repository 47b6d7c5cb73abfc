"""Nested structures (Keras 3's ``keras.tree`` names): lists, tuples and dicts of leaves.

Examples:
    >>> import tapegrad as tg
    >>> tg.tree.flatten({"b": [1, 2], "a": 3})
    [3, 1, 2]
    >>> tg.tree.map_structure(lambda x: x * 10, (1, [2]))
    (10, [20])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tapegrad.core.tree import tree_flatten, tree_map


def flatten(structure: Any) -> list[Any]:
    """The leaves of ``structure`` in order (dicts in sorted-key order).

    Args:
        structure: A leaf, or a nested list/tuple/dict.

    Returns:
        The list of leaves.
    """
    return tree_flatten(structure)[0]


def map_structure(func: Callable[..., Any], *structures: Any) -> Any:
    """Apply ``func`` leaf-wise over structures of the same shape.

    Args:
        func: Called with one leaf of each structure.
        *structures: At least one structure.

    Returns:
        A structure of the same shape holding ``func``'s results.
    """
    return tree_map(func, *structures)


__all__ = ["flatten", "map_structure"]

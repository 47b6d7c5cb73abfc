"""Nested structures (Keras 3's ``keras.tree``): lists, tuples, namedtuples, dicts, deques.

As in Keras 3 (its optree implementation): dict leaves come in sorted-key order (insertion
order when the keys do not sort, and for ``OrderedDict``), rebuilt dicts keep their own key
order, ``None`` is a leaf unless ``none_is_leaf=False``, strings and arrays are leaves.

Examples:
    >>> import tapegrad as tg
    >>> tg.tree.flatten({"b": [1, 2], "a": 3})
    [3, 1, 2]
    >>> tg.tree.map_structure(lambda x: x * 10, (1, [2]))
    (10, [20])
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from typing import Any


class MAP_TO_NONE:  # noqa: N801  (Keras' name)
    """Returned by a `traverse` function to put ``None`` in place of a sub-structure.

    Examples:
        >>> traverse(lambda x: MAP_TO_NONE if x == 2 else None, [1, [2, 3]])
        [1, [None, 3]]
    """


def _dict_keys(d: dict[Any, Any]) -> list[Any]:
    if type(d) is collections.OrderedDict:
        return list(d)
    try:
        return sorted(d)
    except TypeError:  # keys of mixed types: optree sorts them by type name first
        try:
            return sorted(d, key=lambda k: (type(k).__qualname__, k))
        except TypeError:
            return list(d)


def _node(x: Any, none_is_leaf: bool = True) -> tuple[list[Any], list[Any], Callable] | None:
    """``(keys, children, rebuild)`` of a container, None for a leaf.

    ``rebuild(children)`` makes a container of ``x``'s kind from children in ``keys`` order.
    """
    kind = type(x)
    if kind is list or kind is tuple:
        return list(range(len(x))), list(x), kind
    if isinstance(x, dict):
        keys = _dict_keys(x)

        def rebuild_dict(children: list[Any], x: Any = x, keys: list[Any] = keys) -> Any:
            by_key = dict(zip(keys, children, strict=True))
            items = [(k, by_key[k]) for k in x]  # the dict's own key order
            if isinstance(x, collections.defaultdict):
                return collections.defaultdict(x.default_factory, items)
            try:
                return type(x)(items)
            except TypeError:
                return dict(items)

        return keys, [x[k] for k in keys], rebuild_dict
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # a namedtuple
        return list(range(len(x))), list(x), lambda children, kind=kind: kind(*children)
    if isinstance(x, collections.deque):
        return (
            list(range(len(x))),
            list(x),
            lambda children, n=x.maxlen: collections.deque(children, maxlen=n),
        )
    if isinstance(x, list | tuple):  # a subclass: rebuilt as its base when it cannot be
        return list(range(len(x))), list(x), _rebuild_sequence(kind)
    if x is None and not none_is_leaf:
        return [], [], lambda children: None
    return None


def _rebuild_sequence(kind: type) -> Callable[[list[Any]], Any]:
    def rebuild(children: list[Any]) -> Any:
        try:
            return kind(children)
        except TypeError:
            return list(children) if issubclass(kind, list) else tuple(children)

    return rebuild


def _same_kind(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):  # dict, OrderedDict, defaultdict alike
        return True
    return type(a) is type(b)


def _mismatch(detail: str) -> ValueError:
    return ValueError(f"Structures don't have the same nested structure. {detail}")


def is_nested(structure: Any) -> bool:
    """Whether ``structure`` is a container (list, tuple, namedtuple, dict, deque).

    Args:
        structure: Any value.

    Returns:
        True for a container (even empty), False for a leaf (None and strings included).

    Examples:
        >>> is_nested([1]), is_nested(None), is_nested("ab")
        (True, False, False)
    """
    return _node(structure) is not None


def flatten(structure: Any) -> list[Any]:
    """The leaves of ``structure`` in order (dicts in sorted-key order).

    Args:
        structure: A leaf, or a nested container.

    Returns:
        The list of leaves (``None`` leaves included).

    Examples:
        >>> flatten({"b": [1, None], "a": (2,)})
        [2, 1, None]
        >>> flatten(5)
        [5]
    """
    leaves: list[Any] = []
    _flatten_into(structure, leaves)
    return leaves


def _flatten_into(x: Any, leaves: list[Any]) -> None:
    node = _node(x)
    if node is None:
        leaves.append(x)
        return
    for child in node[1]:
        _flatten_into(child, leaves)


def flatten_with_path(structure: Any) -> list[tuple[tuple[Any, ...], Any]]:
    """The leaves of ``structure``, each with its path (the keys/indices leading to it).

    Args:
        structure: A leaf, or a nested container.

    Returns:
        A list of ``(path, leaf)`` pairs in `flatten` order.

    Examples:
        >>> flatten_with_path([1, {"a": None}])
        [((0,), 1), ((1, 'a'), None)]
    """
    out: list[tuple[tuple[Any, ...], Any]] = []

    def walk(x: Any, path: tuple[Any, ...]) -> None:
        node = _node(x)
        if node is None:
            out.append((path, x))
            return
        for key, child in zip(node[0], node[1], strict=True):
            walk(child, (*path, key))

    walk(structure, ())
    return out


def _children_like(node: tuple[list[Any], list[Any], Callable], other: Any) -> list[Any]:
    """``other``'s children in ``node``'s key order, or a ValueError naming the mismatch."""
    keys, children, _ = node
    if isinstance(other, dict):
        if set(other) != set(keys):
            raise _mismatch(
                f"Dict keys differ: {sorted(map(repr, keys))} vs {sorted(map(repr, other))}."
            )
        return [other[k] for k in keys]
    if len(other) != len(children):
        raise _mismatch(f"Lengths differ: {len(children)} vs {len(other)}.")
    return list(other)


def map_structure(func: Callable[..., Any], *structures: Any, none_is_leaf: bool = True) -> Any:
    """Apply ``func`` leaf-wise over structures of the same layout.

    Args:
        func: Called with one leaf of each structure.
        *structures: At least one structure; all of the same layout.
        none_is_leaf: If False, ``None`` values are kept as they are and never passed to
            ``func``.

    Returns:
        A structure of the first one's layout holding ``func``'s results.

    Examples:
        >>> map_structure(lambda x, y: x * y, [[1], [2]], [[3], [4]])
        [[3], [8]]
        >>> map_structure(lambda x: x + 1, [1, None], none_is_leaf=False)
        [2, None]
    """
    if not structures:
        raise ValueError("map_structure: must provide at least one structure")
    if not callable(func):
        raise TypeError(f"map_structure: `func` must be callable, got {func!r}")

    def walk(xs: tuple[Any, ...]) -> Any:
        node = _node(xs[0], none_is_leaf)
        if node is None:
            if len(xs) > 1 and any(_node(x, none_is_leaf) is not None for x in xs[1:]):
                raise _mismatch(f"A leaf {xs[0]!r} faces a container.")
            return func(*xs)
        for other in xs[1:]:
            if not _same_kind(xs[0], other):
                raise _mismatch(
                    f"Expected an instance of {type(xs[0]).__name__}, got {other!r}"[:300]
                )
        columns = [node[1]] + [_children_like(node, other) for other in xs[1:]]
        return node[2]([walk(group) for group in zip(*columns, strict=True)])

    return walk(structures)


def map_structure_up_to(shallow_structure: Any, func: Callable[..., Any], *structures: Any) -> Any:
    """Apply ``func`` to the sub-structures found at ``shallow_structure``'s leaves.

    Args:
        shallow_structure: A prefix of every structure's layout.
        func: Called with one sub-structure of each of ``structures``.
        *structures: Structures whose layouts start with ``shallow_structure``'s.

    Returns:
        A structure of ``shallow_structure``'s layout holding ``func``'s results.

    Examples:
        >>> map_structure_up_to([1, [2]], lambda a, b: (a, b), [[1, 2], [3]], [4, [5]])
        [([1, 2], 4), [(3, 5)]]
    """
    if not structures:
        raise ValueError("map_structure_up_to: must provide at least one structure")

    def walk(shallow: Any, xs: tuple[Any, ...]) -> Any:
        node = _node(shallow)
        if node is None:
            return func(*xs)
        for other in xs:
            if _node(other) is None or not _same_kind(shallow, other):
                raise _mismatch(
                    f"Expected an instance of {type(shallow).__name__}, got {other!r}"[:300]
                )
        columns = [_children_like(node, other) for other in xs]
        return node[2](
            [walk(s, group) for s, group in zip(node[1], zip(*columns, strict=True), strict=True)]
        )

    return walk(shallow_structure, structures)


def assert_same_structure(a: Any, b: Any, check_types: Any = None) -> None:
    """Raise a ValueError unless ``a`` and ``b`` are nested the same way.

    Container kinds must match (a list is not a tuple, namedtuple types differ); dicts of
    any kind match when their keys do. Leaves may differ.

    Args:
        a: A structure.
        b: A structure.
        check_types: Deprecated in Keras 3; ignored.

    Examples:
        >>> assert_same_structure([(0, 1)], [(2, 3)])
        >>> assert_same_structure([0, 1], (0, 1))
        Traceback (most recent call last):
        ...
        ValueError: Structures don't have the same nested structure. Expected an instance \
of list, got (0, 1)
    """
    del check_types  # Keras 3 ignores it (deprecated)
    map_structure(lambda *_: None, a, b)


def assert_same_paths(a: Any, b: Any) -> None:
    """Raise a ValueError unless ``a`` and ``b`` have the same leaf paths.

    Looser than `assert_same_structure`: a list and a tuple of the same length match.

    Args:
        a: A structure.
        b: A structure.

    Examples:
        >>> assert_same_paths([1, 2], (3, 4))
        >>> assert_same_paths({"a": 1}, {"b": 1})
        Traceback (most recent call last):
        ...
        ValueError: `a` and `b` don't have the same paths.
        Paths in `a` missing in `b`:
        {('a',)}
        Paths in `b` missing in `a`:
        {('b',)}
    """
    a_paths = {path for path, _ in flatten_with_path(a)}
    b_paths = {path for path, _ in flatten_with_path(b)}
    if a_paths != b_paths:
        msg = "`a` and `b` don't have the same paths."
        if a_paths - b_paths:
            msg += f"\nPaths in `a` missing in `b`:\n{a_paths - b_paths}"
        if b_paths - a_paths:
            msg += f"\nPaths in `b` missing in `a`:\n{b_paths - a_paths}"
        raise ValueError(msg)


def pack_sequence_as(structure: Any, flat_sequence: Iterable[Any]) -> Any:
    """``flat_sequence``'s items put into ``structure``'s layout (the inverse of `flatten`).

    Args:
        structure: The layout.
        flat_sequence: As many leaves as ``structure`` has, in `flatten` order.

    Returns:
        The new structure.

    Examples:
        >>> pack_sequence_as({"b": [0, 0], "a": 0}, [1, 2, 3])
        {'b': [2, 3], 'a': 1}
    """
    try:
        leaves = list(flat_sequence)
    except TypeError:
        raise TypeError(
            f"pack_sequence_as: `flat_sequence` must be iterable, got {flat_sequence!r}"[:300]
        ) from None
    expected = len(flatten(structure))
    if len(leaves) != expected:
        raise ValueError(
            f"pack_sequence_as: the structure has {expected} leaves, but `flat_sequence` "
            f"has {len(leaves)} items"
        )
    it = iter(leaves)

    def walk(x: Any) -> Any:
        node = _node(x)
        if node is None:
            return next(it)
        return node[2]([walk(child) for child in node[1]])

    return walk(structure)


def traverse(func: Callable[[Any], Any], structure: Any, top_down: bool = True) -> Any:
    """Apply ``func`` to every sub-structure (containers and leaves), rebuilding the result.

    Where ``func`` returns None the sub-structure is kept (top-down: its children are
    traversed next); `MAP_TO_NONE` puts None in its place; any other value replaces it.

    Args:
        func: Called with each sub-structure.
        structure: The structure.
        top_down: Visit a container before (True) or after (False) its children.

    Returns:
        The traversed structure.

    Examples:
        >>> traverse(lambda x: tuple(x) if isinstance(x, list) else None, [1, [2]], False)
        (1, (2,))
    """

    def children_traversed(x: Any) -> Any:
        node = _node(x)
        if node is None:
            return x
        return node[2]([traverse(func, child, top_down=top_down) for child in node[1]])

    if top_down:
        ret = func(structure)
        if ret is None:
            return children_traversed(structure)
    else:
        structure = children_traversed(structure)
        ret = func(structure)
        if ret is None:
            return structure
    return None if ret is MAP_TO_NONE else ret


def lists_to_tuples(structure: Any) -> Any:
    """``structure`` with every list (at any depth) turned into a tuple.

    Args:
        structure: The structure.

    Returns:
        The converted structure.

    Examples:
        >>> lists_to_tuples([1, [2, {"a": [3]}]])
        (1, (2, {'a': (3,)}))
    """
    return traverse(lambda x: tuple(x) if isinstance(x, list) else None, structure, top_down=False)


def map_shape_structure(func: Callable[[Any], Any], structure: Any) -> Any:
    """Apply ``func`` to every shape in ``structure`` (a list/tuple of ints and Nones).

    Args:
        func: Called with each shape.
        structure: Shapes nested in lists, tuples and dicts.

    Returns:
        The structure of ``func``'s results.

    Examples:
        >>> map_shape_structure(lambda s: s[-1], {"a": (None, 3), "b": [(1, 2), [4]]})
        {'a': 3, 'b': [2, 4]}
    """

    def is_shape(x: Any) -> bool:
        return isinstance(x, list | tuple) and all(isinstance(e, int | type(None)) for e in x)

    def walk(x: Any) -> Any:
        if is_shape(x):
            return func(x)
        node = _node(x)
        if node is None:
            return func(x)
        return node[2]([walk(child) for child in node[1]])

    return walk(structure)


__all__ = [
    "MAP_TO_NONE",
    "assert_same_paths",
    "assert_same_structure",
    "flatten",
    "flatten_with_path",
    "is_nested",
    "lists_to_tuples",
    "map_shape_structure",
    "map_structure",
    "map_structure_up_to",
    "pack_sequence_as",
    "traverse",
]

"""`tapegrad.tree` (Keras 3 ``keras.tree``) against the outputs Keras 3.15 (optree) gave for
the same calls: the expected lines below were printed by the side venv running `run`."""

from __future__ import annotations

import collections
import time
from typing import Any

import pytest

import tapegrad as tg

# ruff: noqa: E501, E702
P = collections.namedtuple("P", ["x", "y"])
S = {
    "b": [1, None, (2, 3)],
    "a": P(4, {"z": 5, "c": 6}),
    "o": collections.OrderedDict([("q", 7), ("p", 8)]),
    "d": collections.deque([9, 10]),
}


def run(tree: Any) -> list[Any]:
    out = []
    out.append(tree.flatten(S))
    out.append(tree.flatten_with_path(S))
    out.append(repr(tree.map_structure(lambda v: v, S)))
    out.append(repr(tree.map_structure(lambda v: v * 2, S, none_is_leaf=False)))
    out.append(repr(tree.pack_sequence_as(S, list(range(11)))))
    out.append(
        [
            tree.is_nested(None),
            tree.is_nested([1]),
            tree.is_nested(1),
            tree.is_nested("ab"),
            tree.is_nested(()),
            tree.is_nested({}),
        ]
    )
    out.append(repr(tree.lists_to_tuples([1, [2, {"a": [3]}]])))
    out.append(repr(tree.map_shape_structure(lambda s: s, {"a": (None, 3), "b": [(1, 2), [4]]})))
    out.append(repr(tree.traverse(lambda x: tree.MAP_TO_NONE if x == 2 else None, [1, [2, 3]])))
    out.append(repr(tree.traverse(lambda x: x, [1, [2, 3]], top_down=False)))
    out.append(
        repr(tree.map_structure_up_to([1, [2]], lambda a, b: (a, b), [[1, 2], [3]], [4, [5]]))
    )
    out.append(repr(tree.map_structure_up_to({"a": 0, "b": 0}, lambda a: a, {"b": [1], "a": (2,)})))
    out.append([tree.flatten({2: "a", 1: "b"}), tree.flatten({"x": 1, 3: 2})])
    out.append(repr(tree.map_structure(lambda v: v, {"b": 1, "a": 2})))
    out.append(
        [
            tree.flatten(None),
            tree.flatten(1),
            tree.map_structure(lambda v: 5, None, none_is_leaf=False),
            tree.map_structure(lambda v: 5, None),
        ]
    )
    out.append(tree.flatten_with_path([1, {"a": None}]))
    out.append(repr(tree.map_structure(lambda a, b: a + b, (1, {"k": [2]}), (10, {"k": [20]}))))
    errs = []
    for f in [
        lambda: tree.assert_same_structure([1, 2], (1, 2)),
        lambda: tree.assert_same_paths([1, 2], [1]),
        lambda: tree.map_structure(lambda a, b: a, [1, 2], [1, [2]]),
        lambda: tree.pack_sequence_as([1, 2], [1]),
        lambda: tree.assert_same_structure(P(1, 2), (1, 2)),
        lambda: tree.assert_same_structure({"a": 1}, {"b": 1}),
        lambda: tree.map_structure(lambda a, b: a, [1, [2]], [1, 2]),
    ]:
        try:
            f()
            errs.append(None)
        except Exception as e:
            errs.append(type(e).__name__)
    out.append(errs)
    tree.assert_same_paths([1, 2], (1, 2))
    tree.assert_same_structure({"a": [1]}, collections.OrderedDict(a=[2]))
    return out


# `repr` of each item `run(keras.tree)` returned, in order (Keras 3.15, JAX backend).
KERAS_LINES = [
    "[4, 6, 5, 1, None, 2, 3, 9, 10, 7, 8]",
    "[(('a', 0), 4), (('a', 1, 'c'), 6), (('a', 1, 'z'), 5), (('b', 0), 1), (('b', 1), None), (('b', 2, 0), 2), (('b', 2, 1), 3), (('d', 0), 9), (('d', 1), 10), (('o', 'q'), 7), (('o', 'p'), 8)]",
    "\"{'b': [1, None, (2, 3)], 'a': P(x=4, y={'z': 5, 'c': 6}), 'o': OrderedDict([('q', 7), ('p', 8)]), 'd': deque([9, 10])}\"",
    "\"{'b': [2, None, (4, 6)], 'a': P(x=8, y={'z': 10, 'c': 12}), 'o': OrderedDict([('q', 14), ('p', 16)]), 'd': deque([18, 20])}\"",
    "\"{'b': [3, 4, (5, 6)], 'a': P(x=0, y={'z': 2, 'c': 1}), 'o': OrderedDict([('q', 9), ('p', 10)]), 'd': deque([7, 8])}\"",
    "[False, True, False, False, True, True]",
    "\"(1, (2, {'a': (3,)}))\"",
    "\"{'a': (None, 3), 'b': [(1, 2), [4]]}\"",
    "'[1, [None, 3]]'",
    "'[1, [2, 3]]'",
    "'[([1, 2], 4), [(3, 5)]]'",
    "\"{'a': (2,), 'b': [1]}\"",
    "[['b', 'a'], [2, 1]]",
    "\"{'b': 1, 'a': 2}\"",
    "[[None], [1], None, 5]",
    "[((0,), 1), ((1, 'a'), None)]",
    "\"(11, {'k': [22]})\"",
    "['ValueError', 'ValueError', 'ValueError', 'ValueError', 'ValueError', 'ValueError', 'ValueError']",
]


@pytest.mark.parametrize("index", range(len(KERAS_LINES)))
def test_matches_keras(index: int) -> None:
    assert repr(run(tg.tree)[index]) == KERAS_LINES[index]


def test_error_messages_name_the_mismatch() -> None:
    with pytest.raises(ValueError, match="Expected an instance of list"):
        tg.tree.assert_same_structure([1, 2], (1, 2))
    with pytest.raises(ValueError, match="has 2 leaves.*1 items"):
        tg.tree.pack_sequence_as([1, 2], [1])
    with pytest.raises(ValueError, match="at least one structure"):
        tg.tree.map_structure(abs)
    with pytest.raises(TypeError, match="iterable"):
        tg.tree.pack_sequence_as([1], 5)


def test_defaultdict_and_namedtuple_are_rebuilt_as_themselves() -> None:
    d = collections.defaultdict(list, {"b": 1, "a": 2})
    out = tg.tree.map_structure(lambda v: v * 2, d)
    assert isinstance(out, collections.defaultdict) and out.default_factory is list
    assert list(out.items()) == [("b", 2), ("a", 4)]
    assert tg.tree.pack_sequence_as(P(0, 0), [7, 8]) == P(7, 8)


def test_flatten_of_a_long_flat_list_is_linear() -> None:
    big = list(range(200_000))
    start = time.perf_counter()
    assert tg.tree.flatten(big) == big
    assert time.perf_counter() - start < 5.0

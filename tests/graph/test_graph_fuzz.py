"""Seeded mutants of graph documents: refused with ValueError, or they run the same compiled.

Each mutant changes one thing of a traced graph's document — a param value, an input, the
number of inputs, or the primitive — and then either `graph_from_dict` refuses it with a
ValueError, or it replays (`evaluate`), optimizes, compiles and runs with results equal
to the replay's: no other exception from the verifier, the passes or the generated code.
A longer run: ``TAPEGRAD_GRAPH_FUZZ=20000 pytest tests/graph/test_graph_fuzz.py``.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.core.primitive import PRIMITIVES
from tapegrad.graph import evaluate, graph_from_dict, graph_to_dict, optimize, trace
from tapegrad.graph.codegen import compile_graph

X = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
MUTANTS = int(os.environ.get("TAPEGRAD_GRAPH_FUZZ", "600"))

FUNCTIONS = [
    lambda x: tnp.sum(tnp.tanh(x) * 2.0, axis=1),
    lambda x: tnp.transpose(x)[1:, ::2] + 1.0,
    lambda x: tnp.reshape(x, (6, 4)) @ tnp.ones((4, 3), np.float32),
    lambda x: tnp.concatenate([x, x * 2.0], axis=0).max(axis=-1, keepdims=True),
    lambda x: tnp.einsum("ij,kj->ik", x, x),
    lambda x: tnp.cumsum(x, axis=1) - tnp.mean(x, axis=0),
    lambda x: tg.ops.relu(x)[:, None, :] * tnp.sqrt(tnp.abs(x))[None],
    lambda x: tnp.pad(x, ((1, 1), (0, 2))) / 3.0,
    lambda x: tnp.where(x > 0, x, 0.1 * x).astype(np.float64),
    lambda x: tnp.take(x, np.array([0, 2, 3]), axis=1) ** 2,
    lambda x: tnp.split(x, 2, axis=1)[0] + tnp.sort(x, axis=1)[:, :3],
    lambda x: tnp.clip(x, -0.5, 0.5) + tnp.broadcast_to(x[:1], (4, 6)),
]


def _tuple(*items: Any) -> dict[str, Any]:
    return {"__tuple__": list(items)}


PARAM_VALUES = [
    None,
    0,
    -1,
    1,
    2,
    -2,
    7,
    2**40,
    -(2**40),
    [],
    [1, 2],
    "a",
    "ij->i",
    True,
    1.5,
    _tuple(0),
    _tuple(5),
    _tuple(-1),
    _tuple(0, 0),
    _tuple(-1, 1),
    _tuple(1, 0),
    _tuple(4, 6),
    _tuple(6, 4),
    _tuple(24),
    _tuple(-1, 4),
    _tuple(_tuple(0, 2), _tuple(2, 6)),
    {"__slice__": [0, None, None]},
    _tuple({"__slice__": [None, None, -1]}, None),
    {"__dtype__": "int8"},
    {"__dtype__": "bool"},
    {"__scalar__": ["int64", 1]},
    {"__array__": {"dtype": "int64", "shape": [2], "data": [0, 5]}},
]
LITERALS = [0, 1, -1, 2.5, True, None, "x", _tuple(0), {"__float__": "nan"}]
PRIMITIVE_NAMES = sorted(name for name in PRIMITIVES if "." not in name)


def _documents() -> list[tuple[dict[str, Any], dict[str, np.ndarray]]]:
    documents = []
    for function in FUNCTIONS:
        doc, arrays = graph_to_dict(trace(function, tg.tensor(X)))
        documents.append((json.loads(json.dumps(doc)), arrays))
    return documents


def _mutate(doc: dict[str, Any], rng: random.Random) -> None:
    node = rng.choice(doc["nodes"])
    defined = [i["id"] for i in doc["inputs"]] + [c["id"] for c in doc["constants"]]
    for earlier in doc["nodes"]:
        if earlier is node:
            break
        defined += [o["id"] for o in earlier["outputs"]]

    def atom() -> Any:
        return rng.choice(defined) if rng.random() < 0.5 else {"literal": rng.choice(LITERALS)}

    kind = rng.randrange(5)
    if kind == 0 and node["params"]:
        node["params"][rng.choice(sorted(node["params"]))] = rng.choice(PARAM_VALUES)
    elif kind == 1 and node["inputs"]:
        node["inputs"][rng.randrange(len(node["inputs"]))] = atom()
    elif kind == 2:
        node["inputs"].append(atom())
    elif kind == 3 and node["inputs"]:
        node["inputs"].pop(rng.randrange(len(node["inputs"])))
    else:
        node["primitive"] = rng.choice(PRIMITIVE_NAMES)


@pytest.mark.parametrize("seed", range(4))
def test_mutants_are_refused_or_run_the_same_compiled(seed):
    rng = random.Random(seed)
    documents = _documents()
    outcomes = {"refused": 0, "ran": 0}
    for _ in range(MUTANTS // 4):
        doc, arrays = documents[rng.randrange(len(documents))]
        doc = json.loads(json.dumps(doc))
        _mutate(doc, rng)
        try:
            graph = graph_from_dict(doc, arrays)
        except ValueError:
            outcomes["refused"] += 1
            continue
        with np.errstate(all="ignore"):
            want = evaluate(graph, [X])
            got, _ = compile_graph(optimize(graph), fuse=False)([X], [])
        for a, b in zip(want, got, strict=True):
            a, b = np.asarray(a), np.asarray(b)
            assert a.dtype == b.dtype and a.shape == b.shape, json.dumps(doc)[:2000]
            np.testing.assert_array_equal(a, b, err_msg=json.dumps(doc)[:2000])
        outcomes["ran"] += 1
    assert outcomes["refused"] and outcomes["ran"]

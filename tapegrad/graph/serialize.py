"""Graph <-> JSON-compatible dict, by primitive name and params (versioned, no code).

The document::

    {"format": "tapegrad-graph", "version": 1,
     "inputs":    [{"id": 0, "kind": "arg", "shape": [1, 4], "dtype": "float32", "name": "x0"}],
     "constants": [{"id": 1, "value": <array>}],
     "nodes":     [{"primitive": "add", "inputs": [0, 1, {"literal": 2.0}], "params": {...},
                    "outputs": [{"id": 2, "shape": [1, 4], "dtype": "float32"}]}],
     "outputs":   [2],
     "in_tree": {"tuple": [null]}, "out_tree": null}

Params and literals are JSON values, or objects with exactly one tag key:
``{"__tuple__": [...]}``, ``{"__slice__": [start, stop, step]}``, ``{"__ellipsis__": null}``,
``{"__dtype__": "float32"}``, ``{"__float__": "nan" | "inf" | "-inf"}``,
``{"__complex__": [re, im]}``, ``{"__scalar__": ["int64", 3]}``, ``{"__dict__": [[k, v]]}``,
``{"__array__": {"dtype", "shape", "data"}}`` for arrays of at most `INLINE_MAX` elements
(flat data), and ``{"__ref__": {"key", "dtype", "shape"}}`` for larger arrays, which go to
a separate dict of arrays (stored in safetensors by `tapegrad.nn.saving`). Values are
encoded and decoded by `tapegrad.graph.value_codec`; this module writes and reads the
document around them.

Decoding never evaluates anything: it only builds the tagged values above and looks
primitive names up in `PRIMITIVES`. Anything else — an unknown tag, an unknown
primitive, a node the encoder refuses to write (``custom_gradient``, random ops), a
param name that is not an identifier, inputs or params that do not fit the primitive's
signature (`tapegrad.graph.signatures`), a wrong format or version, a malformed
structure — raises ValueError naming the place (``graph.nodes[3].params.index``) and the
problem; the graph is then verified (`Graph.verify`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core.primitive import PRIMITIVES
from tapegrad.core.tree import TreeDef
from tapegrad.graph.ir import INPUT_KINDS, Graph, Input, Node
from tapegrad.graph.signatures import call_problem, is_param_name
from tapegrad.graph.value_codec import (
    INLINE_MAX,
    MAX_DEPTH,
    ValueDecoder,
    ValueEncoder,
    clipped,
    decode_dtype,
    decode_shape,
    decode_value,
    encode_value,
    expect_dict,
    expect_id,
    expect_list,
)

FORMAT = "tapegrad-graph"
VERSION = 1


# -- encoding -------------------------------------------------------------------------------
def graph_to_dict(
    graph: Graph, key_prefix: str = ""
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Encode ``graph`` as a JSON-compatible dict plus the arrays too large to inline.

    Args:
        graph: The graph.
        key_prefix: Prefix of the keys of the returned arrays (to share one file).

    Returns:
        ``(document, arrays)``; ``json.dumps(document)`` works.

    Raises:
        ValueError: a param or literal of a type that has no encoding (named).

    Examples:
        >>> import json
        >>> import tapegrad as tg
        >>> from tapegrad.graph import trace
        >>> doc, arrays = graph_to_dict(trace(lambda x: x[1:, None] * 2, tg.tensor([1.0, 2.0])))
        >>> print(json.dumps(doc["nodes"][0]["params"]))
        {"index": {"__tuple__": [{"__slice__": [1, null, null]}, null]}}
        >>> graph_from_dict(json.loads(json.dumps(doc)), arrays)(tg.tensor([3.0, 4.0])).numpy()
        array([[8.]], dtype=float32)
    """
    if graph.updates:
        raise ValueError(
            "graph_to_dict: the graph assigns to Variables (a training step); only pure "
            "functions of their inputs are stored"
        )
    encoder = ValueEncoder(key_prefix)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "inputs": [
            {
                "id": spec.id,
                "kind": spec.kind,
                "shape": [int(d) for d in spec.shape],
                "dtype": np.dtype(spec.dtype).name,
                "name": spec.name,
            }
            for spec in graph.inputs
        ],
        "constants": [
            {"id": value_id, "value": encoder.array(value, f"graph.constants[{k}]")}
            for k, (value_id, value) in enumerate(graph.constants.items())
        ],
        "nodes": [
            _encode_node(node, encoder, f"graph.nodes[{k}]") for k, node in enumerate(graph.nodes)
        ],
        "outputs": [encoder.atom(a, f"graph.outputs[{k}]") for k, a in enumerate(graph.outputs)],
        "in_tree": _encode_tree(graph.in_tree, "graph.in_tree"),
        "out_tree": _encode_tree(graph.out_tree, "graph.out_tree"),
    }
    return doc, encoder.arrays


# Nodes whose derivative is Python code kept by the tracer of one trace (`custom_gradient`
# inside a traced function): their file would load without it.
_PROCESS_LOCAL = frozenset({"custom_gradient", "custom_gradient_multi"})


def _unstorable(name: str, path: str) -> str | None:
    """Why a node of primitive ``name`` is never stored (None: it may be)."""
    if name in _PROCESS_LOCAL:
        return (
            f"{path} is a custom_gradient function, whose gradient is Python code and "
            "cannot be stored; declare the op with tapegrad.primitive and defvjp instead"
        )
    if PRIMITIVES[name].stateful:
        return (
            f"{path} is a stateful op ({name!r}): random draws (their generator state) and "
            "collectives across processes cannot be stored in a graph"
        )
    return None


def _encode_node(node: Node, encoder: ValueEncoder, path: str) -> dict[str, Any]:
    problem = _unstorable(node.primitive, path) if node.primitive in PRIMITIVES else None
    if problem:
        raise ValueError(f"graph: {problem}")
    for key in node.params:
        if not is_param_name(key):
            raise ValueError(f"graph: {path}.params: param name {key!r} is not an identifier")
    return {
        "primitive": node.primitive,
        "inputs": [encoder.atom(a, f"{path}.inputs[{k}]") for k, a in enumerate(node.inputs)],
        "params": {
            key: encoder.value(value, f"{path}.params.{key}") for key, value in node.params.items()
        },
        "outputs": [
            {"id": out_id, "shape": [int(d) for d in shape], "dtype": np.dtype(dtype).name}
            for out_id, shape, dtype in zip(node.outputs, node.shapes, node.dtypes, strict=True)
        ],
    }


def _encode_tree(tree: TreeDef, path: str) -> Any:
    if tree is None:
        return None
    kind, meta, children = tree
    encoded = [_encode_tree(child, path) for child in children]
    if kind in ("tuple", "list"):
        return {kind: encoded}
    if kind == "dict" and all(isinstance(k, str) for k in meta):
        return {"dict": [[k, c] for k, c in zip(meta, encoded, strict=True)]}
    raise ValueError(
        f"{path}: a {kind} structure cannot be stored (use tuples, lists and dicts "
        "with string keys)"
    )


# -- decoding -------------------------------------------------------------------------------
def graph_from_dict(
    doc: Any, arrays: dict[str, np.ndarray] | None = None, verify: bool = True
) -> Graph:
    """Rebuild a graph from `graph_to_dict` output (after a JSON round trip).

    Args:
        doc: The document.
        arrays: The arrays its ``__ref__`` entries name.
        verify: Run `Graph.verify` on the result (default).

    Returns:
        The graph (its ``"variable"`` inputs unbound: call it with ``variables=``).

    Raises:
        ValueError: wrong format or version, malformed structure, unknown tag, unknown
            primitive, an array that does not match its declared dtype and shape, or a
            graph that fails verification — always naming where.
    """
    decoder = ValueDecoder(arrays or {})
    expect_dict(
        doc,
        "graph",
        {"format", "version", "inputs", "constants", "nodes", "outputs", "in_tree", "out_tree"},
    )
    if doc["format"] != FORMAT:
        raise ValueError(f"graph: format {doc['format']!r} is not {FORMAT!r}")
    if doc["version"] != VERSION or isinstance(doc["version"], bool):
        raise ValueError(
            f"graph: unsupported version {doc['version']!r} (this tapegrad reads version {VERSION})"
        )
    inputs = [
        _decode_input(item, f"graph.inputs[{k}]")
        for k, item in enumerate(expect_list(doc["inputs"], "graph.inputs"))
    ]
    constants: dict[int, np.ndarray] = {}
    for k, item in enumerate(expect_list(doc["constants"], "graph.constants")):
        path = f"graph.constants[{k}]"
        expect_dict(item, path, {"id", "value"})
        value = decoder.value(item["value"], f"{path}.value")
        if not isinstance(value, np.ndarray):
            raise ValueError(f"{path}.value: expected an array (__array__ or __ref__)")
        constants[expect_id(item["id"], f"{path}.id")] = value
    nodes = [
        _decode_node(decoder, item, f"graph.nodes[{k}]")
        for k, item in enumerate(expect_list(doc["nodes"], "graph.nodes"))
    ]
    outputs = [
        decoder.atom(item, f"graph.outputs[{k}]")
        for k, item in enumerate(expect_list(doc["outputs"], "graph.outputs"))
    ]
    graph = Graph(
        inputs,
        nodes,
        outputs,
        constants,
        in_tree=_decode_tree(doc["in_tree"], "graph.in_tree", 0),
        out_tree=_decode_tree(doc["out_tree"], "graph.out_tree", 0),
    )
    if verify:
        graph.verify()
    return graph


def _decode_input(item: Any, path: str) -> Input:
    expect_dict(item, path, {"id", "kind", "shape", "dtype", "name"})
    if item["kind"] not in INPUT_KINDS:
        raise ValueError(f"{path}.kind: unknown input kind {item['kind']!r}")
    if not isinstance(item["name"], str):
        raise ValueError(f"{path}.name: expected a string")
    return Input(
        expect_id(item["id"], f"{path}.id"),
        item["kind"],
        decode_shape(item["shape"], f"{path}.shape"),
        decode_dtype(item["dtype"], f"{path}.dtype"),
        item["name"],
    )


def _decode_node(decoder: ValueDecoder, item: Any, path: str) -> Node:
    expect_dict(item, path, {"primitive", "inputs", "params", "outputs"})
    name = item["primitive"]
    if not isinstance(name, str) or name not in PRIMITIVES:
        raise ValueError(f"{path}.primitive: unknown primitive {clipped(name)}")
    # The saver never writes these: a file holding one was not written by it.
    if _unstorable(name, path):
        raise ValueError(
            f"{path}: a {name!r} node, which tapegrad never saves (see "
            "graph_to_dict); refusing to load it"
        )
    params = item["params"]
    if not isinstance(params, dict):
        raise ValueError(f"{path}.params: expected an object")
    inputs = expect_list(item["inputs"], f"{path}.inputs")
    for key in params:
        if not is_param_name(key):
            raise ValueError(f"{path}.params: param name {clipped(key)} is not an identifier")
    outputs = expect_list(item["outputs"], f"{path}.outputs")
    ids, shapes, dtypes = [], [], []
    for k, out in enumerate(outputs):
        out_path = f"{path}.outputs[{k}]"
        expect_dict(out, out_path, {"id", "shape", "dtype"})
        ids.append(expect_id(out["id"], f"{out_path}.id"))
        shapes.append(decode_shape(out["shape"], f"{out_path}.shape"))
        dtypes.append(decode_dtype(out["dtype"], f"{out_path}.dtype"))
    node = Node(
        name,
        tuple(decoder.atom(a, f"{path}.inputs[{k}]") for k, a in enumerate(inputs)),
        {key: decoder.value(value, f"{path}.params.{key}") for key, value in params.items()},
        tuple(ids),
        tuple(shapes),
        tuple(dtypes),
    )
    # Arity and param names against the impl's signature, with or without `verify`.
    problem = call_problem(PRIMITIVES[name], len(node.inputs), node.params)
    if problem:
        raise ValueError(f"{path} ({name}): {problem}")
    return node


def _decode_tree(item: Any, path: str, depth: int) -> TreeDef:
    if depth > MAX_DEPTH:
        raise ValueError(f"{path}: nested too deeply")
    if item is None:
        return None
    if not isinstance(item, dict) or len(item) != 1:
        raise ValueError(f"{path}: expected null or one of {{'tuple'|'list'|'dict': ...}}")
    kind, body = next(iter(item.items()))
    children = expect_list(body, f"{path}.{kind}")
    if kind in ("tuple", "list"):
        return (kind, None, [_decode_tree(c, f"{path}.{kind}", depth + 1) for c in children])
    if kind == "dict":
        keys, defs = [], []
        for pair in children:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                raise ValueError(f"{path}.dict: entries are [string key, structure]")
            keys.append(pair[0])
            defs.append(_decode_tree(pair[1], f"{path}.dict", depth + 1))
        if keys != sorted(keys):
            raise ValueError(f"{path}.dict: keys must be sorted")
        return ("dict", keys, defs)
    raise ValueError(f"{path}: unknown structure kind {kind!r}")


__all__ = [
    "FORMAT",
    "INLINE_MAX",
    "VERSION",
    "decode_value",
    "encode_value",
    "graph_from_dict",
    "graph_to_dict",
]

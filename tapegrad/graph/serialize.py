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
a separate dict of arrays (stored in safetensors by `tapegrad.nn.saving`).

Decoding never evaluates anything: it only builds the tagged values above and looks
primitive names up in `PRIMITIVES`. Anything else — an unknown tag, an unknown
primitive, a node the encoder refuses to write (``custom_gradient``, random ops), a
param name that is not an identifier, inputs or params that do not fit the primitive's
signature (`tapegrad.graph.signatures`), a wrong format or version, a malformed
structure — raises ValueError naming the place (``graph.nodes[3].params.index``) and the
problem; the graph is then verified (`Graph.verify`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tapegrad.core.primitive import PRIMITIVES
from tapegrad.core.tree import TreeDef
from tapegrad.graph.ir import INPUT_KINDS, Atom, Graph, Input, Literal, Node
from tapegrad.graph.signatures import call_problem, is_param_name

FORMAT = "tapegrad-graph"
VERSION = 1

#: Arrays with at most this many elements are written inline in the JSON document.
INLINE_MAX = 256
#: No value of a graph may have more elements than this (guards hostile documents).
MAX_ELEMENTS = 1 << 28
_MAX_DEPTH = 32
_MAX_ID = 1 << 31

DTYPES = frozenset(
    {
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
        "complex64",
        "complex128",
    }
)
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


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
    encoder = _Encoder(key_prefix)
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


def encode_value(value: Any, path: str = "value") -> Any:
    """One param-like value as JSON (tagged objects; arrays inline only).

    Raises:
        ValueError: an unsupported type, or an array of more than `INLINE_MAX` elements.

    Examples:
        >>> encode_value({"scale": (2, slice(None))})
        {'__dict__': [['scale', {'__tuple__': [2, {'__slice__': [None, None, None]}]}]]}
        >>> decode_value(encode_value((1.5, None)))
        (1.5, None)
    """
    encoder = _Encoder("")
    doc = encoder.value(value, path)
    if encoder.arrays:
        raise ValueError(f"{path}: arrays of more than {INLINE_MAX} elements cannot be inlined")
    return doc


def decode_value(doc: Any, path: str = "value") -> Any:
    """The inverse of `encode_value` (tagged values only; raises ValueError otherwise)."""
    return _Decoder({}).value(doc, path)


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
            f"{path} is a random op ({name!r}), whose generator state cannot be stored in a graph"
        )
    return None


def _encode_node(node: Node, encoder: _Encoder, path: str) -> dict[str, Any]:
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


class _Encoder:
    def __init__(self, key_prefix: str) -> None:
        self.key_prefix = key_prefix
        self.arrays: dict[str, np.ndarray] = {}

    def atom(self, atom: Atom, path: str) -> Any:
        if isinstance(atom, Literal):
            return {"literal": self.value(atom.value, path)}
        return int(atom)

    def value(self, value: Any, path: str, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise ValueError(f"{path}: nested too deeply to encode")
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return _encode_float(value)
        if isinstance(value, complex):
            return {"__complex__": [_encode_float(value.real), _encode_float(value.imag)]}
        if isinstance(value, np.ndarray):
            return self.array(value, path)
        if isinstance(value, np.generic):
            dtype = _dtype_name(value.dtype, path)
            return {"__scalar__": [dtype, self.value(value.item(), path, depth + 1)]}
        if _is_dtype_like(value):
            return {"__dtype__": _dtype_name(np.dtype(value), path)}
        if isinstance(value, slice):
            parts = [self.value(p, path, depth + 1) for p in (value.start, value.stop, value.step)]
            return {"__slice__": parts}
        if value is Ellipsis:
            return {"__ellipsis__": None}
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            return {"__tuple__": [self.value(v, path, depth + 1) for v in value]}
        if isinstance(value, list):
            return [self.value(v, path, depth + 1) for v in value]
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"__dict__": [[k, self.value(v, path, depth + 1)] for k, v in value.items()]}
        raise ValueError(
            f"{path}: cannot encode a value of type {type(value).__name__} "
            "(params and literals must be numbers, strings, None, tuples, lists, slices, "
            "Ellipsis, dtypes or arrays)"
        )

    def array(self, value: Any, path: str) -> dict[str, Any]:
        arr = np.asarray(value)
        dtype = _dtype_name(arr.dtype, path)
        if arr.size <= INLINE_MAX and arr.dtype.kind in "biuf":
            data = [_encode_float(x) if isinstance(x, float) else x for x in arr.ravel().tolist()]
            return {"__array__": {"dtype": dtype, "shape": list(arr.shape), "data": data}}
        key = f"{self.key_prefix}{len(self.arrays)}"
        self.arrays[key] = np.array(arr, order="C")  # a copy, never an alias
        return {"__ref__": {"key": key, "dtype": dtype, "shape": list(arr.shape)}}


def _encode_float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {"__float__": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def _is_dtype_like(value: Any) -> bool:
    if isinstance(value, np.dtype):
        return True
    return isinstance(value, type) and (
        issubclass(value, np.generic) or value in (bool, int, float, complex)
    )


def _dtype_name(dtype: np.dtype, path: str) -> str:
    name = np.dtype(dtype).name
    if name not in DTYPES:
        raise ValueError(f"{path}: dtype {name} cannot be stored")
    return name


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
    decoder = _Decoder(arrays or {})
    _expect_dict(
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
        for k, item in enumerate(_expect_list(doc["inputs"], "graph.inputs"))
    ]
    constants: dict[int, np.ndarray] = {}
    for k, item in enumerate(_expect_list(doc["constants"], "graph.constants")):
        path = f"graph.constants[{k}]"
        _expect_dict(item, path, {"id", "value"})
        value = decoder.value(item["value"], f"{path}.value")
        if not isinstance(value, np.ndarray):
            raise ValueError(f"{path}.value: expected an array (__array__ or __ref__)")
        constants[_expect_id(item["id"], f"{path}.id")] = value
    nodes = [
        decoder.node(item, f"graph.nodes[{k}]")
        for k, item in enumerate(_expect_list(doc["nodes"], "graph.nodes"))
    ]
    outputs = [
        decoder.atom(item, f"graph.outputs[{k}]")
        for k, item in enumerate(_expect_list(doc["outputs"], "graph.outputs"))
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
    _expect_dict(item, path, {"id", "kind", "shape", "dtype", "name"})
    if item["kind"] not in INPUT_KINDS:
        raise ValueError(f"{path}.kind: unknown input kind {item['kind']!r}")
    if not isinstance(item["name"], str):
        raise ValueError(f"{path}.name: expected a string")
    return Input(
        _expect_id(item["id"], f"{path}.id"),
        item["kind"],
        _decode_shape(item["shape"], f"{path}.shape"),
        _decode_dtype(item["dtype"], f"{path}.dtype"),
        item["name"],
    )


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def node(self, item: Any, path: str) -> Node:
        _expect_dict(item, path, {"primitive", "inputs", "params", "outputs"})
        name = item["primitive"]
        if not isinstance(name, str) or name not in PRIMITIVES:
            raise ValueError(f"{path}.primitive: unknown primitive {_clipped(name)}")
        # The saver never writes these: a file holding one was not written by it.
        if _unstorable(name, path):
            raise ValueError(
                f"{path}: a {name!r} node, which tapegrad never saves (see "
                "graph_to_dict); refusing to load it"
            )
        params = item["params"]
        if not isinstance(params, dict):
            raise ValueError(f"{path}.params: expected an object")
        inputs = _expect_list(item["inputs"], f"{path}.inputs")
        for key in params:
            if not is_param_name(key):
                raise ValueError(f"{path}.params: param name {_clipped(key)} is not an identifier")
        outputs = _expect_list(item["outputs"], f"{path}.outputs")
        ids, shapes, dtypes = [], [], []
        for k, out in enumerate(outputs):
            out_path = f"{path}.outputs[{k}]"
            _expect_dict(out, out_path, {"id", "shape", "dtype"})
            ids.append(_expect_id(out["id"], f"{out_path}.id"))
            shapes.append(_decode_shape(out["shape"], f"{out_path}.shape"))
            dtypes.append(_decode_dtype(out["dtype"], f"{out_path}.dtype"))
        node = Node(
            name,
            tuple(self.atom(a, f"{path}.inputs[{k}]") for k, a in enumerate(inputs)),
            {key: self.value(value, f"{path}.params.{key}") for key, value in params.items()},
            tuple(ids),
            tuple(shapes),
            tuple(dtypes),
        )
        # Arity and param names against the impl's signature, with or without `verify`.
        problem = call_problem(PRIMITIVES[name], len(node.inputs), node.params)
        if problem:
            raise ValueError(f"{path} ({name}): {problem}")
        return node

    def atom(self, item: Any, path: str) -> Atom:
        if isinstance(item, dict):
            _expect_dict(item, path, {"literal"})
            return Literal(self.value(item["literal"], f"{path}.literal"))
        return _expect_id(item, path)

    def value(self, item: Any, path: str, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise ValueError(f"{path}: nested too deeply")
        if item is None or isinstance(item, bool | int | str):
            return item
        if isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError(f"{path}: non-finite numbers must use the __float__ tag")
            return item
        if isinstance(item, list):
            return [self.value(v, path, depth + 1) for v in item]
        if not isinstance(item, dict):
            raise ValueError(f"{path}: unexpected JSON value of type {type(item).__name__}")
        if len(item) != 1:
            raise ValueError(f"{path}: a tagged value has exactly one key, got {sorted(item)}")
        tag, body = next(iter(item.items()))
        handler = self._handlers.get(tag)
        if handler is None:
            raise ValueError(f"{path}: unknown tag {tag!r}")
        return handler(self, body, path, depth)

    def _tuple(self, body: Any, path: str, depth: int) -> tuple[Any, ...]:
        return tuple(self.value(v, path, depth + 1) for v in _expect_list(body, path))

    def _slice(self, body: Any, path: str, depth: int) -> slice:
        parts = _expect_list(body, path)
        if len(parts) != 3:
            raise ValueError(f"{path}: __slice__ needs [start, stop, step]")
        decoded = [self.value(p, path, depth + 1) for p in parts]
        for part in decoded:
            if part is not None and not isinstance(part, int | np.integer):
                raise ValueError(f"{path}: slice bounds must be integers or null")
        return slice(*decoded)

    def _ellipsis(self, body: Any, path: str, depth: int) -> Any:
        if body is not None:
            raise ValueError(f"{path}: __ellipsis__ takes null")
        return Ellipsis

    def _dtype(self, body: Any, path: str, depth: int) -> np.dtype:
        return _decode_dtype(body, path)

    def _float(self, body: Any, path: str, depth: int) -> float:
        if body not in _NONFINITE:
            raise ValueError(f"{path}: __float__ must be 'nan', 'inf' or '-inf'")
        return _NONFINITE[body]

    def _complex(self, body: Any, path: str, depth: int) -> complex:
        parts = [self.value(p, path, depth + 1) for p in _expect_list(body, path)]
        if len(parts) != 2 or not all(_is_real(p) for p in parts):
            raise ValueError(f"{path}: __complex__ needs [real, imag]")
        return complex(parts[0], parts[1])

    def _scalar(self, body: Any, path: str, depth: int) -> np.generic:
        parts = _expect_list(body, path)
        if len(parts) != 2:
            raise ValueError(f"{path}: __scalar__ needs [dtype, value]")
        dtype = _decode_dtype(parts[0], path)
        value = self.value(parts[1], path, depth + 1)
        if not (_is_real(value) or isinstance(value, complex)):
            raise ValueError(f"{path}: __scalar__ value must be a number")
        return _checked_array([value], dtype, path)[0]

    def _dict(self, body: Any, path: str, depth: int) -> dict[str, Any]:
        out = {}
        for pair in _expect_list(body, path):
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                raise ValueError(f"{path}: __dict__ entries are [string key, value]")
            out[pair[0]] = self.value(pair[1], f"{path}.{pair[0]}", depth + 1)
        return out

    def _array(self, body: Any, path: str, depth: int) -> np.ndarray:
        _expect_dict(body, path, {"dtype", "shape", "data"})
        dtype = _decode_dtype(body["dtype"], f"{path}.dtype")
        shape = _decode_shape(body["shape"], f"{path}.shape")
        data = _expect_list(body["data"], f"{path}.data")
        if len(data) != math.prod(shape) or len(data) > INLINE_MAX:
            raise ValueError(
                f"{path}: {len(data)} inline elements for shape {shape} (at most "
                f"{INLINE_MAX} inline)"
            )
        items = [self._element(x, dtype, path) for x in data]
        return _checked_array(items, dtype, path).reshape(shape)

    def _element(self, x: Any, dtype: np.dtype, path: str) -> Any:
        if dtype.kind == "b":
            if not isinstance(x, bool):
                raise ValueError(f"{path}: boolean array data must be true/false")
            return x
        if dtype.kind in "iu":
            if isinstance(x, bool) or not isinstance(x, int):
                raise ValueError(f"{path}: integer array data must be integers")
            return x
        if isinstance(x, dict):
            return self.value(x, path)  # only __float__ yields a float here
        if not _is_real(x):
            raise ValueError(f"{path}: float array data must be numbers")
        return x

    def _ref(self, body: Any, path: str, depth: int) -> np.ndarray:
        _expect_dict(body, path, {"key", "dtype", "shape"})
        key = body["key"]
        if not isinstance(key, str) or key not in self.arrays:
            raise ValueError(f"{path}: array {key!r} is missing from the stored arrays")
        dtype = _decode_dtype(body["dtype"], f"{path}.dtype")
        shape = _decode_shape(body["shape"], f"{path}.shape")
        arr = self.arrays[key]
        if not isinstance(arr, np.ndarray) or arr.dtype != dtype or arr.shape != shape:
            got = (
                f"{arr.dtype.name}{list(arr.shape)}"
                if isinstance(arr, np.ndarray)
                else type(arr).__name__
            )
            raise ValueError(
                f"{path}: stored array {key!r} is {got}, declared {dtype.name}{list(shape)}"
            )
        return arr

    _handlers = {
        "__tuple__": _tuple,
        "__slice__": _slice,
        "__ellipsis__": _ellipsis,
        "__dtype__": _dtype,
        "__float__": _float,
        "__complex__": _complex,
        "__scalar__": _scalar,
        "__dict__": _dict,
        "__array__": _array,
        "__ref__": _ref,
    }


def _checked_array(items: list[Any], dtype: np.dtype, path: str) -> np.ndarray:
    try:
        return np.array(items, dtype=dtype)
    except (OverflowError, ValueError, TypeError) as err:
        raise ValueError(f"{path}: values do not fit dtype {dtype.name}: {err}") from err


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _decode_tree(item: Any, path: str, depth: int) -> TreeDef:
    if depth > _MAX_DEPTH:
        raise ValueError(f"{path}: nested too deeply")
    if item is None:
        return None
    if not isinstance(item, dict) or len(item) != 1:
        raise ValueError(f"{path}: expected null or one of {{'tuple'|'list'|'dict': ...}}")
    kind, body = next(iter(item.items()))
    children = _expect_list(body, f"{path}.{kind}")
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


def _decode_dtype(item: Any, path: str) -> np.dtype:
    if not isinstance(item, str) or item not in DTYPES:
        raise ValueError(f"{path}: unknown dtype {item!r}")
    return np.dtype(item)


def _decode_shape(item: Any, path: str) -> tuple[int, ...]:
    dims = _expect_list(item, path)
    if len(dims) > _MAX_DEPTH or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d < _MAX_ID for d in dims
    ):
        raise ValueError(f"{path}: a shape is a short list of non-negative integers")
    if math.prod(dims) > MAX_ELEMENTS:
        raise ValueError(f"{path}: shape {dims} exceeds {MAX_ELEMENTS} elements")
    return tuple(dims)


def _clipped(value: Any) -> str:
    """``repr(value)``, at most 80 characters (hostile documents hold long strings)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _expect_id(item: Any, path: str) -> int:
    if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item < _MAX_ID:
        raise ValueError(f"{path}: expected a value id (a non-negative integer), got {item!r}")
    return item


def _expect_list(item: Any, path: str) -> list[Any]:
    if not isinstance(item, list):
        raise ValueError(f"{path}: expected a list, got {type(item).__name__}")
    return item


def _expect_dict(item: Any, path: str, keys: set[str]) -> None:
    if not isinstance(item, dict):
        raise ValueError(f"{path}: expected an object, got {type(item).__name__}")
    if set(item) != keys:
        missing, extra = sorted(keys - set(item)), sorted(set(item) - keys)
        raise ValueError(f"{path}: missing keys {missing}, unexpected keys {extra}")


__all__ = [
    "FORMAT",
    "INLINE_MAX",
    "VERSION",
    "decode_value",
    "encode_value",
    "graph_from_dict",
    "graph_to_dict",
]

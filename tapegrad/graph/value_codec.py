"""Param-like values <-> JSON: the tagged encoding of `tapegrad.graph.serialize` documents.

Params and literals are JSON values, or objects with exactly one tag key (the list is in
`tapegrad.graph.serialize`); arrays of at most `INLINE_MAX` elements are written inline,
larger ones go to a separate dict of arrays as ``{"__ref__": ...}``. Decoding only builds
these tagged values, never evaluates anything, and raises ValueError naming the place of
anything else. The ``expect_*`` and ``decode_*`` checks are shared with the graph
document's decoder.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tapegrad.graph.ir import Atom, Literal

#: Arrays with at most this many elements are written inline in the JSON document.
INLINE_MAX = 256
#: No value of a graph may have more elements than this (guards hostile documents).
MAX_ELEMENTS = 1 << 28
MAX_DEPTH = 32
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
    encoder = ValueEncoder("")
    doc = encoder.value(value, path)
    if encoder.arrays:
        raise ValueError(f"{path}: arrays of more than {INLINE_MAX} elements cannot be inlined")
    return doc


def decode_value(doc: Any, path: str = "value") -> Any:
    """The inverse of `encode_value` (tagged values only; raises ValueError otherwise)."""
    return ValueDecoder({}).value(doc, path)


class ValueEncoder:
    """Encodes values and atoms; arrays over `INLINE_MAX` elements go to ``arrays``."""

    def __init__(self, key_prefix: str) -> None:
        self.key_prefix = key_prefix
        self.arrays: dict[str, np.ndarray] = {}

    def atom(self, atom: Atom, path: str) -> Any:
        if isinstance(atom, Literal):
            return {"literal": self.value(atom.value, path)}
        return int(atom)

    def value(self, value: Any, path: str, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
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


class ValueDecoder:
    """Decodes tagged values and atoms; ``__ref__`` entries name ``arrays``."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def atom(self, item: Any, path: str) -> Atom:
        if isinstance(item, dict):
            expect_dict(item, path, {"literal"})
            return Literal(self.value(item["literal"], f"{path}.literal"))
        return expect_id(item, path)

    def value(self, item: Any, path: str, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
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
        return tuple(self.value(v, path, depth + 1) for v in expect_list(body, path))

    def _slice(self, body: Any, path: str, depth: int) -> slice:
        parts = expect_list(body, path)
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
        return decode_dtype(body, path)

    def _float(self, body: Any, path: str, depth: int) -> float:
        if body not in _NONFINITE:
            raise ValueError(f"{path}: __float__ must be 'nan', 'inf' or '-inf'")
        return _NONFINITE[body]

    def _complex(self, body: Any, path: str, depth: int) -> complex:
        parts = [self.value(p, path, depth + 1) for p in expect_list(body, path)]
        if len(parts) != 2 or not all(_is_real(p) for p in parts):
            raise ValueError(f"{path}: __complex__ needs [real, imag]")
        return complex(parts[0], parts[1])

    def _scalar(self, body: Any, path: str, depth: int) -> np.generic:
        parts = expect_list(body, path)
        if len(parts) != 2:
            raise ValueError(f"{path}: __scalar__ needs [dtype, value]")
        dtype = decode_dtype(parts[0], path)
        value = self.value(parts[1], path, depth + 1)
        if not (_is_real(value) or isinstance(value, complex)):
            raise ValueError(f"{path}: __scalar__ value must be a number")
        return _checked_array([value], dtype, path)[0]

    def _dict(self, body: Any, path: str, depth: int) -> dict[str, Any]:
        out = {}
        for pair in expect_list(body, path):
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                raise ValueError(f"{path}: __dict__ entries are [string key, value]")
            out[pair[0]] = self.value(pair[1], f"{path}.{pair[0]}", depth + 1)
        return out

    def _array(self, body: Any, path: str, depth: int) -> np.ndarray:
        expect_dict(body, path, {"dtype", "shape", "data"})
        dtype = decode_dtype(body["dtype"], f"{path}.dtype")
        shape = decode_shape(body["shape"], f"{path}.shape")
        data = expect_list(body["data"], f"{path}.data")
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
        expect_dict(body, path, {"key", "dtype", "shape"})
        key = body["key"]
        if not isinstance(key, str) or key not in self.arrays:
            raise ValueError(f"{path}: array {key!r} is missing from the stored arrays")
        dtype = decode_dtype(body["dtype"], f"{path}.dtype")
        shape = decode_shape(body["shape"], f"{path}.shape")
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


def decode_dtype(item: Any, path: str) -> np.dtype:
    if not isinstance(item, str) or item not in DTYPES:
        raise ValueError(f"{path}: unknown dtype {item!r}")
    return np.dtype(item)


def decode_shape(item: Any, path: str) -> tuple[int, ...]:
    dims = expect_list(item, path)
    if len(dims) > MAX_DEPTH or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d < _MAX_ID for d in dims
    ):
        raise ValueError(f"{path}: a shape is a short list of non-negative integers")
    if math.prod(dims) > MAX_ELEMENTS:
        raise ValueError(f"{path}: shape {dims} exceeds {MAX_ELEMENTS} elements")
    return tuple(dims)


def clipped(value: Any) -> str:
    """``repr(value)``, at most 80 characters (hostile documents hold long strings)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def expect_id(item: Any, path: str) -> int:
    if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item < _MAX_ID:
        raise ValueError(f"{path}: expected a value id (a non-negative integer), got {item!r}")
    return item


def expect_list(item: Any, path: str) -> list[Any]:
    if not isinstance(item, list):
        raise ValueError(f"{path}: expected a list, got {type(item).__name__}")
    return item


def expect_dict(item: Any, path: str, keys: set[str]) -> None:
    if not isinstance(item, dict):
        raise ValueError(f"{path}: expected an object, got {type(item).__name__}")
    if set(item) != keys:
        missing, extra = sorted(keys - set(item)), sorted(set(item) - keys)
        raise ValueError(f"{path}: missing keys {missing}, unexpected keys {extra}")

"""The only text the code generator writes into source besides its own fixed syntax.

Generated code (`codegen`) never contains text taken from a graph, whose params,
literals, input names and primitive choices may come from a file:

* names are made by the generator: value names from counters (``x0``, ``t3``), globals
  from `identifier` (ASCII letters, digits and ``_`` only, never a keyword);
* values written out are `plain`: None, bools, ints, finite floats and tuples and lists
  of them, whose ``repr`` is digits and punctuation; everything else — strings included
  — is bound by reference as a global of the generated module;
* comments (`describe`, `comment`) hold printable ASCII only, so nothing in one can end
  its line; strings and names in them are shown only when they are short and made of
  safe characters, else as ``<str>`` or ``?``.

`check_source` verifies the result before it is compiled: the code part of every line
(before its comment) is made of identifiers, numbers and operators only — no quote, no
backslash — so a string from a graph could not be in it even through a future mistake.

Examples:
    >>> identifier("my_module.scale_by_impl")
    'my_module_scale_by_impl'
    >>> plain((1, None, 2.5)), plain("x"), plain(float("nan"))
    (True, False, False)
    >>> comment("a\\nb")
    'a?b'
"""

from __future__ import annotations

import functools
import keyword
import math
import re
from typing import Any

import numpy as np

from tapegrad.graph.ir import Literal, Node
from tapegrad.graph.signatures import is_param_name

Shape = tuple[int, ...]

_NOT_IDENTIFIER = re.compile(r"[^0-9A-Za-z_]")
_NOT_COMMENT = re.compile(r"[^\x20-\x7e]")
_NOT_NAME = re.compile(r"[^0-9A-Za-z_.]")
# Strings a comment shows as they are (einsum subscripts, padding modes, short names).
_SHOWN_STRING = re.compile(r"[0-9A-Za-z_,.>\- ]{0,24}")
# The code part of a generated line: names, numbers, operators; never a quote or backslash.
_CODE = re.compile(r"    [0-9A-Za-z_ ,.()\[\]=+\-*;]*")
_HEADER = "def run(args, variables):"
_SHORT = {
    "float16": "f16",
    "float32": "f32",
    "float64": "f64",
    "int32": "i32",
    "int64": "i64",
    "bool": "bool",
    "complex64": "c64",
    "complex128": "c128",
}


def identifier(prefix: str) -> str:
    """``prefix`` as an ASCII identifier that is not a keyword (``_`` for anything else).

    Args:
        prefix: A name the generator derives from a primitive's or a ufunc's name.

    Returns:
        The identifier.
    """
    name = _NOT_IDENTIFIER.sub("_", prefix)
    if not name or name[:1].isdigit() or keyword.iskeyword(name):
        name = "_" + name
    return name


def plain(value: Any) -> bool:
    """Whether ``repr(value)`` may be written into source as it is.

    True for values whose ``repr`` is made of digits and punctuation and evaluates to an
    equal value of one type: None, bools, ints of at most 64 bits, finite floats, and
    tuples and lists of them (exact types: a subclass could redefine ``repr``).
    """
    if value is None or value is True or value is False:
        return True
    if type(value) is int:
        return -(1 << 63) <= value < 1 << 64
    if type(value) is float:
        return math.isfinite(value)
    if type(value) in (tuple, list):
        return all(plain(v) for v in value)
    return False


def comment(text: str) -> str:
    """``text`` made safe for a ``#`` comment: anything but printable ASCII becomes ``?``."""
    return _NOT_COMMENT.sub("?", text)


def check_source(source: str) -> None:
    """Refuse generated source that holds anything the generator does not write itself.

    Args:
        source: The generated module.

    Raises:
        RuntimeError: a line whose code part has a character outside names, numbers and
            operators (a quote, a backslash, ...), or a comment with a non-printable
            character: an internal error of the generator, raised before compiling.

    Examples:
        >>> check_source("def run(args, variables):\\n    return [x0], []  # fine\\n")
        >>> check_source("def run(args, variables):\\n    f('x')\\n")
        Traceback (most recent call last):
        ...
        RuntimeError: compile_graph: generated line 2 holds text the generator never ...
    """
    lines = source.split("\n")
    if lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, 1):
        code, hash_mark, note = line.partition("#")
        if not (
            (number == 1 and line == _HEADER)
            or (number > 1 and _CODE.fullmatch(code) and not _NOT_COMMENT.search(note))
        ):
            raise RuntimeError(
                f"compile_graph: generated line {number} holds text the "
                f"generator never writes: {line[:200]!r}"
            )


def aval(shape: Shape, dtype: Any) -> str:
    """``f32[2,3]``: a value's dtype and shape as the printer shows them."""
    return f"{_short_dtype(dtype)}[{','.join(str(int(d)) for d in shape)}]"


@functools.lru_cache(maxsize=256)
def _short_dtype(dtype: Any) -> str:
    # (dtype.name is computed in Python by NumPy: slow enough to matter per generated line)
    name = np.dtype(dtype).name
    return _SHORT.get(name, name)


def describe(node: Node, names: dict[int, str]) -> str:
    """The node as the graph printer shows it, for a comment (params abbreviated).

    Args:
        node: A graph node.
        names: The generator's value names.

    Returns:
        One line of printable ASCII, e.g. ``t1:f32[2] = sum[axis=(1,), keepdims=False] t0``.
    """
    outs = " ".join(
        f"{names[o]}:{aval(s, d)}"
        for o, s, d in zip(node.outputs, node.shapes, node.dtypes, strict=True)
    )
    params = ", ".join(
        f"{k if is_param_name(k) else '?'}={_short(v)}" for k, v in node.params.items()
    )
    args = [_short(a.value) if isinstance(a, Literal) else names[a] for a in node.inputs]
    call = _NOT_NAME.sub("?", node.primitive) + (f"[{params}]" if params else "")
    return comment(f"{outs} = {' '.join([call, *args])}")


def _short(value: Any) -> str:
    text = _render(value, 0)
    return text if len(text) <= 30 else text[:27] + "..."


def _render(value: Any, depth: int) -> str:
    if depth > 3:
        return "..."
    if isinstance(value, np.ndarray):
        return aval(value.shape, value.dtype)
    if isinstance(value, np.generic):
        value = value.item()
    if plain(value) and not isinstance(value, tuple | list):
        return repr(value)
    if type(value) is float or type(value) is complex:
        return repr(value)  # nan, inf, (1+2j): digits and letters only
    if type(value) is str:
        return repr(value) if _SHOWN_STRING.fullmatch(value) else "<str>"
    if isinstance(value, tuple | list):
        inner = ", ".join(_render(v, depth + 1) for v in value)
        if isinstance(value, list):
            return f"[{inner}]"
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, slice):
        parts = [_render(p, depth + 1) for p in (value.start, value.stop, value.step)]
        return f"slice({', '.join(parts)})"
    if value is Ellipsis:
        return "..."
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    return f"<{_NOT_NAME.sub('?', type(value).__name__)}>"


__all__ = ["aval", "check_source", "comment", "describe", "identifier", "plain"]

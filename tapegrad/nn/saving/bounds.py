"""Size bounds for loading: what a file declares is checked before anything is allocated.

A config can ask for any size (``units: 2**31``, an ``Input`` of a terabyte); the loader
checks every size field of every layer config (and every ``shape`` and sizing param in
a Lambda graph) against ``max_tensor_elements`` before any layer is built, and while the
model is rebuilt each weight any layer creates (sublayers too, through
`Layer.add_weight`'s ``WEIGHT_CHECK``) is checked against that bound and, in total,
against the number of values the archive stores (a genuine archive stores every weight
the model creates, so nothing larger can load anyway).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

from tapegrad.nn.layers.base import WEIGHT_CHECK, Layer
from tapegrad.nn.saving.archive import ArchiveError

#: Default bound on the elements of any one weight, input or size a loaded file declares
#: (2**28 values: 1 GiB of float32). ``load_model(..., max_tensor_elements=...)`` raises it.
MAX_TENSOR_ELEMENTS = 1 << 28

# Layer config fields that size a weight or an activation: an int or a list of ints.
_SIZE_FIELDS = (
    "units",
    "filters",
    "kernel_size",
    "strides",
    "pool_size",
    "dilation_rate",
    "input_dim",
    "output_dim",
    "num_heads",
    "key_dim",
    "value_dim",
)
# Layer config fields holding a shape (a list of ints, None for unknown axes; -1 allowed
# in ``target_shape``).
_SHAPE_FIELDS = (
    "shape",
    "batch_shape",
    "input_shape",
    "batch_input_shape",
    "build_input_shape",
    "target_shape",
)


def check_config_sizes(document: Any, limit: int, where: str = "config.json") -> None:
    """Refuse any size field of the config tree (layers, nested models, Lambda graphs)
    whose value or product exceeds ``limit`` elements.

    Args:
        document: ``config.json``'s parsed document (or any part of it).
        limit: The most elements one tensor may have.
        where: The path of ``document`` in the file, for messages.

    Raises:
        ArchiveError: naming the field, its value and the limit.

    Examples:
        >>> check_config_sizes({"config": {"units": 4}}, 100)
        >>> check_config_sizes({"config": {"units": 2**31}}, 100)
        Traceback (most recent call last):
        ...
        tapegrad.nn.saving.archive.ArchiveError: config.json.config.units: 2147483648 \
exceeds the limit of 100 elements (load_model(..., max_tensor_elements=...) raises it)
    """
    for path, key, value in _walk(document, where):
        if key in _SIZE_FIELDS:
            values = value if isinstance(value, list) else [value]
            for item in values:
                if isinstance(item, int) and not isinstance(item, bool) and abs(item) > limit:
                    _refuse(f"{path}.{key}", item, limit)
            _check_product(f"{path}.{key}", values, limit)
        elif key in _SHAPE_FIELDS:
            dims = value.get("__tuple__") if isinstance(value, dict) else value
            if isinstance(dims, list):
                _check_product(f"{path}.{key}", dims, limit)
        elif key == "params" and isinstance(value, dict):
            for name, param in value.items():
                _check_param(f"{path}.params.{name}", param, limit)
        elif key == "arguments" and isinstance(value, dict):
            _check_arguments(f"{path}.arguments", value, limit)


def _check_arguments(where: str, arguments: Any, limit: int) -> None:
    """An op node's literal arguments (`OpLayer`) may size its result (``tile`` reps,
    ``repeat`` counts, ``one_hot`` classes, pad widths): every int, every list or tuple
    of ints (their product) and every small int array in them stays within ``limit``."""
    stack = [(arguments, where)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict) and set(value) == {"__array__", "dtype", "shape"}:
            values = value["__array__"]
            # A shape-sized int array could be reps or widths; a longer one is data.
            if isinstance(values, list) and len(values) <= 64:
                _check_param(path, values, limit)
            continue
        if isinstance(value, dict) and set(value) == {"__tuple__"}:
            value = value["__tuple__"]
        if isinstance(value, int | list):
            _check_param(path, value, limit)
        if isinstance(value, list):
            stack.extend((item, f"{path}[{k}]") for k, item in enumerate(value))
        elif isinstance(value, dict):
            stack.extend((item, f"{path}.{key}") for key, item in value.items())


def _check_param(where: str, value: Any, limit: int) -> None:
    """A graph node's param (``reps``, ``pad_width``, ``shape``, ``stop``, ...) may size
    the node's result before the graph verifier compares it with the record: every int
    in it, the product of a tuple of ints and the product of the sums of a tuple of int
    pairs (pad widths) stay within ``limit``."""
    plain = _plain_ints(value)
    if isinstance(plain, int):
        if abs(plain) > limit:
            _refuse(where, plain, limit)
    elif isinstance(plain, list) and plain and all(isinstance(v, int) for v in plain):
        for item in plain:
            if abs(item) > limit:
                _refuse(where, item, limit)
        _check_product(where, plain, limit)
    elif (
        isinstance(plain, list)
        and plain
        and all(isinstance(v, list) and all(isinstance(i, int) for i in v) for v in plain)
    ):
        for inner in plain:
            for item in inner:
                if abs(item) > limit:
                    _refuse(where, item, limit)
        _check_product(where, [sum(abs(i) for i in inner) + 1 for inner in plain], limit)


def _plain_ints(value: Any, depth: int = 0) -> Any:
    """An int, or nested lists of ints, with the encoder's ``{"__tuple__": [...]}``
    unwrapped; None for anything else."""
    if depth > 3:
        return None
    if isinstance(value, dict) and set(value) == {"__tuple__"}:
        value = value["__tuple__"]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, list):
        items = [_plain_ints(v, depth + 1) for v in value]
        return None if any(i is None for i in items) else items
    return None


def _check_product(where: str, dims: list[Any], limit: int) -> None:
    sizes = [d for d in dims if isinstance(d, int) and not isinstance(d, bool) and d > 0]
    if len(sizes) > 64:
        raise ArchiveError(f"{where}: {len(sizes)} axes (at most 64)")
    total = math.prod(sizes)
    if total > limit:
        _refuse(where, dims if len(repr(dims)) < 200 else f"{total} elements", limit)


def _refuse(where: str, value: Any, limit: int) -> None:
    raise ArchiveError(
        f"{where}: {value} exceeds the limit of {limit} elements "
        "(load_model(..., max_tensor_elements=...) raises it)"
    )


def _walk(value: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """Every ``(path of the object, key, value)`` of nested objects, without recursion
    (a deeply nested file must not exhaust the stack)."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                yield where, str(key), child
                stack.append((child, f"{where}.{key}"))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{k}]") for k, child in enumerate(item))


class WeightBudget:
    """Counts the weights layers create while a model is rebuilt, refusing one over the
    per-tensor limit or past the total the archive stores, before it is allocated.

    While `checking` is active (in this thread or task), every `Layer.add_weight` — also
    of sublayers a layer creates in its ``build`` — asks `charge` first.
    """

    def __init__(self, per_tensor: int, total: int) -> None:
        self.per_tensor = per_tensor
        self.total = total
        self.used = 0

    @contextlib.contextmanager
    def checking(self) -> Iterator[None]:
        """Check every weight created inside the block."""
        token = WEIGHT_CHECK.set(self._check)
        try:
            yield
        finally:
            WEIGHT_CHECK.reset(token)

    def _check(self, layer: Layer, shape: tuple[int, ...]) -> None:
        self.charge(shape, f"layer '{layer.name}' ({type(layer).__name__})")

    def charge(self, shape: Any, who: str) -> None:
        """Count a weight of ``shape`` for ``who``; raise when it breaks a bound."""
        try:
            dims = [int(d) for d in (shape or ())]
        except (TypeError, ValueError, OverflowError) as err:
            raise ArchiveError(f"{who}: a weight of shape {shape!r}: {err}") from err
        size = math.prod(max(d, 0) for d in dims)
        if size > self.per_tensor:
            raise ArchiveError(
                f"{who}: a weight of shape {tuple(dims)} exceeds the limit of "
                f"{self.per_tensor} elements (load_model(..., "
                "max_tensor_elements=...) raises it)"
            )
        self.used += size
        if self.used > self.total:
            raise ArchiveError(
                f"{who}: a weight of shape {tuple(dims)} brings the model to "
                f"{self.used} weight values, more than the {self.total} the "
                "archive stores"
            )

"""OpLayer: an op or Python operator applied to symbolic tensors, as a graph node.

``x + inputs``, ``x[:, 0]`` or ``ops.mean(x, axis=1)`` on KerasTensors (Keras 3's functional
API) each make one `OpLayer`: it holds the op's public name and the call's literal
arguments, with the symbolic tensors as slots filled at run time. Its output shapes are
found by running the op on zeros twice, with two batch sizes: the axes that change are
unknown (``None``), whatever position the batch axis ends up in.

Saved configs name the op (``tapegrad.numpy.mean``, ``operator.getitem``) and encode the
literals as tagged JSON; loading resolves the name in the fixed registry of tapegrad's
public ops (`tapegrad.symbolic.lookup_op`) and decodes only plain values, so a file
never makes tapegrad import or run anything else.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad.nn.layers.base import Layer, unique_name
from tapegrad.nn.layers.keras_tensor import (
    PROBE_BATCH,
    PROBE_BATCH_AGAIN,
    PROBE_LENGTH,
    PROBE_LENGTH_AGAIN,
    KerasTensor,
    Node,
    flatten,
    map_structure,
)
from tapegrad.symbolic import lookup_op, op_name

# Keras 3's names of the nodes Python operators make.
_OPERATOR_NAMES = {
    "operator.add": "add",
    "operator.sub": "subtract",
    "operator.mul": "multiply",
    "operator.truediv": "divide",
    "operator.floordiv": "floor_divide",
    "operator.mod": "mod",
    "operator.pow": "power",
    "operator.matmul": "matmul",
    "operator.neg": "negative",
    "operator.pos": "positive",
    "operator.abs": "absolute",
    "operator.invert": "invert",
    "operator.and_": "bitwise_and",
    "operator.or_": "bitwise_or",
    "operator.xor": "bitwise_xor",
    "operator.lt": "less",
    "operator.le": "less_equal",
    "operator.gt": "greater",
    "operator.ge": "greater_equal",
    "operator.eq": "equal",
    "operator.ne": "not_equal",
    "operator.getitem": "get_item",
}
# Ops answered from a KerasTensor's static facts (Keras: ``ops.shape(x)`` is ``x.shape``).
_STATIC = {
    "shape": lambda x: x.shape,
    "ndim": lambda x: x.ndim,
    "dtype": lambda x: x.dtype.name,
}
# Arrays kept in a config as literals up to this many elements (larger: a layer weight).
_MAX_LITERAL_SIZE = 65536
# The sizes of unknown axes in the two shape probes: (batch axis, other axes).
_PROBES = ((PROBE_BATCH, PROBE_LENGTH), (PROBE_BATCH_AGAIN, PROBE_LENGTH_AGAIN))


class _Slot:
    """Where the ``index``-th symbolic input goes in an op's arguments."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class OpLayer(Layer):
    """A public op applied to symbolic tensors: a node of a functional model.

    Made automatically when a tapegrad op or Python operator meets a KerasTensor (as
    Keras 3 records an ``Operation``); it has no weights and, as in Keras, is listed in
    ``model.operations`` and the summary but not in ``model.layers``.

    Args:
        op: The op's public name, e.g. ``"tapegrad.numpy.mean"`` or ``"operator.add"``.
        arguments: The call's arguments as saved by `get_config` (tagged JSON).
        name: Layer name (default: the op's name).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> inputs = tg.Input(shape=(3,))
        >>> outputs = tg.ops.sum(inputs * 2.0, axis=-1)
        >>> model = tg.Model(inputs, outputs)
        >>> [type(op).__name__ for op in model.operations]
        ['InputLayer', 'OpLayer', 'OpLayer']
        >>> model(np.ones((2, 3), np.float32)).numpy()
        array([6., 6.], dtype=float32)
    """

    _check_input_shape = False

    def __init__(
        self,
        op: str,
        arguments: dict[str, Any] | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._fn = lookup_op(op)
        self.op = op
        given = arguments is not None
        arguments = {"args": [], "kwargs": {}} if arguments is None else arguments
        if not isinstance(arguments, dict) or set(arguments) != {"args", "kwargs"}:
            raise ValueError(
                f"OpLayer '{op}': arguments must be a dict with keys 'args' and 'kwargs', "
                f"got {arguments!r}"[:300]
            )
        where = f"OpLayer '{op}'"
        if not isinstance(arguments["args"], list) or not isinstance(arguments["kwargs"], dict):
            raise ValueError(f"{where}: 'args' must be a list and 'kwargs' a dict")
        args = decode_literal(arguments["args"], where)
        call_kwargs = {str(k): decode_literal(v, where) for k, v in arguments["kwargs"].items()}
        if given:
            slots: list[int] = []
            _fill(
                [args, call_kwargs], lambda v: slots.append(v.index) if isinstance(v, _Slot) else v
            )
            if not slots or sorted(slots) != list(range(len(slots))):
                # A node computes from symbolic inputs: never an op run on literals alone.
                raise ValueError(
                    f"{where}: the arguments must hold the symbolic inputs as slots 0..n-1, "
                    f"got slots {sorted(slots)}"
                )
        super().__init__(name=name or unique_name(short_name(op)), **kwargs)
        self._args_template = args
        self._kwargs_template = call_kwargs
        self.built = True

    @classmethod
    def for_call(cls, op: Any, args: list[Any], kwargs: dict[str, Any]) -> OpLayer:
        """The node of ``op(*args, **kwargs)``; symbolic inputs are `_Slot`s already."""
        layer = cls(op_name(op))
        layer._args_template = args
        layer._kwargs_template = kwargs
        return layer

    @property
    def summary_type(self) -> str:
        """The op in Keras' summary style (``Mean``, ``GetItem``)."""
        return "".join(part.capitalize() for part in short_name(self.op).split("_"))

    def call(self, inputs: list[Any]) -> Any:
        def fill(value: Any) -> Any:
            return inputs[value.index] if isinstance(value, _Slot) else value

        args = [_fill(a, fill) for a in self._args_template]
        kwargs = {k: _fill(v, fill) for k, v in self._kwargs_template.items()}
        return self._fn(*args, **kwargs)

    def _call_symbolic(self, inputs: Any, rest: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Record the node; output shapes from runs on zeros with two batch sizes."""
        if not isinstance(inputs, list) or rest or kwargs:
            raise ValueError(
                f"OpLayer '{self.name}' ({self.op}): call it with one list of symbolic "
                f"tensors (its slots), got {type(inputs).__name__}"
            )
        with np.errstate(all="ignore"):  # zeros make log/divide warn; only shapes matter
            outputs = self(_probe(inputs, _PROBES[0]))
            try:
                second: list[Any] | None = flatten(self(_probe(inputs, _PROBES[1])))
            except Exception:  # an op fixing the batch size: keep the first probe's axis
                second = None
        first = flatten(outputs)
        node_index = len(self._inbound_nodes)
        symbolic = []
        for i, out in enumerate(first):
            shape = tuple(np.shape(out))
            other = tuple(np.shape(second[i])) if second and len(second) == len(first) else None
            if other is not None and len(other) == len(shape):
                shape = tuple(None if a != b else a for a, b in zip(shape, other, strict=True))
            elif shape:
                shape = (None,) + shape[1:]
            dtype = out.dtype if hasattr(out, "dtype") else np.result_type(out)
            name = f"{self.name}/out{i}" if len(first) > 1 else self.name
            symbolic.append(KerasTensor(shape, dtype, history=(self, node_index, i), name=name))
        self._inbound_nodes.append(Node(self, inputs, symbolic, {}))
        iterator = iter(symbolic)
        return map_structure(lambda _: next(iterator), outputs)

    def get_config(self) -> dict[str, Any]:
        """The op's name and its literal arguments (symbolic inputs as slots)."""
        where = f"OpLayer '{self.name}' ({self.op})"
        return {
            "name": self.name,
            "trainable": self.trainable,
            "op": self.op,
            "arguments": {
                "args": encode_literal(self._args_template, where),
                "kwargs": {k: encode_literal(v, where) for k, v in self._kwargs_template.items()},
            },
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> OpLayer:
        """Rebuild from `get_config` output (the op looked up in the fixed registry)."""
        config = dict(config)
        config.pop("dtype", None)
        return cls(**config)


def symbolic_call(op: Any, args: Any, kwargs: Any) -> Any:
    """``op(*args, **kwargs)`` on symbolic tensors: a new `OpLayer` node, its output.

    Args:
        op: A public op (wrapped by `tapegrad.symbolic`) or a Python operator.
        args: The call's positional arguments (KerasTensors anywhere inside).
        kwargs: Its keyword arguments.

    Returns:
        The KerasTensor(s) of the node's outputs.
    """
    name = op_name(op)
    static = _STATIC.get(name.rsplit(".", 1)[-1])
    if static is not None and len(args) == 1 and not kwargs and isinstance(args[0], KerasTensor):
        return static(args[0])  # known without a node, as Keras answers them
    inputs: list[KerasTensor] = []

    def take(value: Any) -> Any:
        if isinstance(value, KerasTensor):
            inputs.append(value)
            return _Slot(len(inputs) - 1)
        return value

    args_template = [_fill(a, take) for a in args]
    kwargs_template = {k: _fill(v, take) for k, v in kwargs.items()}
    layer = OpLayer.for_call(op, args_template, kwargs_template)
    try:
        return layer(inputs)
    except (ValueError, TypeError, IndexError) as err:
        shapes = ", ".join(str(x.shape) for x in inputs)
        # Same type, the op and the symbolic shapes first (the probes' sizes show in the message).
        raise type(err)(f"{name} on symbolic tensors of shapes {shapes}: {err}") from err


def short_name(op: str) -> str:
    """The node name of an op: Keras' for operators, else the function's name."""
    return _OPERATOR_NAMES.get(op) or op.rsplit(".", 1)[-1]


def _fill(value: Any, leaf: Any) -> Any:
    if isinstance(value, list):
        return [_fill(v, leaf) for v in value]
    if isinstance(value, tuple):
        return tuple(_fill(v, leaf) for v in value)
    if isinstance(value, dict):
        return {k: _fill(v, leaf) for k, v in value.items()}
    return leaf(value)


def _probe(inputs: list[Any], sizes: tuple[int, int]) -> list[Any]:
    return [tg.tensor(x.zeros(*sizes)) if isinstance(x, KerasTensor) else x for x in inputs]


# -- literal arguments as tagged JSON --------------------------------------------------------
def encode_literal(value: Any, where: str) -> Any:
    """A call argument as JSON: plain values as is, the rest tagged.

    Args:
        value: A literal (numbers, strings, None, lists, tuples, dicts, slices, ``...``,
            dtypes, NumPy scalars and small arrays, constant Tensors) or a slot.
        where: The node, for error messages.

    Returns:
        A JSON-compatible value.

    Examples:
        >>> encode_literal((slice(None), 0), "x")
        {'__tuple__': [{'__slice__': [None, None, None]}, 0]}
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, _Slot):
        return {"__tensor__": value.index}
    if isinstance(value, list):
        return [encode_literal(v, where) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [encode_literal(v, where) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: encode_literal(v, where) for k, v in value.items()}}
    if isinstance(value, slice):
        parts = [value.start, value.stop, value.step]
        return {"__slice__": [encode_literal(v, where) for v in parts]}
    if value is Ellipsis:
        return {"__ellipsis__": True}
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return {"__dtype__": np.dtype(value).name}
    if isinstance(value, tg.Variable):
        raise ValueError(
            f"{where}: a Variable ('{value.name}') used in an op on symbolic tensors cannot "
            "be saved in a config; make it a weight of a layer"
        )
    if isinstance(value, np.generic | np.ndarray | tg.Tensor):
        array = np.asarray(value)
        if array.dtype.kind not in "biufc" or array.size > _MAX_LITERAL_SIZE:
            raise ValueError(
                f"{where}: a constant array of dtype {array.dtype} and {array.size} elements "
                f"cannot be saved in a config (numbers, at most {_MAX_LITERAL_SIZE}); make it "
                "a weight of a layer"
            )
        return {"__array__": array.tolist(), "dtype": array.dtype.name, "shape": list(array.shape)}
    raise ValueError(
        f"{where}: an argument of type {type(value).__name__} cannot be saved in a config "
        "(numbers, strings, None, lists, tuples, dicts, slices, dtypes and arrays can)"
    )


def decode_literal(value: Any, where: str) -> Any:
    """The inverse of `encode_literal`, accepting only what it produces.

    Args:
        value: Tagged JSON from a config.
        where: The node, for error messages.

    Returns:
        The literal (slots for the symbolic inputs).

    Examples:
        >>> decode_literal({"__tuple__": [{"__slice__": [None, 2, None]}]}, "x")
        (slice(None, 2, None),)
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [decode_literal(v, where) for v in value]
    if isinstance(value, _Slot):  # (in-memory templates pass through)
        return value
    if not isinstance(value, dict) or len(value) == 0:
        raise ValueError(f"{where}: unexpected argument {value!r}"[:300])
    tag = next(iter(value))
    body = value[tag]
    if tag == "__tensor__" and len(value) == 1 and _is_index(body):
        return _Slot(body)
    if tag == "__tuple__" and len(value) == 1 and isinstance(body, list):
        return tuple(decode_literal(v, where) for v in body)
    if tag == "__dict__" and len(value) == 1 and isinstance(body, dict):
        return {str(k): decode_literal(v, where) for k, v in body.items()}
    if tag == "__slice__" and len(value) == 1 and isinstance(body, list) and len(body) == 3:
        start, stop, step = (decode_literal(v, where) for v in body)
        if all(v is None or _is_index(v) or isinstance(v, int) for v in (start, stop, step)):
            return slice(start, stop, step)
    if tag == "__ellipsis__" and len(value) == 1 and body is True:
        return Ellipsis
    if tag == "__dtype__" and len(value) == 1:
        return _plain_dtype(body, where)
    if tag == "__array__" and set(value) == {"__array__", "dtype", "shape"}:
        dtype = _plain_dtype(value["dtype"], where)
        shape = value["shape"]
        if not (isinstance(shape, list) and all(_is_index(d) for d in shape)):
            raise ValueError(f"{where}: bad array shape {shape!r}"[:300])
        if int(np.prod(shape, dtype=np.int64)) > _MAX_LITERAL_SIZE:
            raise ValueError(f"{where}: a constant array of shape {shape} is too large")
        try:
            array = np.array(body, dtype=dtype)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: bad constant array: {err}"[:300]) from err
        if list(array.shape) != shape:
            raise ValueError(f"{where}: a constant array's values do not have shape {shape}")
        return array
    raise ValueError(f"{where}: unexpected argument {value!r}"[:300])


def _is_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _plain_dtype(name: Any, where: str) -> np.dtype:
    try:
        dtype = np.dtype(name) if isinstance(name, str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "biufc":
        raise ValueError(f"{where}: unexpected dtype {name!r} (a numeric dtype name)"[:300])
    return dtype

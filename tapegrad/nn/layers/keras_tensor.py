"""KerasTensor: the symbolic tensor of the functional API, and Node, one recorded call.

A KerasTensor has a shape (batch axis ``None``), a dtype and the call that produced it. It
supports what Keras 3's does: the Python operators, indexing and every public op of
`tapegrad.numpy` / `tapegrad.ops`; each use records an op node (see
`tapegrad.nn.layers.operation`). It has no values: NumPy, ``bool()`` and iteration refuse it
with an error that says so.
"""

from __future__ import annotations

import contextlib
import contextvars
import operator
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

# (The producing layer is typed Any: base.py, which defines Layer, imports this module.)
Layer = Any

# The sizes given to unknown axes when a layer or op runs on zeros to infer symbolic output
# shapes: the batch axis, and the others (a second probe uses the ``_AGAIN`` sizes: the
# output axes that change with them are unknown too).
PROBE_BATCH = 2
PROBE_LENGTH = 64
PROBE_BATCH_AGAIN = 3
PROBE_LENGTH_AGAIN = 96
#: Set while a layer runs on zeros to infer its output shapes (`Layer` on KerasTensors):
#: True where the batch size is the inputs' own (``Input(batch_size=)``), False where the
#: probe made it up. A layer with state (a stateful RNN) neither updates it nor sizes it
#: by a made-up batch then.
PROBING: contextvars.ContextVar[bool | None] = contextvars.ContextVar("PROBING", default=None)


@contextlib.contextmanager
def probing(batch_known: bool) -> Iterator[None]:
    """Mark a shape probe (see `PROBING`); a probe inside another keeps the outer mark.

    Args:
        batch_known: Whether the probe's batch size is the inputs' own.

    Examples:
        >>> with probing(False):
        ...     PROBING.get()
        False
        >>> print(PROBING.get())
        None
    """
    token = PROBING.set(batch_known) if PROBING.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            PROBING.reset(token)


def _symbolic_value_error(what: str) -> TypeError:
    return TypeError(
        f"{what}: a KerasTensor is symbolic (a placeholder of the functional API) and has "
        "no values; call tapegrad ops or layers on it (they record graph nodes), or call "
        "the model on data"
    )


class KerasTensor:
    """A symbolic tensor of the functional API: shape (batch dimension ``None``) and dtype,
    plus the layer or op call that produced it.

    Python operators, indexing and the ops of `tapegrad.ops` / `tapegrad.numpy` applied to
    KerasTensors give KerasTensors, each recording a node of the graph (as in Keras 3).

    Args:
        shape: Shape, ``None`` for unknown axes (the batch axis).
        dtype: dtype.
        history: ``(layer, node index, output index)`` of the call producing it.
        name: Name (the Input's or the producing layer's).
        mask_rank: The rank of the mask the producing layer attaches to this output
            (Keras 3's symbolic ``_keras_mask``), or None: it has no mask.

    Examples:
        >>> import tapegrad as tg
        >>> x = tg.layers.Input(shape=(3,))
        >>> x.shape
        (None, 3)
        >>> y = tg.ops.mean(x * 2 + 1, axis=-1, keepdims=True)
        >>> y.shape, y.dtype
        ((None, 1), dtype('float32'))
        >>> x[:, 0].shape
        (None,)
    """

    # ``ndarray + KerasTensor`` defers to the reflected operator below (NumPy's protocol).
    __array_ufunc__ = None
    # Identity hashing: ``==`` records an ``equal`` node, as in Keras.
    __hash__ = object.__hash__

    def __init__(
        self,
        shape: Sequence[int | None],
        dtype: Any = "float32",
        history: tuple[Layer, int, int] | None = None,
        name: str | None = None,
        mask_rank: int | None = None,
    ) -> None:
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.ndim = len(self.shape)
        # (layer, node index in layer._inbound_nodes, output index)
        self.history = history
        self.name = name
        self.sparse = False
        self.mask_rank = mask_rank
        self._mask_tensor: KerasTensor | None = None

    @property
    def _keras_mask(self) -> KerasTensor | None:
        """The symbolic mask of this output (Keras 3's ``_keras_mask``), or None.

        It is a node of the graph (a `KerasMask` layer reading the mask the producing
        layer attaches at run time), so it can be passed on, as in
        ``Attention()([q, v], mask=[None, v._keras_mask])``. Functional models also pass
        masks from layer to layer by themselves.

        Examples:
            >>> import tapegrad as tg
            >>> tokens = tg.Input((5,), dtype="int32")
            >>> embedded = tg.layers.Embedding(10, 4, mask_zero=True)(tokens)
            >>> embedded._keras_mask.shape, embedded._keras_mask.dtype
            ((None, 5), dtype('bool'))
            >>> print(tokens._keras_mask)
            None
        """
        if self.mask_rank is None:
            return None
        if self._mask_tensor is None:
            # (core imports base, which imports this module: looked up when first needed)
            from tapegrad.nn.layers.core import KerasMask

            self._mask_tensor = KerasMask(self.mask_rank)(self)
        return self._mask_tensor

    @property
    def _keras_history(self) -> tuple[Layer, int, int] | None:
        # Keras' attribute name, read by programs that walk a functional graph.
        return self.history

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def zeros(self, batch: int = PROBE_BATCH, length: int = PROBE_LENGTH) -> np.ndarray:
        """A concrete batch of zeros with this tensor's shape.

        Args:
            batch: The size given to an unknown first (batch) axis.
            length: The size given to the other unknown axes (sequence lengths, image
                sides): large enough for the windows and strides of a conv stack.

        Returns:
            A NumPy array of zeros.

        Examples:
            >>> KerasTensor((None, None, 3)).zeros().shape
            (2, 64, 3)
        """
        shape = tuple(
            (batch if i == 0 else length) if d is None else d for i, d in enumerate(self.shape)
        )
        return np.zeros(shape, self.dtype)

    # -- symbolic calls -------------------------------------------------------------------
    @staticmethod
    def __tapegrad_symbolic_call__(op: Any, args: Any, kwargs: Any) -> Any:
        """Record ``op(*args, **kwargs)`` as a node (the protocol of tapegrad's ops)."""
        # Imported here: operation.py builds on Layer, whose module imports this one.
        from tapegrad.nn.layers.operation import symbolic_call

        return symbolic_call(op, args, kwargs)

    def _op(self, op: Any, *args: Any) -> KerasTensor:
        return self.__tapegrad_symbolic_call__(op, args, {})  # type: ignore[no-any-return]

    @property
    def T(self) -> KerasTensor:  # noqa: N802  (NumPy's name)
        """The transpose (all axes reversed), as a node."""
        import tapegrad.numpy as tnp

        return self._op(tnp.transpose, self)

    # -- Python operators: one node each --------------------------------------------------
    def __add__(self, other: Any) -> KerasTensor:
        return self._op(operator.add, self, other)

    def __radd__(self, other: Any) -> KerasTensor:
        return self._op(operator.add, other, self)

    def __sub__(self, other: Any) -> KerasTensor:
        return self._op(operator.sub, self, other)

    def __rsub__(self, other: Any) -> KerasTensor:
        return self._op(operator.sub, other, self)

    def __mul__(self, other: Any) -> KerasTensor:
        return self._op(operator.mul, self, other)

    def __rmul__(self, other: Any) -> KerasTensor:
        return self._op(operator.mul, other, self)

    def __truediv__(self, other: Any) -> KerasTensor:
        return self._op(operator.truediv, self, other)

    def __rtruediv__(self, other: Any) -> KerasTensor:
        return self._op(operator.truediv, other, self)

    def __floordiv__(self, other: Any) -> KerasTensor:
        return self._op(operator.floordiv, self, other)

    def __rfloordiv__(self, other: Any) -> KerasTensor:
        return self._op(operator.floordiv, other, self)

    def __mod__(self, other: Any) -> KerasTensor:
        return self._op(operator.mod, self, other)

    def __rmod__(self, other: Any) -> KerasTensor:
        return self._op(operator.mod, other, self)

    def __pow__(self, other: Any) -> KerasTensor:
        return self._op(operator.pow, self, other)

    def __rpow__(self, other: Any) -> KerasTensor:
        return self._op(operator.pow, other, self)

    def __matmul__(self, other: Any) -> KerasTensor:
        return self._op(operator.matmul, self, other)

    def __rmatmul__(self, other: Any) -> KerasTensor:
        return self._op(operator.matmul, other, self)

    def __neg__(self) -> KerasTensor:
        return self._op(operator.neg, self)

    def __pos__(self) -> KerasTensor:
        return self._op(operator.pos, self)

    def __abs__(self) -> KerasTensor:
        return self._op(operator.abs, self)

    def __invert__(self) -> KerasTensor:
        return self._op(operator.invert, self)

    def __and__(self, other: Any) -> KerasTensor:
        return self._op(operator.and_, self, other)

    def __rand__(self, other: Any) -> KerasTensor:
        return self._op(operator.and_, other, self)

    def __or__(self, other: Any) -> KerasTensor:
        return self._op(operator.or_, self, other)

    def __ror__(self, other: Any) -> KerasTensor:
        return self._op(operator.or_, other, self)

    def __xor__(self, other: Any) -> KerasTensor:
        return self._op(operator.xor, self, other)

    def __rxor__(self, other: Any) -> KerasTensor:
        return self._op(operator.xor, other, self)

    def __lt__(self, other: Any) -> KerasTensor:
        return self._op(operator.lt, self, other)

    def __le__(self, other: Any) -> KerasTensor:
        return self._op(operator.le, self, other)

    def __gt__(self, other: Any) -> KerasTensor:
        return self._op(operator.gt, self, other)

    def __ge__(self, other: Any) -> KerasTensor:
        return self._op(operator.ge, self, other)

    def __eq__(self, other: Any) -> KerasTensor:  # type: ignore[override]
        return self._op(operator.eq, self, other)

    def __ne__(self, other: Any) -> KerasTensor:  # type: ignore[override]
        return self._op(operator.ne, self, other)

    def __getitem__(self, index: Any) -> KerasTensor:
        return self._op(operator.getitem, self, index)

    # -- no values ------------------------------------------------------------------------
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise _symbolic_value_error("numpy.asarray(KerasTensor)")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        raise _symbolic_value_error(f"numpy.{getattr(func, '__name__', func)}")

    def __bool__(self) -> bool:
        raise _symbolic_value_error("bool(KerasTensor) (an `if` or `and` on a KerasTensor)")

    def __iter__(self) -> Any:
        raise _symbolic_value_error("iterating over a KerasTensor")

    def __float__(self) -> float:
        raise _symbolic_value_error("float(KerasTensor)")

    def __int__(self) -> int:
        raise _symbolic_value_error("int(KerasTensor)")

    def numpy(self) -> np.ndarray:
        """Refused: a KerasTensor has no values (call the model on data)."""
        raise _symbolic_value_error("KerasTensor.numpy()")


class Node:
    """One call of a layer in a functional graph: its input and output KerasTensors.

    ``inputs`` is the call's first argument; ``call_args`` its other positional arguments
    and ``call_kwargs`` its keyword arguments, where symbolic tensors may appear too
    (``TransformerDecoder()(x, encoder_outputs)``).
    """

    def __init__(
        self,
        layer: Layer,
        inputs: Any,
        outputs: list[KerasTensor],
        call_kwargs: dict[str, Any],
        call_args: tuple[Any, ...] = (),
    ) -> None:
        self.layer = layer
        self.inputs = inputs  # the nested structure the layer was called with
        self.outputs = outputs
        self.call_kwargs = call_kwargs
        self.call_args = tuple(call_args)
        # Whether replaying the call must fill symbolic tensors into the other arguments.
        self.symbolic_arguments = any(
            isinstance(x, KerasTensor) for x in flatten([list(call_args), call_kwargs])
        )

    @property
    def flat_inputs(self) -> list[KerasTensor]:
        """The symbolic tensors among the call's arguments, in flattening order."""
        every = [self.inputs, list(self.call_args), self.call_kwargs]
        return [x for x in flatten(every) if isinstance(x, KerasTensor)]


def flatten(structure: Any) -> list[Any]:
    """The leaves of nested lists, tuples and dicts (dicts by sorted key, as keras.tree).

    Args:
        structure: A nested structure.

    Returns:
        Its leaves, in order.

    Examples:
        >>> flatten({"b": 1, "a": [2, (3,)]})
        [2, 3, 1]
    """
    # core's tree_flatten without the tree definition, which every layer call would pay for.
    if isinstance(structure, list | tuple):
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in flatten(structure[key])]
    return [structure]


def map_structure(func: Any, structure: Any) -> Any:
    """``func`` applied to every leaf of nested lists, tuples and dicts.

    Args:
        func: Called on each leaf.
        structure: A nested structure.

    Returns:
        The same structure with the results.

    Examples:
        >>> map_structure(lambda v: v * 10, {"a": [1, (2,)]})
        {'a': [10, (20,)]}
    """
    if isinstance(structure, list):
        return [map_structure(func, s) for s in structure]
    if isinstance(structure, tuple):
        return tuple(map_structure(func, s) for s in structure)
    if isinstance(structure, dict):
        return {k: map_structure(func, v) for k, v in structure.items()}
    return func(structure)

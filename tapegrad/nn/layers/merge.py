"""Merge layers: combine a list of tensors (Keras 3 ``keras.layers.Add`` and friends).

Elementwise merges (`Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`) need
equal batch sizes; the other axes must be equal or broadcastable, aligned from the right
(a lower-rank input gets size-1 axes after its batch axis, as in Keras). The lower-case
functions (`add`, `concatenate`, ...) are Keras' one-call forms.

Examples:
    >>> import tapegrad as tg
    >>> a, b = tg.layers.Input(shape=(3,)), tg.layers.Input(shape=(3,))
    >>> tg.layers.concatenate([a, tg.layers.add([a, b])]).shape
    (None, 6)
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any

import tapegrad.numpy as tnp
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.validation import check_bool, check_int, layer_owner

# Smallest norm `Dot(normalize=True)` divides by (Keras' backend epsilon).
_NORM_EPSILON = 1e-7


def _describe(shapes: list[tuple[Any, ...]]) -> str:
    return ", ".join(str(tuple(s)) for s in shapes)


class Merge(Layer):
    """Base class of the merge layers: validates the list of inputs, then merges it.

    Subclasses implement ``_merge_function(inputs)`` and may override ``_check_shapes_of``.
    """

    # Keras 3: the output's mask combines the inputs' (compute_mask).
    supports_masking = True

    # A merge layer takes a list: `call` checks the shapes of every call itself.
    _check_input_shape = False
    _num_inputs: int | None = None  # exact count, where the layer needs one

    def call(self, inputs: Any) -> Any:
        if not isinstance(inputs, list | tuple):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': a merge layer must be called on a "
                f"list of tensors, got a single input of shape {tuple(shape_of(inputs))}"
            )
        missing = [i for i, x in enumerate(inputs) if x is None]
        if missing:
            raise TypeError(
                f"{layer_owner(self)}: inputs {missing} of the list are None; expected tensors"
            )
        inputs = [tnp.asarray(x) for x in inputs]
        shapes = [tuple(shape_of(x)) for x in inputs]
        if self._num_inputs is not None and len(inputs) != self._num_inputs:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': needs exactly {self._num_inputs} "
                f"inputs, got {len(inputs)} (shapes {_describe(shapes)})"
            )
        if not inputs:
            raise ValueError(f"{type(self).__name__} '{self.name}': got an empty list of inputs")
        self._check_shapes_of(shapes)
        return self._merge_function(inputs)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """Keras' merged mask: where every input has one, their logical OR, else None."""
        masks = _input_masks(self, inputs, mask)
        if masks is None or any(m is None for m in masks):
            return None
        output = tnp.asarray(masks[0])
        for m in masks[1:]:
            output = tnp.logical_or(output, m)
        return output

    def _check_shapes_of(self, shapes: list[tuple[Any, ...]]) -> None:
        """Equal batch sizes; the other axes broadcast from the right."""
        if any(len(s) == 0 for s in shapes) or len({s[0] for s in shapes}) > 1:
            self._incompatible(shapes, "the batch sizes differ")
        output: tuple[int, ...] = ()
        for shape in shapes:
            rest = shape[1:]
            if len(rest) > len(output):
                output, rest = rest, output
            head, tail = output[: len(output) - len(rest)], output[len(output) - len(rest) :]
            merged = []
            for i, j in zip(tail, rest, strict=True):
                if i != j and 1 not in (i, j):
                    self._incompatible(shapes, "the non-batch axes must be equal or 1")
                merged.append(j if i == 1 else i)
            output = head + tuple(merged)

    def _incompatible(self, shapes: list[tuple[Any, ...]], reason: str) -> None:
        raise ValueError(
            f"{type(self).__name__} '{self.name}': cannot merge inputs of shapes "
            f"{_describe(shapes)}: {reason}"
        )

    def _merge_function(self, inputs: list[Any]) -> Any:
        raise NotImplementedError(f"{type(self).__name__}._merge_function is not implemented")

    @staticmethod
    def _aligned(inputs: list[Any]) -> list[Any]:
        """Lower-rank inputs get size-1 axes right after the batch axis (Keras' rule)."""
        rank = max(tnp.ndim(x) for x in inputs)
        out = []
        for x in inputs:
            shape = tuple(shape_of(x))
            if len(shape) < rank:
                x = tnp.reshape(x, shape[:1] + (1,) * (rank - len(shape)) + shape[1:])
            out.append(x)
        return out


class Add(Merge):
    """Elementwise sum of a list of tensors.

    Examples:
        >>> import tapegrad as tg
        >>> tg.layers.Add()([tg.tensor([[1.0, 2.0]]), tg.tensor([[10.0, 20.0]])]).numpy()
        array([[11., 22.]], dtype=float32)
    """

    def _merge_function(self, inputs: list[Any]) -> Any:
        return functools.reduce(tnp.add, self._aligned(inputs))


class Subtract(Merge):
    """``inputs[0] - inputs[1]`` (exactly two inputs).

    Examples:
        >>> import tapegrad as tg
        >>> tg.layers.Subtract()([tg.tensor([[5.0, 2.0]]), tg.tensor([[1.0, 1.0]])]).numpy()
        array([[4., 1.]], dtype=float32)
    """

    _num_inputs = 2

    def _merge_function(self, inputs: list[Any]) -> Any:
        first, second = self._aligned(inputs)
        return first - second


class Multiply(Merge):
    """Elementwise product of a list of tensors.

    Examples:
        >>> import tapegrad as tg
        >>> tg.layers.Multiply()([tg.tensor([[2.0, 3.0]]), tg.tensor([[4.0, 5.0]])]).numpy()
        array([[ 8., 15.]], dtype=float32)
    """

    def _merge_function(self, inputs: list[Any]) -> Any:
        return functools.reduce(tnp.multiply, self._aligned(inputs))


class Average(Merge):
    """Elementwise mean of a list of tensors.

    Examples:
        >>> import tapegrad as tg
        >>> tg.layers.Average()([tg.tensor([[2.0, 3.0]]), tg.tensor([[4.0, 5.0]])]).numpy()
        array([[3., 4.]], dtype=float32)
    """

    def _merge_function(self, inputs: list[Any]) -> Any:
        return functools.reduce(tnp.add, self._aligned(inputs)) / float(len(inputs))


class Maximum(Merge):
    """Elementwise maximum of a list of tensors.

    Examples:
        >>> import tapegrad as tg
        >>> tg.layers.Maximum()([tg.tensor([[2.0, 7.0]]), tg.tensor([[4.0, 5.0]])]).numpy()
        array([[4., 7.]], dtype=float32)
    """

    def _merge_function(self, inputs: list[Any]) -> Any:
        return functools.reduce(tnp.maximum, self._aligned(inputs))


class Minimum(Merge):
    """Elementwise minimum of a list of tensors.

    Examples:
        >>> import tapegrad as tg
        >>> tg.layers.Minimum()([tg.tensor([[2.0, 7.0]]), tg.tensor([[4.0, 5.0]])]).numpy()
        array([[2., 5.]], dtype=float32)
    """

    def _merge_function(self, inputs: list[Any]) -> Any:
        return functools.reduce(tnp.minimum, self._aligned(inputs))


class Concatenate(Merge):
    """Concatenates a list of tensors along ``axis``.

    Args:
        axis: The concatenation axis; the inputs' other axes must be equal.

    Examples:
        >>> import tapegrad as tg
        >>> layer = tg.layers.Concatenate()
        >>> layer([tg.tensor([[1.0, 2.0]]), tg.tensor([[3.0]])]).numpy()
        array([[1., 2., 3.]], dtype=float32)
    """

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = check_int(layer_owner(self), "axis", axis)

    def _check_shapes_of(self, shapes: list[tuple[Any, ...]]) -> None:
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes) or not -rank <= self.axis < rank:
            self._mismatch(shapes)
        axis = self.axis % rank
        drop = [s[:axis] + s[axis + 1 :] for s in shapes]
        if any(d != drop[0] for d in drop):
            self._mismatch(shapes)

    def _mismatch(self, shapes: list[tuple[Any, ...]]) -> None:
        raise ValueError(
            f"Concatenate '{self.name}': inputs must have the same rank and the same shape "
            f"except on the concatenation axis {self.axis}, got shapes {_describe(shapes)}"
        )

    def _merge_function(self, inputs: list[Any]) -> Any:
        return tnp.concatenate(inputs, axis=self.axis)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """Keras': the inputs' masks (all True for an unmasked input) concatenated like
        the inputs, then any over the last axis; None when no input has a mask."""
        masks = _input_masks(self, inputs, mask)
        if masks is None or all(m is None for m in masks):
            return None
        full = []
        for x, m in zip(inputs, masks, strict=True):
            x = tnp.asarray(x)
            if m is None:
                m = tnp.ones_like(x, dtype=bool)
            elif tnp.ndim(m) < tnp.ndim(x):
                m = tnp.logical_or(tnp.expand_dims(m, -1), tnp.zeros_like(x, dtype=bool))
            full.append(tnp.asarray(m, dtype=bool))
        return tnp.any(tnp.concatenate(full, axis=self.axis), axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


def _input_masks(layer: Merge, inputs: Any, mask: Any) -> list[Any] | None:
    if mask is None:
        return None
    if not isinstance(mask, list | tuple) or not isinstance(inputs, list | tuple):
        raise ValueError(f"{layer_owner(layer)}: mask must be a list like the inputs, got {mask}")
    if len(mask) != len(inputs):
        raise ValueError(f"{layer_owner(layer)}: got {len(mask)} masks for {len(inputs)} inputs")
    return list(mask)


class Dot(Merge):
    """Per-sample dot product of two tensors along ``axes`` (Keras' ``batch_dot``).

    For inputs of shapes ``(b, *xs)`` and ``(b, *ys)`` the output has the shape ``(b,)``
    plus ``xs`` without the first axis and ``ys`` without the second axis; a result with
    only the batch axis becomes ``(b, 1)``.

    Args:
        axes: The contracted axis of both inputs, or a pair ``(axis of the first input,
            axis of the second)``; never the batch axis 0.
        normalize: L2-normalize both inputs along their axes first (the output is then
            the cosine similarity).

    Examples:
        >>> import tapegrad as tg
        >>> x = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> tg.layers.Dot(axes=1)([x, x]).numpy()
        array([[ 5.],
               [25.]], dtype=float32)
    """

    _num_inputs = 2

    def __init__(
        self, axes: int | tuple[int, int] | list[int], normalize: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(axes, list | tuple):
            if len(axes) != 2 or not all(
                isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axes
            ):
                raise ValueError(
                    f"Dot '{self.name}': axes must be an int or two ints, got {axes!r}"
                )
            self.axes: int | list[int] = [int(a) for a in axes]
        elif isinstance(axes, numbers.Integral) and not isinstance(axes, bool):
            self.axes = int(axes)
        else:
            raise TypeError(f"Dot '{self.name}': axes must be an int or two ints, got {axes!r}")
        self.normalize = check_bool(layer_owner(self), "normalize", normalize)

    def _resolved_axes(self, shapes: list[tuple[Any, ...]]) -> list[int]:
        pair = self.axes if isinstance(self.axes, list) else [self.axes, self.axes]
        resolved = []
        for axis, shape in zip(pair, shapes, strict=True):
            if not -len(shape) <= axis < len(shape) or axis % len(shape) == 0:
                raise ValueError(
                    f"Dot '{self.name}': axes {self.axes} must name a non-batch axis of "
                    f"each input, got shapes {_describe(shapes)}"
                )
            resolved.append(axis % len(shape))
        return resolved

    def _check_shapes_of(self, shapes: list[tuple[Any, ...]]) -> None:
        a0, a1 = self._resolved_axes(shapes)
        first, second = shapes
        if first[0] != second[0]:
            self._incompatible(shapes, "the batch sizes differ")
        if first[a0] != second[a1]:
            self._incompatible(
                shapes,
                f"axis {a0} of the first has size {first[a0]} but axis {a1} of the "
                f"second has size {second[a1]}",
            )

    def _merge_function(self, inputs: list[Any]) -> Any:
        x, y = inputs
        a0, a1 = self._resolved_axes([tuple(shape_of(x)), tuple(shape_of(y))])
        if self.normalize:
            x, y = _l2_normalize(x, a0), _l2_normalize(y, a1)
        x = tnp.moveaxis(x, a0, -1)  # (b, *x_rest, k)
        y = tnp.moveaxis(y, a1, 1)  # (b, k, *y_rest)
        x_shape, y_shape = tuple(shape_of(x)), tuple(shape_of(y))
        batch, depth = x_shape[0], x_shape[-1]
        x_rest, y_rest = x_shape[1:-1], y_shape[2:]
        out = tnp.matmul(
            tnp.reshape(x, (batch, math.prod(x_rest), depth)),
            tnp.reshape(y, (batch, depth, math.prod(y_rest))),
        )
        return tnp.reshape(out, (batch,) + (x_rest + y_rest or (1,)))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """None: the dot product has no time axis to mask (Keras)."""
        return None


def _l2_normalize(x: Any, axis: int) -> Any:
    # The floor sits under the square root so that a zero vector has a finite gradient.
    squares = tnp.sum(tnp.square(x), axis=axis, keepdims=True)
    return x / tnp.sqrt(tnp.maximum(squares, _NORM_EPSILON**2))


def add(inputs: list[Any], **kwargs: Any) -> Any:
    """``Add(**kwargs)(inputs)``."""
    return Add(**kwargs)(inputs)


def subtract(inputs: list[Any], **kwargs: Any) -> Any:
    """``Subtract(**kwargs)(inputs)``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs: list[Any], **kwargs: Any) -> Any:
    """``Multiply(**kwargs)(inputs)``."""
    return Multiply(**kwargs)(inputs)


def average(inputs: list[Any], **kwargs: Any) -> Any:
    """``Average(**kwargs)(inputs)``."""
    return Average(**kwargs)(inputs)


def maximum(inputs: list[Any], **kwargs: Any) -> Any:
    """``Maximum(**kwargs)(inputs)``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs: list[Any], **kwargs: Any) -> Any:
    """``Minimum(**kwargs)(inputs)``."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs: list[Any], axis: int = -1, **kwargs: Any) -> Any:
    """``Concatenate(axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(
    inputs: list[Any], axes: int | tuple[int, int] = -1, normalize: bool = False, **kwargs: Any
) -> Any:
    """``Dot(axes, normalize, **kwargs)(inputs)``."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)


__all__ = [
    "Add",
    "Average",
    "Concatenate",
    "Dot",
    "Maximum",
    "Merge",
    "Minimum",
    "Multiply",
    "Subtract",
    "add",
    "average",
    "concatenate",
    "dot",
    "maximum",
    "minimum",
    "multiply",
    "subtract",
]

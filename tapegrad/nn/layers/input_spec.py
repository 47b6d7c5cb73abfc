"""`InputSpec` (Keras 3): what a layer expects of its inputs (rank, shape, axes, dtype),
and `assert_input_compatibility`, the check of inputs against specs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad import tree


class InputSpec:
    """Expected rank, shape, axis sizes and dtype of one input of a layer.

    A custom layer may set ``self.input_spec`` as in Keras; `assert_input_compatibility`
    checks inputs against it (tapegrad's `Layer` does not yet call it by itself).

    Args:
        dtype: Expected dtype.
        shape: Expected shape (None entries: any size); sets ``ndim``.
        ndim: Expected rank.
        max_ndim: Largest rank.
        min_ndim: Smallest rank.
        axes: ``{axis: size}`` for particular axes.
        allow_last_axis_squeeze: Ignore a trailing axis of size 1 when comparing shapes.
        name: Name of the input (for dict inputs).
        optional: Whether the input may be None.

    Examples:
        >>> spec = InputSpec(ndim=3, axes={-1: 4})
        >>> spec
        InputSpec(ndim=3, axes={-1: 4})
        >>> assert_input_compatibility(spec, np.zeros((2, 5, 4)), "layer")
    """

    def __init__(
        self,
        dtype: Any = None,
        shape: Sequence[int | None] | None = None,
        ndim: int | None = None,
        max_ndim: int | None = None,
        min_ndim: int | None = None,
        axes: dict[int, int | None] | None = None,
        allow_last_axis_squeeze: bool = False,
        name: str | None = None,
        optional: bool = False,
    ) -> None:
        self.dtype = None if dtype is None else np.dtype(dtype).name
        self.shape = None if shape is None else tuple(shape)
        self.ndim = len(self.shape) if self.shape is not None else ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.name = name
        self.optional = optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        try:
            self.axes = {int(k): v for k, v in (axes or {}).items()}
        except (TypeError, ValueError, AttributeError) as err:
            raise TypeError(f"InputSpec: axes must be a dict with int keys, got {axes!r}") from err
        top = self.ndim if self.ndim is not None else self.max_ndim
        if self.axes and top is not None and max(self.axes) > top - 1:
            raise ValueError(
                f"InputSpec: axis {max(self.axes)} is beyond the largest allowed, {top - 1}"
            )

    def __repr__(self) -> str:
        parts = [
            f"{name}={value}"
            for name, value in (
                ("dtype", self.dtype),
                ("shape", self.shape),
                ("ndim", self.ndim),
                ("max_ndim", self.max_ndim),
                ("min_ndim", self.min_ndim),
                ("axes", self.axes),
            )
            if value
        ]
        return f"InputSpec({', '.join(parts)})"

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments."""
        return {
            "dtype": self.dtype,
            "shape": self.shape,
            "ndim": self.ndim,
            "max_ndim": self.max_ndim,
            "min_ndim": self.min_ndim,
            "axes": self.axes,
            "optional": self.optional,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> InputSpec:
        """The spec of `get_config` output."""
        return cls(**config)


def assert_input_compatibility(input_spec: Any, inputs: Any, layer_name: str) -> None:
    """Raise a ValueError naming the layer, the input and the expectation when ``inputs``
    do not meet ``input_spec`` (one spec, a structure of specs, or None).

    Args:
        input_spec: `InputSpec` or a (nested) list of them, or None.
        inputs: The input tensor(s), in the same structure (a dict by spec names).
        layer_name: The layer's name, for the message.

    Examples:
        >>> assert_input_compatibility(InputSpec(min_ndim=3), np.zeros((2, 3)), "conv")
        Traceback (most recent call last):
        ...
        ValueError: Input 0 of layer 'conv' is incompatible with the layer: expected \
min_ndim=3, found ndim=2 (shape (2, 3))
    """
    if not input_spec:
        return
    specs = tree.flatten(input_spec)
    if isinstance(inputs, dict) and all(spec.name for spec in specs):
        missing = [spec.name for spec in specs if spec.name not in inputs]
        if missing:
            raise ValueError(
                f"Layer '{layer_name}': missing inputs {missing}; got keys {sorted(inputs)}"
            )
        inputs = [inputs[spec.name] for spec in specs]
    values = tree.flatten(inputs)
    if len(values) != len(specs):
        raise ValueError(
            f"Layer '{layer_name}' expects {len(specs)} input(s), but it received {len(values)}"
        )
    for index, (x, spec) in enumerate(zip(values, specs, strict=True)):
        if spec is None or (x is None and spec.optional):
            continue
        if not hasattr(x, "shape"):
            raise ValueError(
                f"Input {index} of layer '{layer_name}' must be a tensor, got {type(x).__name__}"
            )
        _check_one(spec, tuple(x.shape), np.dtype(x.dtype).name, f"Input {index} of layer "
                   f"'{layer_name}' is incompatible with the layer")  # fmt: skip


def _check_one(spec: InputSpec, shape: tuple[Any, ...], dtype: str, where: str) -> None:
    ndim = len(shape)
    found = f"found ndim={ndim} (shape {shape})"
    if spec.ndim is not None and not spec.allow_last_axis_squeeze and ndim != spec.ndim:
        raise ValueError(f"{where}: expected ndim={spec.ndim}, {found}")
    if spec.max_ndim is not None and ndim > spec.max_ndim:
        raise ValueError(f"{where}: expected max_ndim={spec.max_ndim}, {found}")
    if spec.min_ndim is not None and ndim < spec.min_ndim:
        raise ValueError(f"{where}: expected min_ndim={spec.min_ndim}, {found}")
    if spec.dtype is not None and dtype != spec.dtype:
        raise ValueError(f"{where}: expected dtype={spec.dtype}, found dtype={dtype}")
    for axis, size in spec.axes.items():
        if size is not None and -ndim <= axis < ndim and shape[axis] not in (size, None):
            raise ValueError(f"{where}: expected axis {axis} of size {size}, found shape {shape}")
    if spec.shape is not None:
        expected, got = spec.shape, shape
        if spec.allow_last_axis_squeeze:
            expected = expected[:-1] if expected and expected[-1] == 1 else expected
            got = got[:-1] if got and got[-1] == 1 else got
        for want, have in zip(expected, got, strict=False):
            if want is not None and have is not None and want != have:
                raise ValueError(f"{where}: expected shape={spec.shape}, found shape {shape}")


__all__ = ["InputSpec"]

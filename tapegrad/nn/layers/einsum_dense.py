"""`EinsumDense` (Keras 3): a dense layer written as an einsum equation."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.nn import activations, constraints, initializers, regularizers
from tapegrad.nn.layers.base import Layer
from tapegrad.nn.validation import check_constraint, layer_owner


def analyze_einsum(
    owner: str, equation: str, bias_axes: str | None, input_shape: Sequence[Any], output_shape: Any
) -> tuple[list[Any], list[Any] | None, list[Any]]:
    """Kernel shape, bias shape and full output shape of an `EinsumDense` (Keras' rules:
    ``"ab,bc->ac"``, ``"...b,bc->...c"`` or ``"ab...,bc->ac..."``).

    Examples:
        >>> analyze_einsum("e", "abc,cde->abde", "de", (None, 4, 8), (4, 2, 5))
        ([8, 2, 5], [2, 5], [None, 4, 2, 5])
    """
    replaced = equation.replace("...", "0")
    left = False
    match = re.fullmatch("([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", replaced)
    if match is None:
        match = re.fullmatch("0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", replaced)
        left = match is not None
    if match is None:
        match = re.fullmatch("([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", replaced)
    if match is None:
        raise ValueError(
            f"{owner}: invalid einsum equation {equation!r}: expected [X],[Y]->[Z], "
            "...[X],[Y]->...[Z] or [X]...,[Y]->[Z]..."
        )
    input_spec, weight_spec, output_spec = match.groups()
    elided = len(input_shape) - len(input_spec)
    full = [output_shape] if isinstance(output_shape, int) else list(output_shape)
    full.insert(0, input_shape[0])
    if elided > 0 and left:
        for i in range(1, elided):
            full.insert(1, input_shape[i])
    elif elided > 0:
        full.extend(input_shape[len(input_shape) - elided :])
    if left:
        input_map = {d: i + elided - len(input_shape) for i, d in enumerate(input_spec)}
        output_map = {d: i + elided for i, d in enumerate(output_spec)}
    else:
        input_map = {d: i for i, d in enumerate(input_spec)}
        output_map = {d: i for i, d in enumerate(output_spec)}
    for d in input_spec:
        if d in output_map and full[output_map[d]] not in (None, input_shape[input_map[d]]):
            raise ValueError(
                f"{owner}: input shape {tuple(input_shape)} and output shape "
                f"{tuple(full)} differ at the shared dimension {d!r}"
            )
    for d in output_spec:
        if d not in input_spec and d not in weight_spec:
            raise ValueError(
                f"{owner}: output dimension {d!r} is in neither the input nor the weight"
            )
    kernel_shape = []
    for d in weight_spec:
        if d in output_map:
            kernel_shape.append(full[output_map[d]])
        elif d in input_map:
            kernel_shape.append(input_shape[input_map[d]])
        else:
            raise ValueError(
                f"{owner}: weight dimension {d!r} is in neither the input {input_spec!r} nor "
                f"the output {output_spec!r}"
            )
    if bias_axes is None:
        return kernel_shape, None, full
    offset = elided if left else 0
    sizes = {d: full[i + offset] for i, d in enumerate(output_spec)}
    missing = [d for d in bias_axes if d not in output_spec]
    if missing:
        raise ValueError(f"{owner}: bias axes {missing} are not in the output {output_spec!r}")
    first = min(output_spec.find(d) for d in bias_axes)
    bias_shape = [sizes[d] if d in bias_axes else 1 for d in output_spec[first:]]
    if not left:
        bias_shape.extend([1] * max(elided, 0))
    return kernel_shape, bias_shape, full


@functools.lru_cache(maxsize=256)  # parsed once per equation, not per call
def dense_form(equation: str) -> tuple[int, int] | None:
    """How many axes an einsum contracts and adds where it is a dense layer in disguise.

    A dense form contracts the inputs' last axes with the kernel's first ones, in the same
    order, and its output is the inputs' remaining axes followed by the kernel's others
    (``"abc,cde->abde"``, ``"abcd,cde->abe"``, ``"...b,bc->...c"``): one matrix product
    over every row of the inputs.

    Args:
        equation: An ``EinsumDense`` equation.

    Returns:
        ``(contracted, added)`` axis counts, or None for any other equation.

    Examples:
        >>> dense_form("abc,cde->abde"), dense_form("abcd,cde->abe"), dense_form("...b,bc->...c")
        ((1, 2), (2, 1), (1, 1))
        >>> dense_form("abc,bcd->ad"), dense_form("abc,dc->abd"), dense_form("ab,bc->ca")
        ((2, 1), None, None)
    """
    match = re.fullmatch(r"(\.\.\.)?([a-zA-Z]+),([a-zA-Z]+)->(\.\.\.)?([a-zA-Z]+)", equation)
    if match is None or bool(match.group(1)) != bool(match.group(4)):
        return None
    inputs, kernel, output = match.group(2), match.group(3), match.group(5)
    contracted = "".join(c for c in inputs if c in kernel)
    lead, added = inputs[: len(inputs) - len(contracted)], kernel[len(contracted) :]
    if (
        not contracted
        or not added
        or not (lead or match.group(1))
        or not inputs.endswith(contracted)
        or not kernel.startswith(contracted)
        or output != lead + added
        or len(set(inputs + added)) != len(inputs) + len(added)
    ):
        return None
    return len(contracted), len(added)


def _shape(x: Any) -> tuple[Any, ...]:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def einsum_dense(equation: str, inputs: Any, kernel: Any, bias: Any = None) -> Any:
    """``einsum(equation, inputs, kernel) + bias``, as `tapegrad.ops.nn.dense` where the
    equation has a dense form (`dense_form`) and the bias spans the kernel's added axes.

    The dense route is one GEMM over every row with the bias added into the product in
    place (no second output-sized array) and one tape entry, where ``einsum`` + ``add``
    writes the product and then the sum. Other equations and biases take einsum + add.

    Args:
        equation: An ``EinsumDense`` equation.
        inputs: The layer's inputs.
        kernel: Its kernel (the equation's second operand).
        bias: A bias broadcasting against the output, or None.

    Returns:
        The biased product, the same values as ``einsum`` + ``add``.

    Examples:
        >>> import numpy as np
        >>> x, k, b = np.ones((2, 3, 4)), np.ones((4, 2, 5)), np.arange(10.0).reshape(2, 5)
        >>> out = einsum_dense("abc,cde->abde", x, k, b)
        >>> out.shape, bool(np.allclose(out, np.einsum("abc,cde->abde", x, k) + b))
        ((2, 3, 2, 5), True)
    """
    form = dense_form(equation)
    k_shape = tuple(_shape(kernel))
    lead = tuple(_shape(inputs))[: -form[0]] if form is not None else ()
    if (
        form is None
        or (bias is not None and tuple(_shape(bias)) != k_shape[form[0] :])
        or any(d is None for d in lead[1:])  # symbolic sizes: no reshape to spell them
    ):
        out = tnp.einsum(equation, inputs, kernel)
        return out if bias is None else out + bias
    contracted, added = form
    rows, units = math.prod(k_shape[:contracted]), math.prod(k_shape[contracted:])
    # -1 for the leading axis: the reshapes stay polymorphic in the batch size.
    batch = (-1, *lead[1:]) if lead else (-1,)
    x = inputs if contracted == 1 else tnp.reshape(inputs, (*batch, rows))
    two_d = added == 1 and contracted == 1
    out = tg.ops.nn.dense(
        x,
        kernel if two_d else tnp.reshape(kernel, (rows, units)),
        bias if bias is None or added == 1 else tnp.reshape(bias, (units,)),
    )
    return out if added == 1 else tnp.reshape(out, (*batch, *k_shape[contracted:]))


class EinsumDense(Layer):
    """``activation(einsum(equation, inputs, kernel) + bias)`` (Keras' ``EinsumDense``).

    Args:
        equation: ``"<input>,<kernel>-><output>"`` (``...`` allowed at one end).
        output_shape: Output shape without the batch axis (an int or ints; None entries
            take the input's size).
        activation: Activation function or name (None: linear).
        bias_axes: Output letters that get a bias (None: no bias).
        kernel_initializer: Kernel initializer (default "glorot_uniform"; its fans come
            from the kernel's shape).
        bias_initializer: Bias initializer.
        kernel_regularizer, bias_regularizer: Optional regularizers.
        activity_regularizer: Regularizer of the outputs (its penalty joins `losses`).
        kernel_constraint, bias_constraint: Optional constraints.
        lora_rank: Not supported (must be None).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.EinsumDense("abc,cde->abde", output_shape=(4, 2, 5), bias_axes="de")
        >>> layer(np.ones((3, 4, 8), np.float32)).shape, layer.kernel.shape, layer.bias.shape
        ((3, 4, 2, 5), (8, 2, 5), (2, 5))
    """

    _check_input_rank = False

    def __init__(
        self,
        equation: str,
        output_shape: Any,
        activation: Any = None,
        bias_axes: str | None = None,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        lora_rank: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("lora_alpha", None)
        kwargs.pop("quantization_config", None)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        owner = layer_owner(self)
        if lora_rank is not None:
            raise NotImplementedError(f"{owner}: lora_rank (LoRA) is not supported")
        if not isinstance(equation, str):
            raise ValueError(f"{owner}: equation must be a str, got {equation!r}")
        self.equation = equation
        self.partial_output_shape = (
            [output_shape] if isinstance(output_shape, int) else list(output_shape)
        )
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = check_constraint(self, "kernel_constraint", kernel_constraint)
        self.bias_constraint = check_constraint(self, "bias_constraint", bias_constraint)

    def build(self, input_shape: Any) -> None:
        kernel_shape, bias_shape, full = analyze_einsum(
            layer_owner(self),
            self.equation,
            self.bias_axes,
            tuple(input_shape),
            self.partial_output_shape,
        )
        self.full_output_shape = tuple(full)
        self.kernel = self.add_weight(
            tuple(kernel_shape),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )
        self.bias = (
            None
            if bias_shape is None
            else self.add_weight(
                tuple(bias_shape),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                name="bias",
            )
        )

    def call(self, inputs: Any) -> Any:
        out = einsum_dense(self.equation, inputs, self.kernel, self.bias)
        return self.activation(out) if self.activation is not None else out

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The full output shape (Keras' analysis of the equation)."""
        return tuple(
            analyze_einsum(
                layer_owner(self),
                self.equation,
                self.bias_axes,
                tuple(input_shape),
                self.partial_output_shape,
            )[2]
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "output_shape": self.partial_output_shape,
            "equation": self.equation,
            "activation": activations.serialize(self.activation),
            "bias_axes": self.bias_axes,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            # Keras writes the key even when unset (Layer's own config only when set).
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> EinsumDense:
        config = dict(config)
        for key in ("kernel_initializer", "bias_initializer"):
            if key in config:
                config[key] = initializers.deserialize(config[key])
        for key in ("kernel_regularizer", "bias_regularizer"):
            if config.get(key) is not None:
                config[key] = regularizers.deserialize(config[key])
        return cls(**config)


__all__ = ["EinsumDense", "dense_form", "einsum_dense"]

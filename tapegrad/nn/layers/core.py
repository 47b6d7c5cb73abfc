"""Core layers: Input, InputLayer, Dense, Lambda, Activation, Dropout, Flatten, Reshape."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import backend
from tapegrad.nn import activations, constraints, initializers, regularizers
from tapegrad.nn.layers.base import KerasTensor, Layer, _flatten, shape_of
from tapegrad.nn.layers.layer_masks import get_keras_mask
from tapegrad.nn.validation import (
    check_bool,
    check_choice,
    check_constraint,
    check_int,
    check_positive_int,
    check_probability,
    check_shape,
    layer_owner,
    require_rank,
)
from tapegrad.ops.nn import dense


class InputLayer(Layer):
    """The entry point of a functional model: holds the symbolic input tensor.

    Args:
        shape: Shape without the batch axis.
        batch_size: Optional fixed batch size.
        dtype: Input dtype (float32 by default).
        sparse: Only False/None (tapegrad has no sparse tensors).
        ragged: Only False/None (tapegrad has no ragged tensors).
        batch_shape: Shape with the batch axis (instead of ``shape`` and ``batch_size``).
        input_tensor: Not supported (an existing tensor as the input).
        optional: Only False (an input that may be None is not supported).
        name: Layer name.

    Examples:
        >>> import tapegrad as tg
        >>> tg.layers.InputLayer(batch_shape=(None, 5), name="x").output.shape
        (None, 5)
    """

    def __init__(
        self,
        shape: Sequence[int | None] | None = None,
        batch_size: int | None = None,
        dtype: Any = None,
        sparse: bool | None = None,
        ragged: bool | None = None,
        batch_shape: Sequence[int | None] | None = None,
        input_tensor: Any = None,
        optional: bool = False,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if shape is None and "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        super().__init__(name=name, dtype=dtype, **kwargs)
        owner = layer_owner(self)
        if sparse:
            raise ValueError(
                f"{owner}: sparse=True is not supported (tapegrad has no sparse tensors)"
            )
        if ragged:
            raise ValueError(
                f"{owner}: ragged=True is not supported (tapegrad has no ragged tensors; "
                "pad the sequences, e.g. with tapegrad.utils.pad_sequences)"
            )
        if input_tensor is not None:
            raise ValueError(
                f"{owner}: input_tensor= / tensor= (wrapping an existing tensor) is not "
                "supported; pass shape= and dtype="
            )
        if optional:
            raise ValueError(f"{owner}: optional=True (an input that may be None) is not supported")
        if batch_shape is not None:
            if shape is not None or batch_size is not None:
                raise ValueError(
                    f"{owner}: pass either batch_shape= or shape=/batch_size=, got "
                    f"batch_shape={batch_shape!r}, shape={shape!r}, batch_size={batch_size!r}"
                )
            full = check_shape(owner, "batch_shape", batch_shape, minimum=0, allow_unknown=True)
            if not full:
                raise ValueError(f"{owner}: batch_shape must include the batch axis, got ()")
            batch_size, shape = full[0], full[1:]
        self.shape = check_shape(owner, "shape", shape or (), minimum=0, allow_unknown=True)
        self.batch_size = check_positive_int(owner, "batch_size", batch_size, allow_none=True)
        self.sparse = False
        self.optional = False
        self.built = True
        self._output = KerasTensor(
            (batch_size,) + self.shape, self.dtype, history=(self, 0, 0), name=self.name
        )

    @property
    def output(self) -> KerasTensor:
        """The symbolic input tensor this layer holds (what `Input` returns)."""
        return self._output

    @property
    def input(self) -> KerasTensor:
        """The same tensor as `output` (an input layer passes its data through)."""
        return self._output

    @property
    def batch_shape(self) -> tuple[int | None, ...]:
        """The input's shape with the batch axis."""
        return (self.batch_size, *self.shape)

    def call(self, inputs: Any) -> Any:
        return inputs

    def get_config(self) -> dict[str, Any]:
        return {
            "shape": list(self.shape),
            "batch_size": self.batch_size,
            "dtype": self.dtype.name,
            "name": self.name,
        }


def Input(  # noqa: N802  (Keras' name)
    shape: Sequence[int | None] | None = None,
    batch_size: int | None = None,
    dtype: Any = None,
    sparse: bool | None = None,
    ragged: bool | None = None,
    batch_shape: Sequence[int | None] | None = None,
    name: str | None = None,
    tensor: Any = None,
    optional: bool = False,
) -> KerasTensor:
    """A symbolic input for the functional API (Keras 3's ``keras.Input``).

    Args:
        shape: Shape without the batch axis (None entries for unknown sizes).
        batch_size: Optional fixed batch size.
        dtype: dtype of the data (default float32).
        sparse: Only False/None (tapegrad has no sparse tensors).
        ragged: Only False/None (tapegrad has no ragged tensors).
        batch_shape: The shape with the batch axis, instead of shape/batch_size.
        name: Name; data dicts are keyed by it (``model.input_names``).
        tensor: Not supported (an existing tensor as the input).
        optional: Only False.

    Returns:
        A KerasTensor to build a model from.

    Examples:
        >>> import tapegrad as tg
        >>> inputs = tg.Input(shape=(4,))
        >>> outputs = tg.layers.Dense(2)(inputs)
        >>> outputs.shape
        (None, 2)
        >>> tg.Input(batch_shape=(8, 3), name="title").shape
        (8, 3)
    """
    layer = InputLayer(
        shape=shape,
        batch_size=batch_size,
        dtype=dtype,
        sparse=sparse,
        ragged=ragged,
        batch_shape=batch_shape,
        input_tensor=tensor,
        optional=optional,
        name=name,
    )
    return layer.output


class Dense(Layer):
    """``activation(inputs @ kernel + bias)`` over the last axis.

    Args:
        units: Output size.
        activation: Activation function or name (None: linear).
        use_bias: Whether to add a bias.
        kernel_initializer: Kernel initializer (default "glorot_uniform").
        bias_initializer: Bias initializer (default "zeros").
        kernel_regularizer: Optional regularizer of the kernel.
        bias_regularizer: Optional regularizer of the bias.
        activity_regularizer: Regularizer of the outputs (its penalty joins `losses`).
        kernel_constraint: Optional constraint applied after updates.
        bias_constraint: Optional constraint applied after updates.

    Examples:
        >>> import tapegrad as tg
        >>> layer = tg.layers.Dense(3, activation="relu")
        >>> layer(tg.tensor([[1.0, 2.0]])).shape
        (1, 3)
        >>> layer.count_params()
        9
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    _check_input_rank = False  # (..., features) of any rank >= 2 once built, as in Keras

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = check_positive_int(layer_owner(self), "units", units)
        self.activation = activations.get(activation)
        self.use_bias = check_bool(layer_owner(self), "use_bias", use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = check_constraint(self, "kernel_constraint", kernel_constraint)
        self.bias_constraint = check_constraint(self, "bias_constraint", bias_constraint)

    def build(self, input_shape: Any) -> None:
        require_rank(layer_owner(self), input_shape, 1, "(..., features)")
        in_features = input_shape[-1]
        if in_features is None:
            raise ValueError(f"Dense '{self.name}': the last input dimension must be known")
        self.kernel = self.add_weight(
            (in_features, self.units),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )
        self.bias = (
            self.add_weight(
                (self.units,),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                name="bias",
            )
            if self.use_bias
            else None
        )

    def call(self, inputs: Any) -> Any:
        out = dense(inputs, self.kernel, self.bias)
        return self.activation(out) if self.activation is not None else out

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Dense:
        config = dict(config)
        for key in ("kernel_initializer", "bias_initializer"):
            config[key] = initializers.deserialize(config[key])
        for key in ("kernel_regularizer", "bias_regularizer"):
            if config.get(key) is not None:
                config[key] = regularizers.deserialize(config[key])
        return cls(**config)


class Activation(Layer):
    """Applies an activation function.

    Examples:
        >>> import tapegrad as tg
        >>> tg.layers.Activation("relu")(tg.tensor([-1.0, 2.0])).numpy()
        array([0., 2.], dtype=float32)
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self._check_input_shape = False

    def call(self, inputs: Any) -> Any:
        return self.activation(inputs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Randomly zeroes a fraction ``rate`` of inputs while training, scaling the rest.

    Args:
        rate: Fraction of the inputs to drop, in [0, 1).
        noise_shape: Optional shape of the binary mask (broadcast over the inputs).
        seed: Seed of the layer's random generator.
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    def __init__(
        self,
        rate: float,
        noise_shape: Sequence[int | None] | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.rate = check_probability(layer_owner(self), "rate", rate)
        check_int(layer_owner(self), "seed", seed, minimum=0, allow_none=True)
        self.noise_shape = (
            None
            if noise_shape is None
            else check_shape(layer_owner(self), "noise_shape", noise_shape, allow_unknown=True)
        )
        self.seed = seed
        self._rng = tg.ops.random.layer_generator(seed)
        self._check_input_shape = False

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training or self.rate == 0:
            return inputs
        return tg.ops.dropout(inputs, self.rate, self.noise_shape, generator=self._rng)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rate": self.rate,
            "seed": self.seed,
            "noise_shape": list(self.noise_shape) if self.noise_shape else None,
        }


class Flatten(Layer):
    """Flattens every axis but the batch axis."""

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = check_choice(
            layer_owner(self),
            "data_format",
            backend.image_data_format() if data_format is None else data_format,
            ("channels_last", "channels_first"),
        )

    def call(self, inputs: Any) -> Any:
        shape = shape_of(inputs)
        require_rank(layer_owner(self), shape, 1, "(batch, ...)")
        if self.data_format == "channels_first" and len(shape) > 2:
            inputs = tnp.moveaxis(inputs, 1, -1)
        return tnp.reshape(inputs, (shape[0], int(math.prod(shape[1:]))))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshapes the non-batch axes to ``target_shape`` (one entry may be -1)."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = check_shape(
            layer_owner(self), "target_shape", target_shape, allow_minus_one=True
        )

    def call(self, inputs: Any) -> Any:
        shape = shape_of(inputs)
        require_rank(layer_owner(self), shape, 1, "(batch, ...)")
        per_example = int(math.prod(shape[1:]))
        known = int(math.prod(s for s in self.target_shape if s != -1))
        if (-1 not in self.target_shape and known != per_example) or (
            -1 in self.target_shape and (known == 0 or per_example % known)
        ):
            raise ValueError(
                f"Reshape '{self.name}': cannot reshape inputs of shape {shape} to "
                f"(batch,) + {self.target_shape}"
            )
        return tnp.reshape(inputs, (shape[0],) + self.target_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Lambda(Layer):
    """Wraps a Python function of tensors as a layer; its gradient is its ops' rules.

    Unlike Keras: the output shape is inferred by running the function (``output_shape``
    is optional, and checked against the real output on the first call), and trainable
    Variables the function reads are tracked as the layer's weights and trained.

    Args:
        function: A function of the input tensor(s) written with tapegrad ops,
            ``tapegrad.numpy`` or NumPy calls on Tensors.
        output_shape: Optional expected output shape without the batch axis.
        mask: Keras' argument: None (the layer does not support masking: an input mask is
            dropped), a function ``(inputs, mask) -> output mask`` (like `compute_mask`),
            or a tensor returned as the output's mask whatever the input. A ``function``
            with a ``mask`` parameter receives the inputs' mask (and ``training``, the
            flag, where it has that parameter).
        arguments: Optional keyword arguments passed to ``function``.

    Examples:
        >>> import tapegrad as tg
        >>> double = tg.layers.Lambda(lambda x: x * 2)
        >>> double(tg.tensor([[1.0, 2.0]])).numpy()
        array([[2., 4.]], dtype=float32)
        >>> from tapegrad.nn.layers.layer_masks import get_keras_mask
        >>> keep = tg.layers.Lambda(lambda x: x, mask=lambda x, m: tg.ops.greater(x, 1.5))
        >>> get_keras_mask(keep(tg.tensor([[1.0, 2.0]]))).numpy()
        array([[False,  True]])
    """

    _check_input_shape = False

    def __init__(
        self,
        function: Callable[..., Any],
        output_shape: Any = None,
        mask: Any = None,
        arguments: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(
                f"Lambda '{self.name}': function must be callable, got {type(function).__name__}"
            )
        self.function = function
        self.output_shape = (
            None
            if output_shape is None
            else check_shape(
                layer_owner(self), "output_shape", output_shape, minimum=0, allow_unknown=True
            )
        )
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(
                f"Lambda '{self.name}': arguments must be a dict of keyword "
                f"arguments, got {arguments!r}"[:200]
            )
        self.arguments = dict(arguments or {})
        self.mask = mask if mask is None or callable(mask) else tg.tensor(mask)
        # Keras: a Lambda passes masks on only with its mask argument; without one the
        # calls do no mask work unless the inputs carry masks.
        self.supports_masking = mask is not None
        self.__dict__["_makes_masks"] = mask is not None
        try:
            parameters = inspect.signature(function).parameters
        except (TypeError, ValueError):  # (builtins without a signature)
            parameters = {}  # type: ignore[assignment]
        self._function_takes = {n for n in ("mask", "training") if n in parameters}
        # Trainable Variables the function reads (found on the first call): tracked weights.
        self.captured_variables: list[tg.Variable] = []
        self._checked_output = False

    def call(self, inputs: Any, mask: Any = None, training: Any = None) -> Any:
        arguments = self.arguments
        if self._function_takes:
            given = {"mask": mask, "training": training}
            arguments = {**arguments, **{n: given[n] for n in self._function_takes}}
        if not self._checked_output:
            # The first call finds the Variables the function reads: they become weights.
            with tg.GradientTape() as tape:
                out = self.function(inputs, **arguments)
            self.captured_variables = list(tape.watched_variables())
            self._check_output(out)
            self._checked_output = True
            return out
        return self.function(inputs, **arguments)

    def compute_mask(self, inputs: Any, previous_mask: Any = None) -> Any:
        """The ``mask`` argument's output mask: its function's result, or the tensor."""
        if callable(self.mask):
            return self.mask(inputs, previous_mask)
        return self.mask

    def _check_output(self, out: Any) -> None:
        for leaf in _flatten(out):
            dtype = getattr(leaf, "dtype", None)
            if not isinstance(leaf, tg.Tensor | np.ndarray | np.generic) or (
                np.dtype(dtype).kind not in "biufc"
            ):
                described = (
                    f"an array of dtype {dtype}"
                    if isinstance(dtype, np.dtype)
                    else f"{type(leaf).__name__} {leaf!r}"[:80]
                )
                raise TypeError(
                    f"Lambda '{self.name}': the function must return tensors (or a list, "
                    f"tuple or dict of them), but it returned {described}"
                )
        if self.output_shape is None:
            return
        got = tuple(shape_of(out))[1:]
        expected = tuple(self.output_shape)
        if len(got) != len(expected) or any(
            e is not None and e != g for e, g in zip(expected, got, strict=False)
        ):
            raise ValueError(
                f"Lambda '{self.name}': declared output_shape {expected} but the function "
                f"returned per-example shape {got}"
            )

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "arguments": self.arguments}
        if self.output_shape is not None:
            config["output_shape"] = list(self.output_shape)
        if self.mask is not None and not callable(self.mask):
            config["mask"] = self.mask.numpy().tolist()  # (a function is not data)
        return config


class KerasMask(Layer):
    """The mask attached to a tensor, as a graph node: what a symbolic tensor's
    ``_keras_mask`` is made of (made by `KerasTensor._keras_mask`, rarely by hand).

    Args:
        rank: The mask's rank (its leading axes are the tensor's).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> embedded = tg.layers.Embedding(10, 2, mask_zero=True)(np.array([[3, 0]]))
        >>> KerasMask(2)(embedded).numpy()
        array([[ True, False]])
    """

    _check_input_shape = False
    supports_masking = True  # reads the mask; its own output has none

    def __init__(self, rank: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rank = int(rank)

    def call(self, inputs: Any) -> Any:
        mask = get_keras_mask(inputs)
        if mask is None:  # (a shape probe's zeros carry no mask: nothing masked)
            return tnp.ones(tuple(shape_of(inputs))[: self.rank], dtype=bool)
        return mask

    def compute_mask(self, inputs: Any, previous_mask: Any = None) -> Any:
        return None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rank": self.rank}


__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "Lambda", "Reshape"]

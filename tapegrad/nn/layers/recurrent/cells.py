"""The built-in recurrent cells, `SimpleRNNCell`, `LSTMCell` and `GRUCell`, and what they
share: weights in Keras' layouts, dropout masks, configs and the two-part step API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad.nn import activations, constraints, initializers, regularizers
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.validation import (
    check_bool,
    check_constraint,
    check_int,
    check_positive_int,
    check_probability,
    layer_owner,
    require_rank,
)
from tapegrad.ops.nn import lstm
from tapegrad.ops.random import dropout_mask, layer_generator


def _as_list(states: Any) -> list[Any]:
    return list(states) if isinstance(states, list | tuple) else [states]


def _dtype_of(x: Any) -> np.dtype:
    dtype = getattr(x, "dtype", None)
    return np.dtype(dtype) if dtype is not None else np.asarray(x).dtype


class _RecurrentCell(Layer):
    """What the built-in cells share: weights, dropout masks, configs, the step API.

    A built-in cell computes one step in two parts, so that the layer can project every
    time step at once: `project_inputs` (inputs → gate pre-activations, bias included)
    and `step` (projected inputs and states → output and new states).
    """

    _gates = 1  # blocks of `units` columns in the kernels

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        self.units = check_positive_int(owner, "units", units)
        self.activation = activations.get(activation)
        self.use_bias = check_bool(owner, "use_bias", use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = check_constraint(self, "kernel_constraint", kernel_constraint)
        self.recurrent_constraint = check_constraint(
            self, "recurrent_constraint", recurrent_constraint
        )
        self.bias_constraint = check_constraint(self, "bias_constraint", bias_constraint)
        # (Keras clips the rates into [0, 1]; a rate outside [0, 1) is a mistake: refused.)
        self.dropout = check_probability(owner, "dropout", dropout)
        self.recurrent_dropout = check_probability(owner, "recurrent_dropout", recurrent_dropout)
        self.seed = check_int(owner, "seed", seed, minimum=0, allow_none=True)
        self._rng = layer_generator(seed)

    @property
    def state_size(self) -> Any:
        return self.units

    @property
    def output_size(self) -> int:
        return self.units

    def get_initial_state(self, batch_size: int, dtype: Any = None) -> list[np.ndarray]:
        """Zero states, one ``(batch_size, units)`` array per state."""
        dtype = np.dtype(dtype or self.dtype)
        return [np.zeros((batch_size, size), dtype) for size in _as_list(self.state_size)]

    # -- weights ------------------------------------------------------------------------
    def _bias_shape(self) -> tuple[int, ...]:
        return (self._gates * self.units,)

    def _bias_init(self) -> Any:
        return self.bias_initializer

    def build(self, input_shape: Any) -> None:
        require_rank(layer_owner(self), input_shape, 2, "(batch, features)")
        features = input_shape[-1]
        if features is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': the last input dimension "
                "(features) must be known"
            )
        width = self._gates * self.units
        self.kernel = self.add_weight(
            (features, width),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )
        self.recurrent_kernel = self.add_weight(
            (self.units, width),
            self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
            name="recurrent_kernel",
        )
        self.bias = (
            self.add_weight(
                self._bias_shape(),
                self._bias_init(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                name="bias",
            )
            if self.use_bias
            else None
        )

    # -- computation --------------------------------------------------------------------
    def _input_bias(self) -> Any:
        return self.bias

    def project_inputs(self, inputs: Any) -> Any:
        """Inputs ``(..., features)`` → ``(..., k*units)``: ``inputs @ kernel + bias``,
        as one matmul whatever the number of leading axes."""
        shape = shape_of(inputs)
        flat = tnp.reshape(inputs, (-1, shape[-1])) if len(shape) != 2 else inputs
        out = tnp.matmul(flat, self.kernel)
        bias = self._input_bias()
        if bias is not None:
            out = out + bias
        return tnp.reshape(out, (*shape[:-1], -1)) if len(shape) != 2 else out

    def step(self, projected: Any, states: list[Any]) -> tuple[Any, list[Any]]:
        """One time step from projected inputs; returns ``(output, new_states)``."""
        raise NotImplementedError(f"{type(self).__name__}.step is not implemented")

    def dropout_mask(self, like: Any, shape: Sequence[int], rate: float) -> Any:
        """A scaled keep-mask (``0`` or ``1 / (1 - rate)``) in ``like``'s float dtype, drawn
        from the cell's seed by the `dropout_mask` op: a compiled step draws a new one every
        run (a NumPy draw here would be frozen into the trace)."""
        return dropout_mask(like, rate, shape, self._rng)

    def call(self, inputs: Any, states: Any, training: bool | None = None) -> Any:
        """One step (Keras' cell API): ``(output, new_states)``.

        Dropout masks are drawn per call here; the layers draw them once per sequence.
        """
        states = _as_list(states)
        if training and self.dropout > 0:
            inputs = inputs * self.dropout_mask(inputs, shape_of(inputs), self.dropout)
        if training and self.recurrent_dropout > 0:
            # Tied to the inputs, which a compiled step traces (a first step's zero state
            # is a constant: a mask drawn for it would be frozen into the graph).
            like = inputs if _dtype_of(inputs) == _dtype_of(states[0]) else states[0]
            mask = self.dropout_mask(like, shape_of(states[0]), self.recurrent_dropout)
            states = [states[0] * mask, *states[1:]]
        return self.step(self.project_inputs(inputs), states)

    # -- configuration --------------------------------------------------------------------
    def _cell_config(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self._cell_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**_deserialize_cell_arguments(config))


def _deserialize_cell_arguments(config: dict[str, Any]) -> dict[str, Any]:
    config = dict(config)
    for key in ("kernel_initializer", "recurrent_initializer", "bias_initializer"):
        if config.get(key) is not None:
            config[key] = initializers.deserialize(config[key])
    for key in (
        "kernel_regularizer",
        "recurrent_regularizer",
        "bias_regularizer",
        "activity_regularizer",
    ):
        if config.get(key) is not None:
            config[key] = regularizers.deserialize(config[key])
    return config


class SimpleRNNCell(_RecurrentCell):
    """One step of a fully connected RNN: ``h = activation(x @ kernel + h @ recurrent + b)``.

    Args:
        units: Size of the state(s) and output.
        **kwargs: The other cell arguments of `SimpleRNN` (activations, initializers,
            regularizers, constraints, ``dropout``, ``recurrent_dropout``, ``seed``), with
            the same defaults; plus ``name``, ``dtype``, ``trainable``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> cell = tg.layers.SimpleRNNCell(4)
        >>> out, states = cell(np.ones((2, 3), np.float32), [np.zeros((2, 4), np.float32)])
        >>> out.shape, len(states)
        ((2, 4), 1)
    """

    def step(self, projected: Any, states: list[Any]) -> tuple[Any, list[Any]]:
        out = self.activation(projected + tnp.matmul(states[0], self.recurrent_kernel))
        return out, [out]


class LSTMCell(_RecurrentCell):
    """One step of a long short-term memory layer (Hochreiter & Schmidhuber, 1997).

    ``z = x @ kernel + h @ recurrent_kernel + bias`` split into the gates ``i, f, c, o``
    (Keras' order); ``c' = f * c + i * activation(z_c)``, ``h' = o * activation(c')`` with
    ``i, f, o = recurrent_activation(z_i, z_f, z_o)``. States: ``[h, c]``.

    Args:
        units: Size of the state(s) and output.
        **kwargs: The other cell arguments of `LSTM` (activations, initializers,
            regularizers, constraints, ``dropout``, ``recurrent_dropout``, ``seed``), with
            the same defaults; plus ``name``, ``dtype``, ``trainable``.

    Examples:
        >>> import tapegrad as tg
        >>> cell = tg.layers.LSTMCell(2)
        >>> cell.build((None, 3))
        >>> cell.bias.numpy()  # unit_forget_bias: ones for the forget gate
        array([0., 0., 1., 1., 0., 0., 0., 0.], dtype=float32)
    """

    _gates = 4

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        unit_forget_bias: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            **kwargs,
        )
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = check_bool(layer_owner(self), "unit_forget_bias", unit_forget_bias)

    @property
    def state_size(self) -> Any:
        return [self.units, self.units]

    def _bias_init(self) -> Any:
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, init = self.units, self.bias_initializer

        def forget_ones(shape: Any, dtype: Any = None) -> np.ndarray:
            return np.concatenate(
                [
                    np.asarray(init((units,), dtype=dtype)),
                    np.ones((units,), dtype),
                    np.asarray(init((2 * units,), dtype=dtype)),
                ]
            )

        return forget_ones

    def step(self, projected: Any, states: list[Any]) -> tuple[Any, list[Any]]:
        h, c = states
        u = self.units
        z = projected + tnp.matmul(h, self.recurrent_kernel)
        # One gate activation over all 4 blocks is fewer ops than three over slices.
        gates = self.recurrent_activation(z)
        c = gates[..., u : 2 * u] * c + gates[..., :u] * self.activation(z[..., 2 * u : 3 * u])
        h = gates[..., 3 * u :] * self.activation(c)
        return h, [h, c]

    def fuses_sequence(self, training: bool | None) -> bool:
        """Whether `run_sequence` applies: the standard activations and no recurrent
        dropout (that one changes ``h`` between steps)."""
        return (
            self.activation is activations.tanh
            and self.recurrent_activation is activations.sigmoid
            and not (training and self.recurrent_dropout > 0)
        )

    def run_sequence(self, sequences: Any, states: list[Any]) -> tuple[Any, list[Any]]:
        """Every step at once (`tapegrad.ops.nn.lstm`, one op, whose gate order i, f, g, o is
        Keras' i, f, c, o): ``(outputs, [h, c])`` with ``outputs (batch, time, units)``."""
        hs, cs = lstm(sequences, self.kernel, self.recurrent_kernel, self.bias, states)
        return hs, [hs[:, -1], cs[:, -1]]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "unit_forget_bias": self.unit_forget_bias,
        }


class GRUCell(_RecurrentCell):
    """One step of a gated recurrent unit (Cho et al., 2014), Keras 3's formulation.

    Gates ``z, r, h`` (Keras' order). With ``reset_after=True`` (the default, cuDNN's
    variant) ``hh = activation(x_h + r * (h @ U_h + b_rh))`` and the bias is
    ``(2, 3*units)`` (input bias, recurrent bias); otherwise
    ``hh = activation(x_h + (r * h) @ U_h)`` and the bias is ``(3*units,)``. Then
    ``h' = z * h + (1 - z) * hh``.

    Args:
        units: Size of the state(s) and output.
        **kwargs: The other cell arguments of `GRU` (activations, initializers,
            regularizers, constraints, ``dropout``, ``recurrent_dropout``, ``seed``), with
            the same defaults; plus ``name``, ``dtype``, ``trainable``.

    Examples:
        >>> import tapegrad as tg
        >>> cell = tg.layers.GRUCell(2)
        >>> cell.build((None, 3))
        >>> cell.kernel.shape, cell.recurrent_kernel.shape, cell.bias.shape
        ((3, 6), (2, 6), (2, 6))
    """

    _gates = 3

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        reset_after: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            **kwargs,
        )
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = check_bool(layer_owner(self), "reset_after", reset_after)

    def _bias_shape(self) -> tuple[int, ...]:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self) -> Any:
        if self.bias is None or not self.reset_after:
            return self.bias
        return self.bias[0]

    def step(self, projected: Any, states: list[Any]) -> tuple[Any, list[Any]]:
        h = states[0]
        u = self.units
        kernel = self.recurrent_kernel
        if self.reset_after:
            inner = tnp.matmul(h, kernel)
            if self.bias is not None:
                inner = inner + self.bias[1]
            zr = self.recurrent_activation(projected[..., : 2 * u] + inner[..., : 2 * u])
            candidate = projected[..., 2 * u :] + zr[..., u:] * inner[..., 2 * u :]
        else:
            zr = self.recurrent_activation(
                projected[..., : 2 * u] + tnp.matmul(h, kernel[:, : 2 * u])
            )
            candidate = projected[..., 2 * u :] + tnp.matmul(zr[..., u:] * h, kernel[:, 2 * u :])
        z = zr[..., :u]
        h = z * h + (1 - z) * self.activation(candidate)
        return h, [h]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "reset_after": self.reset_after,
        }


_CELLS: dict[str, type[Layer]] = {cls.__name__: cls for cls in (SimpleRNNCell, LSTMCell, GRUCell)}

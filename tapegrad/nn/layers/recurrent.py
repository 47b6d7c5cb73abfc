"""Recurrent layers (Keras 3): `SimpleRNN`, `LSTM`, `GRU`, their cells and the `RNN` wrapper.

Inputs are batch-major ``(batch, time, features)``. The built-in layers project the inputs
of all time steps with one matmul before the loop, ``(batch*time, features) @ kernel``, and
then do one matmul per step for the recurrent part (two for ``GRU(reset_after=False)``).
Weights use Keras' layouts and gate orders, so Keras weights load with ``set_weights``:
``kernel (features, k*units)``, ``recurrent_kernel (units, k*units)``, ``bias (k*units,)``
(``(2, 3*units)`` for ``GRU(reset_after=True)``), gates ``i, f, c, o`` (LSTM) and
``z, r, h`` (GRU).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad.nn import activations, initializers, regularizers
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
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
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
    for key in ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer"):
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


class RNN(Layer):
    """Runs a cell over the time axis of ``(batch, time, features)`` inputs.

    Built-in cells take a fast path: the inputs of all steps are projected with one
    matmul before the loop. Any other cell (a `Layer` with ``state_size`` and
    ``call(inputs, states) -> (output, new_states)``) is called once per step.

    Args:
        cell: The cell (`SimpleRNNCell`, `LSTMCell`, `GRUCell` or a custom cell).
        return_sequences: Return the outputs of every step ``(batch, time, units)``
            instead of the last one ``(batch, units)``.
        return_state: Also return the final states: ``(output, *states)``.
        go_backwards: Process the sequence in reverse (outputs stay in processing order,
            as in Keras).
        stateful: Not supported (must be False).
        unroll: Accepted for Keras compatibility; the loop is always a Python loop.
        zero_output_for_mask: Accepted for Keras compatibility (masks are not supported).

    Call arguments:
        sequences: ``(batch, time, features)``; or a list ``[sequences, *initial_states]``.
        initial_state: Optional list of initial states (default zeros).
        training: Whether dropout is active.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.RNN(tg.layers.LSTMCell(4), return_state=True)
        >>> out, h, c = layer(np.ones((2, 5, 3), np.float32))
        >>> out.shape, bool(np.allclose(out.numpy(), h.numpy()))
        ((2, 4), True)
    """

    _check_input_shape = False  # a call may pass [sequences, *states]: checked in call

    def __init__(
        self,
        cell: Layer,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if check_bool(layer_owner(self), "stateful", stateful):
            raise NotImplementedError(
                f"{type(self).__name__} '{self.name}': stateful=True is not supported"
            )
        if not hasattr(cell, "state_size"):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': the cell must have a "
                f"state_size attribute, got {type(cell).__name__}"
            )
        self.cell = cell
        owner = layer_owner(self)
        self.return_sequences = check_bool(owner, "return_sequences", return_sequences)
        self.return_state = check_bool(owner, "return_state", return_state)
        self.go_backwards = check_bool(owner, "go_backwards", go_backwards)
        self.stateful = stateful
        self.unroll = check_bool(owner, "unroll", unroll)
        self.zero_output_for_mask = check_bool(owner, "zero_output_for_mask", zero_output_for_mask)

    def __call__(self, inputs: Any = None, initial_state: Any = None, **kwargs: Any) -> Any:
        if inputs is None:
            inputs = kwargs.pop("sequences")
        # Initial states join the inputs, so a functional graph records them as inputs.
        if initial_state is not None:
            inputs = [inputs, *_as_list(initial_state)]
        return super().__call__(inputs, **kwargs)

    def build(self, input_shape: Any) -> None:
        if input_shape and isinstance(input_shape[0], list | tuple):
            input_shape = input_shape[0]
        require_rank(layer_owner(self), input_shape, 3, "(batch, time, features)")
        if not self.cell.built:
            self.cell.build(tuple(input_shape[:1]) + tuple(input_shape[2:]))
            self.cell.built = True

    def call(self, sequences: Any, initial_state: Any = None, training: bool | None = None) -> Any:
        if isinstance(sequences, list | tuple):
            sequences, *given = sequences
            initial_state = given or initial_state
        shape = shape_of(sequences)
        if len(shape) != 3:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': expected inputs of shape "
                f"(batch, time, features), got shape {shape}"
            )
        kernel = self.cell.kernel if isinstance(self.cell, _RecurrentCell) else None
        if kernel is not None and shape_of(kernel)[0] != shape[2]:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': inputs have {shape[2]} "
                f"features, but the layer was built for {shape_of(kernel)[0]}"
            )
        if shape[1] == 0:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': the sequences are empty (shape {shape})"
            )
        if isinstance(self.cell, _RecurrentCell):
            last, outputs, states = self._run_fused(sequences, initial_state, training)
        else:
            last, outputs, states = self._run_cell(sequences, initial_state, training)
        output = outputs if self.return_sequences else last
        return (output, *states) if self.return_state else output

    def _initial_states(self, given: Any, batch: int, dtype: Any) -> list[Any]:
        cell = self.cell
        sizes = _as_list(cell.state_size)
        if given is None:
            if hasattr(cell, "get_initial_state"):
                return list(cell.get_initial_state(batch, dtype))
            return [np.zeros((batch, size), dtype) for size in sizes]
        states = _as_list(given)
        got = [tuple(shape_of(s)) for s in states]
        if got != [(batch, size) for size in sizes]:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': initial_state must be "
                f"{len(sizes)} tensor(s) of shapes "
                f"{[(batch, size) for size in sizes]}, got shapes {got}"
            )
        return states

    def _run_fused(
        self, sequences: Any, initial_state: Any, training: bool | None
    ) -> tuple[Any, Any, list[Any]]:
        """The built-in cells: every step's input projection at once, then the steps (or,
        where the cell can, the whole sequence as one op). Returns ``(last output, every
        output stacked on axis 1 or None, final states)``."""
        cell = self.cell
        batch, steps, features = shape_of(sequences)
        dtype = np.result_type(_dtype_of(sequences), cell.dtype)
        if training and cell.dropout > 0:
            # One mask for every step of the sequence, as Keras does.
            sequences = sequences * cell.dropout_mask(sequences, (batch, 1, features), cell.dropout)
        if isinstance(cell, LSTMCell) and cell.fuses_sequence(training):
            if self.go_backwards:
                sequences = sequences[:, ::-1]
            states = self._initial_states(initial_state, batch, dtype)
            outputs, states = cell.run_sequence(sequences, states)
            return states[0], outputs, states
        # Time-major before the projection: each step's slice is then one contiguous block.
        projected = cell.project_inputs(tnp.swapaxes(sequences, 0, 1))
        states = self._initial_states(initial_state, batch, dtype)
        recurrent_mask = None
        if training and cell.recurrent_dropout > 0:
            # Tied to the projected inputs, which a compiled step traces (the zero initial
            # state is a constant: a mask drawn for it would be frozen into the graph).
            recurrent_mask = cell.dropout_mask(
                projected, (batch, cell.units), cell.recurrent_dropout
            )
        # The steps' slices as one unstack: where the engine makes unstack a single op, its
        # backward is one stack instead of a full-size scatter per step.
        inputs = tnp.unstack(projected, axis=0)
        outputs = []
        out = None
        for projected_t in reversed(inputs) if self.go_backwards else inputs:
            if recurrent_mask is not None:
                states = [states[0] * recurrent_mask, *states[1:]]
            out, states = cell.step(projected_t, states)
            if self.return_sequences:
                outputs.append(out)
        return out, tnp.stack(outputs, axis=1) if outputs else None, states

    def _run_cell(
        self, sequences: Any, initial_state: Any, training: bool | None
    ) -> tuple[Any, Any, list[Any]]:
        batch, steps, _ = shape_of(sequences)
        dtype = np.result_type(_dtype_of(sequences), self.cell.dtype)
        states = self._initial_states(initial_state, batch, dtype)
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        outputs = []
        out = None
        for t in order:
            # Always a list of states, as Keras passes them (custom cells read states[0]).
            out, new_states = self.cell(sequences[:, t], states, training=training)
            states = _as_list(new_states)
            if self.return_sequences:
                outputs.append(out)
        return out, tnp.stack(outputs, axis=1) if outputs else None, states

    # -- configuration --------------------------------------------------------------------
    def _rnn_config(self) -> dict[str, Any]:
        return {
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        }

    def get_config(self) -> dict[str, Any]:
        cell = {"class_name": type(self.cell).__name__, "config": self.cell.get_config()}
        return {**super().get_config(), **self._rnn_config(), "cell": cell}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        config = dict(config)
        cell = config.pop("cell")
        if not isinstance(cell, Layer):
            name = cell.get("class_name") if isinstance(cell, dict) else None
            if name not in _CELLS:
                raise ValueError(
                    f"RNN.from_config: unknown cell {name!r}; only the built-in "
                    f"cells ({', '.join(_CELLS)}) are restored from a config"
                )
            cell = _CELLS[name].from_config(cell["config"])
        return cls(cell, **config)


class _BuiltinRNN(RNN):
    """`SimpleRNN`, `LSTM` and `GRU`: an `RNN` owning a built-in cell, with a flat config."""

    _cell_class: type[_RecurrentCell] = SimpleRNNCell
    _cell_name = "simple_rnn_cell"

    def __init__(
        self,
        cell_arguments: dict[str, Any],
        rnn_arguments: dict[str, Any],
        activity_regularizer: Any,
        kwargs: dict[str, Any],
    ) -> None:
        if activity_regularizer is not None:
            raise NotImplementedError(
                f"{type(self).__name__}: activity_regularizer is not supported"
            )
        kwargs.pop("use_cudnn", None)
        kwargs.pop("implementation", None)
        cell = self._cell_class(**cell_arguments, name=self._cell_name, dtype=kwargs.get("dtype"))
        super().__init__(cell, **rnn_arguments, **kwargs)
        # Weight names like Keras' paths: "lstm/lstm_cell/kernel".
        cell.name = f"{self.name}/{self._cell_name}"

    def __getattr__(self, name: str) -> Any:
        # The cell's arguments (units, activation, ...) read through, as in Keras.
        cell = vars(self).get("cell")
        if name in _CELL_ATTRIBUTES and cell is not None and hasattr(cell, name):
            return getattr(cell, name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def get_config(self) -> dict[str, Any]:
        config = Layer.get_config(self)
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype", "input_shape"):
            cell_config.pop(key, None)
        return {**config, **cell_config, **self._rnn_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**_deserialize_cell_arguments(config))


_CELL_ATTRIBUTES = frozenset(
    {
        "units",
        "activation",
        "recurrent_activation",
        "use_bias",
        "unit_forget_bias",
        "reset_after",
        "kernel_initializer",
        "recurrent_initializer",
        "bias_initializer",
        "kernel_regularizer",
        "recurrent_regularizer",
        "bias_regularizer",
        "kernel_constraint",
        "recurrent_constraint",
        "bias_constraint",
        "dropout",
        "recurrent_dropout",
        "seed",
    }
)


class SimpleRNN(_BuiltinRNN):
    """Fully connected RNN: ``h_t = activation(x_t @ kernel + h_{t-1} @ recurrent + b)``.

    Args:
        units: Size of the state and output.
        activation: Activation (default ``"tanh"``).
        use_bias: Whether to add a bias.
        kernel_initializer: Initializer of ``kernel`` (default ``"glorot_uniform"``).
        recurrent_initializer: Initializer of ``recurrent_kernel`` (``"orthogonal"``).
        bias_initializer: Initializer of ``bias`` (``"zeros"``).
        kernel_regularizer: Optional regularizer of ``kernel``.
        recurrent_regularizer: Optional regularizer of ``recurrent_kernel``.
        bias_regularizer: Optional regularizer of ``bias``.
        activity_regularizer: Not supported (raises).
        kernel_constraint: Optional constraint of ``kernel``.
        recurrent_constraint: Optional constraint of ``recurrent_kernel``.
        bias_constraint: Optional constraint of ``bias``.
        dropout: Fraction of the inputs dropped while training (one mask per sequence).
        recurrent_dropout: Fraction of the state dropped while training.
        seed: Seed of the dropout masks.
        return_sequences: Return every step's output ``(batch, time, units)``.
        return_state: Also return the final state: ``(output, h)``.
        go_backwards: Process the sequence in reverse.
        stateful: Not supported (must be False).
        unroll: Accepted for Keras compatibility.

    Call arguments:
        sequences: ``(batch, time, features)``.
        initial_state: Optional initial state ``(batch, units)`` (or a list of one).
        training: Whether dropout is active.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.SimpleRNN(4, return_sequences=True)
        >>> layer(np.ones((2, 5, 3), np.float32)).shape
        (2, 5, 4)
        >>> [w.shape for w in layer.weights]
        [(3, 4), (4, 4), (4,)]
    """

    _cell_class = SimpleRNNCell
    _cell_name = "simple_rnn_cell"

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
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            dict(
                units=units,
                activation=activation,
                use_bias=use_bias,
                kernel_initializer=kernel_initializer,
                recurrent_initializer=recurrent_initializer,
                bias_initializer=bias_initializer,
                kernel_regularizer=kernel_regularizer,
                recurrent_regularizer=recurrent_regularizer,
                bias_regularizer=bias_regularizer,
                kernel_constraint=kernel_constraint,
                recurrent_constraint=recurrent_constraint,
                bias_constraint=bias_constraint,
                dropout=dropout,
                recurrent_dropout=recurrent_dropout,
                seed=seed,
            ),
            dict(
                return_sequences=return_sequences,
                return_state=return_state,
                go_backwards=go_backwards,
                stateful=stateful,
                unroll=unroll,
            ),
            activity_regularizer,
            kwargs,
        )


class LSTM(_BuiltinRNN):
    """Long short-term memory layer (Hochreiter & Schmidhuber, 1997), Keras 3's LSTM.

    Gates ``i, f, c, o`` in Keras' order: ``kernel (features, 4*units)``,
    ``recurrent_kernel (units, 4*units)``, ``bias (4*units,)``; see `LSTMCell`.

    Args:
        units: Size of the states and output.
        activation: Activation of the cell input and output (default ``"tanh"``).
        recurrent_activation: Activation of the gates (default ``"sigmoid"``).
        use_bias: Whether to add a bias.
        kernel_initializer: Initializer of ``kernel`` (default ``"glorot_uniform"``).
        recurrent_initializer: Initializer of ``recurrent_kernel`` (``"orthogonal"``).
        bias_initializer: Initializer of ``bias`` (``"zeros"``).
        unit_forget_bias: Start the forget gate's bias at 1.
        kernel_regularizer: Optional regularizer of ``kernel``.
        recurrent_regularizer: Optional regularizer of ``recurrent_kernel``.
        bias_regularizer: Optional regularizer of ``bias``.
        activity_regularizer: Not supported (raises).
        kernel_constraint: Optional constraint of ``kernel``.
        recurrent_constraint: Optional constraint of ``recurrent_kernel``.
        bias_constraint: Optional constraint of ``bias``.
        dropout: Fraction of the inputs dropped while training (one mask per sequence).
        recurrent_dropout: Fraction of ``h`` dropped while training.
        seed: Seed of the dropout masks.
        return_sequences: Return every step's output ``(batch, time, units)``.
        return_state: Also return the final states: ``(output, h, c)``.
        go_backwards: Process the sequence in reverse.
        stateful: Not supported (must be False).
        unroll: Accepted for Keras compatibility.

    Call arguments:
        sequences: ``(batch, time, features)``.
        initial_state: Optional ``[h, c]``, each ``(batch, units)``.
        training: Whether dropout is active.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.LSTM(4, return_state=True)
        >>> out, h, c = layer(np.ones((2, 5, 3), np.float32))
        >>> out.shape, c.shape
        ((2, 4), (2, 4))
        >>> [w.shape for w in layer.weights]
        [(3, 16), (4, 16), (16,)]
    """

    _cell_class = LSTMCell
    _cell_name = "lstm_cell"

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
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            dict(
                units=units,
                activation=activation,
                use_bias=use_bias,
                kernel_initializer=kernel_initializer,
                recurrent_initializer=recurrent_initializer,
                bias_initializer=bias_initializer,
                kernel_regularizer=kernel_regularizer,
                recurrent_regularizer=recurrent_regularizer,
                bias_regularizer=bias_regularizer,
                kernel_constraint=kernel_constraint,
                recurrent_constraint=recurrent_constraint,
                bias_constraint=bias_constraint,
                dropout=dropout,
                recurrent_dropout=recurrent_dropout,
                seed=seed,
                recurrent_activation=recurrent_activation,
                unit_forget_bias=unit_forget_bias,
            ),
            dict(
                return_sequences=return_sequences,
                return_state=return_state,
                go_backwards=go_backwards,
                stateful=stateful,
                unroll=unroll,
            ),
            activity_regularizer,
            kwargs,
        )


class GRU(_BuiltinRNN):
    """Gated recurrent unit (Cho et al., 2014), Keras 3's GRU (``reset_after=True``).

    Gates ``z, r, h`` in Keras' order: ``kernel (features, 3*units)``,
    ``recurrent_kernel (units, 3*units)``, ``bias (2, 3*units)`` (input and recurrent
    biases) or ``(3*units,)`` with ``reset_after=False``; see `GRUCell`.

    Args:
        units: Size of the state and output.
        activation: Activation of the candidate state (default ``"tanh"``).
        recurrent_activation: Activation of the gates (default ``"sigmoid"``).
        use_bias: Whether to add biases.
        kernel_initializer: Initializer of ``kernel`` (default ``"glorot_uniform"``).
        recurrent_initializer: Initializer of ``recurrent_kernel`` (``"orthogonal"``).
        bias_initializer: Initializer of ``bias`` (``"zeros"``).
        kernel_regularizer: Optional regularizer of ``kernel``.
        recurrent_regularizer: Optional regularizer of ``recurrent_kernel``.
        bias_regularizer: Optional regularizer of ``bias``.
        activity_regularizer: Not supported (raises).
        kernel_constraint: Optional constraint of ``kernel``.
        recurrent_constraint: Optional constraint of ``recurrent_kernel``.
        bias_constraint: Optional constraint of ``bias``.
        dropout: Fraction of the inputs dropped while training (one mask per sequence).
        recurrent_dropout: Fraction of the state dropped while training.
        seed: Seed of the dropout masks.
        return_sequences: Return every step's output ``(batch, time, units)``.
        return_state: Also return the final state: ``(output, h)``.
        go_backwards: Process the sequence in reverse.
        stateful: Not supported (must be False).
        unroll: Accepted for Keras compatibility.
        reset_after: Apply the reset gate after the recurrent matmul (Keras 3 default).

    Call arguments:
        sequences: ``(batch, time, features)``.
        initial_state: Optional initial state ``(batch, units)`` (or a list of one).
        training: Whether dropout is active.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.GRU(4)
        >>> layer(np.ones((2, 5, 3), np.float32)).shape
        (2, 4)
        >>> [w.shape for w in layer.weights]
        [(3, 12), (4, 12), (2, 12)]
    """

    _cell_class = GRUCell
    _cell_name = "gru_cell"

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        reset_after: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            dict(
                units=units,
                activation=activation,
                use_bias=use_bias,
                kernel_initializer=kernel_initializer,
                recurrent_initializer=recurrent_initializer,
                bias_initializer=bias_initializer,
                kernel_regularizer=kernel_regularizer,
                recurrent_regularizer=recurrent_regularizer,
                bias_regularizer=bias_regularizer,
                kernel_constraint=kernel_constraint,
                recurrent_constraint=recurrent_constraint,
                bias_constraint=bias_constraint,
                dropout=dropout,
                recurrent_dropout=recurrent_dropout,
                seed=seed,
                recurrent_activation=recurrent_activation,
                reset_after=reset_after,
            ),
            dict(
                return_sequences=return_sequences,
                return_state=return_state,
                go_backwards=go_backwards,
                stateful=stateful,
                unroll=unroll,
            ),
            activity_regularizer,
            kwargs,
        )


__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "SimpleRNN", "SimpleRNNCell"]

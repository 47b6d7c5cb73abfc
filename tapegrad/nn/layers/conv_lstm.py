"""Convolutional LSTM layers (Keras 3): `ConvLSTM1D`, `ConvLSTM2D`, `ConvLSTM3D`.

An LSTM whose input and recurrent transforms are convolutions, over inputs
``(batch, time, *spatial, channels)``. Weights use Keras' layouts (gates ``i, f, c, o``):
``kernel (*kernel_size, channels, 4 * filters)``, ``recurrent_kernel (*kernel_size,
filters, 4 * filters)``, ``bias (4 * filters,)``. The input convolution of every time step
runs as one convolution (time folded into the batch); each step then does one recurrent
convolution (``"same"`` padding, stride 1, no dilation, as in Keras).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import ops, random
from tapegrad.nn import activations, constraints, initializers, regularizers
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.layers.conv import normalize_data_format, normalize_tuple
from tapegrad.nn.layers.recurrent.states import StatefulMixin
from tapegrad.nn.validation import (
    check_bool,
    check_constraint,
    check_int,
    check_positive_int,
    check_probability,
    layer_owner,
)


class ConvLSTMCell(Layer):
    """The weights of a `ConvLSTM` layer (Keras' ``conv_lstm_cell``); the layer runs them."""

    def __init__(self, owner: ConvLSTM, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._owner = owner

    def build(self, input_shape: Any) -> None:
        layer = self._owner
        kernel_shape = (*layer.kernel_size, layer.input_dim, 4 * layer.filters)
        self.kernel = self.add_weight(
            kernel_shape,
            layer.kernel_initializer,
            regularizer=layer.kernel_regularizer,
            constraint=layer.kernel_constraint,
            name="kernel",
        )
        self.recurrent_kernel = self.add_weight(
            (*layer.kernel_size, layer.filters, 4 * layer.filters),
            layer.recurrent_initializer,
            regularizer=layer.recurrent_regularizer,
            constraint=layer.recurrent_constraint,
            name="recurrent_kernel",
        )
        self.bias = None
        if layer.use_bias:
            init = layer.bias_initializer
            if layer.unit_forget_bias:
                filters = layer.filters

                def init(shape: Any, dtype: Any = None) -> np.ndarray:
                    # Keras' forget-gate bias of one: i, f, c, o blocks.
                    parts = [
                        layer.bias_initializer((filters,), dtype=dtype),
                        np.ones((filters,), dtype),
                        layer.bias_initializer((2 * filters,), dtype=dtype),
                    ]
                    return np.concatenate([np.asarray(p, dtype) for p in parts])

            self.bias = self.add_weight(
                (4 * layer.filters,),
                init,
                regularizer=layer.bias_regularizer,
                constraint=layer.bias_constraint,
                name="bias",
            )


class ConvLSTM(StatefulMixin, Layer):
    """N-D convolutional LSTM over ``(batch, time, *spatial, channels)``; subclassed by rank.

    Args:
        rank: Number of spatial dims (1, 2 or 3).
        filters: Output channels (of the hidden and cell states).
        kernel_size: An int or ``rank`` ints.
        strides: An int or ``rank`` ints, of the input convolution.
        padding: ``"valid"`` or ``"same"``, of the input convolution.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        dilation_rate: An int or ``rank`` ints.
        activation: Activation of the cell input and output (default tanh).
        recurrent_activation: Activation of the gates (default sigmoid).
        use_bias: Whether to add a bias.
        kernel_initializer, recurrent_initializer, bias_initializer: Initializers
            (defaults glorot_uniform, orthogonal, zeros).
        unit_forget_bias: Start the forget gate's bias at 1.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Regularizers.
        activity_regularizer: Optional regularizer of the outputs (and returned states),
            added to the layer's losses on each call.
        kernel_constraint, recurrent_constraint, bias_constraint: Constraints.
        dropout: Dropout rate of the inputs while training (one mask for every gate
            and time step).
        recurrent_dropout: Dropout rate of the hidden state while training.
        seed: Seed of the dropout draws.
        return_sequences: Return every step's output ``(batch, time, ...)``.
        return_state: Also return the final hidden and cell states.
        go_backwards: Process the sequence in reverse.
        stateful: Carry the final states of each batch to the next (see `RNN`; reset
            with `reset_states`); the batch size must be static.
        unroll: Accepted for Keras compatibility (the loop is a Python loop either way).
        zero_output_for_mask: At masked steps, output zeros instead of the previous
            output (the states are carried through either way), as Keras' RNN does.

    Call arguments:
        sequences: ``(batch, time, *spatial, channels)`` (or channels first).
        initial_state: Optional ``[hidden, cell]`` states.
        mask: Optional boolean ``(batch, time)`` (by default the inputs' mask): masked
            steps keep the states and repeat the previous output, as Keras' RNN does.
        training: Whether dropout is active.
    """

    rank = 2
    _check_input_shape = False
    # Keras 3: the output keeps the input's time mask (return_sequences).
    supports_masking = True

    def __init__(
        self,
        rank: int,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = 1,
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
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ) -> None:
        # The base Layer adds the penalty of every output (states too), as Keras does.
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        owner = layer_owner(self)
        self.rank = rank
        self.filters = check_positive_int(owner, "filters", filters)
        self.kernel_size = normalize_tuple(kernel_size, rank, "kernel_size", owner)
        self.strides = normalize_tuple(strides, rank, "strides", owner)
        self.dilation_rate = normalize_tuple(dilation_rate, rank, "dilation_rate", owner)
        self.padding = str(padding).lower()
        if self.padding not in ("valid", "same"):
            raise ValueError(f"{owner}: padding must be 'valid' or 'same', got {padding!r}")
        self.data_format = normalize_data_format(data_format, owner)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = check_bool(owner, "use_bias", use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = check_bool(owner, "unit_forget_bias", unit_forget_bias)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = check_constraint(self, "kernel_constraint", kernel_constraint)
        self.recurrent_constraint = check_constraint(
            self, "recurrent_constraint", recurrent_constraint
        )
        self.bias_constraint = check_constraint(self, "bias_constraint", bias_constraint)
        self.dropout = check_probability(owner, "dropout", dropout)
        self.recurrent_dropout = check_probability(owner, "recurrent_dropout", recurrent_dropout)
        self.seed = check_int(owner, "seed", seed, minimum=0, allow_none=True)
        self.return_sequences = check_bool(owner, "return_sequences", return_sequences)
        self.return_state = check_bool(owner, "return_state", return_state)
        self.go_backwards = check_bool(owner, "go_backwards", go_backwards)
        self.stateful = check_bool(owner, "stateful", stateful)
        self.unroll = check_bool(owner, "unroll", unroll)
        self.zero_output_for_mask = check_bool(owner, "zero_output_for_mask", zero_output_for_mask)
        self.seed_generator = random.SeedGenerator(seed, name=f"{self.name}_seed_generator")
        self.cell = ConvLSTMCell(self, name=f"{self.name}/conv_lstm_cell", dtype=self.dtype)

    def __call__(self, inputs: Any = None, initial_state: Any = None, **kwargs: Any) -> Any:
        if inputs is None:
            inputs = kwargs.pop("sequences")
        # Initial states join the inputs, so a functional graph records them as inputs.
        if initial_state is not None:
            inputs = [inputs, *list(initial_state)]
        return super().__call__(inputs, **kwargs)

    def _channel_axis(self) -> int:
        return 2 if self.data_format == "channels_first" else self.rank + 2

    def build(self, input_shape: Any) -> None:
        if input_shape and isinstance(input_shape[0], list | tuple):
            input_shape = input_shape[0]
        shape = tuple(input_shape)
        if len(shape) != self.rank + 3:
            raise ValueError(
                f"{layer_owner(self)}: expects inputs (batch, time, {self.rank} spatial axes, "
                f"channels), got shape {shape}"
            )
        spatial = shape[3:] if self.data_format == "channels_first" else shape[2:-1]
        if None in spatial or shape[self._channel_axis()] is None:
            raise ValueError(
                f"{layer_owner(self)}: the spatial and channel axes must be known, got {shape}"
            )
        self.input_dim = int(shape[self._channel_axis()])
        self.cell.build(shape)
        self.cell.built = True
        if self.stateful:
            # The states' shape: one step's input convolution (on zeros, once).
            step = np.zeros((1, *shape[2:]), self.dtype)
            out = list(tuple(shape_of(self._conv(step, self.cell.kernel, recurrent=False)))[1:])
            out[0 if self.data_format == "channels_first" else -1] = self.filters
            self.build_states(shape[0], lambda batch: [np.zeros((batch, *out), self.dtype)] * 2)

    def _conv(self, x: Any, kernel: Any, recurrent: bool) -> Any:
        if recurrent:  # as Keras: stride 1, "same", no dilation
            return ops.conv(x, kernel, 1, "same", self.data_format)
        return ops.conv(x, kernel, self.strides, self.padding, self.data_format, self.dilation_rate)

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        """The input's time mask when ``return_sequences`` (else None); None for states."""
        if isinstance(mask, list | tuple):
            mask = mask[0] if mask else None
        output_mask = mask if self.return_sequences else None
        return [output_mask, None, None] if self.return_state else output_mask

    def call(self, sequences: Any, mask: Any = None, training: bool | None = None) -> Any:
        initial = None
        if isinstance(sequences, list | tuple):
            sequences, *initial = sequences
        if isinstance(mask, list | tuple):  # initial states joined the inputs
            mask = mask[0] if mask else None
        shape = tuple(shape_of(sequences))
        if len(shape) != self.rank + 3 or shape[self._channel_axis()] != self.input_dim:
            raise ValueError(
                f"{layer_owner(self)}: expects inputs (batch, time, {self.rank} spatial axes, "
                f"{self.input_dim} channels), got shape {shape}"
            )
        batch, steps = shape[0], shape[1]
        cell = self.cell
        step_shape = shape[2:]
        if training and self.dropout > 0:
            dropped = random.dropout(
                tnp.ones((batch, *step_shape), dtype=self.dtype),
                self.dropout,
                seed=self.seed_generator,
            )
            sequences = sequences * tnp.expand_dims(dropped, 1)
        # Every step's input convolution at once: time folded into the batch.
        folded = tnp.reshape(sequences, (batch * steps, *step_shape))
        projected = self._conv(folded, cell.kernel, recurrent=False)
        if cell.bias is not None:
            bias_shape = (-1,) + (1,) * self.rank if self.data_format == "channels_first" else (-1,)
            projected = projected + tnp.reshape(cell.bias, bias_shape)
        out_step = tuple(shape_of(projected))[1:]
        projected = tnp.unstack(tnp.reshape(projected, (batch, steps, *out_step)), axis=1)
        axis = 1 if self.data_format == "channels_first" else -1
        state_shape = list(out_step)
        state_shape[0 if axis == 1 else -1] = self.filters
        initial = initial or self.initial_states_of_batch(batch)
        if initial:
            if len(initial) != 2 or any(
                tuple(shape_of(s)) != (batch, *state_shape) for s in initial
            ):
                raise ValueError(
                    f"{layer_owner(self)}: initial_state must be [hidden, cell] of shape "
                    f"{(batch, *state_shape)}, got {[tuple(shape_of(s)) for s in initial]}"
                )
            h, c = initial
        else:
            h = c = np.zeros((batch, *state_shape), np.result_type(self.dtype, sequences.dtype))
        recurrent_mask = None
        if training and self.recurrent_dropout > 0:
            recurrent_mask = random.dropout(
                tnp.ones((batch, *state_shape), dtype=self.dtype),
                self.recurrent_dropout,
                seed=self.seed_generator,
            )
        keeps = self._step_masks(mask, batch, steps)
        outputs = []
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        for t in order:
            x_t = projected[t]
            h_old, c_old = h, c
            h_in = h if recurrent_mask is None else h * recurrent_mask
            z = x_t + self._conv(h_in, cell.recurrent_kernel, recurrent=True)
            z_i, z_f, z_c, z_o = tnp.split(z, 4, axis=axis)
            i = self.recurrent_activation(z_i)
            f = self.recurrent_activation(z_f)
            c = f * c + i * self.activation(z_c)
            h = self.recurrent_activation(z_o) * self.activation(c)
            out = h
            if keeps is not None:  # a masked step: the states (and output) carried through
                h, c = tnp.where(keeps[t], h, h_old), tnp.where(keeps[t], c, c_old)
                # Keras: zeros or the previous output; the states are carried either way.
                out = tnp.where(
                    keeps[t], out, tnp.zeros_like(h) if self.zero_output_for_mask else h_old
                )
            if self.return_sequences:
                outputs.append(out)
        output = tnp.stack(outputs, axis=1) if self.return_sequences else out
        self.keep_states([h, c])
        return [output, h, c] if self.return_state else output

    def _step_masks(self, mask: Any, batch: int, steps: int) -> list[Any] | None:
        """Per step, a boolean broadcasting against the states (None without a mask)."""
        if mask is None:
            return None
        if tuple(shape_of(mask)) != (batch, steps):
            raise ValueError(
                f"{layer_owner(self)}: mask must have shape (batch, time) = "
                f"{(batch, steps)}, got shape {tuple(shape_of(mask))}"
            )
        mask = tnp.not_equal(tnp.asarray(mask), 0)
        return tnp.unstack(tnp.reshape(mask, (batch, steps) + (1,) * (self.rank + 1)), axis=1)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ConvLSTM:
        config = dict(config)
        for key in ("kernel_initializer", "recurrent_initializer", "bias_initializer"):
            if key in config:
                config[key] = initializers.deserialize(config[key])
        for key in (
            "kernel_regularizer",
            "recurrent_regularizer",
            "bias_regularizer",
            "activity_regularizer",
        ):
            if config.get(key) is not None:
                config[key] = regularizers.deserialize(config[key])
        return cls(**config)


def _conv_lstm_class(rank: int, example: str) -> type[ConvLSTM]:
    """The rank-specific class: Keras' signature with ``rank`` fixed."""

    def __init__(  # noqa: N807
        self: ConvLSTM,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: Any = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = 1,
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
        **kwargs: Any,
    ) -> None:
        ConvLSTM.__init__(
            self, rank, filters, kernel_size, strides, padding, data_format, dilation_rate,
            activation, recurrent_activation, use_bias, kernel_initializer,
            recurrent_initializer, bias_initializer, unit_forget_bias, kernel_regularizer,
            recurrent_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
            recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed,
            return_sequences, return_state, go_backwards, stateful, **kwargs,
        )  # fmt: skip

    name = f"ConvLSTM{rank}D"
    doc = f"""{rank}-D convolutional LSTM (Keras' ``{name}``).

    Args:
        filters, kernel_size, strides, padding, data_format, dilation_rate, activation,
        recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, unit_forget_bias, kernel_regularizer, recurrent_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint, recurrent_constraint,
        bias_constraint, dropout, recurrent_dropout, seed, return_sequences, return_state,
        go_backwards, stateful: As in `ConvLSTM`.
        **kwargs: ``unroll``, ``zero_output_for_mask`` (as in `ConvLSTM`), ``name``,
            ``dtype``, ``trainable``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
{example}
    """
    return type(name, (ConvLSTM,), {"__init__": __init__, "__doc__": doc})


ConvLSTM1D = _conv_lstm_class(
    1,
    "        >>> tg.layers.ConvLSTM1D(4, 3)(np.ones((2, 5, 8, 3), np.float32)).shape\n"
    "        (2, 6, 4)",
)
ConvLSTM2D = _conv_lstm_class(
    2,
    "        >>> layer = tg.layers.ConvLSTM2D(4, 3, padding='same', return_sequences=True)\n"
    "        >>> layer(np.ones((2, 5, 6, 6, 3), np.float32)).shape\n"
    "        (2, 5, 6, 6, 4)\n"
    "        >>> [w.shape for w in layer.weights]\n"
    "        [(3, 3, 3, 16), (3, 3, 4, 16), (16,)]",
)
ConvLSTM3D = _conv_lstm_class(
    3,
    "        >>> tg.layers.ConvLSTM3D(2, 2)(np.ones((1, 3, 4, 4, 4, 1), np.float32)).shape\n"
    "        (1, 3, 3, 3, 2)",
)

__all__ = ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]

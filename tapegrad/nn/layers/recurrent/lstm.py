"""`LSTM`: the long short-term memory layer."""

from __future__ import annotations

from typing import Any

from tapegrad.nn.layers.recurrent.cells import LSTMCell
from tapegrad.nn.layers.recurrent.rnn import BuiltinRNN


class LSTM(BuiltinRNN):
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
        activity_regularizer: Optional regularizer of the outputs (and returned states),
            added to the layer's losses on each call.
        kernel_constraint: Optional constraint of ``kernel``.
        recurrent_constraint: Optional constraint of ``recurrent_kernel``.
        bias_constraint: Optional constraint of ``bias``.
        dropout: Fraction of the inputs dropped while training (one mask per sequence).
        recurrent_dropout: Fraction of ``h`` dropped while training.
        seed: Seed of the dropout masks.
        return_sequences: Return every step's output ``(batch, time, units)``.
        return_state: Also return the final states: ``(output, h, c)``.
        go_backwards: Process the sequence in reverse.
        stateful: Carry the final states of each batch into the next call (see `RNN`;
            reset with `reset_states`); the batch size must be static.
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

"""`SimpleRNN`: a fully connected RNN layer."""

from __future__ import annotations

from typing import Any

from tapegrad.nn.layers.recurrent.cells import SimpleRNNCell
from tapegrad.nn.layers.recurrent.rnn import BuiltinRNN


class SimpleRNN(BuiltinRNN):
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
        activity_regularizer: Optional regularizer of the outputs (and returned states),
            added to the layer's losses on each call.
        kernel_constraint: Optional constraint of ``kernel``.
        recurrent_constraint: Optional constraint of ``recurrent_kernel``.
        bias_constraint: Optional constraint of ``bias``.
        dropout: Fraction of the inputs dropped while training (one mask per sequence).
        recurrent_dropout: Fraction of the state dropped while training.
        return_sequences: Return every step's output ``(batch, time, units)``.
        return_state: Also return the final state: ``(output, h)``.
        go_backwards: Process the sequence in reverse.
        stateful: Carry the final states of each batch into the next call (see `RNN`;
            reset with `reset_states`); the batch size must be static.
        unroll: Accepted for Keras compatibility.
        seed: Seed of the dropout masks (last, and left out of `get_config`, as in Keras 3).

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
    _config_omits = ("seed",)

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
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        seed: int | None = None,
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

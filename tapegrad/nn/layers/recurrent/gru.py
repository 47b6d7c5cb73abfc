"""`GRU`: the gated recurrent unit layer."""

from __future__ import annotations

from typing import Any

from tapegrad.nn.layers.recurrent.cells import GRUCell
from tapegrad.nn.layers.recurrent.rnn import BuiltinRNN


class GRU(BuiltinRNN):
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
        activity_regularizer: Optional regularizer of the outputs (and returned states),
            added to the layer's losses on each call.
        kernel_constraint: Optional constraint of ``kernel``.
        recurrent_constraint: Optional constraint of ``recurrent_kernel``.
        bias_constraint: Optional constraint of ``bias``.
        dropout: Fraction of the inputs dropped while training (one mask per sequence).
        recurrent_dropout: Fraction of the state dropped while training.
        seed: Seed of the dropout masks.
        return_sequences: Return every step's output ``(batch, time, units)``.
        return_state: Also return the final state: ``(output, h)``.
        go_backwards: Process the sequence in reverse.
        stateful: Carry the final states of each batch into the next call (see `RNN`;
            reset with `reset_states`); the batch size must be static.
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

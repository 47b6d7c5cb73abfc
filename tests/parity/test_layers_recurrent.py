"""Live parity: recurrent layers, cells and wrappers against Keras 3 (JAX backend)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from tests.parity.harness import (
    LayerCase,
    Sub,
    build_layers,
    check_config_keys,
    check_layer,
)

RNG = np.random.default_rng(2)


def arr(*shape: int) -> np.ndarray:
    """A float32 standard-normal array of ``shape`` (deterministic per module)."""
    return RNG.standard_normal(shape).astype(np.float32)


X = arr(2, 5, 3)
MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
# A mask with a hole: Keras carries the state through masked steps anywhere, not only at
# the end.
HOLE = np.array([[1, 0, 1, 1, 0], [0, 1, 1, 1, 1]], dtype=bool)


def user_cell(lib: Any, units: int) -> Any:
    """A minimal user-written cell (Keras' documented RNN(cell) protocol) for ``lib``."""

    class MinimalCell(lib.layers.Layer):
        def __init__(self, units: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape: Any) -> None:
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.recurrent_kernel = self.add_weight(
                shape=(self.units, self.units), name="recurrent_kernel"
            )

        def call(self, inputs: Any, states: Any) -> Any:
            ops = lib.ops
            prev = states[0]
            out = ops.tanh(
                ops.matmul(inputs, self.kernel) + ops.matmul(prev, self.recurrent_kernel)
            )
            return out, [out]

    return MinimalCell(units)


def rnn_cases(name: str) -> list[LayerCase]:
    """The argument combinations every recurrent layer gets (grouped: compiles are slow)."""
    base = {"units": 4}
    return [
        LayerCase(name, base, (X,)),
        LayerCase(name, {**base, "return_sequences": True}, (X,), mask=HOLE, id=f"{name}-seq-hole"),
        LayerCase(
            name,
            {**base, "return_state": True, "go_backwards": True},
            (X,),
            mask=MASK,
            id=f"{name}-state-backwards-mask",
        ),
    ]


RECURRENT = [
    *rnn_cases("SimpleRNN"),
    LayerCase(
        "SimpleRNN",
        {"units": 3, "use_bias": False, "activation": "relu"},
        (X,),
        id="SimpleRNN-relu-nobias",
    ),
    *rnn_cases("LSTM"),
    LayerCase(
        "LSTM",
        {"units": 3, "unit_forget_bias": False, "recurrent_activation": "tanh"},
        (X,),
        id="LSTM-args",
    ),
    *rnn_cases("GRU"),
    LayerCase(
        "GRU",
        {"units": 3, "reset_after": False, "return_sequences": True},
        (X,),
        mask=HOLE,
        id="GRU-reset_before-mask",
    ),
    LayerCase("RNN", {"cell": Sub("LSTMCell", {"units": 3})}, (X,), id="RNN-LSTMCell"),
    LayerCase(
        "RNN",
        {
            "cell": [Sub("GRUCell", {"units": 3}), Sub("SimpleRNNCell", {"units": 2})],
            "return_sequences": True,
        },
        (X,),
        mask=MASK,
        id="RNN-stacked-cells",
    ),
    LayerCase(
        "RNN",
        {"cell": Sub(user_cell, {"units": 3}), "return_sequences": True},
        (X,),
        mask=HOLE,
        id="RNN-user-cell",
    ),
]
WRAPPERS = [
    LayerCase("Bidirectional", {"layer": Sub("LSTM", {"units": 3})}, (X,)),
    LayerCase(
        "Bidirectional",
        {"layer": Sub("GRU", {"units": 3, "return_sequences": True}), "merge_mode": "sum"},
        (X,),
        mask=MASK,
        id="Bidirectional-sum",
    ),
    LayerCase(
        "Bidirectional",
        {
            "layer": Sub("SimpleRNN", {"units": 2, "return_state": True}),
            "merge_mode": "mul",
            "backward_layer": Sub(
                "SimpleRNN", {"units": 2, "return_state": True, "go_backwards": True}
            ),
        },
        (X,),
        id="Bidirectional-mul-backward_layer-state",
    ),
    LayerCase("TimeDistributed", {"layer": Sub("Dense", {"units": 2})}, (X,)),
    LayerCase(
        "TimeDistributed",
        {"layer": Sub("Conv1D", {"filters": 2, "kernel_size": 2})},
        (arr(2, 3, 4, 2),),
        id="TimeDistributed-Conv1D",
    ),
    LayerCase(
        "ConvLSTM2D",
        {"filters": 2, "kernel_size": 2, "padding": "same", "return_sequences": True},
        (arr(1, 3, 4, 4, 2),),
    ),
]


@pytest.mark.parametrize("case", RECURRENT + WRAPPERS, ids=str)
def test_layer(case: LayerCase) -> None:
    """Outputs, gradients, masks and weights (configs: `test_config_keys`)."""
    check_layer(dataclasses.replace(case, config=False))


CONFIG_CASES = [
    LayerCase("SimpleRNN", {"units": 2}, (X,)),
    LayerCase("LSTM", {"units": 2}, (X,)),
    LayerCase("GRU", {"units": 2}, (X,)),
    LayerCase("RNN", {"cell": Sub("LSTMCell", {"units": 2})}, (X,)),
    LayerCase("Bidirectional", {"layer": Sub("LSTM", {"units": 2})}, (X,)),
    LayerCase("TimeDistributed", {"layer": Sub("Dense", {"units": 2})}, (X,)),
    LayerCase("ConvLSTM1D", {"filters": 2, "kernel_size": 2}, (arr(2, 3, 5, 2),)),
]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=str)
def test_config_keys(case: LayerCase) -> None:
    """get_config has Keras's keys."""
    check_config_keys(*build_layers(case))

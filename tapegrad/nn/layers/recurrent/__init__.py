"""Recurrent layers (Keras 3): `SimpleRNN`, `LSTM`, `GRU`, their cells and the `RNN` wrapper.

Inputs are batch-major ``(batch, time, features)``. The built-in layers project the inputs
of all time steps with one matmul before the loop, ``(batch*time, features) @ kernel``, and
then do one matmul per step for the recurrent part (two for ``GRU(reset_after=False)``).
Weights use Keras' layouts and gate orders, so Keras weights load with ``set_weights``:
``kernel (features, k*units)``, ``recurrent_kernel (units, k*units)``, ``bias (k*units,)``
(``(2, 3*units)`` for ``GRU(reset_after=True)``), gates ``i, f, c, o`` (LSTM) and
``z, r, h`` (GRU).

The package: `cells` holds the cells (each one time step) and what they share, `rnn` the
generic `RNN` loop (any cell) with the base of the built-in layers, and `simple_rnn`,
`lstm` and `gru` the built-in layers, one a module.
"""

from tapegrad.nn.layers.recurrent.cells import GRUCell, LSTMCell, SimpleRNNCell
from tapegrad.nn.layers.recurrent.gru import GRU
from tapegrad.nn.layers.recurrent.lstm import LSTM
from tapegrad.nn.layers.recurrent.rnn import RNN
from tapegrad.nn.layers.recurrent.simple_rnn import SimpleRNN

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "SimpleRNN", "SimpleRNNCell"]

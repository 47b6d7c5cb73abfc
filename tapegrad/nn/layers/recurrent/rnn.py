"""`RNN`: runs a cell over the time axis; and the base of the built-in `SimpleRNN`, `LSTM`
and `GRU` layers (an `RNN` owning its cell, with a flat config)."""

from __future__ import annotations

from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.layers.recurrent.cells import (
    _CELLS,
    LSTMCell,
    SimpleRNNCell,
    _as_list,
    _deserialize_cell_arguments,
    _dtype_of,
    _RecurrentCell,
)
from tapegrad.nn.layers.recurrent.states import StatefulMixin
from tapegrad.nn.layers.serialization import deserialize
from tapegrad.nn.layers.stacked_cells import StackedRNNCells
from tapegrad.nn.validation import (
    check_bool,
    layer_owner,
    require_rank,
)


class RNN(StatefulMixin, Layer):
    """Runs a cell over the time axis of ``(batch, time, features)`` inputs.

    Built-in cells take a fast path: the inputs of all steps are projected with one
    matmul before the loop. Any other cell (a `Layer` with ``state_size`` and
    ``call(inputs, states) -> (output, new_states)``) is called once per step.

    Args:
        cell: The cell (`SimpleRNNCell`, `LSTMCell`, `GRUCell` or a custom cell), or a
            list of cells, run as one `StackedRNNCells` (as Keras does).
        return_sequences: Return the outputs of every step ``(batch, time, units)``
            instead of the last one ``(batch, units)``.
        return_state: Also return the final states: ``(output, *states)``.
        go_backwards: Process the sequence in reverse (outputs stay in processing order,
            as in Keras).
        stateful: Keep the final states of each batch as the initial states of the next
            (sample ``i`` of a batch continues sample ``i`` of the previous one): they live
            in `states` (non-trainable Variables, not among the weights, as in Keras) until
            `reset_states`. The batch size must be fixed: ``Input(batch_size=)`` or
            ``batch_shape=``, or the first batch's when the layer is built by a call.
        unroll: Accepted for Keras compatibility; the loop is always a Python loop.
        zero_output_for_mask: At masked steps, output zeros instead of the previous
            output (the state is carried through either way).

    Call arguments:
        sequences: ``(batch, time, features)``; or a list ``[sequences, *initial_states]``.
        initial_state: Optional list of initial states (default zeros).
        mask: Optional boolean ``(batch, time)``: masked steps are skipped as in Keras
            (the states carried through, the output the previous one). By default the
            mask of the inputs (`Embedding(mask_zero=True)`, `Masking`).
        training: Whether dropout is active.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.RNN(tg.layers.LSTMCell(4), return_state=True)
        >>> out, h, c = layer(np.ones((2, 5, 3), np.float32))
        >>> out.shape, bool(np.allclose(out.numpy(), h.numpy()))
        ((2, 4), True)
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    _check_input_shape = False  # a call may pass [sequences, *states]: checked in call

    def __init__(
        self,
        cell: Layer | list[Layer] | tuple[Layer, ...],
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(cell, list | tuple):  # Keras: a list of cells runs as one stacked cell
            cell = StackedRNNCells(cell)
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
        self.stateful = check_bool(owner, "stateful", stateful)
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
        if self.stateful:
            dtype = self.cell.dtype

            def zeros(batch: int) -> list[Any]:
                return [np.asarray(s, dtype) for s in self._initial_states(None, batch, dtype)]

            self.build_states(input_shape[0], zeros)

    def call(
        self,
        sequences: Any,
        initial_state: Any = None,
        mask: Any = None,
        training: bool | None = None,
    ) -> Any:
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
        steps = self._step_masks(mask, shape)
        if initial_state is None:
            initial_state = self.initial_states_of_batch(shape[0])
        if isinstance(self.cell, _RecurrentCell):
            last, outputs, states = self._run_fused(sequences, initial_state, training, steps)
        else:
            last, outputs, states = self._run_cell(sequences, initial_state, training, steps)
        self.keep_states(list(states))
        output = outputs if self.return_sequences else last
        return (output, *states) if self.return_state else output

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        """The input's time mask when ``return_sequences`` (else None); None for states."""
        if isinstance(mask, list | tuple):
            mask = mask[0] if mask else None
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(_as_list(self.cell.state_size))
        return output_mask

    def _step_masks(self, mask: Any, shape: tuple[Any, ...]) -> list[Any] | None:
        """Per step, a boolean ``(batch, 1)`` (None without a mask), in time order."""
        if isinstance(mask, list | tuple):  # initial states joined the inputs
            mask = mask[0] if mask else None
        if mask is None:
            return None
        if tuple(shape_of(mask)) != tuple(shape[:2]):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': mask must have shape (batch, time) = "
                f"{tuple(shape[:2])}, got shape {tuple(shape_of(mask))}"
            )
        mask = tnp.not_equal(tnp.asarray(mask), 0)
        return tnp.unstack(tnp.expand_dims(mask, -1), axis=1)

    def _masked(self, keep: Any, out: Any, new: list[Any], old: list[Any]) -> tuple[Any, list]:
        """Keras' masked step: the old states, and the previous output (the first state)
        or zeros, where ``keep`` is False."""
        if self.zero_output_for_mask:
            previous = tnp.zeros_like(out)
        else:  # the first state; a stack of cells: the last cell's first state (Keras)
            cells = getattr(self.cell, "cells", None)
            first = 0
            if isinstance(cells, list | tuple) and cells:
                first = sum(len(_as_list(c.state_size)) for c in cells[:-1])
            previous = old[first]
        states = [tnp.where(keep, n, o) for n, o in zip(new, old, strict=True)]
        return tnp.where(keep, out, previous), states

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
        self, sequences: Any, initial_state: Any, training: bool | None, masks: Any = None
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
        # The fused sequence op has no mask: masked sequences take the step loop.
        if masks is None and isinstance(cell, LSTMCell) and cell.fuses_sequence(training):
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
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        for t in order:
            old = states
            if recurrent_mask is not None:
                states = [states[0] * recurrent_mask, *states[1:]]
            out, states = cell.step(inputs[t], states)
            if masks is not None:
                out, states = self._masked(masks[t], out, list(states), list(old))
            if self.return_sequences:
                outputs.append(out)
        return out, tnp.stack(outputs, axis=1) if outputs else None, states

    def _run_cell(
        self, sequences: Any, initial_state: Any, training: bool | None, masks: Any = None
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
            if masks is None:
                states = _as_list(new_states)
            else:
                out, states = self._masked(masks[t], out, _as_list(new_states), states)
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
            if name == "StackedRNNCells":  # cells of built-in cells, restored by name
                cell = deserialize(cell)
            elif name not in _CELLS:
                raise ValueError(
                    f"RNN.from_config: unknown cell {name!r}; only the built-in "
                    f"cells ({', '.join(_CELLS)}) and StackedRNNCells of them are "
                    "restored from a config"
                )
            else:
                cell = _CELLS[name].from_config(cell["config"])
        return cls(cell, **config)


class BuiltinRNN(RNN):
    """`SimpleRNN`, `LSTM` and `GRU`: an `RNN` owning a built-in cell, with a flat config."""

    _cell_class: type[_RecurrentCell] = SimpleRNNCell
    _cell_name = "simple_rnn_cell"
    # Cell arguments Keras 3.15 leaves out of the layer's config (SimpleRNN: seed).
    _config_omits: tuple[str, ...] = ()

    def __init__(
        self,
        cell_arguments: dict[str, Any],
        rnn_arguments: dict[str, Any],
        activity_regularizer: Any,
        kwargs: dict[str, Any],
    ) -> None:
        kwargs.pop("use_cudnn", None)
        kwargs.pop("implementation", None)
        cell = self._cell_class(**cell_arguments, name=self._cell_name, dtype=kwargs.get("dtype"))
        # The base Layer adds the penalty of every output (states too), as Keras does.
        super().__init__(cell, **rnn_arguments, activity_regularizer=activity_regularizer, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # The cell's arguments (units, activation, ...) read through, as in Keras.
        cell = vars(self).get("cell")
        if name in _CELL_ATTRIBUTES and cell is not None and hasattr(cell, name):
            return getattr(cell, name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def get_config(self) -> dict[str, Any]:
        config = Layer.get_config(self)
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype", "input_shape", *self._config_omits):
            cell_config.pop(key, None)
        # Keras 3 writes the key even when unset.
        config.setdefault("activity_regularizer", None)
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

"""`fit`, `evaluate` and `predict` under `tapegrad.distribution.set_distribution(
DataParallel())`: what the loops do differently when a distribution is current.

Every process runs the same loop over the same global batches (one shuffling seed, sent
from process 0) and trains on its contiguous share of each (`DataParallel.shard_bounds`),
so every process takes the same number of steps, a last partial batch included. Before
the first step the weights (and the optimizer's state, on resume) are sent from process
0. The built-in train step weighs each process's loss by its share of the global batch and
sums the gradients across processes between its backward pass and its update (eagerly,
or as a collective primitive inside the compiled step). After each step the metrics'
state changes are summed across processes (and the float non-trainable weights, such as
moving statistics, averaged by share), so ``logs``, ``History`` and ``EarlyStopping`` see
the global numbers on every process; ``stop_training`` is agreed on by all. The callbacks
that write (progress bar, `CSVLogger`, `ModelCheckpoint`, `TensorBoard`,
`BackupAndRestore`, `RemoteMonitor`) run on process 0 only, as does ``model.save``.
``predict`` gathers the processes' outputs in order, on every process.

A process whose share of a (last) batch is empty runs the step on a stand-in sample with
a share of zero: it still joins every collective, and adds nothing.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> from tapegrad.distribution import DataParallel, set_distribution
    >>> model = tg.Sequential([tg.layers.Input((3,)), tg.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> set_distribution(DataParallel())
    >>> history = model.fit(np.ones((8, 3)), np.ones(8), batch_size=4, verbose=0)
    >>> len(history.history["loss"])
    1
    >>> set_distribution(None)
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.distribution as distribution_module
from tapegrad.nn import callbacks as callbacks_module
from tapegrad.nn.trainers.data_adapters import take

__all__ = ["DataParallelRun", "current_run", "is_writer"]

# Callbacks that write files, print or send: process 0 runs them, the others leave them out.
WRITER_CALLBACKS = (
    callbacks_module.ProgbarLogger,
    callbacks_module.CSVLogger,
    callbacks_module.ModelCheckpoint,
    callbacks_module.TensorBoard,
    callbacks_module.BackupAndRestore,
    callbacks_module.RemoteMonitor,
)


def current_run(model: Any) -> DataParallelRun | None:
    """The data-parallel state of one ``fit``/``evaluate``/``predict`` call, or None when
    no distribution is current (the loops then run as in one process)."""
    dp = distribution_module.distribution()
    return None if dp is None else DataParallelRun(model, dp)


def is_writer() -> bool:
    """Whether this process writes files (no distribution, or process 0 of one)."""
    dp = distribution_module.distribution()
    return dp is None or dp.process_id == 0


class DataParallelRun:
    """Wraps the step functions of one loop call for data parallelism.

    Args:
        model: The model (a `Trainer`).
        dp: The current `DataParallel`.
    """

    def __init__(self, model: Any, dp: Any) -> None:
        self.model = model
        self.dp = dp
        self.synced = False
        steps = model.__dict__.get("_compiled_steps")
        if steps is not None and model.__dict__.get("_dp_traced_for") is not dp:
            # A compiled data-parallel step reads its distribution's share Variable.
            steps.pop("dp_train", None)
            model.__dict__["_dp_traced_for"] = dp

    # -- callbacks and fit's start --------------------------------------------------------
    def keep_writers_on_process_0(self, callback_list: Any) -> None:
        """Leave the writing callbacks out of ``callback_list`` except on process 0."""
        if self.dp.process_id == 0:
            return
        callback_list.callbacks = [
            c for c in callback_list.callbacks if not isinstance(c, WRITER_CALLBACKS)
        ]
        callback_list.progbar = None

    def begin_fit(self, shuffler: Any) -> None:
        """Take process 0's start (a restored epoch and step) and shuffling state."""
        model = self.model
        start = (model._initial_epoch, model._initial_step, shuffler.get_state())
        initial_epoch, initial_step, state = self.dp.broadcast_object(start)
        model._initial_epoch, model._initial_step = initial_epoch, initial_step
        shuffler.set_state(state)

    def agree_stop(self, flag_name: str = "stop_training") -> bool:
        """Whether any process set ``model.<flag_name>``; sets it on all to the answer."""
        mine = bool(getattr(self.model, flag_name))
        stop = self.dp.agree(mine)
        if stop != mine:  # (only on a change: a Layer attribute set bumps its structure)
            setattr(self.model, flag_name, stop)
        return stop

    def end_epoch(self, epoch: int) -> bool:
        """Compare the weights across processes (``check_weights``); agree on stopping."""
        if self.dp.check_weights:
            named = [(v.path, np.asarray(v.value)) for v in self._replicated()]
            self.dp.check_same(named, f"after epoch {epoch + 1}")
        return self.agree_stop()

    # -- the step functions ---------------------------------------------------------------
    def train_function(self) -> Any:
        """fit's step function of a global batch."""
        model = self.model
        local = model._step_function("train", model.trainable_weights, gradient_reducer=self.dp)
        return lambda batch: self._run(local, batch, training=True)

    def test_function(self) -> Any:
        """evaluate's step function of a global batch."""
        local = self.model._step_function("test")
        return lambda batch: self._run(local, batch, training=False)

    def predict_function(self) -> Any:
        """predict's step function of a global batch: the outputs of all processes."""
        local = self.model._step_function("predict")

        def run(batch: Any) -> Any:
            shard, count, _ = self._shard(batch)
            self._sync(batch, training=False)
            outputs = local(shard if count else _stand_in(batch))
            return tg.tree.map_structure(
                lambda out: self.dp.gather_concatenated(np.asarray(out)[: count or 0]),
                outputs,
            )

        return run

    def _run(self, local: Any, batch: Any, training: bool) -> Any:
        shard, count, total = self._shard(batch)
        self._sync(batch, training)
        self.dp.set_batch_share(count, total)
        tracked = self._tracked()
        before = {id(v): np.array(v.value) for v in tracked}
        logs = local(shard if count else _stand_in(batch))
        if self.dp.num_processes == 1:
            return logs
        self._reduce_states(before, count / total if total else 0.0)
        return self.model._get_metrics_result_or_logs(logs)

    def _shard(self, batch: Any) -> tuple[Any, int, int]:
        """This process's part of a global batch, its sample count and the global count."""
        x, y, sample_weight = batch
        size = _num_samples(x)
        if not self.dp.auto_shard_dataset:
            total = int(self.dp.sum_arrays([np.array([size], np.int64)])[0][0])
            return batch, size, total
        start, stop = self.dp.shard_bounds(size)
        part = slice(start, stop)
        return (take(x, part), take(y, part), take(sample_weight, part)), stop - start, size

    def _sync(self, batch: Any, training: bool) -> None:
        """Once per call: build the model (and, to train, the optimizer), then give every
        process process 0's weights and optimizer state."""
        if self.synced:
            return
        self.synced = True
        model = self.model
        if not model.built:
            model(_stand_in(batch)[0], training=False)
        variables = list(model.weights)
        optimizer = model.optimizer
        if training and optimizer is not None and model.trainable_weights:
            if not optimizer.built:
                optimizer.build(model.trainable_weights)
            variables += list(optimizer.variables)
        self.dp.broadcast_variables(variables)

    # -- state after a step ---------------------------------------------------------------
    def _metric_variables(self) -> list[Any]:
        return [v for metric in self.model.metrics for v in metric.variables]

    def _moving_variables(self) -> list[Any]:
        """Float non-trainable weights (moving statistics): averaged by share each step."""
        return [
            v
            for v in self.model.non_trainable_weights
            if np.issubdtype(np.dtype(v.dtype), np.floating)
        ]

    def _tracked(self) -> list[Any]:
        if self.dp.num_processes == 1:
            return []
        return self._metric_variables() + self._moving_variables()

    def _reduce_states(self, before: dict[int, np.ndarray], share: float) -> None:
        """Sum the metric states' changes over processes; average the moving weights'."""
        metric_vars = self._metric_variables()
        moving = self._moving_variables()
        starts = [_before(v, before) for v in metric_vars + moving]
        changes = []
        for index, variable in enumerate(metric_vars + moving):
            change = np.asarray(variable.value) - starts[index]
            if index >= len(metric_vars):
                change = change * np.asarray(share, change.dtype)
            elif not share:
                change = np.zeros_like(change)  # a stand-in sample: nothing to count
            changes.append(change)
        totals = self.dp.sum_arrays(changes)
        for variable, start, total in zip(metric_vars + moving, starts, totals, strict=True):
            variable.assign(start + total)

    def _replicated(self) -> list[Any]:
        """What every process must hold identically: weights and optimizer state."""
        optimizer = self.model.optimizer
        extra = list(optimizer.variables) if optimizer is not None and optimizer.built else []
        return list(self.model.weights) + extra


def _before(variable: Any, before: dict[int, np.ndarray]) -> np.ndarray:
    value = before.get(id(variable))
    if value is None:  # made during the step (metrics build at their first batch)
        value = np.zeros(variable.shape, np.dtype(variable.dtype))
    return value


def _num_samples(x: Any) -> int:
    return int(np.shape(tg.tree.flatten(x)[0])[0])


def _stand_in(batch: Any) -> Any:
    """The first sample of a global batch: run by a process whose share is empty."""
    x, y, sample_weight = batch
    first = slice(0, 1)
    return (take(x, first), take(y, first), take(sample_weight, first))

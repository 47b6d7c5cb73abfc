"""`fit`, `evaluate` and `predict`: epochs of batches from a data adapter, through the step
functions of `Trainer`, with every `Callback` hook called where Keras 3 calls it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad.nn import callbacks as callbacks_module
from tapegrad.nn import fit_checks
from tapegrad.nn.trainers import distributed
from tapegrad.nn.trainers.data_adapters import (
    class_weight_to_sample_weights,
    get_data_adapter,
    is_array_data,
    num_samples,
    take,
    to_arrays,
)
from tapegrad.nn.trainers.epoch_iterator import EpochIterator
from tapegrad.random import SeedGenerator, make_default_seed

__all__ = ["TrainingLoops"]


class TrainingLoops:
    """``fit`` / ``evaluate`` / ``predict`` of `Trainer` (``self`` is the model)."""

    def _shuffle_generator(self) -> Any:
        """fit's shuffling `SeedGenerator`, made at the first fit from the global seed."""
        generator = getattr(self, "_fit_seed_generator", None)
        if generator is None:
            generator = SeedGenerator(make_default_seed(), name="fit_shuffle")
            self._fit_seed_generator = generator
        return generator

    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: Any = "auto",
        callbacks: Sequence[Any] | None = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: bool = True,
        class_weight: dict[int, float] | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        validation_batch_size: int | None = None,
        validation_freq: int = 1,
    ) -> Any:
        """Train for ``epochs`` epochs; returns a `History` (Keras 3 ``Model.fit``).

        Args:
            x: Inputs: an array, a list or dict of arrays, a pandas object, a `PyDataset`,
                or a generator / iterable yielding ``x``, ``(x, y)`` or
                ``(x, y, sample_weight)`` batches (then ``y`` and ``sample_weight`` stay
                None and ``batch_size`` is the source's).
            y: Targets (array, or list/dict per output).
            batch_size: Samples per step for array data (default 32).
            epochs: Index of the last epoch (training starts at ``initial_epoch``).
            verbose: 0 silent, 1 progress bar, 2 one line per epoch (``"auto"``: 1).
            callbacks: Callback instances.
            validation_split: Fraction of array data (the last samples, before
                shuffling) held out for validation.
            validation_data: ``(x_val, y_val)``, ``(x_val, y_val, sample_weight)``, a
                `PyDataset` or a generator.
            shuffle: Shuffle the samples (a `PyDataset`: its batch order) every epoch, in
                an order drawn from fit's seeded generator (see
                ``tapegrad.utils.set_random_seed``).
            class_weight: Per-class loss weights (integer or one-hot labels).
            sample_weight: Per-sample loss weights.
            initial_epoch: Epoch to start at (to resume training).
            steps_per_epoch: Batches per epoch (a stream is read on across epochs, so an
                endless generator can be used).
            validation_steps: Batches per validation (needed for an endless generator).
            validation_batch_size: Batch size for validation (default: ``batch_size``).
            validation_freq: Validate every this many epochs.

        Returns:
            A `History` whose ``history`` maps ``loss``, metrics and ``val_*`` to lists.
        """
        self._require_compiled("fit")
        fit_checks.check_fit(self, locals())
        verbose = 1 if verbose == "auto" else int(verbose)
        owner = f"Model '{self.name}' fit()"
        if validation_split and validation_data is None:
            if not is_array_data(x):
                raise ValueError(
                    f"{owner}: `validation_split` is only supported for Tensors or NumPy "
                    f"arrays, found the input of type {type(x).__name__}"
                )
            (x, y, sample_weight), validation_data = _split(x, y, sample_weight, validation_split)
        adapter = get_data_adapter(x, y, sample_weight, batch_size, shuffle, class_weight, owner)
        iterator = EpochIterator(adapter, steps_per_epoch)
        validation = None
        if validation_data is not None:
            val_x, val_y, val_w = _unpack_validation(validation_data)
            validation = EpochIterator(
                get_data_adapter(
                    val_x, val_y, val_w, validation_batch_size or batch_size, owner=owner
                ),
                validation_steps,
            )
        callback_list = callbacks_module.CallbackList(
            callbacks,
            add_history=True,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            epochs=epochs,
            steps=iterator.num_steps,
        )
        self.stop_training = False
        self._sync_trainable()
        run = distributed.current_run(self)  # None unless a distribution is set
        if run is not None:
            run.keep_writers_on_process_0(callback_list)
        self.__dict__["_in_loop"] = True
        self.__dict__["_data_parallel"] = run
        try:
            return self._fit_epochs(
                callback_list, iterator, validation, initial_epoch, epochs, validation_freq
            )
        finally:
            self.__dict__["_in_loop"] = False
            self.__dict__["_metrics_cache"] = None
            self.__dict__["_data_parallel"] = None

    def _fit_epochs(
        self,
        callback_list: Any,
        iterator: EpochIterator,
        validation: EpochIterator | None,
        initial_epoch: int,
        epochs: int,
        validation_freq: int,
    ) -> Any:
        adapter = iterator.adapter
        shuffler = self._shuffle_generator()
        run = self.__dict__.get("_data_parallel")
        callback_list.on_train_begin()
        if run is not None:
            run.begin_fit(shuffler)
        # A callback (BackupAndRestore) may have restored an interrupted run.
        start = initial_epoch if self._initial_epoch is None else int(self._initial_epoch)
        skip = int(self._initial_step or 0)
        self._initial_epoch = self._initial_step = None
        training_logs = None
        for epoch in range(start, epochs):
            self.reset_metrics()
            callback_list.on_epoch_begin(epoch)
            # The epoch's order comes from the generator's state at its start, which
            # moves on only at its end: a checkpoint taken mid-epoch resumes this order.
            state = shuffler.get_state()
            epoch_seed = np.asarray(shuffler.next())
            shuffler.set_state(state)
            train_function = (
                self._step_function("train", self.trainable_weights)
                if run is None
                else run.train_function()
            )
            adapter.on_epoch_begin()
            logs: Any = {}
            for step, batch in iterator.epoch(epoch_seed, skip):
                callback_list.on_train_batch_begin(step)
                logs = train_function(batch)
                self.__dict__["_fit_step"] = self.__dict__.get("_fit_step", 0) + 1
                callback_list.on_train_batch_end(step, logs)
                if self.stop_training if run is None else run.agree_stop():
                    break
            skip = 0
            adapter.on_epoch_end()
            shuffler.next()
            epoch_logs = dict(self._get_metrics_result_or_logs(logs))
            if validation is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._evaluate_loop(validation, callback_list)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            self.__dict__["_fit_epoch"] = epoch + 1  # before the callbacks: checkpoints save it
            callback_list.on_epoch_end(epoch, epoch_logs)
            training_logs = epoch_logs
            stop = self.stop_training if run is None else run.end_epoch(epoch)
            if stop or iterator.insufficient_data:
                break
        if getattr(self.optimizer, "use_ema", False) and epochs > start:
            # As Keras 3: with use_ema=True training ends with the weights' moving averages.
            self.optimizer.finalize_variable_values(self.trainable_weights)
        callback_list.on_train_end(logs=training_logs)
        self.history = callback_list.history
        return self.history

    def _evaluate_loop(self, iterator: EpochIterator, callback_list: Any) -> dict[str, Any]:
        """One pass of test steps with the test hooks; returns the logs."""
        self.reset_metrics()
        self.stop_evaluating = False
        run = self.__dict__.get("_data_parallel")
        test_function = self._step_function("test") if run is None else run.test_function()
        callback_list.on_test_begin()
        logs: Any = {}
        iterator.adapter.on_epoch_begin()
        for step, batch in iterator.epoch(None):
            callback_list.on_test_batch_begin(step)
            logs = test_function(batch)
            callback_list.on_test_batch_end(step, logs)
            if self.stop_evaluating if run is None else run.agree_stop("stop_evaluating"):
                break
        iterator.adapter.on_epoch_end()
        logs = dict(self._get_metrics_result_or_logs(logs))
        callback_list.on_test_end(logs)
        return logs

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: Any = "auto",
        sample_weight: Any = None,
        steps: int | None = None,
        callbacks: Sequence[Any] | None = None,
        return_dict: bool = False,
    ) -> Any:
        """Loss and metrics over the data, batch by batch (Keras 3 ``Model.evaluate``).

        Args:
            x: Inputs (as for `fit`: arrays, a `PyDataset` or a generator).
            y: Targets (array data only).
            batch_size: Samples per batch for array data (default 32).
            verbose: 0 or ``"auto"`` silent; 1 or 2 print the results.
            sample_weight: Per-sample weights (array data only).
            steps: At most this many batches (needed for an endless generator).
            callbacks: Callbacks; their ``on_test_*`` hooks are called.
            return_dict: Return ``{name: value}`` instead of a list.

        Returns:
            The loss and metrics: a scalar when there is only the loss, else a list in
            `metrics_names` order (a dict with ``return_dict=True``).
        """
        self._require_compiled("evaluate")
        fit_checks.check_evaluate(self, locals())
        owner = f"Model '{self.name}' evaluate()"
        adapter = get_data_adapter(x, y, sample_weight, batch_size, owner=owner)
        iterator = EpochIterator(adapter, steps)
        callback_list = callbacks_module.CallbackList(
            callbacks, model=self, verbose=0, epochs=1, steps=iterator.num_steps
        )
        self.__dict__["_in_loop"] = True
        self.__dict__["_data_parallel"] = distributed.current_run(self)
        try:
            logs = self._evaluate_loop(iterator, callback_list)
        finally:
            self.__dict__["_in_loop"] = False
            self.__dict__["_metrics_cache"] = None
            self.__dict__["_data_parallel"] = None
        if verbose and verbose != "auto" and distributed.is_writer():
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        return logs if return_dict else self._flatten_metrics_in_order(logs)

    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: Any = "auto",
        steps: int | None = None,
        callbacks: Sequence[Any] | None = None,
    ) -> Any:
        """The model's outputs for ``x`` as NumPy arrays, batch by batch.

        Args:
            x: Inputs (arrays, a `PyDataset` or a generator; only ``x`` of its batches
                is used).
            batch_size: Samples per batch for array data (default 32).
            verbose: Accepted for Keras compatibility (nothing is printed).
            steps: At most this many batches (needed for an endless generator).
            callbacks: Callbacks; their ``on_predict_*`` hooks are called.

        Returns:
            The outputs, batches concatenated (same structure as the model's outputs).
        """
        fit_checks.check_predict(self, locals())
        owner = f"Model '{self.name}' predict()"
        adapter = get_data_adapter(x, None, None, batch_size, owner=owner)
        iterator = EpochIterator(adapter, steps)
        callback_list = callbacks_module.CallbackList(
            callbacks, model=self, verbose=0, epochs=1, steps=iterator.num_steps
        )
        self.stop_predicting = False
        run = distributed.current_run(self)
        predict_function = self._step_function("predict") if run is None else run.predict_function()
        callback_list.on_predict_begin()
        outputs = []
        adapter.on_epoch_begin()
        for step, batch in iterator.epoch(None):
            callback_list.on_predict_batch_begin(step)
            result = tg.tree.map_structure(np.asarray, predict_function(batch))
            outputs.append(result)
            callback_list.on_predict_batch_end(step, {"outputs": result})
            if self.stop_predicting if run is None else run.agree_stop("stop_predicting"):
                break
        adapter.on_epoch_end()
        callback_list.on_predict_end()
        if not outputs:
            raise ValueError(f"{owner}: got no samples to predict")
        return _concatenate(outputs)

    # -- single batches -----------------------------------------------------------------
    def train_on_batch(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        class_weight: Any = None,
        return_dict: bool = False,
    ) -> Any:
        """One training step on exactly this batch (metrics reset first, as Keras 3's).

        Args:
            x: Inputs.
            y: Targets.
            sample_weight: Per-sample weights.
            class_weight: Per-class weights (folded into the sample weights).
            return_dict: Return ``{name: value}`` instead of a list.

        Returns:
            The loss and metrics (a scalar when there is only the loss).
        """
        self._require_compiled("train_on_batch")
        fit_checks.check_batch(self, "train_on_batch", locals())
        x, y = to_arrays(x), to_arrays(y)
        weights = None if sample_weight is None else np.asarray(sample_weight, tg.backend.floatx())
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError(
                    "Arguments `sample_weight` and `class_weight` cannot be specified at the "
                    f"same time. Received: sample_weight={type(sample_weight).__name__}, "
                    f"class_weight={class_weight!r}"[:300]
                )
            weights = class_weight_to_sample_weights(y, class_weight)
        self._sync_trainable()
        self.reset_metrics()
        logs = self._step_function("train")((x, y, weights))
        self.__dict__["_fit_step"] = self.__dict__.get("_fit_step", 0) + 1
        return logs if return_dict else self._flatten_metrics_in_order(logs)

    def test_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False
    ) -> Any:
        """Loss and metrics on exactly this batch (metrics reset first, as Keras 3's).

        Args:
            x: Inputs.
            y: Targets.
            sample_weight: Per-sample weights.
            return_dict: Return ``{name: value}`` instead of a list.

        Returns:
            The loss and metrics.
        """
        self._require_compiled("test_on_batch")
        fit_checks.check_batch(self, "test_on_batch", locals())
        weights = None if sample_weight is None else np.asarray(sample_weight, tg.backend.floatx())
        self.reset_metrics()
        logs = self._step_function("test")((to_arrays(x), to_arrays(y), weights))
        return logs if return_dict else self._flatten_metrics_in_order(logs)

    def predict_on_batch(self, x: Any) -> Any:
        """Predictions for one batch, as NumPy arrays.

        Args:
            x: Inputs.

        Returns:
            The outputs (same structure) as NumPy arrays.
        """
        fit_checks.check_batch(self, "predict_on_batch", locals())
        result = self._step_function("predict")((to_arrays(x), None, None))
        return tg.tree.map_structure(np.asarray, result)


def _concatenate(outputs: list[Any]) -> Any:
    first = outputs[0]
    if isinstance(first, dict):
        return {k: np.concatenate([o[k] for o in outputs]) for k in first}
    if isinstance(first, list | tuple):
        return [np.concatenate([o[i] for o in outputs]) for i in range(len(first))]
    return np.concatenate(outputs)


def _split(x: Any, y: Any, sample_weight: Any, fraction: float) -> tuple[Any, Any]:
    """Training and validation parts of array data: the last ``fraction`` validates."""
    x, y = to_arrays(x), to_arrays(y)
    n = num_samples(x)
    split = int(math.floor(n * (1 - fraction)))
    head, tail = slice(0, split), slice(split, None)
    validation = (take(x, tail), take(y, tail), take(sample_weight, tail))
    return (take(x, head), take(y, head), take(sample_weight, head)), validation


def _unpack_validation(data: Any) -> tuple[Any, Any, Any]:
    if isinstance(data, tuple | list) and len(data) in (2, 3) and is_array_data(data[0]):
        return (data[0], data[1], data[2] if len(data) == 3 else None)
    return (data, None, None)

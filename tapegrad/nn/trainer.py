"""compile / fit / evaluate / predict (Keras 3 semantics) over a GradientTape train step."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad.graph import TracerValueError, UntraceableError
from tapegrad.nn import callbacks as callbacks_module
from tapegrad.nn import fit_checks
from tapegrad.nn import losses as losses_module
from tapegrad.nn import metrics as metrics_module
from tapegrad.nn import optimizers as optimizers_module
from tapegrad.random import SeedGenerator, make_default_seed

logger = logging.getLogger("tapegrad")


class Trainer:
    """Mixin giving a model Keras' training API. ``self`` is a `Layer` (the model)."""

    def _init_trainer(self) -> None:
        self.optimizer: Any = None
        self.loss: Any = None
        self.compiled = False
        self.stop_training = False
        self.history: Any = None
        self._loss_objects: Any = None
        self._metric_specs: Any = None
        self._metric_objects: list[Any] | None = None
        self._loss_weights: Any = None
        self.jit_compile: Any = False
        # fit's shuffling generator (made at the first fit), the next epoch and the steps
        # taken: random state that `tapegrad.nn.random_state` saves for exact resume.
        self._fit_seed_generator: Any = None
        self._fit_epoch = 0
        self._fit_step = 0

    # -- compile ------------------------------------------------------------------------
    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        loss_weights: Any = None,
        metrics: Any = None,
        weighted_metrics: Any = None,
        run_eagerly: bool = False,
        jit_compile: Any = "auto",
        **kwargs: Any,
    ) -> None:
        """Configure training.

        Args:
            optimizer: Optimizer instance or name (``"adam"``, ``"sgd"``, ...).
            loss: Loss (instance, function or name); a list/dict for several outputs.
            loss_weights: Weights of the losses of several outputs.
            metrics: Metrics (instances, functions or names such as ``"accuracy"``).
            weighted_metrics: Metrics that use ``sample_weight`` (treated like metrics).
            run_eagerly: True trains, evaluates and predicts eagerly (like
                ``jit_compile=False``).
            jit_compile: ``"auto"`` (default) runs `fit`, `evaluate` and `predict` as
                steps compiled by `tapegrad.function` and falls back to eager steps when a
                step cannot be traced (the reason is logged on ``tapegrad.nn.trainer``);
                ``True`` compiles and raises instead of falling back; ``False`` is eager.
        """
        fit_checks.check_compile(self, locals())
        if jit_compile not in ("auto", True, False):
            raise ValueError(
                f"compile: jit_compile must be 'auto', True or False, got {jit_compile!r}"
            )
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = loss
        self._loss_objects = _map(losses_module.get, loss) if loss is not None else None
        self._loss_weights = loss_weights
        specs = list(metrics or []) + list(weighted_metrics or [])
        self._metric_specs = specs
        self._metric_objects = None
        self.jit_compile = False if run_eagerly else jit_compile
        # Compiled step per kind ("train", "test", "predict"); None once it fell back.
        self._compiled_steps: dict[str, Any] = {}
        self.compiled = True

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"Model '{self.name}': call compile() before {what}()")
        if self._loss_objects is None and what != "predict":
            raise ValueError(f"Model '{self.name}': compile() needs a loss to {what}()")

    # -- losses and metrics -------------------------------------------------------------
    def compute_loss(self, y: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """The compiled loss (summed over outputs, weighted) plus regularization losses."""
        losses = self._loss_objects
        if isinstance(y_pred, list | tuple):
            ys = _as_list(y, len(y_pred))
            fns = losses if isinstance(losses, list | tuple) else [losses] * len(y_pred)
            weights = self._loss_weights or [1.0] * len(y_pred)
            total: Any = 0.0
            for fn, target, pred, weight in zip(fns, ys, y_pred, weights, strict=True):
                total = total + weight * fn(target, pred, sample_weight=sample_weight)
        elif isinstance(y_pred, dict):
            weights = self._loss_weights or {}
            total = 0.0
            for key, pred in y_pred.items():
                fn = losses[key] if isinstance(losses, dict) else losses
                total = total + weights.get(key, 1.0) * fn(
                    y[key], pred, sample_weight=sample_weight
                )
        else:
            total = losses(y, y_pred, sample_weight=sample_weight)
        for penalty in self.losses:  # type: ignore[attr-defined]
            total = total + penalty
        return total

    def _metrics_for(self, y: Any, y_pred: Any) -> list[Any]:
        if self._metric_objects is None:
            objects = []
            first_loss = self._loss_objects
            if isinstance(first_loss, list | tuple):
                first_loss = first_loss[0]
            y0 = y[0] if isinstance(y, list | tuple) else y
            p0 = y_pred[0] if isinstance(y_pred, list | tuple) else y_pred
            for spec in self._metric_specs or []:
                if spec in ("accuracy", "acc"):
                    objects.append(
                        metrics_module.resolve_accuracy(first_loss, np.shape(y0), np.shape(p0))
                    )
                else:
                    objects.append(metrics_module.get(spec))
            self._metric_objects = objects
        return self._metric_objects

    @property
    def metrics_names(self) -> list[str]:
        return ["loss"] + [m.name for m in self._metric_objects or []]

    def _update_metrics(self, y: Any, y_pred: Any, sample_weight: Any) -> None:
        y0 = y[0] if isinstance(y, list | tuple) else y
        p0 = y_pred[0] if isinstance(y_pred, list | tuple) else y_pred
        for metric in self._metrics_for(y, y_pred):
            metric.update_state(y0, p0, sample_weight=sample_weight)

    def _reset_metrics(self) -> None:
        for metric in self._metric_objects or []:
            metric.reset_state()

    def _metric_logs(self, prefix: str = "") -> dict[str, float]:
        return {prefix + m.name: float(np.asarray(m.result())) for m in self._metric_objects or []}

    # -- steps --------------------------------------------------------------------------
    def _compiled_step(self, kind: str) -> Any:
        """The compiled step function of ``kind``, or None when steps run eagerly."""
        if not getattr(self, "jit_compile", False):
            return None
        steps = self._compiled_steps
        if kind not in steps:
            body = {
                "train": self._train_step_body,
                "test": self._test_step_body,
                "predict": self._predict_body,
            }[kind]
            steps[kind] = tg.function(body)
        return steps[kind]

    def _run_compiled(self, kind: str, *args: Any) -> Any:
        """Run the compiled ``kind`` step; None means "run it eagerly" (after a fallback)."""
        step = self._compiled_step(kind)
        if step is None:
            return None
        try:
            return step(*args)
        except (TracerValueError, UntraceableError) as err:
            if self.jit_compile is True:
                raise
            logger.warning(
                "Model '%s': the %s step cannot be compiled, it runs eagerly: %s",
                self.name,
                kind,
                err,
            )  # type: ignore[attr-defined]
            self._compiled_steps[kind] = None
            return None

    def _train_step_body(
        self, x: Any, y: Any, sample_weight: Any = None, variables: list[Any] | None = None
    ) -> tuple[Any, Any]:
        """Forward, backward and update (eagerly, or traced by `tapegrad.function`)."""
        with tg.GradientTape() as tape:
            y_pred = self(x, training=True)  # type: ignore[operator]
            loss = self.compute_loss(y, y_pred, sample_weight)
        if variables is None:
            variables = self.trainable_weights  # type: ignore[attr-defined]
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        return loss, y_pred

    def _test_step_body(self, x: Any, y: Any, sample_weight: Any = None) -> tuple[Any, Any]:
        y_pred = self(x, training=False)  # type: ignore[operator]
        return self.compute_loss(y, y_pred, sample_weight), y_pred

    def _predict_body(self, x: Any) -> Any:
        return self(x, training=False)  # type: ignore[operator]

    def train_step(
        self, x: Any, y: Any, sample_weight: Any = None, variables: list[Any] | None = None
    ) -> float:
        """One optimizer step on a batch; returns the batch loss (before the update).

        ``variables`` (default: the model's trainable weights) lets `fit` walk the layer
        tree once per epoch instead of once per step (eager steps only: a compiled step
        has the list built in).
        """
        compiled = self._run_compiled("train", x, y, sample_weight)
        loss, y_pred = (
            compiled
            if compiled is not None
            else self._train_step_body(x, y, sample_weight, variables)
        )
        self._update_metrics(y, y_pred, sample_weight)
        # (Not through Layer.__setattr__: that would drop the weight-list caches each step.)
        self.__dict__["_fit_step"] = self.__dict__.get("_fit_step", 0) + 1
        return float(np.asarray(loss))

    def test_step(self, x: Any, y: Any, sample_weight: Any = None) -> float:
        """Loss on a batch without training; updates the metrics."""
        compiled = self._run_compiled("test", x, y, sample_weight)
        loss, y_pred = (
            compiled if compiled is not None else self._test_step_body(x, y, sample_weight)
        )
        self._update_metrics(y, y_pred, sample_weight)
        return float(np.asarray(loss))

    def train_on_batch(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        class_weight: Any = None,
        return_dict: bool = False,
    ) -> Any:
        """One training step on exactly this batch (Keras semantics)."""
        self._require_compiled("train_on_batch")
        fit_checks.check_batch(self, "train_on_batch", locals())
        self._reset_metrics()
        loss = self.train_step(_floatify(x), y, _sample_weights(y, sample_weight, class_weight))
        logs = {"loss": loss, **self._metric_logs()}
        return logs if return_dict else _as_result(logs)

    def test_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False
    ) -> Any:
        """Loss and metrics on exactly this batch."""
        self._require_compiled("test_on_batch")
        fit_checks.check_batch(self, "test_on_batch", locals())
        self._reset_metrics()
        loss = self.test_step(_floatify(x), y, sample_weight)
        logs = {"loss": loss, **self._metric_logs()}
        return logs if return_dict else _as_result(logs)

    def predict_on_batch(self, x: Any) -> Any:
        """Predictions for one batch, as NumPy arrays."""
        fit_checks.check_batch(self, "predict_on_batch", locals())
        batch = _floatify(x)
        result = self._run_compiled("predict", batch)
        return _to_numpy(result if result is not None else self._predict_body(batch))

    # -- loops --------------------------------------------------------------------------
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
        validation_batch_size: int | None = None,
        validation_freq: int = 1,
        **kwargs: Any,
    ) -> Any:
        """Train for ``epochs`` epochs over ``(x, y)`` in mini-batches; returns a History.

        Args:
            x: Inputs (array, or list/dict of arrays for several inputs).
            y: Targets (array, or list/dict for several outputs).
            batch_size: Samples per step (default 32).
            epochs: Index of the last epoch (training starts at ``initial_epoch``).
            verbose: 0 silent, 1 progress bar, 2 one line per epoch (``"auto"``: 1).
            callbacks: Callback instances.
            validation_split: Fraction of the data (the last samples, before shuffling)
                held out for validation.
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight)``.
            shuffle: Shuffle the training samples every epoch.
            class_weight: Per-class loss weights (integer labels).
            sample_weight: Per-sample loss weights.
            initial_epoch: Epoch to start at (to resume training).
            steps_per_epoch: Cap on the batches per epoch.
            validation_batch_size: Batch size for validation (default: ``batch_size``).
            validation_freq: Validate every this many epochs.

        Returns:
            A `History` whose ``history`` maps ``loss``, metrics and ``val_*`` to lists.
        """
        self._require_compiled("fit")
        if kwargs:
            raise TypeError(f"fit() got unexpected arguments {sorted(kwargs)}")
        fit_checks.check_fit(self, locals())
        verbose = 1 if verbose == "auto" else int(verbose)
        batch_size = batch_size or 32
        x = _floatify(x)
        n = _num_samples(x)
        if y is not None and _num_samples(y) != n:
            raise ValueError(f"Model '{self.name}': x has {n} samples but y has {_num_samples(y)}")
        if validation_data is None and validation_split:
            if not 0 < validation_split < 1:
                raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
            split = int(math.floor(n * (1 - validation_split)))
            validation_data = (_take(x, slice(split, None)), _take(y, slice(split, None)))
            if sample_weight is not None:
                validation_data += (_take(sample_weight, slice(split, None)),)
            x, y = _take(x, slice(0, split)), _take(y, slice(0, split))
            sample_weight = _take(sample_weight, slice(0, split))
            n = split
        weights = _sample_weights(y, sample_weight, class_weight)
        steps = max(1, math.ceil(n / batch_size))
        if steps_per_epoch:
            steps = min(steps, steps_per_epoch)
        callback_list = callbacks_module.CallbackList(
            callbacks,
            add_history=True,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            epochs=epochs,
            steps=steps,
        )
        self.stop_training = False
        shuffler = self._shuffle_generator()
        callback_list.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            callback_list.on_epoch_begin(epoch)
            # One draw per epoch, shuffled or not: epoch k's order depends only on the
            # generator's state, which archives save (exact resume).
            epoch_seed = np.asarray(shuffler.next())
            order = np.random.default_rng(epoch_seed).permutation(n) if shuffle else np.arange(n)
            variables = self.trainable_weights  # type: ignore[attr-defined]
            total, seen = 0.0, 0
            for step in range(steps):
                index = order[step * batch_size : (step + 1) * batch_size]
                callback_list.on_train_batch_begin(step)
                batch_loss = self.train_step(
                    _take(x, index), _take(y, index), _take(weights, index), variables
                )
                total += batch_loss * len(index)
                seen += len(index)
                logs = {"loss": total / seen, **self._metric_logs()}
                callback_list.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            epoch_logs = {"loss": total / max(seen, 1), **self._metric_logs()}
            if validation_data is not None and (epoch + 1) % validation_freq == 0:
                val_x, val_y, val_weight = _unpack_validation(validation_data)
                val = self.evaluate(
                    val_x,
                    val_y,
                    sample_weight=val_weight,
                    batch_size=validation_batch_size or batch_size,
                    verbose=0,
                    return_dict=True,
                )
                epoch_logs.update({f"val_{k}": v for k, v in val.items()})
            self.__dict__["_fit_epoch"] = epoch + 1  # before the callbacks: checkpoints save it
            callback_list.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        callback_list.on_train_end()
        self.history = callback_list.history
        return self.history

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
        """Loss and metrics over ``(x, y)``, batch by batch (sample-weighted mean)."""
        self._require_compiled("evaluate")
        fit_checks.check_evaluate(self, locals())
        x = _floatify(x)
        n = _num_samples(x)
        batch_size = batch_size or 32
        self._reset_metrics()
        total, seen = 0.0, 0
        n_steps = max(1, math.ceil(n / batch_size))
        if steps:
            n_steps = min(n_steps, steps)
        for step in range(n_steps):
            index = np.arange(step * batch_size, min(n, (step + 1) * batch_size))
            loss = self.test_step(_take(x, index), _take(y, index), _take(sample_weight, index))
            total += loss * len(index)
            seen += len(index)
        logs = {"loss": total / max(seen, 1), **self._metric_logs()}
        if verbose and verbose != "auto":
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        return logs if return_dict else _as_result(logs)

    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: Any = "auto",
        steps: int | None = None,
        callbacks: Sequence[Any] | None = None,
    ) -> Any:
        """Model outputs for ``x`` as NumPy arrays, computed batch by batch."""
        fit_checks.check_predict(self, locals())
        x = _floatify(x)
        n = _num_samples(x)
        batch_size = batch_size or 32
        outputs = []
        for start in range(0, n, batch_size):
            index = np.arange(start, min(n, start + batch_size))
            batch = _take(x, index)
            result = self._run_compiled("predict", batch)
            if result is None:
                result = self._predict_body(batch)
            outputs.append(_to_numpy(result))
        if not outputs:
            raise ValueError(f"Model '{self.name}': predict() got no samples")
        first = outputs[0]
        if isinstance(first, list):
            return [np.concatenate([o[i] for o in outputs]) for i in range(len(first))]
        return np.concatenate(outputs)

    # -- weights I/O (the archive format lives in nn/saving.py) --------------------------
    def save(self, filepath: str) -> None:
        """Save architecture, weights and optimizer state to a ``.tapegrad`` archive."""
        from tapegrad.nn import saving

        saving.save_model(self, filepath)

    def save_weights(self, filepath: str) -> None:
        """Save the weights only (safetensors)."""
        from tapegrad.nn import saving

        saving.save_weights(self, filepath)

    def load_weights(self, filepath: str) -> None:
        """Load weights saved by `save_weights` (or from a model archive)."""
        from tapegrad.nn import saving

        saving.load_weights(self, filepath)

    def summary(self, print_fn: Any = None) -> None:
        """Print Keras' summary table: layers, output shapes, parameter counts."""
        from tapegrad.nn.models.summary import summary_lines

        for line in summary_lines(self):
            (print_fn or print)(line)


# -- data helpers ---------------------------------------------------------------------------
def _map(func: Any, structure: Any) -> Any:
    if isinstance(structure, list | tuple):
        return [func(s) for s in structure]
    if isinstance(structure, dict):
        return {k: func(v) for k, v in structure.items()}
    return func(structure)


def _floatify(x: Any) -> Any:
    """Inputs as arrays; float64 inputs become float32 (the model's dtype), like Keras."""

    def convert(value: Any) -> Any:
        if isinstance(value, tg.Tensor):
            return value
        arr = np.asarray(value)
        return arr.astype(np.float32) if arr.dtype == np.float64 else arr

    return _map(convert, x)


def _num_samples(x: Any) -> int:
    if isinstance(x, dict):
        x = next(iter(x.values()))
    if isinstance(x, list | tuple):
        x = x[0]
    return int(np.shape(x)[0])


def _take(x: Any, index: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, dict):
        return {k: _take(v, index) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_take(v, index) for v in x]
    if isinstance(x, tg.Tensor):
        return x[index]
    return np.asarray(x)[index]


def _sample_weights(y: Any, sample_weight: Any, class_weight: Any) -> Any:
    if class_weight is None:
        return None if sample_weight is None else np.asarray(sample_weight, np.float32)
    labels = np.asarray(y)
    if labels.ndim > 1 and labels.shape[-1] > 1:
        labels = labels.argmax(-1)
    labels = labels.reshape(-1).astype(np.int64)
    weights = np.array([class_weight.get(int(c), 1.0) for c in labels], np.float32)
    return weights if sample_weight is None else weights * np.asarray(sample_weight)


def _unpack_validation(data: Any) -> tuple[Any, Any, Any]:
    if not isinstance(data, tuple | list) or len(data) not in (2, 3):
        raise ValueError("validation_data must be (x, y) or (x, y, sample_weight)")
    return (data[0], data[1], data[2] if len(data) == 3 else None)


def _as_list(y: Any, count: int) -> list[Any]:
    if isinstance(y, list | tuple):
        if len(y) != count:
            raise ValueError(f"the model has {count} outputs but {len(y)} targets were given")
        return list(y)
    return [y] * count


def _to_numpy(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [np.asarray(v) for v in value]
    if isinstance(value, dict):
        return {k: np.asarray(v) for k, v in value.items()}
    return np.asarray(value)


def _as_result(logs: dict[str, float]) -> Any:
    values = list(logs.values())
    return values[0] if len(values) == 1 else values

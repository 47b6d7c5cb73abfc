"""The `Trainer` mixin: Keras 3's ``compile`` and Model protocol over a GradientTape step.

``train_step(data)``, ``test_step(data)``, ``predict_step(data)``, ``compute_loss(x, y,
y_pred, sample_weight, training)`` and ``compute_metrics(x, y, y_pred, sample_weight)`` have
Keras 3's signatures and may be overridden; ``metrics`` lists the loss tracker (a ``Mean``
named ``"loss"``), the compiled metrics and the `Metric` attributes of the model, as Keras
3 lists them. The loops (`fit`, `evaluate`, `predict`) live in `loops.py`, the per-batch
step functions in `steps.py`.

Steps run compiled by `tapegrad.function` unless ``run_eagerly=True`` or
``jit_compile=False``. A user's step that cannot be traced (it reads a value with
``float(...)``, say) runs eagerly after a one-time warning with ``jit_compile="auto"`` (the
default); with ``jit_compile=True`` the tracing error is raised.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from typing import Any

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.nn import fit_checks
from tapegrad.nn import losses as losses_module
from tapegrad.nn import metrics as metrics_module
from tapegrad.nn import optimizers as optimizers_module
from tapegrad.nn.layers.structure import structure_version
from tapegrad.nn.trainers.compile_utils import CompileLoss, CompileMetrics
from tapegrad.nn.trainers.data_adapters import unpack_x_y_sample_weight
from tapegrad.nn.trainers.distributed import is_writer
from tapegrad.nn.trainers.loops import TrainingLoops
from tapegrad.nn.trainers.steps import StepFunctions, batch_size, concrete, pythonify_logs

# Attributes holding the trainer's own metrics (not user metrics found on the model).
_OWN_METRICS = frozenset({"_loss_tracker", "_compile_metrics"})


class Trainer(StepFunctions, TrainingLoops):
    """Mixin giving a model Keras' training API. ``self`` is a `Layer` (the model)."""

    def _init_trainer(self) -> None:
        self.optimizer: Any = None
        self.loss: Any = None
        self.compiled = False
        self.stop_training = False
        self.stop_evaluating = False
        self.stop_predicting = False
        self.history: Any = None
        self._loss_tracker: Any = None
        self._compile_loss: Any = None
        self._compile_metrics: Any = None
        self._metric_specs: Any = None
        self._loss_weights: Any = None
        self.jit_compile: Any = False
        self.run_eagerly = False
        # Set by a callback's on_train_begin (BackupAndRestore): the epoch fit starts at
        # and the batches of it already done; fit reads and clears them.
        self._initial_epoch: int | None = None
        self._initial_step: int | None = None
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
        """Configure training (Keras 3 ``Model.compile``).

        Args:
            optimizer: Optimizer instance or name (``"adam"``, ``"sgd"``, ...).
            loss: Loss (instance, function or name); a list or a dict keyed by output name
                for several outputs; None when ``add_loss`` terms or an overridden
                ``compute_loss`` / ``train_step`` provide the loss.
            loss_weights: A list or dict (per output) of numbers weighting the losses.
            metrics: Metrics (instances, functions or names such as ``"accuracy"``): a list
                for every output, or a list / dict per output; they ignore sample weights.
            weighted_metrics: Metrics that use ``sample_weight``, in the same forms.
            run_eagerly: True runs every step eagerly (like ``jit_compile=False``).
            jit_compile: ``"auto"`` (default) compiles the steps with `tapegrad.function`
                and runs a step eagerly when it cannot be traced (logged, or warned once
                for a user's step); ``True`` raises instead; ``False`` is eager.
            **kwargs: ``steps_per_execution`` and ``auto_scale_loss`` at their defaults.

        Examples:
            >>> import tapegrad as tg
            >>> model = tg.Sequential([tg.layers.Input((2,)), tg.layers.Dense(1)])
            >>> model.compile("sgd", "mse", metrics=["mae"])
            >>> model.metrics_names
            ['loss', 'compile_metrics']
        """
        fit_checks.check_compile(self, locals())
        if jit_compile not in ("auto", True, False):
            raise ValueError(
                f"compile: jit_compile must be 'auto', True or False, got {jit_compile!r}"
            )
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = loss
        if loss is not None:
            tg.tree.map_structure(losses_module.get, loss)  # unknown names fail here
        self._loss_weights = loss_weights
        flat = [metrics, weighted_metrics]
        simple = all(isinstance(m, list | tuple) or m is None for m in flat)
        specs = [s for m in flat for s in (m or [])] if simple else []
        # Saved with the model (compile_config); per-output forms are not.
        self._metric_specs = [s for s in specs if not isinstance(s, list | tuple | dict)]
        output_names = self._output_names_or_none()
        self._compile_loss = (
            CompileLoss(loss, loss_weights, output_names) if loss is not None else None
        )
        self._compile_metrics = (
            CompileMetrics(metrics, weighted_metrics, output_names, losses=loss)
            if metrics is not None or weighted_metrics is not None
            else None
        )
        self._loss_tracker = metrics_module.Mean(name="loss")
        self.run_eagerly = bool(run_eagerly)
        self.jit_compile = False if run_eagerly else jit_compile
        # Compiled step per kind ("train", "test", "predict", "user_train", ...); None once
        # it fell back to eager.
        self._compiled_steps: dict[str, Any] = {}
        self._compiled_for: tuple[int, ...] | None = None
        self.stop_training = False
        self.compiled = True

    def _output_names_or_none(self) -> list[str] | None:
        try:
            names = getattr(self, "output_names", None)
        except (AttributeError, ValueError, NotImplementedError):
            return None
        return list(names) if names else None

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise RuntimeError(
                f"You must call `compile()` before using the model. Model '{self.name}' "  # type: ignore[attr-defined]
                f"{what}() was called before compile()"
            )

    # -- losses and metrics -------------------------------------------------------------
    @property
    def metrics(self) -> list[Any]:
        """The loss tracker, compiled metrics, per-output loss trackers and the model's own
        `Metric` attributes (Keras 3's order)."""
        found: list[Any] = []
        if self.compiled:
            found.append(self._loss_tracker)
            if self._compile_metrics is not None:
                found.append(self._compile_metrics)
            if self._compile_loss is not None:
                found.extend(self._compile_loss.metrics)
        found.extend(self._user_metrics())
        return found

    def _user_metrics(self) -> list[Any]:
        # Cached against the structure version (any layer attribute set bumps it): `metrics`
        # is read several times per step, and walking the model's attributes costs more
        # than a small model's step.
        version = structure_version()
        cached = self.__dict__.get("_user_metrics_cache")
        if cached is not None and cached[0] == version:
            return cached[1]
        found: dict[int, Any] = {}
        for name, value in vars(self).items():
            if name in _OWN_METRICS:
                continue
            items = value if isinstance(value, list | tuple) else [value]
            for item in items:
                if isinstance(item, metrics_module.Metric):
                    found.setdefault(id(item), item)
        result = list(found.values())
        self.__dict__["_user_metrics_cache"] = (version, result)  # (not a structure change)
        return result

    @property
    def metrics_names(self) -> list[str]:
        """The names of `metrics` (Keras 3)."""
        return [m.name for m in self.metrics]

    @property
    def _metric_objects(self) -> list[Any]:
        """The compiled metric objects (built at the first batch)."""
        return [] if self._compile_metrics is None else self._compile_metrics.metrics

    def reset_metrics(self) -> None:
        """Reset the state of every metric in `metrics`."""
        for metric in self.metrics:
            metric.reset_state()

    def _loop_metrics(self) -> list[Any]:
        """`metrics`, looked up once per state of the compiled metrics while a loop runs
        (the per-batch logs would otherwise walk the model's attributes every step)."""
        if not self.__dict__.get("_in_loop"):
            return self.metrics
        key = (
            self._compile_loss is not None and self._compile_loss.built,
            self._compile_metrics is not None and self._compile_metrics.built,
        )
        cached = self.__dict__.get("_metrics_cache")
        if cached is None or cached[0] != key:
            # (A built CompileMetrics without metrics adds nothing to the logs.)
            found = [m for m in self.metrics if not (isinstance(m, CompileMetrics) and m.empty)]
            cached = (key, found)
            self.__dict__["_metrics_cache"] = cached
        return cached[1]

    def get_metrics_result(self) -> dict[str, Any]:
        """``{name: value}`` of every metric (a compiled-metrics dict flattened into it).

        Returns:
            Python floats (traced values inside a compiled step).
        """
        return self._metrics_result(fast_loss=False)

    def _metrics_result(self, fast_loss: bool) -> dict[str, Any]:
        logs: dict[str, Any] = {}
        tracker = self._loss_tracker
        for metric in self._loop_metrics():
            if fast_loss and metric is tracker:
                # The mean in NumPy (outside any trace): Mean.result()'s number, cheaper.
                # (float() reads the value without handing the array out, so the next
                # assign_add stays in place.)
                count = float(tracker.count)
                logs[metric.name] = float(tracker.total) / count if count else 0.0
                continue
            if isinstance(metric, CompileMetrics) and not metric.built:
                continue
            result = metric.result()
            if isinstance(result, dict):
                logs.update(result)
            else:
                logs[metric.name] = result
        if fast_loss:  # outside any trace: every value is concrete
            return {key: concrete(logs[key]) for key in sorted(logs)}
        return pythonify_logs(logs)

    def explain(self, x: Any, y: Any = None, sample_weight: Any = None) -> Any:
        """How the gradient of one training step is computed, op by op and rule by rule.

        Records the model called on ``(x, y)`` with ``training=True``, its compiled loss
        (`compute_loss`: the compiled losses plus regularization and ``add_loss``
        terms) and the gradient of that loss with respect to `trainable_weights`, the
        gradient ``fit`` applies. Layers (``Lambda`` included) are drawn as groups.

        Args:
            x: One batch of inputs (``tapegrad.explain.synthetic_batch`` makes one).
            y: Its targets (None if the loss needs none).
            sample_weight: Per-sample weights, or None.

        Returns:
            A `tapegrad.explain.Explanation`: ``.text()``, ``.to_dot()``,
            ``.save("grad.html")``, ``.gradients()`` (one array per trainable weight,
            equal to the tape's gradient bit for bit).

        Raises:
            ValueError: the model is not compiled or has no trainable weights.

        Examples:
            >>> import numpy as np
            >>> import tapegrad as tg
            >>> model = tg.Sequential([tg.Input((2,)), tg.layers.Dense(1, name="out")])
            >>> model.compile(optimizer="sgd", loss="mse")
            >>> e = model.explain(np.ones((3, 2), "float32"), np.zeros((3, 1), "float32"))
            >>> [g.shape for g in e.gradients()]
            [(2, 1), (1,)]
            >>> e.backward[0].rule.text
            'g / y'
        """
        from tapegrad.explain import explain_model

        return explain_model(self, x, y, sample_weight)

    def compute_loss(
        self,
        x: Any = None,
        y: Any = None,
        y_pred: Any = None,
        sample_weight: Any = None,
        training: bool = True,
    ) -> Any:
        """The compiled loss (weighted over outputs) plus `losses` (regularization and
        ``add_loss`` terms), as Keras 3 computes it.

        Args:
            x: Inputs (unused by the default).
            y: Targets.
            y_pred: The model's outputs.
            sample_weight: Per-sample weights.
            training: Whether the loss is for a training step (unused by the default).

        Returns:
            A scalar Tensor.

        Raises:
            ValueError: No loss at all (no ``loss`` compiled and no ``add_loss`` terms).
        """
        del x, training
        losses = []
        if self._compile_loss is not None:
            value = self._compile_loss(y, y_pred, sample_weight)
            if value is not None:
                losses.append(value)
        for extra in self.losses:  # type: ignore[attr-defined]
            losses.append(tnp.sum(tnp.asarray(extra, dtype=tg.backend.floatx())))
        if not losses:
            raise ValueError(
                f"Model '{self.name}': no loss to compute. Provide a `loss` argument in "  # type: ignore[attr-defined]
                "`compile()`."
            )
        total = losses[0]
        for value in losses[1:]:
            total = total + value
        return total

    def _compute_loss(self, **arguments: Any) -> Any:
        # An override written before Keras 3.3 may lack ``training``.
        if "training" not in _parameters(type(self).compute_loss):
            arguments.pop("training")
        return self.compute_loss(**arguments)

    def compute_metrics(
        self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None
    ) -> dict[str, Any]:
        """Update the compiled metrics with a batch; returns `get_metrics_result`.

        Args:
            x: Inputs (unused by the default).
            y: Targets.
            y_pred: The model's outputs.
            sample_weight: Per-sample weights (used by ``weighted_metrics``).

        Returns:
            ``{name: value}`` for every metric in `metrics`.
        """
        del x
        if self._compile_metrics is not None:
            self._compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def _get_metrics_result_or_logs(self, logs: Any) -> Any:
        # A custom step may return other keys than `metrics` has: its logs are kept.
        results = self.get_metrics_result()
        if isinstance(logs, dict) and set(logs) == set(results):
            return results
        return logs

    def _flatten_metrics_in_order(self, logs: dict[str, Any]) -> Any:
        names: list[str] = []
        for metric in self.metrics:
            if isinstance(metric, CompileMetrics):
                # Keras lists the sub-metrics' own names: prefixed ones land in the sorted tail.
                names.extend(m.name for m in metric.metrics)
            else:
                names.append(metric.name)
        values = [logs[name] for name in names if name in logs]
        values += [logs[key] for key in sorted(logs) if key not in names]
        return values[0] if len(values) == 1 else values

    # -- the Model protocol (Keras 3 signatures; overridable) ----------------------------
    def train_step(self, data: Any) -> dict[str, Any]:
        """One optimizer step on a batch (Keras 3): forward under a tape, `compute_loss`,
        gradients, ``optimizer.apply_gradients``, then `compute_metrics`.

        Args:
            data: What the dataset yields: ``x``, ``(x, y)`` or ``(x, y, sample_weight)``.

        Returns:
            ``{name: value}`` of the metrics (`fit` logs it).
        """
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        with tg.GradientTape() as tape:
            y_pred = self(x, training=True)  # type: ignore[operator]
            loss = self._compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            # As Keras: the optimizer's loss scaling, undone on the gradients in apply.
            scaled_loss = self.optimizer.scale_loss(loss)
        self._loss_tracker.update_state(loss, sample_weight=batch_size(x))
        variables = self.trainable_weights  # type: ignore[attr-defined]
        if variables:
            grads = tape.gradient(scaled_loss, variables)
            self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        else:
            warnings.warn("The model does not have any trainable weights.", stacklevel=2)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data: Any) -> dict[str, Any]:
        """Loss and metrics of a batch without training (Keras 3).

        Args:
            data: ``x``, ``(x, y)`` or ``(x, y, sample_weight)``.

        Returns:
            ``{name: value}`` of the metrics.
        """
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)  # type: ignore[operator]
        loss = self._compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False
        )
        self._loss_tracker.update_state(loss, sample_weight=batch_size(x))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def predict_step(self, data: Any) -> Any:
        """The model's outputs for a batch (Keras 3).

        Args:
            data: ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` (only ``x`` used).

        Returns:
            The outputs.
        """
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)  # type: ignore[operator]

    # -- what the step functions (steps.py) ask of the model --------------------------
    def _uses_compiled_loss(self) -> bool:
        """Whether training reads ``y`` through the compiled loss (built-in steps and
        `compute_loss`), so that targets are required."""
        kind = type(self)
        return (
            self._compile_loss is not None
            and kind.compute_loss is Trainer.compute_loss
            and not self._overridden("train")
            and not self._overridden("test")
        )

    def _check_targets(self, method: str) -> None:
        """A batch without targets is an error when the compiled loss reads them."""
        if self._uses_compiled_loss():
            raise ValueError(
                f"Model '{self.name}' {method}(): the compiled loss {self.loss!r} needs "  # type: ignore[attr-defined]
                "targets, but a batch has none (a generator or PyDataset must yield "
                "`(x, y)` or `(x, y, sample_weight)`)"[:300]
            )

    def _overridden(self, kind: str) -> bool:
        """Whether the model's class overrides ``<kind>_step`` (or the method ``kind``)."""
        name = kind if kind.startswith("compute_") else f"{kind}_step"
        return getattr(type(self), name) is not getattr(Trainer, name)

    # -- weights I/O: through the public tapegrad.saving (which imports the models), so
    # the trainer needs no import of its own and the module graph has no cycle.
    def save(self, filepath: str) -> None:
        """Save architecture, weights and optimizer state to a ``.tapegrad`` archive.

        Args:
            filepath: Where to write (``tapegrad.saving.save_model``); under a
                `DataParallel`, only process 0 writes (the replicas are identical).
        """
        if is_writer():
            tg.saving.save_model(self, filepath)

    def save_weights(self, filepath: str) -> None:
        """Save the weights only (safetensors; ``tapegrad.saving.save_weights``).

        Args:
            filepath: Where to write.
        """
        tg.saving.save_weights(self, filepath)

    def load_weights(self, filepath: str) -> None:
        """Load weights saved by `save_weights` (or from a model archive).

        Args:
            filepath: The file (``tapegrad.saving.load_weights``).
        """
        tg.saving.load_weights(self, filepath)

    def summary(self, print_fn: Any = None) -> None:
        """Print Keras' summary table: layers, output shapes, parameter counts.

        Args:
            print_fn: Called with each line (default `print`).
        """
        # (Imported here: the models package imports this module while it loads.)
        from tapegrad.nn.models.summary import summary_lines

        for line in summary_lines(self):
            (print_fn or print)(line)


@functools.lru_cache(maxsize=256)
def _parameters(function: Any) -> frozenset[str]:
    try:
        return frozenset(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return frozenset({"training"})

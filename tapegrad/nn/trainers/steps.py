"""The step functions `fit`, `evaluate` and `predict` call once per batch.

The built-in steps run a compiled body (forward, loss, loss tracking, gradients and the
update, traced once by `tapegrad.function`) and update the compiled metrics from its
outputs; a user's ``train_step`` / ``test_step`` / ``predict_step`` override is compiled
as a whole. A step that cannot be traced runs eagerly: after a log line (built-in steps) or
a one-time warning (a user's step) with ``jit_compile="auto"``; ``jit_compile=True``
raises the tracing error instead.
"""

from __future__ import annotations

import functools
import logging
import warnings
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad.graph import TracerValueError, UntraceableError, is_traced
from tapegrad.nn.layers.keras_tensor import flatten, map_structure
from tapegrad.nn.layers.layer_masks import get_keras_mask, set_keras_mask
from tapegrad.nn.trainers.data_adapters import pack_x_y_sample_weight

logger = logging.getLogger("tapegrad")

__all__ = ["StepFunctions", "batch_size", "concrete", "pythonify_logs"]


def pythonify_logs(logs: dict[str, Any]) -> dict[str, Any]:
    """Logs as Keras' ``pythonify_logs`` makes them: keys sorted, nested dicts (a
    ``CompileMetrics`` result) flattened in, scalars as Python floats; traced values
    (inside a compiled step) unchanged."""
    result: dict[str, Any] = {}
    for key, value in sorted(logs.items()):
        if isinstance(value, dict):
            result.update(pythonify_logs(value))
        else:
            result[key] = value if is_traced(value) else concrete(value)
    return result


def concrete(value: Any) -> Any:
    """A result as a Python float (a scalar) or a NumPy array."""
    array = np.asarray(value)
    return float(array) if array.ndim == 0 else array


class StepFunctions:
    """The per-batch step functions of `Trainer` (``self`` is the model)."""

    def _step_function(
        self, kind: str, variables: list[Any] | None = None, gradient_reducer: Any = None
    ) -> Any:
        """A function of one batch ``(x, y, sample_weight)`` running the ``kind`` step
        (with a ``gradient_reducer``, a `DataParallel`: the built-in train step sums the
        processes' gradients; a user's ``train_step`` calls ``average_gradients`` itself)."""
        if not self._overridden(kind):
            fast = {"train": self._fast_train, "test": self._fast_test}.get(kind)
            if fast is None:
                return self._fast_predict
            if kind == "train" and gradient_reducer is not None:
                return functools.partial(
                    fast, variables=variables, gradient_reducer=gradient_reducer
                )
            if kind == "train":
                return functools.partial(fast, variables=variables)
            return fast
        user = getattr(self, f"{kind}_step")

        def run(batch: Any) -> Any:
            data = pack_x_y_sample_weight(*batch)
            compiled = self._compiled_step(f"user_{kind}", user)
            if compiled is not None:
                try:
                    return _check_logs(self, kind, compiled(data))
                except (TracerValueError, UntraceableError) as err:
                    if self.jit_compile is True:
                        raise
                    warnings.warn(
                        f"Model '{self.name}': {type(self).__name__}.{kind}_step cannot be "  # type: ignore[attr-defined]
                        f"compiled by tapegrad.function, it runs eagerly: {err}",
                        stacklevel=2,
                    )
                    self._compiled_steps[f"user_{kind}"] = None
            return _check_logs(self, kind, user(data))

        return run

    def _sync_trainable(self) -> None:
        """Drop compiled training steps traced with another set of trainable weights."""
        now = tuple(id(v) for v in self.trainable_weights)  # type: ignore[attr-defined]
        if now == self._compiled_for:
            return
        if self._compiled_for is not None:
            for key in ("train", "user_train", "dp_train"):
                self._compiled_steps.pop(key, None)
        # Bookkeeping, not structure: set without Layer.__setattr__, whose bump of the
        # structure version would drop every layer's cached weight lists at each step.
        self.__dict__["_compiled_for"] = now

    def _compiled_step(self, kind: str, body: Any) -> Any:
        """The compiled ``body`` for ``kind``, or None when steps run eagerly."""
        if not self.jit_compile or self.run_eagerly:  # (run_eagerly may be set after compile)
            return None
        steps = self._compiled_steps
        if kind not in steps:
            # One trace per phase: a smaller last batch or another evaluation batch size
            # re-specializes the trace, proven by a probe trace of the step's Python
            # (tapegrad.config.disable_batch_polymorphism turns it off).
            polymorphic = tg.config.is_batch_polymorphism_enabled()
            steps[kind] = tg.function(body, batch_polymorphic=polymorphic)
        return steps[kind]

    def _run_compiled(self, kind: str, body: Any, *args: Any) -> Any:
        """Run the compiled built-in ``kind`` step; None means "run it eagerly"."""
        step = self._compiled_step(kind, body)
        if step is None:
            return None
        try:
            return step(*args)
        except (TracerValueError, UntraceableError) as err:
            if self.jit_compile is True:
                raise
            logger.warning(
                "Model '%s': the %s step cannot be compiled, it runs eagerly: %s",
                self.name,  # type: ignore[attr-defined]
                kind,
                err,
            )
            self._compiled_steps[kind] = None
            return None

    def _track_loss(self, loss: Any, x: Any) -> None:
        # Mean.update_state(loss, sample_weight=batch size), written out: it runs every step.
        size = batch_size(x)
        tracker = self._loss_tracker
        # Eagerly the loss is a number (cheaper to add as a float than as a Tensor op).
        tracker.total.assign_add(loss * size if is_traced(loss) else float(loss) * size)
        tracker.count.assign_add(size)

    def _train_step_body(
        self,
        x: Any,
        y: Any,
        sample_weight: Any = None,
        variables: list[Any] | None = None,
        gradient_reducer: Any = None,
    ) -> tuple[Any, Any]:
        """Forward, backward, update and loss tracking (eagerly, or traced by
        `tapegrad.function`); with a ``gradient_reducer`` (data parallel), the gradients
        of this process's share of the loss are summed over processes before the update."""
        with tg.GradientTape() as tape:
            y_pred = self(x, training=True)  # type: ignore[operator]
            loss = self._compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            target = loss if gradient_reducer is None else gradient_reducer.scale_loss(loss)
            # As Keras' trainers: the optimizer scales the differentiated loss
            # (loss_scale_factor, LossScaleOptimizer) and unscales the gradients in apply.
            target = self.optimizer.scale_loss(target)
        self._track_loss(loss, x)
        if not variables:
            # Also when fit listed them before the first batch built the model (an empty
            # list then): the eager fallback of an untraceable step must update them.
            variables = self.trainable_weights  # type: ignore[attr-defined]
        if variables:
            grads = tape.gradient(target, variables)
            if gradient_reducer is not None:
                grads = gradient_reducer.reduce_gradients(grads)
            self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        # The output masks leave a compiled step with y_pred (the metrics read them).
        return loss, y_pred, map_structure(get_keras_mask, y_pred)

    def _test_step_body(self, x: Any, y: Any, sample_weight: Any = None) -> tuple[Any, Any]:
        y_pred = self(x, training=False)  # type: ignore[operator]
        loss = self._compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False
        )
        self._track_loss(loss, x)
        return loss, y_pred, map_structure(get_keras_mask, y_pred)

    def _predict_body(self, x: Any) -> Any:
        return self(x, training=False)  # type: ignore[operator]

    def _fast_train(
        self, batch: Any, variables: list[Any] | None = None, gradient_reducer: Any = None
    ) -> dict[str, Any]:
        """The built-in train step: the forward/backward/update compiled as one function;
        the metrics updated from its outputs."""
        x, y, sample_weight = batch
        if y is None:
            self._check_targets("fit")
        if gradient_reducer is None:
            compiled = self._run_compiled("train", self._train_step_body, x, y, sample_weight)
        else:
            body = functools.partial(self._train_step_body, gradient_reducer=gradient_reducer)
            compiled = self._run_compiled("dp_train", body, x, y, sample_weight)
        _, y_pred, masks = (
            compiled
            if compiled is not None
            else self._train_step_body(x, y, sample_weight, variables, gradient_reducer)
        )
        return self._fast_metrics(x, y, _with_masks(y_pred, masks), sample_weight)

    def _fast_test(self, batch: Any) -> dict[str, Any]:
        x, y, sample_weight = batch
        if y is None:
            self._check_targets("evaluate")
        compiled = self._run_compiled("test", self._test_step_body, x, y, sample_weight)
        _, y_pred, masks = (
            compiled if compiled is not None else self._test_step_body(x, y, sample_weight)
        )
        return self._fast_metrics(x, y, _with_masks(y_pred, masks), sample_weight)

    def _fast_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any) -> dict[str, Any]:
        """`compute_metrics` of the built-in steps (which run outside any trace)."""
        if self._overridden("compute_metrics"):
            return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        compiled_metrics = self._compile_metrics
        if compiled_metrics is not None and not compiled_metrics.empty:
            compiled_metrics.update_state(y, y_pred, sample_weight)
        return self._metrics_result(fast_loss=True)

    def _fast_predict(self, batch: Any) -> Any:
        x = batch[0]
        result = self._run_compiled("predict", self._predict_body, x)
        return result if result is not None else self._predict_body(x)


def _with_masks(y_pred: Any, masks: Any) -> Any:
    """``y_pred`` with the output masks a compiled step returned attached again (Keras'
    metrics leave masked steps out)."""
    if masks is None or not any(m is not None for m in flatten(masks)):
        return y_pred
    for tensor, mask in zip(flatten(y_pred), flatten(masks), strict=False):
        if mask is not None and get_keras_mask(tensor) is None:
            set_keras_mask(tensor, mask)
    return y_pred


def batch_size(x: Any) -> int:
    """The number of samples in a batch of inputs (its first array's first axis)."""
    if isinstance(x, np.ndarray):
        return x.shape[0]
    return int(np.shape(tg.tree.flatten(x)[0])[0])


def _check_logs(model: Any, kind: str, logs: Any) -> Any:
    """A user's train/test step must return a dict of metric values (Keras 3)."""
    if kind == "predict":
        return logs
    if not isinstance(logs, dict):
        raise TypeError(
            f"Model '{model.name}': {type(model).__name__}.{kind}_step must return a dict "
            f"of metric values ({{name: value}}, e.g. `{{m.name: m.result() for m in "
            f"self.metrics}}`), got {type(logs).__name__}: {str(logs)[:80]}"
        )
    return pythonify_logs(logs)

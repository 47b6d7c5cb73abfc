"""The losses and metrics ``compile`` was given, per output (Keras 3's ``CompileLoss`` and
``CompileMetrics`` in ``keras/src/trainers/compile_utils.py``).

A model's outputs are one array, a list (named by ``model.output_names``) or a dict (named
by its keys). ``loss``, ``loss_weights``, ``metrics`` and ``weighted_metrics`` are one entry
for every output, a list with one entry per output, or a dict keyed by output name. With
several losses each output's unweighted loss is tracked by a ``Mean`` named
``<output>_loss``; with several outputs each metric is logged as ``<output>_<metric>``.
Plain ``metrics`` ignore ``sample_weight``; ``weighted_metrics`` use it (as in Keras 3).

Examples:
    >>> import numpy as np
    >>> loss = CompileLoss({"a": "mse", "b": "mae"}, {"a": 1.0, "b": 2.0})
    >>> y = {"a": np.zeros((2, 1)), "b": np.zeros((2, 1))}
    >>> float(loss(y, {"a": np.ones((2, 1)), "b": np.ones((2, 1))}))
    3.0
    >>> [m.name for m in loss.metrics]
    ['a_loss', 'b_loss']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.nn import losses as losses_module
from tapegrad.nn import metrics as metrics_module

__all__ = ["CompileLoss", "CompileMetrics", "flat_outputs"]


def flat_outputs(y_pred: Any, output_names: list[str] | None) -> tuple[list[Any], list[Any]]:
    """The outputs of a model as a list, and their names (None for a single output).

    Args:
        y_pred: One array, a list/tuple or a dict of them.
        output_names: ``model.output_names`` (used for lists), or None.

    Returns:
        ``(outputs, names)``: a dict's keys in ``output_names`` order when they match, else
        sorted (Keras' order); a list's names from ``output_names`` when the lengths agree,
        else ``output_<i>``.

    Examples:
        >>> flat_outputs({"b": 1, "a": 2}, None)
        ([2, 1], ['a', 'b'])
    """
    if isinstance(y_pred, dict):
        keys = list(y_pred)
        if output_names and set(output_names) == set(keys):
            keys = list(output_names)
        else:
            keys = sorted(keys)
        return [y_pred[k] for k in keys], keys
    if isinstance(y_pred, list | tuple):
        names = list(output_names or [])
        if len(names) != len(y_pred):
            names = [f"output_{i}" for i in range(len(y_pred))]
        return list(y_pred), names
    return [y_pred], [None]


def _per_output(spec: Any, names: list[Any], what: str, nested: bool) -> list[Any]:
    """``spec`` spread over the outputs: one entry each (None: nothing for that output).

    ``nested`` says whether one entry is itself a list (metrics) or a single item (losses).
    """
    count = len(names)
    if isinstance(spec, dict):
        if count == 1 and names[0] is None:
            if len(spec) != 1:
                raise ValueError(
                    f"compile(): `{what}` is a dict with keys {sorted(spec)} but the model has "
                    "a single (unnamed) output; pass one entry instead of a dict"
                )
            return [next(iter(spec.values()))]
        unknown = sorted(str(k) for k in spec if k not in names)
        if unknown:
            raise ValueError(
                f"compile(): `{what}` has keys {unknown} that are not outputs of the model; "
                f"expected keys among the output names {names}"
            )
        return [spec.get(name) for name in names]
    if count == 1:
        return [spec]
    if isinstance(spec, list | tuple) and (not nested or len(spec) == count):
        if len(spec) != count:
            raise ValueError(
                f"compile(): `{what}` is a list of {len(spec)} entries but the model has "
                f"{count} outputs {names}. Received: {what}={spec!r}"[:400]
            )
        return list(spec)
    if nested:
        raise ValueError(
            f"Invalid `{what}`. `{what}` should contain metrics objects and either be a dict "
            f"or a list matching the output names of the functional model {names} or match "
            f"the output structure of the model. Received: {what}={spec!r}"[:400]
        )
    return [spec] * count


def _targets(y_true: Any, outputs: list[Any], names: list[Any], y_pred: Any) -> list[Any]:
    """The targets matching each output (y_true as one array, a list or a dict)."""
    if len(outputs) == 1:
        if isinstance(y_true, dict) and len(y_true) == 1:
            return list(y_true.values())
        if isinstance(y_true, list | tuple) and len(y_true) == 1:
            return [y_true[0]]
        return [y_true]
    if isinstance(y_true, dict):
        missing = [name for name in names if name not in y_true]
        if missing:
            raise ValueError(
                f"the targets (a dict with keys {sorted(y_true)}) lack the outputs "
                f"{missing}; expected keys {names}"
            )
        return [y_true[name] for name in names]
    if isinstance(y_true, list | tuple):
        if len(y_true) != len(outputs):
            raise ValueError(
                f"the model has {len(outputs)} outputs {names} but {len(y_true)} targets were given"
            )
        if isinstance(y_pred, dict):  # a list of targets in the dict's (sorted) order
            return list(y_true)
        return list(y_true)
    raise ValueError(
        f"the model has {len(outputs)} outputs {names}: give the targets as a list or a "
        f"dict keyed by output name, not a single {type(y_true).__name__}"
    )


class CompileLoss:
    """The compiled loss: one loss per output, weighted and summed.

    Args:
        loss: A loss (name, function, `Loss`), or a list / dict of them per output.
        loss_weights: A list or dict of numbers per output, or None.
        output_names: ``model.output_names``, or None.
    """

    def __init__(
        self, loss: Any, loss_weights: Any = None, output_names: list[str] | None = None
    ) -> None:
        self._user_loss = loss
        self._user_loss_weights = loss_weights
        self.output_names = output_names
        self.built = False
        self._losses: list[Any] = []
        self._weights: list[Any] = []
        self.metrics: list[Any] = []

    def build(self, y_true: Any, y_pred: Any) -> None:
        """Resolve the losses and weights against the outputs seen first."""
        del y_true
        _, names = flat_outputs(y_pred, self.output_names)
        specs = _per_output(self._user_loss, names, "loss", nested=False)
        self._losses = [None if s is None else losses_module.get(s) for s in specs]
        if self._user_loss_weights is None:
            self._weights = [None] * len(names)
        else:
            self._weights = _per_output(
                self._user_loss_weights, names, "loss_weights", nested=False
            )
        self._names = names
        if sum(fn is not None for fn in self._losses) > 1:
            self.metrics = [
                metrics_module.Mean(name=f"{name}_loss")
                for name, fn in zip(names, self._losses, strict=True)
                if fn is not None
            ]
        self.built = True

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """The total loss of a batch (updates the per-output loss trackers).

        Args:
            y_true: Targets (one array, a list or a dict per output).
            y_pred: The model's outputs.
            sample_weight: Per-sample weights: one array, or a list / dict per output.

        Returns:
            A scalar Tensor (or None when no output has a loss).
        """
        if not self.built:
            self.build(y_true, y_pred)
        structured = (list, tuple, dict)
        if (
            len(self._losses) == 1
            and not isinstance(y_pred, structured)
            and not isinstance(y_true, structured)
        ):
            # One output (the common case, every step): no structure to match.
            fn, weight = self._losses[0], self._weights[0]
            value = fn(y_true, y_pred, sample_weight=sample_weight)
            return value if weight is None else value * weight
        outputs, names = flat_outputs(y_pred, self.output_names)
        targets = _targets(y_true, outputs, names, y_pred)
        if isinstance(sample_weight, list | tuple | dict) and len(outputs) > 1:
            weights = _targets(sample_weight, outputs, names, y_pred)
        else:
            weights = [sample_weight] * len(outputs)
        trackers = iter(self.metrics)
        total: Any = None
        for fn, weight, target, pred, sw in zip(
            self._losses, self._weights, targets, outputs, weights, strict=True
        ):
            if fn is None:
                continue
            value = fn(target, pred, sample_weight=sw)
            if self.metrics:
                next(trackers).update_state(value, sample_weight=np.shape(pred)[0])
            if weight is not None:
                value = value * weight
            total = value if total is None else total + value
        return total


def _metric(spec: Any, y_true: Any, y_pred: Any, loss: Any) -> Any:
    """A metric object for one spec; ``"accuracy"`` resolved from the loss and shapes."""
    if spec in ("accuracy", "acc"):
        return metrics_module.resolve_accuracy(loss, np.shape(y_true), np.shape(y_pred), spec)
    return metrics_module.get(spec)


class CompileMetrics(metrics_module.Metric):
    """The compiled metrics, one list per output; its result is a dict of named values.

    Args:
        metrics: Metrics (ignore ``sample_weight``): a list, or a list / dict per output.
        weighted_metrics: Metrics that use ``sample_weight``, in the same forms.
        output_names: ``model.output_names``, or None.
        losses: The compiled loss spec (``"accuracy"`` picks its variant from it).
    """

    def __init__(
        self,
        metrics: Any,
        weighted_metrics: Any,
        output_names: list[str] | None = None,
        losses: Any = None,
    ) -> None:
        super().__init__(name="compile_metrics")
        self._user_metrics = metrics
        self._user_weighted_metrics = weighted_metrics
        self.output_names = output_names
        self._loss_spec = losses
        self.built = False
        self._flat: list[list[Any]] = []
        self._flat_weighted: list[list[Any]] = []
        self._names: list[Any] = []
        self._any = False

    def build(self, y_true: Any, y_pred: Any) -> None:
        """Make the metric objects for the outputs seen first."""
        outputs, names = flat_outputs(y_pred, self.output_names)
        targets = _targets(y_true, outputs, names, y_pred)
        loss = self._loss_spec
        losses = (
            _per_output(loss, names, "loss", nested=False)
            if loss is not None
            else [None] * len(names)
        )
        self._names = names
        self._flat = self._build_set(self._user_metrics, names, targets, outputs, losses)
        self._flat_weighted = self._build_set(
            self._user_weighted_metrics, names, targets, outputs, losses, "weighted_metrics"
        )
        self._any = bool(self.metrics)
        self.built = True

    def _build_set(
        self,
        specs: Any,
        names: list[Any],
        targets: list[Any],
        outputs: list[Any],
        losses: list[Any],
        what: str = "metrics",
    ) -> list[list[Any]]:
        if not specs:
            return [[] for _ in names]
        if len(names) == 1 and not isinstance(specs, dict):
            per_output = [list(specs)]
        else:
            per_output = _per_output(specs, names, what, nested=True)
        built = []
        for entry, target, pred, loss in zip(per_output, targets, outputs, losses, strict=True):
            entries = [] if entry is None else entry if isinstance(entry, list | tuple) else [entry]
            built.append([_metric(spec, target, pred, loss) for spec in entries])
        return built

    @property
    def empty(self) -> bool:
        """Whether it is built and holds no metric (nothing to update or log)."""
        return self.built and not self._any

    @property
    def metrics(self) -> list[Any]:
        """Every metric object (empty until the first batch built them)."""
        return [m for group in self._flat + self._flat_weighted for m in group]

    @property
    def variables(self) -> list[Any]:
        """The state Variables of every metric."""
        return [v for m in self.metrics for v in m.variables]

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Update every metric with one batch (weighted metrics with ``sample_weight``)."""
        if not self.built:
            self.build(y_true, y_pred)
        if not self._any:
            return
        structured = (list, tuple, dict)
        if (
            len(self._names) == 1
            and not isinstance(y_pred, structured)
            and not isinstance(y_true, structured)
        ):
            # One output (the common case, every step): no structure to match.
            for metric in self._flat[0]:
                metric.update_state(y_true, y_pred)
            for metric in self._flat_weighted[0]:
                metric.update_state(y_true, y_pred, sample_weight=sample_weight)
            return
        outputs, names = flat_outputs(y_pred, self.output_names)
        targets = _targets(y_true, outputs, names, y_pred)
        for group, target, pred in zip(self._flat, targets, outputs, strict=True):
            for metric in group:
                metric.update_state(target, pred)
        if not any(self._flat_weighted):
            return
        if isinstance(sample_weight, list | tuple | dict) and len(outputs) > 1:
            weights = _targets(sample_weight, outputs, names, y_pred)
        else:
            weights = [sample_weight] * len(outputs)
        for group, target, pred, sw in zip(
            self._flat_weighted, targets, outputs, weights, strict=True
        ):
            for metric in group:
                metric.update_state(target, pred, sample_weight=sw)

    def reset_state(self) -> None:
        """Reset every metric."""
        for metric in self.metrics:
            metric.reset_state()

    def result(self) -> dict[str, Any]:
        """``{name: value}``: ``<output>_<metric>`` with several outputs; a repeated name
        gets ``_1``, ``_2``; a weighted metric named like a plain one gets ``weighted_``."""
        if not self.built:
            return {}
        named = self.__dict__.get("_named")
        if named is None:  # the names depend only on the metrics built: found once
            named = self._log_names()
            self._named = named
        return {name: metric.result() for name, metric in named}

    def _log_names(self) -> list[tuple[str, Any]]:
        named: list[tuple[str, Any]] = []
        taken: set[str] = set()
        for weighted, groups in ((False, self._flat), (True, self._flat_weighted)):
            for output, group in zip(self._names, groups, strict=True):
                for metric in group:
                    prefix = f"{output}_" if output is not None and len(self._names) > 1 else ""
                    name = prefix + metric.name
                    if name in taken and weighted:
                        name = f"{prefix}weighted_{metric.name}"
                    base, index = name, 1
                    while name in taken:
                        name, index = f"{base}_{index}", index + 1
                    taken.add(name)
                    named.append((name, metric))
        return named

    def get_config(self) -> dict[str, Any]:
        """Not serializable on its own (as in Keras): ``compile`` arguments are saved."""
        raise NotImplementedError("CompileMetrics is rebuilt by compile(), not from a config")

"""`Model.explain` and `synthetic_batch`: how a model's training gradient is computed.

`explain_model` records one training step's gradient: the model called on a batch with
``training=True``, its compiled loss (``compute_loss``: the losses given to ``compile``,
weighted over outputs, plus regularization and ``add_loss`` terms), then the gradient of
that loss with respect to ``model.trainable_weights`` — the gradient ``fit`` applies. The
layers (``Lambda`` layers included) become groups of the forward graph; the loss's ops
are grouped as ``loss``.

`synthetic_batch` makes a batch from the model's input spec, and targets from what its
compiled loss expects, so a saved model can be explained without its data
(``tapegrad explain MODEL.tapegrad``).

This module sits below ``tapegrad.nn`` (which calls it): it uses a model through its
public methods only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad.core.tree import tree_flatten
from tapegrad.explain.build import record_explanation
from tapegrad.explain.explanation import Explanation
from tapegrad.explain.recorder import ExplainTracer


def explain_model(model: Any, x: Any, y: Any = None, sample_weight: Any = None) -> Explanation:
    """Explain the gradient of ``model``'s compiled loss on one batch (see `Model.explain`).

    Args:
        model: A compiled Keras-style model.
        x: Inputs of one batch (arrays, or the structure the model takes).
        y: Targets (None for models whose loss needs none, e.g. only ``add_loss``).
        sample_weight: Per-sample weights, or None.

    Returns:
        The `Explanation`; its sources are the trainable weights, named by their paths,
        and `Explanation.gradients` returns one array per weight. Explaining changes no
        Variable: updates the step makes (BatchNormalization's moving statistics) are
        recorded in the graph and undone.

    Raises:
        ValueError: the model is not compiled, or has no trainable weights.
    """
    if getattr(model, "optimizer", None) is None and getattr(model, "loss", None) is None:
        raise ValueError(
            f"Model '{model.name}'.explain: the model is not compiled; call "
            "model.compile(optimizer=..., loss=...) first (the explained gradient is the "
            "compiled loss's)"
        )

    def make_compute(tracer: ExplainTracer) -> Callable[..., Any]:
        def compute(x: Any, y: Any, sample_weight: Any) -> Any:
            y_pred = model(x, training=True)
            tracer.extra_scope = ("loss",)  # the compiled loss's ops, grouped
            try:
                return model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
            finally:
                tracer.extra_scope = ()

        return compute

    def pick(traced: list[Any]) -> tuple[list[Any], list[str], Any]:
        variables = list(model.trainable_weights)
        if not variables:
            raise ValueError(
                f"Model '{model.name}'.explain: the model has no trainable weights, so "
                "there is no training gradient to explain"
            )
        names = [str(getattr(v, "path", None) or v.name) for v in variables]
        return variables, names, tree_flatten([0] * len(variables))[1]

    return record_explanation(f"model {model.name}", make_compute, [x, y, sample_weight], pick)


def synthetic_batch(model: Any, batch_size: int = 2, seed: int = 0) -> tuple[Any, Any]:
    """A batch ``(x, y)`` built from a model's input spec and its compiled loss.

    Inputs: floats uniform in [0, 1) (inside the domain of ``sqrt`` and ``log``, which
    ``Lambda`` layers often use), integers 0 or 1 (valid indices of any ``Embedding``);
    unknown sizes past the batch axis are 4. Targets follow the compiled loss by its name:
    class indices for ``sparse_categorical_*``, one-hot rows for other ``categorical_*``
    losses, 0/1 for ``binary_*`` and hinge losses, positive values for ``poisson`` /
    ``kl_divergence``, else standard normal values of the output's shape. Without a
    compiled loss, ``y`` is None.

    Args:
        model: A model with a known input spec (functional, or a `Sequential` with an
            ``Input``); several inputs or outputs give lists (dicts keyed by name where
            the model takes dicts).
        batch_size: Rows of the batch.
        seed: Seeds the generator: the same seed gives the same batch.

    Returns:
        ``(x, y)``.

    Raises:
        ValueError: the model has no input spec (a subclassed model never called on
            symbolic inputs): pass a batch to `Model.explain` instead.

    Examples:
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input((3,)), tg.layers.Dense(4)])
        >>> model.compile(loss="sparse_categorical_crossentropy")
        >>> x, y = synthetic_batch(model, batch_size=2)
        >>> x.shape, x.dtype, y.tolist()
        ((2, 3), dtype('float32'), [2, 2])
    """
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise ValueError(
            f"synthetic_batch: model '{model.name}' has no input spec (build it on an Input, "
            "or pass a batch to model.explain(x, y))"
        )
    rng = np.random.default_rng(seed)
    xs = [_synthetic_input(spec, batch_size, rng) for spec in inputs]
    outputs = list(getattr(model, "outputs", None) or [])
    losses = _per_output_losses(getattr(model, "loss", None), model, len(outputs))
    ys = [
        None if loss is None else _synthetic_target(loss, out, batch_size, rng)
        for loss, out in zip(losses, outputs, strict=False)
    ]
    x: Any = xs[0] if len(xs) == 1 else xs
    y: Any = None if all(t is None for t in ys) else (ys[0] if len(ys) == 1 else ys)
    return x, y


def _shape(spec: Any, batch_size: int) -> tuple[int, ...]:
    dims = tuple(spec.shape)
    return tuple(
        batch_size if k == 0 and d is None else (4 if d is None else int(d))
        for k, d in enumerate(dims)
    )


def _synthetic_input(spec: Any, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    shape = _shape(spec, batch_size)
    dtype = np.dtype(getattr(spec, "dtype", None) or "float32")
    if dtype.kind in "iub":
        return rng.integers(0, 2, shape).astype(dtype)
    return rng.uniform(0.0, 1.0, shape).astype(dtype)


def _per_output_losses(loss: Any, model: Any, n_outputs: int) -> list[Any]:
    if isinstance(loss, dict):
        names = list(getattr(model, "output_names", None) or [])
        return [loss.get(name) for name in names] if names else list(loss.values())
    if isinstance(loss, list | tuple):
        return list(loss)
    return [loss] * max(n_outputs, 1)


def loss_name(loss: Any) -> str:
    """A loss's name (a string, a `Loss`'s ``name``, a function's ``__name__``), lowercase."""
    if isinstance(loss, str):
        return loss.lower()
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None)
    return str(name or type(loss).__name__).lower()


def _synthetic_target(loss: Any, out: Any, batch_size: int, rng: np.random.Generator) -> Any:
    shape = _shape(out, batch_size)
    name = loss_name(loss)
    classes = shape[-1] if shape else 1
    if "sparse_categorical" in name:
        return rng.integers(0, classes, shape[:-1])
    if "categorical" in name:
        return np.eye(classes, dtype=np.float32)[rng.integers(0, classes, shape[:-1])]
    if "binary" in name or "hinge" in name:
        return rng.integers(0, 2, shape).astype(np.float32)
    if "poisson" in name or "kl" in name:
        return rng.uniform(0.1, 1.0, shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


__all__ = ["explain_model", "loss_name", "synthetic_batch"]

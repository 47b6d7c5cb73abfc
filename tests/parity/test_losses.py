"""Live parity: every Keras 3 loss class, its reductions and sample weights, vs Keras (JAX).

Each case computes the loss under every reduction, with and without ``sample_weight``, and
the gradient w.r.t. ``y_pred`` of each; Keras's side of a case is one compiled program.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tapegrad as tg
from tests.parity.harness import assert_close, jax, keras

RNG = np.random.default_rng(6)
B, C = 4, 5
REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None]
SAMPLE_WEIGHT = np.array([1.0, 0.0, 2.0, 0.5], np.float32)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


LOGITS = RNG.standard_normal((B, C)).astype(np.float32)
PROBS = softmax(LOGITS)
LABELS = np.array([1, 0, 4, 2], np.int32)
ONE_HOT = np.eye(C, dtype=np.float32)[LABELS]
BINARY = (RNG.random((B, C)) > 0.5).astype(np.float32)
SIGMOID = (1 / (1 + np.exp(-LOGITS))).astype(np.float32)
POSITIVE_TRUE = RNG.uniform(0.1, 2.0, (B, C)).astype(np.float32)
POSITIVE_PRED = RNG.uniform(0.1, 2.0, (B, C)).astype(np.float32)
REAL_TRUE = RNG.standard_normal((B, C)).astype(np.float32)
REAL_PRED = (REAL_TRUE + RNG.standard_normal((B, C)) * 1.5).astype(np.float32)
SIGNS = np.where(BINARY > 0, 1.0, -1.0).astype(np.float32)
# CTC: labels (batch, max_label_length) with 0 as padding, per-step logits.
CTC_TRUE = np.array([[1, 2, 0], [3, 3, 1], [2, 0, 0], [1, 4, 2]], np.int32)
CTC_PRED = RNG.standard_normal((B, 7, C)).astype(np.float32)
CIRCLE_LABELS = np.array([0, 1, 0, 1], np.int32)
EMBEDDINGS = RNG.standard_normal((B, 3)).astype(np.float32)

# (id, class name, constructor arguments, y_true, y_pred)
CASES: list[tuple[str, str, dict[str, Any], np.ndarray, np.ndarray]] = [
    ("MeanSquaredError", "MeanSquaredError", {}, REAL_TRUE, REAL_PRED),
    ("MeanAbsoluteError", "MeanAbsoluteError", {}, REAL_TRUE, REAL_PRED),
    ("MeanAbsolutePercentageError", "MeanAbsolutePercentageError", {}, REAL_TRUE, REAL_PRED),
    (
        "MeanSquaredLogarithmicError",
        "MeanSquaredLogarithmicError",
        {},
        POSITIVE_TRUE,
        POSITIVE_PRED,
    ),
    ("LogCosh", "LogCosh", {}, REAL_TRUE, REAL_PRED),
    ("Huber", "Huber", {"delta": 0.7}, REAL_TRUE, REAL_PRED),
    ("CosineSimilarity", "CosineSimilarity", {"axis": -1}, REAL_TRUE, REAL_PRED),
    ("Poisson", "Poisson", {}, POSITIVE_TRUE, POSITIVE_PRED),
    ("KLDivergence", "KLDivergence", {}, PROBS[::-1].copy(), PROBS),
    ("Hinge", "Hinge", {}, SIGNS, REAL_PRED),
    ("SquaredHinge", "SquaredHinge", {}, BINARY, REAL_PRED),
    ("CategoricalHinge", "CategoricalHinge", {}, ONE_HOT, REAL_PRED),
    ("BinaryCrossentropy", "BinaryCrossentropy", {}, BINARY, SIGMOID),
    (
        "BinaryCrossentropy-logits-smoothing",
        "BinaryCrossentropy",
        {"from_logits": True, "label_smoothing": 0.1},
        BINARY,
        LOGITS,
    ),
    ("BinaryFocalCrossentropy", "BinaryFocalCrossentropy", {}, BINARY, SIGMOID),
    (
        "BinaryFocalCrossentropy-balanced-logits",
        "BinaryFocalCrossentropy",
        {
            "apply_class_balancing": True,
            "alpha": 0.3,
            "gamma": 1.5,
            "from_logits": True,
            "label_smoothing": 0.05,
        },
        BINARY,
        LOGITS,
    ),
    ("CategoricalCrossentropy", "CategoricalCrossentropy", {}, ONE_HOT, PROBS),
    (
        "CategoricalCrossentropy-logits-smoothing",
        "CategoricalCrossentropy",
        {"from_logits": True, "label_smoothing": 0.2},
        ONE_HOT,
        LOGITS,
    ),
    ("CategoricalFocalCrossentropy", "CategoricalFocalCrossentropy", {}, ONE_HOT, PROBS),
    (
        "CategoricalFocalCrossentropy-logits",
        "CategoricalFocalCrossentropy",
        {"alpha": 0.5, "gamma": 1.0, "from_logits": True, "label_smoothing": 0.1},
        ONE_HOT,
        LOGITS,
    ),
    ("SparseCategoricalCrossentropy", "SparseCategoricalCrossentropy", {}, LABELS, PROBS),
    (
        "SparseCategoricalCrossentropy-logits-ignore",
        "SparseCategoricalCrossentropy",
        {"from_logits": True, "ignore_class": 2},
        LABELS,
        LOGITS,
    ),
    (
        "CategoricalGeneralizedCrossEntropy",
        "CategoricalGeneralizedCrossEntropy",
        {"q": 0.7},
        LABELS,
        PROBS,
    ),
    ("Dice", "Dice", {}, BINARY, SIGMOID),
    ("Dice-axis", "Dice", {"axis": -1}, BINARY, SIGMOID),
    ("Tversky", "Tversky", {"alpha": 0.3, "beta": 0.7}, BINARY, SIGMOID),
    ("CTC", "CTC", {}, CTC_TRUE, CTC_PRED),
    ("Circle", "Circle", {"gamma": 8.0, "margin": 0.3}, CIRCLE_LABELS, EMBEDDINGS),
]


def variants() -> list[tuple[Any, bool]]:
    """(reduction, with sample weight) pairs each case computes: every reduction, weighted
    (the unweighted default and None besides; fewer pairs keep each compile short)."""
    return [("sum_over_batch_size", False), (None, False)] + [(r, True) for r in REDUCTIONS]


def keras_case(name: str, kwargs: dict[str, Any], y_true: Any, y_pred: Any) -> list[Any]:
    """[(loss, d loss / d y_pred)] for every variant, in one compiled Keras program."""
    losses = [getattr(keras.losses, name)(reduction=r, **kwargs) for r, _ in variants()]

    def run(pred: Any) -> list[Any]:
        results = []
        for loss, (_, weighted) in zip(losses, variants(), strict=True):
            sample_weight = SAMPLE_WEIGHT if weighted else None

            def value(p: Any, loss: Any = loss, sw: Any = sample_weight) -> Any:
                return loss(y_true, p, sample_weight=sw)

            out, vjp = jax.vjp(value, pred)
            results.append((out, vjp(jax.numpy.ones_like(out))[0]))
        return results

    return jax.tree_util.tree_map(np.asarray, jax.jit(run)(y_pred))


@pytest.mark.parametrize(
    ("name", "kwargs", "y_true", "y_pred"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_loss(name: str, kwargs: dict[str, Any], y_true: Any, y_pred: Any) -> None:
    expected = keras_case(name, kwargs, y_true, y_pred)
    for (reduction, weighted), (value, grad) in zip(variants(), expected, strict=True):
        what = f"{name}(reduction={reduction!r}, sample_weight={weighted})"
        loss = getattr(tg.losses, name)(reduction=reduction, **kwargs)
        pred = tg.tensor(y_pred)
        with tg.GradientTape() as tape:
            tape.watch(pred)
            out = loss(tg.tensor(y_true), pred, sample_weight=SAMPLE_WEIGHT if weighted else None)
            total = tg.numpy.sum(out)
        assert_close(out, value, f"{what}: value")
        assert_close(tape.gradient(total, pred), grad, f"{what}: gradient")
    k_config = getattr(keras.losses, name)(**kwargs).get_config()
    # Keras 3.15's loss configs hold only name and reduction (its from_config loses
    # delta, axis, ...); tapegrad's also keep the arguments, so its configs round-trip.
    assert set(k_config) <= set(getattr(tg.losses, name)(**kwargs).get_config())


FUNCTIONS = {
    "binary_crossentropy": "BinaryCrossentropy",
    "binary_focal_crossentropy": "BinaryFocalCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "categorical_focal_crossentropy": "CategoricalFocalCrossentropy",
    "categorical_generalized_cross_entropy": "CategoricalGeneralizedCrossEntropy",
    "categorical_hinge": "CategoricalHinge",
    "circle": "Circle",
    "cosine_similarity": "CosineSimilarity",
    "dice": "Dice",
    "hinge": "Hinge",
    "huber": "Huber",
    "kl_divergence": "KLDivergence",
    "log_cosh": "LogCosh",
    "mean_absolute_error": "MeanAbsoluteError",
    "mean_absolute_percentage_error": "MeanAbsolutePercentageError",
    "mean_squared_error": "MeanSquaredError",
    "mean_squared_logarithmic_error": "MeanSquaredLogarithmicError",
    "poisson": "Poisson",
    "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
    "squared_hinge": "SquaredHinge",
    "tversky": "Tversky",
}

# Arguments without defaults in Keras.
FUNCTION_KWARGS = {"categorical_generalized_cross_entropy": {"q": 0.7}}


def function_data(fn_name: str) -> tuple[np.ndarray, np.ndarray]:
    """The (y_true, y_pred) of the first case of the function's class."""
    case = next(c for c in CASES if c[1] == FUNCTIONS[fn_name])
    return case[3], case[4]


@pytest.fixture(scope="module")
def keras_functions() -> dict[str, Any]:
    """Every loss function's per-sample values, in one compiled Keras program."""

    def run() -> dict[str, Any]:
        return {
            fn: getattr(keras.losses, fn)(*function_data(fn), **FUNCTION_KWARGS.get(fn, {}))
            for fn in FUNCTIONS
        }

    return jax.tree_util.tree_map(np.asarray, jax.jit(run)())


def test_every_keras_loss_is_covered() -> None:
    """Every loss class and function of keras.losses has a case here (CTC's function is
    compared through the class: its function takes lengths, not y_true/y_pred)."""
    names = {n for n in dir(keras.losses) if not n.startswith("_")}
    classes = {n for n in names if n[0].isupper()} - {"Loss"}
    functions = names - classes - {"Loss", "get", "serialize", "deserialize", "ctc"}
    assert classes == {c[1] for c in CASES}
    assert functions == set(FUNCTIONS)


@pytest.mark.parametrize("fn_name", sorted(FUNCTIONS), ids=str)
def test_loss_function(fn_name: str, keras_functions: dict[str, Any]) -> None:
    y_true, y_pred = function_data(fn_name)
    got = getattr(tg.losses, fn_name)(
        tg.tensor(y_true), tg.tensor(y_pred), **FUNCTION_KWARGS.get(fn_name, {})
    )
    assert_close(got, keras_functions[fn_name], f"losses.{fn_name}")

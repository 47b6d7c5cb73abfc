"""tapegrad.nn.metrics: accumulation over batches, reset, weights, confusion metrics and
AUC, configs, lookups and `resolve_accuracy`."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.nn import losses, metrics
from tests.nn.objective_data import (
    BIN_LABELS,
    BIN_PROBS,
    CLS_LABELS,
    CLS_PROBS,
    REALS,
    RNG,
    SW,
    TARGETS,
    WEIGHTS,
    batches,
    np_bce,
    np_cce,
    np_huber,
    np_unit,
)


def top_k_hits(labels, scores, k):
    return (scores > scores[np.arange(len(labels)), labels][:, None]).sum(-1) < k


# name: (metric factory, y_true, y_pred, NumPy per-sample values)
METRICS = {
    "accuracy": (
        metrics.Accuracy,
        CLS_LABELS,
        CLS_PROBS.argmax(-1) * (SW > 0.3),
        lambda y, p: (y == p).astype(float),
    ),
    "binary_accuracy": (
        metrics.BinaryAccuracy,
        BIN_LABELS,
        BIN_PROBS,
        lambda y, p: ((p > 0.5) == y)[:, 0].astype(float),
    ),
    "categorical_accuracy": (
        metrics.CategoricalAccuracy,
        np.eye(5)[CLS_LABELS],
        CLS_PROBS,
        lambda y, p: (y.argmax(-1) == p.argmax(-1)).astype(float),
    ),
    "sparse_categorical_accuracy": (
        metrics.SparseCategoricalAccuracy,
        CLS_LABELS,
        CLS_PROBS,
        lambda y, p: (y == p.argmax(-1)).astype(float),
    ),
    "top_k": (
        lambda: metrics.TopKCategoricalAccuracy(k=2),
        np.eye(5)[CLS_LABELS],
        CLS_PROBS,
        lambda y, p: top_k_hits(y.argmax(-1), p, 2).astype(float),
    ),
    "sparse_top_k": (
        lambda: metrics.SparseTopKCategoricalAccuracy(k=3),
        CLS_LABELS,
        CLS_PROBS,
        lambda y, p: top_k_hits(y, p, 3).astype(float),
    ),
    "mse": (
        metrics.MeanSquaredError,
        CLS_PROBS[::-1],
        CLS_PROBS,
        lambda y, p: ((y - p) ** 2).mean(-1),
    ),
    "mae": (
        metrics.MeanAbsoluteError,
        CLS_PROBS[::-1],
        CLS_PROBS,
        lambda y, p: abs(y - p).mean(-1),
    ),
    "bce": (metrics.BinaryCrossentropy, BIN_LABELS, BIN_PROBS, lambda y, p: np_bce(y, p)[:, 0]),
    "scce": (
        metrics.SparseCategoricalCrossentropy,
        CLS_LABELS,
        CLS_PROBS,
        lambda y, p: np_cce(np.eye(5)[y], p),
    ),
    "cosine": (
        metrics.CosineSimilarity,
        CLS_PROBS[::-1],
        CLS_PROBS,
        lambda y, p: (np_unit(y) * np_unit(p)).sum(-1),
    ),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", list(METRICS))
def test_metric_accumulates_over_batches(name, weighted, dtype):
    factory, y, p, ref = METRICS[name]
    metric = factory()
    weights = SW if weighted else None
    for y_b, p_b, w_b in batches(y, p.astype(dtype), weights):
        metric.update_state(y_b, p_b, sample_weight=w_b)
    values = ref(y, p)
    expected = (values * SW).sum() / SW.sum() if weighted else values.mean()
    assert float(metric.result()) == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert metric.result().dtype == np.float32


@pytest.mark.parametrize("name", list(METRICS))
def test_metric_reset_state(name):
    factory, y, p, ref = METRICS[name]
    metric = factory()
    metric.update_state(y, p)
    assert all(isinstance(v, tg.Variable) and not v.trainable for v in metric.variables)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    assert all(not np.asarray(v).any() for v in metric.variables)
    assert float(metric(y[:3], p[:3])) == pytest.approx(ref(y[:3], p[:3]).mean(), rel=1e-5)


def test_mean_sum_and_rmse():
    mean, total, rmse = metrics.Mean(), metrics.Sum(), metrics.RootMeanSquaredError()
    for (v,) in batches(REALS):
        mean.update_state(v)
        total.update_state(v)
    assert float(mean.result()) == pytest.approx(REALS.mean(), rel=1e-5)
    assert float(total.result()) == pytest.approx(REALS.sum(), rel=1e-5)
    mean.reset_state()
    mean.update_state(REALS, sample_weight=WEIGHTS)
    expected = (REALS.mean(-1) * WEIGHTS).sum() / WEIGHTS.sum()
    assert float(mean.result()) == pytest.approx(expected, rel=1e-5)
    for y_b, p_b in batches(TARGETS, REALS):
        rmse.update_state(y_b, p_b)
    assert float(rmse.result()) == pytest.approx(np.sqrt(((TARGETS - REALS) ** 2).mean()), rel=1e-5)
    assert float(metrics.Mean(dtype="float64")(np.array([1e-9, 3e-9]))) == 2e-9


def test_mean_metric_wrapper_and_loss_function():
    metric = metrics.MeanMetricWrapper(losses.huber, delta=0.5)
    assert metric.name == "huber"
    metric.update_state(TARGETS, REALS)
    assert float(metric.result()) == pytest.approx(np_huber(TARGETS, REALS, 0.5).mean(), rel=1e-5)
    clone = metrics.deserialize(metrics.serialize(metric))
    assert clone.get_config() == metric.get_config()


def np_confusion(y, p, threshold, w=None):
    w = np.ones_like(p) if w is None else np.broadcast_to(w, p.shape)
    pos, pred = y > 0, p > threshold
    return {
        "tp": (w * (pos & pred)).sum(),
        "fp": (w * (~pos & pred)).sum(),
        "fn": (w * (pos & ~pred)).sum(),
        "tn": (w * (~pos & ~pred)).sum(),
    }


def test_precision_recall_and_counts_over_batches():
    y = (RNG.uniform(size=(12, 3)) > 0.5).astype(float)
    p = RNG.uniform(size=(12, 3))
    w = RNG.uniform(size=(12, 1))
    objects = [
        metrics.Precision(),
        metrics.Recall(),
        metrics.TruePositives(),
        metrics.FalsePositives(),
        metrics.TrueNegatives(),
        metrics.FalseNegatives(),
    ]
    for y_b, p_b, w_b in batches(y, p, w[:, 0]):
        for m in objects:
            m.update_state(y_b, p_b, sample_weight=w_b)
    c = np_confusion(y, p, 0.5, w)
    expected = [
        c["tp"] / (c["tp"] + c["fp"]),
        c["tp"] / (c["tp"] + c["fn"]),
        c["tp"],
        c["fp"],
        c["tn"],
        c["fn"],
    ]
    for m, e in zip(objects, expected, strict=True):
        assert float(m.result()) == pytest.approx(e, rel=1e-5), m.name


def test_precision_thresholds_top_k_and_class_id():
    y = (RNG.uniform(size=(8, 4)) > 0.5).astype(float)
    p = RNG.uniform(size=(8, 4))
    m = metrics.Precision(thresholds=[0.2, 0.7])
    result = np.asarray(m(y, p))
    for value, t in zip(result, [0.2, 0.7], strict=True):
        c = np_confusion(y, p, t)
        assert value == pytest.approx(c["tp"] / (c["tp"] + c["fp"]), rel=1e-5)
    m = metrics.Recall(class_id=2)
    c = np_confusion(y[:, 2], p[:, 2], 0.5)
    assert float(m(y, p)) == pytest.approx(c["tp"] / (c["tp"] + c["fn"]), rel=1e-5)
    m = metrics.Precision(top_k=1)
    top = p.argmax(-1)
    assert float(m(y, p)) == pytest.approx(y[np.arange(8), top].mean(), rel=1e-5)
    with pytest.raises(ValueError, match=r"thresholds must be in \[0, 1\]"):
        metrics.Precision(thresholds=1.5)


def test_auc():
    scores = RNG.uniform(size=400)
    labels = (RNG.uniform(size=400) < scores).astype(float)
    auc = metrics.AUC()
    for y_b, p_b in batches(labels, scores, size=100):
        auc.update_state(y_b, p_b)
    pos, neg = scores[labels > 0], scores[labels == 0]
    exact = (pos[:, None] > neg[None, :]).mean()  # Mann-Whitney U statistic
    assert float(auc.result()) == pytest.approx(exact, abs=0.01)
    perfect = (np.arange(10) >= 5).astype(float)
    assert float(metrics.AUC()(perfect, np.linspace(0, 1, 10))) == pytest.approx(1.0)
    assert float(metrics.AUC(curve="PR")(perfect, np.linspace(0, 1, 10))) == pytest.approx(1.0)
    logits = metrics.AUC(from_logits=True)(labels, np.log(scores / (1 - scores)))
    assert float(logits) == pytest.approx(float(auc.result()), abs=1e-3)
    for summation in ("minoring", "majoring"):
        assert 0.0 < float(metrics.AUC(summation_method=summation)(labels, scores)) < 1.0
    auc.reset_state()
    assert float(auc.result()) == 0.0


METRIC_INSTANCES = [
    metrics.Mean(name="m"),
    metrics.Sum(dtype="float64"),
    metrics.Accuracy(),
    metrics.BinaryAccuracy(threshold=0.3),
    metrics.CategoricalAccuracy(),
    metrics.SparseCategoricalAccuracy(),
    metrics.TopKCategoricalAccuracy(k=3),
    metrics.SparseTopKCategoricalAccuracy(k=2),
    metrics.MeanSquaredError(),
    metrics.MeanAbsoluteError(),
    metrics.MeanAbsolutePercentageError(),
    metrics.MeanSquaredLogarithmicError(),
    metrics.RootMeanSquaredError(),
    metrics.CosineSimilarity(axis=1),
    metrics.LogCoshError(),
    metrics.KLDivergence(),
    metrics.Poisson(),
    metrics.Hinge(),
    metrics.SquaredHinge(),
    metrics.CategoricalHinge(),
    metrics.BinaryCrossentropy(from_logits=True),
    metrics.CategoricalCrossentropy(),
    metrics.SparseCategoricalCrossentropy(),
    metrics.Precision(thresholds=[0.1, 0.6]),
    metrics.Recall(top_k=2),
    metrics.AUC(num_thresholds=50, curve="PR"),
    metrics.TruePositives(thresholds=0.4),
    metrics.FalseNegatives(),
]


@pytest.mark.parametrize("metric", METRIC_INSTANCES, ids=lambda m: type(m).__name__)
def test_metric_config_round_trip(metric):
    config = metric.get_config()
    assert type(metric).from_config(config).get_config() == config
    restored = metrics.deserialize(metrics.serialize(metric))
    assert type(restored) is type(metric) and restored.get_config() == config


@pytest.mark.parametrize(
    "identifier, cls, name",
    [
        ("accuracy", metrics.Accuracy, "accuracy"),
        ("acc", metrics.Accuracy, "acc"),
        ("mae", metrics.MeanAbsoluteError, "mae"),
        ("mse", metrics.MeanSquaredError, "mse"),
        ("AUC", metrics.AUC, "AUC"),
        ("auc", metrics.AUC, "auc"),
        (
            "sparse_categorical_accuracy",
            metrics.SparseCategoricalAccuracy,
            "sparse_categorical_accuracy",
        ),
        (
            "top_k_categorical_accuracy",
            metrics.TopKCategoricalAccuracy,
            "top_k_categorical_accuracy",
        ),
        ("precision", metrics.Precision, "precision"),
        ("root_mean_squared_error", metrics.RootMeanSquaredError, "root_mean_squared_error"),
        (metrics.Recall, metrics.Recall, "recall"),
        (losses.mean_absolute_error, metrics.MeanMetricWrapper, "mean_absolute_error"),
        (losses.Huber(), metrics.MeanMetricWrapper, "huber_loss"),
    ],
)
def test_metric_get(identifier, cls, name):
    metric = metrics.get(identifier)
    assert type(metric) is cls and metric.name == name


def test_metric_get_errors_and_instances():
    instance = metrics.Mean()
    assert metrics.get(instance) is instance and metrics.get(None) is None
    with pytest.raises(ValueError, match="Could not interpret metric identifier 'accuracyy'"):
        metrics.get("accuracyy")


@pytest.mark.parametrize(
    "loss, y_shape, p_shape, expected",
    [
        ("sparse_categorical_crossentropy", (8,), (8, 10), metrics.SparseCategoricalAccuracy),
        (
            losses.SparseCategoricalCrossentropy(from_logits=True),
            (8, 1),
            (8, 10),
            metrics.SparseCategoricalAccuracy,
        ),
        ("categorical_crossentropy", (8, 10), (8, 10), metrics.CategoricalAccuracy),
        (losses.categorical_crossentropy, (8, 10), (8, 10), metrics.CategoricalAccuracy),
        ("binary_crossentropy", (8, 5), (8, 5), metrics.BinaryAccuracy),
        ("bce", (8, 1), (8, 1), metrics.BinaryAccuracy),
        ("mse", (8, 1), (8, 1), metrics.BinaryAccuracy),
        ("mse", (8,), (8,), metrics.BinaryAccuracy),
        (None, (8,), (8, 3), metrics.SparseCategoricalAccuracy),
        (None, (8, 1), (8, 3), metrics.SparseCategoricalAccuracy),
        (None, (8, 3), (8, 3), metrics.CategoricalAccuracy),
        (lambda y, p: y - p, (8, 3), (8, 3), metrics.CategoricalAccuracy),
    ],
)
def test_resolve_accuracy(loss, y_shape, p_shape, expected):
    metric = metrics.resolve_accuracy(loss, y_shape, p_shape)
    assert type(metric) is expected and metric.name == "accuracy"


def test_resolve_accuracy_for_logits_thresholds_at_zero():
    metric = metrics.resolve_accuracy(losses.BinaryCrossentropy(from_logits=True), (4, 1), (4, 1))
    assert metric.get_config()["threshold"] == 0.0
    assert float(metric([[1.0], [0.0]], [[0.3], [-0.2]])) == 1.0
    assert metrics.resolve_accuracy("bce", name="acc").name == "acc"
    with pytest.raises(ValueError, match="shapes"):
        metrics.resolve_accuracy("mse")


def test_metric_shape_errors():
    with pytest.raises(ValueError, match=r"sparse_categorical_accuracy: y_true of shape \(10, 5\)"):
        metrics.SparseCategoricalAccuracy()(np.eye(5)[CLS_LABELS], CLS_PROBS)
    with pytest.raises(ValueError, match=r"categorical_accuracy: .*\(10,\).*\(10, 5\)"):
        metrics.CategoricalAccuracy()(CLS_LABELS, CLS_PROBS)
    with pytest.raises(ValueError, match=r"\[0, 5\) for 5 classes"):
        metrics.SparseTopKCategoricalAccuracy()(CLS_LABELS + 5, CLS_PROBS)


def test_custom_metric_subclass():
    class Maximum(metrics.Metric):
        def __init__(self, name="maximum", dtype=None):
            super().__init__(name=name, dtype=dtype)
            self.best = self.add_variable((), initializer="zeros", name="best")

        def update_state(self, values, sample_weight=None):
            self.best.assign(max(float(self.best), float(np.max(values))))

        def result(self):
            return self.best.value

    m = Maximum()
    for (v,) in batches(REALS):
        m.update_state(v)
    assert float(m.result()) == pytest.approx(REALS.max(), rel=1e-6)
    assert m.variables[0].name == "maximum/best"

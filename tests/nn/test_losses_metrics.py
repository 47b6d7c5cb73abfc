"""tapegrad.nn.losses, metrics and regularizers (the terms of a training objective).

Losses: values against NumPy formulas in float32 and float64, reductions and sample
weights, from_logits consistency, first-order gradients of every loss, config round
trips, lookups and error messages. Metrics: accumulation over batches, reset, weights,
lookups and `resolve_accuracy`. Regularizers: values, gradients, configs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.nn import losses, metrics, regularizers

RNG = np.random.default_rng(7)
N, C = 6, 4
EPS = 1e-7
PROBS = RNG.uniform(0.05, 0.95, (N, C))
REALS = RNG.normal(size=(N, C))
TARGETS = RNG.uniform(0.05, 0.95, (N, C))
BINARY = (RNG.uniform(size=(N, C)) > 0.5).astype(np.float64)
LABELS = np.array([0, 3, 1, 2, 2, 1])
ONE_HOT = np.eye(C)[LABELS]


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_bce(y, p):
    p = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def np_cce(y, p):
    p = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -(y * np.log(p)).sum(-1)


def np_unit(x):
    return x / np.sqrt((x * x).sum(-1, keepdims=True))


def np_huber(y, p, d=0.7):
    e = np.abs(p - y)
    return np.where(e <= d, 0.5 * e**2, d * e - 0.5 * d * d).mean(-1)


# name: (Loss object, y_true, y_pred, NumPy per-sample reference)
LOSSES = {
    "mse": (losses.MeanSquaredError(), TARGETS, REALS, lambda y, p: ((y - p) ** 2).mean(-1)),
    "mae": (losses.MeanAbsoluteError(), TARGETS, REALS, lambda y, p: abs(y - p).mean(-1)),
    "mape": (losses.MeanAbsolutePercentageError(), TARGETS, REALS,
             lambda y, p: 100 * abs((y - p) / np.maximum(abs(y), EPS)).mean(-1)),
    "msle": (losses.MeanSquaredLogarithmicError(), TARGETS, PROBS,
             lambda y, p: ((np.log1p(p) - np.log1p(y)) ** 2).mean(-1)),
    "cosine": (losses.CosineSimilarity(), REALS[::-1].copy(), REALS,
               lambda y, p: -(np_unit(y) * np_unit(p)).sum(-1)),
    "huber": (losses.Huber(delta=0.7), TARGETS, REALS, np_huber),
    "log_cosh": (losses.LogCosh(), TARGETS, REALS, lambda y, p: np.log(np.cosh(p - y)).mean(-1)),
    "hinge": (losses.Hinge(), BINARY, REALS,
              lambda y, p: np.maximum(1 - (2 * y - 1) * p, 0).mean(-1)),
    "squared_hinge": (losses.SquaredHinge(), BINARY, REALS,
                      lambda y, p: (np.maximum(1 - (2 * y - 1) * p, 0) ** 2).mean(-1)),
    "categorical_hinge": (losses.CategoricalHinge(), ONE_HOT, REALS,
                          lambda y, p: np.maximum(((1 - y) * p).max(-1) - (y * p).sum(-1) + 1,
                                                  0)),
    "kl_divergence": (losses.KLDivergence(), np_softmax(REALS), PROBS,
                      lambda y, p: (y * np.log(y / p)).sum(-1)),
    "poisson": (losses.Poisson(), TARGETS, PROBS, lambda y, p: (p - y * np.log(p + EPS)).mean(-1)),
    "bce": (losses.BinaryCrossentropy(), BINARY, PROBS, lambda y, p: np_bce(y, p).mean(-1)),
    "bce_logits": (losses.BinaryCrossentropy(from_logits=True), BINARY, REALS,
                   lambda y, p: np_bce(y, np_sigmoid(p)).mean(-1)),
    "bce_smoothing": (losses.BinaryCrossentropy(label_smoothing=0.2), BINARY, PROBS,
                      lambda y, p: np_bce(0.8 * y + 0.1, p).mean(-1)),
    "cce": (losses.CategoricalCrossentropy(), ONE_HOT, PROBS, np_cce),
    "cce_logits": (losses.CategoricalCrossentropy(from_logits=True), ONE_HOT, REALS,
                   lambda y, p: np_cce(y, np_softmax(p))),
    "cce_smoothing": (losses.CategoricalCrossentropy(label_smoothing=0.2), ONE_HOT, PROBS,
                      lambda y, p: np_cce(0.8 * y + 0.2 / C, p)),
    "scce": (losses.SparseCategoricalCrossentropy(), LABELS, PROBS,
             lambda y, p: np_cce(np.eye(C)[y], p)),
    "scce_logits": (losses.SparseCategoricalCrossentropy(from_logits=True), LABELS, REALS,
                    lambda y, p: np_cce(np.eye(C)[y], np_softmax(p))),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_values_match_numpy(name, dtype):
    loss, y, p, ref = LOSSES[name]
    expected = ref(y, p)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    value = loss(y, p.astype(dtype))
    assert value.dtype == dtype and value.shape == ()
    np.testing.assert_allclose(value.numpy(), expected.mean(), rtol=rtol, atol=rtol)
    per_sample = loss.fn(y, p.astype(dtype), **loss._fn_kwargs)
    assert per_sample.shape == (N,) and per_sample.dtype == dtype
    np.testing.assert_allclose(per_sample.numpy(), expected, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_gradients(name):
    loss, y, p, _ = LOSSES[name]
    tg.check_grads(lambda q: loss(y, q), (p,), order=1)


@pytest.mark.parametrize("name", ["mse", "huber", "cce_logits", "scce", "bce"])
def test_loss_gradients_with_weights_and_no_reduction(name):
    loss, y, p, _ = LOSSES[name]
    unreduced = type(loss).from_config({**loss.get_config(), "reduction": "none"})
    weights = RNG.uniform(0.5, 2.0, N)
    tg.check_grads(lambda q: unreduced(y, q, sample_weight=weights), (p,), order=1)


def test_loss_gradient_through_tape_matches_formula():
    w = tg.Variable(REALS.copy())
    with tg.GradientTape() as tape:
        value = losses.MeanSquaredError()(TARGETS, w)
    np.testing.assert_allclose(tape.gradient(value, w).numpy(),
                               2 * (REALS - TARGETS) / REALS.size, rtol=1e-6)


def test_function_forms_and_aliases():
    assert losses.mse is losses.mean_squared_error and losses.mae is losses.mean_absolute_error
    assert losses.MSE is losses.mse and losses.kld is losses.kl_divergence
    values = losses.mse(TARGETS, REALS)
    np.testing.assert_allclose(values.numpy(), ((TARGETS - REALS) ** 2).mean(-1))
    values = losses.sparse_categorical_crossentropy(LABELS, REALS, from_logits=True)
    np.testing.assert_allclose(values.numpy(), np_cce(ONE_HOT, np_softmax(REALS)))


@pytest.mark.parametrize("kind", ["binary", "categorical", "sparse"])
def test_from_logits_matches_probabilities(kind):
    if kind == "binary":
        a = losses.BinaryCrossentropy(from_logits=True)(BINARY, REALS)
        b = losses.BinaryCrossentropy()(BINARY, np_sigmoid(REALS))
    elif kind == "categorical":
        a = losses.CategoricalCrossentropy(from_logits=True)(ONE_HOT, REALS)
        b = losses.CategoricalCrossentropy()(ONE_HOT, np_softmax(REALS))
    else:
        a = losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, REALS)
        b = losses.CategoricalCrossentropy(from_logits=True)(ONE_HOT, REALS)
    np.testing.assert_allclose(float(a), float(b), rtol=1e-6)


def test_logits_are_stable_for_large_values():
    logits = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    assert float(losses.CategoricalCrossentropy(from_logits=True)(np.eye(2), logits)) == 0.0
    value = losses.BinaryCrossentropy(from_logits=True)([[1.0], [0.0]], [[-800.0], [800.0]])
    np.testing.assert_allclose(float(value), 800.0)


def test_sparse_labels_with_trailing_axis_and_integral_floats():
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    reference = float(loss(LABELS, REALS))
    assert float(loss(LABELS[:, None], REALS)) == pytest.approx(reference)
    assert float(loss(LABELS.astype(np.float32), REALS)) == pytest.approx(reference)
    assert float(loss(tg.tensor(LABELS), REALS)) == pytest.approx(reference)


def test_sparse_ignore_class_averages_over_valid_labels():
    labels = np.array([0, -1, 3, 1, -1, 2])
    per_sample = np_cce(np.eye(C)[np.where(labels < 0, 0, labels)], np_softmax(REALS))
    valid = labels >= 0
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    np.testing.assert_allclose(float(loss(labels, REALS)), per_sample[valid].mean(), rtol=1e-10)
    summed = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1,
                                                  reduction="sum")
    np.testing.assert_allclose(float(summed(labels, REALS)), per_sample[valid].sum())
    none = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1,
                                                reduction="none")
    np.testing.assert_allclose(none(labels, REALS).numpy(), np.where(valid, per_sample, 0))
    tg.check_grads(lambda q: loss(labels, q), (REALS,), order=1)


# -- reductions and sample weights --------------------------------------------------------

PER_SAMPLE = ((TARGETS - REALS) ** 2).mean(-1)
WEIGHTS = RNG.uniform(0.0, 2.0, N)


@pytest.mark.parametrize("reduction, expected", [
    ("sum_over_batch_size", (PER_SAMPLE * WEIGHTS).mean()),
    ("mean", (PER_SAMPLE * WEIGHTS).mean()),
    ("sum", (PER_SAMPLE * WEIGHTS).sum()),
    ("mean_with_sample_weight", (PER_SAMPLE * WEIGHTS).sum() / WEIGHTS.sum()),
    ("none", PER_SAMPLE * WEIGHTS),
    (None, PER_SAMPLE * WEIGHTS),
])
def test_reductions_with_sample_weight(reduction, expected):
    loss = losses.MeanSquaredError(reduction=reduction)
    np.testing.assert_allclose(np.asarray(loss(TARGETS, REALS, sample_weight=WEIGHTS)), expected,
                               rtol=1e-10)


@pytest.mark.parametrize("weights", [WEIGHTS, WEIGHTS[:, None], tg.tensor(WEIGHTS), 2.5])
def test_sample_weight_shapes(weights):
    loss = losses.MeanSquaredError(reduction="sum")
    expected = (PER_SAMPLE * np.asarray(weights).reshape(-1)).sum() if np.ndim(weights) \
        else PER_SAMPLE.sum() * weights
    np.testing.assert_allclose(float(loss(TARGETS, REALS, sample_weight=weights)), expected)


def test_per_timestep_weights_and_batch_size_divisor():
    y, p = RNG.normal(size=(3, 5, 2)), RNG.normal(size=(3, 5, 2))
    w = RNG.uniform(size=(3, 5))
    values = ((y - p) ** 2).mean(-1)
    loss = losses.MeanSquaredError()
    np.testing.assert_allclose(float(loss(y, p, sample_weight=w)), (values * w).sum() / 15)
    np.testing.assert_allclose(float(loss(y, p, sample_weight=w[:, :1] * np.ones((3, 5)))),
                               (values * w[:, :1]).sum() / 15)


def test_rank_matching_of_targets():
    loss = losses.MeanSquaredError()
    y, p = TARGETS[:, 0], REALS[:, :1]
    np.testing.assert_allclose(float(loss(y, p)), ((y - p[:, 0]) ** 2).mean())
    np.testing.assert_allclose(float(loss(y[:, None], p[:, 0])), ((y - p[:, 0]) ** 2).mean())


def test_dtypes_follow_predictions_or_the_loss_dtype():
    assert losses.MeanSquaredError()([[1.0]], [[2.0]]).dtype == np.float32
    assert losses.MeanSquaredError()([[1]], np.array([[2.0]])).dtype == np.float64
    assert losses.MeanSquaredError(dtype="float32")([[1]], np.array([[2.0]])).dtype == np.float32
    assert losses.MeanSquaredError()([[1]], [[2]]).dtype == np.float32


def test_empty_batch_gives_zero_not_nan():
    value = losses.MeanSquaredError()(np.zeros((0, 3)), np.zeros((0, 3)))
    assert value.shape == (0,)
    value = losses.reduce_weighted_values(np.zeros((0, 2)))
    assert float(value) == 0.0


# -- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("loss, y, p, name", [
    (losses.MeanSquaredError(), np.zeros((4, 3)), np.zeros((4, 2)), "mean_squared_error"),
    (losses.BinaryCrossentropy(), np.zeros((4, 3)), np.full((4, 1), 0.5), "binary_crossentropy"),
    (losses.CategoricalCrossentropy(), np.zeros((4, 3)), np.full((4, 2), 0.5),
     "categorical_crossentropy"),
    (losses.Huber(), np.zeros((2, 3)), np.zeros((4, 3)), "huber"),
])
def test_shape_mismatch_names_loss_and_shapes(loss, y, p, name):
    with pytest.raises(ValueError, match=name) as info:
        loss(y, p)
    assert str(y.shape) in str(info.value) and str(p.shape) in str(info.value)


def test_sparse_non_integral_labels_message():
    with pytest.raises(ValueError) as info:
        losses.SparseCategoricalCrossentropy()(np.array([0.0, 1.5, 2.0]), PROBS[:3, :3])
    message = str(info.value)
    assert "sparse_categorical_crossentropy" in message and "3 classes" in message
    assert "non-integral" in message and "1.5" in message and "[0.0, 2.0]" in message


@pytest.mark.parametrize("labels, shown", [([0, 3, 1], "[0, 3]"), ([-1, 2, 1], "[-1, 2]")])
def test_sparse_out_of_range_labels_message(labels, shown):
    with pytest.raises(ValueError) as info:
        losses.sparse_categorical_crossentropy(np.array(labels), PROBS[:3, :3])
    message = str(info.value)
    assert "sparse_categorical_crossentropy" in message and "[0, 3)" in message
    assert "3 classes" in message and shown in message


def test_sparse_label_shape_and_dtype_errors():
    with pytest.raises(ValueError, match=r"y_true of shape \(6, 4\).*\(6,\)"):
        losses.SparseCategoricalCrossentropy()(ONE_HOT, PROBS)
    with pytest.raises(TypeError, match="integer class indices"):
        losses.sparse_categorical_crossentropy(np.array(["a"] * N), PROBS)


def test_ignored_labels_may_be_out_of_range():
    labels = np.array([0, 255, 1, 2, 255, 3])
    loss = losses.SparseCategoricalCrossentropy(ignore_class=255)
    assert np.isfinite(float(loss(labels, PROBS)))


def test_invalid_reduction_and_weight_shape():
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="average")
    with pytest.raises(ValueError, match=r"mean_squared_error: sample_weight of shape \(4,\)"):
        losses.MeanSquaredError()(TARGETS, REALS, sample_weight=np.ones(4))


# -- configs and lookups -----------------------------------------------------------------

LOSS_CLASSES = [
    losses.MeanSquaredError(reduction="sum"), losses.MeanAbsoluteError(name="l1"),
    losses.MeanAbsolutePercentageError(), losses.MeanSquaredLogarithmicError(),
    losses.CosineSimilarity(axis=1), losses.Huber(delta=2.5), losses.LogCosh(),
    losses.Hinge(), losses.SquaredHinge(), losses.CategoricalHinge(), losses.KLDivergence(),
    losses.Poisson(), losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
    losses.CategoricalCrossentropy(label_smoothing=0.2, axis=1, dtype="float64"),
    losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0, reduction=None),
    losses.LossFunctionWrapper(losses.huber, delta=0.3, name="h"),
]


@pytest.mark.parametrize("loss", LOSS_CLASSES, ids=lambda loss: type(loss).__name__)
def test_loss_config_round_trip(loss):
    config = loss.get_config()
    clone = type(loss).from_config(config)
    assert clone.get_config() == config
    restored = losses.deserialize(losses.serialize(loss))
    assert type(restored) is type(loss) and restored.get_config() == config
    y, p = (LABELS, REALS) if "Sparse" in type(loss).__name__ else (TARGETS, PROBS)
    np.testing.assert_allclose(np.asarray(restored(y, p)), np.asarray(loss(y, p)))


@pytest.mark.parametrize("identifier, cls, name", [
    ("mse", losses.MeanSquaredError, "mse"),
    ("MSE", losses.MeanSquaredError, "MSE"),
    ("mae", losses.MeanAbsoluteError, "mae"),
    ("mean_squared_error", losses.MeanSquaredError, "mean_squared_error"),
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy,
     "sparse_categorical_crossentropy"),
    ("binary_crossentropy", losses.BinaryCrossentropy, "binary_crossentropy"),
    ("bce", losses.BinaryCrossentropy, "bce"),
    ("Huber", losses.Huber, "huber_loss"),
    ("huber", losses.Huber, "huber"),
    ("kld", losses.KLDivergence, "kld"),
    (losses.categorical_crossentropy, losses.CategoricalCrossentropy,
     "categorical_crossentropy"),
    (losses.Poisson, losses.Poisson, "poisson"),
    ({"class_name": "Huber", "config": {"delta": 3.0}}, losses.Huber, "huber_loss"),
])
def test_get(identifier, cls, name):
    loss = losses.get(identifier)
    assert type(loss) is cls and loss.name == name


def test_get_passes_instances_and_wraps_custom_functions():
    instance = losses.Huber()
    assert losses.get(instance) is instance and losses.get(None) is None

    def doubled(y_true, y_pred):
        return 2 * losses.mean_absolute_error(y_true, y_pred)

    wrapped = losses.get(doubled)
    assert isinstance(wrapped, losses.LossFunctionWrapper) and wrapped.name == "doubled"
    np.testing.assert_allclose(float(wrapped(TARGETS, REALS)), 2 * abs(TARGETS - REALS).mean())
    config = losses.serialize(wrapped)
    with pytest.raises(ValueError, match="never restores code"):
        losses.deserialize(config)


def test_get_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match="Could not interpret loss identifier 'msee'.*mse"):
        losses.get("msee")
    with pytest.raises(ValueError, match="Could not interpret loss identifier"):
        losses.get(3)


def test_custom_loss_subclass():
    class Scaled(losses.Loss):
        def __init__(self, scale=2.0, **kwargs):
            super().__init__(**kwargs)
            self.scale = scale

        def call(self, y_true, y_pred):
            return self.scale * losses.mean_absolute_error(y_true, y_pred)

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}

    loss = Scaled(scale=3.0)
    assert loss.name == "scaled"
    np.testing.assert_allclose(float(loss(TARGETS, REALS)), 3 * abs(TARGETS - REALS).mean())
    assert Scaled.from_config(loss.get_config()).scale == 3.0


# -- metrics -------------------------------------------------------------------------------

def batches(*arrays, size=4):
    n = len(arrays[0])
    for start in range(0, n, size):
        yield tuple(None if a is None else a[start:start + size] for a in arrays)


CLS_PROBS = np_softmax(RNG.normal(size=(10, 5)))
CLS_LABELS = RNG.integers(0, 5, 10)
CLS_LABELS[:4] = CLS_PROBS[:4].argmax(-1)  # some hits
BIN_PROBS = RNG.uniform(size=(10, 1))
BIN_LABELS = (RNG.uniform(size=(10, 1)) > 0.5).astype(np.float64)
SW = RNG.uniform(0.0, 1.0, 10)


def top_k_hits(labels, scores, k):
    return (scores > scores[np.arange(len(labels)), labels][:, None]).sum(-1) < k


# name: (metric factory, y_true, y_pred, NumPy per-sample values)
METRICS = {
    "accuracy": (metrics.Accuracy, CLS_LABELS, CLS_PROBS.argmax(-1) * (SW > 0.3),
                 lambda y, p: (y == p).astype(float)),
    "binary_accuracy": (metrics.BinaryAccuracy, BIN_LABELS, BIN_PROBS,
                        lambda y, p: ((p > 0.5) == y)[:, 0].astype(float)),
    "categorical_accuracy": (metrics.CategoricalAccuracy, np.eye(5)[CLS_LABELS], CLS_PROBS,
                             lambda y, p: (y.argmax(-1) == p.argmax(-1)).astype(float)),
    "sparse_categorical_accuracy": (metrics.SparseCategoricalAccuracy, CLS_LABELS, CLS_PROBS,
                                    lambda y, p: (y == p.argmax(-1)).astype(float)),
    "top_k": (lambda: metrics.TopKCategoricalAccuracy(k=2), np.eye(5)[CLS_LABELS], CLS_PROBS,
              lambda y, p: top_k_hits(y.argmax(-1), p, 2).astype(float)),
    "sparse_top_k": (lambda: metrics.SparseTopKCategoricalAccuracy(k=3), CLS_LABELS, CLS_PROBS,
                     lambda y, p: top_k_hits(y, p, 3).astype(float)),
    "mse": (metrics.MeanSquaredError, CLS_PROBS[::-1], CLS_PROBS,
            lambda y, p: ((y - p) ** 2).mean(-1)),
    "mae": (metrics.MeanAbsoluteError, CLS_PROBS[::-1], CLS_PROBS,
            lambda y, p: abs(y - p).mean(-1)),
    "bce": (metrics.BinaryCrossentropy, BIN_LABELS, BIN_PROBS, lambda y, p: np_bce(y, p)[:, 0]),
    "scce": (metrics.SparseCategoricalCrossentropy, CLS_LABELS, CLS_PROBS,
             lambda y, p: np_cce(np.eye(5)[y], p)),
    "cosine": (metrics.CosineSimilarity, CLS_PROBS[::-1], CLS_PROBS,
               lambda y, p: (np_unit(y) * np_unit(p)).sum(-1)),
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
    assert float(rmse.result()) == pytest.approx(np.sqrt(((TARGETS - REALS) ** 2).mean()),
                                                 rel=1e-5)
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
    return {"tp": (w * (pos & pred)).sum(), "fp": (w * (~pos & pred)).sum(),
            "fn": (w * (pos & ~pred)).sum(), "tn": (w * (~pos & ~pred)).sum()}


def test_precision_recall_and_counts_over_batches():
    y = (RNG.uniform(size=(12, 3)) > 0.5).astype(float)
    p = RNG.uniform(size=(12, 3))
    w = RNG.uniform(size=(12, 1))
    objects = [metrics.Precision(), metrics.Recall(), metrics.TruePositives(),
               metrics.FalsePositives(), metrics.TrueNegatives(), metrics.FalseNegatives()]
    for y_b, p_b, w_b in batches(y, p, w[:, 0]):
        for m in objects:
            m.update_state(y_b, p_b, sample_weight=w_b)
    c = np_confusion(y, p, 0.5, w)
    expected = [c["tp"] / (c["tp"] + c["fp"]), c["tp"] / (c["tp"] + c["fn"]), c["tp"], c["fp"],
                c["tn"], c["fn"]]
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
    exact = ((pos[:, None] > neg[None, :]).mean())  # Mann-Whitney U statistic
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
    metrics.Mean(name="m"), metrics.Sum(dtype="float64"), metrics.Accuracy(),
    metrics.BinaryAccuracy(threshold=0.3), metrics.CategoricalAccuracy(),
    metrics.SparseCategoricalAccuracy(), metrics.TopKCategoricalAccuracy(k=3),
    metrics.SparseTopKCategoricalAccuracy(k=2), metrics.MeanSquaredError(),
    metrics.MeanAbsoluteError(), metrics.MeanAbsolutePercentageError(),
    metrics.MeanSquaredLogarithmicError(), metrics.RootMeanSquaredError(),
    metrics.CosineSimilarity(axis=1), metrics.LogCoshError(), metrics.KLDivergence(),
    metrics.Poisson(), metrics.Hinge(), metrics.SquaredHinge(), metrics.CategoricalHinge(),
    metrics.BinaryCrossentropy(from_logits=True), metrics.CategoricalCrossentropy(),
    metrics.SparseCategoricalCrossentropy(), metrics.Precision(thresholds=[0.1, 0.6]),
    metrics.Recall(top_k=2), metrics.AUC(num_thresholds=50, curve="PR"),
    metrics.TruePositives(thresholds=0.4), metrics.FalseNegatives(),
]


@pytest.mark.parametrize("metric", METRIC_INSTANCES, ids=lambda m: type(m).__name__)
def test_metric_config_round_trip(metric):
    config = metric.get_config()
    assert type(metric).from_config(config).get_config() == config
    restored = metrics.deserialize(metrics.serialize(metric))
    assert type(restored) is type(metric) and restored.get_config() == config


@pytest.mark.parametrize("identifier, cls, name", [
    ("accuracy", metrics.Accuracy, "accuracy"),
    ("acc", metrics.Accuracy, "acc"),
    ("mae", metrics.MeanAbsoluteError, "mae"),
    ("mse", metrics.MeanSquaredError, "mse"),
    ("AUC", metrics.AUC, "AUC"),
    ("auc", metrics.AUC, "auc"),
    ("sparse_categorical_accuracy", metrics.SparseCategoricalAccuracy,
     "sparse_categorical_accuracy"),
    ("top_k_categorical_accuracy", metrics.TopKCategoricalAccuracy,
     "top_k_categorical_accuracy"),
    ("precision", metrics.Precision, "precision"),
    ("root_mean_squared_error", metrics.RootMeanSquaredError, "root_mean_squared_error"),
    (metrics.Recall, metrics.Recall, "recall"),
    (losses.mean_absolute_error, metrics.MeanMetricWrapper, "mean_absolute_error"),
    (losses.Huber(), metrics.MeanMetricWrapper, "huber_loss"),
])
def test_metric_get(identifier, cls, name):
    metric = metrics.get(identifier)
    assert type(metric) is cls and metric.name == name


def test_metric_get_errors_and_instances():
    instance = metrics.Mean()
    assert metrics.get(instance) is instance and metrics.get(None) is None
    with pytest.raises(ValueError, match="Could not interpret metric identifier 'accuracyy'"):
        metrics.get("accuracyy")


@pytest.mark.parametrize("loss, y_shape, p_shape, expected", [
    ("sparse_categorical_crossentropy", (8,), (8, 10), metrics.SparseCategoricalAccuracy),
    (losses.SparseCategoricalCrossentropy(from_logits=True), (8, 1), (8, 10),
     metrics.SparseCategoricalAccuracy),
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
])
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


# -- regularizers -------------------------------------------------------------------------

W = RNG.normal(size=(5, 3))


def np_orthogonal(w, factor, mode):
    u = w / np.linalg.norm(w, axis=1, keepdims=True) if mode == "rows" else \
        (w / np.linalg.norm(w, axis=0, keepdims=True)).T
    product = np.abs(u @ u.T - np.diag(np.diag(u @ u.T)))
    n = len(u)
    return factor * 0.5 * product.sum() / (n * (n - 1) / 2)


REGULARIZERS = {
    "l1": (regularizers.L1(0.3), lambda w: 0.3 * abs(w).sum()),
    "l2": (regularizers.L2(0.2), lambda w: 0.2 * (w**2).sum()),
    "l1_l2": (regularizers.L1L2(l1=0.1, l2=0.4), lambda w: 0.1 * abs(w).sum() + 0.4 * (w**2).sum()),
    "l1_l2_only_l2": (regularizers.L1L2(l2=0.4), lambda w: 0.4 * (w**2).sum()),
    "orthogonal_rows": (regularizers.OrthogonalRegularizer(0.5),
                        lambda w: np_orthogonal(w, 0.5, "rows")),
    "orthogonal_columns": (regularizers.OrthogonalRegularizer(0.5, mode="columns"),
                           lambda w: np_orthogonal(w, 0.5, "columns")),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(REGULARIZERS))
def test_regularizer_values(name, dtype):
    regularizer, ref = REGULARIZERS[name]
    value = regularizer(W.astype(dtype))
    assert value.shape == () and value.dtype == dtype
    assert float(value) == pytest.approx(ref(W), rel=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("name", list(REGULARIZERS))
def test_regularizer_gradients_and_config(name):
    regularizer, _ = REGULARIZERS[name]
    tg.check_grads(regularizer, (W,), order=1)
    config = regularizer.get_config()
    assert type(regularizer).from_config(config).get_config() == config
    restored = regularizers.deserialize(regularizers.serialize(regularizer))
    assert type(restored) is type(regularizer) and restored.get_config() == config


def test_regularizer_gradient_through_tape():
    w = tg.Variable(W.copy())
    with tg.GradientTape() as tape:
        penalty = regularizers.L2(0.1)(w)
    np.testing.assert_allclose(tape.gradient(penalty, w).numpy(), 0.2 * W, rtol=1e-6)


@pytest.mark.parametrize("identifier, cls, config", [
    ("l1", regularizers.L1, {"l1": 0.01}),
    ("l2", regularizers.L2, {"l2": 0.01}),
    ("l1_l2", regularizers.L1L2, {"l1": 0.0, "l2": 0.0}),
    ("L2", regularizers.L2, {"l2": 0.01}),
    ("orthogonal_regularizer", regularizers.OrthogonalRegularizer,
     {"factor": 0.01, "mode": "rows"}),
    ({"class_name": "L1L2", "config": {"l1": 0.5}}, regularizers.L1L2, {"l1": 0.5, "l2": 0.0}),
    (regularizers.L1, regularizers.L1, {"l1": 0.01}),
])
def test_regularizer_get(identifier, cls, config):
    regularizer = regularizers.get(identifier)
    assert type(regularizer) is cls and regularizer.get_config() == config


def test_regularizer_errors():
    assert regularizers.get(None) is None and regularizers.serialize(None) is None
    for bad in (-0.1, math.nan, math.inf, "0.1", True):
        with pytest.raises(ValueError, match="non-negative finite float"):
            regularizers.L2(bad)
    with pytest.raises(ValueError, match="mode must be 'rows' or 'columns'"):
        regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ValueError, match=r"rank 2, got shape \(2, 2, 2\)"):
        regularizers.OrthogonalRegularizer()(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier 'l3'"):
        regularizers.get("l3")

    def penalty(w):
        return 0.0

    assert regularizers.get(penalty) is penalty
    with pytest.raises(ValueError, match="never restores code"):
        regularizers.deserialize(regularizers.serialize(penalty))

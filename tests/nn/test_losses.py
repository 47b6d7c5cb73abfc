"""tapegrad.nn.losses: values against NumPy formulas in float32 and float64, reductions
and sample weights, from_logits consistency, first-order gradients of every loss, config
round trips, lookups and error messages."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.nn import losses
from tests.nn.objective_data import (
    BINARY,
    EPS,
    LABELS,
    ONE_HOT,
    PROBS,
    REALS,
    RNG,
    TARGETS,
    WEIGHTS,
    C,
    N,
    np_bce,
    np_cce,
    np_huber,
    np_sigmoid,
    np_softmax,
    np_unit,
)

# name: (Loss object, y_true, y_pred, NumPy per-sample reference)
LOSSES = {
    "mse": (losses.MeanSquaredError(), TARGETS, REALS, lambda y, p: ((y - p) ** 2).mean(-1)),
    "mae": (losses.MeanAbsoluteError(), TARGETS, REALS, lambda y, p: abs(y - p).mean(-1)),
    "mape": (
        losses.MeanAbsolutePercentageError(),
        TARGETS,
        REALS,
        lambda y, p: 100 * abs((y - p) / np.maximum(abs(y), EPS)).mean(-1),
    ),
    "msle": (
        losses.MeanSquaredLogarithmicError(),
        TARGETS,
        PROBS,
        lambda y, p: ((np.log1p(p) - np.log1p(y)) ** 2).mean(-1),
    ),
    "cosine": (
        losses.CosineSimilarity(),
        REALS[::-1].copy(),
        REALS,
        lambda y, p: -(np_unit(y) * np_unit(p)).sum(-1),
    ),
    "huber": (losses.Huber(delta=0.7), TARGETS, REALS, np_huber),
    "log_cosh": (losses.LogCosh(), TARGETS, REALS, lambda y, p: np.log(np.cosh(p - y)).mean(-1)),
    "hinge": (
        losses.Hinge(),
        BINARY,
        REALS,
        lambda y, p: np.maximum(1 - (2 * y - 1) * p, 0).mean(-1),
    ),
    "squared_hinge": (
        losses.SquaredHinge(),
        BINARY,
        REALS,
        lambda y, p: (np.maximum(1 - (2 * y - 1) * p, 0) ** 2).mean(-1),
    ),
    "categorical_hinge": (
        losses.CategoricalHinge(),
        ONE_HOT,
        REALS,
        lambda y, p: np.maximum(((1 - y) * p).max(-1) - (y * p).sum(-1) + 1, 0),
    ),
    "kl_divergence": (
        losses.KLDivergence(),
        np_softmax(REALS),
        PROBS,
        lambda y, p: (y * np.log(y / p)).sum(-1),
    ),
    "poisson": (losses.Poisson(), TARGETS, PROBS, lambda y, p: (p - y * np.log(p + EPS)).mean(-1)),
    "bce": (losses.BinaryCrossentropy(), BINARY, PROBS, lambda y, p: np_bce(y, p).mean(-1)),
    "bce_logits": (
        losses.BinaryCrossentropy(from_logits=True),
        BINARY,
        REALS,
        lambda y, p: np_bce(y, np_sigmoid(p)).mean(-1),
    ),
    "bce_smoothing": (
        losses.BinaryCrossentropy(label_smoothing=0.2),
        BINARY,
        PROBS,
        lambda y, p: np_bce(0.8 * y + 0.1, p).mean(-1),
    ),
    "cce": (losses.CategoricalCrossentropy(), ONE_HOT, PROBS, np_cce),
    "cce_logits": (
        losses.CategoricalCrossentropy(from_logits=True),
        ONE_HOT,
        REALS,
        lambda y, p: np_cce(y, np_softmax(p)),
    ),
    "cce_smoothing": (
        losses.CategoricalCrossentropy(label_smoothing=0.2),
        ONE_HOT,
        PROBS,
        lambda y, p: np_cce(0.8 * y + 0.2 / C, p),
    ),
    "scce": (
        losses.SparseCategoricalCrossentropy(),
        LABELS,
        PROBS,
        lambda y, p: np_cce(np.eye(C)[y], p),
    ),
    "scce_logits": (
        losses.SparseCategoricalCrossentropy(from_logits=True),
        LABELS,
        REALS,
        lambda y, p: np_cce(np.eye(C)[y], np_softmax(p)),
    ),
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
    np.testing.assert_allclose(
        tape.gradient(value, w).numpy(), 2 * (REALS - TARGETS) / REALS.size, rtol=1e-6
    )


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
    summed = losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=-1, reduction="sum"
    )
    np.testing.assert_allclose(float(summed(labels, REALS)), per_sample[valid].sum())
    none = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, reduction="none")
    np.testing.assert_allclose(none(labels, REALS).numpy(), np.where(valid, per_sample, 0))
    tg.check_grads(lambda q: loss(labels, q), (REALS,), order=1)


# -- reductions and sample weights --------------------------------------------------------

PER_SAMPLE = ((TARGETS - REALS) ** 2).mean(-1)


@pytest.mark.parametrize(
    "reduction, expected",
    [
        ("sum_over_batch_size", (PER_SAMPLE * WEIGHTS).mean()),
        ("mean", (PER_SAMPLE * WEIGHTS).mean()),
        ("sum", (PER_SAMPLE * WEIGHTS).sum()),
        ("mean_with_sample_weight", (PER_SAMPLE * WEIGHTS).sum() / WEIGHTS.sum()),
        ("none", PER_SAMPLE * WEIGHTS),
        (None, PER_SAMPLE * WEIGHTS),
    ],
)
def test_reductions_with_sample_weight(reduction, expected):
    loss = losses.MeanSquaredError(reduction=reduction)
    np.testing.assert_allclose(
        np.asarray(loss(TARGETS, REALS, sample_weight=WEIGHTS)), expected, rtol=1e-10
    )


@pytest.mark.parametrize("weights", [WEIGHTS, WEIGHTS[:, None], tg.tensor(WEIGHTS), 2.5])
def test_sample_weight_shapes(weights):
    loss = losses.MeanSquaredError(reduction="sum")
    expected = (
        (PER_SAMPLE * np.asarray(weights).reshape(-1)).sum()
        if np.ndim(weights)
        else PER_SAMPLE.sum() * weights
    )
    np.testing.assert_allclose(float(loss(TARGETS, REALS, sample_weight=weights)), expected)


def test_per_timestep_weights_and_batch_size_divisor():
    y, p = RNG.normal(size=(3, 5, 2)), RNG.normal(size=(3, 5, 2))
    w = RNG.uniform(size=(3, 5))
    values = ((y - p) ** 2).mean(-1)
    loss = losses.MeanSquaredError()
    np.testing.assert_allclose(float(loss(y, p, sample_weight=w)), (values * w).sum() / 15)
    np.testing.assert_allclose(
        float(loss(y, p, sample_weight=w[:, :1] * np.ones((3, 5)))), (values * w[:, :1]).sum() / 15
    )


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


@pytest.mark.parametrize(
    "loss, y, p, name",
    [
        (losses.MeanSquaredError(), np.zeros((4, 3)), np.zeros((4, 2)), "mean_squared_error"),
        (
            losses.BinaryCrossentropy(),
            np.zeros((4, 3)),
            np.full((4, 1), 0.5),
            "binary_crossentropy",
        ),
        (
            losses.CategoricalCrossentropy(),
            np.zeros((4, 3)),
            np.full((4, 2), 0.5),
            "categorical_crossentropy",
        ),
        (losses.Huber(), np.zeros((2, 3)), np.zeros((4, 3)), "huber"),
    ],
)
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
    losses.MeanSquaredError(reduction="sum"),
    losses.MeanAbsoluteError(name="l1"),
    losses.MeanAbsolutePercentageError(),
    losses.MeanSquaredLogarithmicError(),
    losses.CosineSimilarity(axis=1),
    losses.Huber(delta=2.5),
    losses.LogCosh(),
    losses.Hinge(),
    losses.SquaredHinge(),
    losses.CategoricalHinge(),
    losses.KLDivergence(),
    losses.Poisson(),
    losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
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


@pytest.mark.parametrize(
    "identifier, cls, name",
    [
        ("mse", losses.MeanSquaredError, "mse"),
        ("MSE", losses.MeanSquaredError, "MSE"),
        ("mae", losses.MeanAbsoluteError, "mae"),
        ("mean_squared_error", losses.MeanSquaredError, "mean_squared_error"),
        (
            "sparse_categorical_crossentropy",
            losses.SparseCategoricalCrossentropy,
            "sparse_categorical_crossentropy",
        ),
        ("binary_crossentropy", losses.BinaryCrossentropy, "binary_crossentropy"),
        ("bce", losses.BinaryCrossentropy, "bce"),
        ("Huber", losses.Huber, "huber_loss"),
        ("huber", losses.Huber, "huber"),
        ("kld", losses.KLDivergence, "kld"),
        (
            losses.categorical_crossentropy,
            losses.CategoricalCrossentropy,
            "categorical_crossentropy",
        ),
        (losses.Poisson, losses.Poisson, "poisson"),
        ({"class_name": "Huber", "config": {"delta": 3.0}}, losses.Huber, "huber_loss"),
    ],
)
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

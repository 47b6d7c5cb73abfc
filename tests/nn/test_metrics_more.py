"""Keras 3 metrics added for issue 11: the loss-function forms of ``keras.metrics`` and the
F-score, R2, IoU, at-threshold and correlation metrics (numbers recorded with Keras 3.15)."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import losses, metrics

FUNCTION_NAMES = [
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_hinge",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "sparse_categorical_crossentropy",
    "squared_hinge",
]


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_metric_functions_are_the_loss_functions(name):
    # As in Keras: keras.metrics.mean_squared_error is keras.losses.mean_squared_error.
    fn = getattr(metrics, name)
    assert fn is getattr(losses, name)
    assert metrics.deserialize(metrics.serialize(fn)) is fn


X = np.linspace(-1, 1, 24, dtype=np.float32).reshape(8, 3)
Y = np.eye(3, dtype=np.float32)[np.argmax(X, axis=1)]


def fit_with_metrics(metric_list, jit_compile):
    tg.utils.set_random_seed(0)
    model = tg.Sequential([tg.layers.Input((3,)), tg.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="mse", metrics=metric_list, jit_compile=jit_compile)
    return model, model.fit(X, Y, epochs=2, batch_size=4, verbose=0).history


def test_compile_metrics_by_function_and_by_name_log_keras_names():
    functions = [metrics.mean_squared_error, metrics.categorical_focal_crossentropy]
    names = ["huber", "kl_divergence", "log_cosh", "categorical_crossentropy"]
    model, compiled = fit_with_metrics([*functions, *names], jit_compile=True)
    _, eager = fit_with_metrics([*functions, *names], jit_compile=False)
    expected = {"loss", "mean_squared_error", "categorical_focal_crossentropy", *names}
    assert set(compiled) == expected
    for key in expected:
        np.testing.assert_allclose(compiled[key], eager[key], rtol=1e-5)
    # The metric of a function is the mean of its per-sample values.
    pred = model.predict(X, verbose=0)
    result = model.evaluate(X, Y, batch_size=8, verbose=0, return_dict=True)
    for name in ("huber", "log_cosh"):
        expected_value = float(np.mean(getattr(metrics, name)(Y, pred).numpy()))
        assert result[name] == pytest.approx(expected_value, rel=1e-5)


# Inputs and results (two update_state batches, halves of the data) recorded with Keras 3.15.
YT = [
    [1.0, 1.0, 0.0],
    [1.0, 0.0, 0.0],
    [1.0, 0.0, 1.0],
    [0.0, 1.0, 1.0],
    [0.0, 1.0, 0.0],
    [0.0, 0.0, 0.0],
]
YP = [
    [0.2034552, 0.2623133, 0.7503647],
    [0.2804088, 0.485191, 0.9807372],
    [0.9616572, 0.7247899, 0.5412269],
    [0.2768912, 0.160652, 0.9699254],
    [0.5160686, 0.1158656, 0.6234897],
    [0.7766831, 0.6130033, 0.9172977],
]
SW = [1.0, 0.5, 2.0, 0.0, 1.0, 3.0]
RT = [
    [0.6630633, -0.5140064],
    [-1.6480752, 0.1674647],
    [0.1090141, -1.227352],
    [-0.6832266, -0.0720437],
    [-0.9447516, -0.09827],
    [0.095483, 0.0355862],
]
RP = [
    [0.4099175, -0.2171323],
    [-1.2024918, 0.3278889],
    [-0.300101, -0.8615259],
    [-0.9339467, 0.3675366],
    [-1.4806453, 0.3589636],
    [0.0854513, -0.5887882],
]
CT = [0, 1, 2, 2, 1, 0, 3, 2]
CP = [0, 2, 2, 1, 1, 0, 3, 3]
CSW = [1.0, 2.0, 1.0, 1.0, 0.0, 1.0, 2.0, 1.0]
KERAS = {
    "f1_none": ("F1Score", {}, "yt", False, [0.5, 0.0, 0.2857142]),
    "f1_micro_t": ("F1Score", {"average": "micro", "threshold": 0.5}, "yt", True, 0.3076923),
    "f1_macro": ("F1Score", {"average": "macro"}, "yt", True, 0.2424242),
    "f1_weighted_t": ("F1Score", {"average": "weighted", "threshold": 0.4}, "yt", False, 0.25),
    "fbeta_2": ("FBetaScore", {"beta": 2.0, "threshold": 0.5}, "yt", True, [0.5, 0.0, 0.6451613]),
    "fbeta_half_macro": ("FBetaScore", {"beta": 0.5, "average": "macro"}, "yt", False, 0.3138527),
    "r2": ("R2Score", {}, "r", False, 0.4992675),
    "r2_none_sw": ("R2Score", {"class_aggregation": None}, "r", True, [0.7083067, 0.2062421]),
    "r2_var": (
        "R2Score",
        {"class_aggregation": "variance_weighted_average"},
        "r",
        False,
        0.6283888,
    ),
    "r2_adj": ("R2Score", {"num_regressors": 2}, "r", False, 0.3879936),
    "pearson": ("PearsonCorrelation", {}, "r", False, 1.0),
    "pearson_axis0_sw": ("PearsonCorrelation", {"axis": 0}, "r", False, 0.496894),
    "concordance": ("ConcordanceCorrelation", {}, "r", True, 0.5011514),
    "iou": ("IoU", {"num_classes": 4, "target_class_ids": [0, 2]}, "c", False, 0.625),
    "iou_ignore_sw": (
        "IoU",
        {"num_classes": 4, "target_class_ids": [1, 2, 3], "ignore_class": 3},
        "c",
        True,
        0.0666667,
    ),
    "mean_iou": ("MeanIoU", {"num_classes": 4}, "c", False, 0.5208334),
    "mean_iou_sw": ("MeanIoU", {"num_classes": 4}, "c", True, 0.4666667),
    "binary_iou": ("BinaryIoU", {"threshold": 0.4}, "yt", False, 0.1215686),
    "binary_iou_1": ("BinaryIoU", {"target_class_ids": [1]}, "yt", False, 0.1875),
    "onehot_iou": (
        "OneHotIoU",
        {"num_classes": 3, "target_class_ids": [0, 2]},
        "oh",
        False,
        0.0833333,
    ),
    "onehot_mean_iou": ("OneHotMeanIoU", {"num_classes": 3}, "oh", False, 0.0555556),
}
OHT = np.eye(3, dtype=np.float32)[[0, 1, 2, 2, 1, 0]]
DATA = {
    "yt": (np.array(YT, np.float32), np.array(YP, np.float32), np.array(SW, np.float32)),
    "r": (np.array(RT, np.float32), np.array(RP, np.float32), np.array(SW, np.float32)),
    "c": (np.array(CT), np.array(CP), np.array(CSW, np.float32)),
    "oh": (OHT, np.array(YP, np.float32), np.array(SW, np.float32)),
}


def two_batches(metric, data, use_sw, step=None):
    a, b, w = DATA[data]
    h = len(a) // 2
    update = step or metric.update_state
    update(a[:h], b[:h], sample_weight=w[:h] if use_sw else None)
    update(a[h:], b[h:], sample_weight=w[h:] if use_sw else None)
    return metric.result().numpy()


@pytest.mark.parametrize("case", sorted(KERAS))
def test_metric_values_match_keras(case):
    name, kwargs, data, use_sw, expected = KERAS[case]
    metric = getattr(metrics, name)(**kwargs)
    np.testing.assert_allclose(two_batches(metric, data, use_sw), expected, rtol=2e-5, atol=1e-6)
    # Reset, then the same batches again: the same result.
    metric.reset_state()
    np.testing.assert_allclose(two_batches(metric, data, use_sw), expected, rtol=2e-5, atol=1e-6)
    again = metrics.deserialize(metrics.serialize(metric))
    assert type(again) is type(metric) and again.get_config() == metric.get_config()


@pytest.mark.parametrize("case", sorted(KERAS))
def test_traced_updates_equal_eager(case):
    name, kwargs, data, use_sw, expected = KERAS[case]
    metric = getattr(metrics, name)(**kwargs)
    a, b, w = DATA[data]
    h = len(a) // 2
    metric.update_state(a[:h], b[:h], sample_weight=w[:h] if use_sw else None)  # builds state

    @tg.function
    def step(y_true, y_pred, sample_weight):
        metric.update_state(y_true, y_pred, sample_weight=sample_weight)

    step(tg.tensor(a[h:]), tg.tensor(b[h:]), tg.tensor(w[h:]) if use_sw else None)
    np.testing.assert_allclose(metric.result().numpy(), expected, rtol=2e-5, atol=1e-6)


def test_keras_names_and_configs():
    assert metrics.F1Score().name == "f1_score" and "beta" not in metrics.F1Score().get_config()
    assert metrics.FBetaScore().get_config()["beta"] == 1.0
    assert metrics.MeanIoU(num_classes=3).name == "mean_io_u"
    assert metrics.IoU(num_classes=3, target_class_ids=[1]).name == "io_u"
    assert metrics.BinaryIoU().get_config() == {
        "target_class_ids": [0, 1],
        "threshold": 0.5,
        "name": "binary_io_u",
        "dtype": "float32",
    }
    assert metrics.R2Score().get_config()["class_aggregation"] == "uniform_average"
    assert metrics.PearsonCorrelation().get_config() == {
        "name": "pearson_correlation",
        "dtype": "float32",
        "axis": -1,
    }
    for fn in (metrics.pearson_correlation, metrics.concordance_correlation):
        assert metrics.deserialize(metrics.serialize(fn)) is fn


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: metrics.F1Score(average="mean"), "average"),
        (lambda: metrics.FBetaScore(beta=2), "beta"),
        (lambda: metrics.F1Score(threshold=1.5), "threshold"),
        (lambda: metrics.R2Score(class_aggregation="max"), "class_aggregation"),
        (lambda: metrics.R2Score(num_regressors=-1), "num_regressors"),
        (lambda: metrics.IoU(num_classes=3, target_class_ids=[3]), "target_class_ids"),
        (lambda: metrics.MeanIoU(num_classes=0), "num_classes"),
        (lambda: metrics.F1Score().update_state([1, 0], [0.2, 0.8]), "2D inputs"),
        (lambda: metrics.R2Score().update_state([[[1.0]]], [[[1.0]]]), "2D inputs"),
    ],
)
def test_bad_arguments_name_the_argument(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    "metric_list, y, units, activation",
    [
        (["f1_score", metrics.FBetaScore(beta=2.0, average="macro")], "onehot", 3, "softmax"),
        (
            [metrics.R2Score(), "pearson_correlation", metrics.ConcordanceCorrelation()],
            "r",
            2,
            None,
        ),
        ([metrics.OneHotMeanIoU(num_classes=3), metrics.OneHotIoU(3, [0])], "onehot", 3, "softmax"),
        ([metrics.BinaryIoU(), metrics.F1Score(threshold=0.5)], "binary", 1, "sigmoid"),
    ],
)
def test_fit_metrics_compiled_equal_eager(metric_list, y, units, activation):
    x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(8, 3)
    targets = {
        "onehot": np.eye(3, dtype=np.float32)[np.argmax(x, axis=1)],
        "r": np.stack([x.sum(axis=1), x[:, 0] - x[:, 2]], axis=1),
        "binary": (x.sum(axis=1, keepdims=True) > 0).astype(np.float32),
    }[y]

    def run(jit_compile):
        tg.utils.set_random_seed(0)
        model = tg.Sequential(
            [tg.layers.Input((3,)), tg.layers.Dense(units, activation=activation)]
        )
        fresh = [
            m if isinstance(m, str) else type(m).from_config(m.get_config()) for m in metric_list
        ]
        model.compile(optimizer="adam", loss="mse", metrics=fresh, jit_compile=jit_compile)
        return model.fit(x, targets, epochs=2, batch_size=4, verbose=0).history

    compiled, eager = run(True), run(False)
    assert set(compiled) == set(eager) and len(compiled) == len(metric_list) + 1
    for key in compiled:
        np.testing.assert_allclose(compiled[key], eager[key], rtol=1e-5, atol=1e-6)


# At-constraint metrics: two batches (halves) of YT2 / YP2, recorded with Keras 3.15.
YT2 = [
    [0.0, 0.0, 1.0],
    [0.0, 1.0, 1.0],
    [0.0, 0.0, 0.0],
    [1.0, 1.0, 0.0],
    [0.0, 1.0, 0.0],
    [1.0, 1.0, 1.0],
    [0.0, 0.0, 0.0],
    [1.0, 1.0, 1.0],
    [0.0, 1.0, 0.0],
    [1.0, 0.0, 0.0],
]
YP2 = [
    [0.2019074, 0.8844497, 0.6798115],
    [0.8492363, 0.6444362, 0.4065424],
    [0.5165782, 0.5934435, 0.862118],
    [0.4381862, 0.8922401, 0.613717],
    [0.8293561, 0.4980561, 0.6925181],
    [0.3390254, 0.5228285, 0.2162234],
    [0.1007036, 0.0386041, 0.7019495],
    [0.4564306, 0.8977342, 0.8351832],
    [0.3850951, 0.9736788, 0.592062],
    [0.7658833, 0.4071943, 0.1961699],
]
SW2 = [
    0.171777,
    0.1812062,
    0.6038055,
    0.1126329,
    0.0199107,
    0.832997,
    0.0994111,
    0.4505845,
    0.4884986,
    0.6202724,
]
AT_CONSTRAINT = {
    "sens_at_spec": ("SensitivityAtSpecificity", {"specificity": 0.6}, False, 0.5),
    "sens_at_spec_cls": (
        "SensitivityAtSpecificity",
        {"specificity": 0.3, "num_thresholds": 7, "class_id": 1},
        True,
        0.9904543,
    ),
    "spec_at_sens": ("SpecificityAtSensitivity", {"sensitivity": 0.7}, True, 0.2956135),
    "spec_at_sens_cls": (
        "SpecificityAtSensitivity",
        {"sensitivity": 0.4, "class_id": 2},
        False,
        0.5,
    ),
    "prec_at_rec": ("PrecisionAtRecall", {"recall": 0.8}, False, 0.5384616),
    "prec_at_rec_sw": ("PrecisionAtRecall", {"recall": 0.5, "num_thresholds": 11}, True, 0.5782719),
    "rec_at_prec": ("RecallAtPrecision", {"precision": 0.6}, False, 0.2142857),
    "rec_at_prec_cls": ("RecallAtPrecision", {"precision": 0.5, "class_id": 0}, True, 1.0),
}


@pytest.mark.parametrize("case", sorted(AT_CONSTRAINT))
def test_at_constraint_metrics_match_keras(case):
    name, kwargs, use_sw, expected = AT_CONSTRAINT[case]
    y_true, y_pred, weights = (np.array(a, np.float32) for a in (YT2, YP2, SW2))
    metric = getattr(metrics, name)(**kwargs)
    for part in (slice(0, 5), slice(5, 10)):
        metric.update_state(
            y_true[part], y_pred[part], sample_weight=weights[part] if use_sw else None
        )
    assert float(metric.result()) == pytest.approx(expected, rel=2e-5, abs=1e-6)
    config = metric.get_config()
    assert config["num_thresholds"] == kwargs.get("num_thresholds", 200)
    again = metrics.deserialize(metrics.serialize(metric))
    assert type(again) is type(metric) and again.get_config() == config
    # A traced update equals the eager one.
    traced = getattr(metrics, name)(**kwargs)
    step = tg.function(lambda t, p, w: traced.update_state(t, p, sample_weight=w))
    for part in (slice(0, 5), slice(5, 10)):
        w = tg.tensor(weights[part]) if use_sw else None
        step(tg.tensor(y_true[part]), tg.tensor(y_pred[part]), w)
    assert float(traced.result()) == pytest.approx(expected, rel=2e-5, abs=1e-6)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: metrics.PrecisionAtRecall(1.5), "recall"),
        (lambda: metrics.RecallAtPrecision(-0.1), "precision"),
        (lambda: metrics.SensitivityAtSpecificity(0.5, num_thresholds=0), "num_thresholds"),
        (lambda: metrics.SpecificityAtSensitivity(0.5, class_id=-1), "class_id"),
    ],
)
def test_at_constraint_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_at_constraint_in_fit_compiled_equals_eager():
    x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(8, 3)
    y = (x.sum(axis=1, keepdims=True) > 0).astype(np.float32)

    def run(jit_compile):
        tg.utils.set_random_seed(0)
        model = tg.Sequential([tg.layers.Input((3,)), tg.layers.Dense(1, activation="sigmoid")])
        model.compile(
            optimizer="adam",
            loss="binary_crossentropy",
            metrics=[metrics.PrecisionAtRecall(0.5), metrics.SensitivityAtSpecificity(0.5)],
            jit_compile=jit_compile,
        )
        return model.fit(x, y, epochs=2, batch_size=4, verbose=0).history

    compiled, eager = run(True), run(False)
    assert set(compiled) == {"loss", "precision_at_recall", "sensitivity_at_specificity"}
    for key in compiled:
        np.testing.assert_allclose(compiled[key], eager[key], rtol=1e-5)

"""Focal cross-entropies, Dice, Tversky and CTC: Keras 3.15 numbers, `compile(loss=...)` by
name and object, eager = compiled fit, configs."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import losses

# Inputs and results recorded with Keras 3.15 (JAX backend); see each test for the call.
YB = [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 0.0]]
PB = [
    [0.8502562, 0.0429139, 0.7250623],
    [0.1821425, 0.8559153, 0.540632],
    [0.3037176, 0.4242335, 0.0377533],
    [0.1317976, 0.6672119, 0.6442457],
]
LOGITS = [
    [0.9034702, 0.0940123, -0.7434993],
    [-0.9217254, -0.4577258, 0.2201951],
    [-1.0096182, -0.2091756, -0.159225],
    [0.5408456, 0.2146591, 0.3553727],
]
SW = [1.0, 0.5, 2.0, 0.0]
CTC_LABELS = [[1, 2, 0], [3, 3, 1], [2, 0, 0]]
CTC_LOGITS = [
    [
        [-0.6538286, -0.1296136, 0.7839755, 1.4934311],
        [-1.2590655, 1.5139238, 1.3458754, 0.7813114],
        [0.2644556, -0.3139228, 1.4580207, 1.9602584],
        [1.8016349, 1.3151038, 0.3573804, -1.2083186],
        [-0.0044541, 0.6564749, -1.2883614, 0.3951221],
        [0.4298637, 0.6960427, -1.1841179, -0.6617026],
    ],
    [
        [-0.4364353, -1.169802, 1.7393678, -0.4959107],
        [0.3289696, -0.2585725, 1.5834728, 1.320361],
        [0.6333526, -2.2035098, 0.052029, 0.6836862],
        [1.0039616, -0.617907, 1.8220114, -1.320431],
        [-0.6615281, 0.93505, 0.0490546, 2.0023925],
        [0.1885192, -0.6331941, -0.3775635, -1.0911461],
    ],
    [
        [-1.2776802, 0.6304115, 0.5811658, 1.2945588],
        [-0.7546058, 1.6891074, -0.2873877, 1.5744083],
        [-0.4327858, -0.7354833, 0.2497854, 1.0314531],
        [0.1610096, -0.5855289, -1.3412197, -1.4015203],
        [0.5026829, 0.989713, -0.1642946, -1.0743649],
        [0.8730422, -1.280394, -0.7130681, 0.6210179],
    ],
]
KERAS = {
    "bfce": [0.2275092, 0.0465602, 1.298642, 0.6670978],
    "bfce_bal_logits": [0.0801797, 0.0964437, 0.1887208, 0.1159334],
    "cfce": [0.0362358, 0.1158316, 0.0293599, 0.0618021],
    "cfce_logits": [0.0784056, 0.0729705, 0.1230221, 0.1718516],
    "dice_none": 0.4313664,
    "dice_1": [0.3505113, 0.2195203, 0.5933274, 0.5358987],
    "tversky": [0.4065617, 0.1809505, 0.4667771, 0.5038067],
    "BFCE_sw": 0.2064306,
    "CFCE_sw": 0.074026,
    "Dice_sw": 0.4117315,
    "Tversky_sum": 1.4458702,
    "ctc": [5.98457, 6.0551462, 7.1892171],
    "CTC": 6.4096446,
}
YB, PB, LOGITS, SW = (np.array(a, np.float32) for a in (YB, PB, LOGITS, SW))
YC = np.eye(3, dtype=np.float32)[[0, 2, 1, 2]]
CTC_LABELS, CTC_LOGITS = np.array(CTC_LABELS, np.int32), np.array(CTC_LOGITS, np.float32)

CALLS = {
    "bfce": lambda: losses.binary_focal_crossentropy(YB, PB),
    "bfce_bal_logits": lambda: losses.binary_focal_crossentropy(
        YB,
        LOGITS,
        apply_class_balancing=True,
        alpha=0.4,
        gamma=1.5,
        from_logits=True,
        label_smoothing=0.1,
    ),
    "cfce": lambda: losses.categorical_focal_crossentropy(YC, PB),
    "cfce_logits": lambda: losses.categorical_focal_crossentropy(
        YC, LOGITS, alpha=0.5, gamma=3.0, from_logits=True, label_smoothing=0.2
    ),
    "dice_none": lambda: losses.dice(YB, PB),
    "dice_1": lambda: losses.dice(YB, PB, axis=1),
    "tversky": lambda: losses.tversky(YB, PB, alpha=0.3, beta=0.7, axis=1),
    "BFCE_sw": lambda: losses.BinaryFocalCrossentropy(apply_class_balancing=True)(
        YB, PB, sample_weight=SW
    ),
    "CFCE_sw": lambda: losses.CategoricalFocalCrossentropy(gamma=1.0)(YC, PB, sample_weight=SW),
    "Dice_sw": lambda: losses.Dice(axis=[1])(YB, PB, sample_weight=SW),
    "Tversky_sum": lambda: losses.Tversky(alpha=0.2, beta=0.8, axis=[1], reduction="sum")(YB, PB),
    "ctc": lambda: losses.ctc(CTC_LABELS, CTC_LOGITS),
    "CTC": lambda: losses.CTC()(CTC_LABELS, CTC_LOGITS),
}


@pytest.mark.parametrize("case", sorted(KERAS))
def test_values_match_keras(case):
    np.testing.assert_allclose(CALLS[case]().numpy(), KERAS[case], rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize(
    "fn, args",
    [
        (losses.binary_focal_crossentropy, (YB, PB)),
        (losses.categorical_focal_crossentropy, (YC, PB)),
        (losses.dice, (YB, PB)),
        (losses.tversky, (YB, PB)),
    ],
)
def test_traced_equals_eager_and_gradients_flow(fn, args):
    y_true, y_pred = args
    eager = fn(y_true, y_pred).numpy()
    traced = tg.function(lambda t, p: fn(t, p))(tg.tensor(y_true), tg.tensor(y_pred)).numpy()
    np.testing.assert_allclose(traced, eager, rtol=1e-6)
    p = tg.Variable(y_pred)
    with tg.GradientTape() as tape:
        total = tg.numpy.sum(fn(y_true, p))
    grad = tape.gradient(total, p).numpy()
    assert grad.shape == y_pred.shape and np.isfinite(grad).all() and np.abs(grad).sum() > 0


def test_ctc_gradient_matches_finite_differences():
    logits = tg.Variable(CTC_LOGITS.astype(np.float64))
    with tg.GradientTape() as tape:
        total = tg.numpy.sum(losses.ctc(CTC_LABELS, logits))
    grad = tape.gradient(total, logits).numpy()
    x = CTC_LOGITS.astype(np.float64)
    eps = 1e-6
    for index in [(0, 0, 1), (1, 3, 3), (2, 5, 0)]:
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        numeric = (
            float(np.sum(losses.ctc(CTC_LABELS, up).numpy()))
            - float(np.sum(losses.ctc(CTC_LABELS, down).numpy()))
        ) / (2 * eps)
        assert grad[index] == pytest.approx(numeric, rel=1e-5, abs=1e-7)


NEW = {
    "binary_focal_crossentropy": "BinaryFocalCrossentropy",
    "categorical_focal_crossentropy": "CategoricalFocalCrossentropy",
    "dice": "Dice",
    "tversky": "Tversky",
    "ctc": "CTC",
}


@pytest.mark.parametrize("fn_name, cls_name", sorted(NEW.items()))
def test_names_get_and_config_round_trip(fn_name, cls_name):
    fn, cls = getattr(losses, fn_name), getattr(losses, cls_name)
    assert losses.deserialize(fn_name) is fn
    assert losses.serialize(fn)["config"] == fn_name
    loss = losses.get(fn_name)
    assert type(loss) is cls and loss.name == fn_name
    assert type(losses.get(fn)) is cls
    again = losses.deserialize(losses.serialize(cls()))
    assert type(again) is cls and again.get_config() == cls().get_config()


def test_keras_defaults_in_configs():
    config = losses.BinaryFocalCrossentropy().get_config()
    assert (config["apply_class_balancing"], config["alpha"], config["gamma"]) == (False, 0.25, 2.0)
    assert (config["name"], config["reduction"]) == (
        "binary_focal_crossentropy",
        "sum_over_batch_size",
    )
    assert losses.CategoricalFocalCrossentropy().get_config()["alpha"] == 0.25
    assert losses.Dice().get_config()["axis"] is None
    tversky = losses.Tversky().get_config()
    assert (tversky["alpha"], tversky["beta"], tversky["name"]) == (0.5, 0.5, "tversky")
    assert losses.CTC().get_config() == {
        "name": "ctc",
        "reduction": "sum_over_batch_size",
        "dtype": None,
    }


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: losses.BinaryFocalCrossentropy(gamma=-1.0), "gamma"),
        (lambda: losses.BinaryFocalCrossentropy(apply_class_balancing=1), "apply_class_balancing"),
        (lambda: losses.CategoricalFocalCrossentropy(label_smoothing=2.0), "label_smoothing"),
        (lambda: losses.Dice(axis="x"), "axis"),
        (lambda: losses.Tversky(alpha="a"), "alpha"),
        (lambda: losses.ctc(np.zeros((2, 3, 1)), CTC_LOGITS), "y_true.shape"),
        (lambda: losses.ctc(CTC_LABELS, CTC_LOGITS[0]), "y_pred.shape"),
        (lambda: losses.dice(YB, PB[:, :2]), "dice"),
    ],
)
def test_bad_input_names_the_argument(make, message):
    with pytest.raises(ValueError, match=message):
        make()


X = np.linspace(-1, 1, 24, dtype=np.float32).reshape(8, 3)
Y_BIN = (X.sum(axis=1, keepdims=True) > 0).astype(np.float32)
Y_CAT = np.eye(3, dtype=np.float32)[np.argmax(X, axis=1)]


@pytest.mark.parametrize(
    "loss, activation, units, y",
    [
        ("binary_focal_crossentropy", "sigmoid", 1, Y_BIN),
        (losses.BinaryFocalCrossentropy(from_logits=True), None, 1, Y_BIN),
        ("categorical_focal_crossentropy", "softmax", 3, Y_CAT),
        (losses.binary_focal_crossentropy, "sigmoid", 1, Y_BIN),
        (losses.Dice(), "sigmoid", 1, Y_BIN),
        ("tversky", "sigmoid", 1, Y_BIN),
    ],
)
def test_compile_fit_compiled_equals_eager(loss, activation, units, y):
    def run(jit_compile):
        tg.utils.set_random_seed(0)
        model = tg.Sequential(
            [tg.layers.Input((3,)), tg.layers.Dense(units, activation=activation)]
        )
        model.compile(optimizer="adam", loss=loss, jit_compile=jit_compile)
        history = model.fit(X, y, epochs=2, batch_size=4, verbose=0)
        return history.history["loss"], model.get_weights()

    (loss_c, w_c), (loss_e, w_e) = run(True), run(False)
    np.testing.assert_allclose(loss_c, loss_e, rtol=1e-5)
    for a, b in zip(w_c, w_e, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "loss", ["binary_focal_crossentropy", losses.Tversky(alpha=0.3, beta=0.7, axis=[1])]
)
def test_compiled_loss_survives_save_and_load(loss, tmp_path):
    model = tg.Sequential([tg.layers.Input((3,)), tg.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss=loss)
    model.fit(X, Y_BIN, epochs=1, batch_size=4, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = tg.models.load_model(path)
    np.testing.assert_allclose(
        loaded.evaluate(X, Y_BIN, verbose=0), model.evaluate(X, Y_BIN, verbose=0), rtol=1e-6
    )


# Circle loss: labels and L2-normalized embeddings, results recorded with Keras 3.15.
CE = [
    [0.610006, -0.763858, 0.124965, -0.1697],
    [-0.216148, -0.102952, -0.96458, -0.110752],
    [-0.250118, 0.960619, 0.065271, -0.101939],
    [-0.210157, -0.499115, -0.788331, -0.291978],
    [0.431687, -0.213677, 0.857881, -0.178966],
    [0.014142, 0.901151, 0.317774, -0.294528],
]
CLAB = [0, 1, 0, 2, 1, 3]
CIRCLE = {
    "circle": [276.893127, 320.151245, 318.103699, 0.0, 282.305481, 0.0],
    "circle_kw": [36.738258, 41.970459, 41.7141, 6.666971, 37.421566, 7.086171],
    "Circle": 299.363373,
    "Circle_sw": 84.933746,
}
CE, CLAB = np.array(CE, np.float32), np.array(CLAB)


def test_circle_matches_keras():
    np.testing.assert_allclose(losses.circle(CLAB, CE).numpy(), CIRCLE["circle"], rtol=2e-5)
    kw = losses.circle(CLAB, CE, remove_diagonal=False, gamma=10.0, margin=0.25).numpy()
    np.testing.assert_allclose(kw, CIRCLE["circle_kw"], rtol=2e-5)
    # The mean is over the samples with a positive loss (Keras masks the others out).
    assert float(losses.Circle()(CLAB, CE)) == pytest.approx(CIRCLE["Circle"], rel=2e-5)
    weights = np.array([1, 2, 0.5, 1, 1, 3], np.float32)
    weighted = losses.Circle(gamma=20.0)(CLAB, CE, sample_weight=weights)
    assert float(weighted) == pytest.approx(CIRCLE["Circle_sw"], rel=2e-5)


def test_circle_gradients_are_finite_with_lonely_labels():
    # Labels 2 and 3 have no positive pair: their rows are masked, their gradients finite.
    emb = tg.Variable(CE)
    with tg.GradientTape() as tape:
        loss = losses.Circle()(CLAB, emb)
    grad = tape.gradient(loss, emb).numpy()
    assert np.isfinite(grad).all() and np.abs(grad).sum() > 0
    traced = tg.function(lambda labels, e: losses.Circle()(labels, e))
    assert float(traced(tg.tensor(CLAB), tg.tensor(CE))) == pytest.approx(
        CIRCLE["Circle"], rel=2e-5
    )
    config = losses.Circle(margin=0.3).get_config()
    assert (config["gamma"], config["margin"], config["remove_diagonal"]) == (80.0, 0.3, True)
    assert type(losses.get("circle")) is losses.Circle
    with pytest.raises(ValueError, match="y_pred.shape"):
        losses.circle(CLAB, CE[0])


# Generalized cross-entropy, recorded with Keras 3.15.
GP = [
    [0.3755006, 0.2035975, 0.3887151, 0.0321868],
    [0.3098325, 0.1920584, 0.4090766, 0.0890325],
    [0.3118613, 0.1946161, 0.3228024, 0.1707202],
    [0.1672921, 0.3065869, 0.3824446, 0.1436765],
    [0.3609356, 0.3460701, 0.066192, 0.2268023],
]
GLAB = [0, 3, 1, 1, 2]
GCE = [0.848702, 1.719929, 1.293323, 0.9953316, 1.8572179]
GCE_SW = 0.8138272


def test_categorical_generalized_cross_entropy_matches_keras():
    probs, labels = np.array(GP, np.float32), np.array(GLAB)
    values = losses.categorical_generalized_cross_entropy(labels, probs, q=0.3).numpy()
    np.testing.assert_allclose(values, GCE, rtol=2e-5)
    weights = np.array([1, 0, 2, 1, 0.5], np.float32)
    loss = losses.CategoricalGeneralizedCrossEntropy(q=0.7)
    assert float(loss(labels, probs, sample_weight=weights)) == pytest.approx(GCE_SW, rel=2e-5)
    assert loss.get_config()["q"] == 0.7
    assert type(losses.get("categorical_generalized_cross_entropy")) is type(loss)
    with pytest.raises(ValueError, match="q"):
        losses.CategoricalGeneralizedCrossEntropy(q=1.0)

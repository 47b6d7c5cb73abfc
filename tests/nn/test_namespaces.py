"""`tapegrad.backend`, `tapegrad.config`, `tapegrad.regularizers`, `tapegrad.models` as
Keras 3's ``keras.backend``, ``keras.config``, ``keras.regularizers``, ``keras.models``."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import backend


@pytest.fixture
def restore_settings():
    saved = backend.floatx(), backend.epsilon(), backend.image_data_format()
    yield
    backend.set_floatx(saved[0])
    backend.set_epsilon(saved[1])
    backend.set_image_data_format(saved[2])


def test_backend_names_and_defaults():
    assert tg.backend.backend() == "tapegrad"
    assert tg.config.backend() == "tapegrad"
    assert (backend.floatx(), backend.epsilon(), backend.image_data_format()) == (
        "float32",
        1e-7,
        "channels_last",
    )
    # config and backend share one state
    assert tg.config.floatx is backend.floatx and tg.config.set_epsilon is backend.set_epsilon


def test_floatx_is_the_default_dtype_of_layers_weights_and_inputs(restore_settings):
    backend.set_floatx("float64")
    layer = tg.layers.Dense(2)
    layer.build((None, 3))
    assert layer.dtype == np.float64 and layer.kernel.dtype == np.float64
    assert tg.initializers.GlorotUniform()((2, 2)).dtype == np.float64
    assert tg.layers.Input(shape=(3,)).dtype == np.float64
    assert tg.random.normal((2,)).dtype == np.float64
    assert tg.metrics.Mean().dtype == "float64"
    assert tg.random.uniform((2,), dtype="float32").dtype == np.float32
    backend.set_floatx(np.float16)
    assert backend.floatx() == "float16"


@pytest.mark.parametrize("value", ["bfloat16", "int32", "float", 3])
def test_set_floatx_refuses(value):
    with pytest.raises(ValueError, match="floatx"):
        backend.set_floatx(value)


def test_epsilon_is_what_losses_clip_with(restore_settings):
    y_true, y_pred = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    default = float(tg.losses.categorical_crossentropy(y_true, y_pred)[0])
    assert default == pytest.approx(-np.log(1e-7), rel=1e-5)
    backend.set_epsilon(1e-3)
    assert float(tg.losses.categorical_crossentropy(y_true, y_pred)[0]) == pytest.approx(
        -np.log(1e-3), rel=1e-5
    )
    assert float(tg.losses.binary_crossentropy([1.0], [0.0])) == pytest.approx(
        -np.log(1e-3), rel=1e-4
    )


@pytest.mark.parametrize("value", [0, -1e-7, float("nan"), "1e-7", True])
def test_set_epsilon_refuses(value):
    with pytest.raises(ValueError, match="epsilon"):
        backend.set_epsilon(value)


def test_image_data_format_is_the_default_of_image_layers(restore_settings):
    backend.set_image_data_format("CHANNELS_FIRST")
    assert backend.image_data_format() == "channels_first"
    assert tg.layers.Conv2D(2, 3).data_format == "channels_first"
    assert tg.layers.MaxPooling2D().data_format == "channels_first"
    assert tg.layers.Flatten().data_format == "channels_first"
    x = np.zeros((1, 3, 8, 8), np.float32)  # channels first: 3 channels
    assert tuple(tg.layers.Conv2D(2, 3)(x).shape) == (1, 2, 6, 6)
    with pytest.raises(ValueError, match="data_format"):
        backend.set_image_data_format("nhwc")


def test_clear_session_restarts_layer_names():
    backend.clear_session()
    assert [tg.layers.Dense(1).name for _ in range(2)] == ["dense", "dense_1"]
    backend.clear_session(free_memory=False)
    assert tg.layers.Dense(1).name == "dense"
    assert backend.get_uid("x") == 1 and backend.get_uid("x") == 2


def test_dtype_helpers_match_keras():
    assert backend.standardize_dtype(None) == "float32"
    assert backend.standardize_dtype(float) == "float32"
    assert backend.standardize_dtype(bool) == "bool"
    assert backend.standardize_dtype(np.dtype("int16")) == "int16"
    assert backend.standardize_dtype("float64") == "float64"
    with pytest.raises(ValueError, match="Invalid dtype"):
        backend.standardize_dtype("quux")
    assert backend.is_float_dtype("float64") and not backend.is_float_dtype("int8")
    assert backend.is_int_dtype(np.uint8) and not backend.is_int_dtype("float32")
    assert backend.result_type("int8", "int16") == "int16"
    assert backend.is_keras_tensor(tg.layers.Input(shape=(2,)))
    assert not backend.is_keras_tensor(np.zeros(2))


def test_config_switches():
    tg.config.disable_traceback_filtering()
    assert tg.config.is_traceback_filtering_enabled() is False
    with pytest.raises(NotImplementedError, match="traceback"):
        tg.config.enable_traceback_filtering()
    tg.config.enable_unsafe_deserialization()
    assert tg.config.is_unsafe_deserialization_enabled()


def test_regularizers_lowercase_aliases_are_keras_classes():
    regs = tg.regularizers
    assert regs.l1 is regs.L1 and regs.l2 is regs.L2 and regs.l1_l2 is regs.L1L2
    assert regs.orthogonal_regularizer is regs.OrthogonalRegularizer
    assert float(regs.l2(0.5)(tg.tensor([1.0, 2.0]))) == pytest.approx(2.5)
    assert float(regs.l1_l2(l1=0.1, l2=0.1)(tg.tensor([-1.0, 2.0]))) == pytest.approx(0.8)
    assert regs.get("orthogonal_regularizer").mode == "rows"
    config = regs.serialize(regs.l1(0.3))
    assert config["class_name"] == "L1" and regs.deserialize(config).l1 == 0.3


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_orthogonal_regularizer_matches_keras_formula(mode):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3)).astype(np.float32)
    m = w if mode == "rows" else w.T
    unit = m / np.linalg.norm(m, axis=1, keepdims=True)
    product = unit @ unit.T
    size = m.shape[0]
    expected = 0.2 * 0.5 * np.abs(product * (1 - np.eye(size))).sum() / (size * (size - 1) / 2)
    value = float(tg.regularizers.OrthogonalRegularizer(0.2, mode=mode)(tg.tensor(w)))
    assert value == pytest.approx(expected, rel=1e-5)


def test_registered_regularizer_serializes_with_its_registered_name():
    from tapegrad.nn.object_registration import _GLOBAL_CUSTOM_NAMES, _GLOBAL_CUSTOM_OBJECTS

    class Total(tg.regularizers.Regularizer):
        def __call__(self, x):
            return tg.numpy.sum(x)

        def get_config(self):
            return {}

    tg.saving.register_keras_serializable("ns_test")(Total)
    try:
        config = tg.regularizers.serialize(Total())
        assert config["registered_name"] == "ns_test>Total" and config["module"] == __name__
        assert isinstance(tg.regularizers.deserialize(config), Total)
        assert tg.regularizers.serialize(tg.regularizers.L2())["registered_name"] is None
    finally:
        del _GLOBAL_CUSTOM_OBJECTS["ns_test>Total"], _GLOBAL_CUSTOM_NAMES[Total]


@pytest.mark.parametrize(
    ("module", "name", "why"),
    [
        ("utils", "load_img", "Pillow"),
        ("saving", "KerasFileEditor", "not implemented yet"),
        ("config", "set_dtype_policy", "mixed precision"),
        ("config", "enable_flash_attention", "flash-attention"),
        ("config", "set_backend", "tapegrad is the backend"),
    ],
)
def test_unsupported_keras_names_say_so(module, name, why):
    with pytest.raises(AttributeError, match=f"tapegrad.{module}.{name} is not supported.*{why}"):
        getattr(getattr(tg, module), name)
    assert not hasattr(getattr(tg, module), name)
    with pytest.raises(AttributeError, match="has no attribute 'nonesuch'"):
        tg.backend.nonesuch  # noqa: B018

"""`tapegrad.saving`'s registration and (de)serialization, Keras 3 style: custom objects
by name (never code), `load_model(custom_objects=...)`, configs and JSON of models,
`clone_model`, `layers.serialize`."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import saving
from tapegrad.nn.object_registration import _GLOBAL_CUSTOM_NAMES, _GLOBAL_CUSTOM_OBJECTS
from tapegrad.nn.saving import ArchiveError


@pytest.fixture(autouse=True)
def clean_registry():
    objects, names = dict(_GLOBAL_CUSTOM_OBJECTS), dict(_GLOBAL_CUSTOM_NAMES)
    yield
    _GLOBAL_CUSTOM_OBJECTS.clear()
    _GLOBAL_CUSTOM_OBJECTS.update(objects)
    _GLOBAL_CUSTOM_NAMES.clear()
    _GLOBAL_CUSTOM_NAMES.update(names)


class Scale(tg.layers.Layer):
    """A user layer whose get_config leaves out the base config (and so the name)."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {"factor": self.factor}


class Offset(tg.layers.Layer):
    """A user layer with a weight, configured through **kwargs only."""

    def __init__(self, **kwargs):
        self.start = kwargs.pop("start", 0.0)
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.offset = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x + self.offset + self.start

    def get_config(self):
        return {**super().get_config(), "start": self.start}


def half_relu(x):
    return 0.5 * tg.ops.relu(x)


def scaled_mse(y_true, y_pred):
    return 2.0 * tg.ops.mean(tg.ops.square(y_true - y_pred), axis=-1)


def max_error(y_true, y_pred):
    return tg.ops.max(tg.ops.abs(y_true - y_pred), axis=-1)


def _functional():
    inputs = tg.Input(shape=(3,), name="x")
    hidden = tg.layers.Dense(4, activation=half_relu, name="hidden")(inputs)
    hidden = Scale(3.0, name="scale")(hidden)
    outputs = Offset(start=0.5, name="offset")(hidden)
    return tg.Model(inputs, outputs, name="custom")


# -- registration ---------------------------------------------------------------------------
def test_register_keras_serializable_names_and_lookup():
    registered = saving.register_keras_serializable(package="pkg")(Scale)
    assert registered is Scale
    assert saving.get_registered_name(Scale) == "pkg>Scale"
    assert saving.get_registered_object("pkg>Scale") is Scale
    assert saving.get_custom_objects()["pkg>Scale"] is Scale
    saving.register_keras_serializable("pkg", name="relu_half")(half_relu)
    assert saving.get_registered_name(half_relu) == "pkg>relu_half"
    assert saving.get_registered_name(max_error) == "max_error"  # not registered
    assert saving.get_registered_object("nothing") is None
    assert saving.get_registered_object("x", custom_objects={"x": max_error}) is max_error
    assert tg.utils.get_registered_object is saving.get_registered_object


def test_register_refuses_a_class_without_get_config():
    class Plain:
        pass

    with pytest.raises(ValueError, match="get_config"):
        saving.register_keras_serializable()(Plain)
    with pytest.raises(TypeError, match="package"):
        saving.register_keras_serializable(package=3)


def test_custom_object_scope_nests_and_restores():
    with saving.custom_object_scope({"half_relu": half_relu}) as scope:
        assert isinstance(scope, saving.CustomObjectScope)
        assert saving.get_registered_object("half_relu") is half_relu
        with saving.CustomObjectScope({"max_error": max_error}):
            assert saving.get_registered_object("half_relu") is half_relu
            assert saving.get_registered_object("max_error") is max_error
        assert saving.get_registered_object("max_error") is None
        layer = tg.layers.Dense(2, activation="half_relu")
        assert layer.activation is half_relu
    assert saving.get_registered_object("half_relu") is None
    with pytest.raises(TypeError, match="custom_objects"):
        saving.custom_object_scope(["half_relu"])


def test_get_custom_objects_is_live():
    saving.get_custom_objects()["half_relu"] = half_relu
    assert tg.activations.get("half_relu") is half_relu
    assert tg.layers.Dense(1, activation="half_relu").activation is half_relu


def test_every_registry_finds_custom_objects_by_name():
    class Doubling(tg.initializers.Initializer):
        def __call__(self, shape, dtype=None):
            return np.full(shape, 2.0, dtype or "float32")

        def get_config(self):
            return {}

    class Penalty(tg.regularizers.Regularizer):
        def __call__(self, x):
            return tg.numpy.sum(x)

        def get_config(self):
            return {}

    objects = {
        "Doubling": Doubling,
        "Penalty": Penalty,
        "scaled_mse": scaled_mse,
        "max_error": max_error,
    }
    with saving.custom_object_scope(objects):
        assert isinstance(tg.initializers.get("Doubling"), Doubling)
        assert isinstance(tg.regularizers.get("Penalty"), Penalty)
        loss = tg.losses.get("scaled_mse")
        assert float(loss(np.ones((2, 2)), np.zeros((2, 2)))) == pytest.approx(2.0)
        metric = tg.metrics.get("max_error")
        metric.update_state(np.zeros((1, 2)), np.array([[1.0, 3.0]]))
        assert float(metric.result()) == pytest.approx(3.0)
        dense = tg.layers.Dense(2, kernel_initializer="Doubling", kernel_regularizer="Penalty")
        rebuilt = tg.layers.Dense.from_config(dense.get_config())
        assert isinstance(rebuilt.kernel_initializer, Doubling)
        assert isinstance(rebuilt.kernel_regularizer, Penalty)
    with pytest.raises(ValueError, match="register"):
        tg.losses.deserialize(tg.losses.serialize(scaled_mse))


# -- serialize_keras_object / deserialize_keras_object ----------------------------------------
def test_serialize_keras_object_matches_keras_layout():
    config = saving.serialize_keras_object(tg.layers.Dense(2, name="d"))
    assert set(config) == {"module", "class_name", "config", "registered_name"}
    assert config["class_name"] == "Dense" and config["registered_name"] is None
    assert saving.serialize_keras_object(max_error) == {
        "module": __name__,
        "class_name": "function",
        "config": "max_error",
        "registered_name": None,
    }
    saving.register_keras_serializable("pkg")(Scale)
    assert saving.serialize_keras_object(Scale(2.0))["registered_name"] == "pkg>Scale"
    assert saving.serialize_keras_object({"a": (1, None), "b": np.float32(2.5)}) == {
        "a": (1, None),
        "b": 2.5,
    }
    array = saving.serialize_keras_object(np.arange(3, dtype=np.int32))
    assert array == {"class_name": "__numpy__", "config": {"value": [0, 1, 2], "dtype": "int32"}}
    json.dumps(saving.serialize_keras_object(tg.layers.LSTM(3)))


@pytest.mark.parametrize(
    "obj",
    [
        tg.layers.Dense(3, activation="tanh", name="dense_rt"),
        tg.layers.Conv2D(2, 3, padding="same", name="conv_rt"),
        tg.regularizers.L1L2(0.1, 0.2),
        tg.losses.Huber(delta=2.0),
        tg.metrics.AUC(num_thresholds=50),
        tg.optimizers.Adam(learning_rate=0.01),
        tg.initializers.RandomNormal(stddev=0.5, seed=3),
    ],
    ids=lambda obj: type(obj).__name__,
)
def test_built_in_objects_round_trip(obj):
    config = saving.serialize_keras_object(obj)
    rebuilt = saving.deserialize_keras_object(json.loads(json.dumps(config)))
    assert type(rebuilt) is type(obj)
    assert rebuilt.get_config() == obj.get_config()


def test_deserialize_keras_object_values_and_functions():
    assert saving.deserialize_keras_object(None) is None
    assert saving.deserialize_keras_object([1, "a", {"k": 2}]) == [1, "a", {"k": 2}]
    array = saving.deserialize_keras_object(saving.serialize_keras_object(np.eye(2)))
    np.testing.assert_array_equal(array, np.eye(2))
    relu = saving.deserialize_keras_object(
        {"module": "keras.activations", "class_name": "function", "config": "relu"}
    )
    assert relu is tg.activations.relu
    config = saving.serialize_keras_object(max_error)
    assert saving.deserialize_keras_object(config, custom_objects={"max_error": max_error}) is (
        max_error
    )
    saving.register_keras_serializable("pkg")(max_error)
    assert saving.deserialize_keras_object(saving.serialize_keras_object(max_error)) is max_error
    assert saving.deserialize_keras_object("pkg>max_error") is max_error


def test_deserialize_keras_object_refuses_what_it_cannot_find():
    with pytest.raises(ValueError, match="could not locate the function 'nope'"):
        saving.deserialize_keras_object({"class_name": "function", "config": "nope"})
    with pytest.raises(ValueError, match="could not locate the class 'Nope'"):
        saving.deserialize_keras_object({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match="lambda"):
        saving.serialize_keras_object(lambda x: x)
    with pytest.raises(ValueError, match="get_config"):
        saving.serialize_keras_object(object())


def test_custom_layer_round_trips_through_keras_object_functions():
    saving.register_keras_serializable("pkg")(Offset)
    config = json.loads(json.dumps(saving.serialize_keras_object(Offset(start=2.0, name="o"))))
    layer = saving.deserialize_keras_object(config)
    assert isinstance(layer, Offset) and layer.start == 2.0 and layer.name == "o"
    assert isinstance(tg.layers.deserialize(tg.layers.serialize(layer)), Offset)


# -- load_model(custom_objects=...) --------------------------------------------------------
def _compiled_custom_model():
    model = _functional()
    model.compile(optimizer="adam", loss=scaled_mse, metrics=[max_error])
    x, y = np.random.default_rng(0).normal(size=(8, 3)), np.ones((8, 4))
    model.fit(x, y, epochs=1, verbose=0)
    return model, x, y


def test_load_model_with_custom_layers_functions_losses_and_metrics(tmp_path):
    model, x, y = _compiled_custom_model()
    path = tmp_path / "custom.keras"
    model.save(path)
    custom = {
        "Scale": Scale,
        "Offset": Offset,
        "half_relu": half_relu,
        "scaled_mse": scaled_mse,
        "max_error": max_error,
    }
    loaded = tg.models.load_model(path, custom_objects=custom)
    assert [layer.name for layer in loaded.layers] == ["x", "hidden", "scale", "offset"]
    assert loaded.get_layer("hidden").activation is half_relu
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_allclose(
        loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-6
    )
    loaded.fit(x, y, epochs=1, verbose=0)  # the restored loss and optimizer train


def test_registered_objects_load_without_custom_objects(tmp_path):
    for obj in (Scale, Offset, half_relu):
        saving.register_keras_serializable("pkg")(obj)
    model = _functional()
    path = tmp_path / "registered.keras"
    saving.save_model(model, path)
    loaded = saving.load_model(path)
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_load_model_names_the_missing_custom_object(tmp_path):
    path = tmp_path / "m.keras"
    _functional().save(path)
    with pytest.raises(ArchiveError, match="half_relu"):
        tg.models.load_model(path, custom_objects={"Scale": Scale, "Offset": Offset})
    with pytest.raises(ArchiveError, match="unknown layer class 'Scale'.*register"):
        tg.models.load_model(path, custom_objects={"half_relu": half_relu})
    with pytest.raises(TypeError, match="custom_objects"):
        tg.models.load_model(path, custom_objects=[Scale])


def test_sequential_with_a_nameless_custom_layer_loads(tmp_path):
    model = tg.Sequential([tg.Input((2,)), Scale(4.0), tg.layers.Dense(1)])
    path = tmp_path / "seq.keras"
    model.save(path)
    loaded = tg.models.load_model(path, custom_objects={"Scale": Scale})
    x = np.ones((1, 2), np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# -- configs, JSON, clone_model -------------------------------------------------------------
def test_from_config_with_custom_objects():
    model = tg.Sequential([tg.Input((3,)), tg.layers.Dense(2, activation=half_relu), Scale()])
    clone = tg.Sequential.from_config(
        model.get_config(), custom_objects={"half_relu": half_relu, "Scale": Scale}
    )
    assert type(clone) is tg.Sequential and clone.output_shape == (None, 2)
    assert clone.layers[0].activation is half_relu and clone.layers[0] is not model.layers[0]
    custom = {"Scale": Scale, "Offset": Offset, "half_relu": half_relu}
    functional = tg.Model.from_config(_functional().get_config(), custom_objects=custom)
    assert [layer.name for layer in functional.layers] == ["x", "hidden", "scale", "offset"]
    with saving.custom_object_scope(custom):  # Keras' other way of passing them
        assert tg.Model.from_config(_functional().get_config()).name == "custom"


def test_from_config_names_the_lambda_it_cannot_rebuild():
    model = tg.Sequential([tg.Input((2,)), tg.layers.Lambda(lambda x: x * 2, name="twice")])
    with pytest.raises(ValueError, match="'twice' has no function.*to_json"):
        tg.Sequential.from_config(model.get_config())
    assert tg.models.model_from_json(model.to_json()).layers[0].name == "twice"


def test_json_round_trip_keeps_architecture_and_lambdas():
    inputs = tg.Input(shape=(4,))
    hidden = tg.layers.Dense(3, name="d")(inputs)
    outputs = tg.layers.Lambda(lambda t: tg.ops.tanh(t) * 2.0, name="lam")(hidden)
    model = tg.Model(inputs, outputs)
    text = model.to_json()
    assert json.loads(text)["class_name"] == "Model"
    rebuilt = tg.models.model_from_json(text)
    rebuilt.set_weights(model.get_weights())
    x = np.random.default_rng(1).normal(size=(2, 4)).astype(np.float32)
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="JSON"):
        tg.models.model_from_json("{not json")
    with pytest.raises(ValueError, match="class_name"):
        tg.models.model_from_json('{"class_name": "Dense", "config": {}}')


def test_clone_model_gives_new_layers_and_weights():
    model = _functional()
    clone = tg.models.clone_model(model)
    names = [layer.name for layer in clone.layers]
    # Scale's config has no name: its clone gets a new automatic one, as in Keras.
    assert names[:2] + names[3:] == ["x", "hidden", "offset"] and names[2].startswith("scale")
    assert all(a is not b for a, b in zip(clone.layers, model.layers, strict=True))
    assert clone.get_layer("hidden").activation is half_relu
    clone.set_weights(model.get_weights())
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_clone_model_with_clone_function_and_input_tensors():
    model = tg.Sequential([tg.Input((3,)), tg.layers.Dense(2), tg.layers.Dropout(0.5)])
    seen = []

    def share_dense(layer):
        seen.append(layer.name)
        if isinstance(layer, tg.layers.Dense):
            return layer  # shared: the clone uses the original's weights
        return type(layer).from_config(layer.get_config())

    clone = tg.models.clone_model(model, clone_function=share_dense)
    assert clone.layers[0] is model.layers[0] and clone.layers[1] is not model.layers[1]
    assert seen == [layer.name for layer in model.layers]
    new_input = tg.Input(shape=(3,))
    on_input = tg.models.clone_model(model, input_tensors=new_input)
    assert on_input.inputs[0] is new_input
    functional = _functional()
    other = tg.Input(shape=(3,))
    cloned = tg.models.clone_model(functional, input_tensors=[other])
    assert cloned.inputs[0] is other
    with pytest.raises(ValueError, match="2 input_tensors"):
        tg.models.clone_model(functional, input_tensors=[other, tg.Input(shape=(3,))])
    with pytest.raises(ValueError, match="must return a Layer"):
        tg.models.clone_model(model, clone_function=lambda layer: None)


def test_clone_model_of_subclassed_models_uses_from_config():
    class Custom(tg.Model):
        def __init__(self, units=2, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.dense = tg.layers.Dense(units)

        def call(self, x):
            return self.dense(x)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    original = Custom(3, name="mine")
    clone = tg.models.clone_model(original)
    assert type(clone) is Custom and clone.units == 3 and clone.name == "mine"
    assert clone.dense is not original.dense
    with pytest.raises(ValueError, match="subclassed"):
        tg.models.clone_model(original, clone_function=lambda layer: layer)


def test_clone_model_call_function_and_recursive():
    inputs = tg.Input(shape=(3,), name="in")
    hidden = tg.layers.Dense(4, name="d1")(inputs)
    model = tg.Model(inputs, tg.layers.Dense(1, name="d2")(hidden))

    def with_dropout(layer, *args, **kwargs):  # Keras' example: a Dropout after each Dense
        out = layer(*args, **kwargs)
        return tg.layers.Dropout(0.5)(out) if isinstance(layer, tg.layers.Dense) else out

    clone = tg.models.clone_model(model, call_function=with_dropout)
    kinds = [type(layer).__name__ for layer in clone.layers]
    assert kinds.count("Dropout") == 2 and kinds.count("Dense") == 2
    with pytest.raises(ValueError, match="Sequential"):
        tg.models.clone_model(tg.Sequential([tg.Input((2,))]), call_function=with_dropout)

    inner = tg.Sequential([tg.Input((3,)), tg.layers.Dense(3, name="inner_d")], name="inner")
    outer_in = tg.Input(shape=(3,))
    outer = tg.Model(outer_in, tg.layers.Dense(1, name="top")(inner(outer_in)))
    seen = []

    def record(layer):
        seen.append(layer.name)
        return type(layer).from_config(layer.get_config())

    tg.models.clone_model(outer, clone_function=record, recursive=True)
    assert "inner_d" in seen and "inner" not in seen  # the nested model cloned layer by layer
    seen.clear()
    tg.models.clone_model(outer, clone_function=record)
    assert "inner" in seen and "inner_d" not in seen
    with pytest.raises(ValueError, match="unexpected keyword"):
        tg.models.clone_model(outer, nonsense=1)


def test_clone_model_clones_a_shared_layer_once():
    shared = tg.layers.Dense(2, name="shared")
    a, b = tg.Input((2,), name="a"), tg.Input((2,), name="b")
    model = tg.Model([a, b], tg.layers.Add()([shared(a), shared(b)]))
    clone = tg.models.clone_model(model)
    dense = [layer for layer in clone.layers if isinstance(layer, tg.layers.Dense)]
    assert len(dense) == 1 and dense[0] is not shared


def test_ops_on_symbolic_tensors_clone_and_round_trip():
    inputs = tg.Input(shape=(3,))
    hidden = tg.layers.Dense(3, name="d")(inputs)
    model = tg.Model(inputs, hidden + inputs)
    clone = tg.models.clone_model(model)
    rebuilt = tg.models.model_from_json(model.to_json())
    x = np.ones((2, 3), np.float32)
    for other in (clone, rebuilt):
        other.set_weights(model.get_weights())
        np.testing.assert_allclose(other.predict(x, verbose=0), model.predict(x, verbose=0))


def test_models_namespace_is_keras():
    for name in ("Model", "Sequential", "load_model", "save_model", "clone_model"):
        assert hasattr(tg.models, name)
    assert tg.models.model_from_json is tg.nn.saving.model_from_json


def test_save_and_load_functions_take_keras_arguments(tmp_path, monkeypatch):
    model = tg.Sequential([tg.Input((2,)), tg.layers.Dense(1)])
    path = tmp_path / "m.keras"
    saving.save_model(model, path, overwrite=True, zipped=True, include_optimizer=True)
    before = path.read_bytes()
    answers = iter(["maybe", "n"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    other = tg.Sequential([tg.Input((2,)), tg.layers.Dense(1)])
    saving.save_model(other, path, overwrite=False)  # asked twice, answered no: kept
    assert path.read_bytes() == before
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    saving.save_model(other, path, overwrite=False)
    assert path.read_bytes() != before
    with pytest.raises(ValueError, match="zipped=False"):
        saving.save_model(model, path, zipped=False)
    with pytest.raises(ValueError, match="unsupported argument"):
        saving.save_model(model, path, save_format="h5")
    weights = tmp_path / "w.weights.h5"
    saving.save_weights(model, weights, overwrite=True)
    saving.load_weights(other, weights, False)  # Keras' positional skip_mismatch
    np.testing.assert_array_equal(other.get_weights()[0], model.get_weights()[0])
    with pytest.raises(ValueError, match="skip_mismatch"):
        saving.load_weights(other, weights, skip_mismatch=True)
    with pytest.raises(ValueError, match="max_shard_size"):
        saving.save_weights(model, weights, max_shard_size="1GB")


def test_registries_deserialize_take_custom_objects():
    class Doubling(tg.initializers.Initializer):
        def __call__(self, shape, dtype=None):
            return np.full(shape, 2.0, dtype or "float32")

        def get_config(self):
            return {}

    fn = {"class_name": "function", "config": "max_error", "module": __name__}
    assert tg.activations.deserialize(fn, custom_objects={"max_error": max_error}) is max_error
    assert tg.losses.deserialize(fn, custom_objects={"max_error": max_error}) is max_error
    metric = tg.metrics.deserialize("max_error", custom_objects={"max_error": max_error})
    assert metric is max_error
    init = {"class_name": "Doubling", "config": {}}
    assert isinstance(tg.initializers.deserialize(init, {"Doubling": Doubling}), Doubling)
    assert tg.regularizers.deserialize("l2", custom_objects={}).l2 == 0.01
    with pytest.raises(ValueError):
        tg.activations.deserialize(fn)  # the scope ended with the call

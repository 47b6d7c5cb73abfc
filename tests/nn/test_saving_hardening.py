"""Archives under attack and after a round trip: compile configuration, bounds, clear errors,
checksums, temporary files (issue 10, items 3, 5, 6 and 7)."""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import layers
from tapegrad.nn import saving
from tests.nn import archive_tools as tools

RNG = np.random.default_rng(7)
X = RNG.standard_normal((40, 6)).astype(np.float32)
SPARSE = RNG.integers(0, 5, 40)
ONE_HOT = np.eye(5, dtype=np.float32)[SPARSE]
BINARY = (RNG.random((40, 1)) < 0.5).astype(np.float32)
DATA = os.path.join(os.path.dirname(__file__), "data")


def _classifier(outputs: int = 5, activation: str | None = None) -> tg.Sequential:
    return tg.Sequential(
        [
            layers.Input(shape=(6,)),
            layers.Dense(8, activation="relu"),
            layers.Dense(outputs, activation=activation),
        ]
    )


@pytest.fixture
def saved(tmp_path):
    model = _classifier()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(X, SPARSE, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "model.tapegrad"
    model.save(path)
    return path


# -- item 3: the compile configuration survives --------------------------------------------
COMPILE_CASES = [
    # (loss, metrics, targets, outputs, output activation, expected metric classes)
    (
        "sparse_categorical_crossentropy",
        ["accuracy"],
        SPARSE,
        5,
        "softmax",
        ["SparseCategoricalAccuracy"],
    ),
    (
        "categorical_crossentropy",
        ["acc", "mae"],
        ONE_HOT,
        5,
        "softmax",
        ["CategoricalAccuracy", "MeanAbsoluteError"],
    ),
    ("binary_crossentropy", ["accuracy"], BINARY, 1, "sigmoid", ["BinaryAccuracy"]),
    (
        tg.losses.SparseCategoricalCrossentropy(from_logits=True),
        [tg.metrics.SparseTopKCategoricalAccuracy(k=2), "accuracy"],
        SPARSE,
        5,
        None,
        ["SparseTopKCategoricalAccuracy", "SparseCategoricalAccuracy"],
    ),
    (tg.losses.Huber(delta=0.5), ["mse"], ONE_HOT, 5, None, ["MeanSquaredError"]),
]


@pytest.mark.parametrize("loss, metrics, targets, outputs, activation, expected", COMPILE_CASES)
@pytest.mark.parametrize("jit_compile", ["auto", False])
def test_compile_configuration_survives_save_and_load(
    tmp_path, loss, metrics, targets, outputs, activation, expected, jit_compile
):
    model = _classifier(outputs, activation)
    model.compile("adam", loss, metrics=metrics, jit_compile=jit_compile)
    model.fit(X, targets, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "model.tapegrad"
    model.save(path)
    loaded = tg.models.load_model(path)
    assert loaded.jit_compile == jit_compile
    assert loaded._metric_specs == [
        m if isinstance(m, str) else loaded._metric_specs[k] for k, m in enumerate(metrics)
    ]
    before = model.evaluate(X, targets, verbose=0, return_dict=True)
    after = loaded.evaluate(X, targets, verbose=0, return_dict=True)
    assert [type(m).__name__ for m in loaded._metric_objects] == expected
    assert [m.name for m in loaded._metric_objects] == [m.name for m in model._metric_objects]
    assert after == pytest.approx(before, rel=1e-6)
    model.fit(X, targets, epochs=1, batch_size=16, verbose=0, shuffle=False)
    loaded.fit(X, targets, epochs=1, batch_size=16, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_loss_weights_of_several_outputs_survive(tmp_path):
    inputs = layers.Input(shape=(6,))
    hidden = layers.Dense(4)(inputs)
    model = tg.Model(inputs, [layers.Dense(5)(hidden), layers.Dense(1)(hidden)])
    model.compile(
        "sgd",
        ["sparse_categorical_crossentropy", "mse"],
        loss_weights=[0.3, 2.0],
        metrics=["accuracy", "mae"],  # Keras 3: a list as long as the outputs is per output
    )
    model.save(tmp_path / "two.tapegrad")
    loaded = tg.models.load_model(tmp_path / "two.tapegrad")
    assert loaded._loss_weights == [0.3, 2.0]
    assert loaded.loss == ["sparse_categorical_crossentropy", "mse"]
    targets = [SPARSE, BINARY]
    assert loaded.evaluate(X, targets, verbose=0) == pytest.approx(
        model.evaluate(X, targets, verbose=0), rel=1e-6
    )


def test_readme_example_trains_and_evaluates_after_load(tmp_path):
    """The README's example (shortened): loaded, it trains and evaluates like the original."""
    x, y = tg.datasets.load_digits()
    x, y = x[:160], y[:160]
    scale = tg.Variable(1.0)
    model = tg.models.Sequential(
        [
            layers.Input(shape=(8, 8)),
            layers.Lambda(lambda t: tnp.sqrt(t / 16.0)),
            layers.Flatten(),
            layers.Dense(16, activation="relu"),
            layers.Dense(10),
            layers.Lambda(lambda logits: logits * scale),
        ]
    )
    model.compile(
        "adam", tg.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    model.fit(x, y, epochs=1, validation_split=0.2, verbose=0)
    model.save(tmp_path / "digits.tapegrad")
    again = tg.models.load_model(tmp_path / "digits.tapegrad")
    assert again.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx(
        model.evaluate(x, y, verbose=0, return_dict=True), rel=1e-6
    )
    history = again.fit(x, y, epochs=1, validation_split=0.2, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_archive_of_version_1_still_loads():
    """Written by the code before checksums (and with ``"accuracy"`` compiled)."""
    model = tg.models.load_model(os.path.join(DATA, "version1.tapegrad"))
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    hidden = np.tanh(x @ (np.arange(12, dtype=np.float32).reshape(3, 4) / 10) + 0.5) * 2.0
    expected = hidden @ (np.arange(20, dtype=np.float32).reshape(4, 5) / 20 - 0.5)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    logs = model.evaluate(x, np.array([0, 1, 2, 3]), verbose=0, return_dict=True)
    assert type(model._metric_objects[0]).__name__ == "SparseCategoricalAccuracy"
    assert set(logs) == {"loss", "accuracy"}
    model.fit(x, np.array([0, 1, 2, 3]), epochs=1, verbose=0)


# -- item 7: integrity ----------------------------------------------------------------------
def _nan_lambda_model() -> tg.Sequential:
    constant = np.linspace(0.5, 1.5, 6).astype(np.float32)
    return tg.Sequential(
        [
            layers.Input(shape=(6,)),
            layers.Lambda(lambda x: tnp.tanh(x) * constant, name="scaled"),
            layers.Dense(2),
        ]
    )


def _poison_constant(document: dict) -> None:
    graph = document["config"]["layers"][0]["config"]["function"]["graph"]
    data = graph["constants"][0]["value"]["__array__"]["data"]
    data[0] = 2.5  # any edit, NaN included (stored the way the encoder writes NaN)


def test_edited_weights_are_refused_naming_the_tensor(saved):
    found = tools.members(saved)
    arrays = tools.weights_of(saved.read_bytes())
    arrays["layers/dense_1/0"] = arrays["layers/dense_1/0"].copy()
    arrays["layers/dense_1/0"][0, 0] += 1e-3
    found["weights.safetensors"] = saving._safetensors_bytes(arrays, {"format": saving.FORMAT})
    saved.write_bytes(tools.rezip(found))
    with pytest.raises(saving.ArchiveError, match="tensor 'layers/dense_1/0' does not match"):
        tg.models.load_model(saved)
    with pytest.raises(saving.ArchiveError, match="tensor 'layers/dense_1/0'"):
        _classifier().load_weights(saved)
    loaded = tg.models.load_model(saved, verify=False)  # documented opt-out
    np.testing.assert_array_equal(loaded.layers[1].kernel.numpy(), arrays["layers/dense_1/0"])


def test_edited_lambda_constant_is_refused(tmp_path):
    path = tmp_path / "lambda.tapegrad"
    _nan_lambda_model().save(path)
    path.write_bytes(tools.edit_json(path.read_bytes(), "config.json", _poison_constant))
    with pytest.raises(saving.ArchiveError, match="graph of Lambda 'scaled'.*SHA-256"):
        tg.models.load_model(path)


def test_nan_in_a_lambda_constant_is_refused(tmp_path):
    path = tmp_path / "lambda.tapegrad"
    _nan_lambda_model().save(path)

    def nan(document):
        graph = document["config"]["layers"][0]["config"]["function"]["graph"]
        value = graph["constants"][0]["value"]
        value["__array__"]["data"][0] = {"__float__": "nan"}  # the encoder's NaN form

    path.write_bytes(tools.edit_json(path.read_bytes(), "config.json", nan))
    with pytest.raises(saving.ArchiveError, match="Lambda 'scaled'"):
        tg.models.load_model(path)


@pytest.mark.parametrize(
    "edit, problem",
    [
        (lambda d: d["checksums"]["weights"].pop("layers/dense/0"), r"missing \[\], unlisted"),
        (lambda d: d["checksums"]["lambdas"].clear(), "no checksum"),
        (lambda d: d["checksums"]["lambdas"].append("0" * 64), "2 checksums"),
        (lambda d: d.pop("checksums"), "checksums: expected an object"),
        (lambda d: d["checksums"]["weights"].__setitem__("layers/dense/0", "abc"), "SHA-256 hex"),
    ],
)
def test_checksum_list_edits_are_refused(tmp_path, edit, problem):
    path = tmp_path / "lambda.tapegrad"
    model = _nan_lambda_model()
    model.save(path)
    path.write_bytes(tools.edit_json(path.read_bytes(), "metadata.json", edit))
    with pytest.raises(saving.ArchiveError, match=problem):
        tg.models.load_model(path)
    loaded = tg.models.load_model(path, verify=False)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_weights_file_checksums(tmp_path):
    model = _classifier()
    path = tmp_path / "w.safetensors"
    model.save_weights(path)
    fresh = _classifier()
    fresh.load_weights(path)
    arrays = saving._load_safetensors(path.read_bytes(), "w")
    metadata = saving._safetensors_metadata(path.read_bytes())
    arrays["layers/dense/1"] = arrays["layers/dense/1"] + 1
    path.write_bytes(saving._safetensors_bytes(arrays, metadata))
    with pytest.raises(saving.ArchiveError, match="tensor 'layers/dense/1' does not match"):
        fresh.load_weights(path)
    saving.load_weights(fresh, path, verify=False)
    np.testing.assert_array_equal(fresh.layers[0].bias.numpy(), arrays["layers/dense/1"])


# -- item 5: bounded loading ----------------------------------------------------------------
def test_deflate_bomb_is_refused_before_reading(tmp_path):
    """3 GiB of weights deflated into a 3 MB archive, loaded under a 1 GiB memory limit."""
    source = tmp_path / "model.tapegrad"
    _classifier().save(source)
    bomb = tmp_path / "bomb.tapegrad"
    bomb.write_bytes(tools.deflate_bomb(tools.members(source), "weights.safetensors", 3 << 30))
    assert bomb.stat().st_size < 4 << 20
    result = tools.run_child(
        f"""
        import tapegrad as tg
        from tapegrad.nn import saving
        try:
            tg.models.load_model({str(bomb)!r})
        except saving.ArchiveError as err:
            print("refused:", err)
    """,
        memory_mib=1024,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "refused:" in result.stdout and "zip bomb" in result.stdout, result.stdout


def test_small_deflated_bomb_is_refused(tmp_path):
    source = tmp_path / "model.tapegrad"
    _classifier().save(source)
    found = tools.members(source)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in found.items():
            archive.writestr(name, data + bytes(8 << 20) if name == "config.json" else data)
    source.write_bytes(buffer.getvalue())
    with pytest.raises(saving.ArchiveError, match="'config.json'.*zip bomb"):
        tg.models.load_model(source)


SIZE_FIELD_EDITS = [
    (tools.CENTRAL_FIELDS, "file_size", lambda v: v + 1, "file_size"),
    (tools.CENTRAL_FIELDS, "file_size", lambda v: v | 0x40000000, "file_size"),
    (tools.CENTRAL_FIELDS, "compress_size", lambda v: v + 1, "file_size|compress_size"),
    (tools.CENTRAL_FIELDS, "compress_size", lambda v: v | 0x40000000, "compress_size"),
    (tools.CENTRAL_FIELDS, "header_offset", lambda v: v | 0x40000000, "weights.safetensors"),
    (tools.CENTRAL_FIELDS, "extract_version", lambda v: 99, "zip file version"),
    (tools.CENTRAL_FIELDS, "method", lambda v: 12, "compression method 12"),
    (tools.LOCAL_FIELDS, "name_length", lambda v: v + 1, "weights.safetensors"),
]


@pytest.mark.parametrize("fields, field, change, problem", SIZE_FIELD_EDITS)
def test_zip_header_field_edits_are_refused(saved, fields, field, change, problem):
    data = saved.read_bytes()
    if fields is tools.CENTRAL_FIELDS:
        offset = tools.central_entry(data, "weights.safetensors")
    else:
        offset = tools.headers(data, tools.LOCAL_HEADER)[-1]
    value = tools.get_field(data, offset, fields, field)
    saved.write_bytes(tools.set_field(data, offset, fields, field, change(value)))
    with pytest.raises(saving.ArchiveError, match=problem):
        tg.models.load_model(saved)


def _first_layer(document):
    return document["config"]["layers"][0]["config"]


def _conv_archive(path):
    model = tg.Sequential(
        [layers.Input(shape=(8, 8, 1)), layers.Conv2D(2, 3), layers.Flatten(), layers.Dense(2)]
    )
    model.save(path)
    return path


def _embedding_archive(path):
    model = tg.Sequential([layers.Input(shape=(4,), dtype="int32"), layers.Embedding(10, 3)])
    model.save(path)
    return path


def _dense_archive(path):
    _classifier().save(path)
    return path


def _attention_archive(path):
    inputs = layers.Input((4, 3))
    hidden = layers.LSTM(5, return_sequences=True)(inputs)
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=3)(hidden, hidden)
    tg.Model(inputs, layers.GRU(2)(attended)).save(path)
    return path


def _layer_named(document, class_name):
    return next(
        entry["config"]
        for entry in document["config"]["layers"]
        if entry["class_name"] == class_name
    )


CONFIG_SIZES = [
    # (archive, edit, problem)
    (_dense_archive, lambda d: _first_layer(d).__setitem__("units", 2**31), "units: 2147483648"),
    (
        _dense_archive,
        lambda d: d["config"].__setitem__("input_shape", [2**20, 2**20]),
        "input_shape",
    ),
    (_conv_archive, lambda d: _first_layer(d).__setitem__("filters", 2**30), "filters"),
    (
        _conv_archive,
        lambda d: _first_layer(d).__setitem__("kernel_size", [2**15, 2**15]),
        "kernel_size",
    ),
    (_conv_archive, lambda d: _first_layer(d).__setitem__("strides", [2**62, 1]), "strides"),
    (_embedding_archive, lambda d: _first_layer(d).__setitem__("input_dim", 2**40), "input_dim"),
    (
        _embedding_archive,
        lambda d: _first_layer(d).update(input_dim=2**13, output_dim=2**14),
        "brings the model to",
    ),
    (_dense_archive, lambda d: _first_layer(d).__setitem__("units", 2**20), "brings the model to"),
    # Weights of sublayers a layer creates in its build (attention projections, cells).
    (
        _attention_archive,
        lambda d: _layer_named(d, "MultiHeadAttention").update(num_heads=2**13, key_dim=2**13),
        "(_Projection): a weight of shape (5, 8192, 8192)",
    ),
    (
        _attention_archive,
        lambda d: _layer_named(d, "LSTM").__setitem__("units", 2**20),
        "(LSTMCell): a weight of shape (3, 4194304) brings the model to",
    ),
    (
        _attention_archive,
        lambda d: _layer_named(d, "GRU").__setitem__("units", 2**16),
        "(GRUCell): a weight of shape",
    ),
]


@pytest.mark.parametrize("make, edit, problem", CONFIG_SIZES)
def test_config_sizes_are_bounded_before_allocation(tmp_path, make, edit, problem):
    path = make(tmp_path / "model.tapegrad")
    path.write_bytes(tools.edit_json(path.read_bytes(), "config.json", edit))
    result = tools.run_child(
        f"""
        import tapegrad as tg
        from tapegrad.nn import saving
        try:
            tg.models.load_model({str(path)!r}, verify=False)
        except saving.ArchiveError as err:
            print("refused:", err)
    """,
        memory_mib=1536,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "refused:" in result.stdout, result.stdout
    assert problem in result.stdout, result.stdout


def test_the_bound_can_be_raised_and_lowered(tmp_path):
    path = _dense_archive(tmp_path / "model.tapegrad")
    with pytest.raises(saving.ArchiveError, match="limit of 10 elements"):
        tg.models.load_model(path, max_tensor_elements=10)
    tg.models.load_model(path, max_tensor_elements=48)  # the largest weight: 6 x 8
    with pytest.raises(ValueError, match="max_tensor_elements must be a positive int"):
        tg.models.load_model(path, max_tensor_elements=0)


# -- item 6: clear errors -------------------------------------------------------------------
def _inbound(document, k=2):
    return document["config"]["layers"][k]["inbound_nodes"]


def _functional_archive(path):
    a = layers.Input(shape=(6,), name="a")
    b = layers.Input(shape=(6,), name="b")
    merged = layers.Add()([layers.Dense(3)(a), layers.Dense(3)(b)])
    tg.Model([a, b], layers.Dense(2)(merged)).save(path)
    return path


CLEAR_ERRORS = [
    # (archive, bytes edit, expected message fragment)
    (
        _dense_archive,
        lambda data: tools.rezip({**tools.members(io.BytesIO(data)), "config.json": b"\xff\xfe{}"}),
        "config.json: not valid JSON \\(UnicodeDecodeError",
    ),
    (
        _functional_archive,
        lambda data: tools.edit_json(
            data, "config.json", lambda d: _inbound(d).append({"args": [["a", 7, 0]], "kwargs": {}})
        ),
        "never produced|names no tensor",
    ),
    (
        _functional_archive,
        lambda data: tools.edit_json(
            data, "config.json", lambda d: _inbound(d, 4)[0]["args"][1].__setitem__(2, 5)
        ),
        "names no tensor",
    ),
    (
        _functional_archive,
        lambda data: tools.edit_json(
            data,
            "config.json",
            lambda d: d["config"].__setitem__("output_layers", [["nowhere", 0, 0]]),
        ),
        "output_layers: reference",
    ),
    (
        _functional_archive,
        lambda data: tools.edit_json(
            data,
            "config.json",
            lambda d: d["config"].__setitem__("output_layers", [[["a", 0, 0]], {"x": 1}]),
        ),
        "output_layers",
    ),
    (
        _functional_archive,
        lambda data: tools.edit_json(
            data, "config.json", lambda d: d["config"].__setitem__("output_layers", [])
        ),
        "output_layers: expected a tensor reference",
    ),
    (
        _functional_archive,
        lambda data: tools.edit_json(
            data,
            "config.json",
            lambda d: _inbound(d, 4)[0].__setitem__(
                "args", [_inbound(d, 4)[0]["args"], _inbound(d, 4)[0]["args"][:1]]
            ),
        ),
        r"layer 'add.*' call 0.args: expected a tensor reference",
    ),
    (
        _functional_archive,
        lambda data: tools.edit_json(
            data,
            "config.json",
            lambda d: d["config"].__setitem__("input_layers", [["a", 0, 0], ["a", 0, 0]]),
        ),
        "input_layers: an input is listed twice",
    ),
    (
        _dense_archive,
        lambda data: tools.edit_json(
            data, "config.json", lambda d: _first_layer(d).__setitem__("units", "many")
        ),
        "Dense 'dense.*'",
    ),
    (
        _dense_archive,
        lambda data: tools.edit_json(
            data, "config.json", lambda d: _first_layer(d).__setitem__("activation", [1])
        ),
        "Dense 'dense.*'",
    ),
    (
        _dense_archive,
        lambda data: tools.edit_json(
            data, "config.json", lambda d: _first_layer(d).__setitem__("bogus", 1)
        ),
        "Dense 'dense.*'.*bogus",
    ),
]


@pytest.mark.parametrize("make, corrupt, problem", CLEAR_ERRORS)
def test_loader_errors_are_archive_errors_naming_the_field(tmp_path, make, corrupt, problem):
    path = make(tmp_path / "model.tapegrad")
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(saving.ArchiveError, match=problem):
        tg.models.load_model(path)


def test_overflow_and_memory_errors_become_archive_errors(tmp_path):
    path = _conv_archive(tmp_path / "conv.tapegrad")
    path.write_bytes(
        tools.edit_json(
            path.read_bytes(),
            "config.json",
            lambda d: _first_layer(d).__setitem__("strides", [2**62, 2**62]),
        )
    )
    with pytest.raises(saving.ArchiveError, match=r"layers\[0\] \(Conv2D.*OverflowError") as info:
        tg.models.load_model(path, max_tensor_elements=2**126)
    assert info.value.__cause__ is not None

    class Hungry(layers.Layer):
        def build(self, input_shape):
            raise MemoryError("cannot allocate 8 TiB")

        def call(self, inputs):
            return inputs

    model = tg.Sequential([layers.Input(shape=(6,)), layers.Dense(2)])
    path = tmp_path / "hungry.tapegrad"
    model.save(path)
    path.write_bytes(
        tools.edit_json(
            path.read_bytes(),
            "config.json",
            lambda d: d["config"]["layers"].append(
                {"class_name": "Hungry", "config": {"name": "hungry"}}
            ),
        )
    )
    with pytest.raises(saving.ArchiveError, match="MemoryError: cannot allocate 8 TiB"):
        tg.models.load_model(path, custom_objects={"Hungry": Hungry}, verify=False)


def test_os_error_inside_the_zip_is_an_archive_error(saved):
    data = saved.read_bytes()
    # The end record's central-directory offset beyond the file: zipfile seeks outside it.
    end = data.rfind(b"PK\x05\x06")
    edited = data[: end + 16] + (2**32 - 1).to_bytes(4, "little") + data[end + 20 :]
    saved.write_bytes(edited)
    with pytest.raises(saving.ArchiveError, match="not a valid zip file|corrupt.*OSError"):
        tg.models.load_model(saved)


def test_missing_file_stays_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        tg.models.load_model(tmp_path / "nowhere.tapegrad")


OPTIMIZER_EDITS = [
    ("beta_1", [], "beta_1 .*expected a number"),
    ("beta_1", 2147483647, "beta_1 .*outside \\[0.0, 1.0\\)"),
    ("beta_2", -0.5, "beta_2"),
    ("epsilon", "tiny", "epsilon"),
    ("learning_rate", -1.0, "learning_rate"),
    (
        "learning_rate",
        {
            "class_name": "ExponentialDecay",
            "config": {"initial_learning_rate": 1e300, "decay_steps": 10, "decay_rate": 0.9},
        },
        "initial_learning_rate",
    ),
    (
        "learning_rate",
        {
            "class_name": "ExponentialDecay",
            "config": {"initial_learning_rate": 0.1, "decay_steps": [], "decay_rate": 0.9},
        },
        "decay_steps",
    ),
    ("amsgrad", "yes", "amsgrad .*expected true or false"),
    ("clipnorm", 0.0, "clipnorm"),
    ("exec", "print(1)", "unknown hyper-parameter 'exec'"),
]


@pytest.mark.parametrize("field, value, problem", OPTIMIZER_EDITS)
def test_optimizer_hyper_parameters_are_checked_on_load(saved, field, value, problem):
    def edit(document):
        document["optimizer"]["config"][field] = value

    saved.write_bytes(tools.edit_json(saved.read_bytes(), "optimizer.json", edit))
    with pytest.raises(saving.ArchiveError, match=f"optimizer.json.*{problem}"):
        tg.models.load_model(saved)
    tg.models.load_model(saved, compile=False)  # the architecture alone still loads


@pytest.mark.parametrize("value", ["yes", 2, None])
def test_jit_setting_from_the_file_is_checked(saved, value):
    saved.write_bytes(
        tools.edit_json(
            saved.read_bytes(),
            "config.json",
            lambda d: d["compile_config"].__setitem__("jit_compile", value),
        )
    )
    with pytest.raises(saving.ArchiveError, match="jit_compile"):
        tg.models.load_model(saved)


# -- item 5: no litter ----------------------------------------------------------------------
def test_save_removes_the_temporary_files_of_dead_writers(tmp_path):
    path = tmp_path / "model.tapegrad"
    dead = tmp_path / ".model.tapegrad.999999999-1.tmp-tapegrad"
    dead.write_bytes(b"partial")
    other = tmp_path / ".other.tapegrad.999999999-1.tmp-tapegrad"
    other.write_bytes(b"another target's")
    alive = tmp_path / f".model.tapegrad.{os.getppid()}-1.tmp-tapegrad"
    alive.write_bytes(b"a live writer's")
    _classifier().save(path)
    assert sorted(os.listdir(tmp_path)) == sorted([path.name, other.name, alive.name])


# -- random state: the archive carries it ---------------------------------------------------
def _dropout_model() -> tg.Sequential:
    tg.utils.set_random_seed(11)
    model = tg.Sequential(
        [
            layers.Input(shape=(6,)),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.4),
            layers.Dense(5),
        ]
    )
    model.compile(
        "adam", tg.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    return model


@pytest.mark.parametrize("checkpoint", [False, True])
def test_archive_resume_equals_uninterrupted_run(tmp_path, checkpoint):
    uninterrupted = _dropout_model()
    uninterrupted.fit(X, SPARSE, epochs=4, batch_size=8, verbose=0)
    first = _dropout_model()
    path = tmp_path / "resume.tapegrad"
    if checkpoint:
        first.fit(
            X,
            SPARSE,
            epochs=2,
            batch_size=8,
            verbose=0,
            callbacks=[tg.callbacks.ModelCheckpoint(path)],
        )
    else:
        first.fit(X, SPARSE, epochs=2, batch_size=8, verbose=0)
        first.save(path)
    resumed = tg.models.load_model(path)
    resumed.fit(X, SPARSE, epochs=4, batch_size=8, verbose=0, initial_epoch=2)
    for a, b in zip(uninterrupted.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_edited_random_state_is_refused(tmp_path):
    path = tmp_path / "resume.tapegrad"
    model = _dropout_model()
    model.fit(X, SPARSE, epochs=1, batch_size=8, verbose=0)
    model.save(path)
    path.write_bytes(
        tools.edit_json(
            path.read_bytes(), "config.json", lambda d: d["random_state"].__setitem__("epoch", -3)
        )
    )
    with pytest.raises(saving.ArchiveError, match="config.json random_state: .*'epoch'"):
        tg.models.load_model(path)


def test_lambda_graph_params_are_bounded_before_the_graph_runs(tmp_path):
    """A pad width of 2**40 would make the graph verifier allocate terabytes."""
    path = tmp_path / "pad.tapegrad"
    tg.Sequential(
        [layers.Input(shape=(3,)), layers.Lambda(lambda x: tnp.pad(x, ((0, 0), (1, 1))) * 2.0)]
    ).save(path)

    def widen(document):
        node = _first_layer(document)["function"]["graph"]["nodes"][0]
        node["params"]["pad_width"] = {
            "__tuple__": [{"__tuple__": [0, 0]}, {"__tuple__": [2**40, 1]}]
        }

    path.write_bytes(tools.edit_json(path.read_bytes(), "config.json", widen))
    result = tools.run_child(
        f"""
        import tapegrad as tg
        from tapegrad.nn import saving
        try:
            tg.models.load_model({str(path)!r}, verify=False)
        except saving.ArchiveError as err:
            print("refused:", err)
    """,
        memory_mib=1536,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "params.pad_width: 1099511627776 exceeds the limit" in result.stdout, result.stdout

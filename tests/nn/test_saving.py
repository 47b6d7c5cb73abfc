"""Model archives and weights files: exact round trips, refusals, hostile files, atomicity."""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import layers
from tapegrad.nn import saving

RNG = np.random.default_rng(0)
X = RNG.standard_normal((24, 3)).astype(np.float32)
X2 = RNG.standard_normal((24, 2)).astype(np.float32)
Y = RNG.standard_normal((24, 2)).astype(np.float32)
PROJECTION = RNG.standard_normal((6, 60)).astype(np.float32)  # 360 values: stored out of line


def _sequential() -> tg.Sequential:
    scale = tg.Variable(np.linspace(0.5, 1.5, 4).astype(np.float32), name="scale")
    return tg.Sequential(
        [
            layers.Input(shape=(3,)),
            layers.Dense(4, activation="relu"),
            layers.Lambda(lambda x: tnp.tanh(x) * scale + tg.ops.relu(-x) ** 2, name="squash"),
            layers.Dense(2),
        ]
    )


def _functional() -> tg.Model:
    a = layers.Input(shape=(3,), name="a")
    b = layers.Input(shape=(2,), name="b")
    hidden = layers.Dense(4, activation="tanh")(a)
    offset = tg.Variable(np.zeros(60, np.float32), name="offset")
    mixed = layers.Lambda(
        lambda pair, power: tnp.concatenate(pair, axis=-1) @ PROJECTION + offset**power,
        arguments={"power": 2},
        name="mix",
    )([hidden, b])
    picked = layers.Lambda(lambda t: tnp.where(t > 0, t, 0.1 * t)[:, ::30])(mixed)
    out = layers.Dense(2)(layers.Dense(3)(picked))
    return tg.Model([a, b], out)


def _assert_same_weights(first: tg.Model, second: tg.Model) -> None:
    a, b = first.get_weights(), second.get_weights()
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.fixture
def trained_sequential():
    model = _sequential()
    model.compile("adam", "mse")
    model.fit(X, Y, batch_size=8, epochs=2, verbose=0)
    return model


@pytest.fixture
def archive(tmp_path, trained_sequential):
    path = tmp_path / "model.tapegrad"
    trained_sequential.save(path)
    return path


# -- exact round trips ------------------------------------------------------------------------
def test_sequential_with_lambda_round_trip_and_training_resumes(tmp_path, trained_sequential):
    model = trained_sequential
    path = tmp_path / "model.tapegrad"
    model.save(path)
    loaded = tg.models.load_model(path)
    assert isinstance(loaded, tg.Sequential)
    assert [w.name for w in loaded.weights] == [w.name for w in model.weights]
    assert isinstance(loaded.layers[1].function, saving.GraphFunction)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())
    model.train_on_batch(X, Y)
    loaded.train_on_batch(X, Y)
    _assert_same_weights(model, loaded)
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_functional_multi_input_round_trip_and_training_resumes(tmp_path):
    model = _functional()
    model.compile("adam", "mse")
    model.fit([X, X2], Y, batch_size=8, epochs=2, verbose=0)
    path = tmp_path / "functional.tapegrad"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        weights = saving._load_safetensors(archive.read("weights.safetensors"), "w")
    mix = next(e for e in config["config"]["layers"] if e["name"] == "mix")
    assert mix["config"]["function"]["captured_variables"] == ["layers/lambda/0"]
    assert mix["config"]["arguments"] == {"__dict__": [["power", 2]]}
    np.testing.assert_array_equal(weights["lambdas/0/0"], PROJECTION)
    loaded = tg.models.load_model(path)
    np.testing.assert_array_equal(
        loaded.predict([X, X2], verbose=0), model.predict([X, X2], verbose=0)
    )
    model.train_on_batch([X, X2], Y)
    loaded.train_on_batch([X, X2], Y)
    _assert_same_weights(model, loaded)


def test_lambda_sharing_a_dense_kernel_stays_shared(tmp_path):
    dense = layers.Dense(3, use_bias=False)
    inputs = layers.Input(shape=(3,))
    encoded = dense(inputs)
    decoded = layers.Lambda(lambda t: t @ tnp.transpose(dense.kernel), name="tied")(encoded)
    model = tg.Model(inputs, decoded)
    model.compile("sgd", "mse")
    model.train_on_batch(X, X)
    path = tmp_path / "tied.tapegrad"
    model.save(path)
    loaded = tg.models.load_model(path)
    tied = next(layer for layer in loaded.layers if layer.name == "tied")
    kernel = next(layer for layer in loaded.layers if isinstance(layer, layers.Dense)).kernel
    assert tied.function.variables[0] is kernel
    assert len(loaded.weights) == 1
    model.train_on_batch(X, X)
    loaded.train_on_batch(X, X)
    _assert_same_weights(model, loaded)


def test_sequential_built_by_calling_it(tmp_path):
    model = tg.Sequential([layers.Dense(3), layers.Lambda(lambda x: tnp.exp(-x * x))])
    model(X[:2])
    path = tmp_path / "deferred.tapegrad"
    model.save(path)
    loaded = tg.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert not loaded.compiled


def test_uncompiled_model_has_no_optimizer_member(tmp_path):
    model = _sequential()
    path = tmp_path / "plain.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json", "weights.safetensors"]
        metadata = json.loads(archive.read("metadata.json"))
    checksums = metadata.pop("checksums")
    assert metadata == {
        "format": "tapegrad-model",
        "version": 3,
        "tapegrad_version": tg.__version__,
    }
    assert sorted(checksums["weights"]) == [
        "layers/dense/0",
        "layers/dense/1",
        "layers/dense_1/0",
        "layers/dense_1/1",
        "layers/lambda/0",
    ]
    assert len(checksums["lambdas"]) == 1
    loaded = tg.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_saving_is_reproducible(tmp_path, trained_sequential):
    first, second = tmp_path / "a.tapegrad", tmp_path / "b.tapegrad"
    trained_sequential.save(first)
    tg.models.load_model(first).save(second)
    with zipfile.ZipFile(first) as a, zipfile.ZipFile(second) as b:
        assert a.read("weights.safetensors") == b.read("weights.safetensors")


def test_weights_only_round_trip(tmp_path, trained_sequential, archive):
    path = tmp_path / "model.weights.safetensors"
    trained_sequential.save_weights(path)
    fresh = _sequential()
    fresh.load_weights(path)
    _assert_same_weights(trained_sequential, fresh)
    from_archive = _sequential()
    from_archive.load_weights(archive)
    _assert_same_weights(trained_sequential, from_archive)
    with pytest.raises(ValueError, match="missing"):
        tg.Sequential([layers.Input(shape=(3,)), layers.Dense(4)]).load_weights(path)
    foreign = tmp_path / "foreign.safetensors"
    foreign.write_bytes(
        saving._safetensors_bytes({"layers/dense/0": np.zeros(1)}, {"format": "pytorch"})
    )
    with pytest.raises(ValueError, match="format 'pytorch'"):
        fresh.load_weights(foreign)
    other = tg.Sequential(
        [
            layers.Input(shape=(2,)),
            layers.Dense(4, activation="relu"),
            layers.Lambda(lambda x: x * tg.Variable(np.ones(4, np.float32)), name="squash"),
            layers.Dense(2),
        ]
    )
    with pytest.raises(ValueError, match=r"stored as float32\[3, 4\].*expects float32\[2, 4\]"):
        other.load_weights(path)


# -- refusals ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "function, reason",
    [
        (lambda x: np.tanh(np.asarray(x)), "does not depend on the inputs"),
        (lambda x: x + np.sort(np.asarray(x), axis=-1), "changes with the input"),
        (lambda x: x * 2 if float(tnp.sum(x)) > 0 else x, "changes with the input"),
        (lambda x: tnp.reshape(x, (x.shape[0] * 4,)), "changes with the input"),
        (tg.custom_gradient(lambda x: (x * 2, lambda dy: dy * 2)), "not in the primitive table"),
    ],
)
def test_untraceable_lambda_is_refused_naming_the_layer(tmp_path, function, reason):
    model = tg.Sequential([layers.Input(shape=(4,)), layers.Lambda(function, name="odd")])
    path = tmp_path / "odd.tapegrad"
    with pytest.raises(ValueError, match=f"Lambda layer 'odd'.*{reason}"):
        model.save(path)
    assert os.listdir(tmp_path) == []


def test_subclassed_model_is_refused(tmp_path):
    class Twice(tg.Model):
        def call(self, inputs, training=None):
            return inputs * 2

    with pytest.raises(ValueError, match="only Sequential and functional"):
        Twice().save(tmp_path / "twice.tapegrad")


def test_wrong_extension_is_refused(tmp_path, trained_sequential):
    with pytest.raises(ValueError, match="must end in .tapegrad or .keras"):
        trained_sequential.save(tmp_path / "model.pkl")


# -- atomic writes ----------------------------------------------------------------------------
def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch, trained_sequential, archive):
    before = archive.read_bytes()

    def failing_writer(file, members):
        file.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(saving, "_write_members", failing_writer)
    trained_sequential.train_on_batch(X, Y)
    with pytest.raises(OSError, match="disk full"):
        trained_sequential.save(archive)
    assert archive.read_bytes() == before
    assert os.listdir(tmp_path) == [archive.name]


def test_failed_weights_save_keeps_the_previous_file(tmp_path, monkeypatch, trained_sequential):
    path = tmp_path / "w.safetensors"
    trained_sequential.save_weights(path)
    before = path.read_bytes()
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("io error")))
    with pytest.raises(OSError, match="io error"):
        trained_sequential.save_weights(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [path.name]


# -- hostile and corrupt files ----------------------------------------------------------------
def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rewrite(path, members: dict[str, bytes]):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    return path


def _replace(path, data: bytes):
    path.write_bytes(data)
    return path


def _edit_json(path, member, edit):
    members = _members(path)
    document = json.loads(members[member])
    edit(document)
    members[member] = json.dumps(document).encode()
    return _rewrite(path, members)


def _edit_weights(path, edit):
    members = _members(path)
    arrays = saving._load_safetensors(members["weights.safetensors"], "w")
    edit(arrays)
    members["weights.safetensors"] = saving._safetensors_bytes(arrays, {})
    return _rewrite(path, members)


def _flip_weights_byte(data: bytes) -> bytes:
    """Corrupt one byte of the stored (uncompressed) weights: the zip CRC catches it."""
    position = data.index(b"layers/dense/0") + 200
    return data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1 :]


def _lambda_graph(document):
    return document["config"]["layers"][1]["config"]["function"]["graph"]


def _set_metadata(key, value):
    return lambda path: _edit_json(path, "metadata.json", lambda d: d.__setitem__(key, value))


HOSTILE = {
    "not a zip": (lambda p: _replace(p, b"\x80\x04pickle payload"), "not a valid zip file"),
    "truncated": (lambda p: _replace(p, p.read_bytes()[:200]), "zip"),
    "missing member": (
        lambda p: _rewrite(p, {k: v for k, v in _members(p).items() if k != "config.json"}),
        "'config.json' is missing",
    ),
    "path traversal member": (
        lambda p: _rewrite(p, {**_members(p), "../../evil.py": b"x"}),
        "unexpected member '../../evil.py'",
    ),
    "absolute member": (
        lambda p: _rewrite(p, {**_members(p), "/etc/passwd": b"x"}),
        "unexpected member",
    ),
    "bad json": (
        lambda p: _rewrite(p, {**_members(p), "config.json": b"{not json"}),
        "config.json: not valid JSON",
    ),
    "duplicate json keys": (
        lambda p: _rewrite(p, {**_members(p), "metadata.json": b'{"format": 1, "format": 2}'}),
        "duplicate keys",
    ),
    "wrong format": (_set_metadata("format", "keras"), "format 'keras'"),
    "wrong version": (_set_metadata("version", 99), "unsupported version 99"),
    "edited weights": (
        lambda p: _edit_weights(
            p, lambda a: a.__setitem__("layers/dense_1/1", a["layers/dense_1/1"] + 1)
        ),
        "tensor 'layers/dense_1/1' does not match its SHA-256",
    ),
    "edited lambda graph": (
        lambda p: _edit_json(
            p, "config.json", lambda d: _lambda_graph(d)["nodes"][0].__setitem__("primitive", "cos")
        ),
        "graph of Lambda 'squash' .* does not match its SHA-256",
    ),
    "unknown layer class": (
        lambda p: _edit_json(
            p,
            "config.json",
            lambda d: d["config"]["layers"][0].__setitem__("class_name", "os.system"),
        ),
        "unknown layer class 'os.system'",
    ),
    "unknown model class": (
        lambda p: _edit_json(p, "config.json", lambda d: d.__setitem__("class_name", "Evil")),
        "unknown model class 'Evil'",
    ),
    "unknown primitive": (
        lambda p: _edit_json(
            p,
            "config.json",
            lambda d: _lambda_graph(d)["nodes"][0].__setitem__("primitive", "eval"),
        ),
        "Lambda 'squash'.*unknown primitive 'eval'",
    ),
    "code-like param": (
        lambda p: _edit_json(
            p,
            "config.json",
            lambda d: _lambda_graph(d)["nodes"][0]["params"].__setitem__(
                "x", {"__code__": "import os"}
            ),
        ),
        "unknown tag '__code__'",
    ),
    "wrong weight shape": (
        lambda p: _edit_weights(
            p, lambda a: a.__setitem__("layers/dense/0", np.zeros((5, 4), np.float32))
        ),
        r"weight 'layers/dense/0' .*stored as float32\[5, 4\]",
    ),
    "wrong weight dtype": (
        lambda p: _edit_weights(
            p, lambda a: a.__setitem__("layers/dense/0", a["layers/dense/0"].astype(np.float64))
        ),
        r"stored as float64\[3, 4\], but the model expects float32\[3, 4\]",
    ),
    "missing weight": (
        lambda p: _edit_weights(p, lambda a: a.pop("layers/dense_1/1")),
        r"missing \['layers/dense_1/1'\]",
    ),
    "extra weight": (
        lambda p: _edit_weights(
            p, lambda a: a.__setitem__("layers/ghost/0", np.zeros(1, np.float32))
        ),
        r"unexpected \['layers/ghost/0'\]",
    ),
    "wrong optimizer state": (
        lambda p: _edit_weights(p, lambda a: a.__setitem__("optimizer/0", np.zeros(3, np.int64))),
        "weight 'optimizer/0' \\(iteration\\)",
    ),
    "flipped byte": (
        lambda p: _replace(p, _flip_weights_byte(p.read_bytes())),
        "'weights.safetensors' is corrupt",
    ),
    "corrupt safetensors": (
        lambda p: _rewrite(p, {**_members(p), "weights.safetensors": b"\x10" * 64}),
        "safetensors",
    ),
    "optimizer.json missing": (
        lambda p: _rewrite(p, {k: v for k, v in _members(p).items() if k != "optimizer.json"}),
        "optimizer.json is missing",
    ),
}


# Cases that edit the weights or a Lambda graph: the checksums refuse them first (tested
# above); these test the checks behind them, with verification off.
UNVERIFIED = {
    "code-like param",
    "extra weight",
    "missing weight",
    "unknown primitive",
    "wrong optimizer state",
    "wrong weight dtype",
    "wrong weight shape",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_or_corrupt_archive_raises_value_error(archive, case):
    corrupt, problem = HOSTILE[case]
    path = corrupt(archive)
    with pytest.raises(saving.ArchiveError, match=problem):
        tg.models.load_model(path, verify=case not in UNVERIFIED)
    if case in UNVERIFIED:
        with pytest.raises(saving.ArchiveError, match="SHA-256|checksum"):
            tg.models.load_model(path)


def test_oversized_member_is_refused(archive, monkeypatch):
    monkeypatch.setitem(saving.MEMBER_LIMITS, "config.json", 100)
    with pytest.raises(ValueError, match="'config.json' is .* bytes, more than the 100"):
        tg.models.load_model(archive)


def test_member_lying_about_its_size_is_refused(tmp_path):
    bomb = tmp_path / "bomb.tapegrad"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", b" " * (saving.MEMBER_LIMITS["metadata.json"] + 10))
    data = bytearray(bomb.read_bytes())
    # Lie about the uncompressed size in the central directory (a classic zip bomb trick).
    marker = data.rfind(b"PK\x01\x02")
    data[marker + 24 : marker + 28] = (10).to_bytes(4, "little")
    bomb.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="metadata.json"):
        tg.models.load_model(bomb)


def test_missing_file_raises_os_error(tmp_path):
    with pytest.raises(OSError):
        tg.models.load_model(tmp_path / "nowhere.tapegrad")


def test_load_model_is_exposed_under_models():
    assert tg.models.load_model is saving.load_model

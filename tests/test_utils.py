"""`tapegrad.utils` as Keras 3's ``keras.utils``: expected values are Keras 3.15's."""

from __future__ import annotations

import os
import shutil
import tarfile
import zipfile

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import utils


# -- to_categorical, normalize, pad_sequences ------------------------------------------------
def test_to_categorical_matches_keras():
    expected = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    got = utils.to_categorical([[1], [2], [0]])  # a trailing axis of 1 is replaced
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, expected)
    assert utils.to_categorical(np.array([[0, 1], [2, 1]]), 4).shape == (2, 2, 4)
    tensor = utils.to_categorical(tg.tensor(np.array([2, 0])), num_classes=3)
    assert isinstance(tensor, tg.Tensor)
    np.testing.assert_array_equal(tensor.numpy(), [[0, 0, 1], [1, 0, 0]])


@pytest.mark.parametrize(
    ("labels", "num_classes", "match"),
    [
        ([0, 3], 3, "label 3 is outside"),
        ([-1], 2, "label -1"),
        ([0.5], 2, "integers"),
        ([1], 0, "positive"),
        ([1], 2.0, "positive int"),
    ],
)
def test_to_categorical_refuses_bad_labels(labels, num_classes, match):
    with pytest.raises(ValueError, match=match):
        utils.to_categorical(labels, num_classes)


def test_normalize_matches_keras():
    x = np.array([[1.0, 2.0, 2.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(utils.normalize(x, order=1), [[0.2, 0.4, 0.4], [0, 0, 0]])
    np.testing.assert_allclose(utils.normalize(x), [[1 / 3, 2 / 3, 2 / 3], [0, 0, 0]])
    tensor = utils.normalize(tg.tensor(np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)))
    np.testing.assert_allclose(tensor.numpy(), [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)
    # differentiable on Tensors
    grad = tg.grad(lambda t: tg.numpy.sum(utils.normalize(t)[0, 0]))(tg.tensor([[3.0, 4.0]]))
    np.testing.assert_allclose(grad.numpy(), [[16 / 125, -12 / 125]], rtol=1e-5)


def test_pad_sequences_matches_keras():
    got = utils.pad_sequences(
        [[1, 2, 3], [4, 5], [], [6, 7, 8, 9]], maxlen=3, padding="post", value=-1
    )
    expected = [[1, 2, 3], [4, 5, -1], [-1, -1, -1], [7, 8, 9]]
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, expected)
    items = utils.pad_sequences([[[1, 2], [3, 4]], [[5, 6]]], dtype="float32")
    np.testing.assert_array_equal(items, [[[1, 2], [3, 4]], [[0, 0], [5, 6]]])
    truncated = utils.pad_sequences([[1, 2, 3, 4]], maxlen=2, truncating="post")
    np.testing.assert_array_equal(truncated, [[1, 2]])
    words = utils.pad_sequences([["a", "b"], ["c"]], dtype=object, value="")
    assert words.tolist() == [["a", "b"], ["", "c"]]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"padding": "mid"}, "padding type"),
        ({"truncating": "x"}, "truncating type"),
        ({"maxlen": -1}, "maxlen"),
        ({"value": "x"}, "not compatible"),
    ],
)
def test_pad_sequences_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        utils.pad_sequences([[1, 2]], **kwargs)
    with pytest.raises(ValueError, match="non-iterable"):
        utils.pad_sequences([[1], 3])


def test_pack_and_unpack_follow_keras():
    assert utils.unpack_x_y_sample_weight((1, 2)) == (1, 2, None)
    assert utils.unpack_x_y_sample_weight([1, 2, 3]) == (1, 2, 3)
    assert utils.unpack_x_y_sample_weight("x") == ("x", None, None)
    assert utils.pack_x_y_sample_weight([1, 2]) == ([1, 2],)
    assert utils.pack_x_y_sample_weight(1, 2, 3) == (1, 2, 3)
    assert utils.pack_x_y_sample_weight("x") == "x"
    x, y, w = utils.unpack_x_y_sample_weight(utils.pack_x_y_sample_weight((1, 2)))
    assert (x, y, w) == ((1, 2), None, None)


def test_utils_names_are_keras_names():
    for name in (
        "PyDataset",
        "Sequence",
        "set_random_seed",
        "custom_object_scope",
        "register_keras_serializable",
        "serialize_keras_object",
        "clear_session",
        "is_keras_tensor",
        "standardize_dtype",
        "model_to_dot",
        "get_file",
    ):
        assert name in dir(utils) and getattr(utils, name) is not None
    assert utils.Sequence is utils.PyDataset
    with pytest.raises(AttributeError, match="nope"):
        utils.nope  # noqa: B018


# -- timeseries_dataset_from_array --------------------------------------------------------
def test_timeseries_windows_and_targets_follow_keras():
    data = utils.timeseries_dataset_from_array(
        np.arange(20),
        np.arange(20) * 10,
        sequence_length=4,
        sequence_stride=2,
        sampling_rate=2,
        batch_size=3,
        start_index=1,
        end_index=18,
    )
    batches = [(x.tolist(), y.tolist()) for x, y in data]
    # window i starts at 1 + 2 i, takes every 2nd step; its target is targets[start]
    assert batches[0] == ([[1, 3, 5, 7], [3, 5, 7, 9], [5, 7, 9, 11]], [10, 30, 50])
    assert batches[-1] == ([[7, 9, 11, 13], [9, 11, 13, 15], [11, 13, 15, 17]], [70, 90, 110])
    assert len(data) == 2 and isinstance(data, utils.PyDataset)
    unbatched = utils.timeseries_dataset_from_array(np.arange(10), None, 5, batch_size=None)
    assert len(unbatched) == 6 and unbatched[1].tolist() == [1, 2, 3, 4, 5]


def test_timeseries_shuffle_is_seeded():
    first = utils.timeseries_dataset_from_array(
        np.arange(50), None, 3, batch_size=100, shuffle=True, seed=7
    )[0]
    again = utils.timeseries_dataset_from_array(
        np.arange(50), None, 3, batch_size=100, shuffle=True, seed=7
    )[0]
    np.testing.assert_array_equal(first, again)
    starts = np.arange(48)
    np.random.RandomState(7).shuffle(starts)  # Keras' shuffle of the start positions
    np.testing.assert_array_equal(first[:, 0], starts)


def test_timeseries_dataset_feeds_fit():
    series = np.sin(np.arange(200, dtype=np.float32) / 5.0)[:, None]
    data = utils.timeseries_dataset_from_array(
        series[:-4], series[4:, 0], sequence_length=4, batch_size=32
    )
    model = tg.Sequential([tg.Input((4, 1)), tg.layers.Flatten(), tg.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(data, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.predict(data, verbose=0).shape == (193, 1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sampling_rate": 0}, "sampling_rate"),
        ({"sequence_stride": 100}, "sequence_stride"),
        ({"start_index": 50}, "start_index"),
        ({"end_index": 25}, "end_index"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_timeseries_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        utils.timeseries_dataset_from_array(np.arange(20), None, 3, **kwargs)


# -- get_file --------------------------------------------------------------------------------
def test_get_file_refuses_to_download(tmp_path):
    with pytest.raises(RuntimeError, match="never downloads.*data.npz"):
        utils.get_file("data.npz", "https://example.com/data.npz", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="origin"):
        utils.get_file("data.npz")


def test_get_file_serves_cache_and_local_files(tmp_path):
    cached = tmp_path / "datasets" / "data.txt"
    cached.parent.mkdir()
    cached.write_text("cached")
    assert utils.get_file("data.txt", "https://x/data.txt", cache_dir=tmp_path) == str(cached)
    source = tmp_path / "source.txt"
    source.write_text("local")
    path = utils.get_file(origin=source.as_uri(), cache_dir=tmp_path / "c", cache_subdir="s")
    assert path == str(tmp_path / "c" / "s" / "source.txt") and open(path).read() == "local"
    import hashlib

    good = hashlib.sha256(b"local").hexdigest()
    assert utils.get_file(origin=source.as_uri(), file_hash=good, cache_dir=tmp_path / "d")
    with pytest.raises(ValueError, match="hash"):
        utils.get_file(origin=source.as_uri(), file_hash="0" * 64, cache_dir=tmp_path / "e")
    with pytest.raises(RuntimeError, match="force_download"):
        utils.get_file("data.txt", "https://x/data.txt", cache_dir=tmp_path, force_download=True)


def test_get_file_extracts_local_archives_safely(tmp_path):
    member = tmp_path / "inner.txt"
    member.write_text("inside")
    archive = tmp_path / "pack.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(member, arcname="inner.txt")
    folder = utils.get_file("pack.tar.gz", archive.as_uri(), extract=True, cache_dir=tmp_path)
    assert folder == str(tmp_path / "datasets" / "pack_extracted")
    assert open(os.path.join(folder, "inner.txt")).read() == "inside"
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escape.txt", "x")
    with pytest.raises(ValueError, match="outside"):
        utils.get_file("evil.zip", evil.as_uri(), extract=True, cache_dir=tmp_path / "z")


# -- plot_model ------------------------------------------------------------------------------
def _two_branch_model():
    inputs = tg.Input(shape=(4,), name="features")
    left = tg.layers.Dense(3, activation="relu", name="left")(inputs)
    right = tg.layers.Dense(3, name="right")(inputs)
    merged = tg.layers.Concatenate(name="merge")([left, right])
    return tg.Model(inputs, tg.layers.Dense(1, name="out")(merged))


def test_model_to_dot_draws_layers_edges_and_details():
    dot = utils.model_to_dot(
        _two_branch_model(),
        show_shapes=True,
        show_dtype=True,
        show_layer_activations=True,
        show_trainable=True,
        rankdir="LR",
    ).to_string()
    for edge in (
        '"features" -> "left"',
        '"features" -> "right"',
        '"left" -> "merge"',
        '"right" -> "merge"',
        '"merge" -> "out"',
    ):
        assert edge in dot
    assert "rankdir=LR" in dot and "left (Dense)" in dot and "activation: relu" in dot
    assert "Output shape: (None, 6)" in dot and "dtype: float32" in dot and ">Trainable<" in dot
    plain = utils.model_to_dot(_two_branch_model(), show_layer_names=False).to_string()
    assert "left (Dense)" not in plain and "Output shape" not in plain


def test_model_to_dot_expands_nested_models():
    inner = tg.Sequential([tg.Input((4,)), tg.layers.Dense(2, name="inner_dense")], name="inner")
    inputs = tg.Input(shape=(4,), name="x")
    model = tg.Model(inputs, tg.layers.Dense(1, name="head")(inner(inputs)))
    flat = utils.model_to_dot(model).to_string()
    assert '"x" -> "inner"' in flat and "inner_dense" not in flat
    nested = utils.model_to_dot(model, expand_nested=True).to_string()
    assert "subgraph cluster_" in nested and '"inner/inner_dense" -> "head"' in nested


def test_plot_model_writes_dot_without_graphviz(tmp_path):
    path = tmp_path / "model.dot"
    assert utils.plot_model(_two_branch_model(), to_file=str(path)) is None
    assert path.read_text().startswith("digraph G {")
    with pytest.raises(ValueError, match="format"):
        utils.plot_model(_two_branch_model(), to_file=str(tmp_path / "model.xyz"))
    with pytest.raises(ValueError, match="rankdir"):
        utils.model_to_dot(_two_branch_model(), rankdir="BT")
    with pytest.raises(ValueError, match="not built"):
        utils.model_to_dot(tg.Sequential([tg.layers.Dense(1)]))


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
@pytest.mark.parametrize("extension", ["png", "svg"])
def test_plot_model_renders_images_with_graphviz(tmp_path, extension):
    path = tmp_path / f"model.{extension}"
    utils.plot_model(_two_branch_model(), to_file=str(path), show_shapes=True, dpi=50)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") if extension == "png" else b"<svg" in data


def test_plot_model_names_the_missing_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr("tapegrad.utils.graphviz._pygraphviz", lambda: None)  # no viz extra
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        utils.plot_model(_two_branch_model(), to_file=str(tmp_path / "m.png"))


# -- split_dataset -------------------------------------------------------------------------
def test_split_dataset_sizes_follow_keras():
    x = np.arange(10)
    assert [len(part) for part in utils.split_dataset(x, left_size=0.33)] == [3, 7]
    assert [len(part) for part in utils.split_dataset(x, right_size=3)] == [7, 3]
    left, right = utils.split_dataset(x, left_size=2, right_size=0.5)  # the middle is left out
    assert left.tolist() == [0, 1] and right.tolist() == [5, 6, 7, 8, 9]


def test_split_dataset_keeps_structure_and_shuffles_as_keras():
    x, y = np.arange(10) * 2, np.arange(10)
    (x_left, y_left), (x_right, y_right) = utils.split_dataset(
        (x, y), left_size=4, shuffle=True, seed=3
    )
    # Keras: random.seed(3); random.shuffle(samples) -> [1, 5, 6, 0, 9, 4, 7, 2, 8, 3]
    assert y_left.tolist() == [1, 5, 6, 0] and y_right.tolist() == [9, 4, 7, 2, 8, 3]
    np.testing.assert_array_equal(x_left, 2 * y_left)
    left, _ = utils.split_dataset({"a": x, "b": y}, left_size=0.5)
    assert sorted(left) == ["a", "b"] and left["b"].tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, ValueError, "at least one"),
        ({"left_size": 10}, ValueError, "left_size"),
        ({"left_size": 1.5}, ValueError, "left_size"),
        ({"left_size": "a"}, TypeError, "int"),
        ({"left_size": 6, "right_size": 6}, ValueError, "more than"),
    ],
)
def test_split_dataset_refuses_bad_sizes(kwargs, error, match):
    with pytest.raises(error, match=match):
        utils.split_dataset(np.arange(10), **kwargs)
    with pytest.raises(ValueError, match="different lengths"):
        utils.split_dataset((np.arange(3), np.arange(4)), left_size=1)


def test_get_source_inputs_walks_the_functional_graph():
    a, b = tg.Input((3,), name="src_a"), tg.Input((3,), name="src_b")
    hidden = tg.layers.Dense(3)(b)
    merged = tg.layers.Add()([hidden + a, hidden])  # a shared branch, an op node
    sources = utils.get_source_inputs(merged)
    assert len(sources) == 2 and sources[0] is b and sources[1] is a
    assert utils.get_source_inputs(a)[0] is a
    assert utils.get_source_inputs(3) == 3


# -- Progbar ---------------------------------------------------------------------------------
def test_progbar_averages_as_keras(capsys):
    bar = utils.Progbar(target=10, verbose=1, interval=0.0, stateful_metrics=["acc"])
    bar.update(2, values=[("loss", 1.0), ("acc", 0.5)])
    bar.update(5, values=[("loss", 2.0), ("acc", 0.7)])
    assert bar.average("loss") == pytest.approx(1.6)  # (1 * 2 + 2 * 3) / 5, Keras' average
    assert bar.average("acc") == pytest.approx(0.7)  # stateful: shown as given
    bar.add(5, values=[("loss", 4.0)])  # the final update shows the value as given
    assert bar.average("loss") == pytest.approx(4.0)
    out = capsys.readouterr().out
    assert "10/10" in out and "loss: 4.0000" in out and "acc: 0.7000" in out
    quiet = utils.Progbar(target=None, verbose=2)
    quiet.update(3, values=[("loss", 1.0)])
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="verbose"):
        utils.Progbar(10, verbose=3)


def test_progbar_logs_when_interactive_logging_is_off(capsys, caplog):
    tg.config.disable_interactive_logging()
    try:
        assert not utils.is_interactive_logging_enabled()
        with caplog.at_level("INFO", logger="tapegrad"):
            utils.Progbar(2, interval=0.0).update(2, values=[("loss", 0.5)])
    finally:
        tg.config.enable_interactive_logging()
    assert capsys.readouterr().out == ""
    assert "2/2" in caplog.text and "loss: 0.5000" in caplog.text


def test_keras_signatures_of_the_smaller_utilities(tmp_path):
    bar = utils.Progbar(10, verbose=0, stateless_metrics=["loss"])
    bar.update(2, values=[("loss", 1.0), ("lr", 0.1)])
    bar.update(4, values=[("loss", 3.0), ("lr", 0.2)])
    assert bar.average("loss") == pytest.approx(2.0) and bar.average("lr") == pytest.approx(0.2)
    grain = utils.timeseries_dataset_from_array(np.arange(6), None, 2, format="grain")
    assert grain[0].shape == (5, 2)
    with pytest.raises(ValueError, match="format"):
        utils.timeseries_dataset_from_array(np.arange(6), None, 2, format="torch")
    left, _ = utils.split_dataset(np.arange(4), left_size=2, preferred_backend="torch")
    assert left.tolist() == [0, 1]
    path = tmp_path / "model.dot"
    utils.plot_model(_two_branch_model(), to_file=str(path), splines="spline")
    text = path.read_text()
    assert 'splines="spline"' in text and "(Dense)" not in text  # Keras: no names by default
    assert "left (Dense)" in utils.model_to_dot(_two_branch_model()).to_string()

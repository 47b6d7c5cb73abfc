"""TensorBoard: the event files are written as Keras 3 lays them out and read back here
through the TFRecord framing (with its CRCs) and tensorboardX's own protobuf classes."""

import json
import os
import struct
import sys
import zlib

import numpy as np
import pytest

import tapegrad as tg

pytest.importorskip("tensorboardX")
from tensorboardX.crc32c import crc32c  # noqa: E402
from tensorboardX.proto.event_pb2 import Event  # noqa: E402

from tapegrad.callbacks import TensorBoard  # noqa: E402


def _masked_crc(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_events(folder):
    """Every Event in the event files of ``folder``, each record's CRCs checked."""
    events = []
    for name in sorted(os.listdir(folder)):
        assert name.startswith("events.out.tfevents."), name
        data = (folder / name).read_bytes()
        offset = 0
        while offset < len(data):
            header = data[offset : offset + 8]
            (length,) = struct.unpack("<Q", header)
            (length_crc,) = struct.unpack("<I", data[offset + 8 : offset + 12])
            assert length_crc == _masked_crc(header)
            body = data[offset + 12 : offset + 12 + length]
            (body_crc,) = struct.unpack("<I", data[offset + 12 + length : offset + 16 + length])
            assert body_crc == _masked_crc(body)
            event = Event()
            event.ParseFromString(body)
            events.append(event)
            offset += 16 + length
    return events


def scalars(folder):
    """``{tag: [(step, value), ...]}`` of the simple scalar summaries in ``folder``."""
    found = {}
    for event in read_events(folder):
        for value in event.summary.value:
            if value.HasField("simple_value"):
                found.setdefault(value.tag, []).append((event.step, value.simple_value))
    return found


def summaries(folder, kind):
    return {
        value.tag: event.step
        for event in read_events(folder)
        for value in event.summary.value
        if value.HasField(kind)
    }


X = np.linspace(-1, 1, 24, dtype=np.float32).reshape(8, 3)
Y = X.sum(axis=1, keepdims=True)


def fitted(callback, **fit):
    model = tg.Sequential([tg.layers.Input((3,)), tg.layers.Dense(4), tg.layers.Dense(1)])
    model.compile(optimizer=tg.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    history = model.fit(X, Y, batch_size=2, verbose=0, callbacks=[callback], **fit)
    return model, history


def test_epoch_scalars_train_and_validation_as_keras_names_them(tmp_path):
    _, history = fitted(TensorBoard(tmp_path), epochs=3, validation_data=(X, Y))
    train = scalars(tmp_path / "train")
    assert sorted(train) == ["epoch_learning_rate", "epoch_loss", "epoch_mae"]
    assert [step for step, _ in train["epoch_loss"]] == [0, 1, 2]
    np.testing.assert_allclose([v for _, v in train["epoch_loss"]], history.history["loss"], 1e-6)
    np.testing.assert_allclose([v for _, v in train["epoch_learning_rate"]], [0.05] * 3, 1e-6)
    validation = scalars(tmp_path / "validation")
    assert {"epoch_loss", "epoch_mae"} <= set(validation)
    np.testing.assert_allclose(
        [v for _, v in validation["epoch_loss"]], history.history["val_loss"], 1e-6
    )


def test_batch_scalars_every_update_freq_batches(tmp_path):
    fitted(TensorBoard(tmp_path, update_freq=3, write_steps_per_second=True), epochs=2)
    train = scalars(tmp_path / "train")
    # 4 batches an epoch: the global batches 3 and 6 are written.
    assert [step for step, _ in train["batch_loss"]] == [3, 6]
    assert [step for step, _ in train["batch_steps_per_second"]] == [3, 6]
    assert all(value > 0 for _, value in train["epoch_steps_per_second"])
    fitted(TensorBoard(tmp_path / "every", update_freq="batch"), epochs=1)
    assert [s for s, _ in scalars(tmp_path / "every" / "train")["batch_loss"]] == [1, 2, 3, 4]


def png_pixels(encoded):
    """The grayscale pixels of an unfiltered 8-bit PNG (what the callback writes)."""
    assert encoded[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, {}
    while offset < len(encoded):
        (length,) = struct.unpack(">I", encoded[offset : offset + 4])
        kind = encoded[offset + 4 : offset + 8]
        chunks[kind] = encoded[offset + 8 : offset + 8 + length]
        offset += 12 + length
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, width + 1)
    assert not rows[:, 0].any()  # filter type 0 on every row
    return rows[:, 1:]


def test_histograms_and_images(tmp_path):
    model, _ = fitted(TensorBoard(tmp_path, histogram_freq=2, write_images=True), epochs=3)
    histograms = summaries(tmp_path / "train", "histo")
    names = [w.path for layer in model.layers for w in layer.weights]
    assert histograms == {f"{name}/histogram": 2 for name in names}  # epochs 0 and 2: last 2
    images = {
        value.tag: (event.step, value.image)
        for event in read_events(tmp_path / "train")
        for value in event.summary.value
        if value.HasField("image")
    }
    # The last Dense's bias has one value: squeezed to a scalar, it has no image (as Keras).
    assert sorted(images) == sorted(f"{name}/image" for name in names[:3])
    kernel = model.layers[0].weights[0].numpy()  # (3, 4): drawn 3 high and 4 wide
    step, image = images[f"{names[0]}/image"]
    assert (step, image.height, image.width) == (2, 3, 4)
    expected = (np.clip(kernel, 0, 1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(png_pixels(image.encoded_image_string), expected)


def test_evaluation_vs_iterations_and_model_json(tmp_path):
    model, _ = fitted(TensorBoard(tmp_path / "fit"), epochs=1)
    model.to_json = lambda: '{"class_name": "Sequential"}'  # what a Keras model has
    callback = TensorBoard(tmp_path)
    callback.set_model(model)
    callback.on_test_end({"loss": 0.25, "mae": 0.5})
    callback.on_train_end()
    validation = scalars(tmp_path / "validation")
    assert validation == {
        "evaluation_loss_vs_iterations": [(4, 0.25)],
        "evaluation_mae_vs_iterations": [(4, 0.5)],
    }
    (graph,) = [
        value
        for event in read_events(tmp_path / "train")
        for value in event.summary.value
        if value.tag == "keras"
    ]
    assert graph.metadata.plugin_data.plugin_name == "graph_keras_model"
    assert graph.tensor.string_val == [b'{"class_name": "Sequential"}']


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"update_freq": 0}, ValueError, "update_freq must be 'epoch', 'batch' or a positive"),
        ({"histogram_freq": -1}, ValueError, "histogram_freq must be >= 0"),
        ({"histogram_freq": 0.5}, ValueError, "histogram_freq must be an int"),
        ({"profile_batch": 2}, NotImplementedError, "profile_batch=2 is not supported"),
        ({"embeddings_freq": 1}, NotImplementedError, "embeddings_freq=1 is not supported"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        TensorBoard(tmp_path, **kwargs)


def test_missing_writer_library_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"tensorboardX.*tapegrad\[tensorboard\]"):
        TensorBoard("logs")


def test_validation_inside_fit_writes_evaluation_vs_iterations(tmp_path):
    _, history = fitted(TensorBoard(tmp_path), epochs=2, validation_data=(X, Y))
    validation = scalars(tmp_path / "validation")
    # One validation pass per epoch, after 4 and 8 optimizer steps.
    assert [step for step, _ in validation["evaluation_loss_vs_iterations"]] == [4, 8]
    np.testing.assert_allclose(
        [v for _, v in validation["evaluation_loss_vs_iterations"]],
        history.history["val_loss"],
        rtol=1e-6,
    )


def test_fit_writes_the_models_json_for_the_graph_plugin(tmp_path):
    model, _ = fitted(TensorBoard(tmp_path), epochs=1)
    (graph,) = [
        value
        for event in read_events(tmp_path / "train")
        for value in event.summary.value
        if value.tag == "keras"
    ]
    assert graph.metadata.plugin_data.plugin_name == "graph_keras_model"
    assert json.loads(graph.tensor.string_val[0]) == json.loads(model.to_json())
    fitted(TensorBoard(tmp_path / "no_graph", write_graph=False), epochs=1)
    tags = {v.tag for e in read_events(tmp_path / "no_graph" / "train") for v in e.summary.value}
    assert "keras" not in tags

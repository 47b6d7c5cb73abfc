"""`TensorBoard`: training logs as TensorBoard event files, written with ``tensorboardX``."""

from __future__ import annotations

import os
import struct
import time
import warnings
import zlib
from typing import Any

import numpy as np

from tapegrad.nn.callbacks.callback import Callback, _scalar

_EXTRA_HINT = (
    "TensorBoard needs the optional package tensorboardX (a small event-file writer; no "
    "TensorFlow or PyTorch): pip install 'tapegrad[tensorboard]' or pip install tensorboardX"
)


def _tensorboardx() -> tuple[Any, Any]:
    """The writer and summary modules of tensorboardX, imported on first use."""
    try:
        from tensorboardX import summary, writer
    except ImportError as err:
        raise ImportError(f"{_EXTRA_HINT} ({err})") from err
    return writer, summary


class TensorBoard(Callback):
    """Writes training logs as TensorBoard event files (Keras 3's names and layout).

    ``<log_dir>/train`` gets ``epoch_<metric>`` scalars at each epoch end (with
    ``epoch_learning_rate`` and, if asked, ``epoch_steps_per_second``), ``batch_<metric>``
    scalars every ``update_freq`` batches, weight histograms (``<layer>/<weight>/histogram``)
    every ``histogram_freq`` epochs, weight images with ``write_images``, and the model's
    JSON for TensorBoard's graph view (``write_graph``, models with ``to_json``).
    ``<log_dir>/validation`` gets the validation metrics as ``epoch_<metric>`` and, after
    each evaluation, ``evaluation_<metric>_vs_iterations`` at the optimizer's step count.
    Run ``tensorboard --logdir <log_dir>`` to see them.

    The files are written with ``tensorboardX``, an optional dependency (the
    ``tensorboard`` extra); without it, creating the callback raises ``ImportError`` saying
    what to install. Profiling (``profile_batch``) and the embedding projector
    (``embeddings_freq``) are not supported: non-zero values raise. Weight images are the
    weights clipped to ``[0, 1]``, as ``tf.summary.image`` shows float images; a
    convolution kernel's filters are tiled into one image.

    Args:
        log_dir: the folder for the event files.
        histogram_freq: write weight histograms every that many epochs (0: never).
        write_graph: write the model's JSON (the graph plugin draws it).
        write_images: write weights as images with the histograms.
        write_steps_per_second: also log training steps per second.
        update_freq: ``"epoch"``, ``"batch"`` (every batch) or an int: write batch-level
            scalars every that many batches.
        profile_batch: must be 0.
        embeddings_freq: must be 0.
        embeddings_metadata: must be None.

    Examples:
        >>> import os, tempfile
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> log_dir = tempfile.mkdtemp()
        >>> model = tg.Sequential([tg.layers.Input((2,)), tg.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> _ = model.fit(np.ones((4, 2)), np.zeros((4, 1)), epochs=2, verbose=0,
        ...               callbacks=[TensorBoard(log_dir)])
        >>> sorted(os.listdir(log_dir))
        ['train']
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] = "logs",
        histogram_freq: int = 0,
        write_graph: bool = True,
        write_images: bool = False,
        write_steps_per_second: bool = False,
        update_freq: str | int = "epoch",
        profile_batch: int = 0,
        embeddings_freq: int = 0,
        embeddings_metadata: Any = None,
    ) -> None:
        super().__init__()
        self._writer_module, self._summary = _tensorboardx()
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (
            isinstance(update_freq, bool) or not isinstance(update_freq, int) or update_freq < 1
        ):
            raise ValueError(
                "TensorBoard: update_freq must be 'epoch', 'batch' or a positive int, got "
                f"{update_freq!r}"
            )
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int):
            raise ValueError(f"TensorBoard: histogram_freq must be an int, got {histogram_freq!r}")
        if histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be >= 0, got {histogram_freq}")
        unsupported = {
            "profile_batch": (profile_batch, 0),
            "embeddings_freq": (embeddings_freq, 0),
            "embeddings_metadata": (embeddings_metadata, None),
        }
        for name, (value, default) in unsupported.items():
            if value != default and value is not default:
                raise NotImplementedError(
                    f"TensorBoard: {name}={value!r} is not supported by tapegrad (profiling "
                    f"and the embedding projector are not written); leave it at {default!r}"
                )
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._writers: dict[str, Any] = {}
        self._global_train_batch = 0
        self._batch_start_time = 0.0
        self._epoch_start_time = 0.0
        self._epoch_start_iterations = 0

    # -- writers --------------------------------------------------------------------------
    def _writer(self, which: str) -> Any:
        if which not in self._writers:
            folder = self._train_dir if which == "train" else self._val_dir
            self._writers[which] = self._writer_module.FileWriter(folder)
        return self._writers[which]

    def _scalars(self, which: str, values: dict[str, Any], step: int) -> None:
        writer = self._writer(which)
        for name, value in values.items():
            value = _scalar(value)
            if isinstance(value, float | int) and not isinstance(value, bool):
                writer.add_summary(self._summary.scalar(name, float(value)), step)

    def _close_writers(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    # -- hooks ----------------------------------------------------------------------------
    def set_model(self, model):
        super().set_model(model)
        self._close_writers()
        if self.write_graph:
            self._write_model_json()

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        values = {f"batch_{name}": value for name, value in (logs or {}).items()}
        if self.write_steps_per_second:
            elapsed = max(time.time() - self._batch_start_time, 1e-9)
            values["batch_steps_per_second"] = 1.0 / elapsed
        self._scalars("train", values, self._global_train_batch)

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._epoch_start_iterations = self._iterations()
            self._epoch_start_time = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        validation = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        learning_rate = self._learning_rate()
        if learning_rate is not None:
            train["learning_rate"] = learning_rate
        if self.write_steps_per_second:
            elapsed = max(time.time() - self._epoch_start_time, 1e-9)
            train["steps_per_second"] = (
                self._iterations() - self._epoch_start_iterations
            ) / elapsed
        if train:
            self._scalars("train", {f"epoch_{k}": v for k, v in train.items()}, epoch)
        if validation:
            self._scalars("validation", {f"epoch_{k}": v for k, v in validation.items()}, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "iterations") or not logs:
            return
        values = {f"evaluation_{name}_vs_iterations": v for name, v in logs.items()}
        self._scalars("validation", values, self._iterations())
        self._writer("validation").flush()

    # -- what is written ------------------------------------------------------------------
    def _iterations(self) -> int:
        optimizer = getattr(self.model, "optimizer", None)
        iterations = getattr(optimizer, "iterations", None)
        return 0 if iterations is None else int(np.asarray(iterations))

    def _learning_rate(self) -> float | None:
        optimizer = getattr(self.model, "optimizer", None)
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        if optimizer is None or not hasattr(optimizer, "learning_rate"):
            return None
        try:
            return float(np.asarray(optimizer.learning_rate))
        except (TypeError, ValueError):
            return None

    def _write_model_json(self) -> None:
        to_json = getattr(self.model, "to_json", None)
        if to_json is None:
            return
        try:
            text = to_json()
        except Exception as err:  # as Keras: a model that cannot be serialized still trains
            warnings.warn(f"TensorBoard: the model cannot be written as JSON ({err})", stacklevel=2)
            return
        self._writer("train").add_summary(_keras_model_summary(text), 0)

    def _log_weights(self, epoch: int) -> None:
        writer = self._writer("train")
        for layer in getattr(self.model, "layers", ()):
            for weight in layer.weights:
                name = str(getattr(weight, "path", None) or weight.name).replace(":", "_")
                values = np.asarray(weight.numpy(), dtype=np.float64)
                # 30 equal buckets over the values' range: tf.summary.histogram's default.
                writer.add_summary(self._summary.histogram(f"{name}/histogram", values, 30), epoch)
                image = _weight_image(values) if self.write_images else None
                if image is not None:
                    writer.add_summary(_image_summary(f"{name}/image", image), epoch)


def _weight_image(weight: np.ndarray) -> np.ndarray | None:
    """A weight as a uint8 ``(H, W)`` grayscale image, laid out as Keras does; None if it
    has no such layout (3D convolutions)."""
    w = np.squeeze(weight)
    if w.ndim == 1:  # a bias: one row
        tiles = w.reshape(1, 1, -1)
    elif w.ndim == 2:  # a dense kernel, wider than high
        tiles = (w.T if w.shape[0] > w.shape[1] else w)[None]
    elif w.ndim == 3:  # a 1D/2D conv kernel, channels last: one tile per filter
        tiles = np.transpose(w, (2, 0, 1))
    else:
        return None
    count, height, width = tiles.shape
    columns = min(count, 8)
    rows = -(-count // columns)
    grid = np.zeros((rows * (height + 1) - 1, columns * (width + 1) - 1))  # 1-pixel gaps
    for k in range(count):
        top, left = (k // columns) * (height + 1), (k % columns) * (width + 1)
        grid[top : top + height, left : left + width] = tiles[k]
    # As tf.summary.image shows float images: values clipped to [0, 1].
    return (np.clip(grid, 0.0, 1.0) * 255).astype(np.uint8)


def _png(image: np.ndarray) -> bytes:
    """A grayscale uint8 ``(H, W)`` image as PNG bytes (so no imaging library is needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    height, width = image.shape
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    rows = b"".join(b"\x00" + image[row].tobytes() for row in range(height))  # filter: none
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _image_summary(tag: str, image: np.ndarray) -> Any:
    from tensorboardX.proto.summary_pb2 import Summary

    height, width = image.shape
    encoded = Summary.Image(
        height=height, width=width, colorspace=1, encoded_image_string=_png(image)
    )
    return Summary(value=[Summary.Value(tag=tag, image=encoded)])


def _keras_model_summary(text: str) -> Any:
    """The ``keras`` summary that TensorBoard's graph plugin draws (``graph_keras_model``)."""
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboardX.proto.tensor_pb2 import TensorProto
    from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto

    metadata = SummaryMetadata(
        plugin_data=SummaryMetadata.PluginData(plugin_name="graph_keras_model", content=b"1")
    )
    tensor = TensorProto(
        dtype="DT_STRING", string_val=[text.encode()], tensor_shape=TensorShapeProto()
    )
    return Summary(value=[Summary.Value(tag="keras", metadata=metadata, tensor=tensor)])

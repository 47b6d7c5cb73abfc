"""`ModelCheckpoint`: save the model (or its weights) during training."""

from __future__ import annotations

import os

from tapegrad.nn.callbacks.callback import Logs, _scalar
from tapegrad.nn.callbacks.monitor_callback import MonitorCallback


class ModelCheckpoint(MonitorCallback):
    """Saves the model (or its weights) at the end of epochs or every few batches.

    ``filepath`` may hold ``str.format`` fields filled from the epoch's logs plus ``epoch``
    (1-based) and, with an integer ``save_freq``, ``batch`` (1-based): for example
    ``"ckpt/model-{epoch:02d}-{val_loss:.2f}.tapegrad"``. Missing folders are created.

    Args:
        filepath: the path, or a pattern as above (its ending is checked at construction).
        monitor: the log key that decides what "best" means.
        verbose: ``1`` prints a line for each save (or skip).
        save_best_only: only save when ``monitor`` improved on the best saved value (with no
            ``monitor`` in the logs it warns and saves anyway, as Keras does).
        save_weights_only: call ``model.save_weights(path)`` instead of ``model.save(path)``.
            The path must then end in ``.weights.h5`` (Keras' name, kept so Keras programs
            run unchanged) or ``.safetensors``; either way the file is tapegrad's weights
            file, safetensors with a SHA-256 per tensor, not HDF5: ``model.load_weights``
            reads it back, h5py does not. Otherwise the path must end in ``.keras`` or
            ``.tapegrad`` (a tapegrad model archive).
        mode: ``"auto"``, ``"min"`` or ``"max"`` (see ``MonitorCallback``).
        save_freq: ``"epoch"``, or an integer: save every that many training batches.
        initial_value_threshold: a best value to beat before the first ``save_best_only`` save.

    Examples:
        >>> class Model:
        ...     def save(self, path):
        ...         print("saved", path)
        >>> checkpoint = ModelCheckpoint("model-{epoch:02d}-{val_loss:.2f}.tapegrad",
        ...                              save_best_only=True)
        >>> checkpoint.set_model(Model())
        >>> for epoch, val_loss in enumerate([0.9, 1.2, 0.5]):
        ...     checkpoint.on_epoch_end(epoch, {"val_loss": val_loss})
        saved model-01-0.90.tapegrad
        saved model-03-0.50.tapegrad
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
    ) -> None:
        super().__init__(monitor=monitor, mode=mode, baseline=initial_value_threshold)
        if save_freq != "epoch" and not (
            isinstance(save_freq, int) and not isinstance(save_freq, bool) and save_freq > 0
        ):
            raise ValueError(
                f"ModelCheckpoint: save_freq must be 'epoch' or a positive int, got {save_freq!r}"
            )
        self.filepath = os.fspath(filepath)
        _check_extension(self.filepath, save_weights_only)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._current_epoch = 0
        self._batches_since_save = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _file_path(self, epoch: int, batch: int | None, logs: Logs) -> str:
        fields = {name: _scalar(value) for name, value in logs.items()}
        fields["epoch"] = epoch + 1
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as err:
            raise KeyError(
                f"ModelCheckpoint: filepath {self.filepath!r} names the field {err}, which is "
                f"neither epoch, batch nor in the logs {sorted(logs)}"
            ) from err
        except (IndexError, ValueError) as err:
            raise ValueError(
                f"ModelCheckpoint: cannot format filepath {self.filepath!r} with epoch, batch "
                f"and the logs {sorted(logs)}: {err}"
            ) from err

    def _should_save(self, epoch: int, logs: Logs, path: str) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"Epoch {epoch + 1}: saving model to {path}")
            return True
        self.direction()
        current = self._monitored_value(logs, "saving the best model")
        if current is None:
            return True
        previous = "None" if self.best is None else f"{self.best:.5f}"
        if self.is_improvement(current, self.best):
            if self.verbose > 0:
                print(
                    f"Epoch {epoch + 1}: {self.monitor} improved from {previous} to "
                    f"{current:.5f}, saving model to {path}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {previous}")
        return False

    def _save(self, epoch: int, batch: int | None, logs: Logs | None) -> None:
        logs = logs or {}
        path = self._file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, path):
            return
        if os.path.isdir(path):
            raise IsADirectoryError(
                f"ModelCheckpoint: filepath {path!r} is an existing directory; give a file path"
            )
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


_WEIGHTS_ENDINGS = (".weights.h5", ".safetensors")
_MODEL_ENDINGS = (".keras", ".tapegrad")


def _check_extension(filepath: str, save_weights_only: bool) -> None:
    """Keras 3 checks the file name when the callback is made, not at the first save."""
    if save_weights_only:
        if not filepath.endswith(_WEIGHTS_ENDINGS):
            raise ValueError(
                "ModelCheckpoint: with save_weights_only=True the filepath must end in "
                f"'.weights.h5' or '.safetensors' (tapegrad's weights file), got {filepath!r}"
            )
    elif not filepath.endswith(_MODEL_ENDINGS):
        hint = (
            " (tapegrad does not write Keras' legacy HDF5 model files)"
            if filepath.endswith(".h5")
            else ""
        )
        raise ValueError(
            "ModelCheckpoint: the filepath must end in '.keras' or '.tapegrad' (a model "
            f"archive){hint}, got {filepath!r}"
        )

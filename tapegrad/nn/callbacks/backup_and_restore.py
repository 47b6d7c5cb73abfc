"""`BackupAndRestore`: resume an interrupted ``fit`` where it stopped, mid-epoch included."""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from typing import Any

import numpy as np
import safetensors.numpy

from tapegrad.nn import random_state
from tapegrad.nn.callbacks.callback import Callback

#: What the backup file's metadata says it is, and the version of its layout.
FORMAT = "tapegrad-backup"
VERSION = 1
_METADATA_FIELDS = {"format", "version", "epoch", "step", "weights", "optimizer", "random_state"}


class BackupAndRestore(Callback):
    """Backs up the training state regularly so that an interrupted ``fit`` resumes exactly.

    Each backup is one file, ``<backup_dir>/latest.tapegrad-backup`` (safetensors), written
    atomically (a temporary file, fsynced, then renamed over the previous backup): the
    model's weights, the optimizer's Variables (step counter, slots, moving averages) and
    every random state (`tapegrad.nn.random_state`: layers' generators such as
    ``Dropout``'s, ``fit``'s shuffling), with the epoch and the batch reached. When ``fit``
    starts with a backup present (after a crash, a kill or an exception), ``on_train_begin``
    puts all of that back and sets ``model._initial_epoch`` (Keras 3's attribute) and
    ``model._initial_step`` (tapegrad's: the batches of that epoch already done); ``fit``
    then skips those batches in the same shuffled order. The weights, optimizer state and
    random draws then follow the uninterrupted run bit for bit, with ``save_freq`` an
    integer (mid-epoch) as well as ``"epoch"``. When ``fit`` ends normally the backup is
    deleted (``delete_checkpoint``).

    Differences from Keras 3: Keras writes ``latest.weights.h5`` and a separate
    ``training_metadata.json`` and, with an integer ``save_freq``, restarts the interrupted
    epoch from its first batch with the mid-epoch weights; tapegrad resumes at the batch.
    At the end Keras deletes the whole ``backup_dir``; tapegrad deletes its own files, and
    the folder only if that leaves it empty. Not restored: the running loss and metrics of
    a half-done epoch (that epoch's logged loss averages the batches run after resuming).

    Args:
        backup_dir: the folder for the backup (created when needed); one per training run.
        save_freq: ``"epoch"`` (back up at each epoch end), or an int: back up after every
            that many training batches.
        double_checkpoint: keep the previous backup as ``latest.tapegrad-backup.bkp`` and
            fall back to it when the latest cannot be read.
        delete_checkpoint: delete the backup when training ends normally.

    Examples:
        >>> import os, tempfile
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> folder = tempfile.mkdtemp()
        >>> x, y = np.ones((8, 2), np.float32), np.zeros((8, 1), np.float32)
        >>> def new_model():
        ...     model = tg.Sequential([tg.layers.Input((2,)), tg.layers.Dense(1)])
        ...     model.compile(optimizer="sgd", loss="mse")
        ...     return model
        >>> class Crash(tg.callbacks.Callback):
        ...     def on_train_batch_begin(self, batch, logs=None):
        ...         if batch == 3:
        ...             raise RuntimeError("power cut")
        >>> model = new_model()
        >>> try:
        ...     model.fit(x, y, batch_size=2, verbose=0,
        ...               callbacks=[BackupAndRestore(folder, save_freq=1), Crash()])
        ... except RuntimeError:
        ...     pass
        >>> os.listdir(folder)
        ['latest.tapegrad-backup']
        >>> model = new_model()              # say, after a restart: resumes at batch 3
        >>> _ = model.fit(x, y, batch_size=2, verbose=0,
        ...               callbacks=[BackupAndRestore(folder, save_freq=1)])
        >>> int(model.optimizer.iterations.numpy()), os.path.exists(folder)
        (4, False)
    """

    def __init__(
        self,
        backup_dir: str | os.PathLike[str],
        save_freq: str | int = "epoch",
        double_checkpoint: bool = False,
        delete_checkpoint: bool = True,
    ) -> None:
        super().__init__()
        if not backup_dir:
            raise ValueError(f"BackupAndRestore: backup_dir must be a folder, got {backup_dir!r}")
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1
        ):
            raise ValueError(
                f"BackupAndRestore: save_freq must be 'epoch' or a positive int, got {save_freq!r}"
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._path = os.path.join(self.backup_dir, "latest.tapegrad-backup")
        self._previous_path = self._path + ".bkp"
        self._current_epoch = 0
        self._batches_done = 0
        self._batches_since_save = 0
        self._epoch_shuffle: Any = None
        self._resume: tuple[int, int] | None = None

    # -- hooks ------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._batches_since_save = 0
        self._resume = None
        if os.path.exists(self._path):
            try:
                self._restore(self._path)
            except (OSError, ValueError) as err:
                if not (self.double_checkpoint and os.path.exists(self._previous_path)):
                    raise
                warnings.warn(
                    f"BackupAndRestore: {err}; restoring the previous backup instead",
                    stacklevel=2,
                )
                self._restore(self._previous_path)
        elif self.double_checkpoint and os.path.exists(self._previous_path):
            self._restore(self._previous_path)
        # The shuffling state before the first epoch's draw (restored, or fit's own).
        self._epoch_shuffle = random_state.capture(self.model)["fit_shuffle"]

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
        self._batches_done = 0
        if self._resume is not None and self._resume[0] == epoch:
            # fit skips the batches the backup had done (it read `_initial_step` already).
            self._batches_done = self._resume[1]
        self._resume = None

    def on_train_batch_end(self, batch, logs=None):
        self._batches_done += 1
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, self._batches_done, self._epoch_shuffle)

    def on_epoch_end(self, epoch, logs=None):
        # After this epoch's one draw: the state the next epoch starts from.
        self._epoch_shuffle = random_state.capture(self.model)["fit_shuffle"]
        if self.save_freq == "epoch":
            self._save(epoch + 1, 0, self._epoch_shuffle)

    def on_train_end(self, logs=None):
        if not self.delete_checkpoint:
            return
        self._remove_temporaries()
        for path in (self._path, self._previous_path):
            if os.path.exists(path):
                os.remove(path)
        if os.path.isdir(self.backup_dir) and not os.listdir(self.backup_dir):
            os.rmdir(self.backup_dir)

    # -- the backup file ------------------------------------------------------------------
    def _remove_temporaries(self) -> None:
        """Remove what a write killed half-way left behind (`_atomic_write`'s temporaries)."""
        if not os.path.isdir(self.backup_dir):
            return
        for name in os.listdir(self.backup_dir):
            # (The prefix also matches the `.bkp` file's temporaries.)
            if name.startswith(".latest.tapegrad-backup.") and name.endswith(".tmp"):
                os.remove(os.path.join(self.backup_dir, name))

    def _save(self, epoch: int, step: int, epoch_shuffle: Any) -> None:
        model = self.model
        optimizer = getattr(model, "optimizer", None)
        optimizer_variables = list(getattr(optimizer, "variables", None) or [])
        arrays = {f"weights/{k}": np.asarray(w) for k, w in enumerate(model.get_weights())}
        for k, variable in enumerate(optimizer_variables):
            arrays[f"optimizer/{k}"] = np.array(variable.numpy(), copy=True)
        state = random_state.capture(model)
        # A mid-epoch resume replays this epoch's shuffle draw: keep the state before it.
        state["fit_shuffle"] = epoch_shuffle
        state["epoch"] = epoch
        metadata = {
            "format": FORMAT,
            "version": str(VERSION),
            "epoch": str(epoch),
            "step": str(step),
            "weights": str(len(model.weights)),
            "optimizer": str(len(optimizer_variables)),
            "random_state": json.dumps(state),
        }
        data = safetensors.numpy.save(arrays, metadata=metadata)
        os.makedirs(self.backup_dir, exist_ok=True)
        self._remove_temporaries()
        if self.double_checkpoint and os.path.exists(self._path):
            # Copied, not moved: at every moment a complete latest backup exists.
            with open(self._path, "rb") as file:
                _atomic_write(self._previous_path, file.read())
        _atomic_write(self._path, data)

    def _restore(self, path: str) -> None:
        model = self.model
        if not getattr(model, "built", True):
            raise ValueError(
                "BackupAndRestore: the model must be built before fit() to restore a backup "
                f"(model {getattr(model, 'name', model)!r} is not); call it on a batch first"
            )
        with open(path, "rb") as file:
            data = file.read()
        metadata, arrays = _read_backup(data, path)
        weights = model.weights
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and metadata["optimizer"] and not optimizer.built:
            # The slots must exist before they are assigned (Keras does the same).
            optimizer.build(list(model.trainable_weights))
        optimizer_variables = list(getattr(optimizer, "variables", None) or [])
        plan = _match(arrays, "weights", weights, metadata["weights"], path)
        plan += _match(arrays, "optimizer", optimizer_variables, metadata["optimizer"], path)
        try:
            random_state.restore(model, metadata["random_state"])
        except ValueError as err:
            raise ValueError(f"BackupAndRestore: {path}: {err}") from err
        for variable, value in plan:
            variable.assign(value)
        model._initial_epoch = metadata["epoch"]
        model._initial_step = metadata["step"]
        self._resume = (metadata["epoch"], metadata["step"])


def _read_backup(data: bytes, path: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The checked metadata and the arrays of a backup file's bytes."""
    where = f"BackupAndRestore: {path}"
    length = int.from_bytes(data[:8], "little") if len(data) >= 8 else -1
    if not 0 < length <= len(data) - 8:
        raise ValueError(f"{where}: not a backup file (no safetensors header)")
    try:
        header = json.loads(data[8 : 8 + length])
        arrays = safetensors.numpy.load(data)
    except Exception as err:  # any damage to the bytes: one clear error
        raise ValueError(f"{where}: damaged file: {type(err).__name__}: {err}") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict) or set(metadata) != _METADATA_FIELDS:
        raise ValueError(
            f"{where}: metadata must have the fields {sorted(_METADATA_FIELDS)}, got "
            f"{sorted(metadata) if isinstance(metadata, dict) else metadata!r}"
        )
    if metadata["format"] != FORMAT or metadata["version"] != str(VERSION):
        raise ValueError(
            f"{where}: format {metadata['format']!r} version {metadata['version']!r} is not "
            f"{FORMAT!r} version {VERSION}"
        )
    checked: dict[str, Any] = {}
    for field in ("epoch", "step", "weights", "optimizer"):
        text = metadata[field]
        if not text.isdigit() or len(text) > 18:
            raise ValueError(f"{where}: metadata field {field!r} must be a count, got {text!r}")
        checked[field] = int(text)
    try:
        checked["random_state"] = json.loads(metadata["random_state"])
    except ValueError as err:
        raise ValueError(f"{where}: metadata field 'random_state' is not JSON: {err}") from None
    return checked, arrays


def _match(
    arrays: dict[str, np.ndarray], prefix: str, variables: list[Any], count: int, path: str
) -> list[tuple[Any, np.ndarray]]:
    """Pair each Variable with its saved array, every shape and dtype checked first."""
    what = "model weights" if prefix == "weights" else "optimizer variables"
    if count != len(variables):
        raise ValueError(
            f"BackupAndRestore: {path} holds {count} {what} but the model has "
            f"{len(variables)}; was the backup made by another model?"
        )
    plan = []
    for k, variable in enumerate(variables):
        key = f"{prefix}/{k}"
        if key not in arrays:
            raise ValueError(f"BackupAndRestore: {path} lacks the tensor {key!r}")
        value = arrays[key]
        if tuple(value.shape) != tuple(variable.shape) or value.dtype != variable.dtype:
            raise ValueError(
                f"BackupAndRestore: {path}: {key} is {value.dtype}{list(value.shape)} but "
                f"{what[:-1]} {variable.name!r} is {variable.dtype}{list(variable.shape)}"
            )
        plan.append((variable, value))
    return plan


def _atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one."""
    folder = os.path.dirname(path) or "."
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder
    )
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise

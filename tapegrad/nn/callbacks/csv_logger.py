"""`CSVLogger`: each epoch's logs as a row of a CSV file."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from typing import Any

from tapegrad.nn.callbacks.callback import Callback, _scalar


class CSVLogger(Callback):
    """Streams each epoch's logs to a CSV file: an ``epoch`` column, then the log keys sorted.

    The columns are fixed by the first epoch's keys; when these hold no ``val_`` key, a
    ``val_<key>`` column is added for each (as Keras 3 does, so that validation run every
    few epochs has its columns). A key missing from an epoch's logs is written ``NA``. The
    file is flushed after every row, so it can be watched while training runs.

    Args:
        filename: the CSV file's path.
        separator: the column separator.
        append: add to an existing file (writing the header only if the file is empty)
            instead of overwriting it.

    Examples:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
        >>> logger = CSVLogger(path)
        >>> logger.on_train_begin()
        >>> logger.on_epoch_end(0, {"loss": 0.5, "accuracy": 0.75})
        >>> logger.on_train_end()
        >>> print(open(path).read().strip())
        epoch,accuracy,loss,val_accuracy,val_loss
        0,0.75,0.5,NA,NA
    """

    def __init__(
        self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False
    ) -> None:
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys: list[str] | None = None
        self._file: Any = None
        self._writer: Any = None
        self._write_header = True

    def on_train_begin(self, logs=None):
        if self.append:
            self._write_header = not (
                os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
            )
            mode = "a"
        else:
            self._write_header = True
            mode = "w"
        self._close()
        self._file = open(self.filename, mode, newline="", encoding="utf-8")
        self.keys = None
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._file is None:
            # Driven without on_train_begin (e.g. by hand): open as fit would.
            self.on_train_begin()
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys += [f"val_{key}" for key in self.keys]
        if self._writer is None:
            self._writer = csv.writer(self._file, delimiter=self.sep, lineterminator="\n")
            if self._write_header:
                self._writer.writerow(["epoch", *self.keys])
        row = [epoch] + [_csv_value(logs.get(key, "NA")) for key in self.keys]
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        self._close()

    def _close(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        self._file = None
        self._writer = None


def _csv_value(value: Any) -> Any:
    value = _scalar(value)
    if isinstance(value, (str, float, int)):
        return value
    if isinstance(value, Iterable):
        return f"[{', '.join(str(_scalar(item)) for item in value)}]"
    return value

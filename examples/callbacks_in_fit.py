"""Callbacks during training (after the Keras 3 guides "Writing your own callbacks" and
"Training & evaluation with the built-in methods": "Using callbacks").

``EarlyStopping`` stops when the validation loss stops improving and restores the best
weights, ``ModelCheckpoint`` saves the best model to a ``.keras`` file, ``ReduceLROnPlateau``
halves the learning rate on a plateau, ``CSVLogger`` writes the history, and a custom
``Callback`` sees every hook of ``fit``, ``evaluate`` and ``predict``. The best checkpoint is
loaded back with ``keras.models.load_model``.

Run: ``python examples/callbacks_in_fit.py`` (``--small`` for a few-second run).
"""

import json
import os
import sys
import tempfile

import tapegrad as keras
from tapegrad.datasets import load_digits  # data loading: the shipped 8x8 digits

SMALL = "--small" in sys.argv
keras.utils.set_random_seed(99)


def get_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(64,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


class CustomCallback(keras.callbacks.Callback):
    """Counts the hooks it sees, and records what ``fit`` reports at each epoch's end."""

    def __init__(self):
        super().__init__()
        self.calls = {}
        self.epoch_logs = []

    def _count(self, hook):
        self.calls[hook] = self.calls.get(hook, 0) + 1

    def on_train_begin(self, logs=None):
        self._count("on_train_begin")

    def on_train_end(self, logs=None):
        self._count("on_train_end")
        print("Stop training; last logs:", sorted(logs))

    def on_epoch_begin(self, epoch, logs=None):
        self._count("on_epoch_begin")

    def on_epoch_end(self, epoch, logs=None):
        self._count("on_epoch_end")
        self.epoch_logs.append(dict(logs))
        print(f"End epoch {epoch}; learning rate {float(self.model.optimizer.learning_rate):g}")

    def on_test_begin(self, logs=None):
        self._count("on_test_begin")

    def on_test_end(self, logs=None):
        self._count("on_test_end")

    def on_predict_begin(self, logs=None):
        self._count("on_predict_begin")

    def on_predict_end(self, logs=None):
        self._count("on_predict_end")

    def on_train_batch_end(self, batch, logs=None):
        self._count("on_train_batch_end")

    def on_test_batch_end(self, batch, logs=None):
        self._count("on_test_batch_end")

    def on_predict_batch_end(self, batch, logs=None):
        self._count("on_predict_batch_end")


x, y = load_digits(return_images=False)
x = x.astype("float32") / 16
x_train, y_train = x[:1500], y[:1500]
x_test, y_test = x[1500:], y[1500:]
if SMALL:
    x_train, y_train = x_train[:320], y_train[:320]

checkpoint_dir = tempfile.mkdtemp()
checkpoint_path = os.path.join(checkpoint_dir, "best.keras")
log_path = os.path.join(checkpoint_dir, "training.csv")
custom = CustomCallback()
callbacks = [
    keras.callbacks.EarlyStopping(
        # Stop training when `val_loss` is no longer improving
        monitor="val_loss",
        # "no longer improving" being defined as "no better than 1e-3 less"
        min_delta=1e-3,
        # "no longer improving" being further defined as "for at least 2 epochs"
        patience=2,
        restore_best_weights=True,
        verbose=1,
    ),
    keras.callbacks.ModelCheckpoint(
        # Path where to save the model
        filepath=checkpoint_path,
        # The saved model is overwritten only when `val_loss` has improved.
        save_best_only=True,
        monitor="val_loss",
        verbose=1,
    ),
    keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_lr=1e-4),
    keras.callbacks.CSVLogger(log_path),
    custom,
]

model = get_model()
history = model.fit(
    x_train,
    y_train,
    epochs=4 if SMALL else 30,
    batch_size=64,
    validation_split=0.2,
    callbacks=callbacks,
    verbose=2,
)
scores = model.evaluate(x_test, y_test, batch_size=100, callbacks=[custom], verbose=0)
predictions = model.predict(x_test[:10], batch_size=5, callbacks=[custom], verbose=0)
print("hooks called:", custom.calls)

best = keras.models.load_model(checkpoint_path)
best_scores = best.evaluate(x_test, y_test, verbose=0)
print("test loss, accuracy of the best checkpoint:", best_scores)
with open(log_path) as log_file:
    header = log_file.readline().strip().split(",")

print(
    "RESULT",
    json.dumps(
        {
            "losses": [float(v) for v in history.history["loss"]],
            "final": {"test_loss": float(scores[0]), "best_test_loss": float(best_scores[0])},
            "shapes": {
                "predictions": list(predictions.shape),
                "hooks": custom.calls,
                "epoch_log_keys": sorted(custom.epoch_logs[-1]),
                "csv_columns": sorted(header),
            },
        }
    ),
)

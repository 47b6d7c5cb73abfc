"""Overriding ``train_step`` and ``test_step`` (after the Keras 3 guide "Customizing what
happens in fit() with TensorFlow").

The guide's program with ``import tensorflow as tf`` changed to ``import tapegrad as tf``
(for ``tf.GradientTape``). A ``Model`` subclass writes its own training step with its own
``Metric`` trackers listed in the ``metrics`` property, so that ``fit`` resets them every
epoch; a second model overrides ``test_step`` and ``evaluate`` uses it.

Run: ``python examples/customizing_fit.py`` (``--small`` for a few-second run).
"""

import json
import sys

import numpy as np

import tapegrad as keras
import tapegrad as tf
from tapegrad import layers

SMALL = "--small" in sys.argv
keras.utils.set_random_seed(2024)

loss_tracker = keras.metrics.Mean(name="loss")
mae_metric = keras.metrics.MeanAbsoluteError(name="mae")


class CustomModel(keras.Model):
    def train_step(self, data):
        x, y = data

        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)  # Forward pass
            # Compute our own loss
            loss = keras.losses.mean_squared_error(y, y_pred)

        # Compute gradients
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)

        # Update weights
        self.optimizer.apply(gradients, trainable_vars)

        # Compute our own metrics
        loss_tracker.update_state(loss)
        mae_metric.update_state(y, y_pred)
        return {"loss": loss_tracker.result(), "mae": mae_metric.result()}

    @property
    def metrics(self):
        # We list our `Metric` objects here so that `reset_states()` can be
        # called automatically at the start of each epoch
        # or at the start of `evaluate()`.
        return [loss_tracker, mae_metric]


# Construct an instance of CustomModel
inputs = keras.Input(shape=(32,))
outputs = keras.layers.Dense(1)(inputs)
model = CustomModel(inputs, outputs)

# We don't pass a loss or metrics here.
model.compile(optimizer="adam")

# Just use `fit` as usual -- you can use callbacks, etc.
num_samples = 256 if SMALL else 1000
x = np.random.random((num_samples, 32)).astype("float32")
y = (x @ np.linspace(-1.0, 1.0, 32).astype("float32"))[:, None] + 0.5
history = model.fit(x, y, epochs=3 if SMALL else 10, verbose=2)


class EvalModel(keras.Model):
    def test_step(self, data):
        # Unpack the data
        x, y = data
        # Compute predictions
        y_pred = self(x, training=False)
        # Updates the metrics tracking the loss
        loss = self.compute_loss(y=y, y_pred=y_pred)
        # Update the metrics.
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        # Return a dict mapping metric names to current value.
        # Note that it will include the loss (tracked in self.metrics).
        return {m.name: m.result() for m in self.metrics}


# Construct an instance of EvalModel
inputs = keras.Input(shape=(32,))
outputs = layers.Dense(1)(inputs)
eval_model = EvalModel(inputs, outputs)
eval_model.compile(loss="mse", metrics=["mae"])

# Evaluate with our custom test_step
scores = eval_model.evaluate(x, y, return_dict=True, verbose=0)
print("custom test_step:", scores)
predictions = model.predict(x[:10], verbose=0)

print(
    "RESULT",
    json.dumps(
        {
            "losses": [float(v) for v in history.history["loss"]],
            "final": {"mae": float(history.history["mae"][-1])},
            "shapes": {"predictions": list(predictions.shape), "scores": sorted(scores)},
        }
    ),
)

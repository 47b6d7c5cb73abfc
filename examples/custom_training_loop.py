"""A training loop written from scratch (after the Keras 3 guide "Writing a training loop
from scratch in TensorFlow").

The guide's program with ``import tensorflow as tf`` changed to ``import tapegrad as tf``:
tapegrad provides TensorFlow's ``GradientTape`` and ``function``, so the same loop of
forward pass, ``tape.gradient`` and ``optimizer.apply`` runs, first eagerly and then
compiled with ``@tf.function``. Batching is done with NumPy instead of ``tf.data``.

Run: ``python examples/custom_training_loop.py`` (``--small`` for a few-second run).
"""

import json
import sys
import time

import numpy as np

import tapegrad as keras
import tapegrad as tf
from tapegrad.datasets import load_digits  # data loading: the shipped 8x8 digits

SMALL = "--small" in sys.argv
keras.utils.set_random_seed(1234)


def get_model():
    inputs = keras.Input(shape=(64,), name="digits")
    x1 = keras.layers.Dense(64, activation="relu")(inputs)
    x2 = keras.layers.Dense(64, activation="relu")(x1)
    outputs = keras.layers.Dense(10, name="predictions")(x2)
    return keras.Model(inputs=inputs, outputs=outputs)


# Prepare the training dataset.
batch_size = 32
x, y = load_digits(return_images=False)
x = x.astype("float32") / 16
x_train, y_train = x[:1500], y[:1500]
x_test, y_test = x[1500:], y[1500:]
if SMALL:
    x_train, y_train = x_train[:320], y_train[:320]

# Reserve 20% of the samples for validation.
num_val = len(x_train) // 5
x_val, y_val = x_train[-num_val:], y_train[-num_val:]
x_train, y_train = x_train[:-num_val], y_train[:-num_val]


def batches(x, y, batch_size, shuffle=False):
    order = np.random.permutation(len(x)) if shuffle else np.arange(len(x))
    for start in range(0, len(x), batch_size):
        index = order[start : start + batch_size]
        yield x[index], y[index]


model = get_model()

# Instantiate an optimizer to train the model.
optimizer = keras.optimizers.Adam(learning_rate=1e-3)
# Instantiate a loss function.
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

# Prepare the metrics.
train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
val_acc_metric = keras.metrics.SparseCategoricalAccuracy()

epoch_losses = []

# First epoch: the eager loop, exactly as the guide writes it first.
for epoch in range(1):
    print(f"\nStart of epoch {epoch}")
    batch_losses = []
    for step, (x_batch_train, y_batch_train) in enumerate(
        batches(x_train, y_train, batch_size, shuffle=True)
    ):
        # Open a GradientTape to record the operations run
        # during the forward pass, which enables auto-differentiation.
        with tf.GradientTape() as tape:
            # Run the forward pass of the layer.
            # The operations that the layer applies
            # to its inputs are going to be recorded
            # on the GradientTape.
            logits = model(x_batch_train, training=True)  # Logits for this minibatch

            # Compute the loss value for this minibatch.
            loss_value = loss_fn(y_batch_train, logits)

        # Use the gradient tape to automatically retrieve
        # the gradients of the trainable variables with respect to the loss.
        grads = tape.gradient(loss_value, model.trainable_weights)

        # Run one step of gradient descent by updating
        # the value of the variables to minimize the loss.
        optimizer.apply(grads, model.trainable_weights)
        batch_losses.append(float(loss_value))

        # Log every 5 batches.
        if step % 5 == 0:
            print(f"Training loss (for 1 batch) at step {step}: {float(loss_value):.4f}")
    epoch_losses.append(float(np.mean(batch_losses)))


# Then the guide's speed-up: the same step compiled with tf.function.
@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss_value = loss_fn(y, logits)
    grads = tape.gradient(loss_value, model.trainable_weights)
    optimizer.apply(grads, model.trainable_weights)
    train_acc_metric.update_state(y, logits)
    return loss_value


@tf.function
def test_step(x, y):
    val_logits = model(x, training=False)
    val_acc_metric.update_state(y, val_logits)


epochs = 3 if SMALL else 10
for epoch in range(1, epochs):
    print(f"\nStart of epoch {epoch}")
    start_time = time.time()
    batch_losses = []

    # Iterate over the batches of the dataset.
    for x_batch_train, y_batch_train in batches(x_train, y_train, batch_size, shuffle=True):
        loss_value = train_step(x_batch_train, y_batch_train)
        batch_losses.append(float(loss_value))

    # Display metrics at the end of each epoch.
    train_acc = train_acc_metric.result()
    print(f"Training acc over epoch: {float(train_acc):.4f}")
    epoch_losses.append(float(np.mean(batch_losses)))

    # Reset training metrics at the end of each epoch
    train_acc_metric.reset_state()

    # Run a validation loop at the end of each epoch.
    for x_batch_val, y_batch_val in batches(x_val, y_val, batch_size):
        test_step(x_batch_val, y_batch_val)

    val_acc = val_acc_metric.result()
    val_acc_metric.reset_state()
    print(f"Validation acc: {float(val_acc):.4f}")
    print(f"Time taken: {time.time() - start_time:.2f}s")

test_logits = model(x_test, training=False)
test_loss = loss_fn(y_test, test_logits)
print(
    "RESULT",
    json.dumps(
        {
            "losses": epoch_losses,
            "final": {"test_loss": float(test_loss), "val_accuracy": float(val_acc)},
            "shapes": {"test_logits": list(test_logits.shape)},
        }
    ),
)

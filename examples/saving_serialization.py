"""Saving, reloading and serializing models with custom objects (after the Keras 3 guide
"Save, serialize, and export models").

A custom layer and a custom activation function are registered with
``keras.saving.register_keras_serializable``; the model is saved to a ``.keras`` file and
loaded back with ``keras.models.load_model``. An unregistered custom layer is loaded by
passing ``custom_objects``; ``get_config``/``from_config``, ``to_json``/``model_from_json``
and ``clone_model`` rebuild the architecture, ``get_weights``/``set_weights`` move weights.

Run: ``python examples/saving_serialization.py`` (``--small`` for a few-second run).
"""

import json
import os
import sys
import tempfile

import numpy as np

import tapegrad as keras

SMALL = "--small" in sys.argv
keras.utils.set_random_seed(31)


@keras.saving.register_keras_serializable(package="my_package", name="custom_fn")
def custom_fn(x):
    return x**2


@keras.saving.register_keras_serializable(package="MyLayers")
class CustomLayer(keras.layers.Layer):
    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor})
        return config


class ScaledDense(keras.layers.Layer):
    """A dense layer with a trainable scale; not registered, so loading needs custom_objects."""

    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="glorot_uniform", trainable=True
        )
        self.scale = self.add_weight(shape=(), initializer="ones", trainable=True)

    def call(self, inputs):
        return keras.ops.matmul(inputs, self.w) * self.scale

    def get_config(self):
        return {**super().get_config(), "units": self.units}


# Create the model.
def get_model():
    inputs = keras.Input(shape=(4,))
    mid = CustomLayer(0.5)(inputs)
    mid = ScaledDense(8, name="scaled_dense")(mid)
    outputs = keras.layers.Dense(1, activation=custom_fn)(mid)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="mean_squared_error")
    return model


num_samples = 64 if SMALL else 512
x = np.random.random((num_samples, 4)).astype("float32")
y = (x.sum(axis=1, keepdims=True) / 4).astype("float32")

# Train the model.
model = get_model()
history = model.fit(x, y, epochs=2 if SMALL else 10, verbose=2)

# Save the model.
directory = tempfile.mkdtemp()
path = os.path.join(directory, "custom_model.keras")
model.save(path)

# Reload: the registered objects are found by name, the unregistered layer is passed in.
reconstructed_model = keras.models.load_model(path, custom_objects={"ScaledDense": ScaledDense})

# Let's check:
np.testing.assert_allclose(
    model.predict(x, verbose=0), reconstructed_model.predict(x, verbose=0), rtol=1e-6
)
# The reloaded model is compiled, with its optimizer state: training goes on from there.
reloaded_history = reconstructed_model.fit(x, y, epochs=1, verbose=0)

# The same with a custom_object_scope.
with keras.saving.custom_object_scope({"ScaledDense": ScaledDense}):
    scoped_model = keras.saving.load_model(path)
np.testing.assert_allclose(
    model.predict(x, verbose=0), scoped_model.predict(x, verbose=0), rtol=1e-6
)

# Configuration only: a fresh model with the same architecture, then the weights.
config = model.get_config()
with keras.saving.custom_object_scope({"ScaledDense": ScaledDense}):
    new_model = keras.Model.from_config(config)
    json_model = keras.models.model_from_json(model.to_json())
new_model.set_weights(model.get_weights())
json_model.set_weights(model.get_weights())
np.testing.assert_allclose(model.predict(x, verbose=0), new_model.predict(x, verbose=0))
np.testing.assert_allclose(model.predict(x, verbose=0), json_model.predict(x, verbose=0))

# clone_model: same architecture, freshly initialized weights.
clone = keras.models.clone_model(model)
print("clone has", len(clone.weights), "weights like the original's", len(model.weights))

# serialize / deserialize a single object.
serialized = keras.saving.serialize_keras_object(CustomLayer(3.0, name="triple"))
layer = keras.saving.deserialize_keras_object(serialized)
print("deserialized:", type(layer).__name__, layer.factor, layer.name)
print("registered as:", keras.saving.get_registered_name(CustomLayer))

print(
    "RESULT",
    json.dumps(
        {
            "losses": [float(v) for v in history.history["loss"]]
            + [float(reloaded_history.history["loss"][0])],
            "final": {"factor": float(layer.factor)},
            "shapes": {
                "weights": [list(w.shape) for w in model.get_weights()],
                "clone_weights": len(clone.weights),
                "registered": keras.saving.get_registered_name(CustomLayer),
                "layer_name": layer.name,
            },
        }
    ),
)

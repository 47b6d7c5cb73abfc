"""IntegerLookup: Keras 3.15's arguments and numbers (its documented examples), adapt,
configs and saving."""

import json
import os
import zipfile

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.layers import IntegerLookup

VOCAB = [12, 36, 1138, 42]
DATA = np.array([[12, 1138, 42, 42], [42, 7, 36, 7]])

# (arguments, inputs, expected): Keras 3.15's own docstring examples of IntegerLookup.
KERAS_EXAMPLES = [
    (dict(vocabulary=VOCAB), np.array([[12, 1138, 42], [42, 1000, 36]]), [[1, 3, 4], [4, 0, 2]]),
    (
        dict(vocabulary=VOCAB, num_oov_indices=2),
        np.array([[12, 1138, 42], [37, 1000, 36]]),
        [[2, 4, 5], [1, 0, 3]],
    ),
    (
        dict(vocabulary=[10, 20, 30], num_oov_indices=4, oov_method="floormod"),
        np.array([100, 300, 700, 1100, 1700, 2000]),
        [0, 0, 0, 0, 0, 0],
    ),
    (
        dict(vocabulary=VOCAB, output_mode="one_hot"),
        np.array([12, 36, 1138, 42, 7]),
        [
            [0, 1, 0, 0, 0],
            [0, 0, 1, 0, 0],
            [0, 0, 0, 1, 0],
            [0, 0, 0, 0, 1],
            [1, 0, 0, 0, 0],
        ],
    ),
    (dict(vocabulary=VOCAB, output_mode="multi_hot"), DATA, [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]]),
    (dict(vocabulary=VOCAB, output_mode="count"), DATA, [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]]),
    (
        dict(output_mode="tf_idf", vocabulary=VOCAB, idf_weights=[0.25, 0.75, 0.6, 0.4]),
        DATA,
        [[0, 0.25, 0, 0.6, 0.8], [1.0, 0, 0.75, 0, 0.4]],
    ),
    (
        dict(
            output_mode="tf_idf",
            vocabulary=[-1, *VOCAB],
            idf_weights=[0.9, 0.25, 0.75, 0.6, 0.4],
        ),
        DATA,
        [[0, 0.25, 0, 0.6, 0.8], [1.8, 0, 0.75, 0, 0.4]],
    ),
    (
        dict(vocabulary=VOCAB, invert=True),
        np.array([[1, 3, 4], [4, 0, 2]]),
        [[12, 1138, 42], [42, -1, 36]],
    ),
]


@pytest.mark.parametrize(("arguments", "inputs", "expected"), KERAS_EXAMPLES)
def test_keras_documented_examples(arguments, inputs, expected):
    out = IntegerLookup(**arguments)(inputs)
    np.testing.assert_allclose(out.numpy(), np.asarray(expected), rtol=1e-6)
    float_mode = arguments.get("output_mode", "int") != "int"
    assert out.dtype == (np.float32 if float_mode else np.int64)


def test_adapt_orders_by_frequency_then_larger_token():
    data = np.array([[12, 1138, 42], [42, 1000, 36]])
    layer = IntegerLookup()
    layer.adapt(data)
    assert layer.get_vocabulary() == [-1, 42, 1138, 1000, 36, 12]  # Keras' documented result
    np.testing.assert_array_equal(layer(data).numpy(), [[5, 2, 1], [1, 3, 4]])
    assert layer.get_vocabulary(include_special_tokens=False) == [42, 1138, 1000, 36, 12]
    assert layer.vocabulary_size() == 6
    capped = IntegerLookup(max_tokens=3, mask_token=0)
    capped.adapt(np.array([[0, 0, 0, 5, 5, 9, 7]]))  # the mask token is never a term
    assert capped.get_vocabulary() == [0, -1, 5]


def test_adapt_on_batches_and_tf_idf_weights():
    batches = [(np.array([[1, 2, 2]]), np.zeros(1)), (np.array([[2, 3, 3], [3, 4, 1]]), None)]
    layer = IntegerLookup(output_mode="tf_idf")
    layer.adapt(iter(batches))
    # counts: 2 -> 3, 3 -> 3, 1 -> 2, 4 -> 1 (ties: the larger token first)
    assert layer.get_vocabulary() == [-1, 3, 2, 1, 4]
    documents = np.array([2, 2, 2, 1])  # documents holding 3, 2, 1, 4 (of 3)
    idf = np.log(1 + 3 / (1 + documents))
    out = layer(np.array([[3, 3, 9]])).numpy()
    expected = np.concatenate([[idf.mean()], 2 * idf[:1], [0, 0, 0]])
    np.testing.assert_allclose(out[0], expected, rtol=1e-6)
    first_only = IntegerLookup()
    first_only.adapt(iter(batches), steps=1)
    assert first_only.get_vocabulary() == [-1, 2, 1]


def test_mask_token_invert_and_padding():
    layer = IntegerLookup(vocabulary=VOCAB, mask_token=0)
    assert layer.get_vocabulary() == [0, -1, *VOCAB]
    np.testing.assert_array_equal(layer(np.array([[12, 0, 7]])).numpy(), [[2, 0, 1]])
    inverse = IntegerLookup(vocabulary=layer.get_vocabulary(), mask_token=0, invert=True)
    np.testing.assert_array_equal(inverse(np.array([[2, 0, 1, 9]])).numpy(), [[12, 0, -1, -1]])
    # Encodings leave the mask token out and take no index for it.
    hot = IntegerLookup(vocabulary=VOCAB, mask_token=0, output_mode="multi_hot")
    np.testing.assert_array_equal(hot(np.array([[0, 12, 0]])).numpy(), [[0, 1, 0, 0, 0]])
    padded = IntegerLookup(
        vocabulary=VOCAB, output_mode="count", max_tokens=8, pad_to_max_tokens=True
    )
    assert padded(np.array([[36, 36]])).numpy().tolist() == [[0, 0, 2, 0, 0, 0, 0, 0]]


def test_errors_are_clear():
    with pytest.raises(ValueError, match="sparse"):
        IntegerLookup(vocabulary=VOCAB, output_mode="multi_hot", sparse=True)
    with pytest.raises(ValueError, match="farmhash"):
        IntegerLookup(vocabulary=VOCAB, num_oov_indices=2, oov_method="farmhash")
    with pytest.raises(ValueError, match="num_oov_indices=0"):
        IntegerLookup(vocabulary=VOCAB, num_oov_indices=0)(np.array([12, 5]))
    with pytest.raises(ValueError, match="repeated"):
        IntegerLookup(vocabulary=[1, 2, 1])
    with pytest.raises(ValueError, match="max_tokens"):
        IntegerLookup(vocabulary=VOCAB, max_tokens=3)
    with pytest.raises(ValueError, match="cannot adapt"):
        IntegerLookup(vocabulary=VOCAB).adapt(np.array([1, 2]))
    with pytest.raises(RuntimeError, match="needs its vocabulary"):
        IntegerLookup(output_mode="one_hot")(np.array([1]))
    with pytest.raises(ValueError, match="invert"):
        IntegerLookup(invert=True, output_mode="count")
    with pytest.raises(ValueError, match="file"):
        IntegerLookup(vocabulary="vocabulary.txt")
    with pytest.raises(TypeError, match="integer"):
        IntegerLookup(vocabulary=VOCAB)(np.array([1.5]))


def test_config_round_trip_and_saved_vocabulary(tmp_path):
    layer = IntegerLookup(vocabulary=VOCAB, num_oov_indices=2, mask_token=0, name="lookup")
    config = layer.get_config()
    keras_keys = {
        "name", "trainable", "dtype", "invert", "max_tokens", "num_oov_indices", "oov_token",
        "mask_token", "output_mode", "sparse", "pad_to_max_tokens", "vocabulary_dtype",
        "idf_weights", "vocabulary", "vocabulary_size", "oov_method", "salt",
    }  # fmt: skip
    assert keras_keys <= set(config)
    again = IntegerLookup.from_config(config)
    np.testing.assert_array_equal(again(DATA).numpy(), layer(DATA).numpy())
    # An adapted layer inside a model: the archive holds its vocabulary as data.
    adapted = IntegerLookup(output_mode="tf_idf")
    adapted.adapt(DATA)
    inputs = tg.Input((4,), dtype="int64")
    model = tg.Model(inputs, tg.layers.Dense(2)(adapted(inputs)))
    model.save(tmp_path / "lookup.keras")
    with zipfile.ZipFile(tmp_path / "lookup.keras") as archive:
        stored = json.loads(archive.read("config.json"))
    assert "42" in json.dumps(stored)  # the learned tokens, as JSON numbers
    loaded = tg.saving.load_model(tmp_path / "lookup.keras")
    np.testing.assert_allclose(loaded(DATA).numpy(), model(DATA).numpy(), rtol=1e-6)


def test_compiled_model_equals_eager():
    lookup = IntegerLookup(vocabulary=VOCAB, output_mode="multi_hot")
    inputs = tg.Input((4,), dtype="int64")
    model = tg.Model(inputs, tg.layers.Dense(1)(lookup(inputs)))
    model.compile(optimizer="sgd", loss="mse")
    compiled = model.predict(DATA, verbose=0)
    np.testing.assert_allclose(compiled, model(DATA).numpy(), rtol=1e-6)


def test_equals_keras_where_keras_runs():
    # Keras 3.15's IntegerLookup runs on TensorFlow only.
    pytest.importorskip("tensorflow", reason="Keras' IntegerLookup needs TensorFlow")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    try:
        reference = keras.layers.IntegerLookup(vocabulary=VOCAB, output_mode="count")
    except ImportError:
        pytest.skip("Keras 3.15's IntegerLookup needs TensorFlow, which is not installed")
    ours = IntegerLookup(vocabulary=VOCAB, output_mode="count")
    np.testing.assert_allclose(ours(DATA).numpy(), np.asarray(reference(DATA)), rtol=1e-6)

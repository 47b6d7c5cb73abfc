"""EinsumDense: weight shapes and output shapes as Keras 3.15 computes them for every
equation form, values against NumPy's einsum, `run_layer_test` (gradients included),
configs, errors."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers
from tests.nn.layer_test_utils import run_layer_test

# (equation, output_shape, bias_axes, input shape, Keras 3.15's weight shapes)
CASES = [
    ("ab,bc->ac", 4, None, (2, 3), [(3, 4)]),
    ("abc,cd->abd", (5, 4), "d", (2, 5, 3), [(3, 4), (4,)]),
    ("abc,cde->abde", (5, 2, 4), "de", (2, 5, 3), [(3, 2, 4), (2, 4)]),
    ("...b,bc->...c", 4, "c", (2, 3, 5, 3), [(3, 4), (4,)]),
    ("abc...,cd->abd...", (5, 4, 6), "d", (2, 5, 3, 6), [(3, 4), (4, 1)]),
    ("abcd,cde->abe", (4, 2), "e", (2, 4, 3, 5), [(3, 5, 2), (2,)]),
    ("abc,bcd->ad", 3, None, (2, 4, 5), [(4, 5, 3)]),
]


@pytest.mark.parametrize(("equation", "output_shape", "bias_axes", "shape", "weights"), CASES)
def test_einsum_dense_shapes_and_values(equation, output_shape, bias_axes, shape, weights):
    layer = layers.EinsumDense(
        equation, output_shape, bias_axes=bias_axes, activation="tanh",
        bias_initializer="random_normal", dtype="float64",
    )  # fmt: skip
    x = np.random.default_rng(0).standard_normal(shape)
    out = layer(x).numpy()
    assert [w.shape for w in layer.weights] == weights
    expected = np.einsum(equation, x, layer.kernel.numpy())
    if layer.bias is not None:
        expected = expected + layer.bias.numpy()
    np.testing.assert_allclose(out, np.tanh(expected), rtol=1e-12)
    run_layer_test(
        layers.EinsumDense,
        {"equation": equation, "output_shape": output_shape, "bias_axes": bias_axes},
        input_shape=shape,
        expected_output_shape=out.shape,
        expected_num_trainable_weights=len(weights),
    )


def test_einsum_dense_config_compiled_and_errors():
    layer = layers.EinsumDense("abc,cd->abd", (5, 4), bias_axes="d")
    config = layer.get_config()
    assert (config["equation"], config["output_shape"], config["bias_axes"]) == (
        "abc,cd->abd",
        [5, 4],
        "d",
    )
    x = tg.tensor(np.ones((2, 5, 3), np.float32))
    np.testing.assert_allclose(tg.function(lambda v: layer(v))(x).numpy(), layer(x).numpy())
    assert layer.compute_output_shape((None, 5, 3)) == (None, 5, 4)
    with pytest.raises(ValueError, match="einsum equation"):
        layers.EinsumDense("ab->a", 2)(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="bias axes"):
        layers.EinsumDense("ab,bc->ac", 2, bias_axes="x")(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="shared dimension"):
        layers.EinsumDense("abc,cd->abd", (6, 4))(np.ones((2, 5, 3), np.float32))

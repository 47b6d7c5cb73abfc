"""`einsum_dense`: equations with a dense form run as `dense` (reshapes around one GEMM,
bias added in place) with the values and gradients of einsum + add, eagerly and traced;
every other equation or bias takes einsum + add."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers
from tapegrad.nn.layers.einsum_dense import dense_form, einsum_dense

RNG = np.random.default_rng(5)

# (equation, input shape, kernel shape, bias shape or None)
CASES = [
    ("abc,cde->abde", (3, 4, 5), (5, 2, 3), (2, 3)),
    ("abcd,cde->abe", (3, 4, 2, 3), (2, 3, 5), (5,)),
    ("abc,cd->abd", (2, 4, 5), (5, 3), (3,)),
    ("...b,bc->...c", (2, 3, 4, 5), (5, 3), (3,)),
    ("ab,bc->ac", (4, 5), (5, 3), None),
    ("abc,bcd->ad", (3, 4, 5), (4, 5, 2), (2,)),
    ("abc,cde->abde", (3, 4, 5), (5, 2, 3), (1, 3)),  # bias on one added axis: einsum + add
    ("abc,dc->abd", (3, 4, 5), (2, 5), (2,)),  # kernel's contracted axis last: einsum + add
]


def _reference(equation, x, kernel, bias):
    out = tg.numpy.einsum(equation, x, kernel)
    return out if bias is None else out + bias


def _value_and_grads(fn, equation, args, traced):
    def step(*values):
        with tg.GradientTape() as tape:
            tape.watch(list(values))
            out = fn(equation, *values, *([None] if len(values) == 2 else []))
            loss = tg.numpy.sum(tg.numpy.tanh(out) ** 2)
        return [out, *tape.gradient(loss, list(values))]

    run = tg.function(step) if traced else step
    return [np.asarray(v) for v in run(*[tg.tensor(a) for a in args])]


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "traced"])
@pytest.mark.parametrize(("equation", "x_shape", "k_shape", "b_shape"), CASES)
def test_values_and_gradients_equal_einsum_plus_add(equation, x_shape, k_shape, b_shape, traced):
    args = [RNG.standard_normal(s) for s in (x_shape, k_shape) + ((b_shape,) if b_shape else ())]
    got = _value_and_grads(einsum_dense, equation, args, traced)
    want = _value_and_grads(_reference, equation, args, False)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_the_dense_route_records_one_dense_entry():
    x, kernel, bias = (tg.tensor(RNG.standard_normal(s)) for s in ((3, 4, 5), (5, 6), (6,)))
    with tg.GradientTape() as tape:
        tape.watch([x, kernel, bias])
        einsum_dense("abc,cd->abd", x, kernel, bias)
    assert [entry[0].name for entry in tape._entries] == ["dense"]
    assert dense_form("abc,cd->abd") == (1, 1)


def test_einsum_dense_layer_trains_compiled_at_two_batch_sizes_like_eager():
    def model(jit_compile):
        inputs = tg.Input((4, 6))
        hidden = layers.EinsumDense("abc,cde->abde", (4, 2, 3), bias_axes="de")(inputs)
        outputs = layers.Dense(1)(layers.Flatten()(hidden))
        net = tg.Model(inputs, outputs)
        net.compile(optimizer="sgd", loss="mse", jit_compile=jit_compile)
        return net

    eager, compiled = model(False), model(True)
    compiled.set_weights(eager.get_weights())
    for batch in (8, 3):
        x = RNG.standard_normal((batch, 4, 6)).astype(np.float32)
        y = RNG.standard_normal((batch, 1)).astype(np.float32)
        want, got = eager.train_on_batch(x, y), compiled.train_on_batch(x, y)
        np.testing.assert_allclose(got, want, rtol=1e-5)
    for g, w in zip(compiled.get_weights(), eager.get_weights(), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)

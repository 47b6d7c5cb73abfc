"""The fused layer normalization (`layer_norm` and its gradient primitives) against
finite differences and against its composite (values, gradients, second order, forward
mode, compiled), and `ops.layer_normalization` / `LayerNormalization` built on it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import ops
from tapegrad.core import prims as P

RNG = np.random.default_rng(23)


def composite(x: Any, gamma: Any, beta: Any, axes: tuple[int, ...], epsilon: float) -> Any:
    """The reference: Keras's formula from separate ops."""
    mean = tnp.mean(x, axis=axes, keepdims=True)
    variance = tnp.mean(tnp.square(x - mean), axis=axes, keepdims=True)
    return (x - mean) / tnp.sqrt(variance + epsilon) * gamma + beta


def fused(x: Any, gamma: Any, beta: Any, axes: tuple[int, ...], epsilon: float) -> Any:
    return ops.layer_normalization(x, gamma, beta, axis=axes, epsilon=epsilon)


# (x shape, normalized axes, gamma shape, beta shape): gamma/beta broadcast in every way the
# op accepts, including the full-rank shape with leading ones that Keras's reshape gives.
CASES = {
    "last_axis": ((3, 4), (1,), (4,), (4,)),
    "two_trailing": ((2, 3, 4), (1, 2), (3, 4), (3, 4)),
    "gamma_broadcast": ((2, 3, 4), (1, 2), (4,), (1, 4)),
    "scalar_weights": ((2, 5), (1,), (), ()),
    "full_rank_weights": ((2, 3, 4), (2,), (1, 1, 4), (4,)),
    "one_dimensional": ((6,), (0,), (6,), (6,)),
}


def _case(name: str, dtype: Any = np.float64) -> tuple[np.ndarray, ...]:
    shape, _, g_shape, b_shape = CASES[name]
    return tuple(
        RNG.normal(size=s).astype(dtype) * scale + offset
        for s, scale, offset in ((shape, 2.0, 1.5), (g_shape, 1.0, 0.0), (b_shape, 1.0, 0.0))
    )


@pytest.mark.parametrize("case", CASES)
def test_the_primitive_is_used_and_equals_the_composite(case: str) -> None:
    x, gamma, beta = _case(case)
    axes = CASES[case][1]
    traced = tg.function(lambda x: fused(x, gamma, beta, axes, 1e-3))
    traced(x)
    names = [node.primitive for node in traced.get_concrete_function(x).graph.nodes]
    assert "layer_norm" in names
    weights = RNG.normal(size=x.shape)

    def loss(f: Any) -> Any:
        return lambda x, g, b: tnp.sum(f(x, g, b, axes, 1e-3) ** 2 * weights)

    np.testing.assert_allclose(
        np.asarray(fused(x, gamma, beta, axes, 1e-3)),
        np.asarray(composite(x, gamma, beta, axes, 1e-3)),
        atol=1e-12,
    )
    for got, want in zip(
        tg.grad(loss(fused), argnums=(0, 1, 2))(x, gamma, beta),
        tg.grad(loss(composite), argnums=(0, 1, 2))(x, gamma, beta),
        strict=True,
    ):
        assert np.shape(got) == np.shape(want)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-10)
    # Second order: reverse over reverse, and forward over reverse.
    direction = RNG.normal(size=x.shape)
    results = []
    for f in (fused, composite):
        grad_x = tg.grad(loss(f))
        hvp = tg.grad(
            lambda x, g, b, f=f: tnp.sum(tg.grad(loss(f))(x, g, b) * direction), argnums=(0, 1, 2)
        )(x, gamma, beta)
        fwd = tg.jvp(lambda x, grad_x=grad_x: grad_x(x, gamma, beta), (x,), (direction,))[1]
        results.append([np.asarray(h) for h in hvp] + [np.asarray(fwd)])
    for got, want in zip(*results, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-9)


def test_the_primitives_against_finite_differences() -> None:
    # Every result of `layer_norm` (mean and rstd too) and every argument of its gradient
    # primitive, both modes, second order.
    x, gamma, beta = _case("gamma_broadcast")

    def all_results(x: Any, gamma: Any, beta: Any) -> Any:
        y, mean, rstd = P.layer_norm_p(x, gamma, beta, trailing=2, epsilon=1e-3)
        return tnp.sum(y * y) + tnp.sum(mean**2) + tnp.sum(rstd * mean)

    tg.check_grads(all_results, (x, gamma, beta), order=2)
    g = RNG.normal(size=x.shape)
    mean = RNG.normal(size=(2, 1, 1))
    rstd = RNG.uniform(0.5, 2.0, size=(2, 1, 1))

    def grad_p(g: Any, x: Any, gamma: Any, mean: Any, rstd: Any) -> Any:
        return P.layer_norm_grad_p(g, x, gamma, mean, rstd, trailing=2)

    tg.check_grads(grad_p, (g, x, gamma, mean, rstd), order=2)

    def scale_grad_p(g: Any, x: Any, mean: Any, rstd: Any) -> Any:
        return P.layer_norm_scale_grad_p(g, x, mean, rstd, trailing=2)

    tg.check_grads(scale_grad_p, (g, x, mean, rstd), order=2)


def test_float32_is_computed_in_float32() -> None:
    x, gamma, beta = _case("two_trailing", np.float32)
    out = fused(x, gamma, beta, (1, 2), 1e-5)
    assert out.dtype == np.float32
    reference = composite(x.astype(np.float64), gamma, beta, (1, 2), 1e-5)
    np.testing.assert_allclose(out.numpy(), np.asarray(reference), rtol=1e-5, atol=1e-5)
    grads = tg.grad(lambda x, g: tnp.sum(fused(x, g, beta, (1, 2), 1e-5) ** 3), argnums=(0, 1))(
        x, gamma
    )
    assert [gr.dtype for gr in grads] == [np.float32, np.float32]


def test_empty_batch() -> None:
    x = np.zeros((0, 4))
    gamma = np.ones(4)
    assert fused(x, gamma, None, (1,), 1e-3).shape == (0, 4)
    grads = tg.grad(lambda x, g: tnp.sum(fused(x, g, None, (1,), 1e-3)), argnums=(0, 1))(x, gamma)
    assert grads[0].shape == (0, 4)
    np.testing.assert_array_equal(grads[1].numpy(), np.zeros(4))


@pytest.mark.parametrize(
    "x, axes",
    [
        (RNG.normal(size=(3, 4, 2)), (1,)),  # not the trailing axes
        (RNG.normal(size=(3, 4)).astype(np.float16), (1,)),  # computed by the composite
    ],
    ids=["middle_axis", "float16"],
)
def test_other_layouts_keep_the_composite(x: np.ndarray, axes: tuple[int, ...]) -> None:
    traced = tg.function(lambda x: ops.layer_normalization(x, axis=axes, epsilon=1e-3))
    out = traced(x)
    assert out.dtype == x.dtype
    names = [node.primitive for node in traced.get_concrete_function(x).graph.nodes]
    assert "layer_norm" not in names
    want = composite(x.astype(np.float64), 1.0, 0.0, axes, 1e-3)
    np.testing.assert_allclose(out.numpy().astype(np.float64), np.asarray(want), atol=2e-3)


def _model() -> Any:
    inputs = tg.Input((5, 6))
    x = tg.layers.Dense(6)(inputs)
    x = tg.layers.LayerNormalization(gamma_initializer="random_normal")(x)
    x = tg.layers.Lambda(lambda t: ops.layer_normalization(t, axis=(1, 2), epsilon=1e-3))(x)
    outputs = tg.layers.Dense(2)(tg.layers.Flatten()(x))
    return tg.Model(inputs, outputs)


def test_layer_compiled_saved_and_explained(tmp_path: Any) -> None:
    x = RNG.normal(size=(4, 5, 6)).astype(np.float32)
    y = RNG.normal(size=(4, 2)).astype(np.float32)
    model = _model()

    def loss() -> Any:
        return tnp.mean((model(x) - y) ** 2)

    def gradients() -> Any:
        with tg.GradientTape() as tape:
            value = loss()
        return tape.gradient(value, model.trainable_weights)

    eager = gradients()
    compiled = tg.function(gradients)()
    for got, want in zip(compiled, eager, strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-6)
    explanation = tg.explain(lambda x: tnp.sum(model(x)), x)
    assert "layer_norm" in [step.node.primitive for step in explanation.forward]
    assert "layer_norm_grad" in [step.node.primitive for step in explanation.backward]
    assert "layer_norm" in explanation.text()
    assert "layer_norm_grad" in explanation.to_dot()
    path = tmp_path / "ln.keras"
    model.save(path)
    loaded = tg.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("axis", [-1, (1, 2)], ids=["last", "two"])
def test_layer_against_keras_on_jax(axis: Any) -> None:
    harness = pytest.importorskip("tests.parity.harness")
    case = harness.LayerCase(
        "LayerNormalization",
        {
            "axis": axis,
            "epsilon": 1e-5,
            "gamma_initializer": "random_normal",
            "beta_initializer": "random_normal",
        },
        (RNG.normal(size=(2, 3, 4)).astype(np.float32) * 3 + 1,),
    )
    harness.check_layer(case)


# The parallel twins for float32 only: each compilation costs seconds on a cold cache.
@pytest.mark.parametrize(
    "dtype, parallel",
    [(np.float32, False), (np.float64, False), (np.float32, True)],
    ids=["float32", "float64", "float32-parallel"],
)
def test_numba_kernels_match_the_impls(dtype: Any, parallel: bool, monkeypatch: Any) -> None:
    pytest.importorskip("numba")
    from tapegrad.kernels import _numba, kernel_for, numba_layer_norm

    monkeypatch.setattr(_numba, "parallel", lambda size, min_size: parallel)
    x = (RNG.normal(size=(3, 5, 8)) * 3 + 2).astype(dtype)
    strided = np.repeat(x, 2, axis=-1)[..., ::2]  # the same values, not contiguous
    gamma, beta = RNG.normal(size=(1, 8)).astype(dtype), RNG.normal(size=()).astype(dtype)
    g = RNG.normal(size=x.shape).astype(dtype)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12}
    wide = gamma
    for trailing in (1, 2):
        params = {"trailing": trailing, "epsilon": 1e-5}
        gamma = wide if trailing == 2 else wide[0]
        assert kernel_for(P.layer_norm_p, x, gamma, beta, **params) is numba_layer_norm.layer_norm
        for values in (x, strided):
            got = numba_layer_norm.layer_norm(values, gamma, beta, **params)
            want = P.layer_norm_p.impl(values, gamma, beta, **params)
            for a, b in zip(got, want, strict=True):
                assert a.dtype == dtype and a.shape == b.shape
                np.testing.assert_allclose(a, b, **tol)
            _, mean, rstd = want
            args = (g, values, gamma, mean, rstd)
            chosen = kernel_for(P.layer_norm_grad_p, *args, trailing=trailing)
            assert chosen is numba_layer_norm.layer_norm_grad
            scale_args = (g, values, mean, rstd)
            chosen = kernel_for(P.layer_norm_scale_grad_p, *scale_args, trailing=trailing)
            assert chosen is numba_layer_norm.layer_norm_scale_grad
            got = numba_layer_norm.layer_norm_scale_grad(*scale_args, trailing=trailing)
            assert got.dtype == dtype
            np.testing.assert_allclose(
                got,
                P.layer_norm_scale_grad_p.impl(*scale_args, trailing=trailing),
                rtol=tol["rtol"] * 10,
                atol=tol.get("atol", 0) * 10,
            )
            np.testing.assert_allclose(
                numba_layer_norm.layer_norm_grad(*args, trailing=trailing),
                P.layer_norm_grad_p.impl(*args, trailing=trailing),
                **tol,
            )
    # A NaN stays in its row; other dtypes and mismatched statistics take the impl.
    x[0, 0, 3] = np.nan
    y = numba_layer_norm.layer_norm(x, wide[0], beta, trailing=1, epsilon=1e-5)[0]
    assert np.isnan(y[0, 0]).all()
    assert np.isfinite(y[0, 1:]).all()
    assert not numba_layer_norm.applies(x.astype(np.float16), gamma, beta, trailing=1, epsilon=0)
    assert not numba_layer_norm.applies_grad(g, x, gamma, mean[:1], rstd, trailing=2)
    assert not numba_layer_norm.applies(x, wide, beta, trailing=1, epsilon=0)


def test_compiled_fit_steps_are_batch_polymorphic_and_equal_eager() -> None:
    was = tg.config.is_batch_polymorphism_enabled()
    tg.config.enable_batch_polymorphism()
    try:
        twins = []
        for jit in (False, True):
            tg.utils.set_random_seed(0)
            model = _model()
            model.compile(tg.optimizers.SGD(0.05), "mse", jit_compile=jit)
            twins.append(model)
        eager, compiled = twins
        compiled.set_weights(eager.get_weights())
        for size in (8, 3, 1):
            x = RNG.normal(size=(size, 5, 6)).astype(np.float32)
            y = RNG.normal(size=(size, 2)).astype(np.float32)
            np.testing.assert_allclose(
                compiled.train_on_batch(x, y), eager.train_on_batch(x, y), rtol=1e-5
            )
            for a, b in zip(compiled.get_weights(), eager.get_weights(), strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
        assert compiled._compiled_steps["train"].tracing_count == 1
    finally:
        if not was:
            tg.config.disable_batch_polymorphism()

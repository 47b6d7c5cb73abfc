"""The kernel registry: every registered kernel against its primitive's reference impl
(values, and gradients where the primitive has VJP rules), with its engine on and off; the
engine switches; the choice of a kernel by array type."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.config
from tapegrad.core.primitive import PRIMITIVES, Primitive
from tapegrad.core.prims import (
    conv_input_grad_p,
    lstm_grad_p,
    lstm_p,
    max_pool_p,
    pool_argmax_p,
    pool_scatter_p,
    relu_p,
)
from tapegrad.core.prims import xent as prims_xent
from tapegrad.core.prims.attention import attention_softmax_grad_p, attention_softmax_p
from tapegrad.core.prims.elementwise import erf_p
from tapegrad.core.prims.gelu import gelu_grad_p, gelu_p
from tapegrad.core.prims.layer_norm import (
    layer_norm_grad_p,
    layer_norm_p,
    layer_norm_scale_grad_p,
)
from tapegrad.kernels import kernel_for, kernels_of, register_kernel
from tapegrad.kernels.numpy_fast import RELU_ZEROS_MIN_SIZE

RNG = np.random.default_rng(13)


@contextlib.contextmanager
def engine_off(name: str) -> Iterator[None]:
    was_on = name in tapegrad.config.enabled_engines()
    tapegrad.config.disable_engine(name)
    try:
        yield
    finally:
        if was_on:
            tapegrad.config.enable_engine(name)


@pytest.fixture(autouse=True)
def _freed_memory_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kernels that run only where freed memory is kept (`numba_conv`) take their samples
    here, without changing this process's allocator."""
    numba_conv = pytest.importorskip("tapegrad.kernels.numba_conv")
    monkeypatch.setattr(numba_conv, "freed_memory_kept", lambda: True)


def _logits(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    return (RNG.standard_normal(shape) * 3).astype(dtype)


def _labels(shape: tuple[int, ...], classes: int) -> np.ndarray:
    return RNG.integers(-classes, classes, shape)


# Primitive -> argument sets a kernel of it takes (and some it does not take).
SAMPLES: dict[Primitive, list[tuple[Any, ...]]] = {
    relu_p: [
        (RNG.standard_normal((8, RELU_ZEROS_MIN_SIZE // 4)).astype(np.float32),),
        (RNG.standard_normal((3, 4)),),
        (np.arange(-3, 3),),
    ],
    prims_xent.sparse_softmax_cross_entropy_p: [
        (_logits((16, 10), np.float32), _labels((16,), 10)),
        (_logits((2, 3, 5), np.float64), _labels((2, 3), 5)),
        (_logits((4, 3), np.float32), _labels((4,), 3).astype(np.int32)),
    ],
}
SAMPLES[prims_xent.sparse_softmax_cross_entropy_delta_p] = SAMPLES[
    prims_xent.sparse_softmax_cross_entropy_p
]
SAMPLES[prims_xent.sparse_softmax_cross_entropy_with_delta_p] = SAMPLES[
    prims_xent.sparse_softmax_cross_entropy_p
]


def _lstm_args(dtype: Any) -> tuple[np.ndarray, ...]:
    """``x (B, T, I)``, ``weights (I + H + 1, 4H)``, ``state0 (B, 2H)``: B, T, I, H = 3, 5, 2, 4."""
    return (
        RNG.standard_normal((3, 5, 2)).astype(dtype),
        (RNG.standard_normal((2 + 4 + 1, 16)) * 0.7).astype(dtype),
        RNG.standard_normal((3, 8)).astype(dtype),
    )


SAMPLES[lstm_p] = [_lstm_args(np.float32), _lstm_args(np.float64)]
SAMPLES[lstm_grad_p] = [
    (
        RNG.standard_normal((3, 5, 4)).astype(dtype),
        RNG.standard_normal((3, 5, 4)).astype(dtype),
        *args,
        *lstm_p.impl(*args),
    )
    for dtype, args in ((d, _lstm_args(d)) for d in (np.float32, np.float64))
]
# Max pooling (2x2 windows), channels-last.
_POOLED = RNG.standard_normal((2, 6, 7, 3)).round(1)  # (ties)
SAMPLES[max_pool_p] = [(_POOLED,), (_POOLED.astype(np.float32)[:, ::-1],)]
SAMPLES[pool_argmax_p] = SAMPLES[max_pool_p]
SAMPLES[pool_scatter_p] = [
    (RNG.standard_normal((2, 3, 3, 3)).astype(d), pool_argmax_p.impl(_POOLED, window=(2, 2)))
    for d in (np.float64, np.float32)
]
# The input gradient of a 3x3 "same" convolution, 2 -> 3 channels (one sample the numba
# kernel does not take: mixed dtypes).
SAMPLES[conv_input_grad_p] = [
    (RNG.standard_normal((2, 6, 7, 3)).astype(d), RNG.standard_normal((3, 3, 2, 3)).astype(k))
    for d, k in ((np.float64, np.float64), (np.float32, np.float32), (np.float32, np.float64))
]
SAMPLES[erf_p] = [(RNG.standard_normal((3, 40)) * 3,), (RNG.standard_normal(7).astype(np.float32),)]
SAMPLES[gelu_p] = SAMPLES[gelu_grad_p] = SAMPLES[erf_p]
SAMPLES[layer_norm_p] = [
    ((RNG.standard_normal((4, 6)) * 2 + 1).astype(d), RNG.standard_normal(6).astype(d), b)
    for d, b in ((np.float64, np.zeros((), np.float64)), (np.float32, np.ones(6, np.float32)))
]
SAMPLES[layer_norm_grad_p] = [
    (
        RNG.standard_normal(x.shape).astype(x.dtype),
        x,
        gamma,
        *layer_norm_p.impl(x, gamma, beta, trailing=1, epsilon=1e-5)[1:],
    )
    for x, gamma, beta in SAMPLES[layer_norm_p]
]
SAMPLES[layer_norm_scale_grad_p] = [
    (g, x, *stats) for g, x, _, *stats in SAMPLES[layer_norm_grad_p]
]
SAMPLES[attention_softmax_p] = [
    ((RNG.standard_normal((2, 3, 4, 5)) * 3).astype(d), np.True_) for d in (np.float64, np.float32)
] + [(RNG.standard_normal((3, 4)), RNG.random((3, 4)) > 0.3)]  # masked: the impl
SAMPLES[attention_softmax_grad_p] = [
    (
        RNG.standard_normal(s.shape).astype(s.dtype),
        attention_softmax_p.impl(s, m, scale=0.5, causal=False),
    )
    for s, m in SAMPLES[attention_softmax_p]
]
# Params of the samples' calls, by primitive.
PARAMS: dict[Primitive, dict[str, Any]] = {
    attention_softmax_p: {"scale": 0.5, "causal": False},
    attention_softmax_grad_p: {"scale": 0.5},
    lstm_grad_p: {"argnum": 1},
    conv_input_grad_p: {"input_shape": (6, 7), "padding": ((1, 1), (1, 1))},
    layer_norm_p: {"trailing": 1, "epsilon": 1e-5},
    layer_norm_grad_p: {"trailing": 1},
    layer_norm_scale_grad_p: {"trailing": 1},
    max_pool_p: {"window": (2, 2)},
    pool_argmax_p: {"window": (2, 2)},
    pool_scatter_p: {"window": (2, 2), "input_shape": (6, 7)},
}

# Kernels exact to the bit, or within a few ulps (the sum of exponentials in another order).
TOLERANCE = {"numpy": 0.0, "numba": 1e-5}


def _registered() -> list[tuple[Primitive, str]]:
    prims = {*PRIMITIVES.values(), prims_xent.sparse_softmax_cross_entropy_with_delta_p}
    return sorted(
        ((p, k.engine) for p in prims for k in kernels_of(p)),
        key=lambda pair: (pair[0].name, pair[1]),
    )


REGISTERED = _registered()


def _ids(pair: tuple[Primitive, str]) -> str:
    return f"{pair[0].name}-{pair[1]}"


def _close(got: Any, want: Any, tol: float) -> None:
    for a, b in zip(
        got if isinstance(got, tuple) else (got,),
        want if isinstance(want, tuple) else (want,),
        strict=True,
    ):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape
        if tol == 0.0:
            assert a.tobytes() == b.tobytes()
        else:
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_every_registered_kernel_has_samples() -> None:
    assert REGISTERED, "no kernel registered"
    assert not [p.name for p, _ in REGISTERED if p not in SAMPLES]


@pytest.mark.parametrize("pair", REGISTERED, ids=_ids)
def test_kernel_matches_the_reference_impl(pair: tuple[Primitive, str]) -> None:
    prim, engine = pair
    taken = 0
    params = PARAMS.get(prim, {})
    for args in SAMPLES[prim]:
        want = prim.impl(*args, **params)
        chosen = kernel_for(prim, *args, **params)
        taken += chosen is not prim.impl
        _close(prim(*args, **params), want, TOLERANCE[engine])  # the eager call, engine on
        with engine_off(engine):
            assert kernel_for(prim, *args, **params) is prim.impl or engine != "numba"
            _close(prim(*args, **params), want, TOLERANCE[engine])
    assert taken, f"no sample reaches the {engine} kernel of {prim.name}"


@pytest.mark.parametrize("pair", [p for p in REGISTERED if p[0].vjp_rules], ids=_ids)
def test_kernel_gradients_match_with_the_engine_off(pair: tuple[Primitive, str]) -> None:
    prim, engine = pair

    def value_and_grad(first: tg.Tensor, *rest: Any) -> tuple[np.ndarray, np.ndarray]:
        with tg.GradientTape() as tape:
            tape.watch(first)
            results = prim(first, *rest, **PARAMS.get(prim, {}))
            if not isinstance(results, tuple):
                results = (results,)
            out = sum(tg.numpy.sum(r * 1.5) for r in results[:2])  # (lstm: not its residual)
        return out.numpy(), tape.gradient(out, first).numpy()

    for args in SAMPLES[prim]:
        if args[0].dtype.kind != "f":
            continue
        got = value_and_grad(tg.Tensor(args[0]), *args[1:])
        with engine_off(engine):
            want = value_and_grad(tg.Tensor(args[0]), *args[1:])
        tol = TOLERANCE[engine]
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=tol * 10, atol=tol * 10)


def test_disable_engine_switches_every_primitive_to_its_impl() -> None:
    pytest.importorskip("numba")
    xent = prims_xent.sparse_softmax_cross_entropy_p
    args = SAMPLES[xent][0]
    assert "numba" in tapegrad.config.enabled_engines()
    assert kernel_for(xent, *args) is not xent.impl
    tapegrad.config.disable_engine("numba")
    try:
        assert "numba" not in tapegrad.config.enabled_engines()
        assert kernel_for(xent, *args) is xent.impl
        assert xent.kernels == ()
    finally:
        tapegrad.config.enable_engine("numba")
    assert kernel_for(xent, *args) is not xent.impl
    assert tapegrad.config.enabled_engines()[-2:] == ("numba", "numpy")


class ToyArray(np.ndarray):
    """An array type of a made-up engine (as a GPU library's arrays would be)."""


def test_kernel_for_picks_the_engine_by_array_type() -> None:
    square = Primitive("toy_square", lambda x: np.multiply(x, x), register=False)
    calls: list[str] = []

    def toy_kernel(x: Any) -> Any:
        calls.append("toy")
        return np.multiply(x, x).view(ToyArray)

    def numpy_kernel(x: Any) -> Any:
        calls.append("numpy")
        return np.square(x)

    def is_toy(*args: Any, **params: Any) -> bool:
        return any(isinstance(a, ToyArray) for a in args)

    register_kernel(square, "numpy", numpy_kernel, applies=lambda x: type(x) is np.ndarray)
    register_kernel(square, "toy_engine", toy_kernel, applies=is_toy)
    try:
        assert [k.engine for k in kernels_of(square)] == ["toy_engine", "numpy"]
        plain, toy = np.arange(3.0), np.arange(3.0).view(ToyArray)
        assert kernel_for(square, plain) is numpy_kernel
        assert kernel_for(square, toy) is toy_kernel
        assert kernel_for(square, [1.0, 2.0]) is square.impl  # (no engine takes a list)
        assert type(square(toy)) is ToyArray and calls == ["toy"]
        np.testing.assert_array_equal(square(tg.Tensor(plain)).numpy(), plain * plain)
        assert calls == ["toy", "numpy"]
        with engine_off("toy_engine"):
            assert kernel_for(square, toy) is square.impl
        # A later registration for the same engine replaces the earlier one.
        register_kernel(square, "toy_engine", numpy_kernel, applies=is_toy)
        assert kernel_for(square, toy) is numpy_kernel
    finally:
        tapegrad.config.disable_engine("toy_engine")


def test_register_kernel_by_name_and_unknown_names() -> None:
    before = kernels_of("relu")
    assert [k.engine for k in before] == ["numpy"]
    with pytest.raises(ValueError, match="no primitive named 'no_such_op'"):
        register_kernel("no_such_op", "numpy", np.abs)


def test_compiled_code_follows_the_engine_switch() -> None:
    pytest.importorskip("numba")
    from tapegrad.graph.codegen import compile_graph
    from tapegrad.graph.trace import trace

    xent = prims_xent.sparse_softmax_cross_entropy_p
    logits, labels = SAMPLES[xent][0]
    compiled = compile_graph(trace(lambda z, y: xent(z, y), logits, labels))
    kernel_result = compiled([logits, labels], [])[0][0]
    with engine_off("numba"):
        numpy_result = compiled([logits, labels], [])[0][0]
    assert kernel_result.tobytes() == kernel_for(xent, logits, labels)(logits, labels).tobytes()
    assert numpy_result.tobytes() == xent.impl(logits, labels).tobytes()

"""Eager vs graph parity for every op sample of ``tests/opsamples.py``.

Each sample is traced by `tapegrad.function` on one set of values (A) and run on *other*
values (B) of the same shapes and dtypes, in three modes: interpreted (no passes),
optimized-interpreted and compiled. On B the forward values, the first-order gradients
(``tg.gradients`` of ``sum(out * cotangent)`` inside the function vs a `GradientTape`
eagerly) and the second-order ones (gradients of ``sum(grad * cotangent2)`` with respect
to the float arguments, vs nested tapes) must equal eager evaluation on B bit for bit;
only fused kernels (transcendental functions from the C library) get a tolerance;
groups this small are not fused by default, so a few samples force them.
Running on values other than the traced ones is the point: a derivative rule or a
composite that computes something from raw arrays at trace time (``np.asarray`` of a
traced argument, a ``._value`` read) would freeze A's values into graph constants.

Integer inputs, and the boolean or integer arguments of float ops, get ``None``
gradients in the graph as eagerly. Samples whose output shape depends on the values
cannot be traced: `REFUSED` lists them with the error they must raise and why.

Shapes: a few draws from each shape strategy with a fixed hypothesis seed, the richest
kept (non-empty, broadcasting, rank 2-3); values: each argument's domain. One trace per
sample and mode serves the forward value and both orders of derivatives.
"""

from __future__ import annotations

import functools
import math
import zlib
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.core.tree import tree_flatten
from tapegrad.graph.function import TracerValueError
from tests.opsamples import SAMPLES, OpSample

MODES = {
    "interpreted": {"jit": False, "optimize": False},
    "optimized": {"jit": False, "optimize": True},
    "compiled": {"jit": True, "optimize": True},
}
DTYPE = np.float32

#: Samples that cannot become a graph: the exception tracing raises, and why.
REFUSED: dict[str, tuple[type[Exception], str]] = {
    "getitem_bool_mask": (
        TracerValueError,
        "x[mask]: the result has one element per True value of the mask",
    ),
    "getitem_bool_rows": (TracerValueError, "x[row_mask]: one row per True value"),
    "getitem_bool_from_tensor": (TracerValueError, "x[x > 0]: one element per positive value"),
    "nonzero": (TracerValueError, "one index per True value"),
    "arange_start_and_step": (TracerValueError, "arange's length depends on its bounds"),
}

SAMPLE_BY_NAME = {s.name: s for s in SAMPLES}


# -- shapes and values ---------------------------------------------------------------------
_CANDIDATES = 8  # shape draws per shape strategy
_TOP = 3  # each sample takes one of the richest few (by its name), for variety


def _draw_shapes(strategy: st.SearchStrategy) -> list[tuple[Any, ...]]:
    """``_CANDIDATES`` draws from a shape strategy (a fixed seed: the same every run)."""
    found: list[tuple[Any, ...]] = []

    @seed(20240601)
    @settings(
        database=None,
        max_examples=_CANDIDATES,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(shapes: tuple[Any, ...]) -> None:
        found.append(tuple(tuple(s) for s in shapes))

    collect()
    return found


@functools.cache
def _candidates(kind: str, nargs: int) -> list[tuple[tuple[int, ...], ...]]:
    # One run per kind of strategy (most samples share a few), so adding a sample to the
    # table leaves the other samples' shapes alone. (The arity is part of the kind: a
    # strategy's repr does not show the values its lambdas close over.)
    strategy = next(s.shapes for s in SAMPLES if (repr(s.shapes), s.nargs) == (kind, nargs))
    found = _draw_shapes(strategy)
    assert all(len(shapes) == nargs for shapes in found), (kind, found)
    return sorted(set(found), key=_richness, reverse=True)


def _richness(shapes: tuple[tuple[int, ...], ...]) -> tuple[Any, ...]:
    """Arguments with two or more elements first, then broadcasting, rank, size."""
    sizes = [math.prod(s) for s in shapes]
    return (
        min(sizes) >= 2,
        min(max(len(s) for s in shapes), 2),
        len(set(shapes)),
        sum(len(s) for s in shapes),
        sum(sizes),
        shapes,
    )


@functools.cache
def sample_shapes(name: str) -> tuple[tuple[int, ...], ...]:
    """The argument shapes an op sample is checked at here (also used by tests/explain)."""
    sample = SAMPLE_BY_NAME[name]
    candidates = _candidates(repr(sample.shapes), sample.nargs)
    top = [c for c in candidates[:_TOP] if _richness(c)[0] == _richness(candidates[0])[0]]
    return top[zlib.crc32(name.encode()) % len(top)]


def _values(sample: OpSample, seed_: int, integers: bool = False) -> list[np.ndarray]:
    """One array per argument from its domain (float32; integers in 1..3 if asked)."""
    rng = np.random.default_rng(seed_)
    args = []
    for domain, shape in zip(sample.domains, sample_shapes(sample.name), strict=True):
        if not domain.differentiable:
            args.append(np.asarray(domain.draw(rng, shape, np.float64)))
        elif integers:
            args.append(rng.integers(1, 3, shape, endpoint=True))
        else:
            args.append(np.asarray(domain.draw(rng, shape, np.float64)).astype(DTYPE))
    return args


def _like(template: list[Any], seed_: int) -> list[np.ndarray]:
    """Random cotangents shaped like ``template``'s leaves (floats keep their dtype)."""
    rng = np.random.default_rng(seed_)
    return [
        rng.standard_normal(np.shape(t)).astype(t.dtype if t.dtype.kind == "f" else DTYPE)
        for t in template
    ]


# -- the computation, eager and traced -----------------------------------------------------
def _tensor_leaves(out: Any) -> list[tg.Tensor]:
    return [leaf for leaf in tree_flatten(out)[0] if isinstance(leaf, tg.Tensor)]


def _dot(values: list[Any], cotangents: list[Any]) -> Any:
    """``sum(value * cotangent)`` over the leaves that are not None (None if there are none)."""
    terms = [tnp.sum(v * c) for v, c in zip(values, cotangents, strict=True) if v is not None]
    return sum(terms[1:], terms[0]) if terms else None


def _second_order_sources(sample: OpSample, integers: bool) -> tuple[int, ...]:
    """The arguments second derivatives are taken with respect to (the float ones)."""
    if integers or not sample.differentiable:
        return ()
    return tuple(k for k, d in enumerate(sample.domains) if d.differentiable)


def _eager(
    sample: OpSample, args: list[np.ndarray], cot: list[Any], cot2: list[Any], wrt2: tuple[int, ...]
) -> dict[str, Any]:
    """Forward, gradient (a tape) and second-order gradient (nested tapes) on ``args``."""
    xs = [tg.Tensor(a) for a in args]
    with tg.GradientTape() as outer:
        outer.watch(xs)
        with tg.GradientTape() as inner:
            inner.watch(xs)
            out = sample.op(*xs)
            total = _dot(_tensor_leaves(out), cot)
        grads = [None] * len(xs) if total is None else inner.gradient(total, xs)
        total2 = _dot(list(grads), cot2) if wrt2 else None
    sources2 = [xs[k] for k in wrt2]
    grads2 = [None] * len(wrt2) if total2 is None else outer.gradient(total2, sources2)
    return {"out": out, "grads": list(grads), "grads2": list(grads2)}


def _traced_body(sample: OpSample, wrt2: tuple[int, ...]) -> Any:
    """The same computation with `tapegrad.gradients`, for `tapegrad.function`."""

    def body(args: list[Any], cot: list[Any], cot2: list[Any]) -> dict[str, Any]:
        out = sample.op(*args)
        total = _dot(_tensor_leaves(out), cot)
        grads = [None] * len(args) if total is None else tg.gradients(total, list(args))
        total2 = _dot(list(grads), cot2) if wrt2 else None
        sources2 = [args[k] for k in wrt2]
        grads2 = [None] * len(wrt2) if total2 is None else tg.gradients(total2, sources2)
        return {"out": out, "grads": list(grads), "grads2": list(grads2)}

    body.__name__ = f"parity_{sample.name}"
    return body


# Fused kernels compute transcendental functions with the C library (tapegrad/graph/
# fused.py, codegen.py): a few ulps from NumPy's. Everything else must match bit for bit.
FUSED_RTOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-14}


def _assert_same(got: Any, want: Any, what: str, fused: bool = False) -> None:
    got_leaves, got_tree = tree_flatten(got)
    want_leaves, want_tree = tree_flatten(want)
    assert len(got_leaves) == len(want_leaves), f"{what}: {got_tree} vs eager {want_tree}"
    for k, (g, w) in enumerate(zip(got_leaves, want_leaves, strict=True)):
        where = f"{what}[{k}]"
        if w is None or g is None:
            assert g is None and w is None, f"{where}: {g!r} but eagerly {w!r}"
            continue
        if not isinstance(w, tg.Tensor | np.ndarray | np.generic):
            assert g == w, f"{where}: {g!r} but eagerly {w!r}"
            continue
        g_raw = g._value if isinstance(g, tg.Tensor) else np.asarray(g)
        w_raw = w._value if isinstance(w, tg.Tensor) else np.asarray(w)
        assert g_raw.shape == w_raw.shape, f"{where}: shape {g_raw.shape} vs {w_raw.shape}"
        assert g_raw.dtype == w_raw.dtype, f"{where}: dtype {g_raw.dtype} vs {w_raw.dtype}"
        rtol = FUSED_RTOL.get(w_raw.dtype) if fused else None
        if rtol is None:
            np.testing.assert_array_equal(g_raw, w_raw, err_msg=where)
        else:
            # Relative to the largest value too: sums of terms of both signs cancel.
            scale = float(np.max(np.abs(w_raw[np.isfinite(w_raw)]), initial=1.0))
            np.testing.assert_allclose(
                g_raw, w_raw, rtol=rtol, atol=rtol * scale, err_msg=f"{where} (fused kernels)"
            )


@functools.cache
def _case(name: str, integers: bool = False, wrt2: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Values A (to trace on) and B, cotangents, and the eager results on B."""
    sample = SAMPLE_BY_NAME[name]
    if wrt2 is None:
        wrt2 = _second_order_sources(sample, integers)
    a, b = _values(sample, 1, integers), _values(sample, 2, integers)
    with np.errstate(all="ignore"):
        outs = [leaf._value for leaf in _tensor_leaves(sample.op(*[tg.Tensor(x) for x in a]))]
        cot_a, cot_b = _like(outs, 3), _like(outs, 4)
        grad_like = [x if x.dtype.kind == "f" else x.astype(DTYPE) for x in a]
        cot2_a, cot2_b = _like(grad_like, 5), _like(grad_like, 6)
        want = _eager(sample, b, cot_b, cot2_b, wrt2)
    return {"a": (a, cot_a, cot2_a), "b": (b, cot_b, cot2_b), "want": want, "wrt2": wrt2}


def _run_traced(
    sample: OpSample, mode: str, integers: bool = False, wrt2: tuple[int, ...] | None = None
) -> tuple[Any, Any, bool]:
    """Trace on A, run on B; the results, eager's on B, and whether kernels were fused."""
    if MODES[mode]["jit"]:
        pytest.importorskip("tapegrad.graph.codegen")
    case = _case(sample.name, integers, wrt2)
    function = tg.function(_traced_body(sample, case["wrt2"]), **MODES[mode])
    with np.errstate(all="ignore"):
        concrete = function.get_concrete_function(*case["a"])
        got = function(*case["b"])
    assert function.tracing_count == 1
    fused = bool(getattr(getattr(concrete, "_compiled", None), "kernels", ()))
    return got, case["want"], fused


def _params(samples: list[OpSample]) -> list[Any]:
    return [pytest.param(s, id=s.name) for s in samples]


TRACEABLE = [s for s in SAMPLES if s.name not in REFUSED]


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("sample", _params(TRACEABLE))
def test_values_and_gradients_match_eager_on_new_values(sample: OpSample, mode: str) -> None:
    got, want, fused = _run_traced(sample, mode)
    _assert_same(got["out"], want["out"], f"{sample.name} forward", fused)
    _assert_same(got["grads"], want["grads"], f"{sample.name} gradient", fused)
    _assert_same(got["grads2"], want["grads2"], f"{sample.name} second-order gradient", fused)
    for k, domain in enumerate(sample.domains):
        if not (sample.differentiable and domain.differentiable):
            assert got["grads"][k] is None, f"argument {k} ({domain.name}) got a gradient"


INTEGER_SAMPLES = [s for s in TRACEABLE if s.differentiable and s.int_inputs]


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("sample", _params(INTEGER_SAMPLES))
def test_integer_inputs_get_no_gradient(sample: OpSample, mode: str) -> None:
    got, want, fused = _run_traced(sample, mode, integers=True)
    _assert_same(got["out"], want["out"], f"{sample.name} forward on integers", fused)
    assert all(g is None for g in want["grads"]), f"eager gave {want['grads']}"
    assert all(g is None for g in got["grads"]), f"traced gave {got['grads']}"


MIXED_SOURCES = [
    s for s in TRACEABLE if s.differentiable and not all(d.differentiable for d in s.domains)
]


@pytest.mark.parametrize("sample", MIXED_SOURCES, ids=lambda s: s.name)
def test_second_order_with_respect_to_integer_and_boolean_arguments(sample: OpSample) -> None:
    everything = tuple(range(sample.nargs))
    got, want, _ = _run_traced(sample, "interpreted", wrt2=everything)
    _assert_same(got["grads2"], want["grads2"], f"{sample.name} second-order gradient")
    for k, domain in enumerate(sample.domains):
        if not domain.differentiable:
            assert got["grads2"][k] is None, f"argument {k} ({domain.name}) got a gradient"


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_value_dependent_shapes_are_refused(name: str, mode: str) -> None:
    if MODES[mode]["jit"]:
        pytest.importorskip("tapegrad.graph.codegen")
    sample = SAMPLE_BY_NAME[name]
    error, _reason = REFUSED[name]
    function = tg.function(sample.op, **MODES[mode])
    with np.errstate(all="ignore"), pytest.raises(error, match="traced tensor"):
        function(*_values(sample, 1))


# Groups of elementwise nodes this small are not fused by default (the cost model), so the
# compiled mode above runs NumPy; here the kernels are forced on a few samples.
FUSED_SAMPLES = [
    "exp",
    "log2",
    "tanh",
    "erf",
    "sigmoid",
    "logsumexp_all",
    "divide",
    "sqrt",
    "where_from_comparison",
    "power",
]


@pytest.mark.parametrize("name", FUSED_SAMPLES)
def test_fused_kernels_match_eager_within_ulps(name: str) -> None:
    pytest.importorskip("numba")
    from tapegrad.graph.codegen import compile_graph

    sample = SAMPLE_BY_NAME[name]
    case = _case(name)
    function = tg.function(_traced_body(sample, case["wrt2"]), jit=False)
    compiled = compile_graph(function.get_concrete_function(*case["a"]).graph, fuse=True)
    assert compiled.kernels, f"{name}: nothing was fused"
    with np.errstate(all="ignore"):
        outputs, _ = compiled(tree_flatten((case["b"], {}))[0], [])
    _assert_same(outputs, tree_flatten(case["want"])[0], f"{name} fused", fused=True)

"""`Explanation.gradients` replays the drawn graph and equals the tape's gradient bit for bit.

Every differentiable sample of ``tests/opsamples.py`` runs in float64 on the shapes the
parity tests use (`tests.graph.test_parity`'s choice of rich shapes), with respect to
every argument (integer and boolean arguments must get None, as from the tape).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.core.tree import tree_flatten
from tests.graph.test_parity import sample_shapes
from tests.opsamples import DIFFERENTIABLE, OpSample


def _args(sample: OpSample) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [
        np.asarray(domain.draw(rng, shape, np.float64))
        for domain, shape in zip(sample.domains, sample_shapes(sample.name), strict=True)
    ]


def _tape_gradients(sample: OpSample, args: list[np.ndarray]) -> list[Any]:
    xs = [tg.Tensor(a) for a in args]
    with tg.GradientTape() as tape:
        tape.watch(xs)
        out = sample.op(*xs)
    targets = [
        leaf
        for leaf in tree_flatten(out)[0]
        if isinstance(leaf, tg.Tensor) and leaf.dtype.kind in "fc"
    ]
    return list(tape.gradient(targets, xs))


def _assert_bits(got: Any, want: Any, what: str) -> None:
    if want is None or got is None:
        assert got is None, f"{what}: {got!r} but the tape gives None"
        assert want is None, f"{what}: None but the tape gives {want!r}"
        return
    want = want._value
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} vs {want.dtype}"
    assert got.tobytes() == want.tobytes(), f"{what}: {got} vs the tape's {want}"


def test_every_differentiable_op_sample_replays_to_the_tapes_gradient() -> None:
    # One test over the table (not one per sample): each explanation takes milliseconds.
    compared = 0
    for sample in DIFFERENTIABLE:
        args = _args(sample)
        with np.errstate(all="ignore"):
            want = _tape_gradients(sample, args)
            explanation = tg.explain(sample.op, *args, argnums=tuple(range(len(args))))
            got = explanation.gradients()
        assert len(got) == len(want), sample.name
        for k, (g, w) in enumerate(zip(got, want, strict=True)):
            _assert_bits(g, w, f"{sample.name} argument {k}")
            compared += w is not None
        # Every backward node carries its attribution.
        for step in explanation.backward:
            assert step.rule is not None, f"{sample.name}: step {step.index} has no rule"
    assert compared > len(DIFFERENTIABLE)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_small_network_replays_to_the_tapes_gradient(dtype: Any) -> None:
    import tapegrad.numpy as tnp
    from tapegrad import ops

    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 4)).astype(dtype)
    w1 = rng.standard_normal((4, 8)).astype(dtype)
    w2 = rng.standard_normal((8, 3)).astype(dtype)
    labels = np.array([0, 2, 1, 1, 0])

    def loss(w1: Any, w2: Any, x: Any, labels: Any) -> Any:
        h = ops.relu(x @ w1)
        logits = tnp.tanh(h) @ w2
        return tnp.mean(ops.sparse_categorical_crossentropy(labels, logits, from_logits=True))

    explanation = tg.explain(loss, w1, w2, x, labels, argnums=(0, 1))
    ws = [tg.Tensor(w1), tg.Tensor(w2)]
    with tg.GradientTape() as tape:
        tape.watch(ws)
        value = loss(ws[0], ws[1], tg.Tensor(x), labels)
    want = tape.gradient(value, ws)
    got = explanation.gradients()
    for k in range(2):
        _assert_bits(got[k], want[k], f"w{k + 1}")

"""The backward walk (`tapegrad.core.backward`): its array mode against its tensor mode."""

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp


def test_array_walk_matches_the_general_walk():
    # First-order gradients on arrays take `_walk_arrays` (the array mode of `_walk`); under an
    # outer tape the rules run on Tensors. Entries with several results (split), variadic rules
    # (concatenate), in-place slice accumulation (getitem) and broadcasting all agree.
    from tapegrad.core import backward as tape_module

    rng = np.random.default_rng(0)
    x = tg.Variable(rng.standard_normal((4, 6)))
    w = tg.Variable(rng.standard_normal((6, 3)))
    b = tg.Variable(rng.standard_normal(3))

    def loss():
        h = tg.ops.relu(tg.ops.nn.dense(x, w, b))
        left, right = tnp.split(h, [1], axis=1)
        joined = tnp.concatenate([right, left * 2.0, h[:, :1]], axis=1)
        picked = sum(joined[i] * (i + 1) for i in range(4))  # many slices of one tensor
        return tnp.sum(tnp.tanh(picked + b[0]) * x[0, :4])

    sources = [x, w, b]
    with tg.GradientTape() as tape:
        value = loss()
    fast = tape.gradient(value, sources)
    with tg.GradientTape() as outer:
        with tg.GradientTape() as inner:
            value = loss()
        general = inner.gradient(value, sources)  # tensor mode: the general walk
    del outer
    for a, b_ in zip(fast, general, strict=True):
        np.testing.assert_allclose(a.numpy(), b_.numpy(), rtol=1e-12, atol=1e-14)
    assert hasattr(tape_module, "_walk_arrays")

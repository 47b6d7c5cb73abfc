"""benchmarks.w7_gemms: the listed products are W7's (FLOPs per step), tapegrad's calls
compute them (against NumPy's einsum), and the table carries one row per product."""

import math

import numpy as np

from benchmarks import w7_gemms as G
from tapegrad.core.prims import contraction


def test_each_listed_einsum_is_the_product_its_shape_says():
    rng = np.random.default_rng(0)
    for _, subscripts, a_shape, b_shape, _, (batch, m, k, n) in G.EINSUMS:
        terms, output = subscripts.split("->")
        ta, tb = terms.split(",")
        sizes = dict(zip(ta + tb, a_shape + b_shape, strict=True))
        # The output holds batch * m * n numbers; a batch * m * k and b batch * k * n.
        assert math.prod(sizes[c] for c in output) == batch * m * n
        assert math.prod(a_shape) * math.prod(b_shape) == batch * m * n * batch * k * k
        # tapegrad's call computes the einsum (on two rows of the batch: NumPy's own loop
        # is slow at full size).
        a, b = (
            rng.standard_normal((2, *shape[1:]) if term[0] == "a" else shape).astype(np.float32)
            for term, shape in ((ta, a_shape), (tb, b_shape))
        )
        got = contraction.einsum(subscripts, a, b)
        np.testing.assert_allclose(got, np.einsum(subscripts, a, b), rtol=1e-4, atol=1e-3)


def test_the_table_has_a_row_per_product_and_the_step_total():
    rows = [
        {"name": "p", "count": 2, "gflop": 0.5, "tapegrad": 0.01, "numpy": 0.005},
        {"name": "q", "count": 1, "gflop": 1.0, "tapegrad": 0.01, "numpy": 0.01},
    ]
    text = G.table(rows)
    lines = text.splitlines()
    assert len(lines) == 2 + len(rows) + 1
    assert lines[2].startswith("| p | 2 | 0.500 | 50 | 100 |")
    assert "30.0 ms | 20.0 ms" in lines[-1]

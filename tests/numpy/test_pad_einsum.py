"""``tnp.pad`` in every mode and ``tnp.einsum``'s diagonals, sublists and keywords, against
NumPy's values (a sweep of shapes and widths, widths wider than the axis included) and
JAX's gradients where JAX is installed (finite differences otherwise: the op samples)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp

MODES: list[tuple[str, dict[str, Any]]] = [
    ("constant", {}),
    ("constant", {"constant_values": (5, -6)}),
    ("constant", {"constant_values": ((1, 2), (3, 4))}),
    ("edge", {}),
    ("reflect", {}),
    ("reflect", {"reflect_type": "odd"}),
    ("symmetric", {}),
    ("symmetric", {"reflect_type": "odd"}),
    ("wrap", {}),
    ("linear_ramp", {}),
    ("linear_ramp", {"end_values": ((1, 2), (3, -4))}),
    ("mean", {}),
    ("mean", {"stat_length": 2}),
    ("maximum", {}),
    ("minimum", {"stat_length": ((1, 2), (3, 1))}),
    ("median", {}),
    ("median", {"stat_length": (2, 3)}),
]
WIDTHS: list[Any] = [0, 1, (1, 3), 7, ((0, 4), (5, 1))]


@pytest.mark.parametrize("mode, kwargs", MODES, ids=[f"{m}-{i}" for i, (m, _) in enumerate(MODES)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_pad_equals_numpy_on_a_sweep(mode: str, kwargs: dict[str, Any], dtype: Any) -> None:
    rng = np.random.default_rng(0)
    for shape, width in itertools.product([(1,), (3,), (2, 3), (4, 1), (2, 3, 2)], WIDTHS):
        per_axis = isinstance(width, tuple) and isinstance(width[0], tuple)
        nested = any(isinstance(v, tuple) and isinstance(v[0], tuple) for v in kwargs.values())
        if (per_axis or nested) and len(shape) != 2:
            continue
        a = (rng.normal(size=shape) * 5).astype(dtype)
        expected = np.pad(a, width, mode, **kwargs)
        got = tnp.pad(tg.tensor(a), width, mode, **kwargs).numpy()
        what = f"{mode} {kwargs} {shape} {width}"
        assert got.shape == expected.shape, what
        assert got.dtype == expected.dtype, what
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, err_msg=what)


def test_pad_on_arrays_gives_arrays_and_empty_mode_its_shape() -> None:
    a = np.arange(6.0).reshape(2, 3)
    out = tnp.pad(a, 2, "reflect")
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, np.pad(a, 2, "reflect"))
    assert tnp.pad(tg.tensor(a), (1, 2), "empty").shape == (5, 6)
    for widths in ({1: (1, 2)}, {-2: 3}):
        np.testing.assert_array_equal(tnp.pad(a, widths, "edge"), np.pad(a, widths, "edge"))


def test_pad_gradients_of_copied_elements_add_up() -> None:
    x = tg.tensor([1.0, 2.0, 3.0])
    # wrap (2, 4) copies: x2, x3 | x1 x2 x3 | x1 x2 x3 x1
    grad = tg.grad(lambda x: tnp.sum(tnp.pad(x, (2, 4), "wrap")))(x)
    np.testing.assert_array_equal(grad.numpy(), [3.0, 3.0, 3.0])
    # reflect "odd" writes 2 * edge - mirrored: the edge gets +2, the mirrored element -1.
    grad = tg.grad(lambda x: tnp.sum(tnp.pad(x, (1, 0), "reflect", reflect_type="odd")))(x)
    np.testing.assert_array_equal(grad.numpy(), [3.0, 0.0, 1.0])
    # maximum: the largest element takes every pad element's gradient.
    grad = tg.grad(lambda x: tnp.sum(tnp.pad(x, 2, "maximum")))(x)
    np.testing.assert_array_equal(grad.numpy(), [1.0, 1.0, 5.0])


def test_pad_value_arguments_are_differentiable() -> None:
    x = tg.tensor([1.0, 2.0, 3.0])
    end = tg.tensor(2.0)
    # Each ramp (two elements) goes end, (end + edge) / 2: 1.5 ends per side.
    grad = tg.grad(lambda e: tnp.sum(tnp.pad(x, 2, "linear_ramp", end_values=e)))(end)
    assert float(grad) == 3.0
    grad = tg.grad(lambda c: tnp.sum(tnp.pad(x, (1, 3), constant_values=c)))(end)
    assert float(grad) == 4.0
    before, after = tg.tensor(1.0), tg.tensor(-1.0)
    grads = tg.grad(
        lambda b, a: tnp.sum(tnp.pad(x, (1, 3), constant_values=(b, a)) ** 2), argnums=(0, 1)
    )(before, after)
    assert [float(g) for g in grads] == [2.0, -6.0]


def _fill_tens(vector: np.ndarray, width: tuple[int, int], axis: int, kwargs: dict) -> None:
    vector[: width[0]] = kwargs.get("padder", 10)
    vector[vector.size - width[1] :] = kwargs.get("padder", 10)


def test_pad_function_mode_fills_like_numpy_and_keeps_the_inner_gradient() -> None:
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(tnp.pad(a, 2, _fill_tens), np.pad(a, 2, _fill_tens))
    np.testing.assert_array_equal(
        tnp.pad(a, 1, _fill_tens, padder=-1), np.pad(a, 1, _fill_tens, padder=-1)
    )
    grad = tg.grad(lambda x: tnp.sum(tnp.pad(x, 2, _fill_tens) * 3.0))(tg.tensor(a))
    np.testing.assert_array_equal(grad.numpy(), np.full((2, 3), 3.0))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: tnp.pad(np.ones(3), 1, "edge", constant_values=1), ValueError, "unsupported"),
        (lambda: tnp.pad(np.ones(3), 1, "nearest"), ValueError, "not supported"),
        (lambda: tnp.pad(np.ones((0, 2)), 1, "edge"), ValueError, "empty axis 0"),
        (lambda: tnp.pad(np.ones(3), 1, "maximum", stat_length=0), ValueError, "stat_length"),
        (lambda: tnp.pad(np.ones(3), 1.5), TypeError, "integral"),
        (lambda: tnp.pad(np.ones(3), -1), ValueError, "negative"),
    ],
)
def test_pad_refuses_what_numpy_refuses(call: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


# -- einsum -----------------------------------------------------------------------------
RNG = np.random.default_rng(1)
A3 = RNG.normal(size=(3, 3))
B = RNG.normal(size=(3, 3, 4))
C = RNG.normal(size=(4, 2))
BATCH = RNG.normal(size=(2, 3, 3))
EINSUMS: list[tuple[str, tuple[np.ndarray, ...]]] = [
    ("ii->i", (A3,)),
    ("ii", (A3,)),
    ("ii->", (A3,)),
    ("iij->j", (B,)),
    ("iij,jk->ik", (B, C)),
    ("...ii->...i", (BATCH,)),
    ("bii,bij->bj", (BATCH, BATCH)),
    ("ii,ij->j", (A3, A3)),
]


@pytest.mark.parametrize("subscripts, operands", EINSUMS, ids=[s for s, _ in EINSUMS])
def test_einsum_repeated_indices_values_and_gradients(
    subscripts: str, operands: tuple[np.ndarray, ...]
) -> None:
    np.testing.assert_allclose(
        tnp.einsum(subscripts, *[tg.tensor(o) for o in operands]).numpy(),
        np.einsum(subscripts, *operands),
        rtol=1e-12,
    )
    tg.check_grads(lambda *xs: tnp.einsum(subscripts, *xs), operands, order=2)


@pytest.mark.parametrize("subscripts, operands", EINSUMS, ids=[s for s, _ in EINSUMS])
def test_einsum_gradients_equal_jax(subscripts: str, operands: tuple[np.ndarray, ...]) -> None:
    jax = pytest.importorskip("jax")
    operands = tuple(o.astype(np.float32) for o in operands)  # JAX's default precision
    argnums = tuple(range(len(operands)))

    def weighted(einsum: Any, *xs: Any) -> Any:
        out = einsum(subscripts, *xs)
        weights = np.cos(np.arange(np.size(out)).reshape(np.shape(out))).astype(np.float32)
        return (out * weights).sum()

    expected = jax.grad(lambda *xs: weighted(jax.numpy.einsum, *xs), argnums)(*operands)
    got = tg.grad(lambda *xs: weighted(tnp.einsum, *xs), argnums)(*operands)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-5, atol=1e-6)


def test_einsum_sublist_form() -> None:
    a, c = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 4))
    cases = [
        ((a, [0, 1], c, [1, 2], [0, 2]), None),
        ((a, [0, 1], c, [1, 2]), None),
        ((B, [0, 0, 1], [1]), None),
        ((BATCH, [Ellipsis, 0, 0], [Ellipsis, 0]), None),
        ((a, [Ellipsis, 1], c[:, 0], [1]), None),
    ]
    for args, _ in cases:
        expected = np.einsum(*args)
        got = tnp.einsum(*[tg.tensor(x) if isinstance(x, np.ndarray) else x for x in args])
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    grad = tg.grad(lambda x: tnp.sum(tnp.einsum(x, [0, 1], c, [1, 2], [0, 2])))(a)
    np.testing.assert_allclose(grad.numpy(), np.broadcast_to(c.sum(axis=1), (2, 3)))


def test_einsum_keywords() -> None:
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    assert tnp.einsum("ij->j", tg.tensor(a), dtype=np.float64).dtype == np.float64
    for optimize in (True, False, "greedy", "optimal"):
        np.testing.assert_allclose(
            tnp.einsum("ij,kj->ik", a, a, optimize=optimize), np.einsum("ij,kj->ik", a, a)
        )
    assert tnp.einsum("ij->ji", a, order="F").shape == (3, 2)
    with pytest.raises(TypeError, match="out= is not supported"):
        tnp.einsum("ij->i", a, out=np.zeros(2, np.float32))
    with pytest.raises(TypeError, match="cannot cast"):
        tnp.einsum("ij->i", a, dtype=np.int32)
    with pytest.raises(ValueError, match="collapsing index"):
        tnp.einsum("ii->i", np.ones((2, 3)))


def test_einsum_diagonal_then_contraction_runs_on_matmul(monkeypatch: pytest.MonkeyPatch) -> None:
    """Taking the diagonal first leaves a matmul-shaped pair: numpy.einsum's loop is never
    reached, neither forward nor in the gradient."""
    b, c = tg.tensor(B), tg.tensor(C)
    expected = np.einsum("iij,jk->ik", B, C)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("numpy.einsum called")

    monkeypatch.setattr(np, "einsum", refuse)
    with tg.GradientTape() as tape:
        tape.watch([b, c])
        out = tnp.einsum("iij,jk->ik", b, c)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    grads = tape.gradient(out, [b, c])
    assert grads[0].shape == B.shape
    assert grads[1].shape == C.shape


def test_einsum_path_is_numpys() -> None:
    ops = (np.ones((2, 3)), np.ones((3, 4)), np.ones((4, 5)))
    tensors = [tg.tensor(o) for o in ops]
    for optimize in ("greedy", "optimal"):
        got = tnp.einsum_path("ij,jk,kl->il", *tensors, optimize=optimize)
        expected = np.einsum_path("ij,jk,kl->il", *ops, optimize=optimize)
        assert got[0] == expected[0]
        assert got[1] == expected[1]
    assert tnp.einsum_path(ops[0], [0, 1], ops[1], [1, 2])[0] == ["einsum_path", (0, 1)]

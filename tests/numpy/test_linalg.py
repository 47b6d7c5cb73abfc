"""tapegrad.numpy.linalg: forward values against NumPy, derivatives against finite differences.

Two tables drive most tests: FORWARD (tapegrad function, NumPy reference, inputs) and
GRADS (a differentiable function of the inputs, checked to second order in forward and
reverse mode). Eigen- and singular-vector functions are chosen invariant to the sign of
each vector, which the decompositions do not fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.core.tree import tree_flatten

la = tnp.linalg
RNG = np.random.default_rng(1234)


# -- inputs ------------------------------------------------------------------------------
def general(*shape: int) -> np.ndarray:
    """Well-conditioned square (or rectangular) matrices: noise plus a dominant diagonal."""
    a = RNG.standard_normal(shape)
    if shape[-1] == shape[-2]:
        a = a + 3 * np.eye(shape[-1])
    return a


def rect(*shape: int) -> np.ndarray:
    """Rectangular full-rank matrices (distinct singular values almost surely)."""
    return RNG.standard_normal(shape)


def spd(*shape: int) -> np.ndarray:
    """Symmetric positive-definite matrices with distinct eigenvalues."""
    x = RNG.standard_normal(shape)
    n = shape[-1]
    return x @ np.swapaxes(x, -1, -2) + n * np.eye(n)


def vec(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


def mT(x: Any) -> Any:
    return tnp.swapaxes(x, -1, -2)


A3, A23 = general(3, 3), general(2, 3, 3)
S3, S23 = spd(3, 3), spd(2, 3, 3)
T43, W35, T243 = rect(4, 3), rect(3, 5), rect(2, 4, 3)
B3, B32, B232 = vec(3), vec(3, 2), vec(2, 3, 2)
V5, M34, X234 = vec(5), rect(3, 4), rect(2, 3, 4)
SINGULAR = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])


# -- forward -----------------------------------------------------------------------------
FORWARD: list[tuple[str, Callable[..., Any], Callable[..., Any], tuple[Any, ...]]] = [
    ("solve_vector", la.solve, np.linalg.solve, (A3, B3)),
    ("solve_matrix", la.solve, np.linalg.solve, (A3, B32)),
    ("solve_batched", la.solve, np.linalg.solve, (A23, B232)),
    ("solve_broadcast_vector", la.solve, np.linalg.solve, (A23, B3)),
    ("solve_broadcast_a", la.solve, np.linalg.solve, (A3, B232)),
    ("inv", la.inv, np.linalg.inv, (A23,)),
    ("det", la.det, np.linalg.det, (A23,)),
    ("det_singular", la.det, np.linalg.det, (SINGULAR,)),
    ("slogdet", la.slogdet, np.linalg.slogdet, (A23,)),
    ("cholesky", la.cholesky, np.linalg.cholesky, (S23,)),
    (
        "cholesky_upper",
        lambda a: la.cholesky(a, upper=True),
        lambda a: np.linalg.cholesky(a, upper=True),
        (S23,),
    ),
    ("cholesky_reads_lower", la.cholesky, np.linalg.cholesky, (np.tril(S3) + 5 * np.triu(S3, 1),)),
    ("eigh", la.eigh, np.linalg.eigh, (S23,)),
    (
        "eigh_upper",
        lambda a: la.eigh(a, "U"),
        lambda a: np.linalg.eigh(a, "U"),
        (np.triu(S3) + 7 * np.tril(S3, -1),),
    ),
    ("eigvalsh", la.eigvalsh, np.linalg.eigvalsh, (S23,)),
    ("svd_square", la.svd, np.linalg.svd, (A23,)),
    (
        "svd_tall",
        lambda a: la.svd(a, full_matrices=False),
        lambda a: np.linalg.svd(a, full_matrices=False),
        (T243,),
    ),
    (
        "svd_wide",
        lambda a: la.svd(a, full_matrices=False),
        lambda a: np.linalg.svd(a, full_matrices=False),
        (W35,),
    ),
    (
        "svd_values",
        lambda a: la.svd(a, compute_uv=False),
        lambda a: np.linalg.svd(a, compute_uv=False),
        (T243,),
    ),
    (
        "svd_hermitian",
        lambda a: la.svd(a, hermitian=True),
        lambda a: np.linalg.svd(a, hermitian=True),
        (S3 - 4 * np.eye(3),),
    ),
    (
        "svd_hermitian_values",
        lambda a: la.svd(a, compute_uv=False, hermitian=True),
        lambda a: np.linalg.svd(a, compute_uv=False, hermitian=True),
        (S3 - 4 * np.eye(3),),
    ),
    ("svdvals", la.svdvals, np.linalg.svdvals, (X234,)),
    ("qr_tall", la.qr, np.linalg.qr, (T243,)),
    ("qr_wide", la.qr, np.linalg.qr, (W35,)),
    ("qr_r", lambda a: la.qr(a, mode="r"), lambda a: np.linalg.qr(a, mode="r"), (T43,)),
    (
        "qr_complete_wide",
        lambda a: la.qr(a, mode="complete"),
        lambda a: np.linalg.qr(a, mode="complete"),
        (W35,),
    ),
    ("pinv_tall", la.pinv, np.linalg.pinv, (T243,)),
    ("pinv_wide", la.pinv, np.linalg.pinv, (W35,)),
    ("pinv_rank_deficient", la.pinv, np.linalg.pinv, (SINGULAR,)),
    ("pinv_rtol", lambda a: la.pinv(a, rtol=None), lambda a: np.linalg.pinv(a, rtol=None), (T43,)),
    (
        "pinv_hermitian",
        lambda a: la.pinv(a, hermitian=True),
        lambda a: np.linalg.pinv(a, hermitian=True),
        (np.tril(S3),),
    ),
    ("lstsq_vector", la.lstsq, np.linalg.lstsq, (T43, vec(4))),
    ("lstsq_matrix", la.lstsq, np.linalg.lstsq, (T43, vec(4, 2))),
    ("lstsq_underdetermined", la.lstsq, np.linalg.lstsq, (W35, vec(3))),
    (
        "tensorsolve",
        la.tensorsolve,
        np.linalg.tensorsolve,
        (general(6, 6).reshape(2, 3, 6), vec(2, 3)),
    ),
    (
        "tensorinv",
        lambda a: la.tensorinv(a, ind=1),
        lambda a: np.linalg.tensorinv(a, ind=1),
        (general(6, 6).reshape(6, 2, 3),),
    ),
    (
        "matrix_power_0",
        lambda a: la.matrix_power(a, 0),
        lambda a: np.linalg.matrix_power(a, 0),
        (A23,),
    ),
    (
        "matrix_power_5",
        lambda a: la.matrix_power(a, 5),
        lambda a: np.linalg.matrix_power(a, 5),
        (A23,),
    ),
    (
        "matrix_power_neg",
        lambda a: la.matrix_power(a, -3),
        lambda a: np.linalg.matrix_power(a, -3),
        (A3,),
    ),
    (
        "multi_dot_3",
        lambda *a: la.multi_dot(a),
        lambda *a: np.linalg.multi_dot(a),
        (rect(4, 2), rect(2, 5), rect(5, 3)),
    ),
    (
        "multi_dot_4_vector_ends",
        lambda *a: la.multi_dot(a),
        lambda *a: np.linalg.multi_dot(a),
        (vec(4), rect(4, 2), rect(2, 5), vec(5)),
    ),
    (
        "multi_dot_2",
        lambda *a: la.multi_dot(a),
        lambda *a: np.linalg.multi_dot(a),
        (rect(4, 2), rect(2, 5)),
    ),
    ("cond", la.cond, np.linalg.cond, (A23,)),
    ("cond_-2", lambda a: la.cond(a, -2), lambda a: np.linalg.cond(a, -2), (T43,)),
    ("cond_1", lambda a: la.cond(a, 1), lambda a: np.linalg.cond(a, 1), (A23,)),
    ("cond_fro", lambda a: la.cond(a, "fro"), lambda a: np.linalg.cond(a, "fro"), (A3,)),
    (
        "cond_singular",
        lambda a: la.cond(a, np.inf),
        lambda a: np.linalg.cond(a, np.inf),
        (np.ones((3, 3)),),
    ),
    ("matrix_rank", la.matrix_rank, np.linalg.matrix_rank, (SINGULAR,)),
    (
        "vector_norm_tuple_axis",
        lambda x: la.vector_norm(x, axis=(0, 2), keepdims=True, ord=3),
        lambda x: np.linalg.vector_norm(x, axis=(0, 2), keepdims=True, ord=3),
        (X234,),
    ),
    (
        "vector_norm_all",
        lambda x: la.vector_norm(x, ord=np.inf),
        lambda x: np.linalg.vector_norm(x, ord=np.inf),
        (X234,),
    ),
    (
        "matrix_norm",
        lambda x: la.matrix_norm(x, ord="nuc", keepdims=True),
        lambda x: np.linalg.matrix_norm(x, ord="nuc", keepdims=True),
        (X234,),
    ),
    ("trace", lambda x: la.trace(x, offset=1), lambda x: np.linalg.trace(x, offset=1), (X234,)),
    ("diagonal", la.diagonal, np.linalg.diagonal, (X234,)),
    ("matrix_transpose", la.matrix_transpose, np.linalg.matrix_transpose, (X234,)),
    ("vecdot", la.vecdot, np.linalg.vecdot, (X234, vec(4))),
    ("outer", la.outer, np.linalg.outer, (V5, B3)),
    ("cross", la.cross, np.linalg.cross, (vec(2, 3), B3)),
    (
        "tensordot",
        lambda x, y: la.tensordot(x, y, axes=1),
        lambda x, y: np.linalg.tensordot(x, y, axes=1),
        (M34, vec(4, 2)),
    ),
    ("matmul", la.matmul, np.linalg.matmul, (X234, vec(4, 2))),
]

VECTOR_ORDS = [None, 2, 1, np.inf, -np.inf, 0, 3, 0.5, -1.5]
MATRIX_ORDS = [None, "fro", "nuc", 2, -2, 1, -1, np.inf, -np.inf]
NORMS = (
    [(f"vector_{o}", V5, {"ord": o}) for o in VECTOR_ORDS]
    + [(f"vector_{o}_axis", X234, {"ord": o, "axis": 1, "keepdims": True}) for o in VECTOR_ORDS]
    + [(f"matrix_{o}", M34, {"ord": o}) for o in MATRIX_ORDS]
    + [(f"matrix_{o}_axes", X234, {"ord": o, "axis": (2, 0)}) for o in MATRIX_ORDS]
    + [
        (f"matrix_{o}_keepdims", X234, {"ord": o, "axis": (-1, 1), "keepdims": True})
        for o in MATRIX_ORDS
    ]
    + [("flat_3d", X234, {}), ("flat_3d_keepdims", X234, {"keepdims": True})]
)
FORWARD += [
    (
        f"norm_{name}",
        lambda x, kw=kw: la.norm(x, **kw),
        lambda x, kw=kw: np.linalg.norm(x, **kw),
        (x,),
    )
    for name, x, kw in NORMS
]


def _leaves(out: Any) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in tree_flatten(out)[0]]


def _assert_matches(ours: Any, ref: Any, rtol: float, atol: float) -> None:
    if isinstance(ref, tuple) and not isinstance(ours, tuple):
        raise AssertionError(f"expected a tuple like NumPy's, got {type(ours).__name__}")
    ours_leaves, ref_leaves = _leaves(ours), _leaves(ref)
    assert len(ours_leaves) == len(ref_leaves)
    for o, r in zip(ours_leaves, ref_leaves, strict=True):
        assert o.shape == r.shape
        assert o.dtype == r.dtype, (o.dtype, r.dtype)
        np.testing.assert_allclose(o, r, rtol=rtol, atol=atol)


@pytest.mark.parametrize(("name", "ours", "ref", "args"), FORWARD, ids=[c[0] for c in FORWARD])
def test_forward_matches_numpy(name: str, ours: Any, ref: Any, args: tuple[Any, ...]) -> None:
    _assert_matches(ours(*args), ref(*args), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("name", "ours", "ref", "args"), FORWARD, ids=[c[0] for c in FORWARD])
def test_forward_float32(name: str, ours: Any, ref: Any, args: tuple[Any, ...]) -> None:
    args32 = tuple(np.asarray(a, np.float32) for a in args)
    _assert_matches(ours(*args32), ref(*args32), rtol=2e-4, atol=2e-4)


def test_tensors_in_tensors_out() -> None:
    out = la.eigh(tg.tensor(S3))
    assert isinstance(out.eigenvalues, tg.Tensor) and isinstance(out, la.EighResult)
    assert isinstance(la.inv(A3), np.ndarray)
    # NumPy's own functions dispatch to these on Tensors.
    np.testing.assert_allclose(
        np.linalg.norm(tg.tensor(M34), ord=2).numpy(),
        np.linalg.norm(M34.astype(np.float32), ord=2),
        rtol=1e-6,
    )


# -- derivatives -------------------------------------------------------------------------
def _eigh_reconstruct(a: Any) -> Any:
    w, v = la.eigh(a)
    return tnp.matmul(v * w[..., None, :], mT(v))


def _eigh_weighted(a: Any) -> Any:
    w, v = la.eigh(a)
    return w * np.arange(1.0, 4.0) + v * v


def _svd_products(a: Any) -> Any:
    u, s, vt = la.svd(a, full_matrices=False)
    return tnp.matmul(u * u, vt * vt) * s[..., :1, None] + tnp.matmul(u * s[..., None, :], vt)


def _hermitian_svd(a: Any) -> Any:
    u, s, vt = la.svd(a, hermitian=True)
    return u * u + s[..., None, :] + vt * vt


GRADS: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = [
    ("solve_vector", la.solve, (A3, B3)),
    ("solve_matrix", la.solve, (A3, B32)),
    ("solve_batched", la.solve, (A23, B232)),
    ("solve_broadcast_vector", la.solve, (A23, B3)),
    ("solve_broadcast_a", la.solve, (A3, B232)),
    ("inv", la.inv, (A23,)),
    ("tensorsolve", la.tensorsolve, (general(6, 6).reshape(2, 3, 6), vec(2, 3))),
    ("tensorinv", lambda a: la.tensorinv(a, ind=1), (general(6, 6).reshape(6, 2, 3),)),
    ("det", la.det, (A23,)),
    ("det_singular", la.det, (SINGULAR,)),
    ("slogdet", la.slogdet, (A23,)),
    ("slogdet_negative", lambda a: la.slogdet(a).logabsdet, (-A3[[1, 0, 2]],)),
    ("cholesky", la.cholesky, (S23,)),
    ("cholesky_upper", lambda a: la.cholesky(a, upper=True), (S3,)),
    ("eigvalsh", la.eigvalsh, (S23,)),
    ("eigh_reconstruct", _eigh_reconstruct, (S23,)),
    ("eigh_weighted", _eigh_weighted, (S3,)),
    ("eigh_upper", lambda a: la.eigh(a, UPLO="U").eigenvalues, (S3,)),
    ("svd_values_tall", lambda a: la.svd(a, compute_uv=False), (T243,)),
    ("svd_values_wide", la.svdvals, (W35,)),
    ("svd_square", _svd_products, (A23,)),
    ("svd_tall", _svd_products, (T243,)),
    ("svd_wide", _svd_products, (W35,)),
    ("svd_hermitian", _hermitian_svd, (S3 - 4 * np.eye(3),)),
    ("qr_tall", la.qr, (T243,)),
    ("qr_square", la.qr, (A3,)),
    ("qr_wide", la.qr, (rect(2, 3, 5),)),
    ("qr_r", lambda a: la.qr(a, mode="r"), (T43,)),
    ("pinv_tall", la.pinv, (T243,)),
    ("pinv_wide", la.pinv, (W35,)),
    ("pinv_hermitian", lambda a: la.pinv(a, hermitian=True), (S3,)),
    ("lstsq", lambda a, b: la.lstsq(a, b)[:2], (T43, vec(4, 2))),
    ("lstsq_vector", lambda a, b: la.lstsq(a, b)[:2], (T43, vec(4))),
    ("matrix_power_0", lambda a: la.matrix_power(a, 0), (A3,)),
    ("matrix_power_1", lambda a: la.matrix_power(a, 1), (A3,)),
    ("matrix_power_6", lambda a: la.matrix_power(a, 6) / 1e3, (A23,)),
    ("matrix_power_neg", lambda a: la.matrix_power(a, -2), (A3,)),
    (
        "multi_dot",
        lambda a, b, c, d: la.multi_dot([a, b, c, d]),
        (vec(4), rect(4, 2), rect(2, 5), rect(5, 3)),
    ),
    ("cond", la.cond, (A23,)),
    ("cond_-2", lambda a: la.cond(a, -2), (T43,)),
    ("cond_1", lambda a: la.cond(a, 1), (A3,)),
    ("vector_norm", lambda x: la.vector_norm(x, axis=(0, 2), ord=3), (X234,)),
    ("matrix_norm", la.matrix_norm, (X234,)),
    ("trace", la.trace, (X234,)),
    ("diagonal", lambda x: la.diagonal(x, offset=-1), (X234,)),
    ("vecdot", la.vecdot, (X234, vec(4))),
    ("cross", la.cross, (vec(2, 3), B3)),
    ("outer", la.outer, (V5, B3)),
]
GRADS += [
    (f"norm_{name}", lambda x, kw=kw: la.norm(x, **kw), (x,))
    for name, x, kw in NORMS
    if kw.get("ord") != 0
]


@pytest.mark.parametrize(("name", "f", "args"), GRADS, ids=[c[0] for c in GRADS])
def test_grads(name: str, f: Callable[..., Any], args: tuple[Any, ...]) -> None:
    tg.check_grads(f, args, order=2, modes=("fwd", "rev"))


INTEGER_CASES = [
    (
        "solve",
        lambda a: tnp.sum(la.solve(a, np.ones(3))),
        np.array([[3, 1, 0], [1, 4, 1], [0, 1, 5]]),
    ),
    ("inv", lambda a: tnp.sum(la.inv(a)), np.array([[2, 1], [1, 3]])),
    ("det", la.det, np.array([[2, 1], [1, 3]])),
    ("slogdet", lambda a: la.slogdet(a).logabsdet, np.array([[2, 1], [1, 3]])),
    ("cholesky", lambda a: tnp.sum(la.cholesky(a)), np.array([[4, 2], [2, 3]])),
    ("eigvalsh", lambda a: tnp.sum(la.eigvalsh(a) ** 2), np.array([[4, 2], [2, 3]])),
    ("svdvals", lambda a: tnp.sum(la.svdvals(a)), np.array([[4, 2, 1], [2, 3, 0]])),
    ("qr", lambda a: tnp.sum(la.qr(a).R), np.array([[4, 2], [2, 3], [1, 1]])),
    ("pinv", lambda a: tnp.sum(la.pinv(a)), np.array([[4, 2], [2, 3], [1, 1]])),
    ("norm", la.norm, np.array([3, 4])),
    ("norm_nuc", lambda a: la.norm(a, "nuc"), np.array([[3, 4], [1, 2]])),
]


@pytest.mark.parametrize(("name", "f", "x"), INTEGER_CASES, ids=[c[0] for c in INTEGER_CASES])
def test_integer_inputs_have_no_gradient(name: str, f: Callable[..., Any], x: Any) -> None:
    value = f(tg.tensor(x))
    assert np.asarray(value).dtype == np.float64
    assert tg.grad(f)(x) is None


@pytest.mark.parametrize("name", ["solve", "inv", "det", "slogdet", "pinv", "norm_nuc"])
def test_float32_gradients_match_float64(name: str) -> None:
    f, x = {c[0]: (c[1], c[2]) for c in INTEGER_CASES}[name]
    x64 = np.asarray(x, np.float64) + 0.25
    g64 = tg.grad(f)(x64).numpy()
    g32 = tg.grad(f)(x64.astype(np.float32)).numpy()
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-5)


# -- special points ----------------------------------------------------------------------
def test_det_gradient_at_singular_matrix_is_the_cofactor_matrix() -> None:
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    np.testing.assert_allclose(tg.grad(la.det)(a).numpy(), [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)
    rank_one = np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 2.0])
    grad = tg.grad(la.det)(rank_one).numpy()
    # Rank n-2: every 2x2 minor vanishes, so does the gradient.
    np.testing.assert_allclose(grad, np.zeros((3, 3)), atol=1e-12)


def test_norms_have_zero_gradient_at_zero() -> None:
    for kw in ({}, {"ord": 2}, {"ord": "fro"}, {"axis": 1}):
        x = np.zeros((2, 3))
        if kw.get("ord") == 2:
            x = np.zeros(3)
        grad = tg.grad(lambda x, kw=kw: tnp.sum(la.norm(x, **kw)))(x).numpy()
        np.testing.assert_array_equal(grad, np.zeros_like(x))


def test_value_gradients_are_finite_at_repeated_values() -> None:
    eye = np.eye(3)
    np.testing.assert_allclose(tg.grad(lambda a: tnp.sum(la.eigvalsh(a)))(eye).numpy(), eye)
    np.testing.assert_allclose(tg.grad(lambda a: la.norm(a, "nuc"))(eye).numpy(), eye)
    np.testing.assert_allclose(tg.grad(la.det)(eye).numpy(), eye)


def test_pinv_gradient_at_repeated_singular_values() -> None:
    # An orthogonal matrix: all singular values are 1, pinv == inv, so the gradients agree.
    q = np.linalg.qr(rect(3, 3))[0]
    weights = rect(3, 3)
    grad_pinv = tg.grad(lambda a: tnp.sum(la.pinv(a) * weights))(q).numpy()
    grad_inv = tg.grad(lambda a: tnp.sum(la.inv(a) * weights))(q).numpy()
    np.testing.assert_allclose(grad_pinv, grad_inv, atol=1e-10)


def test_lower_triangle_only_gets_gradient() -> None:
    grad = tg.grad(lambda a: tnp.sum(la.cholesky(a)))(S3).numpy()
    np.testing.assert_array_equal(np.triu(grad, 1), np.zeros((3, 3)))
    # A symmetric parameterisation recovers the symmetric gradient.
    sym = tg.grad(lambda b: tnp.sum(la.eigvalsh((b + mT(b)) / 2) ** 2))(S3).numpy()
    np.testing.assert_allclose(sym, sym.T, atol=1e-12)
    np.testing.assert_allclose(sym, 2 * S3, atol=1e-10)


def test_hessian_of_logdet() -> None:
    # d^2 log det / dA dA [E_ij, E_kl] = -inv(A)[l, i] inv(A)[j, k]
    hess = tg.hessian(lambda a: la.slogdet(a).logabsdet)(A3).numpy()
    inv_a = np.linalg.inv(A3)
    np.testing.assert_allclose(hess, -np.einsum("li,jk->ijkl", inv_a, inv_a), atol=1e-10)


@given(
    batch_a=st.lists(st.integers(1, 3), max_size=2),
    batch_b=st.lists(st.integers(1, 3), max_size=2),
    n=st.integers(1, 4),
    k=st.integers(1, 3),
)
def test_solve_batch_broadcasting(batch_a: list[int], batch_b: list[int], n: int, k: int) -> None:
    batch_a, batch_b = tuple(batch_a), tuple(batch_b)
    try:
        np.broadcast_shapes(batch_a, batch_b)
    except ValueError:
        return
    a, b = general(*batch_a, n, n), vec(*batch_b, n, k)
    np.testing.assert_allclose(la.solve(a, b), np.linalg.solve(a, b), rtol=1e-10, atol=1e-12)
    tg.check_grads(la.solve, (a, b), order=1, modes=("fwd", "rev"))


# -- errors ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: la.svd(T43), NotImplementedError, "full_matrices=False"),
        (lambda: la.qr(T43, mode="complete"), NotImplementedError, "mode='complete'"),
        (lambda: la.qr(T43, mode="raw"), NotImplementedError, "mode='raw'"),
        (lambda: la.qr(T43, mode="bogus"), ValueError, "unrecognized mode"),
        (lambda: la.pinv(T43, rcond=np.array([1e-3])), NotImplementedError, "scalar"),
        (lambda: la.pinv(T43, rcond=1e-3, rtol=1e-3), ValueError, "both"),
        (lambda: la.norm(V5, "fro"), ValueError, "for vectors"),
        (lambda: la.norm(M34, 3), ValueError, "for matrices"),
        (lambda: la.norm(X234, 1), ValueError, "improper number of dimensions"),
        (lambda: la.norm(M34, axis=(0, 0)), ValueError, "duplicate"),
        (lambda: la.norm(M34, axis=2), np.exceptions.AxisError, "out of bounds"),
        (lambda: la.eigh(S3, UPLO="X"), ValueError, "UPLO"),
        (lambda: la.inv(T43), la.LinAlgError, "square"),
        (lambda: la.det(V5), la.LinAlgError, "two-dimensional"),
        (lambda: la.matrix_power(A3, 1.5), TypeError, "integer"),
        (lambda: la.multi_dot([A3]), ValueError, "at least two"),
        (lambda: la.outer(M34, B3), ValueError, "1-D"),
    ],
)
def test_unsupported_arguments_raise_clear_errors(call: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_cond_marks_each_singular_matrix_as_numpy_does() -> None:
    # Per matrix of a stack, with Tensors and in a traced function (where the singular
    # matrices are known only when the compiled code runs): inf, or NaN for a NaN input.
    stack = np.array(
        [[[1.0, 2.0], [2.0, 4.0]], [[2.0, 1.0], [1.0, 3.0]], [[np.nan, 1.0], [1.0, 3.0]]]
    )
    traced = {p: tg.function(lambda a, p=p: tnp.linalg.cond(a, p)) for p in ("fro", 1, np.inf)}
    with np.errstate(all="ignore"):
        for p in ("fro", 1, -1, np.inf, -np.inf):
            want = np.linalg.cond(stack, p)
            np.testing.assert_allclose(tnp.linalg.cond(tg.tensor(stack), p).numpy(), want)
            if p in traced:
                np.testing.assert_allclose(traced[p](stack[1:2]).numpy(), want[1:2])
                np.testing.assert_allclose(traced[p](stack[:1]).numpy(), want[:1])


def test_singular_matrices_raise_linalgerror_with_tensors() -> None:
    with pytest.raises(np.linalg.LinAlgError, match=r"solve: Singular matrix .*\(2, 2\)"):
        tnp.linalg.inv(tg.tensor(np.array([[1.0, 2.0], [2.0, 4.0]])))


def test_norm_of_nan_is_nan() -> None:
    assert np.isnan(float(tnp.linalg.norm(tg.tensor([np.nan, 1.0]))))
    assert float(tnp.linalg.norm(tg.tensor([0.0, 0.0]))) == 0.0


def test_inv_or_nan_derivatives() -> None:
    from tapegrad.core.prims import inv_or_nan_p

    a = np.array([[2.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.1, 0.4, 1.5]])
    tg.check_grads(lambda m: inv_or_nan_p(m), (a,), order=2, modes=("fwd", "rev"))
    singular = inv_or_nan_p(np.stack([a, np.ones((3, 3))]))
    assert np.isfinite(singular[0]).all() and np.isnan(singular[1]).all()

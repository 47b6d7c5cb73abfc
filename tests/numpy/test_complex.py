"""Complex numbers: values and gradients follow JAX's convention exactly.

JAX is the oracle (skipped where it is not installed): a real-valued function of a
complex ``z`` has the gradient ``c`` with ``df = Re(c dz)`` (``|z|**2`` gives
``2 conj(z)``), ``holomorphic=True`` gives ``f'(z)``, and VJPs pair cotangents with
tangents as ``Re(sum(u * v))``. Finite differences (`check_grads`, real and imaginary
directions, both modes, second order) check the same rules without JAX.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

COMPLEX = [np.complex64, np.complex128]
TOL = {np.complex64: 2e-4, np.complex128: 1e-10, np.float32: 2e-4, np.float64: 1e-10}


def _z(shape: tuple[int, ...], dtype: Any, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    parts = rng.uniform(0.3, 1.2, (2, *shape)) * np.where(rng.random((2, *shape)) < 0.5, -1, 1)
    return (scale * (parts[0] + 1j * parts[1])).astype(dtype)


def _close(got: Any, expected: Any, dtype: Any) -> None:
    got = np.asarray(got._value if isinstance(got, tg.Tensor) else got)
    expected = np.asarray(expected)
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype
    tol = TOL[np.dtype(dtype).type]
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def _loss(f: Callable[..., Any], xp: Any, weight: np.ndarray) -> Callable[..., Any]:
    """A real-valued function of f's complex output (pairs it with a complex weight)."""

    def loss(*args: Any) -> Any:
        return xp.sum(xp.real(f(*args) * weight))

    return loss


# (name, tapegrad function, JAX function, values' scale): elementwise math on complex
ELEMENTWISE: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
    ("add", lambda z: z + (0.5 - 1j) * z, lambda z: z + (0.5 - 1j) * z),
    ("subtract", lambda z: z - z * z, lambda z: z - z * z),
    ("divide", lambda z: (z + 2) / z, lambda z: (z + 2) / z),
    ("exp", tnp.exp, jnp.exp),
    ("log", tnp.log, jnp.log),
    ("sqrt", tnp.sqrt, jnp.sqrt),
    ("sin", tnp.sin, jnp.sin),
    ("cos", tnp.cos, jnp.cos),
    ("tan", tnp.tan, jnp.tan),
    ("sinh", tnp.sinh, jnp.sinh),
    ("cosh", tnp.cosh, jnp.cosh),
    ("tanh", tnp.tanh, jnp.tanh),
    ("arctan", tnp.arctan, jnp.arctan),
    ("arcsinh", tnp.arcsinh, jnp.arcsinh),
    ("log1p", tnp.log1p, jnp.log1p),
    ("expm1", tnp.expm1, jnp.expm1),
    ("square", tnp.square, jnp.square),
    ("reciprocal", tnp.reciprocal, jnp.reciprocal),
    ("power_int", lambda z: z**3, lambda z: z**3),
    ("power_complex", lambda z: z ** (0.5 + 0.25j), lambda z: z ** (0.5 + 0.25j)),
    ("power_both", lambda z: tnp.power(z, z), lambda z: jnp.power(z, z)),
]
# Not holomorphic: only real-valued losses and VJPs have a gradient.
NON_HOLOMORPHIC = [
    ("abs", tnp.abs, jnp.abs),
    ("real", tnp.real, jnp.real),
    ("imag", tnp.imag, jnp.imag),
    ("conj", tnp.conj, jnp.conj),
    ("angle", tnp.angle, jnp.angle),
    ("abs_squared", lambda z: tnp.abs(z) ** 2, lambda z: jnp.abs(z) ** 2),
    ("conj_product", lambda z: tnp.conj(z) * tnp.sin(z), lambda z: jnp.conj(z) * jnp.sin(z)),
]


def _ids(table: list[Any]) -> list[str]:
    return [row[0] for row in table]


def _jax_oracle(jf: Any, holomorphic: bool) -> dict[str, np.ndarray]:
    """JAX's value, real-loss gradient, VJP, JVP (and f', f'') in complex128, once."""
    z, weight = _z((2, 2), np.complex128), _z((2, 2), np.complex128, seed=1)
    direction = _z((2, 2), np.complex128, seed=2)
    with jax.enable_x64(True):
        out, back = jax.vjp(jf, jnp.asarray(z))
        cotangent = _z((2, 2), np.complex128, seed=3)
        cotangent = cotangent.real if out.dtype.kind == "f" else cotangent
        found = {
            "value": out,
            "grad": jax.grad(_loss(jf, jnp, weight))(jnp.asarray(z)),
            "vjp": back(jnp.asarray(cotangent))[0],
            "jvp": jax.jvp(jf, (jnp.asarray(z),), (jnp.asarray(direction),))[1],
        }
        if holomorphic:
            first = jax.grad(jf, holomorphic=True)
            found["holomorphic"] = first(jnp.asarray(z[0, 0]))
    found = {key: np.asarray(value) for key, value in found.items()}
    found.update(z=z, weight=weight, direction=direction, cotangent=cotangent)
    return found


def _check_against(f: Any, oracle: dict[str, np.ndarray], dtype: Any) -> None:
    def cast(x: np.ndarray) -> np.ndarray:
        if x.dtype.kind == "c":
            return x.astype(dtype)
        return x.astype(np.float32 if dtype == np.complex64 else np.float64)

    z = tg.Tensor(cast(oracle["z"]))
    _close(f(z), cast(oracle["value"]), dtype)
    _close(tg.grad(_loss(f, tnp, cast(oracle["weight"])))(z), cast(oracle["grad"]), dtype)
    _, back = tg.vjp(f, z)
    _close(back(tg.Tensor(cast(oracle["cotangent"])))[0], cast(oracle["vjp"]), dtype)
    _close(tg.jvp(f, (z,), (cast(oracle["direction"]),))[1], cast(oracle["jvp"]), dtype)
    if "holomorphic" in oracle:
        first = tg.grad(f, holomorphic=True)
        z0 = tg.Tensor(cast(oracle["z"][0, 0]))
        _close(first(z0), cast(oracle["holomorphic"]), dtype)
        # f'' by finite differences of f' (JAX's second derivatives cost more than ours)
        step = 1e-6 if dtype == np.complex128 else 1e-2
        second = tg.grad(first, holomorphic=True)(z0)
        numeric = (first(z0 + step)._value - first(z0 - step)._value) / (2 * step)
        np.testing.assert_allclose(second.numpy(), numeric, rtol=1e-4 if step < 1e-3 else 5e-2)


@pytest.mark.parametrize(("name", "f", "jf"), ELEMENTWISE, ids=_ids(ELEMENTWISE))
def test_holomorphic_functions_equal_jax(name: str, f: Any, jf: Any) -> None:
    # Values, a real loss's gradient, VJP and JVP in complex directions, f' (and f'').
    oracle = _jax_oracle(jf, holomorphic=True)
    for dtype in COMPLEX:
        _check_against(f, oracle, dtype)


@pytest.mark.parametrize(("name", "f", "jf"), NON_HOLOMORPHIC, ids=_ids(NON_HOLOMORPHIC))
def test_non_holomorphic_functions_equal_jax(name: str, f: Any, jf: Any) -> None:
    oracle = _jax_oracle(jf, holomorphic=False)
    for dtype in COMPLEX:
        _check_against(f, oracle, dtype)


@pytest.mark.parametrize("dtype", COMPLEX, ids=["c64", "c128"])
@pytest.mark.parametrize(
    ("name", "f", "jf"), ELEMENTWISE + NON_HOLOMORPHIC, ids=_ids(ELEMENTWISE + NON_HOLOMORPHIC)
)
def test_derivatives_match_finite_differences(name: str, f: Any, jf: Any, dtype: Any) -> None:
    # Complex directions move the real and the imaginary parts; both modes, second order.
    tg.check_grads(f, (_z((3,), dtype, seed=4),), order=2)


def test_real_argument_of_complex_intermediates_gets_a_real_gradient() -> None:
    x = np.array([0.3, -0.7, 1.1])
    weight = _z((3,), np.complex128, seed=5)

    def f(xp: Any) -> Callable[..., Any]:
        def loss(x: Any) -> Any:
            z = xp.exp(1j * x) * weight
            return xp.sum(xp.abs(z * x) + xp.real(z) * xp.imag(z))

        return loss

    got = tg.grad(f(tnp))(x)
    with jax.enable_x64(True):
        expected = jax.grad(f(jnp))(jnp.asarray(x))
    assert got.dtype == np.float64
    _close(got, expected, np.float64)
    tg.check_grads(f(tnp), (x,), order=2)


def test_mixed_real_and_complex_arguments_promote_as_numpy() -> None:
    x = np.array([0.5, 1.5], np.float32)
    z = _z((2,), np.complex64)
    assert (tg.Tensor(x) * tg.Tensor(z)).dtype == np.result_type(x, z)
    assert (tg.Tensor(x.astype(np.float64)) + tg.Tensor(z)).dtype == np.complex128
    gx, gz = tg.grad(lambda x, z: tnp.sum(tnp.abs(x * z) ** 2), argnums=(0, 1))(x, z)
    assert gx.dtype == np.float32
    assert gz.dtype == np.complex64
    with jax.enable_x64(True):
        ex, ez = jax.grad(lambda x, z: jnp.sum(jnp.abs(x * z) ** 2), argnums=(0, 1))(x, z)
    _close(gx, ex, np.float32)
    _close(gz, ez, np.complex64)


def test_complex_output_needs_holomorphic_like_jax() -> None:
    z = tg.Tensor(np.complex64(1 + 2j))
    with pytest.raises(TypeError, match="holomorphic=True"):
        tg.grad(tnp.exp)(z)
    with pytest.raises(TypeError, match="requires inputs with complex dtype"):
        tg.grad(tnp.exp, holomorphic=True)(np.float32(1.0))
    with pytest.raises(TypeError, match="requires outputs with complex dtype"):
        tg.grad(tnp.abs, holomorphic=True)(z)
    with pytest.raises(TypeError, match="holomorphic=True"):
        tg.value_and_grad(lambda z: z * z)(z)


def test_gradient_of_abs_squared_is_twice_the_conjugate() -> None:
    z = tg.Tensor(np.complex128(3 + 4j))
    assert complex(tg.grad(lambda z: tnp.abs(z) ** 2)(z)) == pytest.approx(6 - 8j)
    assert complex(tg.grad(lambda z: z * z, holomorphic=True)(z)) == pytest.approx(6 + 8j)


_B = _z((3, 3), np.complex128, seed=6)
_V = _z((3,), np.complex128, seed=7)
# (name, function of the namespace, argument): reductions, products and linalg
MATRIX_FUNCTIONS: list[tuple[str, Callable[[Any], Callable[..., Any]], np.ndarray]] = [
    ("sum", lambda xp: lambda a: xp.sum(a, axis=0), _z((3, 3), np.complex128)),
    ("mean", lambda xp: lambda a: xp.mean(a, axis=1), _z((3, 3), np.complex128)),
    ("prod", lambda xp: lambda a: xp.prod(a, axis=0), _z((3, 3), np.complex128)),
    ("cumsum", lambda xp: lambda a: xp.cumsum(a, axis=1), _z((3, 3), np.complex128)),
    ("cumprod", lambda xp: lambda a: xp.cumprod(a, axis=1), _z((3, 3), np.complex128)),
    ("var", lambda xp: lambda a: xp.var(a, axis=0), _z((3, 3), np.complex128)),
    ("std", lambda xp: xp.std, _z((3, 3), np.complex128)),
    ("matmul", lambda xp: lambda a: a @ _B + _B @ a, _z((3, 3), np.complex128)),
    ("dot", lambda xp: lambda a: xp.dot(a, _V), _z((3, 3), np.complex128)),
    ("vdot", lambda xp: lambda a: xp.vdot(a, _V) * xp.vdot(_V, a), _z((3,), np.complex128)),
    ("inner", lambda xp: lambda a: xp.inner(a, _V), _z((3, 3), np.complex128)),
    ("outer", lambda xp: lambda a: xp.outer(a, _V), _z((3,), np.complex128)),
    ("tensordot", lambda xp: lambda a: xp.tensordot(a, _B, axes=1), _z((3, 3), np.complex128)),
    ("einsum", lambda xp: lambda a: xp.einsum("ij,jk->ik", a, _B), _z((3, 3), np.complex128)),
    ("inv", lambda xp: xp.linalg.inv, _z((3, 3), np.complex128)),
    ("solve", lambda xp: lambda a: xp.linalg.solve(a, _V), _z((3, 3), np.complex128)),
    ("det", lambda xp: xp.linalg.det, _z((3, 3), np.complex128)),
    ("slogdet_sign", lambda xp: lambda a: xp.linalg.slogdet(a)[0], _z((3, 3), np.complex128)),
    ("slogdet_log", lambda xp: lambda a: xp.linalg.slogdet(a)[1], _z((3, 3), np.complex128)),
    ("norm", lambda xp: xp.linalg.norm, _z((3, 3), np.complex128)),
    ("norm_axis", lambda xp: lambda a: xp.linalg.norm(a, axis=0), _z((3, 3), np.complex128)),
]


@pytest.mark.parametrize(("name", "make", "a"), MATRIX_FUNCTIONS, ids=_ids(MATRIX_FUNCTIONS))
def test_reductions_products_and_linalg_equal_jax(name: str, make: Any, a: np.ndarray) -> None:
    f, jf = make(tnp), make(jnp)
    direction = _z(a.shape, np.complex128, seed=8)
    with jax.enable_x64(True):
        out, back = jax.vjp(jf, jnp.asarray(a))
        cotangent = _z(out.shape, np.complex128, seed=9)
        cotangent = cotangent.real if out.dtype.kind == "f" else cotangent
        expected_vjp = back(jnp.asarray(cotangent))[0]
        expected_jvp = jax.jvp(jf, (jnp.asarray(a),), (jnp.asarray(direction),))[1]
    _close(f(tg.Tensor(a)), out, np.complex128)
    _close(tg.vjp(f, tg.Tensor(a))[1](tg.Tensor(cotangent))[0], expected_vjp, np.complex128)
    _close(tg.jvp(f, (tg.Tensor(a),), (direction,))[1], expected_jvp, np.complex128)
    tg.check_grads(f, (a,), order=2)


def _jax_eig(a: Any) -> Any:
    return jax.lax.linalg.eig(a, compute_left_eigenvectors=False, enable_eigvec_derivs=True)


@pytest.mark.parametrize("kind", ["complex", "real"])
def test_eig_values_vectors_and_gradients_equal_jax(kind: str) -> None:
    rng = np.random.default_rng(10)
    a = _z((3, 3), np.complex128, seed=10) if kind == "complex" else rng.standard_normal((3, 3))
    tangent = _z((3, 3), np.complex128, seed=11)
    tangent = tangent if kind == "complex" else tangent.real
    for part in (0, 1):

        def f(a: Any, part: int = part) -> Any:
            return tnp.linalg.eig(a)[part]

        def jf(a: Any, part: int = part) -> Any:
            return _jax_eig(a)[part]

        cotangent = _z((3,) if part == 0 else (3, 3), np.complex128, seed=12 + part)
        with jax.enable_x64(True):
            out, back = jax.vjp(jf, jnp.asarray(a))
            expected_vjp = back(jnp.asarray(cotangent))[0]
            expected_jvp = jax.jvp(jf, (jnp.asarray(a),), (jnp.asarray(tangent),))[1]
        _close(f(tg.Tensor(a)), out, np.complex128)
        _close(tg.vjp(f, tg.Tensor(a))[1](tg.Tensor(cotangent))[0], expected_vjp, a.dtype)
        _close(tg.jvp(f, (tg.Tensor(a),), (tangent,))[1], expected_jvp, np.complex128)
    tg.check_grads(tnp.linalg.eigvals, (a,), order=2)
    if kind == "complex":  # (a real eigenvector's sign is LAPACK's pick: no derivative)
        tg.check_grads(lambda a: tnp.linalg.eig(a)[1], (a,), order=1)


def test_eig_of_a_matrix_with_real_spectrum_is_real_as_numpy() -> None:
    a = np.array([[2.0, 1.0], [0.5, 3.0]])
    w, v = tnp.linalg.eig(tg.Tensor(a))
    expected_w, expected_v = np.linalg.eig(a)
    assert w.dtype == expected_w.dtype
    np.testing.assert_allclose(w.numpy(), expected_w)
    np.testing.assert_allclose(v.numpy(), expected_v)
    g = tg.grad(lambda a: tnp.sum(tnp.linalg.eigvals(a) ** 2))(a)
    np.testing.assert_allclose(g.numpy(), 2 * a.T)  # d trace(a @ a) / da


def test_sort_complex_orders_by_real_then_imaginary_part() -> None:
    a = np.array([[3 + 1j, 1 - 2j, 1 + 0j], [0, 2j, -1j]])
    got = tnp.sort_complex(tg.Tensor(a))
    np.testing.assert_array_equal(got.numpy(), np.sort_complex(a))
    real = np.array([3.0, 1.0, 2.0], np.float32)
    assert tnp.sort_complex(tg.Tensor(real)).dtype == np.sort_complex(real).dtype
    weights = np.array([1.0, 2.0, 3.0])
    g = tg.grad(lambda z: tnp.sum(tnp.real(tnp.sort_complex(z) * weights)))(a[0])
    np.testing.assert_allclose(g.numpy(), [3.0, 1.0, 2.0])


def test_numpy_eig_on_a_tensor_dispatches_to_tapegrad() -> None:
    a = np.array([[1.0, 2.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 2.0]])
    w, _ = np.linalg.eig(tg.Tensor(a))
    assert isinstance(w, tg.Tensor)
    np.testing.assert_allclose(np.sort_complex(w.numpy()), np.sort_complex(np.linalg.eigvals(a)))


def _hermitian(xp: Any) -> Callable[[Any], Any]:
    return lambda b: b @ xp.conj(b.T) + 3 * xp.eye(3)


# Functions of a complex (3, 3) matrix b through the decompositions (Hermitian ones of a
# Hermitian matrix made from b): values, VJPs and JVPs equal JAX's, gauge included.
DECOMPOSITIONS: list[tuple[str, Callable[[Any], Callable[..., Any]]]] = [
    ("eigvalsh", lambda xp: lambda b: xp.linalg.eigvalsh(_hermitian(xp)(b))),
    ("eigh_vectors", lambda xp: lambda b: xp.linalg.eigh(_hermitian(xp)(b))[1]),
    ("cholesky", lambda xp: lambda b: xp.linalg.cholesky(_hermitian(xp)(b))),
    ("svd_values", lambda xp: lambda b: xp.linalg.svd(b, compute_uv=False)),
    ("svd_u", lambda xp: lambda b: xp.linalg.svd(b, full_matrices=False)[0]),
    ("svd_vh", lambda xp: lambda b: xp.linalg.svd(b, full_matrices=False)[2]),
    (
        "svd_tall_u",
        lambda xp: lambda b: xp.linalg.svd(xp.concatenate([b, b * b]), full_matrices=False)[0],
    ),
    (
        "svd_wide_vh",
        lambda xp: lambda b: xp.linalg.svd(xp.concatenate([b, b], axis=1), full_matrices=False)[2],
    ),
    ("norm_2", lambda xp: lambda b: xp.linalg.norm(b, 2)),
    ("norm_nuc", lambda xp: lambda b: xp.linalg.norm(b, "nuc")),
    ("qr_q", lambda xp: lambda b: xp.linalg.qr(b)[0]),
    ("qr_r_tall", lambda xp: lambda b: xp.linalg.qr(xp.concatenate([b, b * b]))[1]),
    ("pinv_tall", lambda xp: lambda b: xp.linalg.pinv(b[:, :2])),
    ("pinv_wide", lambda xp: lambda b: xp.linalg.pinv(b[:2])),
]


@pytest.mark.parametrize(("name", "make"), DECOMPOSITIONS, ids=[d[0] for d in DECOMPOSITIONS])
def test_decompositions_of_complex_matrices_equal_jax(name: str, make: Any) -> None:
    b = _z((3, 3), np.complex128, seed=20)
    tangent = _z((3, 3), np.complex128, seed=21)
    f, jf = make(tnp), make(jnp)
    with jax.enable_x64(True):
        out, back = jax.vjp(jf, jnp.asarray(b))
        cotangent = _z(out.shape, np.complex128, seed=22)
        cotangent = cotangent.real if out.dtype.kind == "f" else cotangent
        expected_vjp = back(jnp.asarray(cotangent))[0]
        expected_jvp = jax.jvp(jf, (jnp.asarray(b),), (jnp.asarray(tangent),))[1]
    _close(f(tg.Tensor(b)), out, np.complex128)
    _close(tg.vjp(f, tg.Tensor(b))[1](tg.Tensor(cotangent))[0], expected_vjp, np.complex128)
    _close(tg.jvp(f, (tg.Tensor(b),), (tangent,))[1], expected_jvp, np.complex128)


@pytest.mark.parametrize(
    ("name", "make"),
    [d for d in DECOMPOSITIONS if d[0] in ("eigvalsh", "cholesky", "svd_values", "qr_r_tall")],
    ids=["eigvalsh", "cholesky", "svd_values", "qr_r_tall"],
)
def test_decompositions_match_finite_differences(name: str, make: Any) -> None:
    # (Gauge-free outputs: LAPACK's phases of eigen- and singular vectors are its own.)
    tg.check_grads(make(tnp), (_z((3, 3), np.complex128, seed=23),), order=2)


def test_tensor_real_imag_and_conjugate_are_differentiable_as_numpy_code_uses_them() -> None:
    z = tg.Tensor(np.array([1 + 2j, 3 - 1j]))
    np.testing.assert_array_equal(z.real.numpy(), [1.0, 3.0])
    np.testing.assert_array_equal(np.imag(z).numpy(), [2.0, -1.0])
    np.testing.assert_array_equal(z.conjugate().numpy(), [1 - 2j, 3 + 1j])
    # f = x y for z = x + iy: df = Re(c dz) with c = y - ix (JAX's convention).
    g = tg.grad(lambda z: (z.real * z.imag).sum())(z)
    np.testing.assert_allclose(g.numpy(), [2 - 1j, -1 - 3j])


def test_negative_real_base_to_a_complex_power_equals_jax() -> None:
    x, y = np.array([-2.0, 1.5]), np.array([0.5 + 1j, 2 - 0.5j])

    def f(xp: Any) -> Callable[..., Any]:
        return lambda x, y: xp.sum(xp.real(xp.power(x, y) * (1 + 2j)))

    gx, gy = tg.grad(f(tnp), argnums=(0, 1))(x, y)
    with jax.enable_x64(True):
        ex, ey = jax.grad(f(jnp), argnums=(0, 1))(x, y)
    _close(gx, ex, np.float64)
    _close(gy, ey, np.complex128)
    tg.check_grads(tnp.power, (x, y), order=2)

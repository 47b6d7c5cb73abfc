"""Linear-algebra primitives: solve, det, slogdet, cholesky, eigh, svd, qr, pinv.

Each is a LAPACK call (through NumPy) with VJP and JVP rules written with primitives, so
second and higher derivatives work. All take stacks of matrices ``(..., m, n)``.
Everything else in ``tapegrad.numpy.linalg`` (inv, norm, matrix_power, ...) is a composite.

``cholesky`` and ``eigh`` read only the lower triangle of their input, as NumPy's do: the
function of the full matrix is ``f(tril(a) + tril(a, -1).T)``, and the rules differentiate
exactly that (see `sym_from_lower` and `lower_adjoint`). Gradients are therefore
lower-triangular; a symmetric parameterisation (``a = b + b.T``) symmetrises them.

Eigen- and singular-vector rules divide by gaps between eigen-/singular values. At exact
ties the gap term is set to 0: the derivative of the vectors does not exist there, and
this keeps value-only gradients (``eigvalsh``, ``svd(compute_uv=False)``, norms) finite.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core.broadcast import unbroadcast
from tapegrad.core.primitive import Primitive, symbolic_recorder
from tapegrad.core.prims.elementwise import (
    cast_p,
    conj_p,
    equal_p,
    imag_p,
    real_p,
    real_part,
    where_p,
)
from tapegrad.core.prims.products import matmul_p
from tapegrad.core.prims.reduction import product_of_others, sum_p
from tapegrad.core.prims.shape import (
    concatenate_p,
    getitem_p,
    reshape_p,
    transpose_p,
)
from tapegrad.core.tensor import Tensor, dtype_of, shape_of


# -- helpers (all work on arrays and Tensors) ---------------------------------------------
def _raw(x: Any) -> Any:
    return getattr(x, "_value", x)


def _shape(x: Any) -> tuple[int, ...]:
    return shape_of(_raw(x))


def _float_dtype(x: Any) -> np.dtype:
    dtype = np.result_type(_raw(x))
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


def matrix_transpose(x: Any) -> Any:
    """Swap the last two axes."""
    nd = len(_shape(x))
    return transpose_p(x, axes=tuple(range(nd - 2)) + (nd - 1, nd - 2))


def adjoint(x: Any) -> Any:
    """The conjugate transpose of each matrix (the transpose of real ones: no conj op)."""
    swapped = matrix_transpose(x)
    return conj_p(swapped) if dtype_of(x).kind == "c" else swapped


def _conj(x: Any) -> Any:
    return conj_p(x) if dtype_of(x).kind == "c" else x


def _conj_all(parts: Any) -> Any:
    return tuple(_conj(p) for p in parts)


def _expand(x: Any, axis: int) -> Any:
    """Insert a length-1 axis at ``axis`` (negative: counted from the end of the result)."""
    shape = list(_shape(x))
    shape.insert(axis if axis >= 0 else len(shape) + 1 + axis, 1)
    return reshape_p(x, shape=tuple(shape))


def _squeeze_last(x: Any) -> Any:
    return reshape_p(x, shape=_shape(x)[:-1])


def _eye(n: int, like: Any) -> np.ndarray:
    return np.eye(n, dtype=_float_dtype(like))


def _diagonal(x: Any) -> Any:
    """The diagonal of each matrix, as the last axis."""
    i = np.arange(min(_shape(x)[-2:]))
    return getitem_p(x, index=(Ellipsis, i, i))


def _diag_embed(v: Any) -> Any:
    """Diagonal matrices with ``v`` (..., k) on the diagonal."""
    return _expand(v, -2) * _eye(_shape(v)[-1], v)


def _sum_matrix(x: Any) -> Any:
    """Sum over the last two axes."""
    nd = len(_shape(x))
    return sum_p(x, axis=(nd - 2, nd - 1), keepdims=False)


def _safe_reciprocal(x: Any) -> Any:
    """``1 / x`` with 0 where ``x == 0`` (no inf, no NaN in any derivative)."""
    zero = equal_p(x, 0)
    return where_p(zero, 0, 1 / where_p(zero, 1, x))


def _gap_reciprocal(values: Any, squared: bool = False) -> Any:
    """F[..., i, j] = 1 / (v_j - v_i) (or 1 / (v_j**2 - v_i**2)); 0 on ties and the diagonal."""
    if squared:
        values = values * values
    return _safe_reciprocal(_expand(values, -2) - _expand(values, -1))


def _real_diagonal(x: Any) -> Any:
    # LAPACK's Hermitian routines read only the real part of the diagonal.
    return cast_p(real_p(x), dtype=dtype_of(x)) if dtype_of(x).kind == "c" else x


def sym_from_lower(x: Any) -> Any:
    """The symmetric (Hermitian) matrix NumPy's ``eigh``/``cholesky`` see:
    ``tril(x) + tril(x, -1).T`` (``.conj().T``, real diagonal, for complex ``x``)."""
    n = _shape(x)[-1]
    lower = where_p(np.eye(n, dtype=bool), _real_diagonal(x), 0)
    strict = where_p(np.tri(n, k=-1, dtype=bool), x, 0)
    return lower + strict + adjoint(strict)


def lower_adjoint(g: Any) -> Any:
    """Transpose (adjoint) of `sym_from_lower`: ``tril(g + g.T, -1) + diag(g)`` (``g.T``
    conjugated, the diagonal's real part, for complex ``g``: the same in JAX's pairing)."""
    n = _shape(g)[-1]
    both = g + adjoint(g)
    diagonal = where_p(np.eye(n, dtype=bool), _real_diagonal(g), 0)
    return where_p(np.tri(n, k=-1, dtype=bool), both, diagonal)


def _inv_transpose(a: Any) -> Any:
    """``inv(a).T`` for each matrix of the stack."""
    n = _shape(a)[-1]
    return solve_p(matrix_transpose(a), _eye(n, a))


# -- solve ---------------------------------------------------------------------------------
# NumPy 2 rule: ``b`` is a vector only when it is 1-D; otherwise a stack of (n, k) matrices.
def _as_columns(b: Any, vector: bool) -> Any:
    return _expand(b, -1) if vector else b


def _solve_vjp_a(g: Any, ans: Any, a: Any, b: Any) -> Any:
    vector = len(_shape(b)) == 1
    gb = solve_p(matrix_transpose(a), _as_columns(g, vector))
    x = _as_columns(ans, vector)
    return unbroadcast(-matmul_p(gb, matrix_transpose(x)), _shape(a))


def _solve_vjp_b(g: Any, ans: Any, a: Any, b: Any) -> Any:
    vector = len(_shape(b)) == 1
    gb = solve_p(matrix_transpose(a), _as_columns(g, vector))
    return unbroadcast(_squeeze_last(gb) if vector else gb, _shape(b))


def _solve_jvp_a(t: Any, ans: Any, a: Any, b: Any) -> Any:
    vector = len(_shape(b)) == 1
    dx = solve_p(a, -matmul_p(t, _as_columns(ans, vector)))
    return _squeeze_last(dx) if vector else dx


def _solve_jvp_b(t: Any, ans: Any, a: Any, b: Any) -> Any:
    return solve_p(a, t)


solve_p = Primitive("solve", np.linalg.solve, returns="fresh")
solve_p.defvjp(_solve_vjp_a, _solve_vjp_b)
solve_p.defjvp(_solve_jvp_a, _solve_jvp_b)


# -- inverse that marks singular matrices -------------------------------------------------
def _inv_or_nan_impl(a: Any) -> np.ndarray:
    """``inv`` of each matrix, NaN-filled where one is singular (as NumPy's ``cond`` takes
    it): a traced graph cannot catch a LinAlgError per matrix at run time."""
    a = np.asarray(a)
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        n = a.shape[-1]
        flat = a.reshape(-1, n, n)
        dtype = np.linalg.inv(np.eye(n, dtype=a.dtype)).dtype
        out = np.empty(flat.shape, dtype)
        for k, matrix in enumerate(flat):
            try:
                out[k] = np.linalg.inv(matrix)
            except np.linalg.LinAlgError:
                out[k] = np.nan
        return out.reshape(a.shape)


inv_or_nan_p = Primitive("inv_or_nan", _inv_or_nan_impl, returns="unknown")
# d inv(a) = -inv(a) da inv(a): the VJP is -inv(a).T g inv(a).T (NaN where singular).
inv_or_nan_p.defvjp(
    lambda g, ans, a: -matmul_p(matmul_p(matrix_transpose(ans), g), matrix_transpose(ans))
)
inv_or_nan_p.defjvp(lambda t, ans, a: -matmul_p(matmul_p(ans, t), ans))


# -- det, slogdet --------------------------------------------------------------------------
def cofactor(a: Any) -> Any:
    """The cofactor matrix ``det(a) * inv(a).T`` (the derivative of ``det``).

    ``det * inv`` loses ``cond(a) * eps`` relative accuracy and fails at singular
    matrices; there the SVD gives it exactly: ``+-U diag(prod_{j!=i} s_j) Vt``. The formula
    is picked from the values, so in a traced function it is the `cofactor` primitive, which
    picks it whenever the compiled code runs (not once, from the trace's values).
    """
    if isinstance(a, Tensor) and symbolic_recorder() is not None:
        return cofactor_p(a)
    return _cofactor_formula(a)


def _cofactor_formula(a: Any) -> Any:
    s = np.linalg.svd(np.asarray(_raw(a)), compute_uv=False)
    well_conditioned = s[..., -1] > s[..., 0] * np.finfo(_float_dtype(a)).eps ** (1 / 3)
    if np.all(well_conditioned):
        return _expand(_expand(det_p(a), -1), -1) * _inv_transpose(a)
    u, s, vt = svd_p(a)
    # det(U) det(Vt) is +-1 and locally constant: a constant in every derivative.
    signs = np.linalg.det(_raw(u)) * np.linalg.det(_raw(vt))
    others = product_of_others(s, (len(_shape(s)) - 1,))
    scaled = matmul_p(u * _expand(others, -2), vt)
    return scaled * signs[..., None, None]


def _cofactor_vjp(g: Any, ans: Any, a: Any) -> Any:
    """`_cofactor_formula` differentiated by a tape of its own (second-order derivatives of
    det in a traced function: there the formula is the trace's pick)."""
    from tapegrad.core.tape import GradientTape

    recorded = isinstance(g, Tensor) or isinstance(a, Tensor)
    leaf = a if isinstance(a, Tensor) else Tensor._wrap(np.asarray(a))
    with GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(leaf)
        out = _cofactor_formula(leaf)
    grad = tape.gradient(out, leaf, output_gradients=g, unconnected_gradients="zero")
    return grad if recorded else grad._value


# cofactor(a): `_cofactor_formula` on arrays, its formula picked from the values at each run.
cofactor_p = Primitive("cofactor", lambda a: _cofactor_formula(np.asarray(a)), returns="unknown")
cofactor_p.defvjp(_cofactor_vjp)


def _det_vjp(g: Any, ans: Any, a: Any) -> Any:
    return _expand(_expand(g, -1), -1) * cofactor(a)


det_p = Primitive("det", np.linalg.det, returns="fresh")
det_p.defvjp(_det_vjp)
det_p.defjvp(lambda t, ans, a: _sum_matrix(cofactor(a) * t))


def _slogdet_vjp(g: Any, ans: Any, a: Any) -> Any:
    g_sign, g_log = g
    if dtype_of(ans[0]).kind != "c":
        # A real sign is piecewise constant: its cotangent contributes nothing.
        return _expand(_expand(g_log, -1), -1) * _inv_transpose(a)
    # With tr = trace(inv(a) da): d sign = 1j Im(tr) sign, d log|det| = Re(tr) (as JAX's).
    k = -imag_p(g_sign * ans[0])
    weight = real_part(g_log) - 1j * k
    return _expand(_expand(weight, -1), -1) * _inv_transpose(a)


def _slogdet_jvp(t: Any, ans: Any, a: Any) -> Any:
    trace = _sum_matrix(_inv_transpose(a) * t)
    if dtype_of(ans[0]).kind != "c":
        return None, trace
    return 1j * imag_p(trace) * ans[0], real_p(trace)


slogdet_p = Primitive(
    "slogdet", lambda a: tuple(np.linalg.slogdet(a)), multiple_results=True, returns="fresh"
)
slogdet_p.defvjp(_slogdet_vjp)
slogdet_p.defjvp(_slogdet_jvp)


# -- cholesky ------------------------------------------------------------------------------
# Murray (2016), arXiv:1602.07527: dL = L phi(L^-1 dS L^-T), phi = tril with halved diagonal.
def _phi(x: Any) -> Any:
    n = _shape(x)[-1]
    # (A complex argument is Hermitian: only the real part of its diagonal counts.)
    return where_p(
        np.tri(n, k=-1, dtype=bool), x, 0.5 * where_p(np.eye(n, dtype=bool), _real_diagonal(x), 0)
    )


# Complex matrices: the same formulas with conjugate transposes; a VJP in JAX's pairing is
# the conjugate of the one in the Hermitian pairing Re(sum(conj(g) t)) of the conjugate g.
def _cholesky_jvp(t: Any, ans: Any, a: Any) -> Any:
    sigma_dot = sym_from_lower(t)
    left = solve_p(ans, adjoint(solve_p(ans, adjoint(sigma_dot))))
    return matmul_p(ans, _phi(left))


def _cholesky_vjp(g: Any, ans: Any, a: Any) -> Any:
    lt = adjoint(ans)
    middle = _phi(matmul_p(lt, _conj(g)))
    sigma_bar = solve_p(lt, adjoint(solve_p(lt, adjoint(middle))))
    return _conj(lower_adjoint(sigma_bar))


cholesky_p = Primitive("cholesky", np.linalg.cholesky, returns="fresh")
cholesky_p.defvjp(_cholesky_vjp)
cholesky_p.defjvp(_cholesky_jvp)


# -- eigh ----------------------------------------------------------------------------------
def _eigh_jvp(t: Any, ans: Any, a: Any) -> Any:
    w, v = ans
    rotated = matmul_p(adjoint(v), matmul_p(sym_from_lower(t), v))
    dv = matmul_p(v, _gap_reciprocal(w) * rotated)
    dw = _diagonal(rotated)
    return (real_p(dw) if dtype_of(dw).kind == "c" else dw), dv


def _eigh_vjp(g: Any, ans: Any, a: Any) -> Any:
    w, v = ans
    gw, gv = g
    inner = _diag_embed(real_part(gw)) + _gap_reciprocal(w) * matmul_p(adjoint(v), _conj(gv))
    return _conj(lower_adjoint(matmul_p(v, matmul_p(inner, adjoint(v)))))


eigh_p = Primitive(
    "eigh", lambda a: tuple(np.linalg.eigh(a)), multiple_results=True, returns="fresh"
)
eigh_p.defvjp(_eigh_vjp)
eigh_p.defjvp(_eigh_jvp)


# -- eig (general square matrices: complex results) ----------------------------------------
# Nondegenerate perturbation theory (Giles 2008, sec. 3.1), as JAX's eig rules: with
# P = inv(V) dA V, dw = diag(P) and dV = V (F * P) + V diag(c), where c keeps LAPACK's
# normalisation (unit 2-norm, real largest-magnitude component) of every eigenvector.
def _eig_impl(a: Any) -> tuple[Any, Any]:
    w, v = np.linalg.eig(a)
    dtype = np.result_type(w.dtype, np.complex64)  # always complex (NumPy casts to real)
    return w.astype(dtype, copy=False), v.astype(dtype, copy=False)


def _eig_largest(v: Any) -> Any:
    """One-hot (..., n, n) masks of each eigenvector's largest-magnitude component."""
    values = np.abs(np.asarray(_raw(v)))
    k = np.argmax(values, axis=-2)
    return np.arange(values.shape[-2])[:, None] == k[..., None, :]


def _eig_jvp(t: Any, ans: Any, a: Any) -> Any:
    w, v = ans
    p = solve_p(v, matmul_p(t, v))
    u = matmul_p(v, _gap_reciprocal(w) * p)
    mask = _eig_largest(v)
    largest = sum_p(where_p(mask, v, 0), axis=(len(_shape(v)) - 2,), keepdims=True)
    picked = sum_p(where_p(mask, u, 0), axis=(len(_shape(v)) - 2,), keepdims=True)
    along = sum_p(conj_p(v) * u, axis=(len(_shape(v)) - 2,), keepdims=True)
    c = -real_p(along) - 1j * (imag_p(picked) / real_p(largest))
    return _diagonal(p), u + v * c


def _eig_vjp(g: Any, ans: Any, a: Any) -> Any:
    w, v = ans
    gw, gv = g
    axis = (len(_shape(v)) - 2,)
    # The transpose of _eig_jvp in JAX's pairing Re(sum(g * t)), step by step backwards.
    s = sum_p(gv * v, axis=axis, keepdims=True)
    mask = _eig_largest(v)
    largest = sum_p(where_p(mask, v, 0), axis=axis, keepdims=True)
    gu = gv - real_p(s) * conj_p(v) + where_p(mask, -1j * imag_p(s) / real_p(largest), 0)
    inner = _diag_embed(gw) + _gap_reciprocal(w) * matmul_p(matrix_transpose(v), gu)
    # c_A = inv(V).T inner V.T
    return matmul_p(solve_p(matrix_transpose(v), inner), matrix_transpose(v))


eig_p = Primitive("eig", _eig_impl, multiple_results=True, returns="fresh")
eig_p.defvjp(_eig_vjp)
eig_p.defjvp(_eig_jvp)


# -- svd (reduced) -------------------------------------------------------------------------
# Townsend (2016), "Differentiating the singular value decomposition"; real inputs.
def _svd_impl(a: Any) -> tuple[Any, ...]:
    return tuple(np.linalg.svd(a, full_matrices=False))


# Complex matrices (JAX's rules): conjugate transposes, and the phase of each singular
# pair moves with U (the i Im(diag(U^H dA V)) / s term).
def _svd_jvp(t: Any, ans: Any, a: Any) -> Any:
    u, s, vt = ans
    m, n = _shape(a)[-2:]
    v = adjoint(vt)
    ds_full = matmul_p(adjoint(u), matmul_p(t, v))
    gaps = _gap_reciprocal(s, squared=True)
    s_row, s_col = _expand(s, -2), _expand(s, -1)
    ds_t = adjoint(ds_full)
    du = matmul_p(u, gaps * (ds_full * s_row + s_col * ds_t))
    dv = matmul_p(v, gaps * (s_col * ds_full + ds_t * s_row))
    s_inv = _safe_reciprocal(s)
    s_inv_row = _expand(s_inv, -2)
    ds = _diagonal(ds_full)
    if dtype_of(ds).kind == "c":
        du = du + matmul_p(u, _diag_embed(1j * imag_p(ds) * s_inv))
        ds = real_p(ds)
    if m > n:
        tv = matmul_p(t, v)
        du = du + (tv - matmul_p(u, matmul_p(adjoint(u), tv))) * s_inv_row
    if n > m:
        ttu = matmul_p(adjoint(t), u)
        dv = dv + (ttu - matmul_p(v, matmul_p(vt, ttu))) * s_inv_row
    return du, ds, adjoint(dv)


def _svd_vjp(g: Any, ans: Any, a: Any) -> Any:
    u, s, vt = ans
    gu, gs, gvt = _conj_all(g)  # (the Hermitian pairing's rule, conjugated at the end)
    m, n = _shape(a)[-2:]
    v = adjoint(vt)
    gaps = _gap_reciprocal(s, squared=True)
    ugu = matmul_p(adjoint(u), gu)
    j = gaps * ugu
    k = gaps * matmul_p(vt, adjoint(gvt))
    s_row, s_col = _expand(s, -2), _expand(s, -1)
    s_inv = _safe_reciprocal(s)
    inner = _diag_embed(real_part(gs)) + (j + adjoint(j)) * s_row + s_col * (k + adjoint(k))
    if dtype_of(ugu).kind == "c":
        inner = inner + _diag_embed(1j * imag_p(_diagonal(ugu)) * s_inv)
    grad = matmul_p(u, matmul_p(inner, vt))
    if m > n:
        off = gu - matmul_p(u, ugu)
        grad = grad + matmul_p(off * _expand(s_inv, -2), vt)
    if n > m:
        off = gvt - matmul_p(matmul_p(gvt, v), vt)
        grad = grad + matmul_p(u, _expand(s_inv, -1) * off)
    return _conj(grad)


svd_p = Primitive("svd", _svd_impl, multiple_results=True, returns="fresh")
svd_p.defvjp(_svd_vjp)
svd_p.defjvp(_svd_jvp)


# -- qr (reduced) --------------------------------------------------------------------------
# Tall case (m >= n) from Townsend's note; a wide matrix [X | Y] (X square) has
# Q, R_X = qr(X) and R = [R_X | Q.T Y], which reduces it to the square case.
def _right_solve(x: Any, r: Any) -> Any:
    """``x @ inv(r)``."""
    return matrix_transpose(solve_p(matrix_transpose(r), matrix_transpose(x)))


# Complex matrices (JAX's rules): conjugate transposes, and R's real diagonal keeps the
# imaginary part of diag(Q^H dA R^-1) in dQ (the i Im(diag c) term); the VJP is the
# Hermitian pairing's rule on conj(g), conjugated.
def _qr_tall_jvp(t: Any, q: Any, r: Any) -> tuple[Any, Any]:
    t_rinv = _right_solve(t, r)
    c = matmul_p(adjoint(q), t_rinv)
    n = _shape(c)[-1]
    lower = where_p(np.tri(n, k=-1, dtype=bool), c, 0)
    omega = lower - adjoint(lower)
    if dtype_of(c).kind == "c":
        omega = omega + where_p(np.eye(n, dtype=bool), 1j * imag_p(c), 0)
    return matmul_p(q, omega - c) + t_rinv, matmul_p(c - omega, r)


def _qr_tall_vjp(gq: Any, gr: Any, q: Any, r: Any) -> Any:
    m = matmul_p(gr, adjoint(r)) - matmul_p(adjoint(q), gq)
    n = _shape(m)[-1]
    upper = np.tri(n, k=-1, dtype=bool).T
    copied = where_p(upper, m, where_p(np.eye(n, dtype=bool), _real_diagonal(m), adjoint(m)))
    total = gq + matmul_p(q, copied)
    return adjoint(solve_p(r, adjoint(total)))


def _split_wide(x: Any, m: int) -> tuple[Any, Any]:
    left = getitem_p(x, index=(Ellipsis, slice(0, m)))
    return left, getitem_p(x, index=(Ellipsis, slice(m, None)))


def _qr_jvp(t: Any, ans: Any, a: Any) -> Any:
    q, r = ans
    m, n = _shape(a)[-2:]
    if m >= n:
        return _qr_tall_jvp(t, q, r)
    r_x = _split_wide(r, m)[0]
    t_x, t_y = _split_wide(t, m)
    y = _split_wide(a, m)[1]
    dq, dr_x = _qr_tall_jvp(t_x, q, r_x)
    dr_y = matmul_p(adjoint(dq), y) + matmul_p(adjoint(q), t_y)
    return dq, concatenate_p(dr_x, dr_y, axis=len(_shape(a)) - 1)


def _qr_vjp(g: Any, ans: Any, a: Any) -> Any:
    q, r = ans
    gq, gr = _conj_all(g)
    m, n = _shape(a)[-2:]
    if m >= n:
        return _conj(_qr_tall_vjp(gq, gr, q, r))
    r_x = _split_wide(r, m)[0]
    gr_x, gr_y = _split_wide(gr, m)
    y = _split_wide(a, m)[1]
    g_x = _qr_tall_vjp(gq + matmul_p(y, adjoint(gr_y)), gr_x, q, r_x)
    return _conj(concatenate_p(g_x, matmul_p(q, gr_y), axis=len(_shape(a)) - 1))


qr_p = Primitive(
    "qr", lambda a: tuple(np.linalg.qr(a, mode="reduced")), multiple_results=True, returns="fresh"
)
qr_p.defvjp(_qr_vjp)
qr_p.defjvp(_qr_jvp)


# -- pinv ----------------------------------------------------------------------------------
# A primitive (not a composite of svd) for stability: its derivative (Golub & Pereyra 1973)
# exists at repeated singular values, where the svd rules' gap terms do not.
def _pinv_jvp(t: Any, ans: Any, a: Any, rcond: float = 1e-15, hermitian: bool = False) -> Any:
    p, pt = ans, adjoint(ans)
    m, n = _shape(a)[-2:]
    tt = adjoint(t)
    left = _eye(m, ans) - matmul_p(a, p)
    right = _eye(n, ans) - matmul_p(p, a)
    return (
        -matmul_p(p, matmul_p(t, p))
        + matmul_p(matmul_p(p, pt), matmul_p(tt, left))
        + matmul_p(right, matmul_p(tt, matmul_p(pt, p)))
    )


def _pinv_vjp(g: Any, ans: Any, a: Any, rcond: float = 1e-15, hermitian: bool = False) -> Any:
    # Conjugate transposes for complex matrices: the Hermitian pairing's rule on conj(g),
    # conjugated (JAX's pairing).
    p, pt = ans, adjoint(ans)
    m, n = _shape(a)[-2:]
    g = _conj(g)
    gt = adjoint(g)
    left = _eye(m, ans) - matmul_p(a, p)
    right = _eye(n, ans) - matmul_p(p, a)
    return _conj(
        -matmul_p(pt, matmul_p(g, pt))
        + matmul_p(left, matmul_p(gt, matmul_p(p, pt)))
        + matmul_p(matmul_p(pt, p), matmul_p(gt, right))
    )


def _pinv_impl(a: Any, rcond: float = 1e-15, hermitian: bool = False) -> Any:
    return np.linalg.pinv(a, rcond=rcond, hermitian=hermitian)


pinv_p = Primitive("pinv", _pinv_impl, returns="fresh")
pinv_p.defvjp(_pinv_vjp)
pinv_p.defjvp(_pinv_jvp)

"""Product primitives: matmul (NumPy semantics incl. 1-D and batch broadcasting) and einsum."""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core.broadcast import unbroadcast
from tapegrad.core.primitive import Primitive
from tapegrad.core.prims import contraction
from tapegrad.core.prims.reduction import sum_p
from tapegrad.core.prims.shape import broadcast_to_p, reshape_p, transpose_p
from tapegrad.core.tensor import ndim_of, shape_of


def _swap_last(x: Any) -> Any:
    ndim = ndim_of(x)
    axes = tuple(range(ndim - 2)) + (ndim - 1, ndim - 2)
    return transpose_p(x, axes=axes)


def _insert_axis(x: Any, axis: int) -> Any:
    shape = list(shape_of(x))
    shape.insert(axis if axis >= 0 else len(shape) + 1 + axis, 1)
    return reshape_p(x, shape=tuple(shape))


def _drop_axis(x: Any, axis: int) -> Any:
    shape = list(shape_of(x))
    del shape[axis]
    return reshape_p(x, shape=tuple(shape))


def _rows(x: Any, n: int) -> Any:
    """``x`` of shape ``(..., n)`` as a matrix ``(rows, n)``: every leading position a row."""
    return x.reshape(-1, n) if type(x) is np.ndarray else reshape_p(x, shape=(-1, n))


# The common cases use operators: on arrays (first-order walks) they are NumPy's own calls,
# on Tensors the same primitives (matmul, transpose) as the general formulas.
def _matmul_vjp_a(g: Any, ans: Any, a: Any, b: Any) -> Any:
    a_nd, b_nd = ndim_of(a), ndim_of(b)
    if a_nd == 2 and b_nd == 2:  # the common case, without broadcasting bookkeeping
        return g @ b.T
    if a_nd > 2 and b_nd == 2:
        # A stack against one matrix: one GEMM over every row, where a stacked product
        # calls the BLAS once per leading index.
        grad = _rows(g, shape_of(g)[-1]) @ b.T
        shape = shape_of(a)
        return grad.reshape(shape) if type(grad) is np.ndarray else reshape_p(grad, shape=shape)
    if b_nd == 1:
        # out[..., i] = sum_k a[..., i, k] b[k]
        grad = (_insert_axis(g, -1) if a_nd > 1 else g) * b
    else:
        g2 = _insert_axis(g, -2) if a_nd == 1 else g
        grad = matmul_p(g2, _swap_last(b))
        if a_nd == 1:
            grad = _drop_axis(grad, -2)
    return unbroadcast(grad, shape_of(a))


def _matmul_vjp_b(g: Any, ans: Any, a: Any, b: Any) -> Any:
    a_nd, b_nd = ndim_of(a), ndim_of(b)
    if a_nd == 2 and b_nd <= 2:  # matrix @ matrix or matrix @ vector: a.T @ g
        return a.T @ g
    if a_nd > 2 and b_nd == 2:
        # The sum over the stack of a_i.T @ g_i is one GEMM over every row: no stack of
        # products (one BLAS call each) to write and sum afterwards.
        return _rows(a, shape_of(a)[-1]).T @ _rows(g, shape_of(g)[-1])
    if a_nd == 1:
        if b_nd == 1:
            grad = g * a
        else:
            # out[..., j] = sum_k a[k] b[..., k, j]
            grad = _insert_axis(a, -1) * _insert_axis(g, -2)
    elif b_nd == 1:
        grad = _drop_axis(matmul_p(_swap_last(a), _insert_axis(g, -1)), -1)
    else:
        grad = matmul_p(_swap_last(a), g)
    return unbroadcast(grad, shape_of(b))


matmul_p = Primitive("matmul", np.matmul, returns="fresh_like_inputs")
# The same BLAS call with out= (graph codegen writes into a reused buffer).
matmul_p.ufunc = np.matmul
# BLAS writes a fresh C-ordered matrix; stacked products follow their inputs' layout.
matmul_p.c_order = lambda inputs_c, shapes, out_shape, params: (
    inputs_c or all(len(shape) <= 2 for shape in shapes)
)
matmul_p.defvjp(_matmul_vjp_a, _matmul_vjp_b)
matmul_p.defjvp(
    lambda t, ans, a, b: matmul_p(t, b),
    lambda t, ans, a, b: matmul_p(a, t),
)


# -- dense: inputs @ kernel + bias as one op -------------------------------------------------
# A Dense layer's affine map. Eager training records one tape entry per layer instead of
# two (matmul, add): one fewer op to dispatch and record, one fewer backward step, and the
# bias gradient is a plain sum instead of an add's unbroadcast (W2's eager step: ~40 µs of
# ~1,000). Traced code uses matmul + add instead (`tapegrad.ops.nn.dense`), which the
# graph compiler already fuses with the activation that follows.
def dense_check(
    x_shape: tuple[int, ...], k_shape: tuple[int, ...], b_shape: tuple[int, ...]
) -> None:
    if (
        len(k_shape) != 2
        or len(x_shape) < 1
        or x_shape[-1] != k_shape[0]
        or tuple(b_shape) != (k_shape[1],)
    ):
        raise ValueError(
            f"dense: inputs {tuple(x_shape)} must be (..., features), kernel "
            f"{tuple(k_shape)} (features, units) and bias {tuple(b_shape)} (units,)"
        )


def _dense_impl(x: Any, kernel: Any, bias: Any) -> Any:
    x, kernel, bias = np.asarray(x), np.asarray(kernel), np.asarray(bias)
    k_shape = kernel.shape
    if len(k_shape) != 2 or bias.shape != k_shape[1:] or not x.shape or x.shape[-1] != k_shape[0]:
        dense_check(x.shape, k_shape, bias.shape)  # raises, naming the shapes
    if x.ndim > 2 and x.flags.c_contiguous:
        # One GEMM over every row: NumPy runs a stacked product as one BLAS call per
        # leading index, smaller products at a lower rate (W7's (32, 128, 128) inputs).
        out = np.matmul(x.reshape(-1, k_shape[0]), kernel).reshape(x.shape[:-1] + k_shape[1:])
    else:
        out = np.matmul(x, kernel)
    if out.dtype == bias.dtype or out.dtype == np.result_type(out, bias):
        out += bias  # in place: the product is a fresh array (one allocation, not two)
        return out
    return out + bias


def _dense_vjp_x(g: Any, ans: Any, x: Any, kernel: Any, bias: Any) -> Any:
    if type(g) is np.ndarray and type(kernel) is np.ndarray and g.ndim > 2 and g.flags.c_contiguous:
        # One GEMM over every row (see _dense_impl); Tensors keep the stacked form.
        rows = g.reshape(-1, g.shape[-1]) @ kernel.T
        return rows.reshape(g.shape[:-1] + rows.shape[1:])
    return g @ kernel.T  # (operators: see _matmul_vjp_a)


def _dense_vjp_kernel(g: Any, ans: Any, x: Any, kernel: Any, bias: Any) -> Any:
    if ndim_of(x) != 2:  # (..., features): every leading position is one row
        x = reshape_p(x, shape=(-1, shape_of(kernel)[0]))
        g = reshape_p(g, shape=(-1, shape_of(kernel)[1]))
    return x.T @ g  # (operators: see _matmul_vjp_a)


def _dense_vjp_bias(g: Any, ans: Any, x: Any, kernel: Any, bias: Any) -> Any:
    ndim = ndim_of(g)
    return sum_p(g, axis=(0,) if ndim == 2 else tuple(range(ndim - 1)), keepdims=False)


dense_p = Primitive("dense", _dense_impl, returns="unknown")
dense_p.defvjp(_dense_vjp_x, _dense_vjp_kernel, _dense_vjp_bias)
dense_p.defjvp(
    lambda t, ans, x, kernel, bias: matmul_p(t, kernel),
    lambda t, ans, x, kernel, bias: matmul_p(x, t),
    lambda t, ans, x, kernel, bias: broadcast_to_p(t, shape=shape_of(ans)),
)


# -- einsum ------------------------------------------------------------------------------
def _einsum_impl(*operands: Any, subscripts: str) -> Any:
    # Pairwise contractions on matmul: numpy.einsum's own loop does not use BLAS.
    return contraction.einsum(subscripts, *operands)


def _einsum_vjp(argnum: int, g: Any, ans: Any, *operands: Any, subscripts: str) -> Any:
    inputs, output = subscripts.split("->")
    terms = inputs.split(",")
    target = terms[argnum]
    if len(set(target)) != len(target):
        raise NotImplementedError(
            f"einsum: gradient for operand {argnum} with a repeated index ('{target}') "
            "is not supported; take the diagonal with tnp.diagonal first"
        )
    others = [t for i, t in enumerate(terms) if i != argnum]
    visible = set(output).union(*others) if others else set(output)
    kept = "".join(c for c in target if c in visible)
    spec = ",".join([output, *others]) + "->" + kept
    rest = [op for i, op in enumerate(operands) if i != argnum]
    grad = einsum_p(g, *rest, subscripts=spec)
    shape = shape_of(operands[argnum])
    sizes = list(zip(target, shape, strict=True))
    kept_shape = tuple(size for c, size in sizes if c in visible)
    # Size-1 axes broadcast against other operands: sum over this operand's, and
    # stretch the gradient along the others'.
    summed = tuple(
        i
        for i, (n, k) in enumerate(zip(shape_of(grad), kept_shape, strict=True))
        if k == 1 and n != 1
    )
    if summed:
        grad = sum_p(grad, axis=summed, keepdims=True)
    if shape_of(grad) != kept_shape:
        grad = broadcast_to_p(grad, shape=kept_shape)
    if kept != target:
        # Indices summed only inside this operand: its gradient is constant along them.
        keep_shape = tuple(size if c in visible else 1 for c, size in sizes)
        grad = broadcast_to_p(reshape_p(grad, shape=keep_shape), shape=shape)
    return grad


def _einsum_jvp(argnum: int, t: Any, ans: Any, *operands: Any, subscripts: str) -> Any:
    replaced = list(operands)
    replaced[argnum] = t
    return einsum_p(*replaced, subscripts=subscripts)


einsum_p = Primitive("einsum", _einsum_impl, variadic=True, returns="unknown")
einsum_p.defvjp(_einsum_vjp)
einsum_p.defjvp(_einsum_jvp)

"""Layer normalization as primitives: ``layer_norm`` normalizes over the trailing axes and
scales and shifts; ``layer_norm_grad`` is its Jacobian product with respect to ``x`` and
``layer_norm_scale_grad`` the one with respect to ``gamma``.

``layer_norm(x, gamma, beta, trailing=k, epsilon=eps)`` returns three results::

    mean = mean(x, last k axes, keepdims)
    rstd = 1 / sqrt(mean((x - mean) ** 2, last k axes, keepdims) + eps)
    y = (x - mean) * rstd * gamma + beta

the normalized output and the two statistics the VJP needs, so the backward pass reads
them instead of reducing ``x`` again. ``gamma`` and ``beta`` broadcast against the last
``k`` axes (Keras's per-feature weights, or 0-d ones and zeros where a layer has none).
The variance is the biased one about the mean, epsilon added inside the square root, as
Keras 3 (``ops.layer_normalization``) computes it.

Backward, with ``xhat = (x - mean) * rstd`` and means over the last ``k`` axes::

    dx = rstd * (g gamma - mean(g gamma) - xhat * mean(g gamma xhat))   # layer_norm_grad
    dgamma = sum over the leading axes of g * xhat             # layer_norm_scale_grad
    dbeta = sum over the leading axes of g

The rules are written with primitives (the gradient primitives' own VJPs and JVPs too),
so every order of derivative works; the mean's and rstd's own cotangents (zero unless a
second-order walk reaches them through a gradient primitive) are added where nonzero.
Math only: `tapegrad.kernels.numba_layer_norm` registers one-pass loops for the three.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tapegrad.core.broadcast import unbroadcast
from tapegrad.core.primitive import Primitive
from tapegrad.core.prims.reduction import sum_p
from tapegrad.core.prims.shape import broadcast_to_p
from tapegrad.core.tensor import Tensor, ndim_of, shape_of

__all__ = ["layer_norm_grad_p", "layer_norm_p", "layer_norm_scale_grad_p"]


def _trailing_axes(x: Any, trailing: int) -> tuple[int, ...]:
    ndim = ndim_of(x)
    return tuple(range(ndim - trailing, ndim))


def _count(x: Any, trailing: int) -> int:
    shape = shape_of(x)
    return math.prod(shape[len(shape) - trailing :])


def _layer_norm_impl(x: Any, gamma: Any, beta: Any, *, trailing: int, epsilon: float) -> Any:
    x = np.asarray(x)
    axes = _trailing_axes(x, trailing)
    mean = x.mean(axis=axes, keepdims=True)
    y = x - mean  # one fresh array, worked on in place: it becomes the output
    variance = np.square(y).mean(axis=axes, keepdims=True)
    variance += variance.dtype.type(epsilon)
    rstd = np.reciprocal(np.sqrt(variance, out=variance), out=variance)
    y *= rstd
    y *= gamma
    y += beta
    return y, mean, rstd


def _layer_norm_grad_impl(
    g: Any, x: Any, gamma: Any, mean: Any, rstd: Any, *, trailing: int
) -> Any:
    g, x = np.asarray(g), np.asarray(x)
    axes = _trailing_axes(x, trailing)
    xhat = x - mean
    xhat *= rstd
    gg = g * gamma
    a = gg.mean(axis=axes, keepdims=True)
    b = np.multiply(gg, xhat).mean(axis=axes, keepdims=True)
    xhat *= b
    gg -= a
    gg -= xhat
    gg *= rstd
    return gg


def _one_like(x: Any) -> Any:
    """A 0-d one of ``x``'s dtype: the ``gamma`` of the bare normalization."""
    return np.ones((), dtype=x.dtype)


def _mean(v: Any, trailing: int) -> Any:
    return sum_p(v, axis=_trailing_axes(v, trailing), keepdims=True) / _count(v, trailing)


def _leading_sum(v: Any, x: Any, trailing: int, shape: tuple[int, ...]) -> Any:
    """``v`` (shaped as ``x``) summed over the leading axes, then to ``shape``."""
    lead = tuple(range(ndim_of(x) - trailing))
    if lead:
        v = sum_p(v, axis=lead, keepdims=False)
    return unbroadcast(v, shape)


def _is_zero(v: Any) -> bool:
    """Whether a cotangent is an exact zero array (the walk's stand-in for an unused
    result); a recorded or traced one counts as nonzero."""
    return not isinstance(v, Tensor) and not np.any(v)


def _layer_norm_vjp_x(
    g: Any, ans: Any, x: Any, gamma: Any, beta: Any, *, trailing: int, epsilon: float
) -> Any:
    gy, g_mean, g_rstd = g
    _, mean, rstd = ans
    dx = layer_norm_grad_p(gy, x, gamma, mean, rstd, trailing=trailing)
    if _is_zero(g_mean) and _is_zero(g_rstd):
        return dx
    # d mean / dx = 1/n; d rstd / dx = -rstd^3 (x - mean) / n (the variance is centered).
    n = _count(x, trailing)
    return dx + (g_mean - g_rstd * rstd * rstd * rstd * (x - mean)) / n


def _layer_norm_vjp_gamma(
    g: Any, ans: Any, x: Any, gamma: Any, beta: Any, *, trailing: int, epsilon: float
) -> Any:
    _, mean, rstd = ans
    total = layer_norm_scale_grad_p(g[0], x, mean, rstd, trailing=trailing)
    return unbroadcast(total, shape_of(gamma))


def _layer_norm_vjp_beta(
    g: Any, ans: Any, x: Any, gamma: Any, beta: Any, *, trailing: int, epsilon: float
) -> Any:
    return _leading_sum(g[0], x, trailing, shape_of(beta))


def _layer_norm_jvp_x(
    t: Any, ans: Any, x: Any, gamma: Any, beta: Any, *, trailing: int, epsilon: float
) -> tuple[Any, Any, Any]:
    _, mean, rstd = ans
    centered = x - mean
    t_rstd = -(rstd * rstd * rstd) * _mean(centered * t, trailing)
    # The normalization's Jacobian (without gamma) is symmetric: its JVP is its VJP.
    t_y = layer_norm_grad_p(t, x, _one_like(x), mean, rstd, trailing=trailing) * gamma
    return t_y, _mean(t, trailing), t_rstd


def _layer_norm_jvp_gamma(
    t: Any, ans: Any, x: Any, gamma: Any, beta: Any, *, trailing: int, epsilon: float
) -> tuple[Any, Any, Any]:
    _, mean, rstd = ans
    return (x - mean) * rstd * t, None, None


def _layer_norm_jvp_beta(
    t: Any, ans: Any, x: Any, gamma: Any, beta: Any, *, trailing: int, epsilon: float
) -> tuple[Any, Any, Any]:
    return broadcast_to_p(t, shape=shape_of(x)), None, None


# -- layer_norm_grad's own rules (second order) ----------------------------------------------
# dx = r (gg - A - u B), gg = g gamma, u = (x - m) r, A = mean(gg), B = mean(gg u).
def _grad_parts(g: Any, x: Any, gamma: Any, mean: Any, rstd: Any, trailing: int) -> Any:
    gg = g * gamma
    u = (x - mean) * rstd
    return gg, u, _mean(gg, trailing), _mean(gg * u, trailing)


def _grad_u_cotangent(
    c: Any, g: Any, x: Any, gamma: Any, mean: Any, rstd: Any, trailing: int
) -> Any:
    """The cotangent of ``u = (x - mean) * rstd`` from the output cotangent ``c``."""
    gg, u, _, b = _grad_parts(g, x, gamma, mean, rstd, trailing)
    return -rstd * (c * b + _mean(c * u, trailing) * gg)


def _grad_u_tangent(
    t_u: Any, g: Any, x: Any, gamma: Any, mean: Any, rstd: Any, trailing: int
) -> Any:
    """The output tangent from a tangent ``t_u`` of ``u`` (A does not depend on u)."""
    gg, u, _, b = _grad_parts(g, x, gamma, mean, rstd, trailing)
    return -rstd * (t_u * b + u * _mean(gg * t_u, trailing))


def _sum_trailing(v: Any, trailing: int) -> Any:
    return sum_p(v, axis=_trailing_axes(v, trailing), keepdims=True)


def _grad_vjp_g(
    c: Any, ans: Any, g: Any, x: Any, gamma: Any, mean: Any, rstd: Any, *, trailing: int
) -> Any:
    # Linear in gg through a symmetric map: its transpose is itself.
    return layer_norm_grad_p(c, x, _one_like(x), mean, rstd, trailing=trailing) * gamma


def _grad_vjp_gamma(
    c: Any, ans: Any, g: Any, x: Any, gamma: Any, mean: Any, rstd: Any, *, trailing: int
) -> Any:
    back = layer_norm_grad_p(c, x, _one_like(x), mean, rstd, trailing=trailing) * g
    return _leading_sum(back, x, trailing, shape_of(gamma))


def _grad_vjp_x(
    c: Any, ans: Any, g: Any, x: Any, gamma: Any, mean: Any, rstd: Any, *, trailing: int
) -> Any:
    return _grad_u_cotangent(c, g, x, gamma, mean, rstd, trailing) * rstd


def _grad_vjp_mean(
    c: Any, ans: Any, g: Any, x: Any, gamma: Any, mean: Any, rstd: Any, *, trailing: int
) -> Any:
    c_u = _grad_u_cotangent(c, g, x, gamma, mean, rstd, trailing)
    return unbroadcast(-_sum_trailing(c_u * rstd, trailing), shape_of(mean))


def _grad_vjp_rstd(
    c: Any, ans: Any, g: Any, x: Any, gamma: Any, mean: Any, rstd: Any, *, trailing: int
) -> Any:
    gg, u, a, b = _grad_parts(g, x, gamma, mean, rstd, trailing)
    c_u = _grad_u_cotangent(c, g, x, gamma, mean, rstd, trailing)
    total = _sum_trailing(c_u * (x - mean) + c * (gg - a - u * b), trailing)
    return unbroadcast(total, shape_of(rstd))


def _grad_jvp_g(
    t: Any, ans: Any, g: Any, x: Any, gamma: Any, mean: Any, rstd: Any, *, trailing: int
) -> Any:
    return layer_norm_grad_p(t, x, gamma, mean, rstd, trailing=trailing)


def _grad_jvp_gamma(
    t: Any, ans: Any, g: Any, x: Any, gamma: Any, mean: Any, rstd: Any, *, trailing: int
) -> Any:
    return layer_norm_grad_p(g, x, t, mean, rstd, trailing=trailing)


def _grad_jvp_x(
    t: Any, ans: Any, g: Any, x: Any, gamma: Any, mean: Any, rstd: Any, *, trailing: int
) -> Any:
    return _grad_u_tangent(t * rstd, g, x, gamma, mean, rstd, trailing)


def _grad_jvp_mean(
    t: Any, ans: Any, g: Any, x: Any, gamma: Any, mean: Any, rstd: Any, *, trailing: int
) -> Any:
    return _grad_u_tangent(-t * rstd, g, x, gamma, mean, rstd, trailing)


def _grad_jvp_rstd(
    t: Any, ans: Any, g: Any, x: Any, gamma: Any, mean: Any, rstd: Any, *, trailing: int
) -> Any:
    gg, u, a, b = _grad_parts(g, x, gamma, mean, rstd, trailing)
    direct = t * (gg - a - u * b)
    return direct + _grad_u_tangent((x - mean) * t, g, x, gamma, mean, rstd, trailing)


# -- layer_norm_scale_grad: sum over the leading axes of g * xhat (gamma's cotangent) -------
def _scale_grad_impl(g: Any, x: Any, mean: Any, rstd: Any, *, trailing: int) -> Any:
    g, x = np.asarray(g), np.asarray(x)
    t = x - mean
    t *= rstd
    t *= g
    lead = tuple(range(x.ndim - trailing))
    return t.sum(axis=lead) if lead else t


def _features(x: Any, trailing: int) -> tuple[int, ...]:
    shape = shape_of(x)
    return tuple(shape[len(shape) - trailing :])


def _scale_vjp_g(c: Any, ans: Any, g: Any, x: Any, mean: Any, rstd: Any, *, trailing: int) -> Any:
    return (x - mean) * rstd * c


def _scale_vjp_x(c: Any, ans: Any, g: Any, x: Any, mean: Any, rstd: Any, *, trailing: int) -> Any:
    return c * g * rstd


def _scale_vjp_mean(
    c: Any, ans: Any, g: Any, x: Any, mean: Any, rstd: Any, *, trailing: int
) -> Any:
    return unbroadcast(-_sum_trailing(c * g * rstd, trailing), shape_of(mean))


def _scale_vjp_rstd(
    c: Any, ans: Any, g: Any, x: Any, mean: Any, rstd: Any, *, trailing: int
) -> Any:
    return unbroadcast(_sum_trailing(c * g * (x - mean), trailing), shape_of(rstd))


def _scale_jvp_g(t: Any, ans: Any, g: Any, x: Any, mean: Any, rstd: Any, *, trailing: int) -> Any:
    return layer_norm_scale_grad_p(t, x, mean, rstd, trailing=trailing)


def _scale_jvp_x(t: Any, ans: Any, g: Any, x: Any, mean: Any, rstd: Any, *, trailing: int) -> Any:
    return _leading_sum(g * t * rstd, x, trailing, _features(x, trailing))


def _scale_jvp_mean(
    t: Any, ans: Any, g: Any, x: Any, mean: Any, rstd: Any, *, trailing: int
) -> Any:
    return -_leading_sum(g * t * rstd, x, trailing, _features(x, trailing))


def _scale_jvp_rstd(
    t: Any, ans: Any, g: Any, x: Any, mean: Any, rstd: Any, *, trailing: int
) -> Any:
    return _leading_sum(g * (x - mean) * t, x, trailing, _features(x, trailing))


layer_norm_scale_grad_p = Primitive("layer_norm_scale_grad", _scale_grad_impl, returns="fresh")
layer_norm_scale_grad_p.defvjp(_scale_vjp_g, _scale_vjp_x, _scale_vjp_mean, _scale_vjp_rstd)
layer_norm_scale_grad_p.defjvp(_scale_jvp_g, _scale_jvp_x, _scale_jvp_mean, _scale_jvp_rstd)

layer_norm_grad_p = Primitive("layer_norm_grad", _layer_norm_grad_impl, returns="fresh")
layer_norm_grad_p.defvjp(_grad_vjp_g, _grad_vjp_x, _grad_vjp_gamma, _grad_vjp_mean, _grad_vjp_rstd)
layer_norm_grad_p.defjvp(_grad_jvp_g, _grad_jvp_x, _grad_jvp_gamma, _grad_jvp_mean, _grad_jvp_rstd)

layer_norm_p = Primitive("layer_norm", _layer_norm_impl, multiple_results=True, returns="fresh")
layer_norm_p.defvjp(_layer_norm_vjp_x, _layer_norm_vjp_gamma, _layer_norm_vjp_beta)
layer_norm_p.defjvp(_layer_norm_jvp_x, _layer_norm_jvp_gamma, _layer_norm_jvp_beta)

"""Elementwise primitives: NumPy ufunc implementation, VJP and JVP side by side.

Rules see cotangents/tangents in the broadcast output shape; the engine reduces them to
each argument's shape. Rules use the primitives themselves, so they are differentiable.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tapegrad.core.primitive import Primitive
from tapegrad.core.tensor import Tensor, dtype_of, shape_of


def _elementwise(name: str, impl: Any, returns: str | None = None) -> Primitive:
    return _declared(Primitive(name, impl, elementwise=True), returns)


def _nondiff(name: str, impl: Any, returns: str | None = None) -> Primitive:
    return _declared(Primitive(name, impl, elementwise=True, differentiable=False), returns)


def _declared(prim: Primitive, returns: str | None) -> Primitive:
    # A ufunc's result is a new array laid out like its inputs; other impls say what theirs is.
    prim.ufunc = _bare_ufunc(prim.impl)
    prim.returns = "fresh_like_inputs" if prim.ufunc is not None else returns
    if prim.returns is None:
        raise ValueError(f"primitive {prim.name!r}: not a ufunc, so declare `returns`")
    return prim


def _bare_ufunc(impl: Any) -> Any:
    # Only an impl that *is* a ufunc computes exactly what ``ufunc(..., out=buffer)`` does;
    # wrappers (clip, relu, sigmoid, erf) and np.where / np.round (not ufuncs) get None.
    return impl if isinstance(impl, np.ufunc) else None


# -- arithmetic --------------------------------------------------------------------------
add_p = _elementwise("add", np.add)
add_p.defvjp(lambda g, ans, x, y: g, lambda g, ans, x, y: g)
add_p.defjvp(lambda t, ans, x, y: t, lambda t, ans, x, y: t)

subtract_p = _elementwise("subtract", np.subtract)
subtract_p.defvjp(lambda g, ans, x, y: g, lambda g, ans, x, y: -g)
subtract_p.defjvp(lambda t, ans, x, y: t, lambda t, ans, x, y: -t)

multiply_p = _elementwise("multiply", np.multiply)
multiply_p.defvjp(lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x)
multiply_p.defjvp(lambda t, ans, x, y: t * y, lambda t, ans, x, y: x * t)

divide_p = _elementwise("divide", np.divide)
divide_p.defvjp(lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * ans / y)
divide_p.defjvp(lambda t, ans, x, y: t / y, lambda t, ans, x, y: -t * ans / y)

negative_p = _elementwise("negative", np.negative)
negative_p.defvjp(lambda g, ans, x: -g)
negative_p.defjvp(lambda t, ans, x: -t)


def _power_dbase(g: Any, ans: Any, x: Any, y: Any) -> Any:
    if isinstance(y, int | float) and y == 0:
        return g * 0
    # Literal exponents 1 and 2 (x**2 is common): x**0 and x**1 are 1 and x exactly, so
    # skip the power calls (fewer ops eagerly, and in traced graphs).
    if isinstance(y, int | float) and y == 1:
        return g * 1
    if isinstance(y, int | float) and y == 2:
        return g * (2 * x)
    if not isinstance(y, int | float):
        # d/dx x**0 is 0 everywhere, also at x == 0 where y * x**(y-1) is 0 * inf.
        return g * where_p(equal_p(y, 0), 0, y * power_p(x, y - 1))
    return g * (y * power_p(x, y - 1))


def _power_dexponent(g: Any, ans: Any, x: Any, y: Any) -> Any:
    if dtype_of(ans).kind == "c":
        # Complex powers: the principal branch x**y = exp(y log x) everywhere but x == 0
        # (a real base in the complex dtype: the log of a negative number is complex).
        base = x if dtype_of(x).kind == "c" else cast_p(x, dtype=dtype_of(ans))
        return g * ans * log_p(where_p(equal_p(base, 0), 1, base))
    # x**y for x <= 0 is only real for integer y; there the exponent has no derivative.
    positive = greater_p(x, 0)
    return g * ans * log_p(where_p(positive, x, 1)) * positive


power_p = _elementwise("power", np.power)
power_p.defvjp(_power_dbase, _power_dexponent)
power_p.defjvp(_power_dbase, _power_dexponent)

square_p = _elementwise("square", np.square)
square_p.defvjp(lambda g, ans, x: g * 2 * x)
square_p.defjvp(lambda t, ans, x: t * 2 * x)

reciprocal_p = _elementwise("reciprocal", np.reciprocal)
reciprocal_p.defvjp(lambda g, ans, x: -g * ans * ans)
reciprocal_p.defjvp(lambda t, ans, x: -t * ans * ans)

sqrt_p = _elementwise("sqrt", np.sqrt)
sqrt_p.defvjp(lambda g, ans, x: g * 0.5 / ans)
sqrt_p.defjvp(lambda t, ans, x: t * 0.5 / ans)

cbrt_p = _elementwise("cbrt", np.cbrt)
cbrt_p.defvjp(lambda g, ans, x: g / (3 * ans * ans))
cbrt_p.defjvp(lambda t, ans, x: t / (3 * ans * ans))

# -- exponentials and logarithms ---------------------------------------------------------
exp_p = _elementwise("exp", np.exp)
exp_p.defvjp(lambda g, ans, x: g * ans)
exp_p.defjvp(lambda t, ans, x: t * ans)

expm1_p = _elementwise("expm1", np.expm1)
expm1_p.defvjp(lambda g, ans, x: g * (ans + 1))
expm1_p.defjvp(lambda t, ans, x: t * (ans + 1))

log_p = _elementwise("log", np.log)
log_p.defvjp(lambda g, ans, x: g / x)
log_p.defjvp(lambda t, ans, x: t / x)

log1p_p = _elementwise("log1p", np.log1p)
log1p_p.defvjp(lambda g, ans, x: g / (1 + x))
log1p_p.defjvp(lambda t, ans, x: t / (1 + x))

# -- trigonometric and hyperbolic --------------------------------------------------------
sin_p = _elementwise("sin", np.sin)
cos_p = _elementwise("cos", np.cos)
sin_p.defvjp(lambda g, ans, x: g * cos_p(x))
sin_p.defjvp(lambda t, ans, x: t * cos_p(x))
cos_p.defvjp(lambda g, ans, x: -g * sin_p(x))
cos_p.defjvp(lambda t, ans, x: -t * sin_p(x))

tan_p = _elementwise("tan", np.tan)
tan_p.defvjp(lambda g, ans, x: g * (1 + ans * ans))
tan_p.defjvp(lambda t, ans, x: t * (1 + ans * ans))

arcsin_p = _elementwise("arcsin", np.arcsin)
arcsin_p.defvjp(lambda g, ans, x: g / sqrt_p(1 - x * x))
arcsin_p.defjvp(lambda t, ans, x: t / sqrt_p(1 - x * x))

arccos_p = _elementwise("arccos", np.arccos)
arccos_p.defvjp(lambda g, ans, x: -g / sqrt_p(1 - x * x))
arccos_p.defjvp(lambda t, ans, x: -t / sqrt_p(1 - x * x))

arctan_p = _elementwise("arctan", np.arctan)
arctan_p.defvjp(lambda g, ans, x: g / (1 + x * x))
arctan_p.defjvp(lambda t, ans, x: t / (1 + x * x))

arctan2_p = _elementwise("arctan2", np.arctan2)
arctan2_p.defvjp(
    lambda g, ans, y, x: g * x / (x * x + y * y),
    lambda g, ans, y, x: -g * y / (x * x + y * y),
)
arctan2_p.defjvp(
    lambda t, ans, y, x: t * x / (x * x + y * y),
    lambda t, ans, y, x: -t * y / (x * x + y * y),
)

sinh_p = _elementwise("sinh", np.sinh)
cosh_p = _elementwise("cosh", np.cosh)
sinh_p.defvjp(lambda g, ans, x: g * cosh_p(x))
sinh_p.defjvp(lambda t, ans, x: t * cosh_p(x))
cosh_p.defvjp(lambda g, ans, x: g * sinh_p(x))
cosh_p.defjvp(lambda t, ans, x: t * sinh_p(x))

tanh_p = _elementwise("tanh", np.tanh)
tanh_p.defvjp(lambda g, ans, x: g * (1 - ans * ans))
tanh_p.defjvp(lambda t, ans, x: t * (1 - ans * ans))

arcsinh_p = _elementwise("arcsinh", np.arcsinh)
arcsinh_p.defvjp(lambda g, ans, x: g / sqrt_p(x * x + 1))
arcsinh_p.defjvp(lambda t, ans, x: t / sqrt_p(x * x + 1))

arccosh_p = _elementwise("arccosh", np.arccosh)
arccosh_p.defvjp(lambda g, ans, x: g / sqrt_p(x * x - 1))
arccosh_p.defjvp(lambda t, ans, x: t / sqrt_p(x * x - 1))

arctanh_p = _elementwise("arctanh", np.arctanh)
arctanh_p.defvjp(lambda g, ans, x: g / (1 - x * x))
arctanh_p.defjvp(lambda t, ans, x: t / (1 - x * x))

# -- piecewise ---------------------------------------------------------------------------
sign_p = _nondiff("sign", np.sign)


def _abs_vjp(g: Any, ans: Any, x: Any) -> Any:
    if dtype_of(x).kind != "c":
        # The subgradient at 0 is 0 (sign(0) == 0), as in NumPy-based peers.
        return g * sign_p(x)
    # d|z| = Re(conj(z) / |z| dz): JAX's cotangent g conj(z) / |z| (0 at 0).
    return real_part(g) * (conj_p(x) / where_p(equal_p(ans, 0), 1, ans))


def _abs_jvp(t: Any, ans: Any, x: Any) -> Any:
    if dtype_of(x).kind != "c":
        return t * sign_p(x)
    return real_p(t * (conj_p(x) / where_p(equal_p(ans, 0), 1, ans)))


abs_p = _elementwise("absolute", np.abs)
abs_p.defvjp(_abs_vjp)
abs_p.defjvp(_abs_jvp)

# -- complex parts ---------------------------------------------------------------------
# Cotangents follow JAX: a cotangent c of a complex value z pairs with a tangent t as
# Re(c t) (no conjugate), so a holomorphic op's rule is g * f'(z) as for real numbers,
# and a real value's cotangent is real (see `real_part`).


def _real_impl(x: Any) -> Any:
    return np.real(x)


def _imag_impl(x: Any) -> Any:
    return np.imag(x)


def real_part(g: Any) -> Any:
    """``g`` itself if real, else its real part: the cotangent of a real value.

    A real value's cotangent may arrive complex from an op that made a complex result
    from it (``x * 1j``); JAX keeps only its real part, and so does every op whose
    output is real but an input complex (abs, real, imag), before its rule.

    Examples:
        >>> real_part(np.array([1 + 2j]))
        array([1.])
    """
    return real_p(g) if dtype_of(g).kind == "c" else g


def _real_vjp(g: Any, ans: Any, x: Any) -> Any:
    if dtype_of(x).kind != "c":
        return g
    return cast_p(real_part(g), dtype=dtype_of(x))


def _imag_vjp(g: Any, ans: Any, x: Any) -> Any:
    if dtype_of(x).kind != "c":
        return g * 0  # numpy.imag of a real array is zeros
    # imag(z) = Re(-1j z): the cotangent is -1j g.
    return cast_p(real_part(g), dtype=dtype_of(x)) * -1j


conj_p = _elementwise("conjugate", np.conjugate)
conj_p.defvjp(lambda g, ans, x: conj_p(g))
conj_p.defjvp(lambda t, ans, x: conj_p(t))

real_p = _elementwise("real", _real_impl, returns="unknown")
real_p.defvjp(_real_vjp)
real_p.defjvp(lambda t, ans, x: real_p(t))

imag_p = _elementwise("imag", _imag_impl, returns="unknown")
imag_p.defvjp(_imag_vjp)
imag_p.defjvp(lambda t, ans, x: imag_p(t))


def _max_vjp_first(g: Any, ans: Any, x: Any, y: Any) -> Any:
    # Ties split the gradient evenly between both arguments.
    return g * greater_p(x, y) + (g * 0.5) * equal_p(x, y)


def _max_vjp_second(g: Any, ans: Any, x: Any, y: Any) -> Any:
    return g * less_p(x, y) + (g * 0.5) * equal_p(x, y)


maximum_p = _elementwise("maximum", np.maximum)
maximum_p.defvjp(_max_vjp_first, _max_vjp_second)
maximum_p.defjvp(_max_vjp_first, _max_vjp_second)

minimum_p = _elementwise("minimum", np.minimum)
minimum_p.defvjp(_max_vjp_second, _max_vjp_first)
minimum_p.defjvp(_max_vjp_second, _max_vjp_first)


def _clip_impl(x: Any, low: Any, high: Any) -> Any:
    return np.minimum(np.maximum(x, low), high)


def _clip_dx(g: Any, ans: Any, x: Any, lo: Any, hi: Any) -> Any:
    return g * logical_and_p(greater_equal_p(x, lo), less_equal_p(x, hi))


def _clip_dlow(g: Any, ans: Any, x: Any, lo: Any, hi: Any) -> Any:
    # With crossed bounds (lo > hi) NumPy returns hi everywhere: lo gets nothing.
    return g * logical_and_p(less_p(x, lo), less_equal_p(lo, hi))


def _clip_dhigh(g: Any, ans: Any, x: Any, lo: Any, hi: Any) -> Any:
    return g * logical_or_p(greater_p(x, hi), greater_p(lo, hi))


clip_p = _elementwise("clip", _clip_impl, returns="fresh_like_inputs")
clip_p.defvjp(_clip_dx, _clip_dlow, _clip_dhigh)
clip_p.defjvp(_clip_dx, _clip_dlow, _clip_dhigh)

where_p = _elementwise("where", np.where, returns="fresh_like_inputs")
where_p.defvjp(
    None,
    lambda g, ans, c, x, y: where_p(c, g, 0),
    lambda g, ans, c, x, y: where_p(c, 0, g),
)
where_p.defjvp(
    None,
    lambda t, ans, c, x, y: where_p(c, t, 0),
    lambda t, ans, c, x, y: where_p(c, 0, t),
)


def _where_zero_mask(argnum: int, ans: Any, c: Any, x: Any, y: Any) -> Any:
    """The elements a `where` branch did not select: their cotangent is a structural zero.

    Given Tensors (graph tracing), the mask is computed with primitives, so it is a value
    of the graph rather than an array of the trace-time values.
    """
    if isinstance(c, Tensor):
        selected = c if c._value.dtype == bool else not_equal_p(c, 0)
        traced = selected if argnum == 2 else logical_not_p(selected)
        shape = shape_of(ans)
        if shape_of(traced) == shape:
            return traced
        from tapegrad.core.prims.shape import broadcast_to_p  # shape imports this module

        return broadcast_to_p(traced, shape=shape)
    c = np.asarray(c, dtype=bool)
    mask = ~c if argnum == 1 else c
    if not mask.any():
        return None  # nothing masked: no bookkeeping downstream
    shape = shape_of(ans)
    return mask if mask.shape == shape else np.broadcast_to(mask, shape)


where_p.zero_mask_rule = _where_zero_mask


def _remainder_dy(g: Any, ans: Any, x: Any, y: Any) -> Any:
    return -g * floor_divide_p(x, y)


remainder_p = _elementwise("remainder", np.remainder)
remainder_p.defvjp(lambda g, ans, x, y: g, _remainder_dy)
remainder_p.defjvp(lambda t, ans, x, y: t, _remainder_dy)

# -- casting -----------------------------------------------------------------------------


def _cast_impl(x: Any, dtype: Any) -> Any:
    return np.asarray(x).astype(dtype, copy=False)


def _cast_back(g: Any, ans: Any, x: Any, dtype: Any) -> Any:
    source = dtype_of(x)
    if source.kind not in "fc":
        return None
    # A real source keeps the real part of a complex cotangent (JAX's convention).
    return cast_p(real_part(g) if source.kind == "f" else g, dtype=source)


def _cast_jvp(t: Any, ans: Any, x: Any, dtype: Any) -> Any:
    kind = ans.dtype.kind
    if kind not in "fc":
        return None
    return cast_p(real_part(t) if kind == "f" else t, dtype=dtype)


cast_p = Primitive("cast", _cast_impl, returns="view")
cast_p.defvjp(_cast_back)
cast_p.defjvp(_cast_jvp)

# -- not differentiable: integer-valued or boolean results -------------------------------
floor_p = _nondiff("floor", np.floor)
ceil_p = _nondiff("ceil", np.ceil)
trunc_p = _nondiff("trunc", np.trunc)
rint_p = _nondiff("rint", np.rint)
round_p = _nondiff("round", np.round, returns="unknown")
floor_divide_p = _nondiff("floor_divide", np.floor_divide)
equal_p = _nondiff("equal", np.equal)
not_equal_p = _nondiff("not_equal", np.not_equal)
less_p = _nondiff("less", np.less)
less_equal_p = _nondiff("less_equal", np.less_equal)
greater_p = _nondiff("greater", np.greater)
greater_equal_p = _nondiff("greater_equal", np.greater_equal)
logical_and_p = _nondiff("logical_and", np.logical_and)
logical_or_p = _nondiff("logical_or", np.logical_or)
logical_xor_p = _nondiff("logical_xor", np.logical_xor)
logical_not_p = _nondiff("logical_not", np.logical_not)
bitwise_and_p = _nondiff("bitwise_and", np.bitwise_and)
bitwise_or_p = _nondiff("bitwise_or", np.bitwise_or)
bitwise_xor_p = _nondiff("bitwise_xor", np.bitwise_xor)
invert_p = _nondiff("invert", np.invert)
isnan_p = _nondiff("isnan", np.isnan)
isinf_p = _nondiff("isinf", np.isinf)
isfinite_p = _nondiff("isfinite", np.isfinite)
signbit_p = _nondiff("signbit", np.signbit)
gcd_p = _nondiff("gcd", np.gcd)
lcm_p = _nondiff("lcm", np.lcm)
left_shift_p = _nondiff("left_shift", np.left_shift)
right_shift_p = _nondiff("right_shift", np.right_shift)
# ldexp(1, k): exact powers of two, the factors of tapegrad.numpy's ldexp and frexp (which
# multiply x by them, differentiably in x); no gradient here.
ldexp_p = _nondiff("ldexp", np.ldexp)


def _frexp_exponent(x: Any) -> Any:
    return np.frexp(x)[1]


# The exponent of numpy.frexp (int32); the mantissa is x times a power of two.
frexp_exponent_p = _nondiff("frexp_exponent", _frexp_exponent, returns="unknown")

LN2 = math.log(2.0)
LN10 = math.log(10.0)


# -- neural-net elementwise ops promoted to primitives --------------------------------
# relu: a composite where(x > 0, x, 0) costs a comparison, a select and mask bookkeeping
# in every backward pass; as a primitive it is one maximum and one multiply (for speed).
# (`tapegrad.kernels.numpy_fast` registers a faster kernel for large float arrays.)
def _relu_impl(x: Any) -> Any:
    return np.maximum(x, 0)


relu_p = _elementwise("relu", _relu_impl, returns="fresh_like_inputs")
relu_p.ufunc_steps = ((np.maximum, 0),)
relu_p.defvjp(lambda g, ans, x: g * (x > 0))  # (operators: NumPy's own calls on arrays)
relu_p.defjvp(lambda t, ans, x: t * greater_p(x, 0))


def _sigmoid_impl(x: Any) -> Any:
    # tanh form: stable for large |x| (no exp overflow) and keeps the input's dtype.
    half = np.multiply(x, 0.5)
    return np.multiply(np.tanh(half) + 1, 0.5)


# sigmoid: one primitive instead of four ops (scale, tanh, add, scale) in every gate of
# every recurrent step (for speed); its derivative needs only the output.
sigmoid_p = _elementwise("sigmoid", _sigmoid_impl, returns="fresh_like_inputs")
sigmoid_p.ufunc_steps = ((np.multiply, 0.5), (np.tanh, None), (np.add, 1), (np.multiply, 0.5))
sigmoid_p.defvjp(lambda g, ans, x: g * (ans * (1 - ans)))
sigmoid_p.defjvp(lambda t, ans, x: t * (ans * (1 - ans)))

_erf_vectorized = np.frompyfunc(math.erf, 1, 1)


def _erf_impl(x: Any) -> Any:
    arr = np.asarray(x)
    dtype = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float64)
    return np.asarray(_erf_vectorized(arr), dtype=np.float64).astype(dtype)


# NumPy has no erf; math.erf elementwise is exact (a primitive for that reason).
erf_p = _elementwise("erf", _erf_impl, returns="fresh_like_inputs")
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
erf_p.defvjp(lambda g, ans, x: g * (_TWO_OVER_SQRT_PI * exp_p(-(x * x))))
erf_p.defjvp(lambda t, ans, x: t * (_TWO_OVER_SQRT_PI * exp_p(-(x * x))))

# Linear VJPs with constant coefficients keep masked zeros exact (see tape.backward).
for _prim in (add_p, subtract_p, negative_p, where_p, cast_p, relu_p, conj_p, real_p):
    _prim.zero_preserving = True

"""Elementwise math: NumPy's ufuncs over the primitive table (and composites of it)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor, dtype_of


def _unary(prim: P.Primitive, name: str) -> Any:
    # The primitive itself is the function: no wrapper frame on the hottest path.
    return prim


_binary = _unary


def _no_out(name: str, kwargs: dict[str, Any]) -> None:
    unsupported = {k for k, v in kwargs.items() if v is not None and k != "dtype"}
    if unsupported:
        raise TypeError(f"tapegrad.numpy.{name}: unsupported arguments {sorted(unsupported)}")


add = _binary(P.add_p, "add")
subtract = _binary(P.subtract_p, "subtract")
multiply = _binary(P.multiply_p, "multiply")
divide = _binary(P.divide_p, "divide")
true_divide = divide
power = _binary(P.power_p, "power")
pow = power  # noqa: A001 - NumPy 2 alias
maximum = _binary(P.maximum_p, "maximum")
minimum = _binary(P.minimum_p, "minimum")
fmax = maximum
fmin = minimum
arctan2 = _binary(P.arctan2_p, "arctan2")
atan2 = arctan2
remainder = _binary(P.remainder_p, "remainder")
mod = remainder
floor_divide = _binary(P.floor_divide_p, "floor_divide")

negative = _unary(P.negative_p, "negative")
exp = _unary(P.exp_p, "exp")
expm1 = _unary(P.expm1_p, "expm1")
log = _unary(P.log_p, "log")
log1p = _unary(P.log1p_p, "log1p")
sqrt = _unary(P.sqrt_p, "sqrt")
cbrt = _unary(P.cbrt_p, "cbrt")
square = _unary(P.square_p, "square")
reciprocal = _unary(P.reciprocal_p, "reciprocal")
sin = _unary(P.sin_p, "sin")
cos = _unary(P.cos_p, "cos")
tan = _unary(P.tan_p, "tan")
arcsin = _unary(P.arcsin_p, "arcsin")
arccos = _unary(P.arccos_p, "arccos")
arctan = _unary(P.arctan_p, "arctan")
sinh = _unary(P.sinh_p, "sinh")
cosh = _unary(P.cosh_p, "cosh")
tanh = _unary(P.tanh_p, "tanh")
arcsinh = _unary(P.arcsinh_p, "arcsinh")
arccosh = _unary(P.arccosh_p, "arccosh")
arctanh = _unary(P.arctanh_p, "arctanh")
asin, acos, atan = arcsin, arccos, arctan
asinh, acosh, atanh = arcsinh, arccosh, arctanh
absolute = _unary(P.abs_p, "absolute")
abs = absolute  # noqa: A001 - NumPy's name
fabs = absolute

# Not differentiable (integer-valued or boolean results): gradients are None.
sign = _unary(P.sign_p, "sign")
floor = _unary(P.floor_p, "floor")
ceil = _unary(P.ceil_p, "ceil")
trunc = _unary(P.trunc_p, "trunc")
fix = trunc
rint = _unary(P.rint_p, "rint")
isnan = _unary(P.isnan_p, "isnan")
isinf = _unary(P.isinf_p, "isinf")
isfinite = _unary(P.isfinite_p, "isfinite")
logical_not = _unary(P.logical_not_p, "logical_not")
invert = _unary(P.invert_p, "invert")
bitwise_not = invert
equal = _binary(P.equal_p, "equal")
not_equal = _binary(P.not_equal_p, "not_equal")
less = _binary(P.less_p, "less")
less_equal = _binary(P.less_equal_p, "less_equal")
greater = _binary(P.greater_p, "greater")
greater_equal = _binary(P.greater_equal_p, "greater_equal")
logical_and = _binary(P.logical_and_p, "logical_and")
logical_or = _binary(P.logical_or_p, "logical_or")
logical_xor = _binary(P.logical_xor_p, "logical_xor")
bitwise_and = _binary(P.bitwise_and_p, "bitwise_and")
bitwise_or = _binary(P.bitwise_or_p, "bitwise_or")
bitwise_xor = _binary(P.bitwise_xor_p, "bitwise_xor")


def round(a: Any, decimals: int = 0) -> Any:  # noqa: A001 - NumPy's name
    """``numpy.round``: not differentiable (piecewise constant)."""
    return P.round_p(a, decimals=decimals) if decimals else P.rint_p(a)


around = round


def positive(x: Any, /) -> Any:
    """``numpy.positive``: the identity."""
    return x


def clip(a: Any, a_min: Any = None, a_max: Any = None, **kwargs: Any) -> Any:
    """Differentiable ``numpy.clip``: the gradient passes where ``a`` is inside the range."""
    a_min = kwargs.pop("min", a_min)
    a_max = kwargs.pop("max", a_max)
    _no_out("clip", kwargs)
    low = -np.inf if a_min is None else a_min
    high = np.inf if a_max is None else a_max
    return P.clip_p(a, low, high)


def exp2(x: Any, /) -> Any:
    """Differentiable ``numpy.exp2``."""
    return P.power_p(2.0, x)


def log2(x: Any, /) -> Any:
    """Differentiable ``numpy.log2``."""
    return P.log_p(x) / math.log(2.0)


def log10(x: Any, /) -> Any:
    """Differentiable ``numpy.log10``."""
    return P.log_p(x) / math.log(10.0)


def logaddexp(x: Any, y: Any, /) -> Any:
    """Differentiable ``numpy.logaddexp``, stable for large inputs."""
    big = P.maximum_p(x, y)
    safe = P.stop_gradient_p(P.where_p(P.isfinite_p(big), big, 0))
    return safe + P.log_p(P.exp_p(x - safe) + P.exp_p(y - safe))


def logaddexp2(x: Any, y: Any, /) -> Any:
    """Differentiable ``numpy.logaddexp2``."""
    ln2 = math.log(2.0)
    return logaddexp(x * ln2, y * ln2) / ln2


def hypot(x: Any, y: Any, /) -> Any:
    """Differentiable ``numpy.hypot``, without overflow for large inputs."""
    # A rescaling by the larger magnitude keeps the squares finite. It is a constant for
    # the derivatives (hypot is homogeneous, so they stay exact) but computed with
    # primitives, so a traced graph rescales the values it runs on.
    with np.errstate(invalid="ignore"):
        big = P.stop_gradient_p(P.maximum_p(P.abs_p(x), P.abs_p(y)))
        usable = P.logical_and_p(P.isfinite_p(big), P.greater_p(big, 0))
    dtype = np.result_type(getattr(x, "_value", x), getattr(y, "_value", y))
    scale = P.where_p(usable, big, 1)
    wanted = dtype if dtype.kind == "f" else np.dtype(np.float64)
    if dtype_of(scale) != wanted:
        scale = P.cast_p(scale, dtype=wanted)
    xs, ys = x / scale, y / scale
    return P.sqrt_p(xs * xs + ys * ys) * scale


def sinc(x: Any) -> Any:
    """Differentiable ``numpy.sinc``: sin(pi x) / (pi x), 1 at 0."""
    nonzero = P.not_equal_p(x, 0)
    safe = P.where_p(nonzero, x, 1) * math.pi
    # At 0 the Taylor polynomial: value 1, and derivatives exact up to the fourth order.
    y = x * math.pi
    y2 = y * y
    return P.where_p(nonzero, P.sin_p(safe) / safe, 1 - y2 / 6 + y2 * y2 / 120)


def deg2rad(x: Any, /) -> Any:
    """Differentiable ``numpy.deg2rad``."""
    return x * (math.pi / 180.0)


def rad2deg(x: Any, /) -> Any:
    """Differentiable ``numpy.rad2deg``."""
    return x * (180.0 / math.pi)


radians = deg2rad
degrees = rad2deg


def real(val: Any) -> Any:
    """``numpy.real``: differentiable (real inputs: the identity)."""
    return P.real_p(val) if dtype_of(val).kind == "c" else val


def conj(x: Any) -> Any:
    """``numpy.conj``: differentiable, JAX's cotangent ``conj(g)`` (real inputs: the
    identity)."""
    return P.conj_p(x) if dtype_of(x).kind == "c" else x


conjugate = conj


def nan_to_num(
    x: Any, copy: bool = True, nan: float = 0.0, posinf: Any = None, neginf: Any = None
) -> Any:
    """Differentiable ``numpy.nan_to_num``: gradient 1 where finite, 0 where replaced."""
    if not isinstance(x, Tensor):
        x = np.asarray(x)
    finite = P.isfinite_p(x)
    dtype = dtype_of(x)
    if dtype.kind == "f":
        # The replacements are chosen with primitives, not from x's current values, so a
        # traced graph replaces the values it runs on.
        info = np.finfo(dtype)
        high = np.asarray(info.max if posinf is None else posinf, dtype)
        low = np.asarray(info.min if neginf is None else neginf, dtype)
        infinite = P.where_p(P.greater_p(x, 0), high, low)
        replaced = P.where_p(P.isnan_p(x), np.asarray(nan, dtype), infinite)
    elif dtype.kind == "c":
        # Read (a traced complex tensor is refused rather than frozen).
        replaced = np.nan_to_num(np.asarray(x), nan=nan, posinf=posinf, neginf=neginf)
    else:
        replaced = x  # integers and booleans are always finite
    return P.where_p(finite, x, replaced)


__all__ = [
    "abs",
    "absolute",
    "acos",
    "acosh",
    "add",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "around",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "bitwise_and",
    "bitwise_not",
    "bitwise_or",
    "bitwise_xor",
    "cbrt",
    "ceil",
    "clip",
    "conj",
    "conjugate",
    "cos",
    "cosh",
    "deg2rad",
    "degrees",
    "divide",
    "equal",
    "exp",
    "exp2",
    "expm1",
    "fabs",
    "fix",
    "floor",
    "floor_divide",
    "fmax",
    "fmin",
    "greater",
    "greater_equal",
    "hypot",
    "invert",
    "isfinite",
    "isinf",
    "isnan",
    "less",
    "less_equal",
    "log",
    "log10",
    "log1p",
    "log2",
    "logaddexp",
    "logaddexp2",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "maximum",
    "minimum",
    "mod",
    "multiply",
    "nan_to_num",
    "negative",
    "not_equal",
    "positive",
    "pow",
    "power",
    "rad2deg",
    "radians",
    "real",
    "reciprocal",
    "remainder",
    "rint",
    "round",
    "sign",
    "sin",
    "sinc",
    "sinh",
    "sqrt",
    "square",
    "subtract",
    "tan",
    "tanh",
    "true_divide",
    "trunc",
]

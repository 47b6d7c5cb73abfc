"""The op-sample table: one `OpSample` per op (and per interesting case of an op).

Each record names a tapegrad function, its NumPy reference, the input domain of every
array argument and the shapes to draw, and whether the op is differentiable. The tests in
``tests/numpy/test_op_samples.py`` read this table and check, for every sample, the forward
value and dtype against NumPy, first- and second-order derivatives in both modes against
finite differences, float32 against float64 gradients, and ``None`` gradients for integer
and boolean inputs — the idea of PyTorch's OpInfo and HIPS autograd's test tables.

Examples:
    >>> s = sample("sin", tnp.sin, np.sin)
    >>> s.nargs, s.differentiable, s.domains[0].name
    (1, True, 'real')
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import distribution, ops

Draw = Callable[[np.random.Generator, tuple[int, ...], Any], np.ndarray]


# -- domains -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Domain:
    """Where an argument's values are drawn from (kept away from kinks and poles).

    ``draw(rng, shape, dtype)`` returns an array; ``differentiable=False`` domains
    (integers, booleans) ignore ``dtype`` and are never perturbed by gradient checks.
    """

    name: str
    draw: Draw
    differentiable: bool = True


def _uniform(low: float, high: float) -> Draw:
    def draw(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return np.asarray(rng.uniform(low, high, shape), dtype=dtype)

    return draw


def _away_from_zero(low: float, high: float) -> Draw:
    def draw(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        sign = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
        return np.asarray(sign * rng.uniform(low, high, shape), dtype=dtype)

    return draw


def _distinct(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    # Values at least 0.2 apart: no ties, and finite differences never reorder them.
    size = int(np.prod(shape, dtype=np.int64))
    values = (rng.permutation(size) - size / 2) * 0.3 + rng.uniform(-0.05, 0.05, size)
    return np.asarray(values.reshape(shape), dtype=dtype)


def _with_zeros(count: int) -> Draw:
    """Values in (0.5, 1.5) with ``count`` zeros in every row of the last axis."""

    def draw(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        values = rng.uniform(0.5, 1.5, shape) * np.where(rng.random(shape) < 0.5, -1, 1)
        rows = values.reshape(-1, shape[-1] if shape else 1)
        for row in rows:
            row[rng.permutation(row.size)[:count]] = 0.0
        return np.asarray(rows.reshape(shape), dtype=dtype)

    return draw


def _with_nans(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    values = rng.uniform(-2, 2, shape)
    return np.asarray(np.where(rng.random(shape) < 0.3, np.nan, values), dtype=dtype)


def _integers(low: int, high: int) -> Draw:
    def draw(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return rng.integers(low, high, shape, endpoint=True)

    return draw


def _booleans(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    return rng.random(shape) < 0.5


def _one_nan_per_row(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """Values in (-2, 2) with one NaN in every row of the last axis (no all-NaN rows)."""
    values = rng.uniform(-2.0, 2.0, shape)
    rows = values.reshape(-1, shape[-1] if shape else 1)
    for row in rows:
        if row.size > 1:
            row[rng.integers(row.size)] = np.nan
    return np.asarray(rows.reshape(shape), dtype=dtype)


def _with_infs(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    values = rng.uniform(-2, 2, shape)
    infinite = np.where(rng.random(shape) < 0.5, -np.inf, np.inf)
    return np.asarray(np.where(rng.random(shape) < 0.3, infinite, values), dtype=dtype)


def _spread_exponents(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    # Mantissas in +-(0.55, 0.95), away from the powers of two where frexp jumps.
    sign = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    mantissa = rng.uniform(0.55, 0.95, shape) * 2.0 ** rng.integers(-3, 4, shape)
    return np.asarray(sign * mantissa, dtype=dtype)


REAL = Domain("real", _uniform(-2.0, 2.0))
POSITIVE = Domain("positive", _uniform(0.5, 2.0))
UNIT = Domain("unit", _uniform(-0.9, 0.9))  # arcsin, arccos, arctanh: derivative poles at ±1
ANGLE = Domain("angle", _uniform(-1.2, 1.2))  # tan: pole at ±pi/2
ABOVE_ONE = Domain("above_one", _uniform(1.2, 3.0))  # arccosh: pole at 1
NONZERO = Domain("nonzero", _away_from_zero(0.5, 2.0))  # abs, cbrt, 1/x: kink or pole at 0
NEGATIVE = Domain("negative", _uniform(-2.0, -0.5))
DISTINCT = Domain("distinct", _distinct)  # max, sort, ...: away from ties
ONE_ZERO = Domain("one_zero", _with_zeros(1))
TWO_ZEROS = Domain("two_zeros", _with_zeros(2))
WITH_NANS = Domain("with_nans", _with_nans)
EXPONENT = Domain("int_exponent", _integers(-3, 3), differentiable=False)
BOOL = Domain("bool", _booleans, differentiable=False)
INDEX_0_3 = Domain("index_0_3", _integers(0, 2), differentiable=False)  # indices < 3
ONE_NAN = Domain("one_nan", _one_nan_per_row)  # nan* order statistics: no all-NaN rows
WITH_INFS = Domain("with_infs", _with_infs)
QUANTILE = Domain("quantile", _uniform(0.05, 0.95))
SPREAD_EXPONENTS = Domain("spread_exponents", _spread_exponents)  # frexp: exponents -3..3
SHIFT = Domain("shift", _integers(0, 4), differentiable=False)
STEP = Domain("step", _integers(-1, 1), differentiable=False)  # heaviside: zeros included


# -- shapes ------------------------------------------------------------------------------
Shapes = st.SearchStrategy  # draws a tuple with one shape per array argument


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 0, max_side: int = 4) -> Shapes:
    """One argument of any shape (0-d and size-0 included by default)."""
    base = hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )
    return base.map(lambda s: (s,))


def same_shapes(
    n: int, min_dims: int = 0, max_dims: int = 3, min_side: int = 0, max_side: int = 4
) -> Shapes:
    """``n`` arguments of one shape."""
    base = hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )
    return base.map(lambda s: (s,) * n)


def broadcastable(
    n: int, min_dims: int = 0, max_dims: int = 3, min_side: int = 0, max_side: int = 4
) -> Shapes:
    """``n`` arguments whose shapes broadcast together (NumPy's rules)."""
    base = hnp.mutually_broadcastable_shapes(
        num_shapes=n,
        min_dims=min_dims,
        max_dims=max_dims,
        min_side=min_side,
        max_side=max_side,
    )
    return base.map(lambda b: b.input_shapes)


def cases(*shape_tuples: tuple[tuple[int, ...], ...]) -> Shapes:
    """A fixed list of cases, each a tuple with one shape per argument."""
    return st.sampled_from(shape_tuples)


def _joined(axis_dims: int, n: int) -> Shapes:
    """``n`` shapes equal except along axis 0 (for concatenate)."""
    rest = hnp.array_shapes(min_dims=axis_dims - 1, max_dims=2, min_side=0, max_side=3)
    lengths = st.lists(st.integers(0, 3), min_size=n, max_size=n)
    return st.tuples(lengths, rest).map(lambda p: tuple((k,) + p[1] for k in p[0]))


# -- the record --------------------------------------------------------------------------
FLOATS = (np.float32, np.float64)


@dataclass(frozen=True)
class OpSample:
    """One op (or one case of an op) for the table-driven tests.

    Attributes:
        name: Test id.
        op: The tapegrad function (or a lambda fixing keyword arguments).
        ref: The NumPy reference, called with the same arguments as plain arrays.
        domains: One `Domain` per array argument; ``len(domains)`` is the arity.
        shapes: A strategy drawing one shape per argument.
        dtypes: Float dtypes the forward check runs in.
        differentiable: ``False`` for pass-through ops (argmax, floor, comparisons):
            they must give the right values and ``None`` gradients.
        order: Highest derivative order checked against finite differences.
        rtol: Forward tolerance relative to NumPy, by dtype.
        grad_tol: ``(atol, rtol)`` for `check_grads` in float64 (None: its defaults).
        int_inputs: The op accepts integer arrays (checked to give ``None`` gradients).
        tensor_only: ``op`` uses Tensor operators/methods, so it needs Tensor inputs.
    """

    name: str
    op: Callable[..., Any]
    ref: Callable[..., Any]
    domains: tuple[Domain, ...] = (REAL,)
    shapes: Shapes = field(default_factory=shapes)
    dtypes: tuple[Any, ...] = FLOATS
    differentiable: bool = True
    order: int = 2
    rtol: dict[Any, float] = field(default_factory=lambda: {np.float32: 2e-5, np.float64: 1e-12})
    grad_tol: tuple[float, float] | None = None
    int_inputs: bool = True
    tensor_only: bool = False

    @property
    def nargs(self) -> int:
        return len(self.domains)

    def __repr__(self) -> str:
        return f"OpSample({self.name})"


def sample(
    name: str, op: Callable[..., Any], ref: Callable[..., Any], *domains: Domain, **kwargs: Any
) -> OpSample:
    """An `OpSample` with positional domains (default: one real argument)."""
    return OpSample(name, op, ref, domains or (REAL,), **kwargs)


def _erf_reference(x: Any) -> np.ndarray:
    dtype = np.asarray(x).dtype
    values = np.vectorize(math.erf, otypes=[np.float64])(x)
    return values.astype(dtype if dtype.kind == "f" else np.float64)


def unary(
    name: str, op: Callable[..., Any], ref: Callable[..., Any], domain: Domain = REAL, **kwargs: Any
) -> OpSample:
    """An elementwise op of one argument of any shape."""
    return OpSample(name, op, ref, (domain,), shapes(), **kwargs)


def binary(
    name: str,
    op: Callable[..., Any],
    ref: Callable[..., Any],
    x: Domain = REAL,
    y: Domain = REAL,
    **kwargs: Any,
) -> OpSample:
    """An elementwise op of two broadcasting arguments."""
    return OpSample(name, op, ref, (x, y), broadcastable(2), **kwargs)


def passthrough(
    name: str, op: Callable[..., Any], ref: Callable[..., Any], *domains: Domain, **kwargs: Any
) -> OpSample:
    """A non-differentiable op: values must match, gradients must be ``None``."""
    kwargs.setdefault("shapes", shapes())
    return OpSample(name, op, ref, domains or (REAL,), differentiable=False, **kwargs)


# -- NumPy references for composites NumPy lacks ----------------------------------------
def _logsumexp(a: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    top = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - top), axis=axis, keepdims=True)) + top
    if keepdims:
        return out
    return np.squeeze(out, axis=axis)


_LOOSE = {np.float32: 1e-4, np.float64: 1e-10}  # composites that round differently

# -- elementwise math --------------------------------------------------------------------
ELEMENTWISE = [
    binary("add", tnp.add, np.add),
    binary("subtract", tnp.subtract, np.subtract),
    binary("multiply", tnp.multiply, np.multiply),
    binary("divide", tnp.divide, np.divide, REAL, NONZERO),
    binary("power", tnp.power, np.power, POSITIVE, REAL),
    # Integer bases: NumPy rejects negative integer powers of integers.
    sample(
        "power_negative_base_int_array",
        tnp.power,
        np.power,
        NEGATIVE,
        EXPONENT,
        shapes=broadcastable(2),
        int_inputs=False,
    ),
    unary("power_negative_base_cube", lambda x: tnp.power(x, 3), lambda x: np.power(x, 3)),
    unary(
        "power_negative_exponent",
        lambda x: tnp.power(x, -2),
        lambda x: np.power(x, -2),
        NONZERO,
        int_inputs=False,
    ),
    unary("power_zero_exponent", lambda x: tnp.power(x, 0), lambda x: np.power(x, 0)),
    unary("power_half", lambda x: tnp.power(x, 0.5), lambda x: np.power(x, 0.5), POSITIVE),
    unary("power_constant_base", lambda y: tnp.power(2.5, y), lambda y: np.power(2.5, y)),
    unary("negative", tnp.negative, np.negative),
    unary("exp", tnp.exp, np.exp),
    unary("expm1", tnp.expm1, np.expm1),
    unary("log", tnp.log, np.log, POSITIVE),
    unary("log1p", tnp.log1p, np.log1p, POSITIVE),
    unary("log2", tnp.log2, np.log2, POSITIVE, rtol=_LOOSE),
    unary("log10", tnp.log10, np.log10, POSITIVE, rtol=_LOOSE),
    unary("exp2", tnp.exp2, np.exp2, rtol=_LOOSE),
    unary("sqrt", tnp.sqrt, np.sqrt, POSITIVE),
    unary("cbrt", tnp.cbrt, np.cbrt, NONZERO),
    unary("square", tnp.square, np.square),
    unary("reciprocal", tnp.reciprocal, np.reciprocal, NONZERO),
    unary("sin", tnp.sin, np.sin),
    unary("cos", tnp.cos, np.cos),
    unary("tan", tnp.tan, np.tan, ANGLE),
    unary("arcsin", tnp.arcsin, np.arcsin, UNIT),
    unary("arccos", tnp.arccos, np.arccos, UNIT),
    unary("arctan", tnp.arctan, np.arctan),
    binary("arctan2", tnp.arctan2, np.arctan2, NONZERO, NONZERO),
    unary("sinh", tnp.sinh, np.sinh),
    unary("cosh", tnp.cosh, np.cosh),
    unary("tanh", tnp.tanh, np.tanh),
    unary("arcsinh", tnp.arcsinh, np.arcsinh),
    unary("arccosh", tnp.arccosh, np.arccosh, ABOVE_ONE),
    unary("arctanh", tnp.arctanh, np.arctanh, UNIT),
    unary("abs", tnp.abs, np.abs, NONZERO),
    unary("clip_scalars", lambda x: tnp.clip(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7)),
    unary("clip_upper_only", lambda x: tnp.clip(x, None, 0.3), lambda x: np.clip(x, None, 0.3)),
    sample(
        "clip_arrays",
        tnp.clip,
        np.clip,
        REAL,
        Domain("low", _uniform(-2.0, -0.3)),
        Domain("high", _uniform(0.3, 2.0)),
        shapes=broadcastable(3),
    ),
    sample(
        "clip_crossed_bounds",
        tnp.clip,
        np.clip,
        REAL,
        Domain("low", _uniform(0.5, 1.0)),
        Domain("high", _uniform(-1.0, 0.2)),
        shapes=broadcastable(3),
    ),
    binary("maximum", tnp.maximum, np.maximum),
    binary("minimum", tnp.minimum, np.minimum),
    binary("logaddexp", tnp.logaddexp, np.logaddexp, rtol=_LOOSE),
    binary("logaddexp2", tnp.logaddexp2, np.logaddexp2, rtol=_LOOSE),
    binary("hypot", tnp.hypot, np.hypot, NONZERO, NONZERO, rtol=_LOOSE),
    unary("sinc", tnp.sinc, np.sinc, rtol=_LOOSE),
    unary("deg2rad", tnp.deg2rad, np.deg2rad),
    unary("rad2deg", tnp.rad2deg, np.rad2deg),
    # x / y stays inside (-1, 0) or (0, 1): away from the jumps of the remainder.
    binary(
        "remainder",
        tnp.remainder,
        np.remainder,
        Domain("x", _away_from_zero(0.2, 1.3)),
        Domain("y", _uniform(1.5, 2.5)),
    ),
    unary("nan_to_num", tnp.nan_to_num, np.nan_to_num, WITH_NANS),
    # Signs from the signbit primitive; |x / y| in (1.08, 1.94): away from fmod's jumps.
    sample(
        "fmod",
        tnp.fmod,
        np.fmod,
        Domain("x", _away_from_zero(2.6, 2.9)),
        Domain("y", _away_from_zero(1.5, 2.4)),
        shapes=cases(((3, 4), (4,)), ((2, 3), (2, 3))),
    ),
    sample(
        "copysign",
        tnp.copysign,
        np.copysign,
        NONZERO,
        NONZERO,
        shapes=cases(((3, 4), (4,)), ((2, 3), (2, 3))),
    ),
    sample(
        "heaviside",
        tnp.heaviside,
        np.heaviside,
        STEP,
        REAL,
        shapes=broadcastable(2),
        int_inputs=False,
    ),
    sample("ldexp", tnp.ldexp, np.ldexp, REAL, EXPONENT, shapes=broadcastable(2), int_inputs=False),
    unary("frexp", tnp.frexp, np.frexp, SPREAD_EXPONENTS, int_inputs=False),
    sample(
        "interp",
        lambda x, xp, fp: tnp.interp(x, tnp.sort(xp), fp),
        lambda x, xp, fp: np.interp(x, np.sort(xp), fp),
        REAL,
        DISTINCT,
        REAL,
        shapes=cases(
            ((5,), (4,), (4,)), ((2, 3), (6,), (6,)), ((), (3,), (3,)), ((3,), (1,), (1,))
        ),
        int_inputs=False,
    ),
    sample(
        "interp_period",
        lambda x, xp, fp: tnp.interp(x, xp, fp, period=2.5),
        lambda x, xp, fp: np.interp(x, xp, fp, period=2.5),
        REAL,
        DISTINCT,
        REAL,
        shapes=cases(((5,), (4,), (4,)), ((2, 3), (6,), (6,))),
        int_inputs=False,
    ),
    # neural-net elementwise primitives (tapegrad.ops)
    unary("relu", ops.relu, lambda x: np.maximum(x, 0), NONZERO),
    unary("sigmoid", ops.sigmoid, lambda x: (np.tanh(np.multiply(x, 0.5)) + 1) * 0.5),
    unary("erf", ops.erf, lambda x: _erf_reference(x), rtol=_LOOSE),
    sample("where", tnp.where, np.where, BOOL, REAL, REAL, shapes=broadcastable(3)),
    sample(
        "where_scalar_branch",
        lambda c, x: tnp.where(c, x, 0.0),
        lambda c, x: np.where(c, x, 0.0),
        BOOL,
        REAL,
        shapes=broadcastable(2),
    ),
]


# -- reductions --------------------------------------------------------------------------
def _reductions(
    name: str,
    op: Any,
    ref: Any,
    domain: Domain = REAL,
    min_side: int = 0,
    min_dims: int = 0,
    **kwargs: Any,
) -> list[OpSample]:
    """The axis/keepdims cases every reduction is checked with."""
    variants = [
        ("all", {}, 0),
        ("all_keepdims", {"keepdims": True}, 0),
        ("axis0", {"axis": 0}, 1),
        ("axis_neg1_keepdims", {"axis": -1, "keepdims": True}, 1),
        ("axis_tuple", {"axis": (0, 2)}, 3),
        ("axis_neg_tuple_keepdims", {"axis": (-1, -2), "keepdims": True}, 2),
    ]
    return [
        OpSample(
            f"{name}_{suffix}",
            _bind(op, kw),
            _bind(ref, kw),
            (domain,),
            shapes(min_dims=max(needed, min_dims), min_side=min_side),
            **kwargs,
        )
        for suffix, kw, needed in variants
    ]


def _bind(func: Callable[..., Any], kwargs: dict[str, Any]) -> Callable[..., Any]:
    def bound(*args: Any) -> Any:
        return func(*args, **kwargs)

    return bound


ONE_D = shapes(min_dims=1, max_dims=1, min_side=1)
ROWS = shapes(min_dims=1, max_dims=3, min_side=1)
ROWS_OF_2 = shapes(min_dims=1, max_dims=3, min_side=2)

REDUCTIONS = [
    *_reductions("sum", tnp.sum, np.sum),
    *_reductions("mean", tnp.mean, np.mean, min_side=1),
    *_reductions("prod", tnp.prod, np.prod),
    *_reductions("var", tnp.var, np.var, min_side=1),
    # std needs two elements per group: sqrt has an infinite derivative at var == 0.
    *_reductions("std", tnp.std, np.std, min_side=2, min_dims=1),
    *_reductions("max", tnp.max, np.max, DISTINCT, min_side=1),
    *_reductions("min", tnp.min, np.min, DISTINCT, min_side=1),
    *_reductions("logsumexp", tnp.logsumexp, _logsumexp, min_side=1, rtol=_LOOSE),
    sample(
        "sum_dtype_float64",
        lambda x: tnp.sum(x, dtype=np.float64),
        lambda x: np.sum(x, dtype=np.float64),
    ),
    sample(
        "mean_dtype_float64",
        lambda x: tnp.mean(x, axis=-1, dtype=np.float64),
        lambda x: np.mean(x, axis=-1, dtype=np.float64),
        shapes=ROWS,
    ),
    sample(
        "cumsum_dtype_float64",
        lambda x: tnp.cumsum(x, dtype=np.float64),
        lambda x: np.cumsum(x, dtype=np.float64),
    ),
    sample(
        "amax_axis1",
        lambda x: tnp.amax(x, axis=1),
        lambda x: np.amax(x, axis=1),
        DISTINCT,
        shapes=shapes(min_dims=2, min_side=1),
    ),
    sample("amin", tnp.amin, np.amin, DISTINCT, shapes=shapes(min_side=1)),
    sample("ptp", tnp.ptp, np.ptp, DISTINCT, shapes=shapes(min_side=1)),
    sample(
        "ptp_axis0",
        lambda x: tnp.ptp(x, axis=0),
        lambda x: np.ptp(x, axis=0),
        DISTINCT,
        shapes=shapes(min_dims=1, min_side=1),
    ),
    sample("prod_one_zero", tnp.prod, np.prod, ONE_ZERO, shapes=ONE_D),
    sample(
        "prod_two_zeros",
        tnp.prod,
        np.prod,
        TWO_ZEROS,
        shapes=shapes(min_dims=1, max_dims=1, min_side=2),
    ),
    sample(
        "prod_axis_neg1_one_zero",
        lambda x: tnp.prod(x, axis=-1),
        lambda x: np.prod(x, axis=-1),
        ONE_ZERO,
        shapes=ROWS,
    ),
    sample(
        "prod_axis_neg1_two_zeros",
        lambda x: tnp.prod(x, axis=-1, keepdims=True),
        lambda x: np.prod(x, axis=-1, keepdims=True),
        TWO_ZEROS,
        shapes=ROWS_OF_2,
    ),
    sample(
        "var_ddof1",
        lambda x: tnp.var(x, axis=0, ddof=1),
        lambda x: np.var(x, axis=0, ddof=1),
        shapes=shapes(min_dims=1, min_side=2),
    ),
    sample(
        "std_ddof1", lambda x: tnp.std(x, ddof=1), lambda x: np.std(x, ddof=1), shapes=ROWS_OF_2
    ),
    sample("cumsum", tnp.cumsum, np.cumsum),
    sample(
        "cumsum_axis0",
        lambda x: tnp.cumsum(x, axis=0),
        lambda x: np.cumsum(x, axis=0),
        shapes=shapes(min_dims=1),
    ),
    sample(
        "cumsum_axis_neg1",
        lambda x: tnp.cumsum(x, axis=-1),
        lambda x: np.cumsum(x, axis=-1),
        shapes=shapes(min_dims=1),
    ),
    sample("cumprod", tnp.cumprod, np.cumprod),
    sample(
        "cumprod_axis_neg1",
        lambda x: tnp.cumprod(x, axis=-1),
        lambda x: np.cumprod(x, axis=-1),
        shapes=shapes(min_dims=1),
    ),
    sample(
        "cumprod_one_zero",
        lambda x: tnp.cumprod(x, axis=-1),
        lambda x: np.cumprod(x, axis=-1),
        ONE_ZERO,
        shapes=ROWS,
    ),
    sample(
        "cumprod_two_zeros",
        lambda x: tnp.cumprod(x, axis=-1),
        lambda x: np.cumprod(x, axis=-1),
        TWO_ZEROS,
        shapes=ROWS_OF_2,
    ),
    sample(
        "cumprod_axis0_zeros",
        lambda x: tnp.cumprod(x, axis=0),
        lambda x: np.cumprod(x, axis=0),
        TWO_ZEROS,
        shapes=shapes(min_dims=2, min_side=2),
    ),
    sample("average", tnp.average, np.average, shapes=shapes(min_side=1)),
    sample(
        "average_axis1",
        lambda x: tnp.average(x, axis=1),
        lambda x: np.average(x, axis=1),
        shapes=shapes(min_dims=2, min_side=1),
    ),
    sample(
        "average_weights",
        lambda a, w: tnp.average(a, weights=w),
        lambda a, w: np.average(a, weights=w),
        REAL,
        POSITIVE,
        shapes=same_shapes(2, min_side=1),
    ),
    sample(
        "average_weights_1d_axis",
        lambda a, w: tnp.average(a, axis=1, weights=w),
        lambda a, w: np.average(a, axis=1, weights=w),
        REAL,
        POSITIVE,
        shapes=cases(((2, 3), (3,)), ((4, 1), (1,)), ((2, 5, 3), (5,))),
    ),
    sample("nansum", tnp.nansum, np.nansum, WITH_NANS),
    sample(
        "nansum_axis0_keepdims",
        lambda x: tnp.nansum(x, axis=0, keepdims=True),
        lambda x: np.nansum(x, axis=0, keepdims=True),
        WITH_NANS,
        shapes=shapes(min_dims=1),
    ),
    sample(
        "nanvar_axis_neg1",
        lambda x: tnp.nanvar(x, axis=-1),
        lambda x: np.nanvar(x, axis=-1),
        ONE_NAN,
        shapes=shapes(min_dims=1, min_side=3),
    ),
    sample(
        "nanmax_axis_neg1",
        lambda x: tnp.nanmax(x, axis=-1),
        lambda x: np.nanmax(x, axis=-1),
        ONE_NAN,
        shapes=ROWS_OF_2,
    ),
    # Order statistics: the argsort primitive and take, positions computed with primitives.
    sample("median", tnp.median, np.median, DISTINCT, shapes=shapes(min_side=1)),
    sample(
        "median_axis_neg1_keepdims",
        lambda x: tnp.median(x, axis=-1, keepdims=True),
        lambda x: np.median(x, axis=-1, keepdims=True),
        DISTINCT,
        shapes=shapes(min_dims=1, min_side=3),
    ),
    sample(
        "median_axis_tuple",
        lambda x: tnp.median(x, axis=(0, 2)),
        lambda x: np.median(x, axis=(0, 2)),
        DISTINCT,
        shapes=shapes(min_dims=3, min_side=1),
    ),
    sample(
        "quantile_scalar_q",
        lambda x: tnp.quantile(x, 0.37, axis=-1),
        lambda x: np.quantile(x, 0.37, axis=-1),
        DISTINCT,
        shapes=ROWS,
    ),
    sample(
        "quantile_lower",
        lambda x: tnp.quantile(x, 0.37, method="lower"),
        lambda x: np.quantile(x, 0.37, method="lower"),
        DISTINCT,
        shapes=shapes(min_side=1),
    ),
    sample(
        "quantile_q",
        lambda a, q: tnp.quantile(a, q, axis=-1),
        lambda a, q: np.quantile(a, q, axis=-1),
        DISTINCT,
        QUANTILE,
        shapes=cases(((3, 5), (2,)), ((6,), ()), ((2, 3, 4), (3,))),
        int_inputs=False,
    ),
    sample(
        "quantile_q_hazen_keepdims",
        lambda a, q: tnp.quantile(a, q, axis=0, method="hazen", keepdims=True),
        lambda a, q: np.quantile(a, q, axis=0, method="hazen", keepdims=True),
        DISTINCT,
        QUANTILE,
        shapes=cases(((5, 3), (2,)), ((4,), ())),
        int_inputs=False,
    ),
    sample(
        "quantile_q_nearest",
        lambda a, q: tnp.quantile(a, q, method="nearest"),
        lambda a, q: np.quantile(a, q, method="nearest"),
        DISTINCT,
        QUANTILE,
        shapes=cases(((3, 5), (2,)), ((6,), ())),
        int_inputs=False,
    ),
    sample(
        "quantile_q_midpoint",
        lambda a, q: tnp.quantile(a, q, axis=1, method="midpoint"),
        lambda a, q: np.quantile(a, q, axis=1, method="midpoint"),
        DISTINCT,
        QUANTILE,
        shapes=cases(((3, 5), (2,)), ((2, 4), ())),
        int_inputs=False,
    ),
    sample(
        "percentile_q",
        lambda a, q: tnp.percentile(a, q * 100, axis=-1),
        lambda a, q: np.percentile(a, q * 100, axis=-1),
        DISTINCT,
        QUANTILE,
        shapes=cases(((3, 5), (2,)), ((6,), ())),
        int_inputs=False,
    ),
    sample(
        "nanmedian_axis_neg1",
        lambda x: tnp.nanmedian(x, axis=-1),
        lambda x: np.nanmedian(x, axis=-1),
        ONE_NAN,
        shapes=ROWS_OF_2,
    ),
    sample("nanmedian_all", tnp.nanmedian, np.nanmedian, ONE_NAN, shapes=ROWS_OF_2),
    sample(
        "nanquantile_q",
        lambda a, q: tnp.nanquantile(a, q, axis=-1),
        lambda a, q: np.nanquantile(a, q, axis=-1),
        ONE_NAN,
        QUANTILE,
        shapes=cases(((3, 5), (2,)), ((4,), ()), ((2, 3, 4), (3,))),
        int_inputs=False,
    ),
    sample(
        "nanpercentile_scalar_q",
        lambda x: tnp.nanpercentile(x, 62.0, axis=-1),
        lambda x: np.nanpercentile(x, 62.0, axis=-1),
        ONE_NAN,
        shapes=ROWS_OF_2,
    ),
]

# -- shape manipulation ------------------------------------------------------------------
ANY = shapes()
AT_LEAST_1D = shapes(min_dims=1)
AT_LEAST_2D = shapes(min_dims=2)
MATRICES = shapes(min_dims=2, max_dims=2, max_side=5)

SHAPE_OPS = [
    sample("copy", tnp.copy, np.copy),
    sample("reshape_flat", lambda x: tnp.reshape(x, (-1,)), lambda x: np.reshape(x, (-1,))),
    sample(
        "reshape_2d",
        lambda x: tnp.reshape(x, (2, -1)),
        lambda x: np.reshape(x, (2, -1)),
        shapes=cases(((4, 3),), ((2, 0),), ((6,),), ((2, 1, 2),)),
    ),
    sample(
        "reshape_scalar",
        lambda x: tnp.reshape(x, (1, 1)),
        lambda x: np.reshape(x, (1, 1)),
        shapes=cases(((),), ((1,),)),
    ),
    sample("ravel", tnp.ravel, np.ravel),
    sample("transpose", tnp.transpose, np.transpose),
    sample(
        "transpose_axes",
        lambda x: tnp.transpose(x, (1, 0, 2)),
        lambda x: np.transpose(x, (1, 0, 2)),
        shapes=shapes(min_dims=3, max_dims=3),
    ),
    sample(
        "transpose_negative_axes",
        lambda x: tnp.transpose(x, (-1, 0, 1)),
        lambda x: np.transpose(x, (-1, 0, 1)),
        shapes=shapes(min_dims=3, max_dims=3),
    ),
    sample(
        "moveaxis",
        lambda x: tnp.moveaxis(x, 0, -1),
        lambda x: np.moveaxis(x, 0, -1),
        shapes=AT_LEAST_1D,
    ),
    sample(
        "moveaxis_pairs",
        lambda x: tnp.moveaxis(x, (0, 1), (-1, -3)),
        lambda x: np.moveaxis(x, (0, 1), (-1, -3)),
        shapes=shapes(min_dims=3),
    ),
    sample(
        "swapaxes",
        lambda x: tnp.swapaxes(x, 0, -1),
        lambda x: np.swapaxes(x, 0, -1),
        shapes=AT_LEAST_1D,
    ),
    sample(
        "squeeze",
        tnp.squeeze,
        np.squeeze,
        shapes=cases(((1, 3, 1),), ((1,),), ((2, 1, 0),), ((),), ((1, 1),)),
    ),
    sample(
        "squeeze_axis",
        lambda x: tnp.squeeze(x, axis=(0, -1)),
        lambda x: np.squeeze(x, axis=(0, -1)),
        shapes=cases(((1, 3, 1),), ((1, 1),)),
    ),
    sample("expand_dims", lambda x: tnp.expand_dims(x, 0), lambda x: np.expand_dims(x, 0)),
    sample(
        "expand_dims_tuple",
        lambda x: tnp.expand_dims(x, (0, -1)),
        lambda x: np.expand_dims(x, (0, -1)),
    ),
    sample(
        "broadcast_to",
        lambda x: tnp.broadcast_to(x, (2, 2, 3)),
        lambda x: np.broadcast_to(x, (2, 2, 3)),
        shapes=cases(((3,),), ((1, 3),), ((),), ((2, 1, 3),), ((1, 1, 1),)),
    ),
    sample(
        "broadcast_to_empty",
        lambda x: tnp.broadcast_to(x, (0, 3)),
        lambda x: np.broadcast_to(x, (0, 3)),
        shapes=cases(((3,),), ((1, 3),)),
    ),
    sample(
        "concatenate",
        lambda x, y: tnp.concatenate([x, y]),
        lambda x, y: np.concatenate([x, y]),
        REAL,
        REAL,
        shapes=_joined(1, 2),
    ),
    sample(
        "concatenate_three_last_axis",
        lambda x, y, z: tnp.concatenate([x, y, z], axis=-1),
        lambda x, y, z: np.concatenate([x, y, z], axis=-1),
        REAL,
        REAL,
        REAL,
        shapes=cases(((2, 1), (2, 3), (2, 0)), ((3,), (1,), (2,))),
    ),
    sample(
        "concatenate_axis_none",
        lambda x, y: tnp.concatenate([x, y], axis=None),
        lambda x, y: np.concatenate([x, y], axis=None),
        REAL,
        REAL,
        shapes=broadcastable(2),
    ),
    sample(
        "stack",
        lambda x, y, z: tnp.stack([x, y, z]),
        lambda x, y, z: np.stack([x, y, z]),
        REAL,
        REAL,
        REAL,
        shapes=same_shapes(3),
    ),
    sample(
        "stack_last_axis",
        lambda x, y: tnp.stack([x, y], axis=-1),
        lambda x, y: np.stack([x, y], axis=-1),
        REAL,
        REAL,
        shapes=same_shapes(2),
    ),
    sample(
        "vstack",
        lambda x, y: tnp.vstack([x, y]),
        lambda x, y: np.vstack([x, y]),
        REAL,
        REAL,
        shapes=cases(((3,), (3,)), ((2, 3), (1, 3)), ((), ()), ((0, 2), (1, 2))),
    ),
    sample(
        "hstack",
        lambda x, y: tnp.hstack([x, y]),
        lambda x, y: np.hstack([x, y]),
        REAL,
        REAL,
        shapes=cases(((3,), (2,)), ((2, 3), (2, 1)), ((), ()), ((2, 0), (2, 2))),
    ),
    sample(
        "split",
        lambda x: tnp.split(x, 2),
        lambda x: np.split(x, 2),
        shapes=cases(((4, 3),), ((2,),), ((0, 2),), ((6, 1, 2),)),
    ),
    sample(
        "split_indices_axis1",
        lambda x: tnp.split(x, [1, 3], axis=1),
        lambda x: np.split(x, [1, 3], axis=1),
        shapes=cases(((2, 4),), ((3, 5),), ((2, 2),)),
    ),
    sample(
        "split_negative_and_large_indices",
        lambda x: tnp.split(x, [-1, 1, 9], axis=-1),
        lambda x: np.split(x, [-1, 1, 9], axis=-1),
        shapes=shapes(min_dims=1, min_side=2),
    ),
    sample(
        "array_split",
        lambda x: tnp.array_split(x, 3),
        lambda x: np.array_split(x, 3),
        shapes=cases(((5,),), ((4, 2),), ((2, 3),), ((0,),)),
    ),
    sample("tile", lambda x: tnp.tile(x, 2), lambda x: np.tile(x, 2)),
    sample("tile_reps", lambda x: tnp.tile(x, (2, 1, 3)), lambda x: np.tile(x, (2, 1, 3))),
    sample("repeat", lambda x: tnp.repeat(x, 2), lambda x: np.repeat(x, 2)),
    sample(
        "repeat_counts_axis0",
        lambda x: tnp.repeat(x, [1, 0, 2], axis=0),
        lambda x: np.repeat(x, [1, 0, 2], axis=0),
        shapes=cases(((3,),), ((3, 2),)),
    ),
    sample(
        "repeat_axis_neg1",
        lambda x: tnp.repeat(x, 3, axis=-1),
        lambda x: np.repeat(x, 3, axis=-1),
        shapes=AT_LEAST_1D,
    ),
    sample("pad", lambda x: tnp.pad(x, 1), lambda x: np.pad(x, 1)),
    sample(
        "pad_widths_value",
        lambda x: tnp.pad(x, ((1, 0), (0, 2)), constant_values=1.5),
        lambda x: np.pad(x, ((1, 0), (0, 2)), constant_values=1.5),
        shapes=MATRICES,
    ),
    sample("flip", tnp.flip, np.flip),
    sample("flip_axis0", lambda x: tnp.flip(x, 0), lambda x: np.flip(x, 0), shapes=AT_LEAST_1D),
    sample(
        "flip_axes",
        lambda x: tnp.flip(x, (0, -1)),
        lambda x: np.flip(x, (0, -1)),
        shapes=AT_LEAST_2D,
    ),
    sample("roll", lambda x: tnp.roll(x, 2), lambda x: np.roll(x, 2)),
    sample(
        "roll_axis0",
        lambda x: tnp.roll(x, -1, axis=0),
        lambda x: np.roll(x, -1, axis=0),
        shapes=AT_LEAST_1D,
    ),
    sample(
        "roll_axes",
        lambda x: tnp.roll(x, (1, -2), axis=(0, 1)),
        lambda x: np.roll(x, (1, -2), axis=(0, 1)),
        shapes=AT_LEAST_2D,
    ),
    sample("triu", tnp.triu, np.triu, shapes=AT_LEAST_2D),
    sample("triu_k1", lambda x: tnp.triu(x, 1), lambda x: np.triu(x, 1), shapes=AT_LEAST_2D),
    sample("tril", tnp.tril, np.tril, shapes=AT_LEAST_2D),
    sample("tril_k_neg1", lambda x: tnp.tril(x, -1), lambda x: np.tril(x, -1), shapes=AT_LEAST_2D),
    sample("diagonal", tnp.diagonal, np.diagonal, shapes=AT_LEAST_2D),
    sample(
        "diagonal_offset",
        lambda x: tnp.diagonal(x, 1),
        lambda x: np.diagonal(x, 1),
        shapes=AT_LEAST_2D,
    ),
    sample(
        "diagonal_axes",
        lambda x: tnp.diagonal(x, -1, axis1=1, axis2=2),
        lambda x: np.diagonal(x, -1, axis1=1, axis2=2),
        shapes=shapes(min_dims=3),
    ),
    sample("trace", tnp.trace, np.trace, shapes=AT_LEAST_2D),
    sample(
        "trace_offset", lambda x: tnp.trace(x, -1), lambda x: np.trace(x, -1), shapes=AT_LEAST_2D
    ),
    sample(
        "trace_dtype_float64",
        lambda x: tnp.trace(x, dtype=np.float64),
        lambda x: np.trace(x, dtype=np.float64),
        shapes=MATRICES,
    ),
    sample("diag_build", tnp.diag, np.diag, shapes=shapes(min_dims=1, max_dims=1)),
    sample(
        "diag_build_k",
        lambda x: tnp.diag(x, 1),
        lambda x: np.diag(x, 1),
        shapes=shapes(min_dims=1, max_dims=1),
    ),
    sample(
        "diag_build_k_neg",
        lambda x: tnp.diag(x, -2),
        lambda x: np.diag(x, -2),
        shapes=shapes(min_dims=1, max_dims=1),
    ),
    sample("diag_extract", tnp.diag, np.diag, shapes=MATRICES),
    sample("diag_extract_k", lambda x: tnp.diag(x, 1), lambda x: np.diag(x, 1), shapes=MATRICES),
]

# -- indexing, selection, sorting --------------------------------------------------------
GRID = cases(((4, 5),), ((3, 3),), ((4, 3, 2),))

INDEXING = [
    sample(
        "getitem_slices",
        lambda x: x[1:, ::2],
        lambda x: x[1:, ::2],
        shapes=AT_LEAST_2D,
        tensor_only=True,
    ),
    sample(
        "getitem_negative_step",
        lambda x: x[::-2],
        lambda x: x[::-2],
        shapes=AT_LEAST_1D,
        tensor_only=True,
    ),
    sample(
        "getitem_int",
        lambda x: x[0],
        lambda x: x[0],
        shapes=shapes(min_dims=1, min_side=1),
        tensor_only=True,
    ),
    sample(
        "getitem_int_ellipsis_none",
        lambda x: x[-1, ..., None],
        lambda x: x[-1, ..., None],
        shapes=shapes(min_dims=1, min_side=1),
        tensor_only=True,
    ),
    sample(
        "getitem_none_ellipsis_slice",
        lambda x: x[None, ..., 1:],
        lambda x: x[None, ..., 1:],
        shapes=AT_LEAST_1D,
        tensor_only=True,
    ),
    sample(
        "getitem_ellipsis_int",
        lambda x: x[..., 1],
        lambda x: x[..., 1],
        shapes=shapes(min_dims=1, min_side=2),
        tensor_only=True,
    ),
    sample(
        "getitem_int_array_duplicates",
        lambda x: x[[0, 2, 0]],
        lambda x: x[[0, 2, 0]],
        shapes=GRID,
        tensor_only=True,
    ),
    sample(
        "getitem_2d_int_array",
        lambda x: x[np.array([[0, 1], [1, 1]])],
        lambda x: x[np.array([[0, 1], [1, 1]])],
        shapes=GRID,
        tensor_only=True,
    ),
    sample(
        "getitem_slice_then_array",
        lambda x: x[:, [2, 0, 2]],
        lambda x: x[:, [2, 0, 2]],
        shapes=cases(((2, 3),), ((0, 3),), ((4, 3, 2),)),
        tensor_only=True,
    ),
    sample(
        "getitem_two_arrays",
        lambda x: x[[0, 1, 1], [1, 1, 2]],
        lambda x: x[[0, 1, 1], [1, 1, 2]],
        shapes=GRID,
        tensor_only=True,
    ),
    sample(
        "getitem_array_int_slice",
        lambda x: x[[2, 2], 1, :],
        lambda x: x[[2, 2], 1, :],
        shapes=cases(((3, 2, 4),), ((4, 3, 0),)),
        tensor_only=True,
    ),
    sample(
        "getitem_negative_array",
        lambda x: x[np.array([-1, 0, -1])],
        lambda x: x[np.array([-1, 0, -1])],
        shapes=GRID,
        tensor_only=True,
    ),
    sample(
        "getitem_tensor_index",
        lambda x: x[tg.Tensor(np.array([2, 0, 2]))],
        lambda x: x[np.array([2, 0, 2])],
        shapes=GRID,
        tensor_only=True,
    ),
    # take with Tensor indices: the `take` primitive (indices an input, read at run time).
    sample(
        "take_tensor_indices",
        lambda x: tnp.take(x, tg.Tensor(np.array([2, 0, 2])), 0),
        lambda x: np.take(x, [2, 0, 2], 0),
        shapes=GRID,
        tensor_only=True,
    ),
    sample(
        "take_indices_argument_axis1",
        lambda x, i: tnp.take(x, i, axis=1),
        lambda x, i: np.take(x, i, axis=1),
        REAL,
        INDEX_0_3,
        shapes=cases(((2, 3), (4,)), ((3, 3, 2), (2, 2)), ((0, 3), (5,))),
        int_inputs=False,
    ),
    sample(
        "take_indices_argument_flat",
        lambda x, i: tnp.take(x, i),
        lambda x, i: np.take(x, i),
        REAL,
        INDEX_0_3,
        shapes=cases(((2, 2), (3,)), ((4,), (2, 3))),
        int_inputs=False,
    ),
    # Checking and random primitives (rate 0: every element kept, so a reference exists).
    sample(
        "class_indices",
        lambda i: tg.ops.class_indices(i, 3),
        lambda i: i.astype(np.int64),
        INDEX_0_3,
        differentiable=False,
    ),
    sample(
        "one_hot",
        lambda i: ops.one_hot(i, 3),
        lambda i: np.eye(3, dtype=np.float32)[i],
        INDEX_0_3,
        differentiable=False,
    ),
    sample(
        "one_hot_axis0",
        lambda i: ops.one_hot(i, 4, axis=0, dtype=np.float64),
        lambda i: np.moveaxis(np.eye(4)[i], -1, 0),
        INDEX_0_3,
        differentiable=False,
    ),
    sample(
        "dropout_rate_0",
        lambda x: tg.ops.dropout(x, 0.0, generator=np.random.default_rng(0)),
        lambda x: x * 1,
        int_inputs=False,
    ),
    sample(
        "getitem_bool_mask",
        lambda x, m: x[m],
        lambda x, m: x[m],
        REAL,
        BOOL,
        shapes=same_shapes(2),
        tensor_only=True,
    ),
    sample(
        "getitem_bool_rows",
        lambda x, m: x[m],
        lambda x, m: x[m],
        REAL,
        BOOL,
        shapes=cases(((3, 4), (3,)), ((2, 0), (2,)), ((4, 2, 3), (4,))),
        tensor_only=True,
    ),
    sample("getitem_bool_from_tensor", lambda x: x[x > 0], lambda x: x[x > 0], tensor_only=True),
    sample(
        "take_flat", lambda x: tnp.take(x, [0, 2, 2]), lambda x: np.take(x, [0, 2, 2]), shapes=GRID
    ),
    sample(
        "take_axis1",
        lambda x: tnp.take(x, [1, 1, 0], axis=1),
        lambda x: np.take(x, [1, 1, 0], axis=1),
        shapes=GRID,
    ),
    sample(
        "take_2d_indices_axis_neg1",
        lambda x: tnp.take(x, [[0, 1], [1, 0]], axis=-1),
        lambda x: np.take(x, [[0, 1], [1, 0]], axis=-1),
        shapes=GRID,
    ),
    sample(
        "take_along_axis",
        lambda x: tnp.take_along_axis(x, np.array([[0, 2, 2]]), axis=1),
        lambda x: np.take_along_axis(x, np.array([[0, 2, 2]]), axis=1),
        shapes=cases(((1, 3),), ((4, 3),), ((2, 5),)),
    ),
    sample(
        "take_along_axis0",
        lambda x: tnp.take_along_axis(x, np.array([[1], [0], [1]]), 0),
        lambda x: np.take_along_axis(x, np.array([[1], [0], [1]]), 0),
        shapes=cases(((2, 3),), ((3, 1),)),
    ),
    sample(
        "where_from_comparison",
        lambda x, y: tnp.where(x > y, x * 2, y),
        lambda x, y: np.where(x > y, x * 2, y),
        REAL,
        REAL,
        shapes=broadcastable(2),
    ),
    sample(
        "select",
        lambda x, y: tnp.select([x > 0.5, y > 0], [x, y * 2], default=0.5),
        lambda x, y: np.select([x > 0.5, y > 0], [x, y * 2], default=0.5),
        REAL,
        REAL,
        shapes=broadcastable(2),
    ),
    sample("sort", tnp.sort, np.sort, DISTINCT, shapes=AT_LEAST_1D),
    sample(
        "sort_axis0",
        lambda x: tnp.sort(x, axis=0),
        lambda x: np.sort(x, axis=0),
        DISTINCT,
        shapes=AT_LEAST_1D,
    ),
    sample(
        "sort_axis_none",
        lambda x: tnp.sort(x, axis=None),
        lambda x: np.sort(x, axis=None),
        DISTINCT,
    ),
    sample(
        "partition",
        lambda x: tnp.partition(x, 1),
        lambda x: np.partition(x, 1),
        DISTINCT,
        shapes=shapes(min_dims=1, min_side=2),
    ),
    sample(
        "partition_axis0",
        lambda x: tnp.partition(x, -1, axis=0),
        lambda x: np.partition(x, -1, axis=0),
        DISTINCT,
        shapes=shapes(min_dims=1, min_side=1),
    ),
    sample(
        "where_float_condition",
        lambda c, x: tnp.where(tnp.round(c), x, 0.5),
        lambda c, x: np.where(np.round(c), x, 0.5),
        REAL,
        REAL,
        shapes=broadcastable(2),
    ),
    sample(
        "where_from_comparison_0d",
        lambda x, y: tnp.where(x > y, x, y * 2),
        lambda x, y: np.where(x > y, x, y * 2),
        REAL,
        REAL,
        shapes=cases(
            ((), ()),
        ),
    ),
    sample(
        "choose_computed_indices",
        lambda i, a, b: tnp.choose(i, [a, b]),
        lambda i, a, b: np.choose(i, [a, b]),
        Domain("choice", _integers(0, 1), False),
        REAL,
        REAL,
        shapes=broadcastable(3),
    ),
]

# -- products ----------------------------------------------------------------------------
PRODUCTS = [
    sample(
        "dot",
        tnp.dot,
        np.dot,
        REAL,
        REAL,
        shapes=cases(
            ((3,), (3,)),
            ((2, 3), (3,)),
            ((3,), (3, 2)),
            ((2, 3), (3, 4)),
            ((2, 0), (0, 3)),
            ((), (2, 3)),
            ((2, 3), ()),
            ((2, 3, 4), (5, 4, 2)),
            ((2, 3, 4), (4,)),
        ),
    ),
    sample(
        "matmul",
        tnp.matmul,
        np.matmul,
        REAL,
        REAL,
        shapes=cases(
            ((3,), (3,)),
            ((2, 3), (3,)),
            ((3,), (3, 2)),
            ((2, 3), (3, 4)),
            ((2, 0), (0, 3)),
            ((0, 3), (3, 2)),
            ((2, 1, 3, 4), (5, 4, 2)),
            ((3,), (2, 3, 4)),
            ((2, 3, 4), (4,)),
            ((1, 2, 3), (4, 3, 2)),
        ),
    ),
    sample(
        "tensordot",
        lambda a, b: tnp.tensordot(a, b),
        lambda a, b: np.tensordot(a, b),
        REAL,
        REAL,
        shapes=cases(((2, 3, 4), (3, 4, 5)), ((3, 4), (3, 4))),
    ),
    sample(
        "tensordot_axes1",
        lambda a, b: tnp.tensordot(a, b, axes=1),
        lambda a, b: np.tensordot(a, b, axes=1),
        REAL,
        REAL,
        shapes=cases(((2, 3), (3, 4)), ((3,), (3, 2, 2))),
    ),
    sample(
        "tensordot_axes0",
        lambda a, b: tnp.tensordot(a, b, axes=0),
        lambda a, b: np.tensordot(a, b, axes=0),
        REAL,
        REAL,
        shapes=cases(((2,), (3,)), ((2, 2), (3,))),
    ),
    sample(
        "tensordot_pairs",
        lambda a, b: tnp.tensordot(a, b, axes=([1, 0], [0, 1])),
        lambda a, b: np.tensordot(a, b, axes=([1, 0], [0, 1])),
        REAL,
        REAL,
        shapes=cases(((3, 4, 5), (4, 3, 2)), ((2, 2), (2, 2))),
    ),
    sample(
        "einsum_matmul",
        lambda a, b: tnp.einsum("ij,jk->ik", a, b),
        lambda a, b: np.einsum("ij,jk->ik", a, b),
        REAL,
        REAL,
        shapes=cases(((2, 3), (3, 4)), ((1, 0), (0, 2))),
    ),
    sample(
        "einsum_implicit",
        lambda a, b: tnp.einsum("ij,jk", a, b),
        lambda a, b: np.einsum("ij,jk", a, b),
        REAL,
        REAL,
        shapes=cases(((2, 3), (3, 4))),
    ),
    sample(
        "einsum_implicit_transpose",
        lambda a: tnp.einsum("ba", a),
        lambda a: np.einsum("ba", a),
        shapes=MATRICES,
    ),
    sample(
        "einsum_batched_ellipsis",
        lambda a, b: tnp.einsum("...ij,...jk->...ik", a, b),
        lambda a, b: np.einsum("...ij,...jk->...ik", a, b),
        REAL,
        REAL,
        shapes=cases(
            ((2, 2, 3), (2, 3, 4)),
            ((5, 2, 3), (3, 1)),
            ((2, 3), (4, 3, 1)),
            ((1, 2, 3), (4, 3, 2)),
            ((4, 1, 2, 3), (5, 3, 2)),
        ),
    ),
    sample(
        "einsum_broadcast_size_one",
        lambda a, b: tnp.einsum("ij,ij->i", a, b),
        lambda a, b: np.einsum("ij,ij->i", a, b),
        REAL,
        REAL,
        shapes=cases(((1, 3), (4, 3)), ((4, 1), (4, 3))),
    ),
    sample(
        "einsum_ellipsis_implicit",
        lambda a, b: tnp.einsum("...j,jk", a, b),
        lambda a, b: np.einsum("...j,jk", a, b),
        REAL,
        REAL,
        shapes=cases(((2, 3), (3, 4)), ((2, 5, 3), (3, 2))),
    ),
    sample(
        "einsum_inner",
        lambda a, b: tnp.einsum("i,i->", a, b),
        lambda a, b: np.einsum("i,i->", a, b),
        REAL,
        REAL,
        shapes=same_shapes(2, 1, 1),
    ),
    sample(
        "einsum_outer",
        lambda a, b: tnp.einsum("i,j->ij", a, b),
        lambda a, b: np.einsum("i,j->ij", a, b),
        REAL,
        REAL,
        shapes=cases(((3,), (2,)), ((0,), (2,))),
    ),
    sample(
        "einsum_sum_one_operand",
        lambda a, b: tnp.einsum("ijk,ik->j", a, b),
        lambda a, b: np.einsum("ijk,ik->j", a, b),
        REAL,
        REAL,
        shapes=cases(
            ((2, 3, 4), (2, 4)),
        ),
    ),
    sample(
        "einsum_private_index",
        lambda a, b: tnp.einsum("ij,k->i", a, b),
        lambda a, b: np.einsum("ij,k->i", a, b),
        REAL,
        REAL,
        shapes=cases(
            ((2, 3), (4,)),
        ),
    ),
    sample(
        "einsum_three_operands",
        lambda a, b, c: tnp.einsum("ij,jk,kl->il", a, b, c),
        lambda a, b, c: np.einsum("ij,jk,kl->il", a, b, c),
        REAL,
        REAL,
        REAL,
        shapes=cases(
            ((2, 3), (3, 4), (4, 2)),
        ),
        rtol=_LOOSE,
    ),
    sample(
        "inner",
        tnp.inner,
        np.inner,
        REAL,
        REAL,
        shapes=cases(((3,), (3,)), ((2, 3), (4, 3)), ((), (2,)), ((2, 2, 3), (3,))),
    ),
    sample(
        "outer",
        tnp.outer,
        np.outer,
        REAL,
        REAL,
        shapes=cases(((3,), (4,)), ((2, 2), (3,)), ((), (2,)), ((0,), (2,))),
    ),
    sample(
        "kron",
        tnp.kron,
        np.kron,
        REAL,
        REAL,
        shapes=cases(((2,), (3,)), ((2, 3), (2, 2)), ((2,), (2, 3)), ((1, 2, 2), (2, 1))),
    ),
    sample(
        "vdot",
        tnp.vdot,
        np.vdot,
        REAL,
        REAL,
        shapes=cases(((3,), (3,)), ((2, 3), (3, 2)), ((1,), (1,))),
    ),
    sample(
        "cross",
        tnp.cross,
        np.cross,
        REAL,
        REAL,
        shapes=cases(((3,), (3,)), ((4, 3), (3,)), ((2, 1, 3), (4, 3))),
    ),
    # Hermitian SVD: |eigenvalues| sorted by the argsort primitive.
    sample(
        "svd_hermitian_values",
        lambda a: tnp.linalg.svd(a + tnp.swapaxes(a, -1, -2), hermitian=True, compute_uv=False),
        lambda a: np.linalg.svd(a + np.swapaxes(a, -1, -2), hermitian=True, compute_uv=False),
        shapes=cases(((3, 3),), ((2, 4, 4),)),
        order=1,
        rtol=_LOOSE,
        int_inputs=False,
    ),
]


# -- Tensor operators and methods (the reference is the same code on ndarrays) -----------
def _tensor(name: str, func: Callable[..., Any], *domains: Domain, **kwargs: Any) -> OpSample:
    return OpSample(name, func, func, domains or (REAL,), tensor_only=True, **kwargs)


TENSOR_OPS = [
    _tensor("op_add", operator.add, REAL, REAL, shapes=broadcastable(2)),
    _tensor("op_radd_scalar", lambda x: 1.5 + x, shapes=ANY),
    _tensor("op_sub", operator.sub, REAL, REAL, shapes=broadcastable(2)),
    _tensor("op_rsub_scalar", lambda x: 1.5 - x, shapes=ANY),
    _tensor("op_mul", operator.mul, REAL, REAL, shapes=broadcastable(2)),
    _tensor("op_truediv", operator.truediv, REAL, NONZERO, shapes=broadcastable(2)),
    _tensor("op_rtruediv_scalar", lambda x: 1.5 / x, NONZERO, shapes=ANY),
    _tensor("op_pow", operator.pow, POSITIVE, REAL, shapes=broadcastable(2)),
    _tensor("op_pow_int", lambda x: x**2, shapes=ANY),
    _tensor("op_rpow", lambda x: 2.0**x, shapes=ANY),
    _tensor(
        "op_mod",
        operator.mod,
        Domain("x", _away_from_zero(0.2, 1.3)),
        Domain("y", _uniform(1.5, 2.5)),
        shapes=broadcastable(2),
    ),
    _tensor("op_neg", operator.neg, shapes=ANY),
    _tensor("op_pos", operator.pos, shapes=ANY),
    _tensor("op_abs", abs, NONZERO, shapes=ANY),
    _tensor(
        "op_matmul",
        operator.matmul,
        REAL,
        REAL,
        shapes=cases(((2, 3), (3, 4)), ((3,), (3,)), ((2, 2, 3), (3,))),
    ),
    _tensor(
        "ndarray_op_tensor",
        lambda x: np.arange(3.0) * x + np.ones(3),
        shapes=cases(((3,),), ((2, 3),), ((),)),
    ),
    _tensor(
        "ndarray_matmul_tensor",
        lambda x: np.ones((2, 3)) @ x,
        shapes=cases(((3,),), ((3, 4),), ((2, 3, 1),)),
    ),
    _tensor("method_sum_axis", lambda x: x.sum(axis=1), shapes=AT_LEAST_2D),
    _tensor("method_sum_keepdims", lambda x: x.sum(0, keepdims=True), shapes=AT_LEAST_1D),
    _tensor(
        "method_T_dot",
        lambda w, x: w.T.dot(x),
        REAL,
        REAL,
        shapes=cases(((3, 2), (3,)), ((3, 2), (3, 4)), ((1, 1), (1, 1))),
    ),
    _tensor(
        "method_dot", lambda a, b: a.dot(b), REAL, REAL, shapes=cases(((2, 3), (3,)), ((3,), (3,)))
    ),
    _tensor("method_T", lambda x: x.T, shapes=ANY),
    _tensor(
        "method_transpose_axes",
        lambda x: x.transpose(1, 0, 2),
        shapes=shapes(min_dims=3, max_dims=3),
    ),
    _tensor("method_transpose_tuple", lambda x: x.transpose((1, 0)), shapes=MATRICES),
    _tensor(
        "method_reshape_args",
        lambda x: x.reshape(2, -1),
        shapes=cases(((4, 3),), ((2,),), ((2, 0),)),
    ),
    _tensor("method_reshape_tuple", lambda x: x.reshape((-1,)), shapes=ANY),
    _tensor("method_astype_float64", lambda x: x.astype(np.float64), shapes=ANY),
    _tensor("method_max", lambda x: x.max(), DISTINCT, shapes=shapes(min_side=1)),
    _tensor(
        "method_min_axis", lambda x: x.min(axis=0), DISTINCT, shapes=shapes(min_dims=1, min_side=1)
    ),
    _tensor("method_mean", lambda x: x.mean(), shapes=shapes(min_side=1)),
    _tensor("method_mean_axis", lambda x: x.mean(axis=-1), shapes=shapes(min_dims=1, min_side=1)),
    _tensor("method_var", lambda x: x.var(axis=0), shapes=shapes(min_dims=1, min_side=1)),
    _tensor("method_std", lambda x: x.std(), shapes=ROWS_OF_2),
    _tensor("method_prod", lambda x: x.prod(axis=-1), shapes=AT_LEAST_1D),
    _tensor("method_cumsum", lambda x: x.cumsum(axis=0), shapes=AT_LEAST_1D),
    _tensor("method_cumprod", lambda x: x.cumprod(), shapes=ANY),
    _tensor("method_clip", lambda x: x.clip(-0.5, 0.5), shapes=ANY),
    _tensor("method_squeeze", lambda x: x.squeeze(), shapes=cases(((1, 3, 1),), ((2,),))),
    _tensor("method_flatten", lambda x: x.flatten(), shapes=ANY),
    _tensor("method_ravel", lambda x: x.ravel(), shapes=ANY),
    _tensor("method_swapaxes", lambda x: x.swapaxes(0, 1), shapes=AT_LEAST_2D),
    _tensor("method_repeat", lambda x: x.repeat(2, axis=0), shapes=AT_LEAST_1D),
    _tensor("method_take", lambda x: x.take([0, 0, 1]), shapes=GRID),
    _tensor("method_diagonal", lambda x: x.diagonal(), shapes=AT_LEAST_2D),
    _tensor("method_trace", lambda x: x.trace(), shapes=AT_LEAST_2D),
    _tensor("method_chain", lambda x: (x.T * 2).reshape(-1)[::2].sum(), shapes=ANY),
]

# -- pass-through ops: right values, no gradient ----------------------------------------
PASSTHROUGH = [
    passthrough("argmax", tnp.argmax, np.argmax, DISTINCT, shapes=shapes(min_side=1)),
    passthrough(
        "argmax_axis0",
        lambda x: tnp.argmax(x, axis=0),
        lambda x: np.argmax(x, axis=0),
        DISTINCT,
        shapes=shapes(min_dims=1, min_side=1),
    ),
    passthrough("argmin", tnp.argmin, np.argmin, DISTINCT, shapes=shapes(min_side=1)),
    passthrough("argsort", tnp.argsort, np.argsort, DISTINCT, shapes=AT_LEAST_1D),
    passthrough(
        "argpartition",
        lambda x: tnp.argpartition(x, 0),
        lambda x: np.argpartition(x, 0),
        DISTINCT,
        shapes=shapes(min_dims=1, min_side=1),
    ),
    passthrough("floor", tnp.floor, np.floor),
    passthrough("ceil", tnp.ceil, np.ceil),
    passthrough("trunc", tnp.trunc, np.trunc),
    passthrough("rint", tnp.rint, np.rint),
    passthrough("round", tnp.round, np.round),
    passthrough("round_decimals", lambda x: tnp.round(x, 1), lambda x: np.round(x, 1)),
    passthrough("sign", tnp.sign, np.sign),
    passthrough(
        "floor_divide", tnp.floor_divide, np.floor_divide, REAL, POSITIVE, shapes=broadcastable(2)
    ),
    passthrough("greater", tnp.greater, np.greater, REAL, REAL, shapes=broadcastable(2)),
    passthrough(
        "greater_equal", tnp.greater_equal, np.greater_equal, REAL, REAL, shapes=broadcastable(2)
    ),
    passthrough("less", tnp.less, np.less, REAL, REAL, shapes=broadcastable(2)),
    passthrough("less_equal", tnp.less_equal, np.less_equal, REAL, REAL, shapes=broadcastable(2)),
    passthrough("equal", tnp.equal, np.equal, REAL, REAL, shapes=broadcastable(2)),
    passthrough("not_equal", tnp.not_equal, np.not_equal, REAL, REAL, shapes=broadcastable(2)),
    OpSample(
        "op_gt",
        operator.gt,
        operator.gt,
        (REAL, REAL),
        broadcastable(2),
        differentiable=False,
        tensor_only=True,
    ),
    OpSample(
        "op_eq",
        operator.eq,
        operator.eq,
        (REAL, REAL),
        broadcastable(2),
        differentiable=False,
        tensor_only=True,
    ),
    OpSample(
        "op_floordiv",
        operator.floordiv,
        operator.floordiv,
        (REAL, POSITIVE),
        broadcastable(2),
        differentiable=False,
        tensor_only=True,
    ),
    passthrough(
        "logical_and",
        lambda x, y: tnp.logical_and(x > 0, y > 0),
        lambda x, y: np.logical_and(x > 0, y > 0),
        REAL,
        REAL,
        shapes=broadcastable(2),
    ),
    passthrough("logical_not", lambda x: tnp.logical_not(x > 0), lambda x: np.logical_not(x > 0)),
    passthrough(
        "logical_or",
        lambda x, y: tnp.logical_or(x > 0, y > 0),
        lambda x, y: np.logical_or(x > 0, y > 0),
        REAL,
        REAL,
        shapes=broadcastable(2),
    ),
    passthrough(
        "logical_xor",
        lambda x, y: tnp.logical_xor(x > 0, y > 0),
        lambda x, y: np.logical_xor(x > 0, y > 0),
        REAL,
        REAL,
        shapes=broadcastable(2),
    ),
    passthrough(
        "bitwise_and", tnp.bitwise_and, np.bitwise_and, EXPONENT, EXPONENT, shapes=broadcastable(2)
    ),
    passthrough(
        "bitwise_or", tnp.bitwise_or, np.bitwise_or, EXPONENT, EXPONENT, shapes=broadcastable(2)
    ),
    passthrough(
        "bitwise_xor", tnp.bitwise_xor, np.bitwise_xor, EXPONENT, EXPONENT, shapes=broadcastable(2)
    ),
    passthrough("invert", tnp.invert, np.invert, EXPONENT),
    OpSample(
        "op_and_or_xor_bools",
        lambda x, y: ((x > 0) & (y > 0)) | ((x > 1) ^ (y < 0)),
        lambda x, y: ((x > 0) & (y > 0)) | ((x > 1) ^ (y < 0)),
        (REAL, REAL),
        broadcastable(2),
        differentiable=False,
        tensor_only=True,
    ),
    OpSample(
        "op_invert_bools",
        lambda x: ~(x > 0),
        lambda x: ~(x > 0),
        (REAL,),
        shapes(),
        differentiable=False,
        tensor_only=True,
    ),
    passthrough("isnan", tnp.isnan, np.isnan, WITH_NANS),
    passthrough("isfinite", tnp.isfinite, np.isfinite, WITH_NANS),
    passthrough("isinf", tnp.isinf, np.isinf, WITH_NANS),
    passthrough("shape", tnp.shape, np.shape),
    passthrough("ndim", tnp.ndim, np.ndim),
    passthrough("size", tnp.size, np.size),
    passthrough("count_nonzero", tnp.count_nonzero, np.count_nonzero, WITH_NANS),
    passthrough("any", lambda x: tnp.any(x > 0), lambda x: np.any(x > 0)),
    passthrough(
        "all_axis0",
        lambda x: tnp.all(x > 0, axis=0),
        lambda x: np.all(x > 0, axis=0),
        shapes=AT_LEAST_1D,
    ),
    passthrough(
        "nonzero", lambda x: tnp.nonzero(x > 0), lambda x: np.nonzero(x > 0), shapes=AT_LEAST_1D
    ),
    passthrough(
        "searchsorted",
        lambda a, v: tnp.searchsorted(tnp.sort(a), v),
        lambda a, v: np.searchsorted(np.sort(a), v),
        DISTINCT,
        REAL,
        shapes=cases(((4,), (3,)), ((1,), ())),
    ),
    passthrough(
        "nanargmax",
        lambda x: tnp.nanargmax(x, axis=-1),
        lambda x: np.nanargmax(x, axis=-1),
        ONE_NAN,
        shapes=ROWS_OF_2,
    ),
    passthrough("nanargmin", tnp.nanargmin, np.nanargmin, ONE_NAN, shapes=ROWS_OF_2),
    passthrough(
        "nanmax_all_nan_rows",
        lambda x: tnp.isnan(tnp.nanmax(x, axis=-1)),
        lambda x: np.isnan(np.nanmax(x, axis=-1)),
        WITH_NANS,
        shapes=cases(((6, 1),), ((4, 2),)),
    ),
    passthrough("signbit", tnp.signbit, np.signbit),
    passthrough("isposinf", tnp.isposinf, np.isposinf, WITH_INFS),
    passthrough("isneginf", tnp.isneginf, np.isneginf, WITH_INFS),
    passthrough("angle", tnp.angle, np.angle),
    passthrough(
        "isclose",
        lambda x: tnp.isclose(x, tnp.round(x, 1), atol=0.03),
        lambda x: np.isclose(x, np.round(x, 1), atol=0.03),
    ),
    passthrough(
        "isin",
        lambda x, t: tnp.isin(tnp.round(x), tnp.round(t)),
        lambda x, t: np.isin(np.round(x), np.round(t)),
        REAL,
        REAL,
        shapes=cases(((3, 4), (3,)), ((5,), (2, 2)), ((), (2,))),
    ),
    passthrough(
        "digitize",
        lambda x: tnp.digitize(x, np.array([-1.0, 0.0, 0.5])),
        lambda x: np.digitize(x, np.array([-1.0, 0.0, 0.5])),
    ),
    passthrough(
        "lexsort",
        lambda k: tnp.lexsort(tnp.round(k)),
        lambda k: np.lexsort(np.round(k)),
        shapes=cases(((3, 5),), ((2, 4, 3),), ((2, 1),)),
    ),
    passthrough(
        "unravel_index_of_argmax",
        lambda x: tnp.unravel_index(tnp.argmax(x), x.shape),
        lambda x: np.unravel_index(np.argmax(x), x.shape),
        DISTINCT,
        shapes=shapes(min_dims=1, min_side=1),
    ),
    passthrough(
        "ravel_multi_index",
        lambda i, j: tnp.ravel_multi_index((i, j), (3, 4)),
        lambda i, j: np.ravel_multi_index((i, j), (3, 4)),
        INDEX_0_3,
        INDEX_0_3,
        shapes=broadcastable(2),
    ),
    passthrough(
        "ravel_multi_index_wrap",
        lambda i, j: tnp.ravel_multi_index((i, j), (3, 4), mode="wrap", order="F"),
        lambda i, j: np.ravel_multi_index((i, j), (3, 4), mode="wrap", order="F"),
        EXPONENT,
        EXPONENT,
        shapes=broadcastable(2),
    ),
    passthrough("gcd", tnp.gcd, np.gcd, EXPONENT, EXPONENT, shapes=broadcastable(2)),
    passthrough("lcm", tnp.lcm, np.lcm, EXPONENT, EXPONENT, shapes=broadcastable(2)),
    passthrough(
        "left_shift", tnp.left_shift, np.left_shift, EXPONENT, SHIFT, shapes=broadcastable(2)
    ),
    passthrough(
        "right_shift", tnp.right_shift, np.right_shift, EXPONENT, SHIFT, shapes=broadcastable(2)
    ),
    passthrough(
        "matrix_rank",
        tnp.linalg.matrix_rank,
        np.linalg.matrix_rank,
        shapes=cases(((3, 3),), ((2, 4, 3),)),
    ),
    # Creation from a Tensor's values: a copy without gradient, taken when the op runs.
    passthrough(
        "full_like_tensor_fill",
        tnp.full_like,
        np.full_like,
        REAL,
        REAL,
        shapes=cases(((2, 3), ()), ((4,), ()), ((), ())),
        tensor_only=True,
    ),
    passthrough(
        "full_tensor_fill",
        lambda v: tnp.full((2, 3), v),
        lambda v: np.full((2, 3), v),
        shapes=cases(((),), ((3,),)),
        tensor_only=True,
    ),
    passthrough("array_of_tensor", tnp.array, np.array, tensor_only=True),
]

#: Every sample, by family.
SAMPLES: list[OpSample] = [
    *ELEMENTWISE,
    *REDUCTIONS,
    *SHAPE_OPS,
    *INDEXING,
    *PRODUCTS,
    *TENSOR_OPS,
    *PASSTHROUGH,
]
DIFFERENTIABLE = [s for s in SAMPLES if s.differentiable]


def _check_unique_names() -> None:
    names = [s.name for s in SAMPLES]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"op-sample names must be unique, repeated: {duplicates}")


_check_unique_names()


# -- recurrent ops (tapegrad.ops.nn.lstm: one primitive for the whole sequence) -----------
def _lstm_reference(
    x: np.ndarray,
    kernel: np.ndarray,
    recurrent: np.ndarray,
    bias: np.ndarray,
    h0: Any = None,
    c0: Any = None,
) -> tuple[Any, Any]:
    """Keras' LSTM step by step (gates i, f, c, o), every step's h and c."""
    units = recurrent.shape[0]
    zeros = np.zeros((x.shape[0], units), np.result_type(x, kernel))
    h, c = (zeros if h0 is None else h0), (zeros if c0 is None else c0)
    hs, cs = [], []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = (z[:, k * units : (k + 1) * units] for k in range(4))
        c = 1 / (1 + np.exp(-f)) * c + 1 / (1 + np.exp(-i)) * np.tanh(g)
        h = 1 / (1 + np.exp(-o)) * np.tanh(c)
        hs.append(h)
        cs.append(c)
    return np.stack(hs, axis=1), np.stack(cs, axis=1)


RECURRENT = [
    # The Dense layer's affine map, one primitive (also 1-D and (..., features) inputs).
    sample(
        "dense",
        lambda x, k, b: ops.nn.dense(x, k, b),
        lambda x, k, b: x @ k + b,
        REAL,
        REAL,
        REAL,
        shapes=cases(
            ((3, 2), (2, 4), (4,)),
            ((2, 3, 2), (2, 1), (1,)),
            ((2,), (2, 3), (3,)),
            ((0, 2), (2, 3), (3,)),
            ((3, 0), (0, 2), (2,)),
        ),
    ),
    sample(
        "lstm",
        lambda x, k, r, b: ops.nn.lstm(x, k, r, b),
        _lstm_reference,
        REAL,
        REAL,
        REAL,
        REAL,
        int_inputs=False,
        rtol=_LOOSE,
        shapes=cases(((2, 3, 2), (2, 8), (2, 8), (8,)), ((1, 1, 3), (3, 4), (1, 4), (4,))),
    ),
    sample(
        "lstm_initial_state",
        lambda x, k, r, b, h0, c0: ops.nn.lstm(x, k, r, b, [h0, c0]),
        _lstm_reference,
        REAL,
        REAL,
        REAL,
        REAL,
        REAL,
        REAL,
        int_inputs=False,
        rtol=_LOOSE,
        shapes=cases(((2, 2, 1), (1, 8), (2, 8), (8,), (2, 2), (2, 2))),
    ),
]
SAMPLES.extend(RECURRENT)
DIFFERENTIABLE.extend(s for s in RECURRENT if s.differentiable)


# -- collectives: on one process each is the identity on a copy --------------------------
def _mean_over_one(x: Any) -> np.ndarray:
    return np.array(x, dtype=np.float64 if np.asarray(x).dtype.kind in "biu" else None)


COLLECTIVES = [
    sample("all_sum", distribution.all_sum, np.copy),
    sample("all_mean", distribution.all_mean, _mean_over_one),
    sample("all_gather", distribution.all_gather, np.copy, shapes=AT_LEAST_1D),
    sample(
        "reduce_scatter",
        lambda x: distribution.reduce_scatter(x, rows=x.shape[0]),
        np.copy,
        shapes=AT_LEAST_1D,
    ),
    sample("broadcast", distribution.broadcast, np.copy),
    sample("broadcast_root", lambda x: distribution.broadcast(x, root=0), np.copy),
]
SAMPLES.extend(COLLECTIVES)
DIFFERENTIABLE.extend(COLLECTIVES)


# -- complex numbers: real arguments through complex intermediates -------------------------
def _cplx(xp: Any) -> Callable[..., Any]:
    def parts(x: Any, y: Any) -> Any:
        z = x + 1j * y
        return xp.real(z * z) - xp.imag(xp.conj(z) * (x + 2j)) + xp.angle(z)

    return parts


COMPLEX = [
    binary(
        "complex_abs",
        lambda x, y: tnp.abs(x + 1j * y),
        lambda x, y: np.abs(x + 1j * y),
        NONZERO,
        NONZERO,
        int_inputs=False,
    ),
    binary("complex_parts", _cplx(tnp), _cplx(np), NONZERO, NONZERO, int_inputs=False),
    binary(
        "complex_exp",
        lambda x, y: tnp.exp(x + 1j * y),
        lambda x, y: np.exp(x + 1j * y),
        int_inputs=False,
    ),
]
SAMPLES.extend(COMPLEX)
DIFFERENTIABLE.extend(COMPLEX)


def _fft_filter(xp: Any) -> Callable[..., Any]:
    def filtered(x: Any, y: Any) -> Any:
        spectrum = xp.fft.fft(x + 1j * y, norm="ortho")
        return xp.fft.irfft(xp.fft.rfft(x) * spectrum[..., :2], n=3)

    return filtered


FFT = [
    sample(
        "fft_filter",
        _fft_filter(tnp),
        _fft_filter(np),
        REAL,
        REAL,
        shapes=cases(((2, 3), (2, 3)), ((3,), (3,))),
        int_inputs=False,
        rtol=_LOOSE,
    ),
    sample(
        "fft_rfft2",
        tnp.fft.rfft2,
        np.fft.rfft2,
        shapes=cases(((2, 3),), ((1, 2, 2),)),
        int_inputs=False,
        rtol=_LOOSE,
    ),
]
SAMPLES.extend(FFT)
DIFFERENTIABLE.extend(FFT)


# -- pad's modes and einsum's diagonals and sublists (issue 16) ---------------------------
LINES = shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)  # pad modes read the axis


def _pad_sample(name: str, width: Any, mode: str, domain: Domain = REAL, **kw: Any) -> OpSample:
    return sample(
        f"pad_{name}",
        lambda x: tnp.pad(x, width, mode, **kw),
        lambda x: np.pad(x, width, mode, **kw),
        domain,
        shapes=LINES,
        rtol=_LOOSE,
    )


PAD_EINSUM = [
    _pad_sample("edge", (2, 1), "edge"),
    _pad_sample("reflect_wider_than_axis", 5, "reflect"),
    _pad_sample("reflect_odd", (3, 1), "reflect", reflect_type="odd"),
    _pad_sample("symmetric_wider_than_axis", (4, 7), "symmetric"),
    _pad_sample("symmetric_odd", 4, "symmetric", reflect_type="odd"),
    _pad_sample("wrap_wider_than_axis", (7, 2), "wrap"),
    _pad_sample("linear_ramp", (2, 3), "linear_ramp", end_values=(1.5, -2.0)),
    _pad_sample("mean", 2, "mean"),
    _pad_sample("mean_stat_length", (1, 3), "mean", stat_length=2),
    _pad_sample("maximum", 2, "maximum", DISTINCT),
    _pad_sample("minimum_stat_length", (2, 1), "minimum", DISTINCT, stat_length=(1, 2)),
    _pad_sample("median", (1, 2), "median", DISTINCT),
    sample(
        "pad_constant_per_axis",
        lambda x: tnp.pad(x, ((1, 2), (2, 0)), constant_values=((1.0, 2.0), (3.0, 4.0))),
        lambda x: np.pad(x, ((1, 2), (2, 0)), constant_values=((1.0, 2.0), (3.0, 4.0))),
        shapes=MATRICES,
    ),
    sample(
        "pad_linear_ramp_end_value_argument",
        lambda x, v: tnp.pad(x, (2, 1), "linear_ramp", end_values=v),
        lambda x, v: np.pad(x, (2, 1), "linear_ramp", end_values=v),
        REAL,
        REAL,
        shapes=cases(((3,), ()), ((2, 3), ())),
        rtol=_LOOSE,
        int_inputs=False,
    ),
    sample(
        "pad_constant_value_argument",
        lambda x, v: tnp.pad(x, 1, constant_values=v),
        lambda x, v: np.pad(x, 1, constant_values=v),
        REAL,
        REAL,
        shapes=cases(((3,), ()), ((2, 3), ())),
        int_inputs=False,
    ),
    sample(
        "einsum_diagonal",
        lambda a: tnp.einsum("ii->i", a),
        lambda a: np.einsum("ii->i", a),
        shapes=cases(((3, 3),), ((1, 1),), ((0, 0),)),
    ),
    sample(
        "einsum_trace",
        lambda a: tnp.einsum("ii", a),
        lambda a: np.einsum("ii", a),
        shapes=cases(((3, 3),), ((1, 1),)),
    ),
    sample(
        "einsum_diagonal_contracted",
        lambda a, b: tnp.einsum("iij,jk->ik", a, b),
        lambda a, b: np.einsum("iij,jk->ik", a, b),
        REAL,
        REAL,
        shapes=cases(((3, 3, 2), (2, 4)), ((2, 2, 1), (1, 3))),
        rtol=_LOOSE,
    ),
    sample(
        "einsum_batched_diagonal",
        lambda a: tnp.einsum("...ii->...i", a),
        lambda a: np.einsum("...ii->...i", a),
        shapes=cases(((2, 3, 3),), ((3, 3),)),
    ),
    sample(
        "einsum_sublists",
        lambda a, b: tnp.einsum(a, [0, 1], b, [1, 2], [0, 2]),
        lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2]),
        REAL,
        REAL,
        shapes=cases(((2, 3), (3, 4)), ((1, 3), (3, 1))),
        rtol=_LOOSE,
    ),
    sample(
        "einsum_sublists_implicit_ellipsis",
        lambda a, b: tnp.einsum(a, [Ellipsis, 0], b, [0]),
        lambda a, b: np.einsum(a, [Ellipsis, 0], b, [0]),
        REAL,
        REAL,
        shapes=cases(((2, 3), (3,)), ((2, 2, 3), (3,))),
        rtol=_LOOSE,
    ),
]
SAMPLES.extend(PAD_EINSUM)
DIFFERENTIABLE.extend(PAD_EINSUM)

# -- polynomials (issue 16; polydiv and roots trim by value: tests/numpy/test_polynomials) --
TWO_POLYS = cases(((3,), (2,)), ((1,), (4,)), ((2,), (2,)))
POLYNOMIALS = [
    sample("vander", lambda x: tnp.vander(x, 3), lambda x: np.vander(x, 3), shapes=ONE_D),
    sample(
        "vander_increasing",
        lambda x: tnp.vander(x, increasing=True),
        lambda x: np.vander(x, increasing=True),
        shapes=ONE_D,
        rtol=_LOOSE,
    ),
    sample(
        "polyval",
        tnp.polyval,
        np.polyval,
        REAL,
        REAL,
        shapes=cases(((3,), (4,)), ((1,), (2, 3)), ((4,), ())),
        rtol=_LOOSE,
    ),
    sample(
        "polyfit",
        lambda x, y: tnp.polyfit(x, y, 2),
        lambda x, y: np.polyfit(x, y, 2),
        DISTINCT,
        REAL,
        shapes=cases(((5,), (5,)), ((4,), (4, 2))),
        rtol={np.float32: 2e-3, np.float64: 1e-9},
        int_inputs=False,
    ),
    sample(
        "polyfit_weighted",
        lambda x, y, w: tnp.polyfit(x, y, 1, w=w),
        lambda x, y, w: np.polyfit(x, y, 1, w=w),
        DISTINCT,
        REAL,
        POSITIVE,
        shapes=cases(((4,), (4,), (4,))),
        rtol={np.float32: 2e-3, np.float64: 1e-9},
        int_inputs=False,
    ),
    sample("poly", tnp.poly, np.poly, shapes=cases(((3,),), ((1,),)), rtol=_LOOSE),
    sample("polyadd", tnp.polyadd, np.polyadd, REAL, REAL, shapes=TWO_POLYS),
    sample("polysub", tnp.polysub, np.polysub, REAL, REAL, shapes=TWO_POLYS),
    sample("polymul", tnp.polymul, np.polymul, REAL, REAL, shapes=TWO_POLYS, rtol=_LOOSE),
    sample(
        "polyder",
        lambda p: tnp.polyder(p, 2),
        lambda p: np.polyder(p, 2),
        shapes=cases(((4,),), ((2,),), ((1,),)),
    ),
    sample(
        "polyint",
        lambda p, k: tnp.polyint(p, 2, k=k),
        lambda p, k: np.polyint(p, 2, k=k),
        REAL,
        REAL,
        shapes=cases(((3,), (2,)), ((1,), (1,))),
        rtol=_LOOSE,
    ),
]
SAMPLES.extend(POLYNOMIALS)
DIFFERENTIABLE.extend(POLYNOMIALS)

# -- finite differences, unwrap, i0, apply_*, kaiser (issue 16; set ops and trim_zeros
# read values: tests/numpy/test_sets.py, test_numeric_extra.py) -------------------------
AT_LEAST_3 = shapes(min_dims=1, max_dims=3, min_side=3, max_side=4)
NUMERIC_EXTRA = [
    sample("gradient", tnp.gradient, np.gradient, shapes=AT_LEAST_3, rtol=_LOOSE),
    sample(
        "gradient_axis_edge_order_2",
        lambda f: tnp.gradient(f, 0.5, axis=-1, edge_order=2),
        lambda f: np.gradient(f, 0.5, axis=-1, edge_order=2),
        shapes=AT_LEAST_3,
        rtol=_LOOSE,
    ),
    sample(
        "gradient_coordinates",
        lambda f, x: tnp.gradient(f, tnp.cumsum(x), edge_order=2),
        lambda f, x: np.gradient(f, np.cumsum(x), edge_order=2),
        REAL,
        POSITIVE,
        shapes=cases(((4,), (4,)), ((3,), (3,))),
        rtol={np.float32: 1e-3, np.float64: 1e-9},
        int_inputs=False,
    ),
    sample(
        "gradient_coordinates_per_axis",
        lambda f, x: tnp.gradient(f, tnp.cumsum(x), 2.0),
        lambda f, x: np.gradient(f, np.cumsum(x), 2.0),
        REAL,
        POSITIVE,
        shapes=cases(((3, 4), (3,))),
        rtol={np.float32: 1e-3, np.float64: 1e-9},
        int_inputs=False,
    ),
    sample(
        "unwrap",
        lambda p: tnp.unwrap(p * 3.0),
        lambda p: np.unwrap(p * 3.0),
        Domain("phase", _away_from_zero(0.2, 1.8)),
        shapes=shapes(min_dims=1, min_side=1),
        rtol=_LOOSE,
    ),
    sample(
        "unwrap_period_axis0",
        lambda p: tnp.unwrap(p * 3.0, axis=0, period=4.0),
        lambda p: np.unwrap(p * 3.0, axis=0, period=4.0),
        Domain("phase", _away_from_zero(0.2, 1.8)),
        shapes=shapes(min_dims=1, min_side=1),
        rtol=_LOOSE,
    ),
    unary("i0", tnp.i0, np.i0, NONZERO, rtol=_LOOSE),
    unary("i0_large", lambda x: tnp.i0(x * 6.0), lambda x: np.i0(x * 6.0), NONZERO, rtol=_LOOSE),
    sample(
        "apply_along_axis",
        lambda x: tnp.apply_along_axis(lambda v: tnp.stack([v[0] * v[-1], tnp.sum(v)]), 1, x),
        lambda x: np.apply_along_axis(lambda v: np.stack([v[0] * v[-1], np.sum(v)]), 1, x),
        shapes=cases(((2, 3),), ((2, 2, 3),), ((1, 1),)),
        rtol=_LOOSE,
    ),
    sample(
        "apply_over_axes",
        lambda x: tnp.apply_over_axes(tnp.sum, x, [0, -1]),
        lambda x: np.apply_over_axes(np.sum, x, [0, -1]),
        shapes=AT_LEAST_2D,
    ),
    sample(
        "kaiser_beta",
        lambda b: tnp.kaiser(5, b),
        lambda b: np.kaiser(5, b),
        POSITIVE,
        shapes=cases(((),)),
        rtol=_LOOSE,
        int_inputs=False,
        tensor_only=True,
    ),
]
SAMPLES.extend(NUMERIC_EXTRA)
DIFFERENTIABLE.extend(NUMERIC_EXTRA)

# -- grids, index tricks and functional updates (issue 16) --------------------------------
ARANGE_START = Domain("arange_start", _uniform(0.1, 0.2))  # (3 - start) / step: 4.1 to 4.7
ARANGE_STEP = Domain("arange_step", _uniform(0.62, 0.68))
ENDPOINTS = cases(((), ()), ((3,), (3,)), ((2, 1), (3,)))
ALONG = np.array([[2], [0], [1]])


def _updated(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
    """NumPy's in-place ``func`` as a function returning the updated copy (the reference)."""

    def ref(a: np.ndarray, v: np.ndarray) -> np.ndarray:
        out = a.copy()
        func(out, *[v if x is None else x for x in args], **kwargs)
        return out

    return ref


GRIDS_AND_UPDATES = [
    sample(
        "linspace_endpoints",
        lambda a, b: tnp.linspace(a, b, 5),
        lambda a, b: np.linspace(a, b, 5),
        REAL,
        REAL,
        shapes=ENDPOINTS,
        rtol=_LOOSE,
        tensor_only=True,
        int_inputs=False,
    ),
    sample(
        "linspace_no_endpoint_last_axis",
        lambda a, b: tnp.linspace(a, b, 4, endpoint=False, axis=-1),
        lambda a, b: np.linspace(a, b, 4, endpoint=False, axis=-1),
        REAL,
        REAL,
        shapes=ENDPOINTS,
        rtol=_LOOSE,
        tensor_only=True,
        int_inputs=False,
    ),
    sample(
        "linspace_retstep",
        lambda a, b: tnp.linspace(a, b, 4, retstep=True)[1],
        lambda a, b: np.linspace(a, b, 4, retstep=True)[1],
        REAL,
        REAL,
        shapes=cases(((), ()), ((2,), (2,))),
        rtol=_LOOSE,
        tensor_only=True,
        int_inputs=False,
    ),
    sample(
        "logspace_endpoints",
        lambda a, b: tnp.logspace(a, b, 4, base=2.0),
        lambda a, b: np.logspace(a, b, 4, base=2.0),
        REAL,
        REAL,
        shapes=ENDPOINTS,
        rtol=_LOOSE,
        tensor_only=True,
        int_inputs=False,
    ),
    sample(
        "logspace_base",
        lambda a, b, c: tnp.logspace(a, b, 3, base=c),
        lambda a, b, c: np.logspace(a, b, 3, base=c),
        REAL,
        REAL,
        POSITIVE,
        shapes=cases(((), (), (2,)), ((2,), (2,), (2,))),
        rtol=_LOOSE,
        tensor_only=True,
        int_inputs=False,
    ),
    sample(
        "geomspace_endpoints",
        lambda a, b: tnp.geomspace(a, b, 4, axis=-1),
        lambda a, b: np.geomspace(a, b, 4, axis=-1),
        POSITIVE,
        POSITIVE,
        shapes=ENDPOINTS,
        rtol=_LOOSE,
        tensor_only=True,
        int_inputs=False,
    ),
    sample(
        "geomspace_negative",
        lambda a, b: tnp.geomspace(-a, -b, 3, endpoint=False),
        lambda a, b: np.geomspace(-a, -b, 3, endpoint=False),
        POSITIVE,
        POSITIVE,
        shapes=cases(((), ()), ((2,), (2,))),
        rtol=_LOOSE,
        tensor_only=True,
        int_inputs=False,
    ),
    sample(
        "arange_start_and_step",
        lambda s, d: tnp.arange(s, 3.0, d),
        lambda s, d: np.arange(s, 3.0, d),
        ARANGE_START,
        ARANGE_STEP,
        shapes=cases(((), ())),
        rtol=_LOOSE,
        tensor_only=True,
        int_inputs=False,
    ),
    sample(
        "meshgrid",
        lambda x, y: tnp.stack(tnp.meshgrid(x, y)),
        lambda x, y: np.stack(np.meshgrid(x, y)),
        REAL,
        REAL,
        shapes=cases(((3,), (2,)), ((1,), (4,)), ((0,), (2,))),
        tensor_only=True,
    ),
    sample(
        "meshgrid_ij_sparse",
        lambda x, y: operator.mul(*tnp.meshgrid(x, y, indexing="ij", sparse=True)),
        lambda x, y: operator.mul(*np.meshgrid(x, y, indexing="ij", sparse=True)),
        REAL,
        REAL,
        shapes=cases(((3,), (2,)), ((1,), (4,))),
        tensor_only=True,
    ),
    sample(
        "r_",
        lambda x, y: tnp.r_[x, 0.5, y],
        lambda x, y: np.r_[x, 0.5, y],
        REAL,
        REAL,
        shapes=cases(((3,), (2,)), ((0,), (1,)), ((1,), (4,))),
        int_inputs=False,
    ),
    sample(
        "r_directive",
        lambda x, y: tnp.r_["0,2,0", x, y],
        lambda x, y: np.r_["0,2,0", x, y],
        REAL,
        REAL,
        shapes=cases(((3,), (3,)), ((2,), (4,))),
    ),
    sample(
        "c_",
        lambda x, y: tnp.c_[x, y],
        lambda x, y: np.c_[x, y],
        REAL,
        REAL,
        shapes=cases(((3,), (3,)), ((2, 2), (2, 1))),
    ),
    sample(
        "mgrid_bounds",
        lambda a, b: tnp.mgrid[a:b:4j, 0:2],
        lambda a, b: np.mgrid[a:b:4j, 0:2],
        REAL,
        REAL,
        shapes=cases(((), ())),
        rtol=_LOOSE,
        int_inputs=False,
    ),
    sample(
        "fill_diagonal",
        lambda a, v: tnp.fill_diagonal(a, v, inplace=False),
        _updated(np.fill_diagonal, None),
        REAL,
        REAL,
        shapes=cases(((3, 3), ()), ((4, 2), (2,)), ((2, 2, 2), (1,))),
    ),
    sample(
        "fill_diagonal_wrap",
        lambda a, v: tnp.fill_diagonal(a, v, wrap=True, inplace=False),
        _updated(np.fill_diagonal, None, wrap=True),
        REAL,
        REAL,
        shapes=cases(((5, 2), (3,)), ((7, 3), ())),
    ),
    sample(
        "put",
        lambda a, v: tnp.put(a, [0, -1, 2, 2], v, inplace=False),
        _updated(np.put, [0, -1, 2, 2], None),
        REAL,
        REAL,
        shapes=cases(((2, 3), (4,)), ((4,), (1,)), ((3,), ())),
    ),
    sample(
        "put_along_axis",
        lambda a, v: tnp.put_along_axis(a, ALONG, v, 1, inplace=False),
        _updated(np.put_along_axis, ALONG, None, 1),
        REAL,
        REAL,
        shapes=cases(((3, 3), (3, 1)), ((3, 4), ())),
    ),
    sample(
        "putmask",
        # (values cast to a's dtype: NumPy casts them only by the 'safe' rule)
        lambda a, v: tnp.putmask(a, a > 0, tnp.astype(v, a.dtype), inplace=False),
        lambda a, v: _updated(np.putmask, a > 0, None)(a, v.astype(a.dtype)),
        NONZERO,
        REAL,
        shapes=cases(((2, 3), (2,)), ((4,), (4,)), ((3,), ())),
    ),
    sample(
        "place",
        # (values cast to a's dtype: NumPy casts them only by the 'safe' rule)
        lambda a, v: tnp.place(a, a > 0, tnp.astype(v, a.dtype), inplace=False),
        lambda a, v: _updated(np.place, a > 0, None)(a, v.astype(a.dtype)),
        NONZERO,
        REAL,
        shapes=cases(((2, 3), (2,)), ((4,), (3,))),
    ),
    sample(
        "copyto_where",
        lambda a, v: tnp.copyto(a, v, where=a > 0, inplace=False),
        lambda a, v: _updated(np.copyto, None, where=a > 0)(a, v),
        NONZERO,
        REAL,
        shapes=cases(((2, 3), (3,)), ((4,), ()), ((2, 2), (2, 1))),
    ),
    unary("asanyarray", tnp.asanyarray, np.asanyarray, tensor_only=True),
    sample(
        "ascontiguousarray",
        tnp.ascontiguousarray,
        np.ascontiguousarray,
        shapes=cases(((),), ((2, 3),)),
        tensor_only=True,
    ),
    unary(
        "require_float64",
        lambda x: tnp.require(x, np.float64, "C"),
        lambda x: np.require(x, np.float64, "C"),
        tensor_only=True,
    ),
]
SAMPLES.extend(GRIDS_AND_UPDATES)
DIFFERENTIABLE.extend(GRIDS_AND_UPDATES)
_check_unique_names()

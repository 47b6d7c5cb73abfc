"""check_grads: compare analytic derivatives with finite differences (any order, both modes).

Forward mode: the JVP in a random direction against a central difference.
Reverse mode: the VJP of a random cotangent against the JVP (``<u, J v> == <J^T u, v>``),
which ties both modes to the finite difference. Higher orders apply the same checks to
the JVP and VJP functions themselves.

Complex arguments get complex directions (so the difference moves both the real and the
imaginary parts) and the pairing of cotangents with tangents is JAX's, ``Re(sum(u * v))``
(no conjugate).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tapegrad.core.tensor import Tensor
from tapegrad.core.transforms import jvp, vjp
from tapegrad.core.tree import tree_flatten, tree_unflatten

_DEFAULTS = {  # dtype -> (eps, atol, rtol)
    np.dtype(np.float64): (1e-6, 1e-5, 1e-5),
    np.dtype(np.float32): (2e-3, 5e-2, 5e-2),
}
_REAL = {
    np.dtype(np.complex64): np.dtype(np.float32),
    np.dtype(np.complex128): np.dtype(np.float64),
}


def _array(x: Any) -> np.ndarray:
    return np.asarray(x._value if isinstance(x, Tensor) else x)


def _is_float(x: Any) -> bool:
    return _array(x).dtype.kind in "fc"


def _flat_out(out: Any) -> np.ndarray:
    """All output leaves in one vector (complex128 where any leaf is complex)."""
    leaves = [leaf for leaf in tree_flatten(out)[0] if leaf is not None]
    if not leaves:
        return np.zeros(0)
    arrays = [_array(o) for o in leaves]
    dtype = np.complex128 if any(a.dtype.kind == "c" for a in arrays) else np.float64
    return np.concatenate([a.astype(dtype).ravel() for a in arrays])


def _real_view(x: np.ndarray) -> np.ndarray:
    # A complex vector compares as its real parts followed by its imaginary parts.
    return np.concatenate([x.real, x.imag]) if np.iscomplexobj(x) else x


def _pairing(cotangent: Any, tangent: Any) -> float:
    """JAX's pairing of a cotangent with a tangent: ``Re(sum(u * v))``."""
    product = np.asarray(cotangent).astype(np.complex128) * np.asarray(tangent)
    return float(np.sum(product).real)


def _random_like(x: Any, rng: np.random.Generator) -> np.ndarray | None:
    if x is None:
        # A None output (the gradient of a non-float argument) gets no cotangent.
        return None
    arr = _array(x)
    if arr.dtype.kind == "c":
        parts = rng.standard_normal((2, *arr.shape))
        return (parts[0] + 1j * parts[1]).astype(arr.dtype)
    return rng.standard_normal(arr.shape).astype(arr.dtype)


def check_grads(
    f: Callable[..., Any],
    args: Sequence[Any],
    order: int = 2,
    modes: Sequence[str] = ("fwd", "rev"),
    eps: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    seed: int = 0,
) -> None:
    """Check ``f``'s derivatives up to ``order`` against finite differences.

    Args:
        f: Function of the positional ``args`` (arrays, Tensors or nested structures).
        args: Arguments at which to check. Only float leaves are perturbed.
        order: Highest derivative order checked.
        modes: ``"fwd"`` (JVP) and/or ``"rev"`` (VJP).
        eps: Finite-difference step (default by dtype: 1e-6 float64, 2e-3 float32).
        atol: Absolute tolerance (default by dtype).
        rtol: Relative tolerance (default by dtype).
        seed: Seed for the random directions.

    Raises:
        AssertionError: With the worst mismatch, the mode and the order.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> tg.check_grads(tnp.sin, (np.array([0.3, 1.2]),), order=2)
    """
    rng = np.random.default_rng(seed)
    args = tuple(args)
    leaves = tree_flatten(args)[0]
    dtypes = [_REAL.get(_array(leaf).dtype, _array(leaf).dtype) for leaf in leaves]
    dtype = np.dtype(np.float32) if np.dtype(np.float32) in dtypes else np.dtype(np.float64)
    d_eps, d_atol, d_rtol = _DEFAULTS[dtype]
    tolerances = (eps or d_eps, atol or d_atol, rtol or d_rtol)
    _check(f, args, order, tuple(modes), tolerances, rng)


def _directions(args: tuple[Any, ...], rng: np.random.Generator) -> tuple[Any, ...]:
    leaves, treedef = tree_flatten(args)
    tangents = [
        _random_like(leaf, rng) if _is_float(leaf) else np.zeros(np.shape(_array(leaf)))
        for leaf in leaves
    ]
    return tuple(tree_unflatten(treedef, tangents))


def _shift(args: tuple[Any, ...], tangents: tuple[Any, ...], step: float) -> tuple[Any, ...]:
    leaves, treedef = tree_flatten(args)
    t_leaves = tree_flatten(tangents)[0]
    moved = [
        (_array(a) + step * t).astype(_array(a).dtype) if _is_float(a) else a
        for a, t in zip(leaves, t_leaves, strict=True)
    ]
    return tuple(tree_unflatten(treedef, moved))


def _compare(
    name: str, analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float
) -> None:
    analytic = np.asarray(_real_view(np.asarray(analytic)), np.float64)
    numeric = np.asarray(_real_view(np.asarray(numeric)), np.float64)
    if analytic.shape != numeric.shape:
        raise AssertionError(f"{name}: shape {analytic.shape} != expected {numeric.shape}")
    if analytic.size == 0:
        return
    error = np.abs(analytic - numeric)
    bound = atol + rtol * np.abs(numeric)
    if np.all(np.isfinite(analytic)) and np.all(error <= bound):
        return
    worst = int(np.argmax(np.where(np.isfinite(error), error - bound, np.inf)))
    raise AssertionError(
        f"{name}: worst mismatch at flat index {worst}: analytic {analytic.flat[worst]!r} vs "
        f"numeric {numeric.flat[worst]!r} (abs error {error.flat[worst]:.3g}, "
        f"atol {atol}, rtol {rtol})"
    )


def _check(
    f: Callable[..., Any],
    args: tuple[Any, ...],
    order: int,
    modes: tuple[str, ...],
    tolerances: tuple[float, float, float],
    rng: np.random.Generator,
) -> None:
    eps, atol, rtol = tolerances
    tangents = _directions(args, rng)
    plus = _flat_out(f(*_shift(args, tangents, eps)))
    minus = _flat_out(f(*_shift(args, tangents, -eps)))
    numeric = (plus - minus) / (2 * eps)
    level = f"order {order}"
    # The JVP is the reference for the VJP check even when only "rev" is asked for.
    _, analytic_t = jvp(f, args, tangents)
    if "fwd" in modes:
        _compare(f"JVP ({level})", _flat_out(analytic_t), numeric, atol, rtol)
    if "rev" in modes:
        out, vjp_fn = vjp(f, *args)
        out_leaves, out_tree = tree_flatten(out)
        cotangent = tree_unflatten(out_tree, [_random_like(o, rng) for o in out_leaves])
        cotangent_args = vjp_fn(cotangent)
        lhs = _pairing(_flat_out(cotangent), numeric)
        rhs = sum(
            _pairing(_array(c), t)
            for c, t in zip(tree_flatten(cotangent_args)[0], tree_flatten(tangents)[0], strict=True)
            if c is not None
        )
        scale = max(1.0, abs(lhs))
        _compare(f"VJP ({level})", np.array([rhs / scale]), np.array([lhs / scale]), atol, rtol)
    if order > 1:
        if "fwd" in modes:

            def jvp_of_f(*a: Any) -> Any:
                return jvp(f, a, tangents)[1]

            _check(jvp_of_f, args, order - 1, ("fwd",), tolerances, rng)
        if "rev" in modes:
            fixed_ct = tree_unflatten(
                tree_flatten(f(*args))[1],
                [_random_like(o, rng) for o in tree_flatten(f(*args))[0]],
            )

            def vjp_of_f(*a_and_ct: Any) -> Any:
                *a, ct = a_and_ct
                return vjp(f, *a)[1](ct)

            # The cotangent is an argument too, and both modes run: this reaches the VJP
            # and JVP rules of the backward primitives with respect to the cotangent
            # (forward-over-reverse), which a fixed cotangent would never exercise.
            _check(vjp_of_f, (*args, fixed_ct), order - 1, ("fwd", "rev"), tolerances, rng)

"""JAX implementations, eager (op by op) and jit-compiled (variant ``"jit"``).

Every callable blocks on its result, so asynchronous dispatch does not hide any work.
Arrays are arguments, not closure constants, so ``jit`` does not bake ``A`` into the program.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np

from benchmarks.harness import W1_ITERS, Builder

# Python scalars are weakly typed in JAX: float32 stays float32.
_SCALE = 1.01
_SHIFT = 0.1


def _w1_f(x: jax.Array) -> jax.Array:
    for _ in range(W1_ITERS):
        x = jnp.tanh(x * _SCALE + _SHIFT)
    return jnp.sum(x)


def _w6_f(w: jax.Array, a: jax.Array) -> jax.Array:
    return jnp.sum(jnp.tanh(a @ w))


def _w6_revrev(w: jax.Array, a: jax.Array, v: jax.Array) -> jax.Array:
    grad_f = jax.grad(_w6_f)
    return jax.grad(lambda w_: jnp.vdot(grad_f(w_, a), v))(w)


def _w6_fwdrev(w: jax.Array, a: jax.Array, v: jax.Array) -> jax.Array:
    grad_f = jax.grad(_w6_f)
    return jax.jvp(lambda w_: grad_f(w_, a), (w,), (v,))[1]


def _builder(fn: Callable[..., jax.Array], names: tuple[str, ...], jit: bool) -> Builder:
    """Make a builder that calls ``fn`` (jitted if asked) on the named data arrays."""
    compiled = jax.jit(fn) if jit else fn

    def build(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
        args = tuple(jnp.asarray(data[name]) for name in names)
        return lambda: compiled(*args).block_until_ready()

    return build


def builders(variant: str | None = None) -> dict[str, Builder]:
    """Return the workload builders for ``variant`` ``"eager"`` (default) or ``"jit"``."""
    if variant not in (None, "eager", "jit"):
        raise ValueError(f"impl_jax: unknown variant {variant!r}; use 'eager' or 'jit'")
    jit = variant == "jit"
    return {
        "W1": _builder(jax.grad(_w1_f), ("x",), jit),
        "W1-fwd": _builder(_w1_f, ("x",), jit),
        "W6-revrev": _builder(_w6_revrev, ("w", "A", "v"), jit),
        "W6-fwdrev": _builder(_w6_fwdrev, ("w", "A", "v"), jit),
    }


def to_numpy(result: Any) -> np.ndarray:
    """Return a JAX array's values as a NumPy array."""
    return np.asarray(result)


def info() -> dict[str, Any]:
    """Return JAX's version, its devices and the XLA flags it was started with."""
    return {
        "version": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "devices": [str(d) for d in jax.devices()],
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        # XLA's CPU pool is its own (Eigen), invisible to threadpoolctl.
        "xla_pool": (
            "single-threaded by XLA_FLAGS"
            if "--xla_cpu_multi_thread_eigen=false" in os.environ.get("XLA_FLAGS", "")
            else "XLA's default pool (one thread per core)"
        ),
        "x64": bool(jax.config.jax_enable_x64),
    }

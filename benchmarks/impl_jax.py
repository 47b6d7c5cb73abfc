"""JAX implementations, eager (op by op) and jit-compiled (variant ``"jit"``).

Every callable blocks on its result, so asynchronous dispatch does not hide any work.
Arrays are arguments, not closure constants, so ``jit`` does not bake ``A`` into the program.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np

from benchmarks.harness import MLP_LEARNING_RATE, MLP_PARAM_NAMES, W1_ITERS, Builder

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


def _mlp_loss(params: list[jax.Array], x: jax.Array, y: jax.Array) -> jax.Array:
    w1, b1, w2, b2, w3, b3 = params
    h = jax.nn.relu(x @ w1 + b1)
    h = jax.nn.relu(h @ w2 + b2)
    log_probs = jax.nn.log_softmax(h @ w3 + b3)
    return -jnp.mean(jnp.take_along_axis(log_probs, y[:, None], axis=1))


def _mlp_step(
    params: list[jax.Array], x: jax.Array, y: jax.Array
) -> tuple[jax.Array, list[jax.Array]]:
    loss, grads = jax.value_and_grad(_mlp_loss)(params, x, y)
    return loss, [p - MLP_LEARNING_RATE * g for p, g in zip(params, grads, strict=True)]


def _mlp_builder(jit: bool) -> Builder:
    """Make the W2/W3 builder: the step op by op, or as one jitted program."""
    step_fn = jax.jit(_mlp_step) if jit else _mlp_step

    def build(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
        state = [[jnp.asarray(data[name]) for name in MLP_PARAM_NAMES]]
        batches = itertools.cycle(
            [
                (jnp.asarray(x), jnp.asarray(y, dtype=jnp.int32))
                for x, y in zip(data["x"], data["y"], strict=True)
            ]
        )

        def step() -> jax.Array:
            x, y = next(batches)
            loss, state[0] = step_fn(state[0], x, y)
            # Block on the new parameters too: the update is part of the step.
            return jax.block_until_ready((loss, state[0]))[0]

        return step

    return build


def _g0(a: jax.Array, b: jax.Array) -> jax.Array:
    return a @ b


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
        "W2": _mlp_builder(jit),
        "W3": _mlp_builder(jit),
        "G0": _builder(_g0, ("a", "b"), jit),
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

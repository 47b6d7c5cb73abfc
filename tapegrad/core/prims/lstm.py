"""The LSTM over a whole sequence as one primitive: math only.

One primitive for the whole recurrence instead of ~15 ops per step: the forward loop is two
GEMMs and one cell update per step; the backward pass (BPTT, the `lstm_grad` primitive)
fills the gate cotangents of every step, and the weight gradient is one GEMM per chunk of
steps. Arrays inside the loops are feature-major, ``(features, batch)`` per step: OpenBLAS
runs the per-step products ``(4H, H) @ (H, B)`` and ``(H, 4H) @ (4H, B)`` faster than their
batch-major transposes.

``lstm(x, weights, state0) -> (hs, cs, residual)``:

* ``x (B, T, I)``; ``weights (I + H + 1, 4H)`` = ``[W_x; W_h; b]``, the four gate blocks of
  ``H`` columns in the canonical order `GATES` (input, forget, cell candidate, output);
  ``state0 (B, 2H)`` = ``[h0, c0]``.
* ``hs, cs (B, T, H)``: ``h_t`` and ``c_t`` after every step.
* ``residual (T, 5H, B)``: an *auxiliary* output, what the backward pass reads instead of
  recomputing the forward pass: the activated gates (canonical order) and ``tanh(c_t)`` of
  every step. It is not differentiable: the VJP ignores its cotangent, and `tapegrad.ops.lstm`
  never returns it. Rules running on Tensors recompute the gates (differentiably) instead.

`lstm` declares ``symbolic_zeros``: the backward walk hands its rules None for the cotangent
of an output nothing used (the residual always, ``cs`` in training), and on arrays
`lstm_grad` takes None for ``g_hs`` or ``g_cs`` as zeros it never reads.

The equations are written once (`tapegrad.core.prims.lstm_cell`, re-exported here), in
`cell` (forward), `cell_vjp`, `cell_jvp` and `cell_vjp_vjp` (the reverse of `cell_vjp`, for
`lstm_grad`'s own VJP), with primitives and operators, so the same lines run on arrays (the
NumPy steps below) and on Tensors (derivatives of any order). Faster engines register step
loops of their own for `lstm`, `lstm_grad` and `lstm_grads` in `tapegrad.kernels`
(`numba_lstm`), on top of `lstm_sequence` and `lstm_sequence_grads` with their step
functions.

`lstm` also declares a joint VJP (``vjp_joint``): where a first-order walk needs the
cotangents of several of its arguments (a stacked LSTM: its data's and its weights'), one
BPTT (`lstm_grads`) gives them all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad.core.primitive import Primitive
from tapegrad.core.prims.elementwise import tanh_p
from tapegrad.core.prims.lstm_cell import (
    GATES,
    cell,
    cell_jvp,
    cell_vjp,
    cell_vjp_vjp,
    gate_block,
)
from tapegrad.core.prims.products import matmul_p
from tapegrad.core.prims.reduction import sum_p
from tapegrad.core.prims.shape import concatenate_p, reshape_p, stack_parts, transpose_p
from tapegrad.core.tensor import Tensor, dtype_of, shape_of


# -- the loops on arrays ---------------------------------------------------------------------
def _lstm_sizes(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], s_shape: tuple[int, ...]
) -> tuple[int, int, int, int]:
    """``(batch, steps, features, units)``, or an error naming the shapes."""
    if len(x_shape) == 3 and len(w_shape) == 2 and w_shape[1] % 4 == 0:
        batch, steps, features = x_shape
        units = w_shape[1] // 4
        if w_shape[0] == features + units + 1 and tuple(s_shape) == (batch, 2 * units):
            return batch, steps, features, units
    raise ValueError(
        f"lstm: inputs {tuple(x_shape)} must be (batch, time, features), weights "
        f"{tuple(w_shape)} (features + units + 1, 4 * units) and state0 {tuple(s_shape)} "
        "(batch, 2 * units)"
    )


def forward_step(
    a: np.ndarray,
    recurrent: np.ndarray,
    c_prev: np.ndarray,
    c: np.ndarray,
    tanh_c: np.ndarray,
    h: np.ndarray,
) -> None:
    """One step on feature-major arrays: ``a (4H, B)`` holds the input projection; adds
    ``recurrent``, then overwrites ``a`` with the gates and writes ``c``, ``tanh(c)`` and
    ``h`` (the signature of the engines' step kernels)."""
    units = c.shape[0]
    gates, c[...], tanh_c[...], h[...] = cell(a + recurrent, c_prev, axis=0)
    for k, gate in enumerate(gates):
        a[k * units : (k + 1) * units] = gate


def backward_step(
    a: np.ndarray,
    tanh_c: np.ndarray,
    c_prev: np.ndarray,
    g_h: np.ndarray,
    dh: np.ndarray,
    dc: np.ndarray,
    d: np.ndarray,
) -> None:
    """One step of BPTT on feature-major arrays: from the gates ``a (4H, B)``, ``tanh(c)``
    and ``c_prev``, with ``dh + g_h`` (the later steps' share and the output's) and ``dc``
    the cotangents of this step's ``h`` and ``c``, write the pre-activation cotangents into
    ``d (4H, B)`` and ``c_prev``'s into ``dc``."""
    units = dh.shape[0]
    gates = tuple(a[k * units : (k + 1) * units] for k in range(4))
    dz, dc[...] = cell_vjp(gates, tanh_c, c_prev, dh + g_h, dc)
    for k, part in enumerate(dz):
        d[k * units : (k + 1) * units] = part


Step = Callable[..., None]
#: ``plan(a, out)``: a function of ``b`` that writes ``a @ b`` into ``out`` (the loops'
#: products by one fixed matrix into one fixed buffer, every step).
Product = Callable[[np.ndarray, np.ndarray], Callable[[np.ndarray], Any]]


def matmul_into(a: np.ndarray, out: np.ndarray) -> Callable[[np.ndarray], Any]:
    """The plain `Product`: ``b -> np.matmul(a, b, out=out)``.

    Examples:
        >>> import numpy as np
        >>> out = np.empty((2, 1))
        >>> _ = matmul_into(np.eye(2), out)(np.ones((2, 1)))
        >>> out.ravel()
        array([1., 1.])
    """
    return functools.partial(np.matmul, a, out=out)


def forward_steps(
    block: np.ndarray,
    w_rec: np.ndarray,
    recurrent: np.ndarray,
    step: Step = forward_step,
    product: Product = matmul_into,
) -> None:
    """The recurrence on arrays: ``block (steps + 1, 7H, B)`` holds per row ``t`` the state
    ``h_t, c_t`` (rows ``:H``, ``H:2H``; row 0 the initial state) and, from row 1, the step's
    input projection (``2H:6H``, overwritten by its gates) and ``tanh(c_t)`` (``6H:``);
    ``w_rec (4H, H)``; ``recurrent (4H, B)`` a buffer. Each step's product by ``product``,
    its cell update by ``step`` (`forward_step`'s signature; engines supply a compiled loop
    with the arguments ``block, w_rec, recurrent``)."""
    u = w_rec.shape[1]
    times_w_rec = product(w_rec, recurrent)
    for t in range(block.shape[0] - 1):
        times_w_rec(block[t, :u])
        now = block[t + 1]
        step(
            now[2 * u : 6 * u],
            recurrent,
            block[t, u : 2 * u],
            now[u : 2 * u],
            now[6 * u :],
            now[:u],
        )


def lstm_sequence(
    x: Any,
    weights: Any,
    state0: Any,
    run_steps: Callable[[np.ndarray, np.ndarray, np.ndarray], Any] = forward_steps,
) -> tuple[np.ndarray, ...]:
    """`lstm` on arrays, the recurrence run by ``run_steps`` (`forward_steps`'s
    arguments): ``(hs, cs, residual)``."""
    x, weights, state0 = np.asarray(x), np.asarray(weights), np.asarray(state0)
    batch, steps, features, u = _lstm_sizes(x.shape, weights.shape, state0.shape)
    dtype = np.result_type(x.dtype, weights.dtype, state0.dtype, np.float16)
    w_in = np.ascontiguousarray(np.concatenate([weights[:features], weights[-1:]]).T)
    w_rec = np.ascontiguousarray(weights[features : features + u].T)  # (4H, H)
    inputs = np.empty((steps, features + 1, batch), dtype)  # [x_t; 1] per step
    inputs[:, :features] = x.transpose(1, 2, 0)
    inputs[:, features] = 1
    # One block for every step's h, c, gates and tanh(c), each step's rows contiguous.
    block = np.empty((steps + 1, 7 * u, batch), dtype)
    hs, cs, residual = block[:, :u], block[:, u : 2 * u], block[1:, 2 * u :]
    hs[0] = state0[:, :u].T
    cs[0] = state0[:, u:].T
    # The input projections of all steps, each straight into its step's buffer: a batch of
    # (4H, I + 1) @ (I + 1, B) products beats one big product plus strided adds.
    np.matmul(w_in, inputs, out=residual[:, : 4 * u])
    run_steps(block, w_rec, np.empty((4 * u, batch), dtype))
    return hs[1:].transpose(2, 0, 1), cs[1:].transpose(2, 0, 1), residual


_LSTM_CHUNK = 8  # steps per weight-gradient GEMM: the chunk's cotangents are still in cache


def _bptt(
    g_hs: np.ndarray | None,
    g_cs: np.ndarray | None,
    cs: np.ndarray,
    residual: np.ndarray,
    weights: np.ndarray,
    state0: np.ndarray,
    need_dh0: bool,
    on_chunk: Callable[[int, np.ndarray], None] | None,
    step: Step,
    product: Product,
) -> tuple[Any, Any]:
    """BPTT on arrays. Every `_LSTM_CHUNK` steps (from the last), ``on_chunk(t0, dz)`` gets
    the cotangents of those steps' pre-activations ``dz (4H, k * B)`` (steps ``t0`` to
    ``t0 + k - 1``, each ``B`` columns); returns the cotangents of ``h0`` (if ``need_dh0``)
    and ``c0``, both ``(H, B)``. A None cotangent is zeros."""
    steps, five_u, batch = residual.shape
    u = five_u // 5
    given = [g for g in (g_hs, g_cs) if g is not None]
    dtype = np.result_type(residual.dtype, weights.dtype, *(g.dtype for g in given))
    g_h = None if g_hs is None else g_hs.transpose(1, 2, 0)
    zero_h = np.zeros((u, batch), dtype) if g_h is None else None  # (every step's, then)
    # Only h is used in training: c's cotangent is zero, and reading it once is cheaper.
    g_c = g_cs.transpose(1, 2, 0) if g_cs is not None and g_cs.any() else None
    c_t = cs.transpose(1, 2, 0)
    recurrent = weights[-u - 1 : -1]  # (H, 4H): dh_{t-1} = recurrent @ dz_t
    # One chunk of steps' cotangents, laid out for the GEMMs of on_chunk: each step writes
    # its own columns, which its recurrent GEMM then reads.
    chunk = np.empty((4 * u, min(steps, _LSTM_CHUNK), batch), dtype)
    dh, dc = np.zeros((u, batch), dtype), np.zeros((u, batch), dtype)
    times_recurrent = product(recurrent, dh)
    for t in range(steps - 1, -1, -1):
        c_prev = c_t[t - 1] if t else state0[:, u:].T
        if g_c is not None:
            dc += g_c[t]
        start = t - t % _LSTM_CHUNK
        d = chunk[:, t - start]
        g_h_t = zero_h if g_h is None else g_h[t]
        step(residual[t, : 4 * u], residual[t, 4 * u :], c_prev, g_h_t, dh, dc, d)
        if t or need_dh0:
            times_recurrent(d)
        if on_chunk is not None:
            if t == start:
                k = min(_LSTM_CHUNK, steps - start)
                on_chunk(start, chunk[:, :k].reshape(4 * u, k * batch))
    return dh if need_dh0 else None, dc


def lstm_sequence_grad(
    g_hs: Any,
    g_cs: Any,
    x: Any,
    weights: Any,
    state0: Any,
    hs: Any,
    cs: Any,
    residual: Any,
    argnum: int,
    step: Step = backward_step,
    product: Product = matmul_into,
) -> np.ndarray:
    """`lstm_grad` on arrays, each step's BPTT done by ``step`` (`backward_step`'s
    signature) and its recurrent product by ``product``: the cotangent of `lstm`'s
    argument ``argnum``. ``g_hs`` or ``g_cs`` may be None (zeros, never read)."""
    args = (g_hs, g_cs, x, weights, state0, hs, cs, residual)
    return lstm_sequence_grads(*args, argnums=(argnum,), step=step, product=product)[0]


def lstm_sequence_grads(
    g_hs: Any,
    g_cs: Any,
    x: Any,
    weights: Any,
    state0: Any,
    hs: Any,
    cs: Any,
    residual: Any,
    argnums: tuple[int, ...],
    step: Step = backward_step,
    product: Product = matmul_into,
) -> tuple[np.ndarray, ...]:
    """`lstm_sequence_grad` for several of `lstm`'s arguments from one BPTT (a stacked
    LSTM needs its data's and its weights'): their cotangents, in the order of
    ``argnums``."""
    x, weights, state0 = np.asarray(x), np.asarray(weights), np.asarray(state0)
    hs, cs, residual = np.asarray(hs), np.asarray(cs), np.asarray(residual)
    g_hs = None if g_hs is None else np.asarray(g_hs)
    g_cs = None if g_cs is None else np.asarray(g_cs)
    dtype = np.result_type(hs.dtype, cs.dtype)
    batch, steps, features = x.shape
    u = hs.shape[-1]
    on_chunks: list[Callable[[int, np.ndarray], None]] = []
    if 0 in argnums:
        dx = np.empty((features, steps, batch), dtype)
        kernel = weights[:features]

        def input_grad(start: int, dz: np.ndarray) -> None:
            k = dz.shape[1] // batch
            dx[:, start : start + k] = (kernel @ dz).reshape(features, k, batch)

        on_chunks.append(input_grad)
    if 1 in argnums:
        # Every step's [x_t, h_{t-1}, 1] (rows) times its gate cotangents: one GEMM per
        # chunk. (Not as (dz @ rows.T).T: with the tiny cotangents of early steps,
        # OpenBLAS runs that orientation several times slower.)
        grad = np.zeros(weights.shape, dtype)
        rows = np.empty((features + u + 1, min(steps, _LSTM_CHUNK), batch), dtype)
        rows[-1] = 1
        x_t, h_t = x.transpose(2, 1, 0), hs.transpose(2, 1, 0)  # (I, T, B), (H, T, B)

        def weight_grad(start: int, dz: np.ndarray) -> None:
            k = dz.shape[1] // batch
            rows[:features, :k] = x_t[:, start : start + k]
            if start:
                rows[features:-1, :k] = h_t[:, start - 1 : start + k - 1]
            else:
                rows[features:-1, 0] = state0[:, :u].T
                rows[features:-1, 1:k] = h_t[:, : k - 1]
            grad[...] += rows[:, :k].reshape(len(rows), -1) @ dz.T

        on_chunks.append(weight_grad)

    def both(start: int, dz: np.ndarray) -> None:
        for on_chunk in on_chunks:
            on_chunk(start, dz)

    dh0, dc0 = _bptt(
        g_hs,
        g_cs,
        cs,
        residual,
        weights,
        state0,
        2 in argnums,
        (on_chunks[0] if len(on_chunks) == 1 else both) if on_chunks else None,
        step,
        product,
    )
    results: dict[int, np.ndarray] = {}
    if 0 in argnums:
        results[0] = dx.transpose(2, 1, 0)
    if 1 in argnums:
        results[1] = grad
    if 2 in argnums:
        results[2] = np.concatenate([dh0.T, dc0.T], axis=1)
    return tuple(results[a] for a in argnums)


# -- the rules, with primitives (arrays or Tensors) ------------------------------------------
def _pre_activations(x: Any, weights: Any, h_prev: Any, t: int, units: int) -> Any:
    """Step ``t``'s pre-activations ``(B, 4H)``, recomputed with primitives."""
    features = shape_of(x)[-1]
    return (
        matmul_p(x[:, t], weights[:features])
        + matmul_p(h_prev, weights[features : features + units])
        + weights[-1]
    )


def _lstm_vjp(
    argnum: int, g: tuple[Any, ...], ans: tuple[Any, ...], x: Any, weights: Any, state0: Any
) -> Any:
    # Each argument's rule runs the BPTT anew; the layers pass the data, all weights and
    # both states as three arguments, so training usually needs it once. The residual's
    # cotangent g[2] is ignored: an auxiliary output, not differentiable.
    g_hs, g_cs = g[0], g[1]
    if g_hs is None or g_cs is None:  # (symbolic zeros: an output nothing used)
        arguments = (g_hs, g_cs, x, weights, state0, *ans)
        if any(isinstance(a, Tensor) for a in arguments):
            # Recorded or traced: lstm_grad's rules and graphs take arrays, not None.
            g_hs, g_cs = (
                np.zeros(shape_of(out), dtype_of(out)) if part is None else part
                for part, out in zip((g_hs, g_cs), ans, strict=False)
            )
    return lstm_grad_p(g_hs, g_cs, x, weights, state0, *ans, argnum=argnum)


def _lstm_grad_vjps(
    c: Any, g_hs: Any, g_cs: Any, x: Any, weights: Any, state0: Any, hs: Any, cs: Any, argnum: int
) -> list[Any]:
    """The VJP of `lstm_grad` (argument ``argnum``'s cotangent) for cotangent ``c``, with
    respect to ``g_hs, g_cs, x, weights, state0, hs, cs``: the BPTT once more keeping each
    step's values, then its reverse, forward in time (`cell_vjp_vjp`). Written with
    primitives: on Tensors, higher derivatives record through it."""
    batch, steps, features = shape_of(x)
    u = shape_of(hs)[-1]
    dtype = dtype_of(hs)
    w_x, w_h = weights[:features], weights[features : features + u]
    w_x_t, w_h_t = transpose_p(w_x, axes=(1, 0)), transpose_p(w_h, axes=(1, 0))

    def zeros(*shape: int) -> Any:
        return np.zeros(shape, dtype)

    saved: list[Any] = [None] * steps
    dh, dc = zeros(batch, u), zeros(batch, u)
    for t in range(steps - 1, -1, -1):
        h_prev = hs[:, t - 1] if t else state0[:, :u]
        c_prev = cs[:, t - 1] if t else state0[:, u:]
        gates, _, _, _ = cell(_pre_activations(x, weights, h_prev, t, u), c_prev)
        tanh_c = tanh_p(cs[:, t])
        big_dh, big_dc = dh + g_hs[:, t], dc + g_cs[:, t]
        dz, dc = cell_vjp(gates, tanh_c, c_prev, big_dh, big_dc)
        dz_t = concatenate_p(*dz, axis=1)
        saved[t] = (gates, tanh_c, c_prev, h_prev, big_dh, big_dc, dz_t)
        dh = matmul_p(dz_t, w_h_t)
    # The reverse sweep: the cotangents of the BPTT's step values, step 0 first.
    bar_w_x, bar_w_h, bar_b = zeros(features, 4 * u), zeros(u, 4 * u), zeros(4 * u)
    bar_x: list[Any] = [zeros(batch, features)] * steps
    bar_h_prev: list[Any] = [zeros(batch, u)] * steps
    bar_c_prev: list[Any] = [zeros(batch, u)] * steps
    bar_cs: list[Any] = [zeros(batch, u)] * steps
    bar_g_hs: list[Any] = [None] * steps
    bar_g_cs: list[Any] = [None] * steps
    bar_dh, bar_dc = zeros(batch, u), zeros(batch, u)  # of the carries step t hands on
    if argnum == 2:
        bar_dh, bar_dc = c[:, :u], c[:, u:]
    for t in range(steps):
        gates, tanh_c, c_prev, h_prev, big_dh, big_dc, dz_t = saved[t]
        bar_dz = matmul_p(bar_dh, w_h)
        bar_w_h = bar_w_h + matmul_p(transpose_p(bar_dh, axes=(1, 0)), dz_t)
        if argnum == 0:  # dx_t = dz_t @ W_x^T
            bar_dz = bar_dz + matmul_p(c[:, t], w_x)
            bar_w_x = bar_w_x + matmul_p(transpose_p(c[:, t], axes=(1, 0)), dz_t)
        elif argnum == 1:  # dW = sum_t rows_t^T @ dz_t with rows_t = [x_t, h_prev, 1]
            bar_dz = bar_dz + (
                matmul_p(x[:, t], c[:features]) + matmul_p(h_prev, c[features:-1]) + c[-1]
            )
            bar_rows = matmul_p(dz_t, transpose_p(c, axes=(1, 0)))
            bar_x[t] = bar_x[t] + bar_rows[:, :features]
            bar_h_prev[t] = bar_h_prev[t] + bar_rows[:, features:-1]
        blocks = tuple(gate_block(bar_dz, k, u, -1) for k in range(4))
        bar_gates, bar_tanh_c, bar_c_prev[t], bar_dh, bar_dc = cell_vjp_vjp(
            gates, tanh_c, c_prev, big_dh, big_dc, blocks, bar_dc
        )
        bar_g_hs[t], bar_g_cs[t] = bar_dh, bar_dc
        i, f, g, o = gates
        bar_z = concatenate_p(
            bar_gates[0] * (i - i * i),
            bar_gates[1] * (f - f * f),
            bar_gates[2] * (1 - g * g),
            bar_gates[3] * (o - o * o),
            axis=1,
        )
        bar_x[t] = bar_x[t] + matmul_p(bar_z, w_x_t)
        bar_h_prev[t] = bar_h_prev[t] + matmul_p(bar_z, w_h_t)
        bar_w_x = bar_w_x + matmul_p(transpose_p(x[:, t], axes=(1, 0)), bar_z)
        bar_w_h = bar_w_h + matmul_p(transpose_p(h_prev, axes=(1, 0)), bar_z)
        bar_b = bar_b + sum_p(bar_z, axis=(0,), keepdims=False)
        bar_cs[t] = bar_cs[t] + bar_tanh_c * (1 - tanh_c * tanh_c)
    # h_prev and c_prev of step t are hs and cs of step t - 1 (state0 for step 0).
    bar_hs = [*bar_h_prev[1:], zeros(batch, u)]
    bar_cs = [bar_cs[t] + (bar_c_prev[t + 1] if t + 1 < steps else 0) for t in range(steps)]
    return [
        stack_parts(bar_g_hs, 1),
        stack_parts(bar_g_cs, 1),
        stack_parts(bar_x, 1),
        concatenate_p(bar_w_x, bar_w_h, reshape_p(bar_b, shape=(1, 4 * u)), axis=0),
        concatenate_p(bar_h_prev[0], bar_c_prev[0], axis=1),
        stack_parts(bar_hs, 1),
        stack_parts(bar_cs, 1),
    ]


def _lstm_grad_vjp(k: int, c: Any, ans: Any, *args: Any, argnum: int) -> Any:
    """`lstm_grad`'s VJP with respect to its argument ``k`` (derivatives of order two and
    more; the residual, argument 7, is recomputed from the others: no cotangent)."""
    g_hs, g_cs, x, weights, state0, hs, cs = args[:7]
    return _lstm_grad_vjps(c, g_hs, g_cs, x, weights, state0, hs, cs, argnum)[k]


def _lstm_jvp(
    argnum: int, tangent: Any, ans: tuple[Any, ...], x: Any, weights: Any, state0: Any
) -> tuple[Any, ...]:
    """Tangents of ``(hs, cs)`` for the tangent of argument ``argnum``, step by step (the
    residual, an auxiliary output, has none)."""
    hs, cs = ans[0], ans[1]
    batch, steps, features = shape_of(x)
    u = shape_of(hs)[-1]
    recurrent = weights[features : features + u]
    dtype = dtype_of(hs)
    t_h: Any = np.zeros((batch, u), dtype)
    t_c: Any = np.zeros((batch, u), dtype)
    if argnum == 2:
        t_h, t_c = tangent[:, :u], tangent[:, u:]
    t_hs, t_cs = [], []
    for t in range(steps):
        h_prev = hs[:, t - 1] if t else state0[:, :u]
        c_prev = cs[:, t - 1] if t else state0[:, u:]
        t_z = matmul_p(t_h, recurrent)
        if argnum == 0:
            t_z = t_z + matmul_p(tangent[:, t], weights[:features])
        elif argnum == 1:
            t_z = (
                t_z
                + matmul_p(x[:, t], tangent[:features])
                + matmul_p(h_prev, tangent[features : features + u])
                + tangent[-1]
            )
        gates, _, _, _ = cell(_pre_activations(x, weights, h_prev, t, u), c_prev)
        t_blocks = tuple(gate_block(t_z, k, u, -1) for k in range(4))
        t_c, t_h = cell_jvp(gates, tanh_p(cs[:, t]), c_prev, t_blocks, t_c)
        t_hs.append(t_h)
        t_cs.append(t_c)
    return stack_parts(t_hs, 1), stack_parts(t_cs, 1), None


def _lstm_impl(x: Any, weights: Any, state0: Any) -> tuple[np.ndarray, ...]:
    return lstm_sequence(x, weights, state0)


def _lstm_grad_impl(
    g_hs: Any,
    g_cs: Any,
    x: Any,
    weights: Any,
    state0: Any,
    hs: Any,
    cs: Any,
    residual: Any,
    argnum: int,
) -> np.ndarray:
    """The cotangent of `lstm`'s argument ``argnum`` (BPTT in place, on arrays)."""
    return lstm_sequence_grad(g_hs, g_cs, x, weights, state0, hs, cs, residual, argnum)


lstm_p = Primitive(
    "lstm", _lstm_impl, multiple_results=True, returns="unknown", symbolic_zeros=True
)
lstm_p.defvjp(*(functools.partial(_lstm_vjp, i) for i in range(3)))
lstm_p.defjvp(*(functools.partial(_lstm_jvp, i) for i in range(3)))


def _lstm_grads_impl(
    g_hs: Any,
    g_cs: Any,
    x: Any,
    weights: Any,
    state0: Any,
    hs: Any,
    cs: Any,
    residual: Any,
    *,
    argnums: tuple[int, ...],
) -> tuple[np.ndarray, ...]:
    return lstm_sequence_grads(g_hs, g_cs, x, weights, state0, hs, cs, residual, argnums)


def _lstm_vjp_joint(
    argnums: tuple[int, ...],
    g: tuple[Any, ...],
    ans: tuple[Any, ...],
    x: Any,
    weights: Any,
    state0: Any,
) -> tuple[Any, ...]:
    # One BPTT for the data's and the weights' cotangents (a stacked LSTM's), on arrays.
    return lstm_grads_p(g[0], g[1], x, weights, state0, *ans, argnums=argnums)


lstm_p.vjp_joint = _lstm_vjp_joint

lstm_grad_p = Primitive("lstm_grad", _lstm_grad_impl, returns="unknown")
# The residual (argument 7) is auxiliary: the rules recompute what it holds from the others.
lstm_grad_p.defvjp(
    *(functools.partial(_lstm_grad_vjp, k) for k in range(7)), lambda c, ans, *args, **params: None
)
#: `lstm_grad` for several arguments at once (``argnums``), on arrays only: `lstm`'s joint
#: VJP in a first-order walk. Not in the table (graphs never record it): a record only so
#: that kernels can register for it.
lstm_grads_p = Primitive(
    "lstm_grads",
    _lstm_grads_impl,
    multiple_results=True,
    differentiable=False,
    register=False,
    returns="fresh",
)

__all__ = [
    "GATES",
    "backward_step",
    "cell",
    "cell_jvp",
    "cell_vjp",
    "cell_vjp_vjp",
    "forward_step",
    "forward_steps",
    "lstm_grad_p",
    "lstm_grads_p",
    "lstm_p",
    "lstm_sequence",
    "lstm_sequence_grad",
    "lstm_sequence_grads",
]

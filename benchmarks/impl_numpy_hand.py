"""Hand-written NumPy with manual derivatives: the reference results and the speed floor.

Every other implementation is checked against the results of this module. No autodiff
framework built on NumPy can beat it without fusing operations.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from benchmarks.harness import (
    CNN_LEARNING_RATE,
    CNN_PARAM_NAMES,
    LSTM_LEARNING_RATE,
    LSTM_PARAM_NAMES,
    MLP_LEARNING_RATE,
    MLP_PARAM_NAMES,
    W1_ITERS,
    W1_SCALE,
    W1_SHIFT,
    Builder,
    cnn_channels_last,
)

# 0-d arrays, like the W1 constants in harness (faster than NumPy scalars, still float32).
_ONE = np.array(1.0, dtype=np.float32)
_MINUS_TWO = np.array(-2.0, dtype=np.float32)
_HALF = np.array(0.5, dtype=np.float32)


def w1_forward(x: np.ndarray) -> np.float32:
    """Evaluate ``f(x)``: 100 times ``x = tanh(x * 1.01 + 0.1)``, then ``sum(x)``."""
    for _ in range(W1_ITERS):
        x = np.tanh(x * W1_SCALE + W1_SHIFT)
    return np.sum(x)


def w1_grad(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`w1_forward` by manual backprop (4 NumPy calls per step back).

    Each ``tanh`` output ``t`` is stored on the way forward; on the way back the gradient,
    starting from ones, is multiplied by ``(1 - t*t) * 1.01`` once per iteration.
    """
    saved = []
    for _ in range(W1_ITERS):
        x = np.tanh(x * W1_SCALE + W1_SHIFT)
        saved.append(x)
    np.sum(x)  # the loss itself is computed, as in every framework, though unused here
    g = np.ones_like(x)
    for t in reversed(saved):
        g = g * (_ONE - t * t) * W1_SCALE
    return g


def w6_hvp(a: np.ndarray, w: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Analytic Hessian-vector product of ``f(w) = sum(tanh(A @ w))`` (3 mat-vecs).

    ``Hv = A.T @ (-2 t (1 - t^2) * (A @ v))`` with ``t = tanh(A @ w)``.
    """
    t = np.tanh(a @ w)
    return (_MINUS_TWO * t * (_ONE - t * t) * (a @ v)) @ a


def mlp_step(params: list[np.ndarray], x: np.ndarray, y: np.ndarray, lr: float) -> np.float32:
    """One SGD step of the 3-layer ReLU MLP with mean softmax cross-entropy, in place.

    Manual backprop: ``dz = (softmax(z) - onehot(y)) / B``, then for each dense layer
    ``dW = a.T @ dz``, ``db = sum(dz)``, ``da = dz @ W.T`` masked by ``a > 0`` (ReLU).
    All gradients are taken before any parameter changes.

    Args:
        params: ``[w1, b1, w2, b2, w3, b3]``, updated in place (``p -= lr * grad``).
        x: the batch, ``(B, inputs)``; y: its integer labels, ``(B,)``.
        lr: the learning rate.

    Returns:
        The mean loss before the update (float32).
    """
    w1, b1, w2, b2, w3, b3 = params
    rows = np.arange(len(y))
    a1 = x @ w1
    a1 += b1
    np.maximum(a1, 0, out=a1)
    a2 = a1 @ w2
    a2 += b2
    np.maximum(a2, 0, out=a2)
    z = a2 @ w3
    z += b3
    z -= z.max(axis=1, keepdims=True)  # stable for large logits
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    loss = (np.log(s[:, 0]) - z[rows, y]).mean()

    dz = e / s
    dz[rows, y] -= 1
    dz *= 1.0 / len(y)
    da2 = dz @ w3.T
    da2 *= a2 > 0
    da1 = da2 @ w2.T
    da1 *= a1 > 0
    grads = (x.T @ da1, da1.sum(axis=0), a1.T @ da2, da2.sum(axis=0), a2.T @ dz, dz.sum(axis=0))
    for p, g in zip(params, grads, strict=True):
        p -= lr * g
    return loss


def _build_mlp(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    params = [data[name].copy() for name in MLP_PARAM_NAMES]
    batches = itertools.cycle(list(zip(data["x"], data["y"], strict=True)))

    def step() -> np.float32:
        x, y = next(batches)
        return mlp_step(params, x, y, MLP_LEARNING_RATE)

    return step


def _build_g0(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    a, b = data["a"], data["b"]
    return lambda: a @ b


def _build_w1(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    x = data["x"]
    return lambda: w1_grad(x)


def _build_w1_fwd(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    x = data["x"]
    return lambda: w1_forward(x)


def _build_w6(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    a, w, v = data["A"], data["w"], data["v"]
    return lambda: w6_hvp(a, w, v)


def lstm_step(params: list[np.ndarray], x: np.ndarray, y: np.ndarray, lr: float) -> np.float32:
    """One SGD step of W5 (LSTM, last ``h`` -> dense -> mean softmax CE), in place.

    Forward: the input projection of all steps as one GEMM, then per step
    ``z = xw[t] + h @ wh``, one sigmoid over all four gate blocks with the ``g`` block
    replaced by its tanh, ``c = f*c + i*g``, ``h = o*tanh(c)``. Backward through time
    (manual BPTT) fills ``dz`` for every step, then the weight gradients are three GEMMs
    over all steps at once. All gradients are taken before any parameter changes.

    Args:
        params: ``[wx, wh, b, wd, bd]``, updated in place (``p -= lr * grad``).
        x: the batch, time-major ``(T, B, I)``; y: its integer labels, ``(B,)``.
        lr: the learning rate.

    Returns:
        The mean loss before the update (float32).
    """
    wx, wh, b, wd, bd = params
    steps, batch, inputs = x.shape
    hidden = wh.shape[0]
    i_, f_, g_, o_ = (slice(k * hidden, (k + 1) * hidden) for k in range(4))
    x2 = x.reshape(steps * batch, inputs)
    xw = (x2 @ wx + b).reshape(steps, batch, 4 * hidden)
    acts = np.empty_like(xw)  # sigmoid(i, f, o) and tanh(g), per step
    hs = np.zeros((steps + 1, batch, hidden), xw.dtype)  # hs[t] is the h step t reads
    cs = np.zeros((steps + 1, batch, hidden), xw.dtype)
    tanh_c = np.empty((steps, batch, hidden), xw.dtype)
    for t in range(steps):
        z = hs[t] @ wh
        z += xw[t]
        a = acts[t]
        # sigmoid(z) = (1 + tanh(z / 2)) / 2: no overflow warnings for large |z|.
        np.multiply(z, _HALF, out=a)
        np.tanh(a, out=a)
        a *= _HALF
        a += _HALF
        np.tanh(z[:, g_], out=a[:, g_])
        np.multiply(a[:, f_], cs[t], out=cs[t + 1])
        cs[t + 1] += a[:, i_] * a[:, g_]
        np.tanh(cs[t + 1], out=tanh_c[t])
        np.multiply(a[:, o_], tanh_c[t], out=hs[t + 1])
    rows = np.arange(batch)
    logits = hs[steps] @ wd
    logits += bd
    logits -= logits.max(axis=1, keepdims=True)  # stable for large logits
    e = np.exp(logits)
    s = e.sum(axis=1, keepdims=True)
    loss = (np.log(s[:, 0]) - logits[rows, y]).mean()

    dlogits = e / s
    dlogits[rows, y] -= 1
    dlogits *= 1.0 / batch
    dh = dlogits @ wd.T
    dc = np.zeros((batch, hidden), xw.dtype)
    dz = np.empty_like(xw)
    for t in range(steps - 1, -1, -1):
        a, d, tc = acts[t], dz[t], tanh_c[t]
        i, f, g, o = a[:, i_], a[:, f_], a[:, g_], a[:, o_]
        dc += dh * o * (_ONE - tc * tc)
        np.multiply(dh * tc, o * (_ONE - o), out=d[:, o_])
        np.multiply(dc * g, i * (_ONE - i), out=d[:, i_])
        np.multiply(dc * cs[t], f * (_ONE - f), out=d[:, f_])
        np.multiply(dc * i, _ONE - g * g, out=d[:, g_])
        dc *= f
        if t:  # h0 is a constant: its gradient is not needed
            dh = d @ wh.T
    dz2 = dz.reshape(steps * batch, 4 * hidden)
    grads = (
        x2.T @ dz2,
        hs[:steps].reshape(steps * batch, hidden).T @ dz2,
        dz2.sum(axis=0),
        hs[steps].T @ dlogits,
        dlogits.sum(axis=0),
    )
    for p, grad in zip(params, grads, strict=True):
        p -= lr * grad
    return loss


def _build_lstm(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    params = [data[name].copy() for name in LSTM_PARAM_NAMES]
    batches = itertools.cycle(list(zip(data["x"], data["y"], strict=True)))

    def step() -> np.float32:
        x, y = next(batches)
        return lstm_step(params, x, y, LSTM_LEARNING_RATE)

    return step


def _im2col_3x3(x: np.ndarray) -> np.ndarray:
    """Patches of a 3x3 "same" convolution of NHWC ``x``: ``(B*H*W, 9*C)``, (kh, kw, c)."""
    batch, height, width, channels = x.shape
    xp = np.zeros((batch, height + 2, width + 2, channels), x.dtype)
    xp[:, 1:-1, 1:-1] = x
    view = sliding_window_view(xp, (3, 3), axis=(1, 2))  # (B, H, W, C, 3, 3), no copy
    return view.transpose(0, 1, 2, 4, 5, 3).reshape(batch * height * width, 9 * channels)


def _col2im_3x3(dcols: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The transpose of `_im2col_3x3`: 9 slice-adds into the padded image, then crop."""
    batch, height, width, channels = shape
    d = dcols.reshape(batch, height, width, 3, 3, channels)
    dxp = np.zeros((batch, height + 2, width + 2, channels), dcols.dtype)
    for i in range(3):
        for j in range(3):
            dxp[:, i : i + height, j : j + width] += d[:, :, :, i, j]
    return dxp[:, 1:-1, 1:-1]


def _pool_2x2(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 max pooling of NHWC ``a`` by reshape + max; returns the pooled array and the
    windows' view ``(B, H/2, 2, W/2, 2, C)`` for the backward pass."""
    batch, height, width, channels = a.shape
    windows = a.reshape(batch, height // 2, 2, width // 2, 2, channels)
    # The max of the four corners of the windows: ~6x faster than windows.max(axis=(2, 4)),
    # whose reduction over two strided axes NumPy does element by element.
    top = np.maximum(windows[:, :, 0, :, 0], windows[:, :, 0, :, 1])
    bottom = np.maximum(windows[:, :, 1, :, 0], windows[:, :, 1, :, 1])
    return np.maximum(top, bottom, out=top), windows


def _unpool_relu_2x2(g: np.ndarray, pooled: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Gradient through ReLU then 2x2 max pooling: ``g`` goes where a window's maximum is.

    Ties happen only between ReLU zeros, whose gradient ReLU kills (the ``pooled > 0``
    factor), so every element equal to its window's maximum may take the gradient.
    """
    expand = (slice(None), slice(None), None, slice(None), None, slice(None))
    mask = windows == pooled[expand]
    d = mask * (g * (pooled > 0))[expand]
    return d.reshape(windows.shape[0], 2 * windows.shape[1], 2 * windows.shape[3], -1)


def cnn_step(params: list[np.ndarray], x: np.ndarray, y: np.ndarray, lr: float) -> np.float32:
    """One SGD step of W4 (two 3x3 conv + ReLU + 2x2 max pool, dense, softmax CE), in place.

    NHWC inside (the parameters and images of `harness.cnn_channels_last`, which computes
    the same function as the NCHW network): each convolution is im2col by
    ``sliding_window_view`` + one GEMM, its input gradient one GEMM + col2im by 9
    slice-adds; pooling is reshape + max. The gradient w.r.t. the images is not computed.

    Args:
        params: ``[k1, b1, k2, b2, w3, b3]``, kernels ``(3, 3, in, out)``, updated in place.
        x: the batch, NHWC ``(B, 28, 28, 1)``; y: its integer labels, ``(B,)``.
        lr: the learning rate.

    Returns:
        The mean loss before the update (float32).
    """
    k1, b1, k2, b2, w3, b3 = params
    batch = x.shape[0]
    rows = np.arange(batch)
    cols1 = _im2col_3x3(x)
    a1 = cols1 @ k1.reshape(-1, k1.shape[-1])
    a1 += b1
    np.maximum(a1, 0, out=a1)
    a1 = a1.reshape(*x.shape[:3], -1)
    p1, win1 = _pool_2x2(a1)
    cols2 = _im2col_3x3(p1)
    a2 = cols2 @ k2.reshape(-1, k2.shape[-1])
    a2 += b2
    np.maximum(a2, 0, out=a2)
    a2 = a2.reshape(*p1.shape[:3], -1)
    p2, win2 = _pool_2x2(a2)
    features = p2.reshape(batch, -1)
    z = features @ w3
    z += b3
    z -= z.max(axis=1, keepdims=True)  # stable for large logits
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    loss = (np.log(s[:, 0]) - z[rows, y]).mean()

    dz = e / s
    dz[rows, y] -= 1
    dz *= 1.0 / batch
    dfeatures = (dz @ w3.T).reshape(p2.shape)
    da2 = _unpool_relu_2x2(dfeatures, p2, win2).reshape(-1, k2.shape[-1])
    dp1 = _col2im_3x3(da2 @ k2.reshape(-1, k2.shape[-1]).T, p1.shape)
    da1 = _unpool_relu_2x2(dp1, p1, win1).reshape(-1, k1.shape[-1])
    grads = (
        (cols1.T @ da1).reshape(k1.shape),
        da1.sum(axis=0),
        (cols2.T @ da2).reshape(k2.shape),
        da2.sum(axis=0),
        features.T @ dz,
        dz.sum(axis=0),
    )
    for p, grad in zip(params, grads, strict=True):
        p -= lr * grad
    return loss


def _build_cnn(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    nhwc = cnn_channels_last(data)
    params = [nhwc[name] for name in CNN_PARAM_NAMES]
    batches = itertools.cycle(list(zip(nhwc["x"], nhwc["y"], strict=True)))

    def step() -> np.float32:
        x, y = next(batches)
        return cnn_step(params, x, y, CNN_LEARNING_RATE)

    return step


def builders(variant: str | None = None) -> dict[str, Builder]:
    """Return the workload builders; both W6 rows use the same analytic formula."""
    del variant
    return {
        "W1": _build_w1,
        "W1-fwd": _build_w1_fwd,
        "W6-revrev": _build_w6,
        "W6-fwdrev": _build_w6,
        "W2": _build_mlp,
        "W3": _build_mlp,
        "W4": _build_cnn,
        "G0": _build_g0,
        "W5-unrolled": _build_lstm,
    }


def to_numpy(result: Any) -> np.ndarray:
    """Return the result as a NumPy array."""
    return np.asarray(result)


def info() -> dict[str, Any]:
    """Return the NumPy version."""
    return {"version": np.__version__}

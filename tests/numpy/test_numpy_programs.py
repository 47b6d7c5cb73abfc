"""NumPy programs, differentiated unchanged: functions written for NumPy (numerical code:
splines, PDE steps, filters, fits, solvers) run with ``import tapegrad.numpy as np`` in
place of NumPy, under the NumPy-user setting (``floatx_scope("float64")``), and their
``tg.grad`` equals central finite differences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as onp
import pytest

import tapegrad as tg
import tapegrad.numpy as np  # the programs below read as NumPy code
from tapegrad import backend

# -- the programs: plain NumPy code, each a scalar function of one parameter vector ---------


def cubic_spline(y: Any) -> Any:
    """A natural cubic spline through (knots, y), evaluated between the knots."""
    knots = np.linspace(0.0, 3.0, 4)
    h = np.diff(knots)
    # Second derivatives m at the knots: a tridiagonal system, m = 0 at both ends.
    main = np.concatenate([[1.0], 2 * (h[:-1] + h[1:]), [1.0]])
    A = np.diag(main) + np.diag(np.concatenate([[0.0], h[1:]]), 1)
    A = A + np.diag(np.concatenate([h[:-1], [0.0]]), -1)
    slopes = np.diff(y) / h
    b = np.concatenate([np.zeros(1), 6 * np.diff(slopes), np.zeros(1)])
    m = np.linalg.solve(A, b)
    xs = np.array([0.4, 1.3, 2.7])
    i = np.searchsorted(knots, xs) - 1
    t0, t1, hi = xs - knots[i], knots[i + 1] - xs, h[i]
    values = (m[i] * t1**3 + m[i + 1] * t0**3) / (6 * hi) + (y[i] / hi - m[i] * hi / 6) * t1
    values = values + (y[i + 1] / hi - m[i + 1] * hi / 6) * t0
    return np.sum(values * np.array([1.0, -2.0, 0.5]))


def polynomial_fit(y: Any) -> Any:
    """Least-squares cubic through noisy samples (Vandermonde matrix + lstsq)."""
    x = np.linspace(-1.0, 1.0, len(y))
    V = np.stack([x**k for k in range(3, -1, -1)], axis=1)
    coef, *_ = np.linalg.lstsq(V, y, rcond=None)
    return np.sum(coef * np.array([1.0, 0.5, -1.0, 2.0]))


def polyfit_polyval(y: Any) -> Any:
    """A cubic fitted with polyfit, evaluated with polyval."""
    x = np.linspace(-1.0, 1.0, len(y))
    coefficients = np.polyfit(x, y, 3)
    return np.sum(np.polyval(coefficients, np.array([0.3, -0.2, 0.9])))


def parametric_grid(p: Any) -> Any:
    """A grid built from parameters (linspace endpoints) with meshgrid, integrated."""
    x = np.linspace(0.0, p[0], 5)
    y = np.linspace(-p[1], p[1], 4)
    X, Y = np.meshgrid(x, y)
    return np.sum(np.exp(-(X**2 + Y**2)) * X)


def fft_low_pass(x: Any) -> Any:
    """A low-pass filter in the frequency domain (rfft, mask, irfft) and a power spectrum."""
    spectrum = np.fft.rfft(x)
    keep = np.arange(len(spectrum)) < 3
    smooth = np.fft.irfft(np.where(keep, spectrum, 0.0), n=len(x))
    power = np.abs(np.fft.fft(x)) ** 2
    return np.sum(smooth * np.linspace(1.0, 2.0, len(x))) + 0.01 * np.sum(power[1:4])


def heat_equation(u0: Any) -> Any:
    """Explicit finite-difference steps of u_t = u_xx on a periodic rod."""
    u, dx, dt = u0, 0.1, 0.002
    for _ in range(5):
        u = u + dt / dx**2 * (np.roll(u, 1) - 2 * u + np.roll(u, -1))
    return np.sum(u**2)


def gaussian_log_likelihood(params: Any) -> Any:
    data = np.array([0.3, -1.2, 2.2, 0.7, 1.1])
    mu, log_sigma = params[0], params[1]
    sigma = np.exp(log_sigma)
    z = (data - mu) / sigma
    return -0.5 * np.sum(z**2) - len(data) * log_sigma - 0.5 * len(data) * np.log(2 * np.pi)


def logsumexp(x: Any) -> Any:
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def softmax_regression(w: Any) -> Any:
    X = np.array([[1.0, 0.5], [-0.3, 1.2], [0.8, -1.0], [0.1, 0.1]])
    labels = np.array([0, 2, 1, 2])
    W = np.reshape(w, (2, 3))
    logits = X @ W
    logits = logits - np.max(logits, axis=1, keepdims=True)
    log_p = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -np.mean(log_p[np.arange(len(labels)), labels])


def runge_kutta(params: Any) -> Any:
    """Four RK4 steps of the damped oscillator y'' = -k y - c y'."""
    k, c = params[0], params[1]

    def f(t: float, s: Any) -> Any:
        return np.array([s[1], -k * s[0] - c * s[1]])

    s, t, dt = np.array([1.0, 0.0]), 0.0, 0.1
    for _ in range(4):
        k1 = f(t, s)
        k2 = f(t + dt / 2, s + dt / 2 * k1)
        k3 = f(t + dt / 2, s + dt / 2 * k2)
        k4 = f(t + dt, s + dt * k3)
        s, t = s + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4), t + dt
    return s[0] + 0.3 * s[1]


def newton_sqrt(a: Any) -> Any:
    """Square roots by Newton's iteration, differentiated through the iterations."""
    x = np.ones_like(a)
    for _ in range(6):
        x = 0.5 * (x + a / x)
    return np.sum(x * np.array([1.0, 2.0, 3.0]))


def gram_schmidt(a: Any) -> Any:
    A = np.reshape(a, (3, 3))
    q = []
    for j in range(3):
        v = A[:, j]
        for u in q:
            v = v - np.dot(u, v) * u
        q.append(v / np.linalg.norm(v))
    Q = np.stack(q, axis=1)
    return np.sum(Q * np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 1.0], [0.0, 0.3, 2.0]]))


def kalman_step(z: Any) -> Any:
    """One predict/update step of a constant-velocity Kalman filter; measurement z."""
    x = np.array([0.0, 1.0])
    P = np.eye(2)
    F = np.array([[1.0, 0.1], [0.0, 1.0]])
    Q = 0.01 * np.eye(2)
    H = np.array([[1.0, 0.0]])
    R = np.array([[0.5]])
    x = F @ x
    P = F @ P @ F.T + Q
    S = H @ P @ H.T + R
    K = P @ H.T @ np.linalg.inv(S)
    x = x + K @ (np.reshape(z[:1], (1,)) - H @ x)
    P = (np.eye(2) - K @ H) @ P
    return np.sum(x) + np.trace(P) * z[1]


def stable_norm(x: Any) -> Any:
    scale = np.max(np.abs(x))
    return scale * np.sqrt(np.sum((x / scale) ** 2))


def cumulative_trapezoid(y: Any) -> Any:
    x = np.linspace(0.0, 1.0, len(y)) ** 2
    integral = np.cumsum((y[1:] + y[:-1]) / 2 * np.diff(x))
    return np.sum(integral * np.arange(1, len(y)))


def moving_average(x: Any) -> Any:
    k = 3
    smooth = np.convolve(x, np.ones(k) / k, mode="valid")
    return np.sum(smooth**2)


def correlation(x: Any) -> Any:
    data = np.reshape(x, (2, 4))
    return np.sum(np.cov(data)) + np.corrcoef(data)[0, 1]


def huber_loss(r: Any) -> Any:
    delta = 1.0
    small = np.abs(r) < delta
    return np.sum(np.where(small, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta)))


def normal_equations(w: Any) -> Any:
    X = np.array([[1.0, 0.2], [1.0, 0.9], [1.0, 1.7], [1.0, 2.4]])
    y = X @ w + np.array([0.05, -0.02, 0.01, 0.03])
    beta = np.linalg.solve(X.T @ X, X.T @ y)
    residual = y - X @ beta
    return np.sum(beta**2) + np.dot(residual, residual)


def power_iteration(a: Any) -> Any:
    A = np.reshape(a, (3, 3))
    A = A @ A.T
    v = np.ones(3) / np.sqrt(3.0)
    for _ in range(20):
        v = A @ v
        v = v / np.linalg.norm(v)
    return v @ A @ v  # the largest eigenvalue (Rayleigh quotient)


def log_determinant(a: Any) -> Any:
    A = np.reshape(a, (2, 2))
    sign, logdet = np.linalg.slogdet(A @ A.T + np.eye(2))
    return sign * logdet


def gaussian_density(x: Any) -> Any:
    """Multivariate normal log-density through a Cholesky factor."""
    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    L = np.linalg.cholesky(cov)
    alpha = np.linalg.solve(L, x)
    return -0.5 * np.dot(alpha, alpha) - np.sum(np.log(np.diag(L))) - np.log(2 * np.pi)


def interpolation(fp: Any) -> Any:
    xp = np.array([0.0, 1.0, 2.0, 4.0])
    return np.sum(np.interp(np.array([0.5, 1.5, 3.0]), xp, fp) * np.array([1.0, 2.0, 3.0]))


def total_variation(x: Any) -> Any:
    return np.sum(np.sqrt(np.diff(x) ** 2 + 1e-3)) + 0.1 * np.sum(x**2)


def kernel_ridge(y: Any) -> Any:
    x = np.array([0.0, 0.5, 1.2, 2.0])
    K = np.exp(-((x[:, None] - x[None, :]) ** 2))
    alpha = np.linalg.solve(K + 0.1 * np.eye(4), y)
    return np.exp(-((1.0 - x) ** 2)) @ alpha


def trimmed_mean(x: Any) -> Any:
    s = np.sort(x)
    return np.mean(s[1:-1]) + 0.1 * np.median(x)


def lotka_volterra(params: Any) -> Any:
    a, b = params[0], params[1]
    state = np.array([1.0, 0.5])
    history = []
    for _ in range(5):
        prey, predator = state[0], state[1]
        state = state + 0.1 * np.stack([a * prey - prey * predator, prey * predator - b * predator])
        history.append(state)
    return np.sum(np.stack(history)[:, 1])


def einsum_bilinear(v: Any) -> Any:
    M = np.array([[1.0, 0.3, 0.0], [0.2, 2.0, 0.1], [0.0, 0.5, 1.5]])
    return np.einsum("i,ij,j->", v, M, v) + np.linalg.norm(np.outer(v, v))


def logistic_regression(w: Any) -> Any:
    X = np.array([[0.5, 1.0], [-1.0, 0.3], [2.0, -0.5]])
    y = np.array([1.0, 0.0, 1.0])
    z = X @ w
    return np.mean(np.logaddexp(0.0, z) - y * z)


def _rng_vector(n: int, seed: int, low: float = -1.0, high: float = 1.0) -> onp.ndarray:
    return onp.random.default_rng(seed).uniform(low, high, n)


PROGRAMS: dict[str, tuple[Callable[[Any], Any], onp.ndarray]] = {
    "cubic spline": (cubic_spline, _rng_vector(4, 0)),
    "polynomial fit (vander + lstsq)": (polynomial_fit, _rng_vector(7, 1)),
    "polyfit and polyval": (polyfit_polyval, _rng_vector(7, 16)),
    "grid from linspace/meshgrid": (parametric_grid, onp.array([1.5, 0.7])),
    "FFT low-pass filter": (fft_low_pass, _rng_vector(8, 17)),
    "heat equation step": (heat_equation, _rng_vector(8, 2)),
    "Gaussian log-likelihood": (gaussian_log_likelihood, onp.array([0.4, 0.2])),
    "logsumexp": (logsumexp, _rng_vector(5, 3, -3.0, 3.0)),
    "softmax regression": (softmax_regression, _rng_vector(6, 4)),
    "Runge-Kutta": (runge_kutta, onp.array([2.0, 0.3])),
    "Newton iteration": (newton_sqrt, onp.array([2.0, 3.0, 0.5])),
    "Gram-Schmidt": (gram_schmidt, _rng_vector(9, 5) + 2 * onp.eye(3).ravel()),
    "Kalman filter step": (kalman_step, onp.array([0.3, 1.5])),
    "stable norm": (stable_norm, onp.array([3.0, -4.0, 1.0])),
    "cumulative trapezoid": (cumulative_trapezoid, _rng_vector(6, 6)),
    "moving average (convolve)": (moving_average, _rng_vector(7, 7)),
    "covariance and correlation": (correlation, _rng_vector(8, 8)),
    "Huber loss": (huber_loss, onp.array([0.3, -2.0, 1.7, -0.4])),
    "normal equations": (normal_equations, onp.array([0.5, -1.0])),
    "power iteration": (power_iteration, _rng_vector(9, 9) + 2 * onp.eye(3).ravel()),
    "log-determinant": (log_determinant, _rng_vector(4, 10)),
    "Cholesky log-density": (gaussian_density, onp.array([0.4, -0.7])),
    "interpolation": (interpolation, _rng_vector(4, 11)),
    "total variation": (total_variation, _rng_vector(6, 12)),
    "kernel ridge regression": (kernel_ridge, _rng_vector(4, 13)),
    "trimmed mean (sort)": (trimmed_mean, onp.array([0.3, -1.0, 2.5, 0.9, 1.4])),
    "Lotka-Volterra": (lotka_volterra, onp.array([1.1, 0.4])),
    "einsum bilinear form": (einsum_bilinear, _rng_vector(3, 14)),
    "logistic regression": (logistic_regression, _rng_vector(2, 15)),
}


def central_differences(f: Callable[[Any], Any], x: onp.ndarray, h: float = 1e-6) -> onp.ndarray:
    grad = onp.zeros_like(x)
    for i in range(x.size):
        step = onp.zeros_like(x)
        step[i] = h
        grad[i] = (float(f(x + step)) - float(f(x - step))) / (2 * h)
    return grad


@pytest.fixture(autouse=True)
def numpy_dtypes() -> Any:
    with backend.floatx_scope("float64"):
        yield


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_numpy_program_gradient(name: str) -> None:
    f, x = PROGRAMS[name]
    value = f(tg.tensor(x))
    assert value.dtype == onp.float64
    grad = tg.grad(f)(tg.tensor(x))
    assert grad.dtype == onp.float64
    onp.testing.assert_allclose(grad.numpy(), central_differences(f, x), rtol=1e-5, atol=1e-7)


def test_programs_give_numpy_values_on_plain_arrays() -> None:
    # On plain arrays the same code computes what NumPy computes (here: logsumexp).
    x = PROGRAMS["logsumexp"][1]
    want = onp.log(onp.sum(onp.exp(x)))
    onp.testing.assert_allclose(float(logsumexp(x)), want, rtol=1e-12)

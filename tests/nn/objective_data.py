"""Shared data and NumPy references of the loss, metric and regularizer tests.

One generator draws everything in a fixed order (losses, then metrics, then
regularizers), so every test sees the same arrays whichever file it is in.
"""

from __future__ import annotations

import numpy as np

RNG = np.random.default_rng(7)
N, C = 6, 4
EPS = 1e-7
PROBS = RNG.uniform(0.05, 0.95, (N, C))
REALS = RNG.normal(size=(N, C))
TARGETS = RNG.uniform(0.05, 0.95, (N, C))
BINARY = (RNG.uniform(size=(N, C)) > 0.5).astype(np.float64)
LABELS = np.array([0, 3, 1, 2, 2, 1])
ONE_HOT = np.eye(C)[LABELS]


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_bce(y, p):
    p = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def np_cce(y, p):
    p = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -(y * np.log(p)).sum(-1)


def np_unit(x):
    return x / np.sqrt((x * x).sum(-1, keepdims=True))


def np_huber(y, p, d=0.7):
    e = np.abs(p - y)
    return np.where(e <= d, 0.5 * e**2, d * e - 0.5 * d * d).mean(-1)


# Sample weights of the loss reductions and the metrics.
WEIGHTS = RNG.uniform(0.0, 2.0, N)


def batches(*arrays, size=4):
    n = len(arrays[0])
    for start in range(0, n, size):
        yield tuple(None if a is None else a[start : start + size] for a in arrays)


# Metrics: class scores, binary scores and sample weights.
CLS_PROBS = np_softmax(RNG.normal(size=(10, 5)))
CLS_LABELS = RNG.integers(0, 5, 10)
CLS_LABELS[:4] = CLS_PROBS[:4].argmax(-1)  # some hits
BIN_PROBS = RNG.uniform(size=(10, 1))
BIN_LABELS = (RNG.uniform(size=(10, 1)) > 0.5).astype(np.float64)
SW = RNG.uniform(0.0, 1.0, 10)

# Regularizers: a weight matrix.
W = RNG.normal(size=(5, 3))

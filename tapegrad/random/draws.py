"""The draw functions of `tapegrad.random`: normal, uniform, truncated_normal, randint,
categorical, dropout, shuffle, gamma, beta, binomial."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad import backend
from tapegrad.core.tensor import Tensor
from tapegrad.random.seed_generator import _draw


def _shape(shape: Any, where: str) -> tuple[int, ...]:
    if isinstance(shape, int | np.integer) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, Sequence | np.ndarray) or isinstance(shape, str):
        raise ValueError(f"{where}: shape must be a tuple of non-negative ints, got {shape!r}")
    dims = tuple(shape)
    for dim in dims:
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 0:
            raise ValueError(f"{where}: shape must be a tuple of non-negative ints, got {shape!r}")
    return tuple(int(d) for d in dims)


def _dtype(dtype: Any, where: str, kind: str, default: str) -> np.dtype:
    if dtype is None and kind == "f":  # Keras: float draws default to floatx()
        default = backend.floatx()
    try:
        resolved = np.dtype(default if dtype is None else dtype)
    except TypeError as err:
        raise ValueError(f"{where}: dtype {dtype!r} is not a dtype") from err
    if resolved.kind not in kind:
        wanted = "a floating point" if kind == "f" else "an integer"
        raise ValueError(f"{where} requires {wanted} dtype, got dtype={resolved.name}")
    return resolved


def _number(value: Any, where: str, name: str) -> Any:
    """A scalar or array parameter of a distribution (Tensors pass through)."""
    if isinstance(value, Tensor):
        return value
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{where}: {name} must be a number or an array of numbers, got {value!r}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{where}: {name} must be finite, got {value!r}")
    return value if arr.ndim == 0 and not isinstance(value, np.ndarray) else arr


def normal(
    shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None, seed: Any = None
) -> Tensor:
    """Samples of a normal distribution.

    Args:
        shape: Shape of the result.
        mean: Mean of the distribution.
        stddev: Standard deviation.
        dtype: A float dtype (default float32).
        seed: An int (stateless), a `SeedGenerator` (stateful) or None (the global one).

    Returns:
        A Tensor of ``shape``.

    Examples:
        >>> normal((2, 2), seed=1).shape
        (2, 2)
    """
    where = "tapegrad.random.normal"
    return _draw(
        seed,
        where,
        _number(mean, where, "mean"),
        _number(stddev, where, "stddev"),
        "normal",
        _shape(shape, where),
        _dtype(dtype, where, "f", "float32"),
    )


def uniform(
    shape: Any, minval: float = 0.0, maxval: float = 1.0, dtype: Any = None, seed: Any = None
) -> Tensor:
    """Samples of a uniform distribution on ``[minval, maxval)``.

    Args:
        shape: Shape of the result.
        minval: Lower bound (included).
        maxval: Upper bound (excluded).
        dtype: A float dtype (default float32).
        seed: An int (stateless), a `SeedGenerator` (stateful) or None (the global one).

    Returns:
        A Tensor of ``shape``.

    Examples:
        >>> x = uniform((100,), minval=2.0, maxval=3.0, seed=0).numpy()
        >>> bool(((x >= 2.0) & (x < 3.0)).all())
        True
    """
    where = "tapegrad.random.uniform"
    resolved = _dtype(dtype, where, "f", "float32")
    low, high = _number(minval, where, "minval"), _number(maxval, where, "maxval")
    if (
        not isinstance(low, Tensor)
        and not isinstance(high, Tensor)
        and np.any(np.asarray(low) >= np.asarray(high))
    ):
        raise ValueError(
            f"{where}: minval must be below maxval, got minval={minval!r}, maxval={maxval!r}"
        )
    return _draw(seed, where, low, high, "uniform", _shape(shape, where), resolved)


def truncated_normal(
    shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None, seed: Any = None
) -> Tensor:
    """Samples of a normal distribution, redrawn where more than two ``stddev`` off ``mean``.

    Args:
        shape: Shape of the result.
        mean: Mean of the untruncated distribution (a Python number).
        stddev: Its standard deviation (a positive Python number).
        dtype: A float dtype (default float32).
        seed: An int (stateless), a `SeedGenerator` (stateful) or None (the global one).

    Returns:
        A Tensor of ``shape``.

    Examples:
        >>> bool((abs(truncated_normal((1000,), seed=0).numpy()) <= 2.0).all())
        True
    """
    where = "tapegrad.random.truncated_normal"
    for name, value in (("mean", mean), ("stddev", stddev)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float | np.number)
            or not np.isfinite(value)
        ):
            raise ValueError(f"{where}: {name} must be a finite number, got {value!r}")
    if stddev <= 0:
        raise ValueError(f"{where}: stddev must be positive, got {stddev!r}")
    return _draw(
        seed,
        where,
        float(mean),
        float(stddev),
        "truncated_normal",
        _shape(shape, where),
        _dtype(dtype, where, "f", "float32"),
    )


def randint(shape: Any, minval: int, maxval: int, dtype: Any = "int32", seed: Any = None) -> Tensor:
    """Random integers, uniform on ``[minval, maxval)``.

    Args:
        shape: Shape of the result.
        minval: Lower bound (included).
        maxval: Upper bound (excluded).
        dtype: An integer dtype (default int32).
        seed: An int (stateless), a `SeedGenerator` (stateful) or None (the global one).

    Returns:
        A Tensor of ``shape``.

    Examples:
        >>> sorted(set(randint((100,), 0, 3, seed=0).numpy().tolist()))
        [0, 1, 2]
    """
    where = "tapegrad.random.randint"
    resolved = _dtype(dtype, where, "iu", "int32")
    for name, value in (("minval", minval), ("maxval", maxval)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValueError(f"{where}: {name} must be an int, got {value!r}")
    if minval >= maxval:
        raise ValueError(
            f"{where}: minval must be below maxval, got minval={minval}, maxval={maxval}"
        )
    info = np.iinfo(resolved)
    if minval < info.min or maxval - 1 > info.max:
        raise ValueError(
            f"{where}: [minval, maxval) = [{minval}, {maxval}) does not fit dtype {resolved.name}"
        )
    return _draw(seed, where, int(minval), int(maxval), "randint", _shape(shape, where), resolved)


def categorical(logits: Any, num_samples: int, dtype: Any = "int32", seed: Any = None) -> Tensor:
    """Class indices drawn from the softmax of each row of ``logits``.

    Args:
        logits: Array of shape ``(batch, num_classes)``: unnormalised log-probabilities.
        num_samples: Samples per row.
        dtype: An integer dtype (default int32).
        seed: An int (stateless), a `SeedGenerator` (stateful) or None (the global one).

    Returns:
        A Tensor of shape ``(batch, num_samples)``.

    Examples:
        >>> categorical([[0.0, 50.0]], 4, seed=0).numpy().tolist()
        [[1, 1, 1, 1]]
    """
    where = "tapegrad.random.categorical"
    values = _number(logits, where, "logits")
    rank = len(np.shape(values._value if isinstance(values, Tensor) else values))
    if rank != 2:
        raise ValueError(
            f"{where}: logits should be a 2-D tensor with shape "
            f"[batch_size, num_classes], got shape {np.shape(values)}"
        )
    if (
        isinstance(num_samples, bool)
        or not isinstance(num_samples, int | np.integer)
        or num_samples < 0
    ):
        raise ValueError(f"{where}: num_samples must be a non-negative int, got {num_samples!r}")
    batch, classes = np.shape(values._value if isinstance(values, Tensor) else values)
    if classes == 0:
        raise ValueError(f"{where}: logits have no classes (shape {(batch, classes)})")
    return _draw(
        seed,
        where,
        values,
        0,
        "categorical",
        (int(batch), int(num_samples)),
        _dtype(dtype, where, "iu", "int32"),
    )


def dropout(
    inputs: Any, rate: float, noise_shape: Sequence[int | None] | None = None, seed: Any = None
) -> Any:
    """Zero each element with probability ``rate``; scale the rest by ``1 / (1 - rate)``.

    Args:
        inputs: A float Tensor or array (the gradient flows through the kept elements).
        rate: Drop probability in [0, 1].
        noise_shape: Shape of the mask, broadcast against ``inputs``; None entries take
            the input's size (``(batch, 1, features)`` shares a mask across time).
        seed: An int (stateless), a `SeedGenerator` (stateful) or None (the global one).

    Returns:
        A Tensor like ``inputs``.

    Examples:
        >>> import numpy as np
        >>> from tapegrad.random import SeedGenerator
        >>> out = dropout(np.ones(1000, np.float32), 0.5, seed=SeedGenerator(0)).numpy()
        >>> sorted(set(out.tolist()))
        [0.0, 2.0]
    """
    import tapegrad.numpy as tnp

    where = "tapegrad.random.dropout"
    if (
        isinstance(rate, bool)
        or not isinstance(rate, int | float | np.number)
        or not 0 <= rate <= 1
    ):
        raise ValueError(f"{where}: rate must be a number in [0, 1], got {rate!r}")
    x = inputs if isinstance(inputs, Tensor) else Tensor(inputs)
    if x.dtype.kind != "f":
        raise ValueError(f"{where}: inputs must be floats, got dtype {x.dtype.name}")
    shape = tuple(x.shape)
    if noise_shape is not None:
        if (
            isinstance(noise_shape, str)
            or not isinstance(noise_shape, Sequence)
            or len(noise_shape) != len(shape)
        ):
            raise ValueError(
                f"{where}: noise_shape {noise_shape!r} must have one entry per "
                f"axis of inputs {shape}"
            )
        resolved = tuple(s if n is None else n for s, n in zip(shape, noise_shape, strict=True))
        mask_shape = _shape(resolved, where)
        if any(m not in (1, s) for m, s in zip(mask_shape, shape, strict=True)):
            raise ValueError(
                f"{where}: noise_shape {tuple(noise_shape)} does not broadcast to inputs {shape}"
            )
    else:
        mask_shape = shape
    if rate == 1:
        return tnp.zeros_like(x)
    if rate == 0:
        return x
    keep_prob = 1.0 - float(rate)
    keep = _draw(seed, where, keep_prob, 0, "dropout_keep", mask_shape, "bool")
    return tnp.where(keep, x / x.dtype.type(keep_prob), x.dtype.type(0))


def shuffle(x: Any, axis: int = 0, seed: Any = None) -> Any:
    """Shuffle each slice of ``x`` along ``axis`` (independently, as Keras' NumPy backend).

    Args:
        x: A Tensor or array.
        axis: The axis to shuffle along.
        seed: An int (stateless), a `SeedGenerator` (stateful) or None (the global one).

    Returns:
        A Tensor like ``x`` (differentiable: a gather).

    Examples:
        >>> sorted(shuffle([1, 2, 3, 4], seed=0).numpy().tolist())
        [1, 2, 3, 4]
    """
    import tapegrad.numpy as tnp

    where = "tapegrad.random.shuffle"
    tensor = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    shape = tuple(tensor.shape)
    if (
        isinstance(axis, bool)
        or not isinstance(axis, int | np.integer)
        or not -len(shape) <= axis < len(shape)
    ):
        raise ValueError(
            f"{where}: axis {axis!r} is out of range for an input of rank {len(shape)}"
        )
    axis = int(axis) % len(shape)
    order = _draw(seed, where, 0, axis, "permuted", shape, "int64")
    return tnp.take_along_axis(tensor, order, axis=axis)


def gamma(shape: Any, alpha: Any, dtype: Any = None, seed: Any = None) -> Tensor:
    """Samples of a Gamma distribution of shape parameter ``alpha`` (scale 1).

    Args:
        shape: Shape of the result.
        alpha: Positive number or array broadcastable to ``shape``.
        dtype: A float dtype (default float32).
        seed: An int (stateless), a `SeedGenerator` (stateful) or None (the global one).

    Returns:
        A Tensor of ``shape``.

    Examples:
        >>> bool((gamma((50,), alpha=2.0, seed=0).numpy() > 0).all())
        True
    """
    where = "tapegrad.random.gamma"
    value = _positive(alpha, where, "alpha")
    return _draw(
        seed, where, value, 0, "gamma", _shape(shape, where), _dtype(dtype, where, "f", "float32")
    )


def beta(shape: Any, alpha: Any, beta: Any, dtype: Any = None, seed: Any = None) -> Tensor:
    """Samples of a Beta distribution.

    Args:
        shape: Shape of the result.
        alpha: Positive number or array (broadcastable to ``shape``).
        beta: Positive number or array (broadcastable to ``shape``).
        dtype: A float dtype (default float32).
        seed: An int (stateless), a `SeedGenerator` (stateful) or None (the global one).

    Returns:
        A Tensor of ``shape`` with values in [0, 1].

    Examples:
        >>> x = beta((50,), alpha=2.0, beta=3.0, seed=0).numpy()
        >>> bool(((x >= 0) & (x <= 1)).all())
        True
    """
    where = "tapegrad.random.beta"
    a, b = _positive(alpha, where, "alpha"), _positive(beta, where, "beta")
    return _draw(
        seed, where, a, b, "beta", _shape(shape, where), _dtype(dtype, where, "f", "float32")
    )


def binomial(
    shape: Any, counts: Any, probabilities: Any, dtype: Any = None, seed: Any = None
) -> Tensor:
    """Samples of a Binomial distribution: successes in ``counts`` trials.

    Args:
        shape: Shape of the result.
        counts: Number of trials (non-negative number or array, broadcastable).
        probabilities: Success probability of a trial, in [0, 1] (number or array).
        dtype: A float dtype (default float32).
        seed: An int (stateless), a `SeedGenerator` (stateful) or None (the global one).

    Returns:
        A Tensor of ``shape``.

    Examples:
        >>> binomial((3,), counts=5, probabilities=1.0, seed=0).numpy().tolist()
        [5.0, 5.0, 5.0]
    """
    where = "tapegrad.random.binomial"
    n = _number(counts, where, "counts")
    p = _number(probabilities, where, "probabilities")
    if not isinstance(n, Tensor):
        arr = np.asarray(n)
        if (arr < 0).any() or (arr != np.floor(arr)).any():
            raise ValueError(f"{where}: counts must be non-negative whole numbers, got {counts!r}")
        n = arr.astype(np.int64)
    if not isinstance(p, Tensor) and not ((np.asarray(p) >= 0) & (np.asarray(p) <= 1)).all():
        raise ValueError(f"{where}: probabilities must be in [0, 1], got {probabilities!r}")
    return _draw(
        seed, where, n, p, "binomial", _shape(shape, where), _dtype(dtype, where, "f", "float32")
    )


def _positive(value: Any, where: str, name: str) -> Any:
    checked = _number(value, where, name)
    if not isinstance(checked, Tensor) and not (np.asarray(checked) > 0).all():
        raise ValueError(f"{where}: {name} must be positive, got {value!r}")
    return checked

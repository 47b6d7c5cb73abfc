"""The seeded initializers: `RandomNormal`, `TruncatedNormal`, `RandomUniform`,
`VarianceScaling` and its fixed forms (Glorot, He, Lecun), `Orthogonal`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad.nn.initializers.initializer import Initializer, _dtype, _shape, compute_fans

# The standard deviation of a standard normal truncated to [-2, 2]: dividing by it
# gives truncated samples the requested variance (as Keras' VarianceScaling does).
_TRUNCATED_STD = 0.87962566103423978


class RandomInitializer(Initializer):
    """Base of the random initializers: holds the seed and makes the generator.

    Args:
        seed: An int for reproducible values, or ``None`` (a seed drawn once, now).
    """

    def __init__(self, seed: int | None = None) -> None:
        if seed is not None and not isinstance(seed, int | np.integer):
            raise ValueError(f"{type(self).__name__}: seed must be an int or None, got {seed!r}")
        self._init_seed = None if seed is None else int(seed)
        self.seed = self._init_seed if seed is not None else int(np.random.randint(0, 2**31 - 1))

    def _generator(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)

    def _float_dtype(self, dtype: Any) -> np.dtype:
        dtype = _dtype(dtype)
        if dtype.kind != "f":
            raise ValueError(
                f"{type(self).__name__}: random values need a float dtype, got {dtype}"
            )
        return dtype

    def get_config(self) -> dict[str, Any]:
        return {"seed": self._init_seed}


def _truncated_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal samples redrawn until all lie in [-2, 2] (as TF/Keras)."""
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2.0
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2.0
    return values


class RandomNormal(RandomInitializer):
    """Normal distribution.

    Args:
        mean: Mean.
        stddev: Standard deviation.
        seed: Int seed (``None``: drawn once at construction).

    Examples:
        >>> init = RandomNormal(stddev=1.0, seed=0)
        >>> bool((init((2, 2)) == init((2, 2))).all())
        True
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean = mean
        self.stddev = stddev

    def __call__(self, shape: int | Sequence[int], dtype: Any = None) -> np.ndarray:
        dtype = self._float_dtype(dtype)
        values = self._generator().normal(self.mean, self.stddev, _shape(shape))
        return values.astype(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(RandomInitializer):
    """Normal distribution with values beyond two standard deviations redrawn.

    Args:
        mean: Mean (of the untruncated distribution).
        stddev: Standard deviation (of the untruncated distribution).
        seed: Int seed (``None``: drawn once at construction).

    Examples:
        >>> bool(abs(TruncatedNormal(stddev=1.0, seed=1)((1000,))).max() <= 2.0)
        True
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean = mean
        self.stddev = stddev

    def __call__(self, shape: int | Sequence[int], dtype: Any = None) -> np.ndarray:
        dtype = self._float_dtype(dtype)
        values = _truncated_normal(self._generator(), _shape(shape))
        return (self.mean + self.stddev * values).astype(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(RandomInitializer):
    """Uniform distribution on ``[minval, maxval)``.

    Args:
        minval: Lower bound.
        maxval: Upper bound.
        seed: Int seed (``None``: drawn once at construction).

    Examples:
        >>> values = RandomUniform(-1.0, 1.0, seed=0)((1000,))
        >>> bool(values.min() >= -1.0 and values.max() < 1.0)
        True
    """

    def __init__(
        self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None
    ) -> None:
        super().__init__(seed)
        self.minval = minval
        self.maxval = maxval

    def __call__(self, shape: int | Sequence[int], dtype: Any = None) -> np.ndarray:
        dtype = self._float_dtype(dtype)
        values = self._generator().uniform(self.minval, self.maxval, _shape(shape))
        return values.astype(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


def _axes(owner: str, name: str, axes: Any) -> list[int] | None:
    """``axes`` as a list of ints (None stays None); anything else is refused by name."""
    if axes is None:
        return None
    if isinstance(axes, int | np.integer) and not isinstance(axes, bool):
        return [int(axes)]
    try:
        out = [int(a) for a in axes if not isinstance(a, bool) and int(a) == a]
    except (TypeError, ValueError):
        out = None
    if out is None or len(out) != len(axes):
        raise ValueError(f"{owner}: {name} must be a list of ints, got {name}={axes!r}")
    return out


class VarianceScaling(RandomInitializer):
    """Samples scaled to the weight's fans: variance ``scale / n``.

    ``n`` is the fan-in, the fan-out or their average (``mode``). With
    ``distribution="truncated_normal"`` the samples are truncated at two standard
    deviations and rescaled so that their variance is still ``scale / n``; with
    ``"uniform"`` they lie in ``[-limit, limit]``, ``limit = sqrt(3 * scale / n)``.

    Args:
        scale: Positive scaling factor.
        mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``.
        distribution: ``"truncated_normal"``, ``"untruncated_normal"`` or ``"uniform"``
            (``"normal"`` means truncated, as in Keras).
        seed: Int seed (``None``: drawn once at construction).
        input_axes: With ``output_axes``, the axes of the weight whose sizes make the
            fan-in (see `compute_fans`); by default the layout is guessed from the rank.
        output_axes: With ``input_axes``, the axes of the fan-out.

    Examples:
        >>> init = VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform", seed=0)
        >>> bool(abs(init((50, 10))).max() <= (3 * 2.0 / 50) ** 0.5)
        True
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
        input_axes: Sequence[int] | None = None,
        output_axes: Sequence[int] | None = None,
    ) -> None:
        super().__init__(seed)
        name = type(self).__name__
        if not scale > 0.0:
            raise ValueError(f"{name}: scale must be a positive float, got {scale!r}")
        if mode not in self._MODES:
            raise ValueError(f"{name}: mode must be one of {self._MODES}, got {mode!r}")
        distribution = str(distribution).lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(
                f"{name}: distribution must be one of {self._DISTRIBUTIONS}, got {distribution!r}"
            )
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.input_axes = _axes(name, "input_axes", input_axes)
        self.output_axes = _axes(name, "output_axes", output_axes)

    def __call__(self, shape: int | Sequence[int], dtype: Any = None) -> np.ndarray:
        dtype = self._float_dtype(dtype)
        shape = _shape(shape)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
        variance = self.scale / max(1.0, fan[self.mode])
        rng = self._generator()
        if self.distribution == "truncated_normal":
            values = _truncated_normal(rng, shape) * (math.sqrt(variance) / _TRUNCATED_STD)
        elif self.distribution == "untruncated_normal":
            values = rng.normal(0.0, math.sqrt(variance), shape)
        else:
            limit = math.sqrt(3.0 * variance)
            values = rng.uniform(-limit, limit, shape)
        return values.astype(dtype)

    def get_config(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            **super().get_config(),
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _FixedVarianceScaling(VarianceScaling):
    """A `VarianceScaling` preset: only the seed is configurable."""

    _PRESET: tuple[float, str, str] = (1.0, "fan_in", "truncated_normal")

    def __init__(
        self,
        seed: int | None = None,
        input_axes: Sequence[int] | None = None,
        output_axes: Sequence[int] | None = None,
    ) -> None:
        scale, mode, distribution = self._PRESET
        super().__init__(
            scale=scale,
            mode=mode,
            distribution=distribution,
            seed=seed,
            input_axes=input_axes,
            output_axes=output_axes,
        )

    def get_config(self) -> dict[str, Any]:
        return {
            "seed": self._init_seed,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class GlorotUniform(_FixedVarianceScaling):
    """Glorot (Xavier) uniform: ``U(-limit, limit)``, ``limit = sqrt(6 / (fan_in + fan_out))``.

    Examples:
        >>> bool(abs(GlorotUniform(seed=0)((30, 20))).max() <= (6 / 50) ** 0.5)
        True
    """

    _PRESET = (1.0, "fan_avg", "uniform")


class GlorotNormal(_FixedVarianceScaling):
    """Glorot (Xavier) normal: truncated, ``stddev = sqrt(2 / (fan_in + fan_out))``.

    Examples:
        >>> GlorotNormal(seed=0)((4, 4)).shape
        (4, 4)
    """

    _PRESET = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_FixedVarianceScaling):
    """He uniform: ``U(-limit, limit)``, ``limit = sqrt(6 / fan_in)``.

    Examples:
        >>> bool(abs(HeUniform(seed=0)((24, 8))).max() <= 0.5)
        True
    """

    _PRESET = (2.0, "fan_in", "uniform")


class HeNormal(_FixedVarianceScaling):
    """He normal: truncated, ``stddev = sqrt(2 / fan_in)``.

    Examples:
        >>> HeNormal(seed=0)((4, 4)).dtype
        dtype('float32')
    """

    _PRESET = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_FixedVarianceScaling):
    """LeCun uniform: ``U(-limit, limit)``, ``limit = sqrt(3 / fan_in)``.

    Examples:
        >>> bool(abs(LecunUniform(seed=0)((12, 8))).max() <= 0.5)
        True
    """

    _PRESET = (1.0, "fan_in", "uniform")


class LecunNormal(_FixedVarianceScaling):
    """LeCun normal: truncated, ``stddev = sqrt(1 / fan_in)``.

    Examples:
        >>> LecunNormal(seed=0)((4, 4)).shape
        (4, 4)
    """

    _PRESET = (1.0, "fan_in", "truncated_normal")


class Orthogonal(RandomInitializer):
    """A random orthogonal matrix (``gain`` times), from the QR decomposition of normals.

    Shapes of rank > 2 are treated as ``(prod(shape[:-1]), shape[-1])`` matrices.

    Args:
        gain: Multiplier of the orthogonal matrix.
        seed: Int seed (``None``: drawn once at construction).

    Examples:
        >>> q = Orthogonal(seed=0)((3, 3))
        >>> bool(np.allclose(q @ q.T, np.eye(3), atol=1e-6))
        True
    """

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape: int | Sequence[int], dtype: Any = None) -> np.ndarray:
        dtype = self._float_dtype(dtype)
        shape = _shape(shape)
        if len(shape) < 2:
            raise ValueError(
                f"Orthogonal: the shape must be at least 2-D, got shape {shape} "
                f"of rank {len(shape)}"
            )
        rows, cols = math.prod(shape[:-1]), shape[-1]
        normal = self._generator().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(normal)
        # Sign fix: makes the distribution uniform over orthogonal matrices (Mezzadri 2007).
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, **super().get_config()}

"""Learning-rate schedules: callables from the optimizer step to a learning rate (Keras 3).

A schedule is passed as an optimizer's ``learning_rate``; the optimizer calls it with its
``iterations`` Variable before each update. Schedules are written with ``tapegrad.numpy`` ops
(no Python branching on the step), so a traced training step stays one graph. They compute
in float64; the optimizer casts the rate to each variable's dtype.
"""

from __future__ import annotations

import math
from typing import Any

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.nn.validation import check_bool, check_number

__all__ = [
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "deserialize",
    "serialize",
]


def _as_float(step: Any) -> Any:
    """The step as a float64 Tensor; a Tensor step stays an op so tracing sees it."""
    if isinstance(step, tg.Tensor):
        return tnp.astype(step, tnp.float64)
    return tg.tensor(step, dtype=tnp.float64)


class LearningRateSchedule:
    """Base class: a serializable callable ``step -> learning rate``.

    Subclasses implement ``__call__(step)`` with tapegrad ops and ``get_config()``.

    Examples:
        >>> from tapegrad.nn.optimizers.schedules import LearningRateSchedule
        >>> class InverseStep(LearningRateSchedule):
        ...     def __init__(self, initial_learning_rate):
        ...         self.initial_learning_rate = initial_learning_rate
        ...     def __call__(self, step):
        ...         return self.initial_learning_rate / (step + 1)
        ...     def get_config(self):
        ...         return {"initial_learning_rate": self.initial_learning_rate}
        >>> float(InverseStep(0.1)(4))
        0.02
    """

    def __call__(self, step: Any) -> Any:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`"
        )

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-friendly dict."""
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()` "
            "to be serializable"
        )

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        """Rebuild a schedule from ``get_config()``'s output.

        Args:
            config: The dict returned by ``get_config()``.

        Returns:
            A new schedule of this class.
        """
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _check_positive(owner: str, name: str, value: Any) -> None:
    check_number(owner, name, value, low=0.0, low_open=True)


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    Args:
        initial_learning_rate: The rate at step 0.
        decay_steps: Steps over which the rate is multiplied by ``decay_rate`` (> 0).
        decay_rate: The decay factor.
        staircase: If True, ``step / decay_steps`` is floored: the rate drops in steps.
        name: Name of the schedule.

    Returns:
        Called with a step, a float64 scalar Tensor.

    Examples:
        >>> from tapegrad.nn.optimizers.schedules import ExponentialDecay
        >>> schedule = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
        >>> float(schedule(0)), float(schedule(10)), float(schedule(20))
        (0.1, 0.05, 0.025)
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "ExponentialDecay",
    ) -> None:
        owner = type(self).__name__
        _check_positive(owner, "decay_steps", decay_steps)
        check_number(owner, "initial_learning_rate", initial_learning_rate, low=0.0)
        check_number(owner, "decay_rate", decay_rate, low=0.0)
        check_bool(owner, "staircase", staircase)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step: Any) -> Any:
        p = _as_float(step) / float(self.decay_steps)
        if self.staircase:
            p = tnp.floor(p)
        return float(self.initial_learning_rate) * tnp.power(float(self.decay_rate), p)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a dict."""
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup, then cosine decay (Loshchilov & Hutter, SGDR).

    Without ``warmup_target`` the rate decays from ``initial_learning_rate`` to
    ``initial_learning_rate * alpha`` over ``decay_steps``. With it, the rate first rises
    linearly from ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``, then
    decays from ``warmup_target`` to ``warmup_target * alpha`` over ``decay_steps``::

        decayed(s) = lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * min(s, decay_steps)
                                                          / decay_steps)) + alpha)

    Args:
        initial_learning_rate: The rate at step 0.
        decay_steps: Number of steps to decay over (> 0).
        alpha: Final rate as a fraction of the rate the decay starts from.
        name: Name of the schedule.
        warmup_target: The rate reached at the end of warmup; None skips warmup.
        warmup_steps: Number of warmup steps.

    Returns:
        Called with a step, a float64 scalar Tensor.

    Examples:
        >>> from tapegrad.nn.optimizers.schedules import CosineDecay
        >>> schedule = CosineDecay(0.0, decay_steps=10, warmup_target=1.0, warmup_steps=4)
        >>> [round(float(schedule(s)), 3) for s in (0, 2, 4, 9, 14, 100)]
        [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ) -> None:
        _check_positive(type(self).__name__, "decay_steps", decay_steps)
        check_number("CosineDecay", "initial_learning_rate", initial_learning_rate, low=0.0)
        check_number("CosineDecay", "alpha", alpha, low=0.0, high=1.0)
        check_number("CosineDecay", "warmup_target", warmup_target, low=0.0, allow_none=True)
        check_number("CosineDecay", "warmup_steps", warmup_steps, low=0.0)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decayed(self, step: Any, decay_from: float) -> Any:
        completed = step / float(self.decay_steps)
        cosine = 0.5 * (1.0 + tnp.cos(math.pi * completed))
        return decay_from * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: Any) -> Any:
        step = _as_float(step)
        initial = float(self.initial_learning_rate)
        if self.warmup_target is None:
            return self._decayed(tnp.minimum(step, float(self.decay_steps)), initial)
        target = float(self.warmup_target)
        warmup_steps = float(self.warmup_steps)
        step = tnp.minimum(step, float(self.decay_steps) + warmup_steps)
        # max(.., 1) keeps the unused warmup branch finite when warmup_steps is 0.
        warmup = (target - initial) * (step / max(warmup_steps, 1.0)) + initial
        decayed = self._decayed(step - warmup_steps, target)
        return tnp.where(step < warmup_steps, warmup, decayed)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a dict."""
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant rate per interval of steps.

    The rate is ``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, and ``values[-1]`` after the last boundary.

    Args:
        boundaries: Strictly increasing step numbers.
        values: One more value than boundaries.
        name: Name of the schedule.

    Returns:
        Called with a step, a float64 scalar Tensor.

    Examples:
        >>> from tapegrad.nn.optimizers.schedules import PiecewiseConstantDecay
        >>> schedule = PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
        >>> [float(schedule(s)) for s in (0, 10, 11, 20, 21)]
        [1.0, 1.0, 0.5, 0.5, 0.1]
    """

    def __init__(
        self, boundaries: list[int], values: list[float], name: str = "PiecewiseConstant"
    ) -> None:
        boundaries, values = list(boundaries), list(values)
        for boundary in boundaries:
            check_number("PiecewiseConstantDecay", "boundaries", boundary)
        for value in values:
            check_number("PiecewiseConstantDecay", "values", value, low=0.0)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "PiecewiseConstantDecay: `boundaries` must have one element less than "
                f"`values`; got {len(boundaries)} boundaries {boundaries} and "
                f"{len(values)} values {values}"
            )
        steps = zip(boundaries, boundaries[1:], strict=False)
        if any(later <= earlier for earlier, later in steps):
            raise ValueError(
                f"PiecewiseConstantDecay: `boundaries` must increase strictly, got {boundaries}"
            )
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step: Any) -> Any:
        step = _as_float(step)
        rate = tnp.full((), float(self.values[-1]), dtype=tnp.float64)
        # From the last interval back, so the first boundary that holds wins.
        pairs = zip(reversed(self.boundaries), reversed(self.values[:-1]), strict=True)
        for boundary, value in pairs:
            rate = tnp.where(step <= float(boundary), float(value), rate)
        return rate

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a dict."""
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """A polynomial decay from ``initial_learning_rate`` to ``end_learning_rate``.

    ``(initial - end) * (1 - s / decay_steps) ** power + end`` with ``s = min(step,
    decay_steps)``; with ``cycle``, ``decay_steps`` is instead multiplied by
    ``ceil(step / decay_steps)`` (1 at step 0), so the decay restarts from a lower rate.

    Args:
        initial_learning_rate: The rate at step 0.
        decay_steps: Number of steps to decay over (> 0).
        end_learning_rate: The final rate.
        power: The polynomial's power.
        cycle: Whether to cycle beyond ``decay_steps``.
        name: Name of the schedule.

    Returns:
        Called with a step, a float64 scalar Tensor.

    Examples:
        >>> from tapegrad.nn.optimizers.schedules import PolynomialDecay
        >>> schedule = PolynomialDecay(1.0, decay_steps=10, end_learning_rate=0.0)
        >>> [float(schedule(s)) for s in (0, 5, 10, 20)]
        [1.0, 0.5, 0.0, 0.0]
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
        name: str = "PolynomialDecay",
    ) -> None:
        owner = type(self).__name__
        _check_positive(owner, "decay_steps", decay_steps)
        check_number(owner, "initial_learning_rate", initial_learning_rate, low=0.0)
        check_number(owner, "end_learning_rate", end_learning_rate, low=0.0)
        check_number(owner, "power", power)
        check_bool(owner, "cycle", cycle)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step: Any) -> Any:
        step = _as_float(step)
        decay_steps = float(self.decay_steps)
        if self.cycle:
            multiplier = tnp.where(step == 0, 1.0, tnp.ceil(step / decay_steps))
            fraction = step / (decay_steps * multiplier)
        else:
            fraction = tnp.minimum(step, decay_steps) / decay_steps
        initial, end = float(self.initial_learning_rate), float(self.end_learning_rate)
        return (initial - end) * tnp.power(1.0 - fraction, float(self.power)) + end

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a dict."""
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``.

    Args:
        initial_learning_rate: The rate at step 0.
        decay_steps: How often the decay is applied (> 0).
        decay_rate: The decay factor.
        staircase: If True, ``step / decay_steps`` is floored.
        name: Name of the schedule.

    Returns:
        Called with a step, a float64 scalar Tensor.

    Examples:
        >>> from tapegrad.nn.optimizers.schedules import InverseTimeDecay
        >>> schedule = InverseTimeDecay(1.0, decay_steps=2, decay_rate=0.5, staircase=True)
        >>> [float(schedule(s)) for s in (0, 1, 2, 5)]
        [1.0, 1.0, 0.6666666666666666, 0.5]
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "InverseTimeDecay",
    ) -> None:
        owner = type(self).__name__
        _check_positive(owner, "decay_steps", decay_steps)
        check_number(owner, "initial_learning_rate", initial_learning_rate, low=0.0)
        check_number(owner, "decay_rate", decay_rate, low=0.0)
        check_bool(owner, "staircase", staircase)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step: Any) -> Any:
        p = _as_float(step) / float(self.decay_steps)
        if self.staircase:
            p = tnp.floor(p)
        return float(self.initial_learning_rate) / (1.0 + float(self.decay_rate) * p)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a dict."""
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter, 2017).

    The first period lasts ``first_decay_steps``; each next one ``t_mul`` times longer and
    starts from ``m_mul`` times the previous starting rate; within a period the rate
    follows ``CosineDecay`` down to ``alpha`` times that period's starting rate.

    Args:
        initial_learning_rate: The rate at step 0.
        first_decay_steps: Length of the first period (> 0).
        t_mul: Factor of each period's length over the previous one.
        m_mul: Factor of each period's starting rate over the previous one.
        alpha: Minimum rate as a fraction of ``initial_learning_rate``.
        name: Name of the schedule.

    Returns:
        Called with a step, a float64 scalar Tensor.

    Examples:
        >>> from tapegrad.nn.optimizers.schedules import CosineDecayRestarts
        >>> schedule = CosineDecayRestarts(1.0, first_decay_steps=2, m_mul=0.5)
        >>> [round(float(schedule(s)), 4) for s in (0, 1, 2, 4, 6)]
        [1.0, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(
        self,
        initial_learning_rate: float,
        first_decay_steps: int,
        t_mul: float = 2.0,
        m_mul: float = 1.0,
        alpha: float = 0.0,
        name: str = "SGDRDecay",
    ) -> None:
        owner = type(self).__name__
        _check_positive(owner, "first_decay_steps", first_decay_steps)
        check_number(owner, "initial_learning_rate", initial_learning_rate, low=0.0)
        _check_positive(owner, "t_mul", t_mul)
        check_number(owner, "m_mul", m_mul, low=0.0)
        check_number(owner, "alpha", alpha, low=0.0, high=1.0)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step: Any) -> Any:
        completed = _as_float(step) / float(self.first_decay_steps)
        t_mul = float(self._t_mul)
        # t_mul is a Python number: the branch is chosen here, not traced.
        if t_mul == 1.0:
            i_restart = tnp.floor(completed)
            completed = completed - i_restart
        else:
            i_restart = tnp.floor(tnp.log(1.0 - completed * (1.0 - t_mul)) / math.log(t_mul))
            sum_r = (1.0 - tnp.power(t_mul, i_restart)) / (1.0 - t_mul)
            completed = (completed - sum_r) / tnp.power(t_mul, i_restart)
        m_fac = tnp.power(float(self._m_mul), i_restart)
        cosine = 0.5 * m_fac * (1.0 + tnp.cos(math.pi * completed))
        alpha = float(self.alpha)
        return float(self.initial_learning_rate) * ((1.0 - alpha) * cosine + alpha)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a dict."""
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self._t_mul,
            "m_mul": self._m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


_SCHEDULES = {
    cls.__name__: cls
    for cls in (
        LearningRateSchedule,
        ExponentialDecay,
        CosineDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
        InverseTimeDecay,
        CosineDecayRestarts,
    )
}


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """A schedule as ``{"class_name": ..., "config": ...}``.

    Args:
        schedule: A ``LearningRateSchedule``.

    Returns:
        A JSON-friendly dict that ``deserialize`` turns back into an equal schedule.

    Examples:
        >>> from tapegrad.nn.optimizers import schedules
        >>> config = schedules.serialize(schedules.PiecewiseConstantDecay([5], [1.0, 0.1]))
        >>> config["class_name"], config["config"]["values"]
        ('PiecewiseConstantDecay', [1.0, 0.1])
    """
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(
            f"schedules.serialize: expected a LearningRateSchedule, got {type(schedule).__name__}"
        )
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(
    config: dict[str, Any], custom_objects: dict[str, Any] | None = None
) -> LearningRateSchedule:
    """Rebuild a schedule from ``serialize``'s output.

    Args:
        config: ``{"class_name": ..., "config": ...}``.
        custom_objects: Optional ``{name: class}`` for user-defined schedules.

    Returns:
        A new schedule.

    Examples:
        >>> from tapegrad.nn.optimizers import schedules
        >>> s = schedules.deserialize({"class_name": "ExponentialDecay",
        ...                            "config": {"initial_learning_rate": 1.0,
        ...                                       "decay_steps": 1, "decay_rate": 0.5}})
        >>> float(s(3))
        0.125
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"schedules.deserialize: expected a dict with 'class_name' and 'config', got {config!r}"
        )
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _SCHEDULES.get(name)
    if cls is None:
        raise ValueError(
            f"schedules.deserialize: unknown schedule {name!r}; known: {sorted(_SCHEDULES)} "
            "(pass custom_objects for your own)"
        )
    return cls.from_config(dict(config.get("config", {})))

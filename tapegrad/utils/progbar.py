"""`Progbar` (Keras 3's ``keras.utils.Progbar``): a text progress bar for custom loops."""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Iterable
from typing import Any

import numpy as np


class Progbar:
    """A progress bar with running averages of values, as Keras' ``Progbar``.

    Values passed to `update` are averaged over the steps they cover, except the names in
    ``stateful_metrics``, shown as given (for metrics already averaged).

    Args:
        target: The total number of steps (None: unknown).
        width: Width of the bar, in characters.
        verbose: 0 silent, 1 a live bar (redrawn in place on a terminal, a line per update
            otherwise), 2 one line when finished.
        interval: Least seconds between two redraws.
        stateful_metrics: Names whose values are shown as they are (all others are
            averaged).
        stateless_metrics: Used when ``stateful_metrics`` is None: the only names that
            are averaged (all others are shown as they are).
        unit_name: The name of a step in the time per step.

    Examples:
        >>> bar = Progbar(target=4, verbose=0)
        >>> bar.update(1, values=[("loss", 1.0)])
        >>> bar.update(2, values=[("loss", 3.0)])
        >>> bar.average("loss")
        2.0
    """

    def __init__(
        self,
        target: int | None,
        width: int = 20,
        verbose: int = 1,
        interval: float = 0.05,
        stateful_metrics: Iterable[str] | None = None,
        stateless_metrics: Iterable[str] | None = None,
        unit_name: str = "step",
    ) -> None:
        if target is not None and (isinstance(target, bool) or not isinstance(target, int)):
            raise ValueError(f"Progbar: target must be an int or None, got {target!r}")
        if verbose not in (0, 1, 2):
            raise ValueError(f"Progbar: verbose must be 0, 1 or 2, got {verbose!r}")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        # Keras: stateless_metrics is read only when stateful_metrics is not given.
        self.stateless_metrics = (
            set(stateless_metrics)
            if stateful_metrics is None and stateless_metrics is not None
            else None
        )
        self._dynamic_display = bool(getattr(sys.stdout, "isatty", lambda: False)())
        # Keras draws its bar in place on terminals and in notebooks.
        self._dynamic_display |= "ipykernel" in sys.modules
        self._seen_so_far = 0
        self._values: dict[str, list[Any]] = {}
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step: float | None = None
        self._prev_total_width = 0

    def update(
        self, current: int, values: Iterable[tuple[str, Any]] | None = None, finalize: Any = None
    ) -> None:
        """Move the bar to step ``current`` and fold in ``values``.

        Args:
            current: The index of the current step.
            values: ``(name, value for the last step)`` pairs.
            finalize: Whether this is the last update (default: ``current >= target``).
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or []:
            if self.stateless_metrics is not None:
                stateless = name in self.stateless_metrics
            else:
                stateless = name not in self.stateful_metrics
            if not stateless or finalize:
                self._values[name] = [value, 1]
                continue
            # Averaged over the steps this update covers (at least one).
            steps = max(current - self._seen_so_far, 1)
            total = self._values.setdefault(name, [0.0, 0])
            total[0] += value * steps
            total[1] += steps
        self._seen_so_far = current
        now = time.time()
        per_step = self._step_duration(current, now)
        if self.verbose == 1 and (finalize or now - self._last_update >= self.interval):
            self._draw(current, now, per_step, finalize)
        elif self.verbose == 2 and finalize and self.target:
            digits = int(math.log10(self.target)) + 1
            line = f"{current:{digits}d}/{self.target} - {now - self._start:.0f}s -"
            line += _format_time(per_step, self.unit_name) + self._metrics_text()
            _print(line + "\n")
        self._last_update = now

    def add(self, n: int, values: Iterable[tuple[str, Any]] | None = None) -> None:
        """`update` to ``n`` steps further."""
        self.update(self._seen_so_far + n, values)

    def average(self, name: str) -> float:
        """The value shown for ``name`` (its running average, or its last stateful value)."""
        total, count = self._values[name]
        return float(np.mean(total)) / max(1, count)

    def _draw(self, current: int, now: float, per_step: float, finalize: bool) -> None:
        if self.target:
            digits = int(math.log10(self.target)) + 1
            done = int(self.width * min(current / self.target, 1.0))
            bar = f"{current:{digits}d}/{self.target} [" + "=" * done
            bar += (">" if done < self.width else "") + "." * max(self.width - done - 1, 0) + "]"
        else:
            bar = f"{current:7d}/Unknown"
        if self.target and not finalize:
            info = f" - ETA: {_format_eta(per_step * (self.target - current))}"
        else:
            info = f" - {now - self._start:.0f}s"
        info += _format_time(per_step, self.unit_name) + self._metrics_text()
        line = bar + info
        width = len(line)
        if self._dynamic_display:
            line = "\r" + line + " " * max(self._prev_total_width - width, 0)
        else:
            line += "\n" if not finalize else ""
        if finalize:
            line += "\n"
        _print(line)
        self._prev_total_width = width

    def _metrics_text(self) -> str:
        text = ""
        for name in self._values:
            average = self.average(name)
            text += f" - {name}: " + (f"{average:.4f}" if abs(average) > 1e-3 else f"{average:.4e}")
        return text

    def _step_duration(self, current: int, now: float) -> float:
        """Seconds per step; the first step (often slower: compilation) is left out once
        there are others, as Keras does."""
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_step = (now - self._time_after_first_step) / (current - 1)
        else:
            per_step = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_step


def _print(message: str) -> None:
    """To standard output, or to the ``tapegrad`` logger when interactive logging is off
    (`tapegrad.config.disable_interactive_logging`), as Keras' ``print_msg``."""
    from tapegrad import config

    if config.is_interactive_logging_enabled():
        sys.stdout.write(message)
        sys.stdout.flush()
    else:
        logging.getLogger("tapegrad").info(message.strip("\r\n"))


def _format_time(seconds: float, unit: str) -> str:
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/{unit}"
    return f" {seconds * 1e6:.0f}us/{unit}"


def _format_eta(seconds: float) -> str:
    if seconds > 3600:
        return f"{seconds // 3600:.0f}:{(seconds % 3600) // 60:02.0f}:{seconds % 60:02.0f}"
    if seconds > 60:
        return f"{seconds // 60:.0f}:{seconds % 60:02.0f}"
    return f"{seconds:.0f}s"


__all__ = ["Progbar"]

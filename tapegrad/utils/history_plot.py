"""`plot_history`: training curves of a `fit` run, one subplot per metric, train vs val.

matplotlib (the ``viz`` extra) is imported when a plot is drawn, never at
``import tapegrad``. The figure is built without pyplot, so drawing it opens no window and
touches no global backend; saving goes through matplotlib's Agg canvas.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any


def plot_history(
    history: Any,
    to_file: str | os.PathLike[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> Any:
    """Plot the loss and metrics logged per epoch by ``fit``: train against validation.

    Each metric gets its own subplot with its training curve and, when logged, its
    ``val_`` curve.

    Args:
        history: What ``model.fit`` returned (a ``History`` callback, whose ``.history``
            maps names to per-epoch values) or such a dict itself.
        to_file: Where to save the figure (png, svg, pdf, ... by extension); None saves
            nothing.
        metrics: The names to plot, without ``val_`` (default: every training name
            logged, in order, loss first).

    Returns:
        The ``matplotlib.figure.Figure`` (a notebook displays it).

    Raises:
        ImportError: matplotlib is not installed (the message says how to get it).
        ValueError: An empty history, or a metric it does not hold.

    Examples:
        >>> import os, tempfile
        >>> logs = {"loss": [0.9, 0.5, 0.3], "val_loss": [1.0, 0.7, 0.6],
        ...         "accuracy": [0.6, 0.8, 0.9], "val_accuracy": [0.5, 0.7, 0.8]}
        >>> path = os.path.join(tempfile.mkdtemp(), "history.png")
        >>> figure = plot_history(logs, to_file=path)
        >>> [axes.get_title() for axes in figure.axes]
        ['loss', 'accuracy']
        >>> os.path.getsize(path) > 0
        True
    """
    logs, epochs = _logs_and_epochs(history)
    names = _names(logs, metrics)
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError as error:
        raise ImportError(
            'plot_history needs matplotlib: pip install "tapegrad[viz]" (or matplotlib)'
        ) from error
    columns = min(len(names), 3)
    rows = math.ceil(len(names) / columns)
    figure = Figure(figsize=(4.5 * columns, 3.2 * rows), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    for index, name in enumerate(names):
        axes = grid[index // columns][index % columns]
        if name in logs:
            axes.plot(epochs[: len(logs[name])], logs[name], marker="o", label="train")
        if f"val_{name}" in logs:
            values = logs[f"val_{name}"]
            axes.plot(epochs[: len(values)], values, marker="o", label="validation")
        axes.set_title(name)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        axes.grid(alpha=0.3)
        axes.legend()
    for index in range(len(names), rows * columns):
        grid[index // columns][index % columns].set_visible(False)
    if to_file is not None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(figure)  # Agg whatever the session's backend: no display needed
        figure.savefig(os.fspath(to_file))
    return figure


def _logs_and_epochs(history: Any) -> tuple[dict[str, list[float]], list[int]]:
    """The per-epoch logs as float lists, and the 1-based epoch numbers."""
    logs = getattr(history, "history", history)
    if not isinstance(logs, Mapping):
        raise ValueError(
            "plot_history: pass what fit returned (a History) or its .history dict, got "
            f"{type(history).__name__}"
        )
    values = {str(k): [float(v) for v in _as_list(k, seq)] for k, seq in logs.items()}
    values = {k: v for k, v in values.items() if v}
    if not values:
        raise ValueError("plot_history: the history is empty (was fit run for an epoch?)")
    longest = max(len(v) for v in values.values())
    logged = list(getattr(history, "epoch", None) or [])
    # History.epoch counts from 0, as Keras; people count epochs from 1.
    epochs = [int(e) + 1 for e in logged] if len(logged) == longest else []
    return values, epochs or list(range(1, longest + 1))


def _as_list(name: Any, sequence: Any) -> list[Any]:
    try:
        return list(sequence)
    except TypeError:
        raise ValueError(
            f"plot_history: {name!r} should hold one value per epoch, got {sequence!r}"
        ) from None


def _names(logs: dict[str, list[float]], metrics: Sequence[str] | None) -> list[str]:
    train = [k for k in logs if not k.startswith("val_")]
    # A name logged for validation only (rare) still gets its subplot.
    train += [k[4:] for k in logs if k.startswith("val_") and k[4:] not in logs]
    if metrics is None:
        return sorted(train, key=lambda k: k != "loss")  # loss first, the rest in order
    if isinstance(metrics, str):
        metrics = [metrics]
    unknown = [m for m in metrics if m not in train]
    if unknown:
        raise ValueError(f"plot_history: no {unknown} in the history; it holds {train}")
    return list(metrics)


__all__ = ["plot_history"]

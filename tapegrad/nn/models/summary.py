"""Keras' ``model.summary()`` table."""

from __future__ import annotations

from typing import Any

import numpy as np

_WIDTHS = (34, 26, 12)


def _row(cells: tuple[str, str, str]) -> str:
    return "".join(cell.ljust(width) for cell, width in zip(cells, _WIDTHS, strict=True))


def _shape_text(layer: Any) -> str:
    nodes = getattr(layer, "_inbound_nodes", [])
    if nodes:
        shapes = [t.shape for t in nodes[-1].outputs]
        return str(shapes[0]) if len(shapes) == 1 else str(shapes)
    output = getattr(layer, "output", None)
    return str(output.shape) if output is not None else "?"


def summary_lines(model: Any) -> list[str]:
    """The lines of the summary: one row per layer, then the parameter totals."""
    from tapegrad.nn.layers.core import InputLayer

    rule = "=" * sum(_WIDTHS)
    lines = [
        f'Model: "{model.name}"',
        "-" * sum(_WIDTHS),
        _row(("Layer (type)", "Output Shape", "Param #")),
        rule,
    ]
    # A functional model lists its op nodes too (as Keras 3's summary does).
    operations = getattr(model, "operations", model.layers)
    # Keras lists a functional model's Input layers, not a Sequential's.
    functional = getattr(model, "_functional", False) and not hasattr(model, "_stack")
    layers = [op for op in operations if functional or not isinstance(op, InputLayer)]
    for layer in layers:
        params = sum(int(np.prod(w.shape)) for w in layer.weights) if layer.built else 0
        kind = getattr(layer, "summary_type", type(layer).__name__)
        lines.append(_row((f"{layer.name} ({kind})", _shape_text(layer), f"{params:,}")))
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    lines += [
        rule,
        f" Total params: {trainable + frozen:,}",
        f" Trainable params: {trainable:,}",
        f" Non-trainable params: {frozen:,}",
        "-" * sum(_WIDTHS),
    ]
    return lines

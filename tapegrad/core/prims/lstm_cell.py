"""The LSTM's equations, once: one step forward (`cell`), its reverse (`cell_vjp`), its
tangents (`cell_jvp`) and the reverse of its reverse (`cell_vjp_vjp`, for second
derivatives).

Written with primitives and operators, so the same lines run on arrays (the NumPy steps of
`tapegrad.core.prims.lstm`) and on Tensors (derivatives of any order). The four gate
blocks are in the canonical order `GATES` (input, forget, cell candidate, output).
"""

from __future__ import annotations

from typing import Any

from tapegrad.core.prims.elementwise import sigmoid_p, tanh_p
from tapegrad.core.tensor import shape_of

#: The gate blocks of the weights' columns, in order: input, forget, cell candidate, output.
GATES = ("i", "f", "g", "o")


def gate_block(z: Any, k: int, units: int, axis: int) -> Any:
    """Gate block ``k`` (`GATES` order) of pre-activations laid out along ``axis`` (0 or -1)."""
    part = slice(k * units, (k + 1) * units)
    return z[part] if axis == 0 else z[..., part]


def cell(z: Any, c_prev: Any, axis: int = -1) -> tuple[tuple[Any, ...], Any, Any, Any]:
    """One step from its pre-activations ``z`` (the four gate blocks along ``axis``) and the
    previous cell state: ``((i, f, g, o), c, tanh(c), h)``.

    ``i, f, o = sigmoid(z_i, z_f, z_o)``, ``g = tanh(z_g)``, ``c = f * c_prev + i * g``,
    ``h = o * tanh(c)``.

    Examples:
        >>> import numpy as np
        >>> _, c, _, h = cell(np.zeros((1, 8)), np.ones((1, 2)))
        >>> c, h.round(4)  # every sigmoid 0.5, g = 0: half the cell is forgotten
        (array([[0.5, 0.5]]), array([[0.2311, 0.2311]]))
    """
    units = shape_of(z)[axis] // 4
    i, f, o = (sigmoid_p(gate_block(z, k, units, axis)) for k in (0, 1, 3))
    g = tanh_p(gate_block(z, 2, units, axis))
    c = f * c_prev + i * g
    tanh_c = tanh_p(c)
    return (i, f, g, o), c, tanh_c, o * tanh_c


def cell_vjp(
    gates: tuple[Any, ...], tanh_c: Any, c_prev: Any, dh: Any, dc: Any
) -> tuple[tuple[Any, ...], Any]:
    """The reverse of `cell`: from the cotangents ``dh``, ``dc`` of a step's ``h`` and ``c``
    (``dc`` not yet including ``h``'s share), those of its pre-activations (the four gate
    blocks) and of ``c_prev``. (The numba backward step computes the same float operations
    in the same order.)"""
    i, f, g, o = gates
    dc = dc + (1 - tanh_c * tanh_c) * o * dh
    dz = (
        dc * g * (i - i * i),
        dc * c_prev * (f - f * f),
        dc * i * (1 - g * g),
        dh * tanh_c * (o - o * o),
    )
    return dz, dc * f


def cell_jvp(
    gates: tuple[Any, ...], tanh_c: Any, c_prev: Any, t_z: tuple[Any, ...], t_c_prev: Any
) -> tuple[Any, Any]:
    """The tangents of a step's ``c`` and ``h`` from those of its pre-activations (the four
    gate blocks) and of ``c_prev``."""
    i, f, g, o = gates
    t_i, t_f, t_g, t_o = t_z
    t_c = t_f * (f - f * f) * c_prev + f * t_c_prev + t_i * (i - i * i) * g + i * t_g * (1 - g * g)
    return t_c, t_o * (o - o * o) * tanh_c + o * (1 - tanh_c * tanh_c) * t_c


def cell_vjp_vjp(
    gates: tuple[Any, ...],
    tanh_c: Any,
    c_prev: Any,
    dh: Any,
    dc: Any,
    bar_dz: tuple[Any, ...],
    bar_dc_prev: Any,
) -> tuple[Any, ...]:
    """The reverse of `cell_vjp` (for second derivatives): from the cotangents of its
    results (``dz``'s four blocks and ``c_prev``'s cotangent), those of its arguments:
    ``((bar_i, bar_f, bar_g, bar_o), bar_tanh_c, bar_c_prev, bar_dh, bar_dc)``."""
    i, f, g, o = gates
    b_i, b_f, b_g, b_o = bar_dz
    slope_c = 1 - tanh_c * tanh_c
    dc = dc + slope_c * o * dh
    bar_dc = (
        b_i * g * (i - i * i) + b_f * c_prev * (f - f * f) + b_g * i * (1 - g * g) + bar_dc_prev * f
    )
    bar_gates = (
        b_i * dc * g * (1 - 2 * i) + b_g * dc * (1 - g * g),
        b_f * dc * c_prev * (1 - 2 * f) + bar_dc_prev * dc,
        b_i * dc * (i - i * i) - 2 * b_g * dc * i * g,
        b_o * dh * tanh_c * (1 - 2 * o) + bar_dc * slope_c * dh,
    )
    bar_tanh_c = b_o * dh * (o - o * o) - 2 * bar_dc * tanh_c * o * dh
    bar_dh = b_o * tanh_c * (o - o * o) + bar_dc * slope_c * o
    return bar_gates, bar_tanh_c, b_f * dc * (f - f * f), bar_dh, bar_dc


__all__ = ["GATES", "cell", "cell_jvp", "cell_vjp", "cell_vjp_vjp", "gate_block"]

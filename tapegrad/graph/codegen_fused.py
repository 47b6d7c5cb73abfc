"""Fused kernels in generated code: which groups of elementwise nodes run as one numba
kernel (`passes/fusion.py` forms the groups, `fused.py`'s cost model picks them), and the
lines of generated code that call the fused-kernel interpreter for one group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad.graph.codegen_analysis import Avals
from tapegrad.graph.ir import Graph
from tapegrad.graph.passes.buffers import Placement
from tapegrad.graph.passes.fusion import FusionGroup, Unit, fuse_elementwise
from tapegrad.graph.source_text import comment, describe


def fused_units(graph: Graph, live: list[int], avals: Avals, fuse: bool | str) -> list[Unit]:
    """The live nodes in scheduled order, with each group worth a kernel as one unit
    (``fuse``: as `compile_graph`'s; without numba, ``"auto"`` fuses nothing)."""
    units: list[Unit] = list(live)
    if fuse:
        from tapegrad.graph import fused

        if fused.available() or fuse is True:
            fused.require()
            groups, units = fuse_elementwise(
                graph,
                live=live,
                key=lambda n: fused.group_key(n, avals),
                max_inputs=fused.MAX_INPUTS + fused.MAX_BOOL_INPUTS,
                max_outputs=fused.MAX_OUTPUTS + 1,
            )
            chosen = [
                g
                for g in groups
                if fused.fits(g, avals) and (fuse is True or fused.worth_fusing(graph, g))
            ]
            kernels = {id(g): g for g in chosen}
            units = _expand_unchosen(units, kernels)
    return units


def _expand_unchosen(units: list[Unit], chosen: dict[int, FusionGroup]) -> list[Unit]:
    """Groups not worth a kernel run as their nodes, in the scheduled order."""
    result: list[Unit] = []
    for unit in units:
        if isinstance(unit, FusionGroup) and id(unit) not in chosen:
            result.extend(unit.nodes)
        else:
            result.append(unit)
    return result


def fused_kernel_call(
    graph: Graph,
    group: FusionGroup,
    avals: Avals,
    names: dict[int, str],
    placement: dict[int, Placement],
    bind: Callable[..., str],
    param: Callable[[Any], str],
) -> tuple[list[str], str]:
    """The generated lines running ``group`` through the fused-kernel interpreter, and the
    kernel's description; ``bind`` and ``param`` are the compiler's (globals of the
    generated module, params written out or passed by reference)."""
    from tapegrad.graph import fused

    lines: list[str] = []
    kernel = fused.build_kernel(graph, group, avals)
    vm = bind("fused_kernel", fused.interpreter())
    program = bind("_program", kernel.program)
    constants = bind("_constants", kernel.constants)
    dtype = kernel.constants.dtype
    empty = bind("_empty", np.empty(0, dtype), key=("empty", dtype.str))
    empty_bool = bind("_empty", np.empty(0, bool), key=("empty", "bool"))
    lines.append(f"    # fused: {comment(kernel.description)}")
    for index in group.nodes:
        lines.append(f"    #   {describe(graph.nodes[index], names)}")
    for value in group.outputs:
        where = placement.get(value, ("new",))
        name = names[value]
        if where[0] == "slot":
            lines.append(f"    {name} = _s{where[1]}")
        elif where[0] == "share":
            lines.append(f"    {name} = {names[where[1]]}")
        else:
            shape, out_dtype = avals[value]
            shape_text = param(tuple(int(d) for d in shape))
            lines.append(f"    {name} = np.empty({shape_text}, {bind('_dtype', out_dtype)})")
    for value, slot in zip(kernel.scalar_inputs, kernel.scalar_slots, strict=True):
        lines.append(f"    {constants}[{int(slot)}] = {names[value]}.item()")

    def flat(values: list[int], count: int, filler: str) -> list[str]:
        return [f"{names[v]}.reshape(-1)" for v in values] + [filler] * (count - len(values))

    args = [
        program,
        str(int(kernel.n_pre)),
        constants,
        str(int(kernel.size)),
        str(int(kernel.tile)),
        str(int(kernel.n_regs)),
        *flat(kernel.float_inputs, fused.MAX_INPUTS, empty),
        *flat(kernel.bool_inputs, fused.MAX_BOOL_INPUTS, empty_bool),
        *flat(kernel.float_outputs, fused.MAX_OUTPUTS, empty),
        *flat(kernel.bool_outputs, 1, empty_bool),
    ]
    lines.append(f"    {vm}({', '.join(args)})")
    return lines, kernel.description

"""`Explanation.to_dot`: the explanation as Graphviz DOT text (no dependency).

Layout of the drawing: the arguments and Variables on top; a ``forward`` cluster with one
node per primitive call (nested clusters for the layers the call ran in, ``Lambda`` layers
included); a ``backward`` cluster with one node per op of the gradient, each labelled with
the rule that produced it and the derivative it takes part in; then one node per gradient.
Solid edges carry values; dashed gray edges are forward values the backward pass keeps
(residuals). Every node has a ``tooltip``: the op, its rule and location, the shapes and
a summary of the values it computed.
"""

from __future__ import annotations

from typing import Any

from tapegrad.explain.explanation import Explanation, Step
from tapegrad.explain.text import derivative, describe_step
from tapegrad.graph.ir import Literal, format_aval
from tapegrad.utils.graphviz import dot_quote

_FORWARD_FILL = "#dbe9f6"
_BACKWARD_FILL = "#fde2cf"
_USER_FILL = "#dff0d0"
_MASK_FILL = "#f6d0d0"
_INPUT_FILL = "#eeeeee"


def node_name(explanation: Explanation, value_id: int) -> str:
    """The DOT name of the node that defines ``value_id``."""
    step = explanation.step_of(value_id)
    return f"v{value_id}" if step is None else f"n{step.index}"


def _label(explanation: Explanation, step: Step) -> str:
    node = step.node
    outs = ", ".join(
        f"{explanation.names.get(o, o)} {format_aval(s, d)}"
        for o, s, d in zip(node.outputs, node.shapes, node.dtypes, strict=True)
    )
    lines = [node.primitive, outs]
    if step.backward and step.rule is not None:
        lines.append(_clip(step.rule.text))
        lines.append(derivative(explanation, step))
    return "\n".join(lines)


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _fill(step: Step) -> str:
    if not step.backward:
        return _FORWARD_FILL
    if step.part == "mask":
        return _MASK_FILL
    return _USER_FILL if step.user_rule else _BACKWARD_FILL


def _attrs(**attrs: Any) -> str:
    return "[" + ", ".join(f"{k}={dot_quote(v)}" for k, v in attrs.items()) + "]"


def node_details(explanation: Explanation) -> dict[str, str]:
    """Hover text of each DOT node (see `Explanation.node_details`)."""
    details = {f"n{s.index}": describe_step(explanation, s) for s in explanation.steps}
    for spec in explanation.graph.inputs:
        details[f"v{spec.id}"] = _input_text(explanation, spec.id, spec.shape, spec.dtype)
    for source in explanation.sources:
        details[f"grad{source.value_id}"] = _gradient_text(explanation, source)
    return details


def _input_text(explanation: Explanation, value_id: int, shape: Any, dtype: Any) -> str:
    name = explanation.names.get(value_id, str(value_id))
    kind = "seed (the starting cotangent: ones)" if value_id in explanation.seeds else "input"
    return f"{name}: {format_aval(shape, dtype)}\n{kind}"


def _gradient_text(explanation: Explanation, source: Any) -> str:
    if source.gradient is None:
        return f"gradient of {source.name}: None ({source.reason})"
    step = explanation.step_of(source.gradient)
    where = explanation.names.get(source.gradient, "?")
    text = f"gradient of {source.name} = {where}"
    if step is not None and step.values and step.values[0] is not None:
        text += f"\nvalue: {step.values[0]}"
    return text


#: Up to this many ops, kept values are drawn as dashed edges from the forward node itself;
#: beyond it, as a dashed reference node beside the reader (Graphviz routes a long edge
#: through every rank it spans, which made a 785-node drawing take minutes instead of a
#: fraction of a second).
DIRECT_RESIDUAL_EDGES = 250


def explanation_dot(
    explanation: Explanation, rankdir: str = "TB", residual_edges: bool | None = None
) -> str:
    """See `Explanation.to_dot`."""
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"to_dot: rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}")
    if residual_edges is None:
        residual_edges = len(explanation.steps) <= DIRECT_RESIDUAL_EDGES
    details = node_details(explanation)
    names = explanation.names
    lines = [
        "digraph explanation {",
        f"  graph {_attrs(rankdir=rankdir, label=f'explain {explanation.title}', labelloc='t', fontname='Helvetica', fontsize='12', compound='true', newrank='true')};",  # noqa: E501
        f"  node {_attrs(shape='box', style='rounded,filled', fontname='Helvetica', fontsize='10')};",  # noqa: E501
        f"  edge {_attrs(fontname='Helvetica', fontsize='9', arrowsize='0.7')};",
    ]
    seeds = set(explanation.seeds)
    read = {a for s in explanation.steps for a in s.node.inputs if not isinstance(a, Literal)}
    for spec in explanation.graph.inputs:
        if spec.id in seeds or (explanation.focused and spec.id not in read):
            continue
        label = f"{names.get(spec.id, spec.id)}\n{format_aval(spec.shape, spec.dtype)}"
        lines.append(
            f"  v{spec.id} "
            + _attrs(
                label=label, shape="ellipse", fillcolor=_INPUT_FILL, tooltip=details[f"v{spec.id}"]
            )
            + ";"
        )
    for value_id, value in explanation.graph.constants.items():
        if explanation.focused and value_id not in read:
            continue
        label = f"{names.get(value_id, value_id)}\n{format_aval(value.shape, value.dtype)}"
        lines.append(f"  v{value_id} " + _attrs(label=label, shape="note", fillcolor="white") + ";")
    if explanation.focused:
        lines += _outside_values(explanation, read)
    lines += _forward_cluster(explanation, details)
    lines += _backward_cluster(explanation, details, seeds, residual_edges)
    lines += _edges(explanation, residual_edges)
    # The sweep starts from each target's seed (ones): drawing that link puts the
    # backward pass below the forward one.
    for target, seed in zip(explanation.targets, explanation.seeds, strict=False):
        lines.append(
            f"  {node_name(explanation, target)} -> v{seed} "
            + _attrs(style="dotted", arrowhead="none", tooltip="the gradient starts here: ones")
            + ";"
        )
    for source in explanation.sources:
        name = f"grad{source.value_id}"
        label = f"d/d {source.name}"
        if source.gradient is None:
            label += "\nNone"
        lines.append(
            f"  {name} "
            + _attrs(label=label, shape="box", style="bold", tooltip=details[name])
            + ";"
        )
        if source.gradient is not None:
            lines.append(f"  {node_name(explanation, source.gradient)} -> {name};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _outside_values(explanation: Explanation, read: set[int]) -> list[str]:
    """A focused view's values computed outside it: drawn as inputs of the view."""
    declared = {spec.id for spec in explanation.graph.inputs} | set(explanation.graph.constants)
    lines = []
    for node in explanation.graph.nodes:
        for out, shape, dtype in zip(node.outputs, node.shapes, node.dtypes, strict=True):
            if out in read and out not in declared and explanation.step_of(out) is None:
                name = explanation.names.get(out, str(out))
                label = f"{name}\n{format_aval(shape, dtype)}"
                tooltip = f"{name}: computed by {node.primitive} outside this view"
                lines.append(
                    f"  v{out} "
                    + _attrs(label=label, shape="ellipse", fillcolor=_INPUT_FILL, tooltip=tooltip)
                    + ";"
                )
    return lines


def _step_line(explanation: Explanation, step: Step, details: dict[str, str], indent: str) -> str:
    name = f"n{step.index}"
    return (
        f"{indent}{name} "
        + _attrs(label=_label(explanation, step), fillcolor=_fill(step), tooltip=details[name])
        + ";"
    )


def _forward_cluster(explanation: Explanation, details: dict[str, str]) -> list[str]:
    lines = [
        "  subgraph cluster_forward {",
        f"    graph {_attrs(label='forward', color='#4a7ab5', style='rounded')};",
    ]
    # Layers as nested clusters: each scope path opens the clusters it does not share
    # with the previous op's (ops of one layer call are consecutive).
    open_path: tuple[str, ...] = ()
    counter = 0
    for step in explanation.forward:
        path = step.scope
        shared = 0
        while shared < min(len(path), len(open_path)) and path[shared] == open_path[shared]:
            shared += 1
        for _ in range(len(open_path) - shared):
            lines.append("    " + "  " * (len(open_path) - 1 - _) + "}")
        for depth in range(shared, len(path)):
            counter += 1
            indent = "    " + "  " * depth
            lines.append(f"{indent}subgraph cluster_layer{counter} {{")
            lines.append(
                f"{indent}  graph "
                + _attrs(label=path[depth], style="dashed,rounded", color="#7f7f7f")
                + ";"
            )
        open_path = path
        lines.append(_step_line(explanation, step, details, "    " + "  " * len(path)))
    for depth in range(len(open_path) - 1, -1, -1):
        lines.append("    " + "  " * depth + "}")
    lines.append("  }")
    return lines


def _backward_cluster(
    explanation: Explanation, details: dict[str, str], seeds: set[int], residual_edges: bool
) -> list[str]:
    lines = [
        "  subgraph cluster_backward {",
        f"    graph {_attrs(label='backward', color='#c0662d', style='rounded')};",
    ]
    for spec in explanation.graph.inputs:
        if spec.id in seeds:
            name = explanation.names.get(spec.id, spec.id)
            label = f"{name} = 1\n{format_aval(spec.shape, spec.dtype)}"
            lines.append(
                f"    v{spec.id} "
                + _attrs(
                    label=label, shape="ellipse", fillcolor="white", tooltip=details[f"v{spec.id}"]
                )
                + ";"
            )
    for step in explanation.backward:
        lines.append(_step_line(explanation, step, details, "    "))
    if not residual_edges:
        for value_id, readers in explanation.residuals().items():
            name = explanation.names.get(value_id, str(value_id))
            kept = f"{name}, kept from the forward pass"
            for reader in readers:
                lines.append(
                    f"    kept{value_id}_{reader} "
                    + _attrs(label=f"{name}\n(kept)", style="dashed,rounded", tooltip=kept)
                    + ";"
                )
    lines.append("  }")
    return lines


def _edges(explanation: Explanation, residual_edges: bool) -> list[str]:
    kept = explanation.residuals()
    lines = []
    for step in explanation.steps:
        target = f"n{step.index}"
        seen: set[int] = set()
        for atom in step.node.inputs:
            if isinstance(atom, Literal) or atom in seen:
                continue
            seen.add(atom)
            source = node_name(explanation, atom)
            if step.backward and step.index in kept.get(atom, ()) and not residual_edges:
                lines.append(
                    f"  kept{atom}_{step.index} -> {target} " + _attrs(style="dashed") + ";"
                )
            elif step.backward and step.index in kept.get(atom, ()):
                lines.append(
                    f"  {source} -> {target} "
                    # (constraint=false: residuals do not rank the backward pass below
                    # each forward op, which keeps Graphviz's layout fast on large graphs)
                    + _attrs(
                        style="dashed",
                        color="#8c8c8c",
                        constraint="false",
                        tooltip="kept for the backward pass",
                    )
                    + ";"
                )
            else:
                lines.append(f"  {source} -> {target};")
    return lines


__all__ = ["explanation_dot", "node_details", "node_name"]

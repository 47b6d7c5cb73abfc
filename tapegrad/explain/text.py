"""`Explanation.text`: the listing — forward ops, backward ops with their rules, residuals.

One line per op in the graph IR's notation (``t1:f64[3] = multiply t0 x1``); forward ops
end with the user's source line and their layers, backward ops with the derivative they
take part in (``d t1/d t0``: the cotangent of forward value ``t1`` flowing to its argument
``t0``) and the rule's text. After them: the values the backward pass keeps from the
forward pass, the `where` masks, the gradients (and why a source has none), and the rules
used with their source locations.
"""

from __future__ import annotations

import os

from tapegrad.explain.explanation import Explanation, Step
from tapegrad.graph.ir import Literal, format_aval, format_value

_RULE_NAMES = {
    "mask": "mask",
    "unbroadcast": "unbroadcast",
    "accumulate": "sum of cotangents",
    "result": "gradient cast",
}


def explanation_text(explanation: Explanation, values: bool = True, sources: bool = True) -> str:
    """See `Explanation.text`."""
    names = explanation.names
    lines = [f"explain {explanation.title}"]
    head = _signature(explanation)
    if head:
        lines.append(head)
    consts = [
        f"{names.get(i, f'c{i}')} = {format_value(v)}"
        for i, v in explanation.graph.constants.items()
    ]
    if consts:
        lines.append("constants: " + "; ".join(consts))
    forward, backward = explanation.forward, explanation.backward
    lines.append(f"forward ({len(forward)} ops):")
    rows = [(_assignment(explanation, s), _forward_note(s, sources)) for s in forward]
    lines += _aligned(rows, [s for s in forward], values)
    targets = " + ".join(f"sum({names.get(t, t)})" for t in explanation.targets)
    wrt = ", ".join(s.name for s in explanation.sources)
    if explanation.focused:
        lines.append(f"backward ({len(backward)} ops): the ops differentiating those above")
    else:
        lines.append(f"backward ({len(backward)} ops): gradient of {targets} with respect to {wrt}")
    rows = [(_assignment(explanation, s), _backward_note(explanation, s)) for s in backward]
    lines += _aligned(rows, backward, values)
    kept = explanation.residuals()
    if kept:
        parts = []
        for value_id, readers in kept.items():
            by = ", ".join(_out_name(explanation, explanation.steps_by_index(r)) for r in readers)
            parts.append(f"{names.get(value_id, value_id)} (read by {by})")
        lines.append("kept for the backward pass: " + "; ".join(parts))
    masks = explanation.masks()
    if masks:
        lines.append(
            "where masks: "
            + ", ".join(
                f"{_out_name(explanation, s)} (for {derivative(explanation, s)})" for s in masks
            )
        )
    grads = []
    if explanation.focused and not explanation.sources:
        grads.append("none computed here")
    for source in explanation.sources:
        if source.gradient is None:
            grads.append(f"{source.name} = None ({source.reason})")
        else:
            grads.append(f"{source.name} = {names.get(source.gradient, source.gradient)}")
    lines.append("gradients: " + "; ".join(grads))
    if sources:
        used = _rules_used(explanation)
        if used:
            lines.append("rules:")
            width = max(len(label) for label, _ in used)
            lines += [f"  {label.ljust(width)}  {where}" for label, where in used]
    return "\n".join(lines)


def _signature(explanation: Explanation) -> str:
    graph, names = explanation.graph, explanation.names
    args = [f"{names[s.id]}:{format_aval(s.shape, s.dtype)}" for s in graph.arg_inputs]
    variables = [f"{names[s.id]}:{format_aval(s.shape, s.dtype)}" for s in graph.variable_inputs]
    text = ""
    if args:
        text += "arguments: " + ", ".join(args)
    if variables:
        text += ("; " if text else "") + "variables: " + ", ".join(variables)
    return text


def _assignment(explanation: Explanation, step: Step) -> str:
    names = explanation.names
    node = step.node
    outs = " ".join(
        f"{names.get(o, o)}:{format_aval(s, d)}"
        for o, s, d in zip(node.outputs, node.shapes, node.dtypes, strict=True)
    )
    params = ", ".join(f"{k}={format_value(v)}" for k, v in node.params.items() if k != "key")
    call = node.primitive + (f"[{params}]" if params else "")
    args = [
        format_value(a) if isinstance(a, Literal) else names.get(a, f"?{a}") for a in node.inputs
    ]
    return f"{outs} = {' '.join([call, *args])}"


def _forward_note(step: Step, sources: bool) -> str:
    parts = []
    if step.scope:
        parts.append("[" + "/".join(step.scope) + "]")
    if sources and step.where != "<unknown>":
        parts.append(_short_where(step.where))
    return " ".join(parts)


def _short_where(where: str) -> str:
    """``file.py:12 in f`` with the file's base name only (the rules list gives paths)."""
    path, _, rest = where.partition(":")
    return f"{os.path.basename(path)}:{rest}" if rest else where


def derivative(explanation: Explanation, step: Step) -> str:
    """``d t1/d t0``: the forward value whose cotangent the step carries, and the argument."""
    if step.differentiates is None:
        return "the gradients"
    forward = explanation.steps_by_index(step.differentiates)
    out = _out_name(explanation, forward)
    arg = "?"
    if step.argnum is not None and step.argnum < len(forward.node.inputs):
        atom = forward.node.inputs[step.argnum]
        arg = format_value(atom) if isinstance(atom, Literal) else explanation.names.get(atom, "?")
    return f"d {out}/d {arg}"


def _backward_note(explanation: Explanation, step: Step) -> str:
    if step.part is None:
        return "seed"
    rule = step.rule.text if step.rule is not None else "?"
    if step.part == "vjp" and step.differentiates is not None:
        prim = explanation.steps_by_index(step.differentiates).node.primitive
        label = f"{prim} rule"
        if step.user_rule:
            label = f"user rule {step.rule.name if step.rule else '?'}"
        return f"{derivative(explanation, step)}: {label}: {rule}"
    return f"{derivative(explanation, step)}: {_RULE_NAMES.get(step.part, step.part)}: {rule}"


def _out_name(explanation: Explanation, step: Step) -> str:
    return explanation.names.get(step.node.outputs[0], f"t{step.index}")


def _aligned(rows: list[tuple[str, str]], steps: list[Step], values: bool) -> list[str]:
    if not rows:
        return []
    width = min(max(len(left) for left, _ in rows), 48)
    lines = []
    for (left, note), step in zip(rows, steps, strict=True):
        line = f"  {left.ljust(width)}"
        if note:
            line += f"  # {note}"
        lines.append(line.rstrip())
        if values:
            shown = [str(v) for v in step.values if v is not None]
            if shown:
                lines.append(f"  {' ' * width}    = {'; '.join(shown)}")
    return lines


def _rules_used(explanation: Explanation) -> list[tuple[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for step in explanation.backward:
        if step.rule is None:
            continue
        label = step.rule.text
        seen.setdefault((label, step.rule.location), None)
    return [(label, where) for label, where in seen]


def describe_step(explanation: Explanation, step: Step) -> str:
    """A multi-line description of one step (the drawing's hover text)."""
    lines = [_assignment(explanation, step)]
    if step.backward:
        lines.append(_backward_note(explanation, step))
        if step.rule is not None:
            lines.append(f"rule at {step.rule.location}")
            if step.rule.source and step.rule.source != step.rule.text:
                lines.append(step.rule.source.rstrip())
    else:
        note = _forward_note(step, True)
        if note:
            lines.append(note)
    for k, summary in enumerate(step.values):
        if summary is not None:
            shape = format_aval(step.node.shapes[k], step.node.dtypes[k])
            lines.append(f"value {shape}: {summary}")
    return "\n".join(lines)


__all__ = ["derivative", "describe_step", "explanation_text"]

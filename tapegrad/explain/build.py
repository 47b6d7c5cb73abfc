"""Record an explanation: run the function under `ExplainTracer`, then its gradient.

The forward pass runs on traced tensors holding the call's real values; then
`tapegrad.gradients` runs the tape's reverse sweep over the recorded calls in tensor mode,
so every VJP rule's primitive calls become backward nodes, each attributed (through the
sweep's observer protocol) to the forward op and the argument it differentiates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tapegrad.core import backward as _backward
from tapegrad.core.broadcast import unbroadcast
from tapegrad.core.custom import traced_gradient_function
from tapegrad.core.primitive import active_recorders, set_recorders
from tapegrad.core.tensor import Tensor, Variable
from tapegrad.core.tracing import set_tracer
from tapegrad.core.tree import TreeDef, tree_flatten, tree_unflatten
from tapegrad.explain.explanation import Explanation, Source, Step
from tapegrad.explain.recorder import ExplainTracer
from tapegrad.explain.rules import RuleText, describe_rule, short_path, unwrap_rule
from tapegrad.graph.autodiff import gradients
from tapegrad.graph.ir import Atom, Graph, Literal
from tapegrad.graph.trace import UntraceableError

_CUSTOM = ("custom_gradient", "custom_gradient_multi")
_WALK = f"{short_path(_backward.__file__)}:{_backward.backward.__code__.co_firstlineno}"
_ENGINE_RULES = {
    "mask": RuleText("where(mask, 0, g)", _WALK, "", "mask"),
    "accumulate": RuleText("g1 + g2", _WALK, "", "accumulate"),
    "result": RuleText("cast / broadcast_to the source's dtype and shape", _WALK, "", "result"),
}

# Builds the sources once the arguments are traced: (flat sources, their display names,
# the structure of the gradients' result).
SourcePicker = Callable[[list[Any]], tuple[list[Any], list[str], TreeDef]]


def record_explanation(
    title: str,
    make_compute: Callable[[ExplainTracer], Callable[..., Any]],
    args: Sequence[Any],
    pick_sources: SourcePicker,
) -> Explanation:
    """Trace ``compute(*args)`` and the gradient of the sum of its float outputs.

    Args:
        title: What is explained (for listings and drawings).
        make_compute: Given the tracer (whose ``extra_scope`` groups ops, as
            `Model.explain` groups its loss), the function to explain; it receives
            ``args`` with every array, Tensor and Python number leaf replaced by a traced
            Tensor holding the same value.
        args: The arguments (nested lists/tuples/dicts allowed).
        pick_sources: Given the traced arguments, the Tensors or Variables to
            differentiate with respect to, their names, and the result's structure.

    Returns:
        The `Explanation`.
    """
    tracer = ExplainTracer(title)
    traced_args, arg_values = _trace_arguments(tracer, args)
    previous_tracer = set_tracer(tracer)
    previous = set_recorders(active_recorders() + (tracer,))
    try:
        with np.errstate(all="ignore"):
            result = make_compute(tracer)(*traced_args)
            out_leaves, _ = tree_flatten(result)
            targets = [
                leaf
                for leaf in out_leaves
                if isinstance(leaf, Tensor)
                and leaf._value.dtype.kind in "fc"
                and tracer.tracks(leaf)
            ]
            if not targets:
                raise ValueError(
                    f"explain({title}): no float output depends on the arguments, so there "
                    "is no gradient to explain"
                )
            sources, source_names, grad_tree = pick_sources(traced_args)
            # The seeds (ones, as the tape starts from) are inputs of the graph, so every
            # rule runs on traced tensors and each of its ops is a drawn backward node.
            seeds = []
            for leaf in targets:
                seed = tracer.add_argument(np.ones_like(leaf._value), len(arg_values))
                arg_values.append(np.array(seed._value, copy=True))
                seeds.append(seed)
            tracer.backward_phase = True
            grads = gradients(targets, list(sources), seeds)
            tracer.backward_phase = False
            outputs: list[Atom] = [_output_atom(tracer, leaf) for leaf in out_leaves]
            target_ids = [tracer.atom(t) for t in targets]
            source_ids = [tracer.atom(s) for s in sources]
            grad_atoms = [Literal(None) if g is None else tracer.atom(g) for g in grads]
    finally:
        set_recorders(previous)
        set_tracer(previous_tracer)
        tracer.restore_variables()
    if tracer.problems:
        raise UntraceableError(f"explain({title}): {tracer.problems[0]}")
    graph = Graph(
        tracer.inputs,
        tracer.nodes,
        outputs + grad_atoms,
        tracer.constants,
        captured_variables=tracer.variables,
    )
    variable_values = [np.array(v._value, copy=True) for v in tracer.variables]
    records = [
        _source(name, sid, atom, source)
        for name, sid, atom, source in zip(
            source_names, source_ids, grad_atoms, sources, strict=True
        )
    ]
    names = {
        spec.id: _variable_name(v)
        for spec, v in zip(graph.variable_inputs, tracer.variables, strict=True)
    }
    for k, spec in enumerate(graph.arg_inputs[len(graph.arg_inputs) - len(seeds) :]):
        names[spec.id] = f"g{k}" if len(seeds) > 1 else "g"
    return Explanation(
        title,
        graph,
        _steps(tracer),
        records,
        [t for t in target_ids if isinstance(t, int)],
        arg_values,
        variable_values,
        len(outputs),
        grad_tree,
        names,
        [spec.id for spec in graph.arg_inputs[len(graph.arg_inputs) - len(seeds) :]],
        tracer.drawn,
    )


def explain(
    fn: Callable[..., Any], *args: Any, argnums: int | Sequence[int] = 0, **kwargs: Any
) -> Explanation:
    """See `tapegrad.explain.explain` (the package's documented entry point)."""
    several = not isinstance(argnums, int)
    chosen: tuple[int, ...] = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for k in chosen:
        if k >= len(args) or k < -len(args):
            raise ValueError(
                f"explain: argnums {argnums!r} out of range for {len(args)} positional arguments"
            )
    chosen = tuple(k % len(args) for k in chosen)
    title = getattr(fn, "__name__", type(fn).__name__)

    def pick(traced: list[Any]) -> tuple[list[Any], list[str], TreeDef]:
        flat: list[Any] = []
        names: list[str] = []
        trees = []
        for k in chosen:
            leaves, tree = tree_flatten(traced[k])
            trees.append((len(leaves), tree))
            for j, leaf in enumerate(leaves):
                if not isinstance(leaf, Tensor):
                    raise TypeError(
                        f"explain({title}): argument {k} has a {type(leaf).__name__} leaf; "
                        "differentiate with respect to arrays, Tensors or numbers"
                    )
                flat.append(leaf)
                if isinstance(leaf, Variable):
                    names.append(_variable_name(leaf))
                else:
                    names.append(f"x{k}" if tree is None else f"x{k}[{j}]")
        return flat, names, _grad_tree(trees, several)

    def call(*traced: Any) -> Any:
        return fn(*traced, **kwargs)

    return record_explanation(title, lambda tracer: call, args, pick)


# -- pieces ----------------------------------------------------------------------------------
def _trace_arguments(tracer: ExplainTracer, args: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """Each argument with its array/number leaves traced; the raw values of those leaves."""
    traced_args: list[Any] = []
    values: list[Any] = []
    position = 0
    for arg in args:
        leaves, tree = tree_flatten(arg)
        traced_leaves = []
        for leaf in leaves:
            if isinstance(leaf, Variable):
                traced_leaves.append(leaf)  # read as state (a graph "variable" input)
            elif isinstance(leaf, Tensor | np.ndarray | np.generic | bool | int | float):
                tensor = tracer.add_argument(leaf, position)
                position += 1
                traced_leaves.append(tensor)
                values.append(np.array(tensor._value, copy=True))
            else:
                traced_leaves.append(leaf)
        traced_args.append(tree_unflatten(tree, traced_leaves))
    return traced_args, values


def _grad_tree(trees: list[tuple[int, TreeDef]], several: bool) -> TreeDef:
    if not several:
        return trees[0][1]
    return ("tuple", None, [tree for _, tree in trees])


def _output_atom(tracer: ExplainTracer, leaf: Any) -> Atom:
    if isinstance(leaf, Tensor | np.ndarray | np.generic):
        return tracer.atom(leaf)
    return Literal(leaf)


def _variable_name(variable: Variable) -> str:
    return str(getattr(variable, "path", None) or variable.name)


def _source(name: str, value_id: Atom, grad: Atom, source: Any) -> Source:
    sid = value_id if isinstance(value_id, int) else -1
    if isinstance(grad, int):
        return Source(name, sid, grad)
    dtype = source._value.dtype
    if dtype.kind not in "fc":
        reason = f"{dtype.name} input: integers and booleans get no gradient"
    else:
        reason = "the output does not depend on it"
    return Source(name, sid, None, reason)


def _steps(tracer: ExplainTracer) -> list[Step]:
    steps = []
    for index, (node, note) in enumerate(zip(tracer.nodes, tracer.notes, strict=True)):
        differentiates = argnum = part = rule = None
        user_rule = False
        if note.step is not None:
            entry, k, part = note.step
            argnum = k if k >= 0 else None
            differentiates = tracer.forward_index(entry) if entry is not None else None
            rule, user_rule = _rule_of(tracer, entry, k, part)
        steps.append(
            Step(
                index,
                node,
                note.backward,
                note.where,
                note.scope,
                note.summaries,
                differentiates,
                argnum,
                part,
                rule,
                user_rule,
            )
        )
    # Forward steps first (a nested gradient inside the function stays in the forward).
    return [s for s in steps if not s.backward] + [s for s in steps if s.backward]


def _rule_of(tracer: ExplainTracer, entry: Any, k: int, part: str) -> tuple[RuleText, bool]:
    if part == "unbroadcast":
        return describe_rule(unbroadcast), False
    if part != "vjp":
        prim = entry[0] if entry is not None else None
        if part == "mask" and prim is not None and prim.zero_mask_rule is not None:
            return describe_rule(prim.zero_mask_rule), False
        return _ENGINE_RULES[part], False
    prim, params = entry[0], entry[3]
    if prim.name in _CUSTOM:
        fn = traced_gradient_function(tracer, params.get("key", -1))
        return describe_rule(fn), fn is not None
    rules = prim.vjp_rules
    fn = rules[0] if prim.variadic and rules else (rules[k] if k < len(rules) else None)
    code = getattr(unwrap_rule(fn), "__code__", None)
    user = code is not None and not short_path(code.co_filename).startswith("tapegrad/")
    return describe_rule(fn), user


__all__ = ["SourcePicker", "explain", "record_explanation"]

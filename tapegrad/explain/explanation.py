"""`Explanation`: the forward graph of a call and the backward graph of its gradient.

An explanation holds one `Graph` of table primitives: the forward ops the function ran,
then the ops of the gradient — the VJP rules' own calls, recorded while the backward sweep
of `GradientTape` ran on traced tensors. Each node has a `Step` record: where it came from
(the user's line, the layers around it, what its values were) and, for a backward node,
the forward op it differentiates and the rule that produced it.

Because the backward nodes are what the sweep computed, `Explanation.gradients` replays
the graph (`tapegrad.graph.evaluate`) and gets the tape's gradients bit for bit.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad.core.tensor import Tensor
from tapegrad.core.tree import TreeDef, tree_unflatten
from tapegrad.explain.recorder import ValueSummary
from tapegrad.explain.rules import RuleText
from tapegrad.graph.ir import Graph, Literal, Node, evaluate, format_aval, value_names

#: What a backward step does for the forward op it belongs to.
PARTS = {
    "vjp": "the op's VJP rule",
    "mask": "keeps a where's structural zeros",
    "unbroadcast": "sums a broadcast cotangent back to the argument's shape",
    "accumulate": "adds the cotangents of a value used more than once",
    "result": "casts a gradient to its source's dtype and shape",
}


@dataclasses.dataclass(frozen=True)
class Step:
    """One node of the explanation, forward or backward.

    Attributes:
        index: Position in ``explanation.graph.nodes``.
        node: The graph node (primitive name, inputs, params, output shapes, dtypes).
        backward: A node of the gradient computation.
        where: The user's source line (``file:line in function``) the op ran from.
        scope: Names of the layers around the op, outermost first (forward nodes).
        values: A `ValueSummary` per output of what it computed on the call's data.
        differentiates: For a backward node, the index of the forward node whose
            derivative it helps compute (None for the final casts).
        argnum: Which argument of that forward op the cotangent flows to.
        part: ``"vjp"``, ``"mask"``, ``"unbroadcast"``, ``"accumulate"`` or ``"result"``
            (see `PARTS`).
        rule: The rule's text and location (table rule, ``defvjp`` maker, or the user's
            ``custom_gradient`` ``grad_fn``); engine steps name the engine's function.
        user_rule: The rule is user code (``custom_gradient``, ``defvjp``).
    """

    index: int
    node: Node
    backward: bool
    where: str
    scope: tuple[str, ...]
    values: tuple[ValueSummary | None, ...]
    differentiates: int | None = None
    argnum: int | None = None
    part: str | None = None
    rule: RuleText | None = None
    user_rule: bool = False


@dataclasses.dataclass(frozen=True)
class Source:
    """A value the gradient is taken with respect to.

    Attributes:
        name: Its name in listings (``x0``, or a Variable's name).
        value_id: Its graph value id.
        gradient: The graph value holding its gradient, or None.
        reason: Why there is no gradient (``""`` when there is one).
    """

    name: str
    value_id: int
    gradient: int | None
    reason: str = ""


class Explanation:
    """How a gradient is computed: forward graph, backward graph, the rule of each step.

    Made by `tapegrad.explain` (or `Model.explain`); see the package docstring.

    Attributes:
        title: What was explained (a function's name, a model's).
        graph: The graph of every recorded op; outputs: the function's outputs, then
            the gradients.
        steps: One `Step` per graph node, forward nodes first.
        sources: The `Source` records, in the order of `gradients`' result.
        targets: Value ids of the outputs whose sum was differentiated.
        seeds: Value ids of the starting cotangents (ones, the last ``"arg"`` inputs).
    """

    def __init__(
        self,
        title: str,
        graph: Graph,
        steps: Sequence[Step],
        sources: Sequence[Source],
        targets: Sequence[int],
        arg_values: Sequence[Any],
        variable_values: Sequence[Any],
        n_outputs: int,
        grad_tree: TreeDef,
        names: dict[int, str] | None = None,
        seeds: Sequence[int] = (),
        drawn: dict[int, np.ndarray] | None = None,
    ) -> None:
        self.title = title
        self.graph = graph
        self.steps = list(steps)
        self._by_index = {step.index: step for step in self.steps}
        self._producer = {o: step for step in self.steps for o in step.node.outputs}
        self.sources = list(sources)
        self.targets = list(targets)
        self.seeds = list(seeds)
        self._drawn = dict(drawn or {})
        self._arg_values = list(arg_values)
        self._variable_values = list(variable_values)
        self._n_outputs = n_outputs
        self._grad_tree = grad_tree
        #: A view of some layers only (`focus`): drawable, not replayable.
        self.focused = False
        #: Value ids of the forward pass: inputs (not the seeds) and forward results.
        self.forward_values = {spec.id for spec in graph.inputs} - set(self.seeds)
        for step in self.steps:
            if not step.backward:
                self.forward_values.update(step.node.outputs)
        # Rendered images by (format, dpi): an explanation never changes once made.
        self.drawings: dict[tuple[str, float | None], bytes] = {}
        self.names = dict(value_names(graph))
        self.names.update(names or {})

    # -- views ------------------------------------------------------------------------------
    @property
    def forward(self) -> list[Step]:
        """The forward steps, in execution order."""
        return [s for s in self.steps if not s.backward]

    @property
    def backward(self) -> list[Step]:
        """The backward steps, in execution order."""
        return [s for s in self.steps if s.backward]

    def residuals(self) -> dict[int, list[int]]:
        """Values of the forward pass the backward pass reads (kept for it).

        Returns:
            Value id (an argument, a Variable or a forward result) -> the indices of the
            backward steps that read it.
        """
        forward_ids = self.forward_values
        kept: dict[int, list[int]] = {}
        for step in self.backward:
            for atom in step.node.inputs:
                if not isinstance(atom, Literal) and atom in forward_ids:
                    readers = kept.setdefault(atom, [])
                    if step.index not in readers:
                        readers.append(step.index)
        return kept

    def masks(self) -> list[Step]:
        """The backward steps that keep a `where`'s structural zeros (``part == "mask"``)."""
        return [s for s in self.backward if s.part == "mask"]

    def unconnected(self) -> list[Source]:
        """The sources without a gradient (integer/bool inputs, or not reached)."""
        return [s for s in self.sources if s.gradient is None]

    def step_of(self, value_id: int) -> Step | None:
        """The step computing ``value_id`` (None for inputs and constants)."""
        return self._producer.get(value_id)

    def steps_by_index(self, index: int) -> Step:
        """The step of graph node ``index``."""
        return self._by_index[index]

    def layers(self) -> list[str]:
        """Names of the layers the forward ops ran in (outer layers first, each once)."""
        found: dict[str, None] = {}
        for step in self.forward:
            for name in step.scope:
                found.setdefault(name, None)
        return list(found)

    def focus(self, layer: str) -> Explanation:
        """A view of one layer: its forward ops and the backward ops differentiating them.

        Values computed outside the layer appear as inputs of the view; the gradients
        listed are those of weights whose gradient the layer's backward ops produce. The
        view draws and lists like an explanation (`text`, `to_dot`, `save`) but does not
        replay (`gradients` needs the whole graph).

        Args:
            layer: A layer name (one of `layers`), e.g. a ``Lambda``'s.

        Returns:
            The focused `Explanation`.

        Raises:
            ValueError: no forward op ran in a layer of that name.
        """
        forward = {s.index for s in self.forward if layer in s.scope}
        if not forward:
            raise ValueError(
                f"Explanation.focus: no op ran in a layer named {layer!r}; the layers are "
                f"{self.layers()}"
            )
        kept = [
            s
            for s in self.steps
            if s.index in forward or (s.backward and s.differentiates in forward)
        ]
        produced = {o for s in kept for o in s.node.outputs}
        view = Explanation(
            f"{self.title}, layer {layer}",
            self.graph,
            kept,
            [s for s in self.sources if s.gradient in produced],
            [],
            self._arg_values,
            self._variable_values,
            self._n_outputs,
            self._grad_tree,
            self.names,
            [],
        )
        view.focused = True
        view.forward_values = self.forward_values
        return view

    # -- faithful replay ------------------------------------------------------------------------
    def gradients(self) -> Any:
        """Re-run the drawn graph on the explained call's values; return its gradients.

        The graph is replayed node by node (`tapegrad.graph.evaluate`): the forward ops,
        then the backward ones exactly as drawn, so the result equals what
        `GradientTape.gradient` returns for the same call, bit for bit. Random draws
        (dropout masks) are those of the explained call.

        Returns:
            The gradients with the structure of the sources (arrays; None where a source
            has no gradient).
        """
        if self.focused:
            raise ValueError(
                f"Explanation of {self.title} is a focused view (some layers only): call "
                "gradients() on the whole explanation"
            )
        graph = self.graph
        if self._drawn:
            # Random draws (dropout masks) replay as the explained call drew them.
            graph = Graph(
                graph.inputs,
                [n for n in graph.nodes if not set(n.outputs) <= set(self._drawn)],
                graph.outputs,
                {**graph.constants, **self._drawn},
                captured_variables=graph.captured_variables,
            )
        with np.errstate(all="ignore"):
            flat = evaluate(graph, self._arg_values, self._variable_values)
        grads = [
            None if g is None else np.asarray(g._value if isinstance(g, Tensor) else g)
            for g in flat[self._n_outputs :]
        ]
        return tree_unflatten(self._grad_tree, grads)

    # -- outputs -----------------------------------------------------------------------------
    def text(self, values: bool = True, sources: bool = True) -> str:
        """A readable listing: forward ops, backward ops with their rules, residuals.

        Args:
            values: Show each op's value summary (min, max, mean, NaNs).
            sources: Show the user's source lines and the rules' locations.

        Returns:
            The listing (see `tapegrad.explain` for an example).
        """
        from tapegrad.explain.text import explanation_text

        return explanation_text(self, values=values, sources=sources)

    def to_dot(self, rankdir: str = "TB", residual_edges: bool | None = None) -> str:
        """The explanation as a Graphviz DOT graph (no dependency needed).

        Forward and backward ops sit in two clusters, layers in nested clusters; each
        node is labelled with its primitive, output name, dtype and shape (a backward
        node also with its rule and ``d t1/d t0``), its tooltip carries rule, shapes and
        values; dashed edges are forward values kept for the backward pass.

        Args:
            rankdir: Graphviz's direction: ``"TB"`` (top to bottom), ``"LR"``, ...
            residual_edges: Draw each kept value as a dashed edge from the forward node
                (True) or from a dashed ``(kept)`` node beside its reader (False, which
                Graphviz lays out much faster). Default: edges up to 250 ops.

        Returns:
            The DOT text.
        """
        from tapegrad.explain.dot import explanation_dot

        return explanation_dot(self, rankdir=rankdir, residual_edges=residual_edges)

    def node_details(self) -> dict[str, str]:
        """Hover text of each DOT node, keyed by its DOT name (for the HTML page)."""
        from tapegrad.explain.dot import node_details

        return node_details(self)

    def save(self, path: str | os.PathLike[str], dpi: float | None = None) -> str:
        """Write the explanation to ``path``, in the format its extension names.

        ``.txt`` (the listing) and ``.dot`` need nothing; ``.svg``, ``.png``, ``.pdf``
        and ``.html`` (a self-contained page: the SVG inline, hover shows rule, shapes
        and values) need Graphviz: the ``dot`` program or ``pip install "tapegrad[viz]"``.

        Args:
            path: The file to write.
            dpi: Resolution of ``.png`` images.

        Returns:
            The path written, as a string.

        Raises:
            ValueError: an extension other than those above.
            tapegrad.utils.graphviz.GraphvizNotFoundError: an image or page was asked
                for and no Graphviz is installed (the message says how to get one).
        """
        from tapegrad.explain.output import save_explanation

        return save_explanation(self, path, dpi=dpi)

    def _repr_svg_(self) -> str | None:
        from tapegrad.explain.output import svg_or_none

        return svg_or_none(self)

    def _repr_html_(self) -> str:
        from tapegrad.explain.output import notebook_html

        return notebook_html(self)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return (
            f"<Explanation of {self.title}: {len(self.forward)} forward ops, "
            f"{len(self.backward)} backward ops, {len(self.sources)} sources>"
        )


def aval(step: Step, k: int = 0) -> str:
    """``f32[2,3]`` for output ``k`` of a step."""
    return format_aval(step.node.shapes[k], step.node.dtypes[k])


__all__ = ["PARTS", "Explanation", "Source", "Step", "aval"]

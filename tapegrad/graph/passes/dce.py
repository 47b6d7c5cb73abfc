"""Dead-code elimination: drop what no output or Variable update can observe."""

from __future__ import annotations

from tapegrad.core.primitive import PRIMITIVES
from tapegrad.graph.ir import Graph, Literal, Node
from tapegrad.graph.passes.rewrite import rebuild


def eliminate_dead_code(graph: Graph) -> Graph:
    """Remove the nodes whose results reach no output or update, and unused constants.

    A node is live when one of its results is read by a graph output, by an update of a
    Variable (``graph.updates``) or by another live node. Stateful nodes (random draws)
    are always kept: removing a draw shifts the random stream every later draw reads,
    inside the graph and after it. Inputs are never removed (they are the signature).

    Args:
        graph: The graph (left unchanged).

    Returns:
        A graph computing the same outputs and updates, bit for bit.

    Examples:
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> from tapegrad.graph import trace
        >>> def f(x):
        ...     unused = tnp.exp(x)
        ...     return x * 2.0
        >>> graph = trace(f, tg.tensor([1.0]))
        >>> print(eliminate_dead_code(graph))
        { lambda ; x0:f32[1] . let
            t0:f32[1] = multiply x0 2.0
          in t0 }
    """
    live = {a for a in graph.outputs if not isinstance(a, Literal)}
    live.update(a for a in graph.updates.values() if not isinstance(a, Literal))
    kept: list[Node] = []
    for node in reversed(graph.nodes):
        prim = PRIMITIVES.get(node.primitive)
        stateful = prim is None or prim.stateful  # an unknown op: assume it has effects
        if stateful or any(out_id in live for out_id in node.outputs):
            kept.append(node)
            live.update(a for a in node.inputs if not isinstance(a, Literal))
    kept.reverse()
    constants = {k: v for k, v in graph.constants.items() if k in live}
    return rebuild(graph, kept, constants=constants)

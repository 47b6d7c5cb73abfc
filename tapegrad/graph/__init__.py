"""Graph mode, first part: the IR (`Graph`), `trace`, and JSON serialization.

A graph is a straight-line list of primitive calls recorded from one run of a function;
it prints readably, verifies itself, replays through the primitive table (so it stays
differentiable) and serializes by primitive name and params — never as code.
"""

from tapegrad.graph.ir import Graph, Input, Literal, Node, evaluate
from tapegrad.graph.serialize import graph_from_dict, graph_to_dict
from tapegrad.graph.trace import UntraceableError, trace, trace_checked

__all__ = [
    "Graph",
    "Input",
    "Literal",
    "Node",
    "UntraceableError",
    "evaluate",
    "graph_from_dict",
    "graph_to_dict",
    "trace",
    "trace_checked",
]

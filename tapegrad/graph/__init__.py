"""Graph mode: the IR (`Graph`), tracing, symbolic gradients, passes, code generation.

A graph is a straight-line list of primitive calls recorded from one run of a function;
it prints readably, verifies itself, replays through the primitive table (so it stays
differentiable) and serializes by primitive name and params — never as code.
`tapegrad.function` (module `function`, not re-exported here so the module name stays
importable) traces a Python function per input signature (Variables captured, their
assignments as graph updates), `gradients` builds symbolic gradients from the same VJP
rules, `passes.optimize` rewrites the graph and `codegen.compile_graph` turns it into
straight-line generated code.
"""

from tapegrad.core.tracing import is_traced
from tapegrad.graph.autodiff import gradients
from tapegrad.graph.compare import values_equal
from tapegrad.graph.function import ConcreteFunction, Function, TracerValueError
from tapegrad.graph.ir import Graph, Input, Literal, Node, evaluate
from tapegrad.graph.passes import optimize
from tapegrad.graph.serialize import decode_value, encode_value, graph_from_dict, graph_to_dict
from tapegrad.graph.trace import UntraceableError, trace, trace_checked

__all__ = [
    "ConcreteFunction",
    "Function",
    "Graph",
    "TracerValueError",
    "gradients",
    "is_traced",
    "optimize",
    "Input",
    "Literal",
    "Node",
    "UntraceableError",
    "decode_value",
    "encode_value",
    "evaluate",
    "graph_from_dict",
    "graph_to_dict",
    "trace",
    "trace_checked",
    "values_equal",
]

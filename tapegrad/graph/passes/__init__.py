"""Graph optimization passes: pure functions ``Graph -> Graph`` and their pipeline.

Every pass returns a new graph computing the same outputs and Variable updates as its
argument and leaves the argument unchanged. "The same" means bit for bit, signed zeros
and NaN included (`simplify` has one opt-in exception), and with the same memory layout
for every value: NumPy's reductions add in a layout-dependent order, so a pass that
replaced a fresh C-ordered array by a transposed view would change the last bits of a
later sum (`simplify.py` explains the analysis that prevents it).

* `fold_constants` (`fold.py`): nodes of constants only become constants;
* `simplify` (`simplify.py`): exact algebraic identities (``x * 1``, transpose of
  transpose, identity nodes, ...);
* `eliminate_common_subexpressions` (`cse.py`): one node per distinct computation, one
  constant per distinct array;
* `eliminate_dead_code` (`dce.py`): nothing that no output or update reads.

`optimize` runs them in that order until nothing changes. Each pass leaves cleanup to
the others (a simplified-away node stays until dead-code elimination), so they are
meant to run together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tapegrad.graph.ir import Graph, Literal
from tapegrad.graph.passes.cse import eliminate_common_subexpressions
from tapegrad.graph.passes.dce import eliminate_dead_code
from tapegrad.graph.passes.fold import fold_constants
from tapegrad.graph.passes.simplify import simplify

Pass = Callable[[Graph], Graph]

#: The pipeline of `optimize`: folding first so simplify sees constants, CSE after the
#: rewrites have made more nodes alike, dead-code elimination last to sweep up.
DEFAULT_PASSES: tuple[Pass, ...] = (
    fold_constants,
    simplify,
    eliminate_common_subexpressions,
    eliminate_dead_code,
)

#: Rounds of the whole pipeline at most (each round usually exposes little for the next).
MAX_ROUNDS = 10


def optimize(
    graph: Graph, passes: Sequence[Pass] = DEFAULT_PASSES, max_rounds: int = MAX_ROUNDS
) -> Graph:
    """Run ``passes`` in order, repeatedly, until a round changes nothing.

    Args:
        graph: The graph (left unchanged).
        passes: Functions ``Graph -> Graph``, each computing the same outputs and updates.
        max_rounds: Stop after this many rounds even without reaching a fixed point.

    Returns:
        The optimized graph.

    Examples:
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> from tapegrad.graph import trace
        >>> def f(x):
        ...     return tnp.sum(tnp.tanh(x.T.T * 1.0) ** 2 + tnp.exp(x))
        >>> print(optimize(trace(tg.grad(f), tg.tensor([[0.5, 2.0]]))))
        { lambda ; x0:f32[1,2] . let
            t0:f32[1,2] = tanh x0
            t1:f32[1,2] = exp x0
            t2:f32[1,2] = multiply 2 t0
            t3:f32[1,2] = multiply t0 t0
            t4:f32[1,2] = subtract 1 t3
            t5:f32[1,2] = multiply t2 t4
            t6:f32[1,2] = add t1 t5
          in t6 }
    """
    for _ in range(max_rounds):
        before = _fingerprint(graph)
        for graph_pass in passes:
            graph = graph_pass(graph)
        if _fingerprint(graph) == before:
            break
    return graph


def _fingerprint(graph: Graph) -> tuple[Any, ...]:
    """Equal for two graphs sharing the same node objects, outputs and constants.

    Passes reuse unchanged `Node` objects and constant arrays, and the graphs compared
    are both alive, so object identities tell whether a round changed anything.
    """

    def atom(a: Any) -> Any:
        return ("literal", id(a)) if isinstance(a, Literal) else a

    return (
        tuple(id(node) for node in graph.nodes),
        tuple(atom(a) for a in graph.outputs),
        tuple((k, atom(a)) for k, a in graph.updates.items()),
        tuple((k, id(v)) for k, v in graph.constants.items()),
    )


__all__ = [
    "DEFAULT_PASSES",
    "Pass",
    "eliminate_common_subexpressions",
    "eliminate_dead_code",
    "fold_constants",
    "optimize",
    "simplify",
]

"""The result of `tapegrad.graph.codegen.compile_graph`: a graph's generated function with its
source, kept beside the graph it came from."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad.graph.ir import Graph


class CompiledGraph:
    """A graph compiled to a Python function (see `compile_graph`).

    Attributes:
        graph: The graph it was compiled from.
        source: The generated Python source.
        kernels: Descriptions of the fused kernels (empty without fusion).
        n_buffers: Number of persistent buffers.

    Calls from several threads run one at a time (a lock): the persistent buffers are
    shared by all calls.
    """

    def __init__(
        self, graph: Graph, source: str, function: Any, kernels: list[str], n_buffers: int
    ) -> None:
        self.graph = graph
        self.source = source
        self.kernels = kernels
        self.n_buffers = n_buffers
        self._function = function
        self._lock = threading.RLock()

    def __call__(
        self, args: Sequence[np.ndarray], variables: Sequence[np.ndarray] = ()
    ) -> tuple[list[Any], list[Any]]:
        """Run the graph.

        Args:
            args: One array per ``"arg"`` input, with the traced shapes and dtypes.
            variables: One array per ``"variable"`` input. The arrays of updated
                variables may be overwritten with their new values (in place), so they
                must be distinct, writeable and not alias any argument.

        Returns:
            ``(outputs, updates)``: the flat outputs, and the new value of each updated
            variable in the order of ``graph.updates``. Outputs are never overwritten by
            a later call.
        """
        with self._lock:
            return self._function(args, variables)

    def __repr__(self) -> str:
        return (
            f"<CompiledGraph: {len(self.graph.nodes)} nodes, {self.n_buffers} buffers, "
            f"{len(self.kernels)} fused kernels>"
        )


__all__ = ["CompiledGraph"]

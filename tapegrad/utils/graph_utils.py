"""`get_source_inputs` (Keras 3's ``keras.utils``): the `Input` tensors a symbolic tensor
of the functional API is computed from."""

from __future__ import annotations

from typing import Any


def get_source_inputs(tensor: Any) -> Any:
    """The input tensors (from `Input`) that ``tensor`` depends on, each once, in the
    order the graph reaches them.

    Args:
        tensor: A symbolic tensor of the functional API; anything else is returned as is
            (as Keras does).

    Returns:
        A list of `Input` tensors.

    Examples:
        >>> import tapegrad as tg
        >>> a, b = tg.Input((3,), name="a"), tg.Input((2,), name="b")
        >>> joined = tg.layers.Concatenate()([tg.layers.Dense(2)(a), b])
        >>> [t.name for t in get_source_inputs(joined)]
        ['a', 'b']
    """
    history = getattr(tensor, "history", None)
    if history is None:
        return tensor
    sources: list[Any] = []
    pending = [tensor]
    seen: set[int] = set()  # tensors already walked: shared branches are visited once
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        layer, node_index, _ = current.history
        nodes = getattr(layer, "_inbound_nodes", None)
        if not nodes:  # an InputLayer's tensor has no producing call
            if all(current is not s for s in sources):
                sources.append(current)
            continue
        inputs = [t for t in nodes[node_index].flat_inputs if getattr(t, "history", None)]
        pending.extend(reversed(inputs))  # depth first, left to right, as Keras walks
    return sources


__all__ = ["get_source_inputs"]

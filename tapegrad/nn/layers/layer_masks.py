"""Keras 3 masks: `Layer.compute_mask`, `supports_masking`, and the masks that travel with
the tensors layers return (a mixin of `Layer`).

Keras 3 sets ``_keras_mask`` on a layer's outputs. A `tapegrad.Tensor` has fixed slots, so
the masks live in a side table keyed by the tensor's identity, dropped when the tensor
dies. That works alike eagerly, in `tapegrad.function` traces (the mask is a traced tensor
made by ops) and in functional models (their nodes call the layers on real tensors).
"""

from __future__ import annotations

import inspect
import threading
import warnings
import weakref
from typing import Any

import tapegrad as tg
from tapegrad.nn.layers.keras_tensor import flatten, map_structure

# id(tensor) -> (weak reference to the tensor, its mask). Layer.__call__ reads the table's
# truth value first: without masks anywhere it does no mask work at all.
MASKS: dict[int, tuple[weakref.ref, Any]] = {}
_LOCK = threading.Lock()


def get_keras_mask(tensor: Any) -> Any:
    """The mask a layer attached to ``tensor`` (Keras' ``tensor._keras_mask``), or None.

    Args:
        tensor: A tensor returned by a layer (anything else has no mask).

    Returns:
        A boolean tensor, or None.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> from tapegrad.nn.layers.layer_masks import get_keras_mask
        >>> out = tg.layers.Embedding(5, 2, mask_zero=True)(np.array([[1, 0]]))
        >>> get_keras_mask(out).numpy()
        array([[ True, False]])
    """
    entry = MASKS.get(id(tensor))
    if entry is None or entry[0]() is not tensor:
        return None
    return entry[1]


def set_keras_mask(tensor: Any, mask: Any) -> None:
    """Attach ``mask`` to ``tensor`` (None removes it).

    Args:
        tensor: A `tapegrad.Tensor` (other values cannot carry a mask and are skipped).
        mask: A boolean tensor or array, or None.

    Returns:
        None.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn.layers.layer_masks import get_keras_mask, set_keras_mask
        >>> x = tg.tensor([[1.0, 2.0]])
        >>> set_keras_mask(x, tg.tensor([[True, False]]))
        >>> get_keras_mask(x).numpy()
        array([[ True, False]])
    """
    if not isinstance(tensor, tg.Tensor):
        return
    key = id(tensor)
    with _LOCK:
        if mask is None:
            MASKS.pop(key, None)
            return
        if not isinstance(mask, tg.Tensor):
            mask = tg.Tensor(mask)
        MASKS[key] = (weakref.ref(tensor, lambda _, key=key: _forget(key)), mask)


def _forget(key: int) -> None:
    with _LOCK:
        entry = MASKS.get(key)
        # The id may already belong to a newer tensor with its own mask.
        if entry is not None and entry[0]() is None:
            del MASKS[key]


def input_masks(packed: dict[str, Any]) -> dict[str, Any]:
    """Per attention input (``query``, ``value``, ``key``): the mask given as
    ``<name>_mask``, else the one the tensor carries (Keras fills those arguments from the
    inputs' masks).

    Args:
        packed: The attention layer's inputs by name.

    Returns:
        ``{"query": mask or None, "value": ..., "key": ...}``.

    Examples:
        >>> import tapegrad as tg
        >>> input_masks({"query": tg.tensor([[1.0]]), "value_mask": [[True]]})["value"]
        [[True]]
    """
    masks = {}
    for name in ("query", "value", "key"):
        given = packed.get(f"{name}_mask")
        masks[name] = given if given is not None else get_keras_mask(packed.get(name))
    return masks


class MasksMixin:
    """`compute_mask`, `supports_masking` and the mask handling of `Layer.__call__`."""

    name: str
    # Whether the class overrides compute_mask (set per class by Layer.__init_subclass__).
    _makes_masks = False

    @property
    def supports_masking(self) -> bool:
        """Whether the layer passes masks on (Keras 3: by default, when the layer
        overrides `compute_mask`; layers that keep the time axis set it)."""
        value = self.__dict__.get("_supports_masking")
        if value is None:
            return type(self).compute_mask is not MasksMixin.compute_mask
        return value

    @supports_masking.setter
    def supports_masking(self, value: bool) -> None:
        self.__dict__["_supports_masking"] = bool(value)

    def compute_mask(self, inputs: Any, previous_mask: Any) -> Any:
        """The mask of the layer's output: the input's mask, passed on (Keras' default).

        Args:
            inputs: The call's first input.
            previous_mask: Its mask (a structure like ``inputs``), or None.

        Returns:
            The output's mask, or None.

        Examples:
            >>> import tapegrad as tg
            >>> tg.layers.Dropout(0.5).compute_mask(None, tg.tensor([True])).numpy()
            array([ True])
        """
        return previous_mask

    def _fill_masks(self, inputs: Any, rest: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Pass the input masks to ``call`` as Keras 3 does; return the previous mask.

        One tensor argument: its mask(s) go to ``mask=``; several: each argument ``k``'s
        mask goes to ``k_mask=`` where ``call`` has one (MultiHeadAttention's
        ``query_mask``/``value_mask``/``key_mask``). A mask the caller gave is kept.
        """
        parameters = _call_parameters(self)
        tensors = {}
        names = [n for n in parameters if n not in ("self",)]
        positional = [inputs, *rest]
        for name, value in zip(names, positional, strict=False):
            if _has_tensor(value):
                tensors[name] = value
        for name, value in kwargs.items():
            if name not in tensors and _has_tensor(value):
                tensors[name] = value
        if len(tensors) == 1:
            if "mask" in parameters and kwargs.get("mask") is None:
                mask = map_structure(get_keras_mask, next(iter(tensors.values())))
                if any(m is not None for m in flatten(mask)):
                    kwargs["mask"] = mask
        elif len(tensors) > 1:
            for name, value in tensors.items():
                target = f"{name}_mask"
                if target in parameters and kwargs.get(target) is None:
                    mask = map_structure(get_keras_mask, value)
                    if any(m is not None for m in flatten(mask)):
                        kwargs[target] = mask
        if kwargs.get("mask") is not None:
            return kwargs["mask"]
        return map_structure(get_keras_mask, inputs)

    def _set_output_masks(self, inputs: Any, outputs: Any, previous_mask: Any) -> None:
        """Attach `compute_mask`'s masks to outputs that have none (layers that do not
        support masking drop the mask with Keras' warning)."""
        if not self.supports_masking:
            if any(m is not None for m in flatten(previous_mask)):
                warnings.warn(
                    f"Layer '{self.name}' (of type {type(self).__name__}) was passed an input "
                    "with a mask attached to it. However, this layer does not support "
                    "masking and will therefore destroy the mask information. Downstream "
                    "layers will not see the mask.",
                    stacklevel=3,
                )
            return
        flat_outputs = flatten(outputs)
        if all(get_keras_mask(x) is not None for x in flat_outputs):
            return
        masks = self.compute_mask(inputs, previous_mask)
        if masks is None:
            return
        for tensor, mask in zip(flat_outputs, flatten(masks), strict=False):
            if mask is not None and get_keras_mask(tensor) is None:
                set_keras_mask(tensor, mask)


def _call_parameters(layer: Any) -> dict[str, inspect.Parameter]:
    cls = type(layer)
    cached = cls.__dict__.get("_call_parameters_cache")
    if cached is None:
        cached = dict(inspect.signature(layer.call).parameters)
        cached = {
            n: p
            for n, p in cached.items()
            if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        }
        type.__setattr__(cls, "_call_parameters_cache", cached)
    return cached


def _has_tensor(value: Any) -> bool:
    return any(isinstance(x, tg.Tensor) for x in flatten(value))

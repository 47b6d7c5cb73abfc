"""``keras.ops.rearrange``: einops-style axis rearrangement (reshape, transpose, reshape).

The pattern names every axis (``"b h w c -> b (h w) c"``); parentheses group axes to
merge (on the right) or split (on the left, with the sizes given as keywords:
``"b (h p) w c -> b h w (p c)", p=2``). As Keras's version: named axes only (no ``...``,
no anonymous ``1``), each axis used once on each side.

Examples:
    >>> import tapegrad as tg
    >>> tg.ops.rearrange(tg.ops.zeros((2, 3, 4, 5)), "b h w c -> b c (h w)").shape
    (2, 5, 12)
"""

from __future__ import annotations

import math
import re
from typing import Any

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor, shape_of

__all__ = ["rearrange"]

_TOKEN = re.compile(r"\(\s*[\w\s]*\)|\w+|\S")


def _side(op: str, text: str) -> list[list[str]]:
    """Each axis of one side of the pattern as the list of names it groups."""
    groups = []
    for token in _TOKEN.findall(text):
        if token.startswith("("):
            names = token[1:-1].split()
        elif re.fullmatch(r"\w+", token):
            names = [token]
        else:
            raise ValueError(f"ops.{op}: unsupported token {token!r} in the pattern {text!r}")
        for name in names:
            if name.isdigit():
                raise ValueError(f"ops.{op}: anonymous axes ({name!r}) are not supported")
        groups.append(names)
    return groups


def rearrange(tensor: Any, pattern: str, **axes_lengths: int) -> Any:
    """Rearrange the axes of ``tensor`` as ``pattern`` says (einops notation).

    Args:
        tensor: The input.
        pattern: ``"input axes -> output axes"``.
        **axes_lengths: Sizes of axes split on the input side (one per group may be left
            out: it is inferred).

    Returns:
        The rearranged tensor (a view-like reshape/transpose: differentiable).

    Examples:
        >>> import tapegrad as tg
        >>> x = tg.ops.zeros((2, 4, 6, 3))
        >>> tg.ops.rearrange(x, "b (h h1) (w w1) c -> b h w (c h1 w1)", h1=2, w1=2).shape
        (2, 2, 3, 12)
    """
    tensor = tensor if isinstance(tensor, Tensor) else Tensor(tensor)
    if pattern.count("->") != 1:
        raise ValueError(f"ops.rearrange: the pattern needs one '->', got {pattern!r}")
    left_text, right_text = pattern.split("->")
    left, right = _side("rearrange", left_text), _side("rearrange", right_text)
    shape = shape_of(tensor)
    if len(left) != len(shape):
        raise ValueError(
            f"ops.rearrange: the pattern's input side {left_text.strip()!r} has {len(left)} "
            f"axes, the tensor has shape {shape}"
        )
    left_names = [name for group in left for name in group]
    right_names = [name for group in right for name in group]
    if len(set(left_names)) != len(left_names) or sorted(left_names) != sorted(right_names):
        raise ValueError(f"ops.rearrange: each axis must appear once on each side of {pattern!r}")
    sizes: dict[str, int] = {}
    for group, dim in zip(left, shape, strict=True):
        unknown = [name for name in group if name not in axes_lengths]
        known = math.prod(int(axes_lengths[name]) for name in group if name in axes_lengths)
        if len(unknown) > 1:
            raise ValueError(
                f"ops.rearrange: give the sizes of all but one of {group} (axes_lengths)"
            )
        if unknown:
            if known == 0 or dim % known:
                raise ValueError(
                    f"ops.rearrange: axis of size {dim} cannot be split into {group} with "
                    f"{axes_lengths}"
                )
            sizes[unknown[0]] = dim // known
        elif known != dim:
            raise ValueError(
                f"ops.rearrange: {group} with {axes_lengths} has size {known}, the axis {dim}"
            )
        sizes.update({name: int(axes_lengths[name]) for name in group if name in axes_lengths})
    split = tuple(sizes[name] for name in left_names)
    out = P.reshape_p(tensor, shape=split) if split != shape else tensor
    order = tuple(left_names.index(name) for name in right_names)
    if order != tuple(range(len(order))):
        out = P.transpose_p(out, axes=order)
    merged = tuple(math.prod(sizes[name] for name in group) for group in right)
    return P.reshape_p(out, shape=merged) if merged != shape_of(out) else out

"""See how tapegrad computes a gradient: the forward graph, the backward graph, each rule.

``tapegrad.explain(fn, *args)`` runs ``fn`` once on ``args`` and records every primitive it
calls (the *forward graph*), then takes the gradient of the sum of its outputs with respect
to ``args[argnums]`` the way `GradientTape` does — the same reverse sweep over the same
VJP rules — and records the ops those rules call (the *backward graph*). Each backward op
is attributed to the forward op it differentiates and to the rule that produced it: a
rule of the primitive table (``g * cos_p(x)`` for ``sin``), the maker given to
`tapegrad.defvjp`, or the ``grad_fn`` of a `tapegrad.custom_gradient`. The engine's own
steps are named too: summing a broadcast cotangent back to an argument's shape
(``unbroadcast``), adding the cotangents of a value used twice, and masking the branch a
`where` did not take (so ``where(x > 0, sqrt(x), 0)`` has gradient 0 at 0, not NaN).

What you can read from an `Explanation`:

* ``.text()`` — a listing: one line per op, forward ops with your source line and the
  layers around them, backward ops with ``d t1/d t0`` (the cotangent of forward value
  ``t1`` flowing to its argument ``t0``) and the rule; then which forward values the
  backward pass keeps, the ``where`` masks, the gradients (and why a source has none:
  integer inputs, or an output that does not depend on it);
* ``.to_dot()`` — Graphviz DOT text (no dependency): forward and backward clusters,
  layers as nested clusters, backward nodes labelled with their rule, dashed edges for
  the values kept for the backward pass, tooltips with rule, shapes and values;
* ``.save("grad.svg" | ".png" | ".pdf" | ".html" | ".dot" | ".txt")`` — images and a
  self-contained HTML page (hover a node for its rule, shapes and values) need Graphviz:
  the ``dot`` program, or ``pip install "tapegrad[viz]"``; in a notebook an explanation
  shows itself;
* ``.gradients()`` — replays the drawn graph and returns the gradients: equal, bit for
  bit, to what `GradientTape.gradient` returns for the same call. What you see is what
  runs.

``model.explain(x, y)`` does the same for a compiled Keras-style model: the gradient of
its compiled loss (regularization included) with respect to its trainable weights on one
batch; `synthetic_batch` makes a batch from the model's input spec.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> def f(x, y):
    ...     return tnp.sin(x) * y
    >>> e = tg.explain(f, np.array([0.0, 1.0]), np.array([2.0, 3.0]))
    >>> print(e.text(values=False, sources=False))
    explain f
    arguments: x0:f64[2], x1:f64[2], g:f64[2]
    forward (2 ops):
      t0:f64[2] = sin x0
      t1:f64[2] = multiply t0 x1
    backward (3 ops): gradient of sum(t1) with respect to x0
      t2:f64[2] = multiply g x1   # d t1/d t0: multiply rule: g * y
      t3:f64[2] = cos x0          # d t0/d x0: sin rule: g * cos_p(x)
      t4:f64[2] = multiply t2 t3  # d t0/d x0: sin rule: g * cos_p(x)
    kept for the backward pass: x1 (read by t2); x0 (read by t3)
    gradients: x0 = t4
    >>> e.gradients()
    array([2.        , 1.62090692])
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

from tapegrad.explain import build as _build
from tapegrad.explain.explanation import PARTS, Explanation, Source, Step
from tapegrad.explain.model import explain_model, synthetic_batch
from tapegrad.explain.recorder import ValueSummary
from tapegrad.explain.rules import RuleText, describe_rule


def explain(
    fn: Callable[..., Any], *args: Any, argnums: int | Sequence[int] = 0, **kwargs: Any
) -> Explanation:
    """Explain how the gradient of ``fn`` at ``args`` is computed.

    Args:
        fn: A function of Tensors written with tapegrad ops (``tapegrad.numpy``,
            ``tapegrad.ops``, layers, Tensor operators). It runs once, on ``args``.
        *args: Its positional arguments: arrays, Tensors, Python numbers, or nested
            lists/tuples/dicts of them (other values are passed as they are).
        argnums: Which positional argument(s) to differentiate with respect to (an int,
            or a sequence of ints); as `tapegrad.grad`.
        **kwargs: Keyword arguments passed to ``fn`` as they are (not differentiated).

    Returns:
        An `Explanation`. Its gradient is that of the *sum* of ``fn``'s float outputs
        (as ``GradientTape.gradient`` of a non-scalar target). Python control flow in
        ``fn`` may read values: the explanation is of this call, on this data.

    Raises:
        ValueError: ``argnums`` out of range, or no float output depends on ``args``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> e = tg.explain(lambda x: tnp.sum(tnp.where(x > 0, tnp.sqrt(x), 0.0)),
        ...                np.array([0.0, 4.0]))
        >>> [s.node.primitive for s in e.masks()]
        ['logical_not', 'where']
        >>> e.gradients()
        array([0.  , 0.25])
    """
    return _build.explain(fn, *args, argnums=argnums, **kwargs)


class _CallableModule(types.ModuleType):
    """``tapegrad.explain`` is this package *and* the function: ``tg.explain(fn, x)``."""

    def __call__(
        self, fn: Callable[..., Any], *args: Any, argnums: int | Sequence[int] = 0, **kwargs: Any
    ) -> Explanation:
        return explain(fn, *args, argnums=argnums, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = [
    "PARTS",
    "Explanation",
    "RuleText",
    "Source",
    "Step",
    "ValueSummary",
    "describe_rule",
    "explain",
    "explain_model",
    "synthetic_batch",
]

"""Connectionist temporal classification: ``ctc_loss`` and greedy ``ctc_decode`` (Keras 3).

``ctc_loss`` is the forward recursion in log space as Keras's JAX backend writes it (after
optax): per step, the log-probabilities of being on a blank (``phi``, one more than the
labels) or on a label (``emit``); steps past an example's ``output_length`` leave its state
unchanged. It is written with primitives over a Python loop on time, so it is
differentiable with respect to the logits (and unrolls inside `tapegrad.function`).

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> logits = tg.ops.zeros((1, 2, 3))  # two steps, uniform over {blank, a, b}
    >>> loss = tg.ops.ctc_loss(tg.tensor([[1]]), logits, tg.tensor([1]), tg.tensor([2]))
    >>> f"{float(loss[0]):.5f}", f"{-np.log(3 / 9):.5f}"  # "a-", "-a", "aa" of 9 paths
    ('1.09861', '1.09861')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor, shape_of
from tapegrad.numpy import logaddexp, logsumexp
from tapegrad.ops.activations import float_input
from tapegrad.ops.core import concrete_value

__all__ = ["ctc_decode", "ctc_loss"]

# Keras's (and optax's) log of "impossible": finite, so no NaN from inf - inf.
_LOG_EPSILON = -1e5


def _int_tensor(x: Any) -> Any:
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    if x.dtype.kind not in "iu":
        raise TypeError(f"ops.ctc_loss: labels and lengths must be integers, got {x.dtype}")
    return x


def ctc_loss(
    target: Any, output: Any, target_length: Any, output_length: Any, mask_index: int = 0
) -> Any:
    """The CTC loss of each example (the negative log-likelihood of its label sequence).

    Args:
        target: Integer labels ``(batch, max_label_length)``, padded past ``target_length``.
        output: Logits ``(batch, max_time, num_classes)`` (log-softmax is applied here).
        target_length: ``(batch,)`` label lengths.
        output_length: ``(batch,)`` number of valid time steps.
        mask_index: The blank class.

    Returns:
        ``(batch,)`` losses, float32 for float32 logits.

    Examples:
        >>> import tapegrad as tg
        >>> logits = tg.tensor([[[0.0, 5.0], [5.0, 0.0]]])  # "a" then blank: a likely path
        >>> float(tg.ops.ctc_loss(tg.tensor([[1]]), logits, [1], [2])[0]) < 0.1
        True
    """
    output = float_input(output)
    if output.dtype.itemsize < 4:
        output = P.cast_p(output, dtype=np.dtype(np.float32))
    target = _int_tensor(target)
    target_length, output_length = _int_tensor(target_length), _int_tensor(output_length)
    if len(shape_of(output)) != 3 or len(shape_of(target)) != 2:
        raise ValueError(
            "ops.ctc_loss: expected output (batch, time, classes) and target (batch, labels), "
            f"got {shape_of(output)} and {shape_of(target)}"
        )
    batch, steps, classes = shape_of(output)
    labels = shape_of(target)[1]
    if shape_of(target)[0] != batch:
        raise ValueError(f"ops.ctc_loss: {shape_of(target)[0]} label rows for a batch of {batch}")
    dtype = output.dtype

    def const(value: float) -> np.ndarray:
        return np.asarray(value, dtype)

    logprobs = output - logsumexp(output, axis=-1, keepdims=True)
    label_pad = P.cast_p(
        P.greater_equal_p(
            np.arange(labels).reshape(1, labels), P.reshape_p(target_length, shape=(batch, 1))
        ),
        dtype=dtype,
    )
    time_pad = P.cast_p(
        P.greater_equal_p(
            np.arange(steps).reshape(1, steps), P.reshape_p(output_length, shape=(batch, 1))
        ),
        dtype=dtype,
    )
    label_lengths = P.cast_p(
        const(labels) - P.sum_p(label_pad, axis=(1,), keepdims=False), dtype=np.dtype(np.int64)
    )
    # repeat[b, n] is 1 where label n equals label n + 1 (a blank must separate them).
    repeat = P.cast_p(P.equal_p(target[:, :-1], target[:, 1:]), dtype=dtype)
    repeat = P.pad_p(repeat, pad_width=((0, 0), (0, 1)), constant_values=0)
    blank = logprobs[:, :, mask_index]  # (B, T)
    hot = P.cast_p(
        P.equal_p(P.reshape_p(target, shape=(batch, labels, 1)), np.arange(classes)), dtype=dtype
    )
    emit_scores = P.einsum_p(logprobs, hot, subscripts="btk,bnk->btn")  # (B, T, N)

    def add_to_phi(phi: Any, score: Any) -> Any:
        """``phi[:, 1:]`` log-added with ``score``; ``phi[:, 0]`` unchanged."""
        return P.concatenate_p(phi[:, :1], logaddexp(phi[:, 1:], score), axis=1)

    initial_phi = np.full((batch, labels + 1), _LOG_EPSILON, dtype=dtype)
    initial_phi[:, 0] = 0
    phi: Any = Tensor(initial_phi)
    emit: Any = Tensor(np.full((batch, labels), _LOG_EPSILON, dtype=dtype))
    for t in range(steps):
        emit_t = emit_scores[:, t]
        blank_t = P.reshape_p(blank[:, t], shape=(batch, 1))
        pad = P.reshape_p(time_pad[:, t], shape=(batch, 1))
        # emit -> phi (epsilon) transitions, except into a repeated label.
        moved = add_to_phi(phi, emit + const(_LOG_EPSILON) * repeat)
        next_emit = logaddexp(moved[:, :-1] + emit_t, emit + emit_t)
        next_phi = add_to_phi(
            moved + blank_t, emit + blank_t + const(_LOG_EPSILON) * (const(1) - repeat)
        )
        keep = const(1) - pad
        emit = pad * emit + keep * next_emit
        phi = pad * phi + keep * next_phi
    final_phi = add_to_phi(phi, emit)
    pick = P.cast_p(
        P.equal_p(P.reshape_p(label_lengths, shape=(batch, 1)), np.arange(labels + 1)), dtype=dtype
    )
    return -P.sum_p(final_phi * pick, axis=(1,), keepdims=False)


def ctc_decode(
    inputs: Any,
    sequence_lengths: Any,
    strategy: str = "greedy",
    beam_width: int = 100,
    top_paths: int = 1,
    merge_repeated: bool = True,
    mask_index: int = 0,
) -> tuple[Tensor, Tensor]:
    """Decode CTC outputs greedily (the best class per step; repeats merged, blanks dropped).

    Values only (decoding has no gradient). As Keras: ``decoded`` is ``(1, batch, time)``
    int, labels first and ``-1`` after them; ``log_probabilities`` is ``(batch, 1)``: minus
    the sum over valid steps of the best scores.

    Args:
        inputs: Scores ``(batch, time, classes)`` (logits or log-probabilities).
        sequence_lengths: ``(batch,)`` valid steps.
        strategy: ``"greedy"`` (``"beam_search"`` is not supported).
        beam_width: For beam search (unused).
        top_paths: For beam search; greedy decoding gives one path.
        merge_repeated: Merge repeated classes of consecutive steps.
        mask_index: The blank class.

    Returns:
        ``(decoded, log_probabilities)``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> scores = np.log(np.array([[[.1, .8, .1], [.1, .8, .1], [.8, .1, .1], [.1, .1, .8]]]))
        >>> decoded, _ = tg.ops.ctc_decode(scores, [4])
        >>> decoded.numpy()
        array([[[ 1,  2, -1, -1]]], dtype=int32)
    """
    if strategy != "greedy":
        raise ValueError(f"ops.ctc_decode: strategy {strategy!r} is not supported (only 'greedy')")
    scores = concrete_value(inputs, "ops.ctc_decode's inputs (decoding reads values)")
    lengths = concrete_value(sequence_lengths, "ops.ctc_decode's sequence_lengths")
    if scores.ndim != 3:
        raise ValueError(
            f"ops.ctc_decode: inputs must be (batch, time, classes), got {scores.shape}"
        )
    batch, steps, _ = scores.shape
    scores = scores.astype(np.result_type(scores.dtype, np.float32))
    best = scores.argmax(-1)
    best_score = scores.max(-1)
    past_end = np.arange(steps)[None, :] >= np.asarray(lengths).reshape(batch, 1)
    best = np.where(past_end, mask_index, best)
    best_score = np.where(past_end, 0.0, best_score)
    if merge_repeated:
        repeated = np.pad(best[:, 1:] == best[:, :-1], ((0, 0), (1, 0)))
        best = np.where(repeated, mask_index, best)
    dropped = best == mask_index
    decoded = np.full((batch, steps), -1, dtype=np.int32)
    for row in range(batch):
        kept = best[row][~dropped[row]]
        decoded[row, : kept.size] = kept
    log_probabilities = -best_score.sum(axis=1, keepdims=True)
    return Tensor(decoded[None]), Tensor(log_probabilities.astype(scores.dtype))

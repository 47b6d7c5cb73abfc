"""Neural-network ops (Keras 3 ``keras.ops`` names), composites of the primitive table.

`tapegrad.ops.nn` also re-exports the rest of ``keras.ops.nn``: the activations of
`tapegrad.ops.activations`, the normalizations of `tapegrad.ops.normalization`,
`dot_product_attention`, the convolutions and pools of `tapegrad.ops.conv` and the
rearrangements of `tapegrad.ops.spatial`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tapegrad import backend
from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor, shape_of
from tapegrad.numpy._reductions import logsumexp
from tapegrad.ops.activations import (  # noqa: F401  (keras.ops.nn's names)
    celu,
    glu,
    hard_shrink,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    hard_tanh,
    log_sigmoid,
    selu,
    soft_shrink,
    sparse_plus,
    sparse_sigmoid,
    sparsemax,
    squareplus,
    tanh_shrink,
    threshold,
)
from tapegrad.ops.attention import dot_product_attention  # noqa: F401
from tapegrad.ops.conv import (  # noqa: F401
    average_pool,
    conv,
    conv_transpose,
    depthwise_conv,
    max_pool,
    separable_conv,
)
from tapegrad.ops.core import floatx_dtype
from tapegrad.ops.ctc import ctc_decode, ctc_loss  # noqa: F401
from tapegrad.ops.dense import dense  # noqa: F401  (re-exported: tapegrad.ops.nn.dense)
from tapegrad.ops.lstm import lstm  # noqa: F401  (re-exported: tapegrad.ops.nn.lstm)
from tapegrad.ops.normalization import (  # noqa: F401
    batch_normalization,
    layer_normalization,
    moments,
    normalize,
    psnr,
    rms_normalization,
)
from tapegrad.ops.spatial import (  # noqa: F401
    adaptive_average_pool,
    adaptive_max_pool,
    depth_to_space,
    fold,
    space_to_depth,
    unfold,
)

# keras.ops.nn names tapegrad does not have, with the reason (also in ops.UNSUPPORTED).
UNSUPPORTED: dict[str, str] = {
    "polar": "tapegrad's differentiable ops are real-valued: complex tensors are not supported",
}


def __getattr__(name: str) -> Any:
    if name in UNSUPPORTED:
        raise NotImplementedError(f"tapegrad.ops.nn.{name} is not supported: {UNSUPPORTED[name]}")
    raise AttributeError(f"module 'tapegrad.ops.nn' has no attribute {name!r}")


def erf(x: Any) -> Any:
    """The error function, differentiable."""
    return P.erf_p(x)


def relu(x: Any) -> Any:
    """``max(x, 0)`` with gradient 0 at 0 (as Keras, PyTorch and JAX).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.relu(tg.tensor([-1.0, 0.0, 2.0])).numpy()
        array([0., 0., 2.], dtype=float32)
    """
    return P.relu_p(x)


def relu6(x: Any) -> Any:
    """``min(max(x, 0), 6)``."""
    return P.clip_p(x, 0.0, 6.0)  # float constants: the input's dtype is kept


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Any:
    """``x`` for positive inputs, ``negative_slope * x`` otherwise."""
    return P.where_p(P.greater_p(x, 0), x, x * negative_slope)


def elu(x: Any, alpha: float = 1.0) -> Any:
    """Exponential linear unit."""
    return P.where_p(P.greater_p(x, 0), x, alpha * P.expm1_p(P.minimum_p(x, 0)))


def sigmoid(x: Any) -> Any:
    """Logistic sigmoid, stable for large ``|x|`` (``0.5 * (tanh(x / 2) + 1)``)."""
    return P.sigmoid_p(x)


def softplus(x: Any) -> Any:
    """``log(1 + exp(x))``, stable."""
    return P.maximum_p(x, 0) + P.log1p_p(P.exp_p(-P.abs_p(x)))


def softsign(x: Any) -> Any:
    """``x / (1 + |x|)``."""
    return x / (1 + P.abs_p(x))


def silu(x: Any) -> Any:
    """``x * sigmoid(x)`` (swish)."""
    return x * sigmoid(x)


swish = silu


def gelu(x: Any, approximate: bool = True) -> Any:
    """Gaussian error linear unit (Keras default: the tanh approximation)."""
    if approximate:
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1 + P.tanh_p(inner))
    return P.gelu_p(x)  # exact: one fused op (its composite: 0.5 * x * (1 + erf(x / sqrt 2)))


def tanh(x: Any) -> Any:
    """Hyperbolic tangent."""
    return P.tanh_p(x)


def _axis(x: Any, axis: int | tuple[int, ...] | list[int]) -> tuple[int, ...]:
    ndim = max(np.ndim(getattr(x, "_value", x)), 1)
    if isinstance(axis, tuple | list):  # Keras's softmax takes several axes too
        return tuple(sorted({int(a) % ndim for a in axis}))
    return (axis % ndim,)


def softmax(x: Any, axis: int | tuple[int, ...] = -1) -> Any:
    """Softmax along ``axis``, stable for large logits.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.softmax(tg.tensor([0.0, 0.0])).numpy()
        array([0.5, 0.5], dtype=float32)
    """
    axes = _axis(x, axis)
    shift = P.stop_gradient_p(P.max_p(x, axis=axes, keepdims=True))
    e = P.exp_p(x - shift)
    return e / P.sum_p(e, axis=axes, keepdims=True)


def log_softmax(x: Any, axis: int = -1) -> Any:
    """Log of the softmax, stable."""
    return x - logsumexp(x, axis=axis, keepdims=True)


def one_hot(
    x: Any, num_classes: int, axis: int = -1, dtype: Any = None, sparse: bool = False
) -> Any:
    """One-hot encoding of integer labels (a constant: no gradient).

    Tensor labels are compared with every class by primitives and range-checked by
    `class_indices` when the op runs, so a traced graph encodes the labels it gets.
    ``dtype`` defaults to floatx (float32); ``sparse=True`` is refused (no sparse tensors).
    """
    if sparse:
        raise ValueError("one_hot: sparse=True is not supported (tapegrad has no sparse tensors)")
    if dtype is None:
        dtype = floatx_dtype()
    if isinstance(x, Tensor):
        return _one_hot_computed(x, int(num_classes), axis, np.dtype(dtype))
    labels = np.asarray(x)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"one_hot: labels must be in [0, {num_classes}), got range "
            f"[{labels.min()}, {labels.max()}]"
        )
    out = np.eye(num_classes, dtype=dtype)[labels]
    return np.moveaxis(out, -1, axis) if axis != -1 else out


def multi_hot(
    inputs: Any,
    num_classes: int | None = None,
    axis: int = -1,
    dtype: Any = None,
    sparse: bool = False,
    **kwargs: Any,
) -> Any:
    """Multi-hot encoding: 1 for every class present in each row of integer ``inputs``.

    A 1-D input is one row; an input of rank >= 2 encodes each row of its second axis
    (Keras's rule: the one-hot encodings are combined with a max over axis 1).

    Args:
        inputs: Integer labels.
        num_classes: Number of classes (Keras's older ``num_tokens`` is accepted too).
        axis: Where the class axis goes in the one-hot encoding before the reduction.
        dtype: The result's dtype (default float32).
        sparse: Only False (tapegrad has no sparse tensors).
        **kwargs: ``num_tokens``, the older name of ``num_classes``.

    Returns:
        The multi-hot encoding.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.multi_hot(tg.tensor([[0, 2], [1, 1]]), 3).numpy()
        array([[1., 0., 1.],
               [0., 1., 0.]], dtype=float32)
    """
    if sparse:
        raise ValueError("ops.multi_hot: sparse=True is not supported (no sparse tensors)")
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if kwargs:
        raise TypeError(f"ops.multi_hot: unexpected arguments {sorted(kwargs)}")
    if num_classes is None:
        raise ValueError("ops.multi_hot: num_classes is required")
    if not isinstance(inputs, Tensor):
        inputs = Tensor(np.asarray(inputs))
    hot = one_hot(inputs, int(num_classes), axis=axis, dtype=np.float32 if dtype is None else dtype)
    reduce_axis = 1 if len(shape_of(inputs)) > 1 else 0
    return P.max_p(hot, axis=(reduce_axis,), keepdims=False)


def _one_hot_computed(x: Tensor, num_classes: int, axis: int, dtype: np.dtype) -> Any:
    if x.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {x.dtype}")
    labels = P.class_indices_p(x, num_classes=num_classes, name="one_hot")
    column = P.reshape_p(labels, shape=x.shape + (1,))
    out = P.cast_p(P.equal_p(column, np.arange(num_classes)), dtype=dtype)
    if axis == -1:
        return out
    ndim = x.ndim + 1
    order = list(range(ndim - 1))
    order.insert(axis % ndim, ndim - 1)  # np.moveaxis(out, -1, axis)
    return P.transpose_p(out, axes=tuple(order))


def _labels(target: Any, num_classes: int) -> Any:
    """Checked integer labels: an array, or a Tensor when given one — checked by the
    `class_indices` primitive then, so a traced graph reads the labels (instead of
    freezing their values) and checks them whenever it runs."""
    if isinstance(target, Tensor):
        return P.class_indices_p(
            target, num_classes=int(num_classes), name="sparse_categorical_crossentropy"
        )
    labels = np.asarray(target)
    if (
        labels.dtype == np.int64
        and labels.flags.c_contiguous
        and (not labels.size or labels.view(np.uint64).max() < num_classes)
    ):
        # The common case, on every step: one pass (negatives viewed as unsigned are huge);
        # bad labels take the checks below, which say what is wrong.
        return labels
    if labels.dtype.kind == "f" and np.all(labels == np.round(labels)):
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "iu":
        raise TypeError(
            f"sparse_categorical_crossentropy: labels must be integers, got dtype {labels.dtype}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"sparse_categorical_crossentropy: labels must be in [0, {num_classes}) for "
            f"{num_classes} classes, got labels in [{labels.min()}, {labels.max()}]"
        )
    return labels


def sparse_categorical_crossentropy(
    target: Any, output: Any, from_logits: bool = False, axis: int = -1
) -> Any:
    """Per-example cross-entropy of integer labels against probabilities or logits."""
    shape = shape_of(output)
    if axis != -1 and axis != len(shape) - 1:
        raise NotImplementedError("sparse_categorical_crossentropy: only the last axis")
    num_classes = shape[-1]
    labels = _labels(target, num_classes)
    if from_logits:
        return P.sparse_softmax_cross_entropy_p(output, labels)
    eps = backend.epsilon()  # Keras clips probabilities by its epsilon
    log_probs = P.log_p(
        P.clip_p(output / P.sum_p(output, axis=_axis(output, -1), keepdims=True), eps, 1 - eps)
    )
    if isinstance(labels, Tensor):
        shape = tuple(labels.shape)
        hot = P.equal_p(P.reshape_p(labels, shape=shape + (1,)), np.arange(num_classes))
        return -P.sum_p(P.where_p(hot, log_probs, 0), axis=(len(shape),), keepdims=False)
    flat = P.reshape_p(log_probs, shape=(-1, num_classes))
    picked = P.getitem_p(flat, index=(np.arange(labels.size), labels.reshape(-1)))
    return -P.reshape_p(picked, shape=labels.shape)


def categorical_crossentropy(
    target: Any, output: Any, from_logits: bool = False, axis: int = -1
) -> Any:
    """Per-example cross-entropy of one-hot (or soft) targets."""
    axes = _axis(output, axis)
    if from_logits:
        log_probs = log_softmax(output, axis=axis)
    else:
        eps = backend.epsilon()  # Keras clips probabilities by its epsilon
        probs = output / P.sum_p(output, axis=axes, keepdims=True)
        log_probs = P.log_p(P.clip_p(probs, eps, 1 - eps))
    return -P.sum_p(target * log_probs, axis=axes, keepdims=False)


def binary_crossentropy(target: Any, output: Any, from_logits: bool = False) -> Any:
    """Elementwise binary cross-entropy."""
    if from_logits:
        return softplus(output) - target * output
    eps = backend.epsilon()  # Keras clips probabilities by its epsilon
    p = P.clip_p(output, eps, 1 - eps)
    return -(target * P.log_p(p) + (1 - target) * P.log1p_p(-p))

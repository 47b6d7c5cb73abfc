"""Activation functions (Keras 3 ``keras.activations``), composites of `tapegrad.ops`.

Each function takes a tensor (or array-like) and returns a differentiable Tensor. Layers
accept them by name: ``get("relu")`` is `relu`, ``get(None)`` is `linear`.

Examples:
    >>> import tapegrad as tg
    >>> from tapegrad.nn import activations
    >>> activations.get("relu")(tg.tensor([-1.0, 2.0])).numpy()
    array([0., 2.], dtype=float32)
    >>> activations.serialize(activations.gelu)
    'gelu'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tapegrad.numpy as tnp
from tapegrad import ops
from tapegrad.nn import object_registration
from tapegrad.nn.activations_extra import (
    celu,
    glu,
    hard_shrink,
    hard_tanh,
    log_sigmoid,
    soft_shrink,
    sparse_plus,
    sparse_sigmoid,
    sparsemax,
    squareplus,
    tanh_shrink,
    threshold,
)

# Klambauer et al. (2017), the fixed point of self-normalizing networks.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _tensor(x: Any) -> Any:
    return tnp.asarray(x)


def relu(
    x: Any, negative_slope: float = 0.0, max_value: float | None = None, threshold: float = 0.0
) -> Any:
    """Rectified linear unit, with Keras' optional leak, cap and threshold.

    Args:
        x: Input tensor.
        negative_slope: Slope for values below ``threshold``.
        max_value: Upper bound of the output (``None``: unbounded).
        threshold: Values below it are zeroed (or leak with ``negative_slope``).

    Returns:
        ``x`` where ``x > threshold``, ``negative_slope * (x - threshold)`` below it,
        capped at ``max_value``.

    Examples:
        >>> import tapegrad as tg
        >>> relu(tg.tensor([-2.0, 1.0, 8.0]), negative_slope=0.5, max_value=6.0).numpy()
        array([-1.,  1.,  6.], dtype=float32)
    """
    x = _tensor(x)
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return ops.relu(x)
    above = x > threshold
    out = tnp.where(above, x, negative_slope * (x - threshold) if negative_slope else 0.0)
    if max_value is not None:
        out = tnp.minimum(out, float(max_value))
    return out


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Any:
    """``x`` for positive inputs, ``negative_slope * x`` otherwise.

    Examples:
        >>> import tapegrad as tg
        >>> leaky_relu(tg.tensor([-1.0, 1.0])).numpy()
        array([-0.2,  1. ], dtype=float32)
    """
    return ops.leaky_relu(_tensor(x), negative_slope=negative_slope)


def relu6(x: Any) -> Any:
    """``min(max(x, 0), 6)``.

    Examples:
        >>> import tapegrad as tg
        >>> relu6(tg.tensor([-1.0, 3.0, 9.0])).numpy()
        array([0., 3., 6.], dtype=float32)
    """
    # Not ops.relu6: it returns float64 for float32 inputs (its inner where mixes ints).
    return tnp.clip(_tensor(x), 0.0, 6.0)


def elu(x: Any, alpha: float = 1.0) -> Any:
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``.

    Examples:
        >>> import tapegrad as tg
        >>> elu(tg.tensor([0.0, 2.0])).numpy()
        array([0., 2.], dtype=float32)
    """
    return ops.elu(_tensor(x), alpha=alpha)


def selu(x: Any) -> Any:
    """Scaled exponential linear unit: ``scale * elu(x, alpha)`` with the SELU constants.

    Examples:
        >>> import tapegrad as tg
        >>> selu(tg.tensor([1.0])).numpy().round(4)
        array([1.0507], dtype=float32)
    """
    return _SELU_SCALE * ops.elu(_tensor(x), alpha=_SELU_ALPHA)


def sigmoid(x: Any) -> Any:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, stable for large ``|x|``.

    Examples:
        >>> import tapegrad as tg
        >>> sigmoid(tg.tensor([0.0])).numpy()
        array([0.5], dtype=float32)
    """
    return ops.sigmoid(_tensor(x))


def hard_sigmoid(x: Any) -> Any:
    """Piecewise-linear sigmoid (Keras 3): ``clip(x / 6 + 0.5, 0, 1)``.

    Examples:
        >>> import tapegrad as tg
        >>> hard_sigmoid(tg.tensor([-4.0, 0.0, 1.5, 4.0])).numpy()
        array([0.  , 0.5 , 0.75, 1.  ], dtype=float32)
    """
    return tnp.clip(_tensor(x) * (1.0 / 6.0) + 0.5, 0.0, 1.0)


def hard_silu(x: Any) -> Any:
    """``x * hard_sigmoid(x)`` (hard swish).

    Examples:
        >>> import tapegrad as tg
        >>> hard_silu(tg.tensor([-4.0, 4.0])).numpy()
        array([-0.,  4.], dtype=float32)
    """
    x = _tensor(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def softmax(x: Any, axis: int = -1) -> Any:
    """Softmax along ``axis`` (probabilities summing to one), stable for large logits.

    Examples:
        >>> import tapegrad as tg
        >>> softmax(tg.tensor([[0.0, 0.0]])).numpy()
        array([[0.5, 0.5]], dtype=float32)
    """
    return ops.softmax(_tensor(x), axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Any:
    """Logarithm of the softmax, stable.

    Examples:
        >>> import tapegrad as tg
        >>> log_softmax(tg.tensor([0.0, 0.0])).numpy().round(4)
        array([-0.6931, -0.6931], dtype=float32)
    """
    return ops.log_softmax(_tensor(x), axis=axis)


def tanh(x: Any) -> Any:
    """Hyperbolic tangent.

    Examples:
        >>> import tapegrad as tg
        >>> tanh(tg.tensor([0.0])).numpy()
        array([0.], dtype=float32)
    """
    return ops.tanh(_tensor(x))


def gelu(x: Any, approximate: bool = False) -> Any:
    """Gaussian error linear unit; exact (erf) by default, as `keras.activations.gelu`.

    Args:
        x: Input tensor.
        approximate: Use the tanh approximation instead of the exact erf form.

    Examples:
        >>> import tapegrad as tg
        >>> gelu(tg.tensor([1.0])).numpy().round(4)
        array([0.8413], dtype=float32)
    """
    return ops.gelu(_tensor(x), approximate=approximate)


def silu(x: Any) -> Any:
    """``x * sigmoid(x)`` (swish).

    Examples:
        >>> import tapegrad as tg
        >>> silu(tg.tensor([0.0, 1.0])).numpy().round(4)
        array([0.    , 0.7311], dtype=float32)
    """
    return ops.silu(_tensor(x))


swish = silu


def softplus(x: Any) -> Any:
    """``log(1 + exp(x))``, stable.

    Examples:
        >>> import tapegrad as tg
        >>> softplus(tg.tensor([0.0])).numpy().round(4)
        array([0.6931], dtype=float32)
    """
    return ops.softplus(_tensor(x))


def softsign(x: Any) -> Any:
    """``x / (1 + |x|)``.

    Examples:
        >>> import tapegrad as tg
        >>> softsign(tg.tensor([1.0, -3.0])).numpy()
        array([ 0.5 , -0.75], dtype=float32)
    """
    return ops.softsign(_tensor(x))


def mish(x: Any) -> Any:
    """``x * tanh(softplus(x))``.

    Examples:
        >>> import tapegrad as tg
        >>> mish(tg.tensor([1.0])).numpy().round(4)
        array([0.8651], dtype=float32)
    """
    x = _tensor(x)
    return x * ops.tanh(ops.softplus(x))


def exponential(x: Any) -> Any:
    """``exp(x)``.

    Examples:
        >>> import tapegrad as tg
        >>> exponential(tg.tensor([0.0])).numpy()
        array([1.], dtype=float32)
    """
    return tnp.exp(_tensor(x))


def linear(x: Any) -> Any:
    """The identity (what ``activation=None`` means).

    Examples:
        >>> linear(3.0)
        3.0
    """
    return x


_ALL: dict[str, Callable[..., Any]] = {
    fn.__name__: fn
    for fn in (
        relu,
        leaky_relu,
        relu6,
        elu,
        selu,
        sigmoid,
        hard_sigmoid,
        hard_silu,
        softmax,
        log_softmax,
        tanh,
        gelu,
        silu,
        softplus,
        softsign,
        mish,
        exponential,
        linear,
        celu,
        glu,
        hard_shrink,
        hard_tanh,
        log_sigmoid,
        soft_shrink,
        sparse_plus,
        sparse_sigmoid,
        sparsemax,
        squareplus,
        tanh_shrink,
        threshold,
    )
}
_ALL.update({"swish": silu, "hard_swish": hard_silu})
_NAMES = {fn: name for name, fn in _ALL.items() if name == fn.__name__}

# The error says how to fix it: tapegrad never saves or loads code.
_CUSTOM_HINT = (
    "the built-in activations ({names}) and the functions you register "
    "(tapegrad.saving.register_keras_serializable) or pass as custom_objects are known by "
    "name; a custom function is looked up by name, never restored from a saved config"
)


def get(identifier: Any) -> Callable[..., Any]:
    """The activation function for a name, callable or ``None`` (`linear`).

    Args:
        identifier: A name (``"relu"``, ``"swish"``, ...), a callable (returned as is),
            ``None`` or a serialized form (see `serialize`).

    Returns:
        A callable ``f(x) -> tensor``.

    Raises:
        ValueError: For an unknown name or an object that is not callable.

    Examples:
        >>> get("swish") is silu, get(None) is linear
        (True, True)
    """
    if identifier is None:
        return linear
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier not in _ALL:
            custom = object_registration.find_custom_object(identifier)
            if callable(custom):
                return custom
            raise ValueError(
                f"Could not interpret activation function identifier "
                f"{identifier!r}: " + _CUSTOM_HINT.format(names=", ".join(_ALL))
            )
        return _ALL[identifier]
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}")


def serialize(activation: Callable[..., Any] | None) -> Any:
    """The name of a built-in activation (a dict naming a custom one).

    Args:
        activation: An activation function, or ``None``.

    Returns:
        The name (``"relu"``) for a built-in; ``None`` for ``None``; for a custom
        callable a ``{"class_name": "function", "config": name, "module": ...}`` dict
        that `deserialize` refuses with a clear message (no code is ever saved).

    Examples:
        >>> serialize(silu), serialize(swish), serialize(None)
        ('silu', 'silu', None)
    """
    if activation is None:
        return None
    name = _NAMES.get(activation)
    if name is not None:
        return name
    registered = object_registration.get_registered_name(activation)
    name = getattr(activation, "__name__", type(activation).__name__)
    return {
        "module": getattr(activation, "__module__", None),
        "class_name": "function",
        "config": name,
        "registered_name": registered if registered != name else None,
    }


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Callable[..., Any]:
    """Inverse of `serialize`: the activation function for a name or serialized dict.

    Examples:
        >>> deserialize("tanh") is tanh
        True
    """
    if custom_objects:  # Keras' argument: the names it gives are known while decoding
        with object_registration.CustomObjectScope(custom_objects):
            return deserialize(config)
    if isinstance(config, dict):
        name = config.get("config")
        custom = object_registration.find_custom_object(config)
        if callable(custom) and (name not in _ALL or config.get("registered_name")):
            return custom
        if (
            not isinstance(name, str)
            or name not in _ALL
            or config.get("module") not in (None, __name__, "keras.activations")
        ):
            raise ValueError(
                f"Cannot deserialize activation {config!r}: "
                + _CUSTOM_HINT.format(names=", ".join(_ALL))
            )
        return _ALL[name]
    return get(config)


__all__ = [
    "celu",
    "deserialize",
    "elu",
    "exponential",
    "gelu",
    "get",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "leaky_relu",
    "linear",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "serialize",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softmax",
    "softplus",
    "softsign",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "squareplus",
    "swish",
    "tanh",
    "tanh_shrink",
    "threshold",
]

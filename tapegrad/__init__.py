"""tapegrad: automatic differentiation for NumPy-style code, with a Keras-style API.

Every basic op carries its derivative rules (the primitive table); tapes record what
ran and backprop chains those rules. See ``docs/architecture.md``.
"""

import contextlib as _contextlib
from collections.abc import Iterator
from typing import Any

import numpy as _np

from tapegrad import debug, kernels, ops  # noqa: F401  (kernels: registers its kernels)
from tapegrad.core import (
    ForwardAccumulator,
    GradientTape,
    Primitive,
    Tensor,
    Variable,
    custom_gradient,
    defjvp,
    defvjp,
    foreach_assign_sub,
    grad,
    hessian,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    name_scope,
    stop_gradient,
    value_and_grad,
    vjp,
)
from tapegrad.core.custom import primitive
from tapegrad.utils.gradcheck import check_grads

__version__ = "0.1.0"

# The Keras-style API is imported on first use: `import tapegrad` stays light, and the
# engine never depends on the layers built on top of it.
_LAZY_MODULES = (
    "layers",
    "optimizers",
    "losses",
    "metrics",
    "callbacks",
    "initializers",
    "regularizers",
    "constraints",
    "activations",
    "models",
    "datasets",
    "explain",
    "graph",
    "random",
    "tree",
    "backend",
    "config",
    "utils",
    "saving",
    "distribution",
)
_LAZY_NAMES = {
    "Initializer": "tapegrad.nn.initializers",
    "Input": "tapegrad.nn.layers",
    "InputLayer": "tapegrad.nn.layers",
    "InputSpec": "tapegrad.nn.layers",
    "Loss": "tapegrad.nn.losses",
    "Metric": "tapegrad.nn.metrics",
    "Optimizer": "tapegrad.nn.optimizers",
    "Regularizer": "tapegrad.nn.regularizers",
    "KerasTensor": "tapegrad.nn.layers",
    "Layer": "tapegrad.nn.layers",
    "Model": "tapegrad.nn.models",
    "Sequential": "tapegrad.nn.models",
    "function": "tapegrad.graph.function",
    "gradients": "tapegrad.graph.autodiff",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"tapegrad.{name}")
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    raise AttributeError(f"module 'tapegrad' has no attribute {name!r}")


def version() -> str:
    """tapegrad's version (Keras 3's ``keras.version()`` gives Keras' own).

    Returns:
        The version string.

    Examples:
        >>> import tapegrad as tg
        >>> tg.version() == tg.__version__
        True
    """
    return __version__


@_contextlib.contextmanager
def device(device_name: str) -> Iterator[None]:
    """Keras 3's ``keras.device``: run the enclosed code on a device. tapegrad has one, the CPU.

    Args:
        device_name: ``"cpu"`` or ``"cpu:0"`` (any case); other devices are refused.

    Yields:
        Nothing: the enclosed code runs as it would outside.

    Examples:
        >>> import tapegrad as tg
        >>> with tg.device("cpu:0"):
        ...     print(tg.tensor([1.0]).numpy())
        [1.]
        >>> with tg.device("gpu:0"):
        ...     pass
        Traceback (most recent call last):
        ...
        ValueError: device: tapegrad computes with NumPy on the CPU only; \
expected 'cpu' or 'cpu:0'. Received: device_name='gpu:0'
    """
    name = device_name.lower() if isinstance(device_name, str) else device_name
    if name not in ("cpu", "cpu:0", "/cpu:0", "/device:cpu:0"):
        raise ValueError(
            "device: tapegrad computes with NumPy on the CPU only; expected 'cpu' or "
            f"'cpu:0'. Received: device_name={device_name!r}"
        )
    yield


def tensor(data: Any, dtype: Any = None) -> Tensor:
    """Make a Tensor from array-like data (Python floats default to float32).

    Examples:
        >>> import tapegrad as tg
        >>> tg.tensor([[1, 2], [3, 4]]).shape
        (2, 2)
        >>> tg.tensor(1.5).dtype
        dtype('float32')
    """
    return Tensor(data, dtype)


constant = tensor

float32 = _np.float32
float64 = _np.float64
int32 = _np.int32
int64 = _np.int64

__all__ = [
    "ForwardAccumulator",
    "Input",
    "InputLayer",
    "KerasTensor",
    "Layer",
    "Model",
    "Sequential",
    "GradientTape",
    "Primitive",
    "Tensor",
    "Variable",
    "check_grads",
    "constant",
    "custom_gradient",
    "debug",
    "ops",
    "defjvp",
    "function",
    "gradients",
    "defvjp",
    "grad",
    "hessian",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jvp",
    "foreach_assign_sub",
    "name_scope",
    "primitive",
    "stop_gradient",
    "tensor",
    "value_and_grad",
    "vjp",
    "Initializer",
    "InputSpec",
    "Loss",
    "Metric",
    "Optimizer",
    "Regularizer",
    "device",
    "version",
]

"""tapegrad.nn.optimizers: Keras 3 optimizers and learning-rate schedules.

Every optimizer is ``build(var_list)`` + ``update_step(gradient, variable, learning_rate)``
written with tapegrad ops, on top of the shared ``Optimizer`` base (clipping, decoupled
weight decay, the step counter, configs). ``get`` turns a string (``"adam"``), a config dict
or an optimizer into an optimizer.

Examples:
    >>> import tapegrad as tg
    >>> from tapegrad.nn import optimizers
    >>> opt = optimizers.get("sgd")
    >>> w = tg.Variable([1.0, 2.0])
    >>> _ = opt.apply_gradients([(tg.tensor([1.0, 1.0]), w)])
    >>> w.numpy(), int(opt.iterations)
    (array([0.99, 1.99], dtype=float32), 1)
"""

from __future__ import annotations

from typing import Any

from tapegrad.nn.optimizers import schedules
from tapegrad.nn.optimizers.adagrad import Adagrad
from tapegrad.nn.optimizers.adam import Adam, AdamW
from tapegrad.nn.optimizers.adam_variants import Adamax, Lamb, Nadam
from tapegrad.nn.optimizers.adaptive import Adadelta, Adafactor
from tapegrad.nn.optimizers.base import Optimizer
from tapegrad.nn.optimizers.lion_ftrl import Ftrl, Lion
from tapegrad.nn.optimizers.loss_scale import LossScaleOptimizer
from tapegrad.nn.optimizers.multi import MultiOptimizer, OptimizerMap
from tapegrad.nn.optimizers.muon import Muon
from tapegrad.nn.optimizers.rmsprop import RMSprop
from tapegrad.nn.optimizers.schedule_free import ScheduleFreeAdamW
from tapegrad.nn.optimizers.sgd import SGD

__all__ = [
    "SGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Ftrl",
    "Lamb",
    "Lion",
    "LossScaleOptimizer",
    "MultiOptimizer",
    "Muon",
    "Nadam",
    "Optimizer",
    "OptimizerMap",
    "RMSprop",
    "ScheduleFreeAdamW",
    "deserialize",
    "get",
    "schedules",
    "serialize",
]

# Lower-cased class names, so "adam", "Adam" and "ADAM" all work (as in Keras).
_OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.__name__.lower(): cls
    for cls in (
        SGD,
        Adam,
        AdamW,
        RMSprop,
        Adagrad,
        Adadelta,
        Adafactor,
        Adamax,
        Ftrl,
        Lamb,
        Lion,
        Nadam,
        LossScaleOptimizer,
        MultiOptimizer,
        Muon,
        ScheduleFreeAdamW,
    )
}


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """An optimizer as ``{"class_name": ..., "config": ...}`` (its hyperparameters, not its
    state; the state is ``optimizer.variables``).

    Args:
        optimizer: An ``Optimizer``.

    Returns:
        A JSON-friendly dict.

    Examples:
        >>> from tapegrad.nn import optimizers
        >>> config = optimizers.serialize(optimizers.SGD(learning_rate=0.5, momentum=0.9))
        >>> config["class_name"], config["config"]["learning_rate"], config["config"]["momentum"]
        ('SGD', 0.5, 0.9)
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizers.serialize: expected an Optimizer, got {optimizer!r}")
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Optimizer:
    """Create an optimizer from ``serialize``'s output.

    Args:
        config: ``{"class_name": ..., "config": ...}``; the class name is matched without
            regard to case; other keys (Keras' ``"module"``, ...) are ignored.
        custom_objects: Optional ``{name: class}`` for user-defined optimizers or schedules.

    Returns:
        A new, unbuilt optimizer.

    Examples:
        >>> from tapegrad.nn import optimizers
        >>> opt = optimizers.deserialize({"class_name": "Adam", "config": {"beta_1": 0.5}})
        >>> type(opt).__name__, opt.beta_1
        ('Adam', 0.5)
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "optimizers.deserialize: expected a dict with 'class_name' and 'config', got "
            f"{config!r}"
        )
    name = config["class_name"]
    cls = (custom_objects or {}).get(name)
    if cls is None and isinstance(name, str):
        cls = _OPTIMIZERS.get(name.lower())
    if cls is None:
        raise ValueError(
            f"optimizers.deserialize: unknown optimizer {name!r}; known: "
            f"{sorted(_OPTIMIZERS)} (pass custom_objects for your own)"
        )
    return cls.from_config(dict(config.get("config") or {}), custom_objects)


def get(identifier: Any) -> Optimizer:
    """Resolve an optimizer from a name, a config dict or an optimizer instance.

    Args:
        identifier: An optimizer's class name (``"adam"``, ``"sgd"``, ``"nadam"``, ...; any
            case, default hyperparameters), a ``serialize`` dict, or an ``Optimizer``
            (returned as is).

    Returns:
        An ``Optimizer``.

    Examples:
        >>> from tapegrad.nn import optimizers
        >>> optimizers.get("rmsprop")
        <RMSprop name='rm_sprop' built=False>
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return deserialize({"class_name": identifier, "config": {}})
    raise ValueError(
        f"optimizers.get: could not interpret optimizer identifier {identifier!r}; pass a "
        f"name ({', '.join(sorted(_OPTIMIZERS))}), a config dict or an Optimizer"
    )

"""Weight initializers (Keras 3 ``keras.initializers``): ``init(shape, dtype)`` -> NumPy array.

Random initializers are reproducible: the same ``seed`` gives the same values on every
call and in every instance. An unseeded initializer draws its seed once, at construction,
from NumPy's global generator (so ``np.random.seed(...)`` makes whole models
reproducible), and then also returns the same values on every call, as in Keras 3.

Examples:
    >>> from tapegrad.nn import initializers
    >>> init = initializers.get("glorot_uniform")
    >>> init((2, 3)).shape, init((2, 3)).dtype
    ((2, 3), dtype('float32'))
    >>> initializers.serialize(initializers.Constant(0.5))["config"]
    {'value': 0.5}

The package, laid out as Keras': `initializer` holds the base class and the fan
computation, `constant_initializers` the deterministic ones, `random_initializers` the
seeded ones; the lookup by name and (de)serialization live here.
"""

from __future__ import annotations

import inspect
from typing import Any

from tapegrad.nn import object_registration
from tapegrad.nn._config import deserialize_object
from tapegrad.nn.initializers.constant_initializers import Constant, Identity, Ones, Zeros
from tapegrad.nn.initializers.initializer import Initializer, compute_fans
from tapegrad.nn.initializers.random_initializers import (
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    Orthogonal,
    RandomInitializer,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
)
from tapegrad.nn.initializers.stft_initializer import STFT

# Keras 3 exports each class under more names: ``keras.initializers.glorot_uniform`` is
# the class `GlorotUniform` (called as ``glorot_uniform(seed=1)``), not a function.
IdentityInitializer = Identity
OrthogonalInitializer = Orthogonal
STFTInitializer = STFT
constant = Constant
zeros = Zeros
ones = Ones
identity = Identity
orthogonal = Orthogonal
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
glorot_normal = GlorotNormal
glorot_uniform = GlorotUniform
he_normal = HeNormal
he_uniform = HeUniform
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
stft = STFT

_CLASSES: tuple[type[Initializer], ...] = (
    Constant,
    Zeros,
    Ones,
    Identity,
    RandomNormal,
    TruncatedNormal,
    RandomUniform,
    VarianceScaling,
    GlorotUniform,
    GlorotNormal,
    HeUniform,
    HeNormal,
    LecunUniform,
    LecunNormal,
    Orthogonal,
    STFT,
)
_BY_NAME: dict[str, type[Initializer]] = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update(
    {
        "constant": Constant,
        "zeros": Zeros,
        "zero": Zeros,
        "ones": Ones,
        "one": Ones,
        "identity": Identity,
        "IdentityInitializer": Identity,
        "random_normal": RandomNormal,
        "normal": RandomNormal,
        "truncated_normal": TruncatedNormal,
        "random_uniform": RandomUniform,
        "uniform": RandomUniform,
        "variance_scaling": VarianceScaling,
        "glorot_uniform": GlorotUniform,
        "glorot_normal": GlorotNormal,
        "he_uniform": HeUniform,
        "he_normal": HeNormal,
        "lecun_uniform": LecunUniform,
        "lecun_normal": LecunNormal,
        "orthogonal": Orthogonal,
        "OrthogonalInitializer": Orthogonal,
        "stft": STFT,
        "STFTInitializer": STFT,
    }
)


def _lookup(name: str) -> type[Initializer]:
    if name not in _BY_NAME:
        known = ", ".join(sorted(n for n in _BY_NAME if n.islower()))
        raise ValueError(
            f"Could not interpret initializer identifier {name!r}; known names: {known}"
        )
    return _BY_NAME[name]


def serialize(initializer: Any) -> Any:
    """A JSON-friendly description: ``{"module", "class_name", "config"}``.

    Args:
        initializer: An `Initializer` (or ``None``, returned as is).

    Returns:
        A dict `deserialize` turns back into an equal initializer. A plain callable is
        described by name only and cannot be deserialized (no code is saved).

    Examples:
        >>> serialize(GlorotUniform(seed=3))
        {'module': 'tapegrad.nn.initializers', 'class_name': 'GlorotUniform', \
'config': {'seed': 3, 'input_axes': None, 'output_axes': None}, 'registered_name': None}
    """
    if initializer is None:
        return None
    if isinstance(initializer, Initializer):
        return {
            "module": __name__,
            "class_name": type(initializer).__name__,
            "config": initializer.get_config(),
            "registered_name": None,
        }
    return {
        "module": getattr(initializer, "__module__", None),
        "class_name": "function",
        "config": getattr(initializer, "__name__", repr(initializer)),
        "registered_name": None,
    }


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Initializer:
    """An initializer from `serialize`'s dict, ``{"class_name", "config"}``, or a name.

    Examples:
        >>> deserialize({"class_name": "RandomNormal", "config": {"stddev": 2.0}}).stddev
        2.0
    """
    if custom_objects:  # Keras' argument: the names it gives are known while decoding
        with object_registration.CustomObjectScope(custom_objects):
            return deserialize(config)
    return deserialize_object(config, "initializer", "Initializer", _lookup)


def get(identifier: Any) -> Any:
    """Resolve an initializer from a name, a serialized dict, a class or an instance.

    Args:
        identifier: ``"glorot_uniform"``, ``"zeros"``, ``"GlorotUniform"``, a dict from
            `serialize`, an `Initializer` class or instance, or any callable
            ``(shape, dtype) -> array``; ``None`` gives ``None``.

    Returns:
        A callable ``(shape, dtype=None) -> np.ndarray`` (a fresh instance for names).

    Examples:
        >>> type(get("he_normal")).__name__, get(None)
        ('HeNormal', None)
    """
    if identifier is None:
        return None
    if isinstance(identifier, str | dict):
        return deserialize(identifier)
    if inspect.isclass(identifier):
        identifier = identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")


__all__ = [
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Identity",
    "IdentityInitializer",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "OrthogonalInitializer",
    "RandomInitializer",
    "RandomNormal",
    "RandomUniform",
    "STFT",
    "STFTInitializer",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "compute_fans",
    "constant",
    "deserialize",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "identity",
    "lecun_normal",
    "lecun_uniform",
    "ones",
    "orthogonal",
    "random_normal",
    "random_uniform",
    "serialize",
    "stft",
    "truncated_normal",
    "variance_scaling",
    "zeros",
]

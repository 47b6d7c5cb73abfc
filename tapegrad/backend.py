"""`tapegrad.backend` (Keras 3's ``keras.backend``): the global numeric settings and names.

The settings are process-wide, as in Keras: `floatx` (the dtype layers, weights and inputs
get when none is given), `epsilon` (the fuzz factor losses and metrics clip with) and
`image_data_format` (the default ``data_format`` of convolution and pooling layers). They
are read when an object is created or a loss is computed, so change them before building
a model. `clear_session` resets the automatic layer names (`get_uid`'s counters).

`floatx` is also the dtype of Python floats (``tg.tensor(1.0)``, ``tnp.array([1.0])``)
and of dtype-less float creations (``tnp.zeros``, ``tnp.linspace``, random draws).
``set_floatx("float64")`` is the NumPy-user setting: every default becomes NumPy's
float64. Three ways to ask for it, as JAX has ``jax_enable_x64`` and ``enable_x64()``:
`set_floatx` (process-wide, Keras's name, also ``tapegrad.config.set_floatx``), the
environment variable ``TAPEGRAD_FLOATX=float64`` (read at ``import tapegrad``), and the
context manager `floatx_scope`, which holds for the current thread (or asyncio task)
only.

Examples:
    >>> import tapegrad as tg
    >>> tg.backend.backend(), tg.backend.floatx(), tg.backend.epsilon()
    ('tapegrad', 'float32', 1e-07)
    >>> tg.backend.image_data_format()
    'channels_last'
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from tapegrad.core.floatx import default_float, scoped_default_float, set_default_float
from tapegrad.core.variable import current_path, name_scope

# Keras names tapegrad has, with how they differ (read by tapegrad.keras_coverage).
DIFFERS: dict[str, str] = {
    "result_type": "NumPy's promotion, as tapegrad's arithmetic (int32 with float32 gives "
    "float64; Keras's JAX-like rules give float32)",
    "standardize_dtype": "a Python int is int64 (as in Keras's TensorFlow backend; its JAX "
    "backend says int32); no bfloat16",
    "set_floatx": "bfloat16 is refused (NumPy has no such type)",
}
UNSUPPORTED: dict[str, str] = {}

_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"
# dict.setdefault and next() on a count are atomic: threads never share a uid.
_UIDS: dict[str, itertools.count] = {}

# Floats NumPy (tapegrad's array library) has; Keras also accepts "bfloat16", which NumPy
# has no type for.
_FLOATX_DTYPES = ("float16", "float32", "float64")
_DATA_FORMATS = ("channels_last", "channels_first")
# Keras' ALLOWED_DTYPES that NumPy can hold.
_ALLOWED_DTYPES = (
    "float16",
    "float32",
    "float64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "int8",
    "int16",
    "int32",
    "int64",
    "bool",
    "string",
    "complex64",
    "complex128",
)
# Python types as Keras maps them; a Python int is int64, the width NumPy and tapegrad
# give it (Keras' TensorFlow backend does the same, its JAX backend says int32).
_PYTHON_DTYPES = {
    bool: "bool",
    int: "int64",
    float: "float32",
    str: "string",
    complex: "complex128",
    "int": "int64",
}


def backend() -> str:
    """The name of the backend: always ``"tapegrad"`` (Keras answers ``"jax"``, ...).

    Returns:
        ``"tapegrad"``.

    Examples:
        >>> backend()
        'tapegrad'
    """
    return "tapegrad"


def floatx() -> str:
    """The default float dtype, as a string (``"float32"`` unless `set_floatx`,
    `floatx_scope` or ``TAPEGRAD_FLOATX`` changed it).

    Returns:
        The dtype name.

    Examples:
        >>> floatx()
        'float32'
    """
    return default_float().name


def set_floatx(value: Any) -> None:
    """Set the default float dtype, process-wide: of Python floats, dtype-less float
    creations, random draws, layer weights, inputs, initializers and optimizer state.

    ``set_floatx("float64")`` is the NumPy-user setting (NumPy's dtypes everywhere).
    Objects already made keep their dtype, so set it before building a model. Called
    inside a `floatx_scope`, the new value also holds for the rest of the scope.

    Args:
        value: ``"float16"``, ``"float32"`` or ``"float64"`` (a NumPy dtype is accepted
            too). Keras' ``"bfloat16"`` has no NumPy type and is refused.

    Raises:
        ValueError: Another value.

    Examples:
        >>> import tapegrad.numpy as tnp
        >>> set_floatx("float64")
        >>> floatx(), tnp.array([1.0, 2.0]).dtype
        ('float64', dtype('float64'))
        >>> set_floatx("float32")
    """
    set_default_float(_checked_floatx("set_floatx", value))


@contextmanager
def floatx_scope(value: Any) -> Iterator[str]:
    """Inside the block, `floatx` is ``value`` for this thread (or asyncio task) only.

    Like JAX's ``jax.experimental.enable_x64()``: code run in the block (and the objects
    it builds) gets ``value`` as its default float; other threads keep the process-wide
    `floatx`, and the previous value returns when the block ends, even on an error.

    Args:
        value: ``"float16"``, ``"float32"`` or ``"float64"`` (or a NumPy dtype).

    Yields:
        The dtype's name.

    Raises:
        ValueError: Another value.

    Examples:
        >>> import tapegrad as tg
        >>> with floatx_scope("float64"):
        ...     tg.tensor(1.0).dtype, tg.random.normal((2,)).dtype
        (dtype('float64'), dtype('float64'))
        >>> floatx()
        'float32'
    """
    with scoped_default_float(_checked_floatx("floatx_scope", value)) as dtype:
        yield dtype.name


def _checked_floatx(where: str, value: Any) -> str:
    name = _dtype_name(value)
    if name not in _FLOATX_DTYPES:
        hint = " (NumPy has no bfloat16)" if name == "bfloat16" else ""
        raise ValueError(
            f"{where}: unknown `floatx` value: {value!r}{hint}. "
            f"Expected one of {list(_FLOATX_DTYPES)}"
        )
    return name


def epsilon() -> float:
    """The fuzz factor of numeric expressions (``1e-7`` unless `set_epsilon` changed it).

    Returns:
        The epsilon, a float.

    Examples:
        >>> epsilon()
        1e-07
    """
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Set the fuzz factor that losses (probability clipping) and metrics use.

    Args:
        value: A positive finite float.

    Raises:
        ValueError: Not a positive finite number.

    Examples:
        >>> set_epsilon(1e-5)
        >>> epsilon()
        1e-05
        >>> set_epsilon(1e-7)
    """
    global _EPSILON
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.floating)
        or not np.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"set_epsilon: epsilon must be a positive finite float, got {value!r}")
    _EPSILON = float(value)


def image_data_format() -> str:
    """The default ``data_format`` of image layers: ``"channels_last"`` or
    ``"channels_first"``.

    Returns:
        The format name.

    Examples:
        >>> image_data_format()
        'channels_last'
    """
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format: str) -> None:
    """Set the default ``data_format`` of convolution and pooling layers.

    Args:
        data_format: ``"channels_last"`` (``(batch, height, width, channels)``) or
            ``"channels_first"`` (case-insensitive, as in Keras).

    Raises:
        ValueError: Another value.

    Examples:
        >>> set_image_data_format("channels_first")
        >>> image_data_format()
        'channels_first'
        >>> set_image_data_format("channels_last")
    """
    global _IMAGE_DATA_FORMAT
    value = str(data_format).lower()
    if value not in _DATA_FORMATS:
        raise ValueError(
            "set_image_data_format: the `data_format` argument must be one of "
            f"{set(_DATA_FORMATS)}, got {data_format!r}"
        )
    _IMAGE_DATA_FORMAT = value


def get_uid(prefix: str = "") -> int:
    """A per-process counter per prefix, from 1; automatic layer names come from it.

    Args:
        prefix: The counter's key (a layer's snake-case class name, for names).

    Returns:
        1 on the first call with ``prefix`` (after `clear_session`), then 2, 3, ...

    Examples:
        >>> clear_session()
        >>> get_uid("doc"), get_uid("doc")
        (1, 2)
    """
    return next(_UIDS.setdefault(prefix, itertools.count(1)))


def clear_session(free_memory: bool = True) -> None:
    """Reset the global state Keras programs build up: automatic names start over.

    After it, the next `Dense` is named ``dense`` again. The settings (`floatx`,
    `epsilon`, `image_data_format`) and the random seed are kept.

    Args:
        free_memory: Also run Python's garbage collector (as Keras does).

    Examples:
        >>> import tapegrad as tg
        >>> clear_session()
        >>> tg.layers.Dense(2).name, tg.layers.Dense(2).name
        ('dense', 'dense_1')
        >>> clear_session()
        >>> tg.layers.Dense(2).name
        'dense'
    """
    _UIDS.clear()
    if free_memory:
        gc.collect()


def is_keras_tensor(x: Any) -> bool:
    """Whether ``x`` is a symbolic tensor of the functional API (from `Input` or a layer
    called on one), not an eager Tensor or array.

    Args:
        x: Any object.

    Returns:
        True for a `tapegrad.layers.KerasTensor`.

    Examples:
        >>> import tapegrad as tg
        >>> is_keras_tensor(tg.layers.Input(shape=(3,))), is_keras_tensor(tg.tensor(1.0))
        (True, False)
    """
    from tapegrad.nn.layers import KerasTensor

    return isinstance(x, KerasTensor)


def standardize_dtype(dtype: Any) -> str:
    """The canonical name of a dtype, Keras' way: ``None`` is `floatx`, Python types map
    to names (``float`` -> ``"float32"``), NumPy dtypes and types to their name.

    Args:
        dtype: ``None``, a name, a NumPy dtype or type, or a Python type.

    Returns:
        The dtype's name.

    Raises:
        ValueError: Not a dtype Keras allows.

    Examples:
        >>> import numpy as np
        >>> standardize_dtype(None), standardize_dtype(float), standardize_dtype(np.int32)
        ('float32', 'float32', 'int32')
    """
    if dtype is None:
        return floatx()
    name = _dtype_name(dtype)
    if name not in _ALLOWED_DTYPES:
        raise ValueError(f"Invalid dtype: {dtype!r}; allowed: {list(_ALLOWED_DTYPES)}")
    return name


def is_float_dtype(dtype: Any) -> bool:
    """Whether ``dtype`` is a float dtype (after `standardize_dtype`).

    Examples:
        >>> is_float_dtype("float16"), is_float_dtype("int32")
        (True, False)
    """
    return standardize_dtype(dtype).startswith(("float", "bfloat"))


def is_int_dtype(dtype: Any) -> bool:
    """Whether ``dtype`` is a signed or unsigned integer dtype (after `standardize_dtype`).

    Examples:
        >>> is_int_dtype("uint8"), is_int_dtype(bool)
        (True, False)
    """
    return standardize_dtype(dtype).startswith(("int", "uint"))


def result_type(*dtypes: Any) -> str:
    """The dtype NumPy's promotion gives ``dtypes`` (tapegrad follows NumPy's rules); no
    argument gives `floatx`, as in Keras.

    Args:
        *dtypes: dtypes (names, NumPy dtypes, Python types).

    Returns:
        The promoted dtype's name.

    Examples:
        >>> result_type("int32", "float32"), result_type()
        ('float64', 'float32')
    """
    if not dtypes:
        return floatx()
    return np.result_type(*(np.dtype(standardize_dtype(d)) for d in dtypes)).name


def _dtype_name(value: Any) -> str:
    value = _PYTHON_DTYPES.get(value, value) if isinstance(value, type | str) else value
    if isinstance(value, str):
        return value
    try:
        return np.dtype(value).name
    except TypeError:
        return str(value)


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # a protocol probe (doctest's __wrapped__): no Keras name
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from tapegrad.keras_coverage import missing_name_error

    raise missing_name_error("keras.backend", name, UNSUPPORTED)


__all__ = [
    "backend",
    "clear_session",
    "current_path",
    "epsilon",
    "floatx",
    "floatx_scope",
    "get_uid",
    "image_data_format",
    "is_float_dtype",
    "is_int_dtype",
    "is_keras_tensor",
    "name_scope",
    "result_type",
    "set_epsilon",
    "set_floatx",
    "set_image_data_format",
    "standardize_dtype",
]

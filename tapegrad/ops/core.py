"""Keras 3's core ops (``keras.ops.convert_to_tensor``, ``cast``, ``slice``, ``scatter``, ...).

Conversions, dtypes, dynamic slicing and scattering, written with the primitive table so
every op is recorded by tapes and differentiable with respect to its float arguments.
Control flow (``cond``, ``while_loop``, ``scan``, ...) is in `tapegrad.ops.control_flow`.

Examples:
    >>> import tapegrad as tg
    >>> tg.ops.slice(tg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), (0, 1), (2, 2)).numpy()
    array([[2., 3.],
           [5., 6.]], dtype=float32)
"""

from __future__ import annotations

import builtins
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.custom import custom_gradient
from tapegrad.core.custom import stop_gradient as _stop_gradient
from tapegrad.core.tensor import Tensor, Variable, shape_of
from tapegrad.core.tracing import current_tracer
from tapegrad.core.transforms import jvp as _jvp

__all__ = [
    "arange",
    "cast",
    "convert_to_numpy",
    "convert_to_tensor",
    "custom_gradient",
    "dtype",
    "full",
    "get_item",
    "is_tensor",
    "jvp",
    "saturate_cast",
    "scatter",
    "scatter_update",
    "slice",
    "slice_update",
    "standardize_dtype",
    "stop_gradient",
    "unstack",
]


def floatx_dtype() -> np.dtype:
    """The default float dtype: ``tapegrad.backend.floatx()`` once loaded, else float32.

    Examples:
        >>> floatx_dtype()
        dtype('float32')
    """
    backend = sys.modules.get("tapegrad.backend")
    floatx = getattr(backend, "floatx", None)
    return np.dtype(floatx()) if callable(floatx) else np.dtype(np.float32)


def default_epsilon() -> float:
    """The fuzz factor: ``tapegrad.backend.epsilon()`` once loaded, else Keras's 1e-7.

    Examples:
        >>> default_epsilon()
        1e-07
    """
    backend = sys.modules.get("tapegrad.backend")
    epsilon = getattr(backend, "epsilon", None)
    return float(epsilon()) if callable(epsilon) else 1e-7


def concrete_value(value: Any, what: str) -> Any:
    """The value of ``value`` as NumPy data, for an op that decides from values.

    Inside `tapegrad.function` a tensor computed by the traced function has no value yet:
    the tracer's `TracerValueError` is raised, naming ``what`` and the user's source line
    (a compiled Keras step then falls back to running eagerly).

    Examples:
        >>> import tapegrad as tg
        >>> concrete_value(tg.tensor([1, 2]), "ops.example's indices")
        array([1, 2])
    """
    if isinstance(value, Tensor):
        tracer = current_tracer()
        if tracer is not None:
            tracer.refuse_value(value, what)
        return value.numpy()
    return np.asarray(value)


def standardize_dtype(dtype: Any, op: str = "cast") -> np.dtype:
    """A NumPy dtype from a Keras dtype name (``"float32"``, ``"int32"``, ``"bool"``, ...).

    Args:
        dtype: A dtype name, NumPy dtype or Python type (``float`` means float32, as Keras).
        op: The op named in the error message.

    Returns:
        The NumPy dtype.

    Raises:
        ValueError: the dtype is not one NumPy knows (``bfloat16``, ``float8_*``).

    Examples:
        >>> standardize_dtype("float32")
        dtype('float32')
    """
    if dtype is float:
        return floatx_dtype()
    if isinstance(dtype, Tensor):
        return dtype.dtype
    try:
        return np.dtype(getattr(dtype, "name", dtype) if not isinstance(dtype, str) else dtype)
    except TypeError:
        pass
    raise ValueError(f"ops.{op}: dtype {dtype!r} is not supported (NumPy has no such dtype)")


def convert_to_tensor(x: Any, dtype: Any = None, sparse: Any = None, ragged: Any = None) -> Tensor:
    """``x`` as a Tensor (Keras's ``keras.ops.convert_to_tensor``).

    Python floats become float32 (Keras's floatx), NumPy arrays keep their dtype; a Tensor is
    returned as it is (cast, differentiably, when ``dtype`` differs); a Variable gives its
    current value, still connected to tapes.

    Args:
        x: A Tensor, Variable, NumPy array, Python number or nested list.
        dtype: The dtype of the result (default: inferred).
        sparse: Only ``None``/``False`` (tapegrad has no sparse tensors).
        ragged: Only ``None``/``False`` (tapegrad has no ragged tensors).

    Returns:
        A Tensor.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.convert_to_tensor([1.0, 2.0]).dtype
        dtype('float32')
        >>> tg.ops.convert_to_tensor([1, 2], dtype="float32").numpy()
        array([1., 2.], dtype=float32)
    """
    if sparse:
        raise ValueError("ops.convert_to_tensor: sparse=True is not supported (no sparse tensors)")
    if ragged:
        raise ValueError("ops.convert_to_tensor: ragged=True is not supported (no ragged tensors)")
    if isinstance(x, Variable):
        x = P.identity_p(x)  # a snapshot of the value, still connected to tapes
    if isinstance(x, Tensor):
        return x if dtype is None else cast(x, dtype)
    if dtype is not None:
        dtype = standardize_dtype(dtype, "convert_to_tensor")
    # Tensor(data) applies the default dtypes (Python floats: float32).
    return Tensor(np.asarray(x, dtype=dtype)) if dtype is not None else Tensor(x)


def convert_to_numpy(x: Any) -> np.ndarray:
    """The value of ``x`` as a NumPy array (no gradient).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.convert_to_numpy(tg.tensor([1.0]))
        array([1.], dtype=float32)
    """
    if isinstance(x, Tensor):
        return x.numpy()
    return np.asarray(x)


def is_tensor(x: Any) -> bool:
    """Whether ``x`` is a tapegrad Tensor (Variables included).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.ops.is_tensor(tg.tensor(1.0)), tg.ops.is_tensor(np.ones(2))
        (True, False)
    """
    return isinstance(x, Tensor)


def dtype(x: Any) -> str:
    """The dtype of ``x`` as Keras names it (``"float32"``).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.dtype(tg.tensor([1.0]))
        'float32'
    """
    if isinstance(x, Tensor):
        return x.dtype.name
    return np.asarray(x).dtype.name if not isinstance(x, float) else "float32"


def cast(x: Any, dtype: Any) -> Tensor:
    """``x`` converted to ``dtype``; differentiable between float dtypes.

    Args:
        x: A tensor or array-like.
        dtype: The target dtype (a name such as ``"int32"`` or a NumPy dtype).

    Returns:
        A Tensor of that dtype.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.cast(tg.tensor([1.7, -1.7]), "int32").numpy()
        array([ 1, -1], dtype=int32)
    """
    target = standardize_dtype(dtype, "cast")
    x = convert_to_tensor(x)
    if x.dtype == target:
        return x
    return P.cast_p(x, dtype=target)


def saturate_cast(x: Any, dtype: Any) -> Tensor:
    """Cast, first clipping values to the range of the target dtype (no wrap-around).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.saturate_cast(tg.tensor([300.0, -3.0]), "uint8").numpy()
        array([255,   0], dtype=uint8)
    """
    target = standardize_dtype(dtype, "saturate_cast")
    x = convert_to_tensor(x)
    if target.kind in "iu":
        info: Any = np.iinfo(target)
    elif target.kind == "f":
        info = np.finfo(target)
    else:
        return cast(x, target)
    source: Any = np.iinfo(x.dtype) if x.dtype.kind in "iu" else np.finfo(x.dtype)
    if x.dtype.kind in "iub" or source.max > info.max or source.min < info.min:
        low = builtins.max(float(info.min), float(source.min))
        high = builtins.min(float(info.max), float(source.max))
        x = P.clip_p(x, np.asarray(low, x.dtype), np.asarray(high, x.dtype))
    return cast(x, target)


def _keras_dtype(dtype: Any, values: Sequence[Any], op: str) -> Any:
    """Keras's default dtype: floatx when a Python float is given (NumPy would pick float64)."""
    if dtype is not None:
        return standardize_dtype(dtype, op)
    if builtins.any(isinstance(v, float) for v in values):
        return floatx_dtype()
    return None


def full(shape: Any, fill_value: Any, dtype: Any = None) -> Tensor:
    """An array of ``shape`` filled with ``fill_value`` (a Python float gives floatx).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.full((2,), 1.5)
        Tensor([1.5, 1.5], dtype=float32)
    """
    target = _keras_dtype(dtype, [fill_value], "full")
    if isinstance(fill_value, Tensor):
        return P.broadcast_to_p(
            fill_value if target is None else cast(fill_value, target),
            shape=tuple(shape) if not isinstance(shape, int) else (shape,),
        )
    return Tensor(np.full(shape, fill_value, dtype=target))


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> Tensor:
    """Evenly spaced values in ``[start, stop)`` (Python floats give floatx, as Keras).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.arange(0.0, 1.0, 0.25)
        Tensor([0.  , 0.25, 0.5 , 0.75], dtype=float32)
        >>> tg.ops.arange(3).numpy()
        array([0, 1, 2])
    """
    start, stop, step = (v.numpy() if isinstance(v, Tensor) else v for v in (start, stop, step))
    bounds = [v for v in (start, stop, step) if v is not None]
    target = _keras_dtype(dtype, bounds, "arange")
    if stop is None:
        start, stop = 0, start
    return Tensor(np.arange(start, stop, 1 if step is None else step, dtype=target))


def unstack(x: Any, num: int | None = None, axis: int = 0) -> list[Any]:
    """The slices of ``x`` along ``axis``, as a list (Keras's ``num`` is checked if given).

    Examples:
        >>> import tapegrad as tg
        >>> [t.numpy().tolist() for t in tg.ops.unstack(tg.tensor([[1, 2], [3, 4]]), 2, axis=1)]
        [[1, 3], [2, 4]]
    """
    x = convert_to_tensor(x)
    shape = x.shape
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"ops.unstack: axis {axis} is out of range for shape {shape}")
    if num is not None and int(num) != shape[axis]:
        raise ValueError(
            f"ops.unstack: num={num} does not match the size {shape[axis]} of axis {axis}"
        )
    index = (builtins.slice(None),) * (axis % len(shape))
    return [x[index + (i,)] for i in range(shape[axis])]


def stop_gradient(variable: Any) -> Any:
    """The value of ``variable`` (a tensor), with no gradient flowing back through it.

    Examples:
        >>> import tapegrad as tg
        >>> tg.grad(lambda x: x * tg.ops.stop_gradient(x))(tg.tensor(3.0)).numpy()
        array(3., dtype=float32)
    """
    return _stop_gradient(variable)


def get_item(x: Any, key: Any) -> Any:
    """``x[key]`` (Keras's functional form of indexing).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.get_item(tg.tensor([1.0, 2.0, 3.0]), 1).numpy()
        array(2., dtype=float32)
    """
    return convert_to_tensor(x)[key]


def _start_indices(
    op: str, start_indices: Any, shape: tuple[int, ...], sizes: Sequence[int]
) -> list[int]:
    """Concrete start indices, clamped so the window fits (as ``lax.dynamic_slice``)."""
    values = concrete_value(start_indices, f"ops.{op}'s start_indices (not traced yet)")
    starts = [int(s) for s in np.asarray(values).reshape(-1)]
    if len(starts) != len(shape) or len(sizes) != len(shape):
        raise ValueError(
            f"ops.{op}: start_indices {tuple(starts)} and the sizes {tuple(sizes)} must have one "
            f"entry per dimension of the input of shape {shape}"
        )
    for dim, size in zip(shape, sizes, strict=True):
        if size < 0 or size > dim:
            raise ValueError(f"ops.{op}: a window of shape {tuple(sizes)} does not fit in {shape}")
    return [
        builtins.min(builtins.max(s, 0), dim - size)
        for s, dim, size in zip(starts, shape, sizes, strict=True)
    ]


def slice(inputs: Any, start_indices: Any, shape: Sequence[int]) -> Tensor:  # noqa: A001
    """The window of ``inputs`` of size ``shape`` starting at ``start_indices``.

    Start indices are clamped so the window fits (JAX's ``dynamic_slice``).

    Args:
        inputs: A tensor.
        start_indices: One start per dimension (ints or an int tensor).
        shape: The size of the window in each dimension.

    Returns:
        The window, differentiable with respect to ``inputs``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.slice(tg.tensor([1.0, 2.0, 3.0]), [2], [2]).numpy()  # clamped to start 1
        array([2., 3.], dtype=float32)
    """
    inputs = convert_to_tensor(inputs)
    sizes = [int(s) for s in shape]
    starts = _start_indices("slice", start_indices, inputs.shape, sizes)
    index = tuple(builtins.slice(s, s + n) for s, n in zip(starts, sizes, strict=True))
    return inputs[index]


def slice_update(inputs: Any, start_indices: Any, updates: Any) -> Tensor:
    """``inputs`` with the window at ``start_indices`` replaced by ``updates``.

    Differentiable with respect to both (the replaced values get no gradient).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.slice_update(tg.tensor([0.0, 0.0, 0.0]), [1], tg.tensor([5.0])).numpy()
        array([0., 5., 0.], dtype=float32)
    """
    inputs = convert_to_tensor(inputs)
    updates = cast(updates, inputs.dtype)
    starts = _start_indices("slice_update", start_indices, inputs.shape, updates.shape)
    pads = [(s, dim - s - n) for s, dim, n in zip(starts, inputs.shape, updates.shape, strict=True)]
    mask = np.zeros(inputs.shape, dtype=bool)
    mask[tuple(builtins.slice(s, s + n) for s, n in zip(starts, updates.shape, strict=True))] = True
    padded = P.pad_p(updates, pad_width=tuple(pads), constant_values=0)
    return P.where_p(mask, padded, inputs)


def _flat_positions(op: str, indices: Any, shape: tuple[int, ...]) -> tuple[Any, int]:
    """Row-major positions of ``indices[..., :k]`` among the first ``k`` dims of ``shape``."""
    k = shape_of(indices)[-1] if shape_of(indices) else 0
    if not 1 <= k <= len(shape):
        raise ValueError(
            f"ops.{op}: indices must have shape (..., k) with 1 <= k <= {len(shape)} "
            f"(the rank of the target of shape {shape}), got indices of shape {shape_of(indices)}"
        )
    if not isinstance(indices, Tensor):
        indices = np.asarray(indices)
        if indices.dtype.kind not in "iu":
            raise TypeError(f"ops.{op}: indices must be integers, got dtype {indices.dtype}")
        bound = np.asarray(shape[:k])
        if indices.size and ((indices < 0).any() or (indices >= bound).any()):
            raise ValueError(
                f"ops.{op}: indices out of range for shape {shape}: {indices.tolist()}"
            )
    strides = np.cumprod((1,) + tuple(shape[1:k])[::-1])[::-1].astype(np.int64)
    flat = P.sum_p(
        P.cast_p(indices, dtype=np.dtype(np.int64)) * strides,
        axis=(-1 % len(shape_of(indices)),),
        keepdims=False,
    )
    return flat, k


def scatter(indices: Any, values: Any, shape: Sequence[int]) -> Tensor:
    """Zeros of ``shape`` with ``values`` added at ``indices`` (duplicates add up, as JAX).

    Args:
        indices: Integer array of shape ``(..., k)``: coordinates in the first ``k`` dims.
        values: Shape ``indices.shape[:-1] + shape[k:]``.
        shape: The shape of the result.

    Returns:
        A Tensor of ``shape``, differentiable with respect to ``values``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.scatter([[0], [2], [0]], tg.tensor([1.0, 2.0, 3.0]), (4,)).numpy()
        array([4., 0., 2., 0.], dtype=float32)
    """
    shape = tuple(int(n) for n in shape)
    values = convert_to_tensor(values)
    flat, k = _flat_positions("scatter", indices, shape)
    rows = int(np.prod(shape[:k]))
    expected = tuple(shape_of(flat)) + shape[k:]
    if values.shape != expected:
        values = P.broadcast_to_p(values, shape=expected)
    out = P.take_add_p(values, flat, axis=0, shape=(rows,) + shape[k:])
    return P.reshape_p(out, shape=shape)


def scatter_update(inputs: Any, indices: Any, updates: Any, reduction: str | None = None) -> Tensor:
    """``inputs`` with ``updates`` written at ``indices`` (the last of duplicates wins).

    Args:
        inputs: The tensor to update.
        indices: Integer array of shape ``(n, k)``: coordinates in the first ``k`` dims.
        updates: Shape ``(n,) + inputs.shape[k:]``.
        reduction: ``None`` (replace) or ``"add"``; ``"max"``, ``"min"`` and ``"mul"``
            combine with the current values.

    Returns:
        A new Tensor, differentiable with respect to ``inputs`` and ``updates``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.scatter_update(tg.tensor([0.0, 0.0, 0.0]), [[1]], tg.tensor([5.0])).numpy()
        array([0., 5., 0.], dtype=float32)
    """
    inputs = convert_to_tensor(inputs)
    updates = cast(updates, inputs.dtype)
    shape = inputs.shape
    if reduction == "add":
        return inputs + scatter(indices, updates, shape)
    if reduction not in (None, "max", "min", "mul"):
        raise ValueError(
            f"ops.scatter_update: reduction must be None, 'add', 'max', 'min' or 'mul', "
            f"got {reduction!r}"
        )
    # Which update wins is decided from the indices (reduction="add" and ops.scatter trace).
    idx = concrete_value(indices, f"ops.scatter_update(reduction={reduction!r})'s indices")
    if idx.ndim != 2:
        raise ValueError(f"ops.scatter_update: indices must have shape (n, k), got {idx.shape}")
    flat_idx, k = _flat_positions("scatter_update", idx, shape)
    flat = np.asarray(flat_idx._value if isinstance(flat_idx, Tensor) else flat_idx)
    if reduction is None:
        # The last occurrence of each position wins, as NumPy's fancy assignment.
        _, last = np.unique(flat[::-1], return_index=True)
        keep = np.sort(len(flat) - 1 - last)
        written = scatter(idx[keep], P.take_p(updates, keep, axis=0), shape)
        mask = np.zeros(int(np.prod(shape[:k])), dtype=bool)
        mask[flat] = True
        mask = mask.reshape(shape[:k] + (1,) * (len(shape) - k))
        return P.where_p(mask, written, inputs)
    combine = {"max": P.maximum_p, "min": P.minimum_p, "mul": P.multiply_p}[reduction]
    out = inputs
    # One write per update, in order: duplicates combine one after another.
    for row in range(len(flat)):
        position = tuple(int(i) for i in idx[row])
        current = out[position]
        out = slice_update(
            out,
            position + (0,) * (len(shape) - k),
            P.reshape_p(combine(current, updates[row]), shape=(1,) * k + shape[k:]),
        )
    return out


def jvp(
    fun: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False
) -> Any:
    """Forward-mode derivative: ``(fun(*primals), J @ tangents)`` (Keras's ``ops.jvp``).

    Args:
        fun: The function; with ``has_aux`` it returns ``(output, aux)``.
        primals: The point, one value per argument of ``fun``.
        tangents: The direction, structured as ``primals``.
        has_aux: Whether ``fun`` returns an auxiliary value, returned third.

    Returns:
        ``(primals_out, tangents_out)``, or ``(primals_out, tangents_out, aux)``.

    Examples:
        >>> import tapegrad as tg
        >>> out, tangent = tg.ops.jvp(lambda x: x * x, (tg.tensor(3.0),), (tg.tensor(1.0),))
        >>> float(out), float(tangent)
        (9.0, 6.0)
    """
    if not has_aux:
        return _jvp(fun, tuple(primals), tuple(tangents))
    aux: list[Any] = []

    def output_only(*args: Any) -> Any:
        out, extra = fun(*args)
        aux.append(extra)
        return out

    out, tangent_out = _jvp(output_only, tuple(primals), tuple(tangents))
    return out, tangent_out, aux[-1]

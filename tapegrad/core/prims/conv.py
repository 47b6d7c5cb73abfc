"""Convolution and pooling primitives (one family: the same window geometry), channels-last:
``x (N, *spatial, C)``, any number of spatial dims.

Params are canonical tuples (the ops layer builds them): ``strides``, ``dilation`` and
``window`` hold one int per spatial dim, ``padding`` one ``(lo, hi)`` pair per spatial dim
(negative values crop). ``None`` means strides of 1 (pools: the window), no padding, no
dilation.

Convolution is im2col (a strided view of every window, copied once) + one GEMM. Its two
VJPs are primitives of their own, `conv_input_grad` (col2im by one slice-add per kernel
offset) and `conv_kernel_grad` (im2col + GEMM); all three are bilinear and each one's
derivatives are the other two, so derivatives of any order stay in this family.

Pools loop over the window offsets (a few strided slices each), never over pixels. Max
pooling routes each window's cotangent to its first maximum (PyTorch, Keras): the choice
is `pool_argmax` (not differentiable), and the routing is the linear pair
`pool_gather` / `pool_scatter`, each the other's transpose. Average pooling divides by the
number of real (unpadded) elements in each window, like Keras and TF, and pairs with
`avg_pool_transpose`.
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tapegrad.core.primitive import Primitive
from tapegrad.core.prims.products import matmul_p
from tapegrad.core.prims.shape import broadcast_to_p, reshape_p
from tapegrad.core.tensor import dtype_of, shape_of


# -- geometry ----------------------------------------------------------------------------
def _defaults(nd: int, strides: Any, padding: Any, dilation: Any) -> tuple[Any, Any, Any]:
    return (
        (1,) * nd if strides is None else strides,
        ((0, 0),) * nd if padding is None else padding,
        (1,) * nd if dilation is None else dilation,
    )


def _out_shape(
    op: str,
    spatial: tuple[int, ...],
    window: tuple[int, ...],
    strides: Any,
    padding: Any,
    dilation: Any,
) -> tuple[int, ...]:
    """Output spatial shape; a clear error when a window does not fit the padded input."""
    if not len(window) == len(strides) == len(padding) == len(dilation) == len(spatial):
        raise ValueError(
            f"{op}: {len(spatial)} spatial dims but window {window}, strides {strides}, "
            f"padding {padding}, dilation {dilation}"
        )
    out = []
    for n, k, s, (lo, hi), d in zip(spatial, window, strides, padding, dilation, strict=True):
        span = n + lo + hi - d * (k - 1)
        if span < 1 or s < 1:
            raise ValueError(
                f"{op}: window {window} (dilation {dilation}) does not fit spatial shape "
                f"{spatial} padded by {padding} with strides {strides}"
            )
        out.append((span - 1) // s + 1)
    return tuple(out)


def _pad(x: np.ndarray, padding: Any, value: Any = 0) -> np.ndarray:
    """Pad (or, for negative widths, crop) the spatial dims of a channels-last array."""
    if not any(lo or hi for lo, hi in padding):
        return x
    crop = tuple(
        slice(max(-lo, 0), n - max(-hi, 0))
        for (lo, hi), n in zip(padding, x.shape[1:-1], strict=True)
    )
    x = x[(slice(None),) + crop]
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in padding]
    if not any(lo or hi for lo, hi in grow):
        return x
    spatial = x.shape[1:-1]
    shape = (
        x.shape[0],
        *(n + lo + hi for n, (lo, hi) in zip(spatial, grow, strict=True)),
        x.shape[-1],
    )
    out = np.full(shape, value, dtype=x.dtype)
    inner = tuple(slice(lo, lo + n) for (lo, _), n in zip(grow, spatial, strict=True))
    out[(slice(None),) + inner] = x
    return out


def _unpad(xp: np.ndarray, padding: Any, spatial: tuple[int, ...]) -> np.ndarray:
    """The transpose of `_pad`: the cotangent of the unpadded input."""
    if not any(lo or hi for lo, hi in padding):
        return xp
    inner = tuple(
        slice(max(lo, 0), n - max(hi, 0))
        for (lo, hi), n in zip(padding, xp.shape[1:-1], strict=True)
    )
    if all(lo >= 0 and hi >= 0 for lo, hi in padding):
        return xp[(slice(None),) + inner]
    out = np.zeros((xp.shape[0], *spatial, xp.shape[-1]), dtype=xp.dtype)
    kept = tuple(
        slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(padding, spatial, strict=True)
    )
    out[(slice(None),) + kept] = xp[(slice(None),) + inner]
    return out


def _windows(
    xp: np.ndarray, window: tuple[int, ...], out: tuple[int, ...], strides: Any, dilation: Any
) -> np.ndarray:
    """A read-only view ``(N, *out, *window, C)`` of every window of ``xp`` (no copy)."""
    st = xp.strides
    spatial_st = st[1:-1]
    shape = (xp.shape[0], *out, *window, xp.shape[-1])
    view_st = (
        st[0],
        *(a * s for a, s in zip(spatial_st, strides, strict=True)),
        *(a * d for a, d in zip(spatial_st, dilation, strict=True)),
        st[-1],
    )
    return as_strided(xp, shape, view_st, writeable=False)


def _slots(
    window: tuple[int, ...], out: tuple[int, ...], strides: Any, dilation: Any
) -> list[tuple[Any, ...]]:
    """For each window offset, the index of the padded-input elements it sees in every
    window: a strided slice shaped like the output."""
    return [
        (
            slice(None),
            *(
                slice(o * d, o * d + s * (m - 1) + 1, s)
                for o, d, s, m in zip(offset, dilation, strides, out, strict=True)
            ),
        )
        for offset in itertools.product(*(range(k) for k in window))
    ]


# -- convolution -------------------------------------------------------------------------
_FEW_CHANNELS = 4  # up to this many input channels, im2col copies in transposed order
# The convolutions work through the batch in chunks of up to 16 MB of patches (the im2col
# copy), which bounds the memory a large batch takes; much smaller chunks cost speed (BLAS,
# and its threads, need large products).
_CHUNK_BYTES = 1 << 24


def _chunks(n: int, bytes_per_image: int) -> list[slice]:
    """Slices of the batch axis, each about `_CHUNK_BYTES` of patches."""
    step = max(1, _CHUNK_BYTES // max(bytes_per_image, 1))
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


def _window_view(
    x: np.ndarray, window: tuple[int, ...], strides: Any, padding: Any, dilation: Any, op: str
) -> tuple[np.ndarray, tuple[int, ...]]:
    """The windows ``(N, *out, *window, C)`` of the padded input (a view) and ``out``."""
    out = _out_shape(op, x.shape[1:-1], window, strides, padding, dilation)
    return _windows(_pad(x, padding), window, out, strides, dilation), out


def _patches(view: np.ndarray, groups: int) -> np.ndarray:
    """Patches of a window view as ``(G, rows, prod(window) * C / G)`` (groups == 1: 2-D)."""
    nd = (view.ndim - 2) // 2
    rows = view.shape[0] * math.prod(view.shape[1 : nd + 1])
    channels = view.shape[-1]
    if groups == 1:
        if channels <= _FEW_CHANNELS:
            # Few channels: a (window * C, rows) copy reads long contiguous runs along the
            # image rows instead of C-long ones, several times faster (6x for C == 1);
            # BLAS takes its transpose as it is.
            return (
                np.moveaxis(view, (0, *range(1, nd + 1)), (-nd - 1, *range(-nd, 0)))
                .reshape(-1, rows)
                .T
            )
        return view.reshape(rows, -1)
    grouped = view.reshape(*view.shape[:-1], groups, channels // groups)
    return np.moveaxis(grouped, -2, 0).reshape(groups, rows, -1)


def _grouped_kernel(kernel: np.ndarray, groups: int) -> np.ndarray:
    """``(*window, C_in / G, C_out)`` as ``(G, prod(window) * C_in / G, C_out / G)``."""
    if groups == 1:
        return kernel.reshape(-1, kernel.shape[-1])
    split = kernel.reshape(*kernel.shape[:-1], groups, kernel.shape[-1] // groups)
    return np.moveaxis(split, -2, 0).reshape(groups, -1, kernel.shape[-1] // groups)


def _grouped_rows(y: np.ndarray, groups: int) -> np.ndarray:
    """Channels-last ``(N, *out, C)`` as ``(G, N * prod(out), C / G)`` (2-D if G == 1)."""
    if groups == 1:
        return y.reshape(-1, y.shape[-1])
    return np.moveaxis(y.reshape(-1, groups, y.shape[-1] // groups), 1, 0)


def _check_conv(
    op: str, x_shape: tuple[int, ...], kernel_shape: tuple[int, ...], groups: int
) -> None:
    c_in, c_out = kernel_shape[-2] * groups, kernel_shape[-1]
    if len(x_shape) != len(kernel_shape) or len(x_shape) < 3:
        raise ValueError(
            f"{op}: input {x_shape} must be (N, *spatial, C) and kernel {kernel_shape} "
            "(*window, C_in / groups, C_out) with the same number of spatial dims"
        )
    if x_shape[-1] != c_in or c_out % groups:
        raise ValueError(
            f"{op}: input channels {x_shape[-1]} must equal kernel {kernel_shape}'s "
            f"C_in / groups * groups = {c_in}, and C_out must divide into {groups} groups"
        )


def _conv_impl(
    x: Any,
    kernel: Any,
    bias: Any = None,
    strides: Any = None,
    padding: Any = None,
    dilation: Any = None,
    groups: int = 1,
) -> np.ndarray:
    x, kernel = np.asarray(x), np.asarray(kernel)
    _check_conv("conv", x.shape, kernel.shape, groups)
    if bias is not None:
        bias = np.asarray(bias)
        if bias.shape != kernel.shape[-1:]:
            raise ValueError(
                f"conv: bias shape {bias.shape} must be (C_out,) = "
                f"{kernel.shape[-1:]} for kernel {kernel.shape}"
            )
    strides, padding, dilation = _defaults(kernel.ndim - 2, strides, padding, dilation)
    return _correlate(x, kernel, strides, padding, dilation, groups, "conv", bias)


def _correlate(
    x: np.ndarray,
    kernel: np.ndarray,
    strides: Any,
    padding: Any,
    dilation: Any,
    groups: int,
    op: str,
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """The convolution proper (canonical params): im2col + GEMM, a chunk of images at a time,
    plus the bias while the chunk is in cache."""
    window = kernel.shape[:-2]
    view, out = _window_view(x, window, strides, padding, dilation, op)
    weights = _grouped_kernel(kernel, groups)
    c_out = kernel.shape[-1]
    dtype = np.result_type(x.dtype, kernel.dtype, *(() if bias is None else (bias.dtype,)))
    y = np.empty((x.shape[0], *out, c_out), dtype)
    patch_bytes = math.prod(out) * math.prod(window) * x.shape[-1] * x.itemsize
    for part in _chunks(x.shape[0], patch_bytes):
        cols = _patches(view[part], groups)
        if groups == 1:
            np.matmul(cols, weights, out=y[part].reshape(-1, c_out))
        else:  # (G, rows, C_out / G) -> (rows, G, C_out / G): output channels group-major
            y[part] = np.moveaxis(np.matmul(cols, weights), 0, 1).reshape(y[part].shape)
        if bias is not None:
            y[part] += bias
    return y


def _flipped_kernel(kernel: np.ndarray, groups: int) -> np.ndarray:
    """The kernel of the transposed convolution: windows reversed, and in each group the
    input and output channels swapped: ``(*window, C_out / G, C_in)``."""
    nd = kernel.ndim - 2
    flipped = kernel[(slice(None, None, -1),) * nd]
    c_group, c_out = kernel.shape[-2], kernel.shape[-1]
    split = flipped.reshape(*kernel.shape[:-2], c_group, groups, c_out // groups)
    swapped = np.moveaxis(split, (-3, -2, -1), (-1, -2, -3))  # (*w, C_out/G, G, C_in/G)
    return np.ascontiguousarray(swapped).reshape(
        *kernel.shape[:-2], c_out // groups, groups * c_group
    )


def _conv_input_grad_impl(
    g: Any,
    kernel: Any,
    input_shape: tuple[int, ...],
    strides: Any = None,
    padding: Any = None,
    dilation: Any = None,
    groups: int = 1,
) -> np.ndarray:
    """Transposed convolution: the cotangent of ``x`` (spatial shape ``input_shape``)."""
    g, kernel = np.asarray(g), np.asarray(kernel)
    window = kernel.shape[:-2]
    strides, padding, dilation = _defaults(len(window), strides, padding, dilation)
    x_shape = (g.shape[0], *input_shape, kernel.shape[-2] * groups)
    _check_conv("conv_input_grad", x_shape, kernel.shape, groups)
    out = _out_shape("conv_input_grad", input_shape, window, strides, padding, dilation)
    if g.shape != (g.shape[0], *out, kernel.shape[-1]):
        raise ValueError(
            f"conv_input_grad: cotangent shape {g.shape} does not match the output "
            f"{(g.shape[0], *out, kernel.shape[-1])} of the convolution"
        )
    if all(s == 1 for s in strides):
        # Stride 1: a convolution of the cotangent with the flipped kernel, padded by the
        # rest of the window span. Its im2col + GEMM run in cache, chunk by chunk: ~1.4x
        # faster than the slice-adds below, which read and write the whole input per offset.
        spans = [d * (k - 1) for k, d in zip(window, dilation, strict=True)]
        pads = tuple((s - lo, s - hi) for s, (lo, hi) in zip(spans, padding, strict=True))
        return _correlate(
            g, _flipped_kernel(kernel, groups), strides, pads, dilation, groups, "conv_input_grad"
        )
    # One GEMM per kernel offset (and group), each result laid out like an input slice:
    # (offsets, G, rows, C/G). The slice-adds below then read contiguous memory, which
    # makes them ~3x faster than adding strided columns of one big GEMM's result.
    n_offsets, c_group = math.prod(window), kernel.shape[-2]
    per_offset = kernel.reshape(n_offsets, c_group, groups, -1).transpose(0, 2, 3, 1)
    rows = g.reshape(-1, groups, g.shape[-1] // groups).transpose(1, 0, 2)
    cols = np.matmul(rows, per_offset)
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(input_shape, padding, strict=True))
    dxp = np.zeros((g.shape[0], *padded, groups, c_group), dtype=cols.dtype)
    # col2im: one strided slice-add per kernel offset (windows overlap in general).
    for j, slot in enumerate(_slots(window, out, strides, dilation)):
        dxp[slot] += np.moveaxis(cols[j].reshape(groups, *g.shape[:-1], c_group), 0, -2)
    return _unpad(dxp.reshape(*dxp.shape[:-2], -1), padding, input_shape)


def _conv_kernel_grad_impl(
    x: Any,
    g: Any,
    window: tuple[int, ...],
    strides: Any = None,
    padding: Any = None,
    dilation: Any = None,
    groups: int = 1,
) -> np.ndarray:
    """The cotangent of the kernel (spatial shape ``window``): patches^T @ cotangent."""
    x, g = np.asarray(x), np.asarray(g)
    strides, padding, dilation = _defaults(len(window), strides, padding, dilation)
    c_out = g.shape[-1]
    _check_conv("conv_kernel_grad", x.shape, (*window, x.shape[-1] // groups, c_out), groups)
    view, out = _window_view(x, window, strides, padding, dilation, "conv_kernel_grad")
    if g.shape != (x.shape[0], *out, c_out):
        raise ValueError(
            f"conv_kernel_grad: cotangent shape {g.shape} does not match the output "
            f"{(x.shape[0], *out, c_out)} of the convolution"
        )
    c_group = x.shape[-1] // groups
    dtype = np.result_type(x.dtype, g.dtype)
    dk = np.zeros((groups, math.prod(window) * c_group, c_out // groups), dtype)
    patch_bytes = math.prod(out) * math.prod(window) * x.shape[-1] * x.itemsize
    for part in _chunks(x.shape[0], patch_bytes):
        cols = _patches(view[part], groups)
        dk += np.matmul(np.swapaxes(cols, -1, -2), _grouped_rows(g[part], groups))
    if groups == 1:
        return dk.reshape(*window, c_group, c_out)
    dk = dk.reshape(groups, *window, c_group, c_out // groups)
    return np.moveaxis(dk, 0, -2).reshape(*window, c_group, c_out)


conv_p = Primitive("conv", _conv_impl, returns="fresh")
conv_input_grad_p = Primitive("conv_input_grad", _conv_input_grad_impl, returns="fresh")
conv_kernel_grad_p = Primitive("conv_kernel_grad", _conv_kernel_grad_impl, returns="fresh")


def _spatial(x: Any) -> tuple[int, ...]:
    return tuple(shape_of(x)[1:-1])


def _window(kernel: Any) -> tuple[int, ...]:
    return tuple(shape_of(kernel)[:-2])


# conv(x, k) is bilinear: each derivative is another member of the family, linear in the
# cotangent or tangent (<c, conv(x, k)> = <input_grad(c, k), x> = <kernel_grad(x, c), k>).
# The optional bias is added to every output position.
def _conv_vjp_x(g: Any, ans: Any, x: Any, kernel: Any, *bias: Any, **params: Any) -> Any:
    return conv_input_grad_p(g, kernel, input_shape=_spatial(x), **params)


def _conv_vjp_kernel(g: Any, ans: Any, x: Any, kernel: Any, *bias: Any, **params: Any) -> Any:
    return conv_kernel_grad_p(x, g, window=_window(kernel), **params)


def _conv_vjp_bias(g: Any, ans: Any, x: Any, kernel: Any, bias: Any, **params: Any) -> Any:
    return sum_leading(g)


def sum_leading(g: Any) -> Any:
    """``g`` summed over every axis but the last, as one matrix-vector product (NumPy's sum
    over the leading axes of a channels-last array is ~10x slower).

    Examples:
        >>> sum_leading(np.ones((2, 3, 4)))
        array([6., 6., 6., 6.])
    """
    shape = shape_of(g)
    rows = math.prod(shape[:-1])
    flat = reshape_p(g, shape=(rows, shape[-1]))
    return matmul_p(np.ones(rows, dtype_of(g)), flat)


conv_p.defvjp(_conv_vjp_x, _conv_vjp_kernel, _conv_vjp_bias)
conv_p.defjvp(
    lambda t, ans, x, kernel, *bias, **params: conv_p(t, kernel, **params),
    lambda t, ans, x, kernel, *bias, **params: conv_p(x, t, **params),
    lambda t, ans, x, kernel, bias, **params: broadcast_to_p(t, shape=shape_of(ans)),
)


def _input_grad_vjp_g(
    c: Any, ans: Any, g: Any, kernel: Any, input_shape: Any, **params: Any
) -> Any:
    return conv_p(c, kernel, **params)


def _input_grad_vjp_kernel(
    c: Any, ans: Any, g: Any, kernel: Any, input_shape: Any, **params: Any
) -> Any:
    return conv_kernel_grad_p(c, g, window=_window(kernel), **params)


conv_input_grad_p.defvjp(_input_grad_vjp_g, _input_grad_vjp_kernel)
conv_input_grad_p.defjvp(
    lambda t, ans, g, kernel, **params: conv_input_grad_p(t, kernel, **params),
    lambda t, ans, g, kernel, **params: conv_input_grad_p(g, t, **params),
)


def _kernel_grad_vjp_x(c: Any, ans: Any, x: Any, g: Any, window: Any, **params: Any) -> Any:
    return conv_input_grad_p(g, c, input_shape=_spatial(x), **params)


def _kernel_grad_vjp_g(c: Any, ans: Any, x: Any, g: Any, window: Any, **params: Any) -> Any:
    return conv_p(x, c, **params)


conv_kernel_grad_p.defvjp(_kernel_grad_vjp_x, _kernel_grad_vjp_g)
conv_kernel_grad_p.defjvp(
    lambda t, ans, x, g, **params: conv_kernel_grad_p(t, g, **params),
    lambda t, ans, x, g, **params: conv_kernel_grad_p(x, t, **params),
)


# -- pooling -----------------------------------------------------------------------------
def _pool_geometry(
    op: str, x_spatial: tuple[int, ...], window: tuple[int, ...], strides: Any, padding: Any
) -> tuple[Any, Any, tuple[int, ...], list[Any]]:
    strides, padding, dilation = _defaults(len(window), strides or window, padding, None)
    out = _out_shape(op, x_spatial, window, strides, padding, dilation)
    return strides, padding, out, _slots(window, out, strides, dilation)


def _lowest(dtype: np.dtype) -> Any:
    return -np.inf if dtype.kind in "fc" else np.iinfo(dtype).min


def _max_pool_impl(
    x: Any, window: tuple[int, ...], strides: Any = None, padding: Any = None
) -> np.ndarray:
    x = np.asarray(x)
    strides, padding, _, slots = _pool_geometry("max_pool", x.shape[1:-1], window, strides, padding)
    # Padding never wins a max. Strided-slice maxima beat reshape + max(axis) several times
    # over, also when strides == window.
    xp = _pad(x, padding, _lowest(x.dtype))
    if len(slots) == 1:
        return xp[slots[0]].copy()
    out = np.maximum(xp[slots[0]], xp[slots[1]])
    for slot in slots[2:]:
        np.maximum(out, xp[slot], out=out)
    return out


def _pool_argmax_impl(
    x: Any, maxima: Any = None, *, window: tuple[int, ...], strides: Any = None, padding: Any = None
) -> np.ndarray:
    """Each window's first maximum, as an offset into the window (row-major).

    ``maxima``, the max pool of ``x`` when the caller has it, saves recomputing it.
    """
    x = np.asarray(x)
    strides, padding, _, slots = _pool_geometry(
        "pool_argmax", x.shape[1:-1], window, strides, padding
    )
    xp = _pad(x, padding, _lowest(x.dtype))
    dtype = np.uint8 if len(slots) <= 256 else np.intp
    if len(slots) == 1:
        return np.zeros(
            _out_shape("pool_argmax", x.shape[1:-1], window, strides, padding, (1,) * len(window)),
            dtype,
        )
    if maxima is None:
        maxima = _max_pool_impl(x, window, strides, padding)
    # The offset of the first maximum is the number of leading offsets whose element is
    # not the maximum: boolean ands and byte adds, several times cheaper than tracking a
    # running argmax. (A NaN maximum equals nothing: the last offset, where it may be.)
    index = np.not_equal(xp[slots[0]], maxima)
    ahead = index.copy()
    index = index.astype(dtype)
    differs = np.empty(ahead.shape, bool)
    for slot in slots[1:-1]:
        np.not_equal(xp[slot], maxima, out=differs)
        ahead &= differs
        index += ahead
    return index


def _all_finite(a: np.ndarray) -> bool:
    """Whether every element is finite: one sum, no temporaries (NaN and inf survive a sum;
    a sum that overflows only sends finite values down the slow, exact path)."""
    if a.dtype.kind not in "fc":
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.add.reduce(a, axis=None)))


def _masked(values: np.ndarray, mask: np.ndarray, finite: bool) -> np.ndarray:
    """``values`` where ``mask``, else 0. Multiplying by the mask is several times faster
    than ``np.where``, but 0 * inf is NaN: non-finite values take ``np.where``."""
    return values * mask if finite else np.where(mask, values, 0)


def _pool_gather_impl(
    x: Any, index: Any, window: tuple[int, ...], strides: Any = None, padding: Any = None
) -> np.ndarray:
    """The element of each window that ``index`` selects (max pooling given its argmax)."""
    x, index = np.asarray(x), np.asarray(index)
    strides, padding, _, slots = _pool_geometry(
        "pool_gather", x.shape[1:-1], window, strides, padding
    )
    xp = _pad(x, padding)
    finite = _all_finite(x)
    out = _masked(xp[slots[0]], index == 0, finite)
    for j, slot in enumerate(slots[1:], start=1):
        out += _masked(xp[slot], index == j, finite)
    return out


def _pool_scatter_impl(
    g: Any,
    index: Any,
    window: tuple[int, ...],
    input_shape: tuple[int, ...],
    strides: Any = None,
    padding: Any = None,
) -> np.ndarray:
    """The transpose of `pool_gather`: each window's ``g`` at its selected element."""
    g, index = np.asarray(g), np.asarray(index)
    strides, padding, _, slots = _pool_geometry(
        "pool_scatter", input_shape, window, strides, padding
    )
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(input_shape, padding, strict=True))
    finite = _all_finite(g)
    disjoint = all(s >= k for s, k in zip(strides, window, strict=True))
    out = shape_of(g)[1:-1]
    tiled = disjoint and all(
        s == k and m * s == n for s, k, m, n in zip(strides, window, out, padded, strict=True)
    )
    # Windows that tile the padded input write every element once below: no zero fill.
    empty = np.empty if tiled and finite else np.zeros
    dxp = empty((g.shape[0], *padded, g.shape[-1]), dtype=g.dtype)
    for j, slot in enumerate(slots):
        if disjoint and finite:  # each element is in one window at most: write, no add
            np.multiply(g, index == j, out=dxp[slot])
        else:
            dxp[slot] += _masked(g, index == j, finite)
    return _unpad(dxp, padding, input_shape)


max_pool_p = Primitive("max_pool", _max_pool_impl, returns="fresh")
pool_argmax_p = Primitive("pool_argmax", _pool_argmax_impl, differentiable=False, returns="fresh")
pool_gather_p = Primitive("pool_gather", _pool_gather_impl, returns="fresh")
pool_scatter_p = Primitive("pool_scatter", _pool_scatter_impl, returns="fresh")


def _max_pool_vjp(g: Any, ans: Any, x: Any, **params: Any) -> Any:
    index = pool_argmax_p(x, ans, **params)
    return pool_scatter_p(g, index, input_shape=_spatial(x), **params)


def _max_pool_jvp(t: Any, ans: Any, x: Any, **params: Any) -> Any:
    return pool_gather_p(t, pool_argmax_p(x, ans, **params), **params)


max_pool_p.defvjp(_max_pool_vjp)
max_pool_p.defjvp(_max_pool_jvp)
pool_gather_p.defvjp(
    lambda c, ans, x, index, **params: pool_scatter_p(c, index, input_shape=_spatial(x), **params),
    None,
)
pool_gather_p.defjvp(lambda t, ans, x, index, **params: pool_gather_p(t, index, **params), None)
pool_scatter_p.defvjp(
    lambda c, ans, g, index, input_shape, **params: pool_gather_p(c, index, **params), None
)
pool_scatter_p.defjvp(lambda t, ans, g, index, **params: pool_scatter_p(t, index, **params), None)


@functools.lru_cache(maxsize=64)
def _window_counts(
    spatial: tuple[int, ...], window: tuple[int, ...], strides: Any, padding: Any
) -> np.ndarray:
    """Real (unpadded) elements per window, shaped ``(1, *out, 1)``; read-only (cached)."""
    _, padding, _, slots = _pool_geometry("avg_pool", spatial, window, strides, padding)
    ones = _pad(np.ones((1, *spatial, 1)), padding)
    counts = sum(ones[slot] for slot in slots)
    counts.flags.writeable = False
    return counts


def _inverse_counts(
    spatial: tuple[int, ...], window: tuple[int, ...], strides: Any, padding: Any, dtype: np.dtype
) -> Any:
    if not any(lo or hi for lo, hi in padding):
        return dtype.type(1 / math.prod(window))
    key = (tuple(spatial), tuple(window), tuple(strides), tuple(tuple(p) for p in padding))
    return (1 / _window_counts(*key)).astype(dtype)


def _avg_pool_impl(
    x: Any, window: tuple[int, ...], strides: Any = None, padding: Any = None
) -> np.ndarray:
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind in "fc" else np.dtype(np.float64)
    strides, pads, _, slots = _pool_geometry("avg_pool", x.shape[1:-1], window, strides, padding)
    xp = _pad(x, pads)
    out = xp[slots[0]].astype(dtype)
    for slot in slots[1:]:
        out += xp[slot]
    out *= _inverse_counts(x.shape[1:-1], window, strides, pads, dtype)
    return out


def _avg_pool_transpose_impl(
    g: Any,
    window: tuple[int, ...],
    input_shape: tuple[int, ...],
    strides: Any = None,
    padding: Any = None,
) -> np.ndarray:
    """The transpose of `avg_pool`: ``g / count`` spread over each window."""
    g = np.asarray(g)
    strides, pads, _, slots = _pool_geometry(
        "avg_pool_transpose", input_shape, window, strides, padding
    )
    share = g * _inverse_counts(input_shape, window, strides, pads, g.dtype)
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(input_shape, pads, strict=True))
    dxp = np.zeros((g.shape[0], *padded, g.shape[-1]), dtype=share.dtype)
    for slot in slots:
        dxp[slot] += share
    return _unpad(dxp, pads, input_shape)


avg_pool_p = Primitive("avg_pool", _avg_pool_impl, returns="fresh")
avg_pool_transpose_p = Primitive("avg_pool_transpose", _avg_pool_transpose_impl, returns="fresh")
avg_pool_p.defvjp(
    lambda g, ans, x, **params: avg_pool_transpose_p(g, input_shape=_spatial(x), **params)
)
avg_pool_p.defjvp(lambda t, ans, x, **params: avg_pool_p(t, **params))
avg_pool_transpose_p.defvjp(lambda c, ans, g, input_shape, **params: avg_pool_p(c, **params))
avg_pool_transpose_p.defjvp(lambda t, ans, g, **params: avg_pool_transpose_p(t, **params))

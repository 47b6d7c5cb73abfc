"""Products: dot, matmul, tensordot, einsum, inner, outer, kron, vdot, and the vector
products vecdot, matvec and vecmat."""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.numpy._arguments import as_array as _array
from tapegrad.numpy._arguments import dtype_of as _dtype
from tapegrad.numpy._arguments import ndim_of as _ndim
from tapegrad.numpy._arguments import one_axis as _axis
from tapegrad.numpy._arguments import shape_of as _shape
from tapegrad.numpy._axes import axis_index

# The primitive itself: NumPy's own errors (0-d operands, mismatched inner dimensions)
# come back naming the op and both shapes.
matmul = P.matmul_p


def dot(a: Any, b: Any, out: Any = None) -> Any:
    """Differentiable ``numpy.dot``."""
    if out is not None:
        raise TypeError("tapegrad.numpy.dot: out= is not supported")
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return a * b
    if nb <= 2:
        return P.matmul_p(a, b)
    # N-D: sum over the last axis of a and the second-to-last of b.
    return tensordot(a, b, axes=([na - 1], [nb - 2]))


def vdot(a: Any, b: Any, /) -> Any:
    """Differentiable ``numpy.vdot``: conjugates ``a`` when it is complex (as NumPy)."""
    if _dtype(a).kind == "c":
        a = P.conj_p(a)
    if _ndim(a) == 1 and _ndim(b) == 1:
        return P.sum_p(a * b, axis=None, keepdims=False)  # no reshapes to record
    return P.sum_p(
        P.reshape_p(a, shape=(-1,)) * P.reshape_p(b, shape=(-1,)), axis=None, keepdims=False
    )


def inner(a: Any, b: Any, /) -> Any:
    """Differentiable ``numpy.inner``."""
    if _ndim(a) == 0 or _ndim(b) == 0:
        return a * b
    return tensordot(a, b, axes=([_ndim(a) - 1], [_ndim(b) - 1]))


def outer(a: Any, b: Any, out: Any = None) -> Any:
    """Differentiable ``numpy.outer``."""
    return P.reshape_p(a, shape=(-1, 1)) * P.reshape_p(b, shape=(1, -1))


def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    """Differentiable ``numpy.tensordot`` (transpose + reshape + matmul)."""
    na, nb = _ndim(a), _ndim(b)
    if isinstance(axes, int | np.integer):
        axes_a = list(range(na - int(axes), na))
        axes_b = list(range(int(axes)))
    else:
        axes_a, axes_b = ([int(i) for i in np.atleast_1d(ax)] for ax in axes)
    axes_a = [i % na for i in axes_a]
    axes_b = [i % nb for i in axes_b]
    sa, sb = _shape(a), _shape(b)
    for i, j in zip(axes_a, axes_b, strict=True):
        if sa[i] != sb[j]:
            raise ValueError(f"tensordot: shape mismatch for sum ({sa} axis {i}, {sb} axis {j})")
    free_a = [i for i in range(na) if i not in axes_a]
    free_b = [j for j in range(nb) if j not in axes_b]
    k = int(np.prod([sa[i] for i in axes_a], dtype=np.int64))
    left = P.reshape_p(P.transpose_p(a, axes=tuple(free_a + axes_a)), shape=(-1, k))
    right = P.reshape_p(P.transpose_p(b, axes=tuple(axes_b + free_b)), shape=(k, -1))
    out_shape = tuple(sa[i] for i in free_a) + tuple(sb[j] for j in free_b)
    return P.reshape_p(P.matmul_p(left, right), shape=out_shape)


def kron(a: Any, b: Any) -> Any:
    """Differentiable ``numpy.kron``."""
    na, nb = _ndim(a), _ndim(b)
    n = max(na, nb)
    sa = (1,) * (n - na) + _shape(a)
    sb = (1,) * (n - nb) + _shape(b)
    a_exp = P.reshape_p(a, shape=tuple(v for s in sa for v in (s, 1)))
    b_exp = P.reshape_p(b, shape=tuple(v for s in sb for v in (1, s)))
    return P.reshape_p(a_exp * b_exp, shape=tuple(x * y for x, y in zip(sa, sb, strict=True)))


def _expand_ellipsis(subscripts: str, operands: tuple[Any, ...]) -> str:
    """Explicit einsum subscripts with '...' replaced by letters and '->' always present."""
    subscripts = subscripts.replace(" ", "")
    inputs, arrow, output = subscripts.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum: {len(terms)} subscript terms for {len(operands)} operands")
    used = set(subscripts)
    spare = [c for c in string.ascii_letters if c not in used]
    ell_ndim = 0
    for term, op in zip(terms, operands, strict=True):
        if "..." in term:
            ell_ndim = max(ell_ndim, _ndim(op) - (len(term) - 3))
    ell = "".join(spare[:ell_ndim])
    new_terms = []
    for term, op in zip(terms, operands, strict=True):
        if "..." in term:
            k = _ndim(op) - (len(term) - 3)
            term = term.replace("...", ell[ell_ndim - k :] if k else "")
        new_terms.append(term)
    if not arrow:
        counts = {c: "".join(new_terms).count(c) for c in set("".join(new_terms))}
        output = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        output = output.replace("...", ell)
    return ",".join(new_terms) + "->" + output


def _sublist_subscripts(args: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """NumPy's sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` as a subscripts string."""

    def letters(sublist: Any) -> str:
        out = []
        for item in sublist:
            if item is Ellipsis:
                out.append("...")
                continue
            index = int(item)
            if not 0 <= index < 52:
                raise ValueError(f"einsum: subscript {item!r} is not in [0, 52)")
            out.append(string.ascii_letters[index])
        return "".join(out)

    operands = args[0::2][: len(args) // 2]
    terms = [letters(sub) for sub in args[1::2][: len(args) // 2]]
    output = "->" + letters(args[-1]) if len(args) % 2 else ""
    return ",".join(terms) + output, tuple(operands)


def _take_diagonals(term: str, operand: Any) -> tuple[str, Any]:
    """A term with a repeated index (``"iij"``) as its diagonal (``"ij"``), gathered so the
    gradient lands on the diagonal elements only."""
    unique = "".join(dict.fromkeys(term))
    if unique == term:
        return term, operand
    operand = _array(operand)
    shape = _shape(operand)
    sizes: dict[str, int] = {}
    for c, n in zip(term, shape, strict=True):
        if sizes.setdefault(c, n) != n:
            raise ValueError(
                f"einsum: dimensions in operand for collapsing index '{c}' don't match "
                f"({sizes[c]} != {n}, shape {shape})"
            )
    grids = {
        c: np.arange(sizes[c]).reshape((-1,) + (1,) * (len(unique) - k - 1))
        for k, c in enumerate(unique)
    }
    return unique, P.getitem_p(operand, index=tuple(grids[c] for c in term))


def einsum(subscripts: Any, *operands: Any, **kwargs: Any) -> Any:
    """Differentiable ``numpy.einsum``.

    Explicit or implicit output, ``...``, repeated indices within an operand (diagonals
    and traces: ``"ii->i"``, ``"ii"``), and the sublist form. Pairwise contractions run on
    ``matmul`` (BLAS) whatever ``optimize`` says.

    Args:
        subscripts: The subscripts string, or the first operand in the sublist form
            ``einsum(a, [0, 1], b, [1, 2], [0, 2])``.
        *operands: The arrays (alternating with sublists in the sublist form).
        **kwargs: ``dtype`` (operands cast to it, under ``casting``), ``casting``,
            ``order`` (memory layout: no effect on values) and ``optimize`` (accepted; the
            contraction order is always NumPy's greedy path). ``out=`` is refused.

    Returns:
        The contraction.

    Examples:
        >>> import numpy as np
        >>> a = np.arange(9.0).reshape(3, 3)
        >>> einsum("ii->i", a), float(einsum("ii", a))
        (array([0., 4., 8.]), 12.0)
        >>> einsum(a, [0, 1], a, [1, 2], [0, 2]).tolist()[0]
        [15.0, 18.0, 21.0]
    """
    if not isinstance(subscripts, str):
        subscripts, operands = _sublist_subscripts((subscripts, *operands))
    if kwargs:
        operands = _einsum_keywords(kwargs, operands)
    explicit = _expand_ellipsis(subscripts, operands)
    inputs, output = explicit.split("->")
    terms = inputs.split(",")
    if all(len(set(t)) == len(t) for t in terms):  # the common case: nothing to gather
        if len(set(output)) != len(output):
            raise ValueError(f"einsum: output subscript {output!r} repeats an index")
        return P.einsum_p(*operands, subscripts=explicit)
    pairs = [_take_diagonals(t, op) for t, op in zip(terms, operands, strict=True)]
    if len(set(output)) != len(output):
        raise ValueError(f"einsum: output subscript {output!r} repeats an index")
    spec = ",".join(t for t, _ in pairs) + "->" + output
    return P.einsum_p(*[op for _, op in pairs], subscripts=spec)


def _einsum_keywords(kwargs: dict[str, Any], operands: tuple[Any, ...]) -> tuple[Any, ...]:
    """Check einsum's keywords; operands cast to ``dtype`` when it is given."""
    unknown = set(kwargs) - {"out", "dtype", "order", "casting", "optimize"}
    if unknown:
        raise TypeError(f"tapegrad.numpy.einsum: unexpected keyword arguments {sorted(unknown)}")
    if kwargs.get("out") is not None:
        raise TypeError(
            "tapegrad.numpy.einsum: out= is not supported (Tensors are immutable): "
            "use the returned value"
        )
    dtype = kwargs.get("dtype")
    if dtype is not None:
        dtype = np.dtype(dtype)
        casting = kwargs.get("casting", "safe")
        for op in operands:
            if not np.can_cast(_dtype(op), dtype, casting=casting):
                raise TypeError(
                    f"tapegrad.numpy.einsum: cannot cast operand of dtype {_dtype(op)} to "
                    f"{dtype} with casting rule {casting!r}"
                )
        operands = tuple(P.cast_p(_array(op), dtype=dtype) for op in operands)
    return operands


def einsum_path(subscripts: Any, *operands: Any, optimize: Any = "greedy", **kwargs: Any) -> Any:
    """``numpy.einsum_path`` on the operands' shapes: NumPy's contraction path and its
    description (a plan, no values computed).

    Examples:
        >>> import numpy as np
        >>> path, text = einsum_path("ij,jk,kl->il", np.ones((2, 3)), np.ones((3, 4)),
        ...                          np.ones((4, 5)))
        >>> path
        ['einsum_path', (1, 2), (0, 1)]
    """
    if not isinstance(subscripts, str):
        subscripts, operands = _sublist_subscripts((subscripts, *operands))
    # Only shapes matter to the path: zeros of the operands' shapes and dtypes.
    stand_ins = [np.zeros(_shape(op), _dtype(op)) for op in operands]
    return np.einsum_path(subscripts, *stand_ins, optimize=optimize, **kwargs)


def cross(
    a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: Any = None
) -> Any:
    """Differentiable ``numpy.cross`` for 3-vectors along the last axis."""
    out_ndim = max(_ndim(a), _ndim(b))
    given = [("axisa", axisa, _ndim(a)), ("axisb", axisb, _ndim(b)), ("axisc", axisc, out_ndim)]
    if axis is not None:  # as in NumPy, `axis` replaces the other three
        given = [("axis", axis, _ndim(a)), ("axis", axis, _ndim(b)), ("axis", axis, out_ndim)]
    for name, value, ndim in given:
        if axis_index(value, ndim, f"cross: {name}") != ndim - 1:
            raise NotImplementedError(
                f"tapegrad.numpy.cross: only the last axis is supported, got {name}={value}"
            )
    if _shape(a)[-1] != 3 or _shape(b)[-1] != 3:
        raise NotImplementedError("tapegrad.numpy.cross: only 3-vectors along the last axis")
    ax = [P.getitem_p(a, index=(Ellipsis, i)) for i in range(3)]
    bx = [P.getitem_p(b, index=(Ellipsis, i)) for i in range(3)]
    parts = [
        ax[1] * bx[2] - ax[2] * bx[1],
        ax[2] * bx[0] - ax[0] * bx[2],
        ax[0] * bx[1] - ax[1] * bx[0],
    ]
    shape = np.broadcast_shapes(*(np.shape(getattr(p, "_value", p)) for p in parts)) + (1,)
    return P.concatenate_p(*[P.reshape_p(p, shape=shape) for p in parts], axis=len(shape) - 1)


def _no_axes(name: str, kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise TypeError(f"tapegrad.numpy.{name}: unsupported arguments {sorted(kwargs)}")


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1, **kwargs: Any) -> Any:
    """Differentiable ``numpy.vecdot`` (real): dot products along ``axis``, broadcasting."""
    _no_axes("vecdot", kwargs)
    x1, x2 = _array(x1), _array(x2)
    n1, n2 = _ndim(x1), _ndim(x2)
    if n1 == 0 or n2 == 0:
        raise ValueError("vecdot: operands must have at least one dimension")
    a1, a2 = _axis(axis, n1), _axis(axis, n2)
    if _shape(x1)[a1] != _shape(x2)[a2]:
        raise ValueError(
            f"vecdot: core dimension mismatch, shapes {_shape(x1)} and "
            f"{_shape(x2)} along axis {axis}"
        )
    x1 = P.transpose_p(x1, axes=tuple(i for i in range(n1) if i != a1) + (a1,))
    x2 = P.transpose_p(x2, axes=tuple(i for i in range(n2) if i != a2) + (a2,))
    product = x1 * x2
    return P.sum_p(product, axis=(_ndim(product) - 1,), keepdims=False)


def matvec(x1: Any, x2: Any, /, **kwargs: Any) -> Any:
    """Differentiable ``numpy.matvec``: matrix (..., m, n) times vector (..., n)."""
    _no_axes("matvec", kwargs)
    x1, x2 = _array(x1), _array(x2)
    if _ndim(x1) < 2 or _ndim(x2) < 1:
        raise ValueError(
            f"matvec: needs a matrix and a vector, got shapes {_shape(x1)} and {_shape(x2)}"
        )
    column = P.reshape_p(x2, shape=_shape(x2) + (1,))
    product = P.matmul_p(x1, column)
    return P.reshape_p(product, shape=_shape(product)[:-1])


def vecmat(x1: Any, x2: Any, /, **kwargs: Any) -> Any:
    """Differentiable ``numpy.vecmat`` (real): vector (..., n) times matrix (..., n, m)."""
    _no_axes("vecmat", kwargs)
    x1, x2 = _array(x1), _array(x2)
    if _ndim(x1) < 1 or _ndim(x2) < 2:
        raise ValueError(
            f"vecmat: needs a vector and a matrix, got shapes {_shape(x1)} and {_shape(x2)}"
        )
    row = P.reshape_p(x1, shape=_shape(x1)[:-1] + (1, _shape(x1)[-1]))
    product = P.matmul_p(row, x2)
    shape = _shape(product)
    return P.reshape_p(product, shape=shape[:-2] + shape[-1:])


__all__ = [
    "cross",
    "dot",
    "einsum",
    "einsum_path",
    "inner",
    "kron",
    "matmul",
    "matvec",
    "outer",
    "tensordot",
    "vdot",
    "vecdot",
    "vecmat",
]

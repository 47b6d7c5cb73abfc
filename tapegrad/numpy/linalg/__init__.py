"""tapegrad.numpy.linalg: NumPy's linear algebra, differentiable to any order.

``solve``, ``det``, ``slogdet``, ``cholesky``, ``eig``, ``eigh``, ``svd``, ``qr`` and
``pinv`` are primitives (``tapegrad/core/prims/linalg.py``); everything else is composed
of them. All functions take stacks of matrices ``(..., m, n)`` like NumPy. ``eigh`` and
``cholesky`` read only the lower triangle (as NumPy does), so their gradients are
lower-triangular. ``matrix_rank`` is not differentiable (an integer); ``eig``/``eigvals``
give complex results (real where NumPy's are) with JAX's gradients.

One module per family: `_solvers` (solve, inv, pinv, lstsq, determinants),
`_decompositions` (cholesky, eigh, svd, qr), `_norms` (norms, cond, matrix_rank) and
`_matrix_products` (matrix_power, multi_dot, NumPy 2's array-API names).

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> a = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> tg.grad(lambda a: tnp.linalg.slogdet(a).logabsdet)(a).numpy().round(6)
    array([[ 0.6, -0.2],
           [-0.2,  0.4]])
    >>> tnp.linalg.solve(a, np.array([3.0, 5.0])).round(6)
    array([0.8, 1.4])
"""

from __future__ import annotations

from tapegrad.numpy._arguments import argument_preparer as _argument_preparer
from tapegrad.numpy.linalg._checks import LinAlgError
from tapegrad.numpy.linalg._decompositions import (
    EighResult,
    EigResult,
    QRResult,
    SVDResult,
    cholesky,
    eig,
    eigh,
    eigvals,
    eigvalsh,
    qr,
    svd,
    svdvals,
)
from tapegrad.numpy.linalg._matrix_products import (
    cross,
    diagonal,
    matmul,
    matrix_power,
    matrix_transpose,
    multi_dot,
    outer,
    tensordot,
    trace,
    vecdot,
)
from tapegrad.numpy.linalg._norms import cond, matrix_norm, matrix_rank, norm, vector_norm
from tapegrad.numpy.linalg._solvers import (
    LstsqResult,
    SlogdetResult,
    det,
    inv,
    lstsq,
    pinv,
    slogdet,
    solve,
    tensorinv,
    tensorsolve,
)
from tapegrad.symbolic import wrap_namespace as _wrap_namespace

__all__ = [
    "EigResult",
    "EighResult",
    "LinAlgError",
    "LstsqResult",
    "QRResult",
    "SVDResult",
    "SlogdetResult",
    "cholesky",
    "cond",
    "cross",
    "det",
    "diagonal",
    "eig",
    "eigh",
    "eigvals",
    "eigvalsh",
    "inv",
    "lstsq",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "matrix_transpose",
    "multi_dot",
    "norm",
    "outer",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "tensordot",
    "tensorinv",
    "tensorsolve",
    "trace",
    "vecdot",
    "vector_norm",
]

# Calls on symbolic tensors record graph nodes (see tapegrad.symbolic).
_wrap_namespace(globals(), "tapegrad.numpy.linalg", _argument_preparer)

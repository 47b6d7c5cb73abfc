"""tapegrad.ops: Keras 3's ``keras.ops`` — everything in `tapegrad.numpy` plus Keras's ops.

The Keras names live in modules by topic, all re-exported here: `tapegrad.ops.nn`
(activations of `activations`, losses, `normalization`, `attention`, `conv`olution and
pooling, `spatial` rearrangements, `ctc`), `core` (conversions, ``cast``, ``slice``,
``scatter``), `control_flow` (``cond``, ``while_loop``, ``scan``, ``fori_loop``, ``map``,
``vectorize``, ...), `math` (segment reductions, ``top_k``, ``erfinv``, ...), `fourier`
(``fft``, ``rfft``, ``stft``, ...), `einops` (``rearrange``) and `numpy_ops` (Keras's
NumPy-flavoured additions); ``tapegrad.ops.linalg``, ``tapegrad.ops.image`` and
``tapegrad.ops.numpy`` are Keras's ``keras.ops.linalg``, ``keras.ops.image`` and
``keras.ops.numpy``. A Keras op tapegrad does not have raises `NotImplementedError` with
the reason (`UNSUPPORTED`, read by the coverage report).

Examples:
    >>> import tapegrad as tg
    >>> tg.ops.log_softmax(tg.tensor([0.0, 0.0])).numpy().round(4)
    array([-0.6931, -0.6931], dtype=float32)
"""

from typing import Any

from tapegrad.numpy import *  # noqa: F403
from tapegrad.numpy import abs, all, any, max, min, pow, round, sum  # noqa: A004, F401
from tapegrad.numpy._reductions import logsumexp  # noqa: F401
from tapegrad.ops import image, linalg, numpy_namespace  # noqa: F401
from tapegrad.ops.activations import *  # noqa: F403
from tapegrad.ops.attention import *  # noqa: F403
from tapegrad.ops.checks import class_indices  # noqa: F401
from tapegrad.ops.control_flow import *  # noqa: F403
from tapegrad.ops.conv import *  # noqa: F403
from tapegrad.ops.core import *  # noqa: F403
from tapegrad.ops.ctc import *  # noqa: F403
from tapegrad.ops.einops import *  # noqa: F403
from tapegrad.ops.fourier import *  # noqa: F403
from tapegrad.ops.keras_names import apply_keras_names as _apply_keras_names
from tapegrad.ops.keras_numpy import *  # noqa: F403
from tapegrad.ops.linalg import *  # noqa: F403
from tapegrad.ops.math import *  # noqa: F403
from tapegrad.ops.nn import (  # noqa: F401
    binary_crossentropy,
    categorical_crossentropy,
    elu,
    erf,
    gelu,
    leaky_relu,
    log_softmax,
    multi_hot,
    one_hot,
    relu,
    relu6,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    sparse_categorical_crossentropy,
    swish,
    tanh,
)
from tapegrad.ops.normalization import *  # noqa: F403
from tapegrad.ops.numpy_ops import *  # noqa: F403
from tapegrad.ops.random import dropout  # noqa: F401
from tapegrad.ops.spatial import *  # noqa: F403
from tapegrad.symbolic import wrap_namespace as _wrap_namespace

numpy = numpy_namespace  # keras.ops.numpy
# NumPy-named ops accept Keras's argument names too (ops.mean(x=...), ops.clip(x_min=...)).
_apply_keras_names(globals())

# Keras ops tapegrad does not have, with the reason (read by tapegrad.keras_coverage).
_COMPLEX = "tapegrad's differentiable ops are real-valued: complex tensors are not supported"
UNSUPPORTED: dict[str, str] = {
    "polar": _COMPLEX,
    "view_as_complex": _COMPLEX,
    "view_as_real": _COMPLEX,
}


def __getattr__(name: str) -> Any:
    if name in UNSUPPORTED:
        raise NotImplementedError(f"tapegrad.ops.{name} is not supported: {UNSUPPORTED[name]}")
    raise AttributeError(f"module 'tapegrad.ops' has no attribute {name!r}")


# Calls on symbolic tensors (Keras' functional API) record graph nodes: see
# tapegrad.symbolic. Keep these the module's last statements.
_wrap_namespace(vars(image), "tapegrad.ops.image")
_wrap_namespace(vars(linalg), "tapegrad.ops.linalg")
_wrap_namespace(vars(numpy_namespace), "tapegrad.ops.numpy")
_wrap_namespace(globals(), "tapegrad.ops")

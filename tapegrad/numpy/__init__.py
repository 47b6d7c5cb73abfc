"""tapegrad.numpy: NumPy's names and semantics, differentiable.

Every function is a composite of the primitive table, so it works on arrays, Tensors and
under every transform. Functions return plain arrays when given only plain arrays (no
Tensor involved), like HIPS autograd. ``python -m tapegrad.numpy.coverage`` lists which
of NumPy's functions are differentiable, pass-through or unsupported.

One module per family, as NumPy groups them: `_creation`, `_math`, `_elementwise`,
`_reductions`, `_nan_reductions`, `_quantiles`, `_covariance`, `_histograms`,
`_manipulation`, `_rearranging`, `_indexing`, `_value_only` (indices, booleans, sets),
`_products`, `_differences`, `_signals`, and the `linalg` package; `_arguments` and `_axes`
read their arguments' shapes, dtypes and axes.

Examples:
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> x = tg.tensor([1.0, 2.0, 3.0])
    >>> tg.grad(lambda x: tnp.sum(tnp.exp(x) * 2))(x).numpy().round(3)
    array([ 5.437, 14.778, 40.171], dtype=float32)
"""

import numpy as _np

from tapegrad.numpy import fft, linalg  # noqa: F401 - tnp.fft, tnp.linalg
from tapegrad.numpy._apply import *  # noqa: F403
from tapegrad.numpy._arguments import argument_preparer as _argument_preparer
from tapegrad.numpy._calculus import *  # noqa: F403
from tapegrad.numpy._covariance import *  # noqa: F403
from tapegrad.numpy._creation import *  # noqa: F403
from tapegrad.numpy._differences import *  # noqa: F403
from tapegrad.numpy._elementwise import *  # noqa: F403
from tapegrad.numpy._histograms import *  # noqa: F403
from tapegrad.numpy._index_tricks import *  # noqa: F403
from tapegrad.numpy._indexing import *  # noqa: F403
from tapegrad.numpy._keywords import keyword_handler as _keyword_handler
from tapegrad.numpy._manipulation import *  # noqa: F403
from tapegrad.numpy._math import *  # noqa: F403
from tapegrad.numpy._nan_reductions import *  # noqa: F403
from tapegrad.numpy._polynomials import *  # noqa: F403
from tapegrad.numpy._products import *  # noqa: F403
from tapegrad.numpy._quantiles import *  # noqa: F403
from tapegrad.numpy._rearranging import *  # noqa: F403
from tapegrad.numpy._reductions import *  # noqa: F403
from tapegrad.numpy._sets import *  # noqa: F403
from tapegrad.numpy._signals import *  # noqa: F403
from tapegrad.numpy._updates import *  # noqa: F403
from tapegrad.numpy._utility import *  # noqa: F403
from tapegrad.numpy._value_only import *  # noqa: F403
from tapegrad.numpy._window_functions import *  # noqa: F403
from tapegrad.symbolic import wrap_namespace as _wrap_namespace

pi = _np.pi
e = _np.e
inf = _np.inf
nan = _np.nan
newaxis = None
float16 = _np.float16
float32 = _np.float32
float64 = _np.float64
int8 = _np.int8
int16 = _np.int16
int32 = _np.int32
int64 = _np.int64
uint8 = _np.uint8
bool_ = _np.bool_
dtype = _np.dtype
ndarray = _np.ndarray
finfo = _np.finfo
iinfo = _np.iinfo

# Calls on symbolic tensors (Keras' functional API) record graph nodes: see tapegrad.symbolic.
# Lists holding Tensors (NumPy's array_like) are stacked differentiably on the way in;
# NumPy's keywords a function does not take itself are served or refused by name.
_wrap_namespace(globals(), "tapegrad.numpy", _argument_preparer, _keyword_handler)

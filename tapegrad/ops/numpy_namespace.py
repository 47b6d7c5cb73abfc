"""``keras.ops.numpy`` (``tapegrad.ops.numpy``): `tapegrad.numpy`'s functions, with Keras's
versions where Keras's differ (``full`` and ``arange`` give floatx for Python floats,
``zeros`` and the other creation functions floatx for ``dtype=None``, ``prod``'s argument
order, ``take_along_axis``'s ``axis=None``) and
the names Keras adds to its NumPy namespace (``divide_no_nan``, ``get_item``, the window
functions, ``vectorize``, ...).

Examples:
    >>> import tapegrad as tg
    >>> tg.ops.numpy.full((2,), 0.5).dtype
    dtype('float32')
    >>> tg.ops.numpy.hanning(3).numpy()
    array([0., 1., 0.], dtype=float32)
"""

from tapegrad.numpy import *  # noqa: F403
from tapegrad.numpy import abs, all, any, max, min, pow, round, sum  # noqa: A004, F401
from tapegrad.ops.control_flow import vectorize  # noqa: F401
from tapegrad.ops.core import arange, full, get_item  # noqa: F401
from tapegrad.ops.keras_names import apply_keras_names as _apply_keras_names
from tapegrad.ops.keras_numpy import *  # noqa: F403
from tapegrad.ops.math import divide_no_nan  # noqa: F401
from tapegrad.ops.numpy_ops import *  # noqa: F403

_apply_keras_names(globals())

"""tapegrad.ops: Keras-3-style ops — everything in `tapegrad.numpy` plus neural-net ops.

Convolution and pooling (`conv`, `depthwise_conv`, `separable_conv`, `conv_transpose`,
`max_pool`, `average_pool`) are in `tapegrad.ops.conv`, re-exported here.

Examples:
    >>> import tapegrad as tg
    >>> tg.ops.log_softmax(tg.tensor([0.0, 0.0])).numpy().round(4)
    array([-0.6931, -0.6931], dtype=float32)
"""

from tapegrad.numpy import *  # noqa: F403
from tapegrad.numpy import abs, all, any, linalg, max, min, pow, round, sum  # noqa: A004, F401
from tapegrad.numpy._reductions import logsumexp  # noqa: F401
from tapegrad.ops.checks import class_indices  # noqa: F401
from tapegrad.ops.conv import *  # noqa: F403
from tapegrad.ops.nn import (  # noqa: F401
    binary_crossentropy,
    categorical_crossentropy,
    elu,
    erf,
    gelu,
    leaky_relu,
    log_softmax,
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
from tapegrad.ops.random import dropout  # noqa: F401

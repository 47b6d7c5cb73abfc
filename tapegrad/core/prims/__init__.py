# ruff: noqa: F401  (re-exports the whole table)
"""The table of primitives, one module per family; everything is re-exported here."""

from tapegrad.core.prims.attention import attention_softmax_grad_p, attention_softmax_p
from tapegrad.core.prims.checks import class_indices_p
from tapegrad.core.prims.collective import (
    all_gather_p,
    all_mean_p,
    all_sum_p,
    broadcast_p,
    reduce_scatter_p,
)
from tapegrad.core.prims.conv import conv_input_grad_p, conv_kernel_grad_p, conv_p
from tapegrad.core.prims.elementwise import *  # noqa: F403
from tapegrad.core.prims.fft import fft_p
from tapegrad.core.prims.gather import take_add_p, take_p
from tapegrad.core.prims.gelu import gelu_grad_p, gelu_p
from tapegrad.core.prims.layer_norm import (
    layer_norm_grad_p,
    layer_norm_p,
    layer_norm_scale_grad_p,
)
from tapegrad.core.prims.linalg import (
    cholesky_p,
    det_p,
    eig_p,
    eigh_p,
    inv_or_nan_p,
    pinv_p,
    qr_p,
    slogdet_p,
    solve_p,
    svd_p,
)
from tapegrad.core.prims.lstm import lstm_grad_p, lstm_p
from tapegrad.core.prims.pool import (
    avg_pool_p,
    avg_pool_transpose_p,
    max_pool_p,
    pool_argmax_p,
    pool_gather_p,
    pool_scatter_p,
)
from tapegrad.core.prims.products import dense_p, einsum_p, matmul_p
from tapegrad.core.prims.random import dropout_mask_p
from tapegrad.core.prims.reduction import cumprod_p, cumsum_p, max_p, min_p, prod_p, sum_p
from tapegrad.core.prims.shape import (
    broadcast_to_p,
    concatenate_p,
    getitem,
    getitem_p,
    identity_p,
    index_add_p,
    pad_p,
    reshape_p,
    split_p,
    stop_gradient_p,
    transpose_p,
)
from tapegrad.core.prims.xent import (
    sparse_softmax_cross_entropy_delta_p,
    sparse_softmax_cross_entropy_p,
)

__all__ = [  # noqa: F405
    name for name in dir() if name.endswith("_p") or name == "getitem"
]

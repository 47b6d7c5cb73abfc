"""Live parity: attention, normalization and regularization layers against Keras 3 (JAX)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.parity.harness import (
    LayerCase,
    Sub,
    build_layers,
    check_config_keys,
    check_layer,
    xfail,
)

RNG = np.random.default_rng(3)


def arr(*shape: int) -> np.ndarray:
    """A float32 standard-normal array of ``shape`` (deterministic per module)."""
    return RNG.standard_normal(shape).astype(np.float32)


Q, V, K = arr(2, 3, 4), arr(2, 5, 4), arr(2, 5, 4)
Q_MASK = np.array([[1, 1, 0], [1, 1, 1]], bool)
V_MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
ATT_MASK = RNG.random((2, 3, 5)) > 0.3

QUERY_MASK = xfail(
    LayerCase(
        "MultiHeadAttention",
        {"num_heads": 1, "key_dim": 2},
        (Q, V),
        call_kwargs={"query_mask": Q_MASK, "value_mask": V_MASK},
        id="MHA-explicit-query_mask",
    ),
    "Keras 3.15's MultiHeadAttention.call ignores an explicit query_mask= (it re-reads the "
    "query tensor's own mask); tapegrad applies it: a masked query row differs (a query "
    "carrying its mask, e.g. from Embedding(mask_zero=True), agrees: test_models.py)",
)
ATTENTION = [
    LayerCase("MultiHeadAttention", {"num_heads": 2, "key_dim": 3}, (Q, V)),
    LayerCase(
        "MultiHeadAttention",
        {"num_heads": 2, "key_dim": 3, "value_dim": 2, "output_shape": 5, "use_bias": False},
        (Q, V, K),
        # Keras 3.15's fused path (no scores asked) fails on JAX when value_dim differs
        # from key_dim (a reshape error inside Keras): its einsum path is compared.
        call_kwargs={"attention_mask": ATT_MASK, "return_attention_scores": True},
        id="MHA-key-value_dim-output_shape-attention_mask-scores",
    ),
    LayerCase(
        "MultiHeadAttention",
        {"num_heads": 1, "key_dim": 2},
        (Q, V),
        call_kwargs={"value_mask": V_MASK, "key_mask": np.flip(V_MASK, 1)},
        id="MHA-value-key-mask",
    ),
    LayerCase(
        "MultiHeadAttention",
        {"num_heads": 2, "key_dim": 2},
        (Q, Q),
        call_kwargs={"use_causal_mask": True},
        id="MHA-causal",
    ),
    LayerCase(
        "MultiHeadAttention",
        {"num_heads": 2, "key_dim": 2, "attention_axes": (1, 2)},
        (arr(2, 3, 2, 4), arr(2, 3, 2, 4)),
        id="MHA-attention_axes",
    ),
    LayerCase(
        "MultiHeadAttention",
        {"num_heads": 2, "key_dim": 2, "use_gate": True, "value_dim": 3},
        (Q, V),
        call_kwargs={"return_attention_scores": True},  # the value_dim failure above
        id="MHA-use_gate",
    ),
    LayerCase(
        "MultiHeadAttention",
        {"num_heads": 2, "key_dim": 2, "sliding_window": 2},
        (Q, Q),
        call_kwargs={"use_causal_mask": True, "return_attention_scores": True},
        id="MHA-sliding_window-causal",
    ),
    LayerCase(
        "MultiHeadAttention",
        {"num_heads": 1, "key_dim": 2, "sliding_window": 3, "activity_regularizer": "l2"},
        (Q, V),
        call_kwargs={"value_mask": V_MASK},
        id="MHA-sliding_window-mask",
    ),
    LayerCase("Attention", {}, ([Q, V],)),
    LayerCase(
        "Attention",
        {"use_scale": True, "score_mode": "concat"},
        ([Q, V, K],),
        call_kwargs={"mask": [Q_MASK, V_MASK]},
        id="Attention-concat-masks",
    ),
    LayerCase(
        "Attention",
        {},
        ([Q, Q],),
        call_kwargs={"use_causal_mask": True, "return_attention_scores": True},
        id="Attention-causal-scores",
    ),
    LayerCase("AdditiveAttention", {}, ([Q, V],), call_kwargs={"mask": [None, V_MASK]}),
    LayerCase(
        "AdditiveAttention", {"use_scale": False}, ([Q, V, K],), id="AdditiveAttention-noscale"
    ),
    LayerCase(
        "GroupQueryAttention",
        {"head_dim": 2, "num_query_heads": 4, "num_key_value_heads": 2},
        (Q, V),
    ),
    LayerCase(
        "GroupQueryAttention",
        {
            "head_dim": 2,
            "num_query_heads": 2,
            "num_key_value_heads": 1,
            "use_gate": True,
            "sliding_window": 2,
        },
        (Q, Q),
        call_kwargs={"use_causal_mask": True},
        id="GQA-gate-window-causal",
    ),
]
X3, X4 = arr(4, 3, 6), arr(2, 3, 4, 4)
NORMALIZATION = [
    LayerCase("BatchNormalization", {}, (X3,), training_step=True, config=False),
    LayerCase(
        "BatchNormalization",
        {"axis": 1, "momentum": 0.9, "epsilon": 1e-2, "center": False},
        (X4,),
        training_step=True,
        config=False,
        id="BatchNormalization-axis1",
    ),
    LayerCase(
        "BatchNormalization",
        {"scale": False},
        (X3,),
        training_step=True,
        config=False,
        mask=np.array([[1, 1, 0]] * 4, bool),
        id="BatchNormalization-mask",
    ),
    LayerCase(
        "BatchNormalization",
        {"renorm": True, "renorm_momentum": 0.5, "momentum": 0.7},
        (X3,),
        training_step=True,
        id="BatchNormalization-renorm",
    ),
    LayerCase(
        "BatchNormalization",
        {
            "renorm": True,
            "renorm_clipping": {"rmax": 1.1, "rmin": 0.9, "dmax": 0.1},
            "center": False,
        },
        (X4 * 3.0 + 1.0,),
        training_step=True,
        id="BatchNormalization-renorm-clipping",
    ),
    LayerCase("LayerNormalization", {}, (X3,)),
    LayerCase(
        "LayerNormalization",
        {"axis": (1, 2), "center": False, "epsilon": 1e-2},
        (X3,),
        id="LayerNormalization-axes",
    ),
    LayerCase("GroupNormalization", {"groups": 2}, (X3,)),
    LayerCase(
        "GroupNormalization",
        {"groups": 3, "axis": 1, "scale": False},
        (X4,),
        id="GroupNormalization-axis1",
    ),
    LayerCase("UnitNormalization", {}, (X3,)),
    LayerCase("UnitNormalization", {"axis": (1, 2)}, (X3,), id="UnitNormalization-axes"),
    LayerCase("RMSNormalization", {}, (X3,)),
    LayerCase(
        "SpectralNormalization", {"layer": Sub("Dense", {"units": 3})}, (X3,), training_step=True
    ),
    LayerCase(
        "SpectralNormalization",
        {"layer": Sub("Conv1D", {"filters": 2, "kernel_size": 2}), "power_iterations": 2},
        (X3,),
        id="SpectralNormalization-Conv1D",
    ),
]
RMS_SCALING = xfail(
    LayerCase("LayerNormalization", {"rms_scaling": True}, (X3 + 1.0,), id="LN-rms_scaling"),
    "tapegrad's rms_scaling divides by the root mean square; Keras 3.15 divides by "
    "sqrt(variance + epsilon) (documented in LayerNormalization's docstring)",
)
# Inference mode (training=False): Keras returns the inputs unchanged.
REGULARIZATION = [
    LayerCase("Dropout", {"rate": 0.5}, (X3,)),
    LayerCase("SpatialDropout1D", {"rate": 0.5}, (X3,)),
    LayerCase("SpatialDropout2D", {"rate": 0.5}, (X4,)),
    LayerCase("SpatialDropout3D", {"rate": 0.5}, (arr(2, 2, 3, 2, 2),)),
    LayerCase("GaussianNoise", {"stddev": 0.5}, (X3,)),
    LayerCase("GaussianDropout", {"rate": 0.5}, (X3,)),
    LayerCase("AlphaDropout", {"rate": 0.5}, (X3,)),
    LayerCase("ActivityRegularization", {"l1": 0.1, "l2": 0.2}, (X3,)),
]


BN_CONFIG = LayerCase("BatchNormalization", {}, (X3,))


@pytest.mark.parametrize("case", [BN_CONFIG], ids=str)
def test_config_keys(case: LayerCase) -> None:
    """get_config has Keras's keys (the layers above check theirs in `test_layer`)."""
    check_config_keys(*build_layers(case))


@pytest.mark.parametrize(
    "case", [QUERY_MASK] + ATTENTION + NORMALIZATION + [RMS_SCALING] + REGULARIZATION, ids=str
)
def test_layer(case: LayerCase) -> None:
    check_layer(case)

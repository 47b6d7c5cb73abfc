"""Losses (Keras 3 ``keras.losses``): per-sample functions and reducing `Loss` objects.

The snake_case functions (`mean_squared_error`, `sparse_categorical_crossentropy`, ...)
return one value per sample (the last axis is reduced). A `Loss` object calls one of
them, weights the values by ``sample_weight`` and reduces them (``reduction``, default
``"sum_over_batch_size"``: the mean over all values). All are differentiable Tensors
built from `tapegrad.ops`.

Dtypes: ``dtype=None`` (the default) computes in ``y_pred``'s float dtype, so float64
inputs give float64 losses (Keras would cast to ``floatx()``); pass ``dtype="float32"``
to force one.

Layout (as Keras' ``keras/src/losses/``): ``loss.py`` holds the `Loss` base with the
weighting and reduction rules; the per-sample functions live by family in
``regression_losses.py``, ``probabilistic_losses.py`` and ``hinge_losses.py``;
``losses.py`` holds the `Loss` classes and the lookup by name.

Examples:
    >>> import numpy as np
    >>> from tapegrad.nn import losses
    >>> y_true, y_pred = np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]])
    >>> losses.mean_squared_error(y_true, y_pred).numpy()
    array([0.5])
    >>> float(losses.get("mse")(y_true, y_pred, sample_weight=[2.0]))
    1.0
"""

from tapegrad.nn.losses.focal_and_overlap import (
    CTC,
    BinaryFocalCrossentropy,
    CategoricalFocalCrossentropy,
    CategoricalGeneralizedCrossEntropy,
    Circle,
    Dice,
    Tversky,
    binary_focal_crossentropy,
    categorical_focal_crossentropy,
    categorical_generalized_cross_entropy,
    circle,
    ctc,
    dice,
    tversky,
)
from tapegrad.nn.losses.hinge_losses import categorical_hinge, hinge, squared_hinge

# The ``X as X`` names are public helpers outside `__all__`, importable from here as before
# the package split (metrics and custom losses use them).
from tapegrad.nn.losses.loss import EPSILON as EPSILON
from tapegrad.nn.losses.loss import (
    REDUCTIONS,
    Loss,
    reduce_weighted_values,
)
from tapegrad.nn.losses.loss import apply_mask as apply_mask
from tapegrad.nn.losses.loss import reduce_values as reduce_values
from tapegrad.nn.losses.loss import (
    squeeze_or_expand_to_same_rank as squeeze_or_expand_to_same_rank,
)
from tapegrad.nn.losses.loss import standardize_reduction as standardize_reduction
from tapegrad.nn.losses.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    CosineSimilarity,
    Hinge,
    Huber,
    KLDivergence,
    LogCosh,
    LossFunctionWrapper,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
    deserialize,
    get,
    serialize,
)
from tapegrad.nn.losses.probabilistic_losses import (
    BCE,
    KLD,
    bce,
    binary_crossentropy,
    categorical_crossentropy,
    kl_divergence,
    kld,
    poisson,
    sparse_categorical_crossentropy,
)
from tapegrad.nn.losses.regression_losses import (
    MAE,
    MAPE,
    MSE,
    MSLE,
    cosine_similarity,
    huber,
    log_cosh,
    mae,
    mape,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    mse,
    msle,
)

__all__ = [
    "BCE",
    "CTC",
    "BinaryFocalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalGeneralizedCrossEntropy",
    "Circle",
    "Dice",
    "Tversky",
    "binary_focal_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_generalized_cross_entropy",
    "circle",
    "ctc",
    "dice",
    "tversky",
    "KLD",
    "MAE",
    "MAPE",
    "MSE",
    "MSLE",
    "REDUCTIONS",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalHinge",
    "CosineSimilarity",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "Loss",
    "LossFunctionWrapper",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "bce",
    "binary_crossentropy",
    "categorical_crossentropy",
    "categorical_hinge",
    "cosine_similarity",
    "deserialize",
    "get",
    "hinge",
    "huber",
    "kl_divergence",
    "kld",
    "log_cosh",
    "mae",
    "mape",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "mse",
    "msle",
    "poisson",
    "reduce_weighted_values",
    "serialize",
    "sparse_categorical_crossentropy",
    "squared_hinge",
]

"""`tapegrad.utils` (Keras 3's ``keras.utils``): data helpers (`to_categorical`,
`pad_sequences`, `normalize`, `timeseries_dataset_from_array`, `PyDataset`, ...), model
drawing (`plot_model`), training curves (`plot_history`), the serialization registry
(`register_keras_serializable`, ...), `set_random_seed`, and tapegrad's gradient checking
(`check_grads` in `gradcheck`).

The names that need the Keras-style API load on first use, so ``import tapegrad`` (which
imports `gradcheck` from here) stays light.

Examples:
    >>> import tapegrad as tg
    >>> tg.utils.to_categorical([1, 0], num_classes=2)
    array([[0., 1.],
           [1., 0.]])
"""

from __future__ import annotations

import importlib
import random as _python_random
from typing import Any

import numpy as np

# name -> the module defining it, imported on first use.
_LAZY = {
    "to_categorical": "tapegrad.utils.numerical_utils",
    "normalize": "tapegrad.utils.numerical_utils",
    "pad_sequences": "tapegrad.utils.sequence_utils",
    "get_file": "tapegrad.utils.file_utils",
    "timeseries_dataset_from_array": "tapegrad.utils.timeseries_dataset_utils",
    "plot_model": "tapegrad.utils.model_visualization",
    "model_to_dot": "tapegrad.utils.model_visualization",
    "plot_history": "tapegrad.utils.history_plot",
    "PyDataset": "tapegrad.nn.trainers.py_dataset",
    "Sequence": "tapegrad.nn.trainers.py_dataset",
    "pack_x_y_sample_weight": "tapegrad.utils.dataset_utils",
    "split_dataset": "tapegrad.utils.dataset_utils",
    "get_source_inputs": "tapegrad.utils.graph_utils",
    "Progbar": "tapegrad.utils.progbar",
    "enable_interactive_logging": "tapegrad.config",
    "disable_interactive_logging": "tapegrad.config",
    "is_interactive_logging_enabled": "tapegrad.config",
    "unpack_x_y_sample_weight": "tapegrad.nn.trainers.data_adapters",
    "CustomObjectScope": "tapegrad.saving",
    "custom_object_scope": "tapegrad.saving",
    "get_custom_objects": "tapegrad.saving",
    "get_registered_name": "tapegrad.saving",
    "get_registered_object": "tapegrad.saving",
    "register_keras_serializable": "tapegrad.saving",
    "serialize_keras_object": "tapegrad.saving",
    "deserialize_keras_object": "tapegrad.saving",
    "clear_session": "tapegrad.backend",
    "is_keras_tensor": "tapegrad.backend",
    "standardize_dtype": "tapegrad.backend",
}


_NEEDS_PILLOW = "needs an image library (Pillow), which is not a dependency of tapegrad"
# Keras names tapegrad does not have, with why (read by tapegrad.keras_coverage).
UNSUPPORTED: dict[str, str] = {
    "array_to_img": _NEEDS_PILLOW,
    "img_to_array": _NEEDS_PILLOW,
    "load_img": _NEEDS_PILLOW,
    "save_img": _NEEDS_PILLOW,
    "image_dataset_from_directory": f"not implemented yet ({_NEEDS_PILLOW})",
    "audio_dataset_from_directory": "not implemented yet (needs an audio decoder)",
    "text_dataset_from_directory": "not implemented yet",
    "FeatureSpace": "not implemented yet (needs the string preprocessing layers)",
    "Config": "not implemented yet",
    "bounding_boxes": "not implemented yet",
}
# Keras names tapegrad has, with how they differ (read by tapegrad.keras_coverage).
DIFFERS: dict[str, str] = {
    "timeseries_dataset_from_array": "returns a PyDataset of NumPy batches (Keras: a "
    "tf.data.Dataset); shuffle=True shuffles the start positions as Keras first does, "
    "without Keras's second, buffered tf.data shuffle",
    "split_dataset": "returns NumPy arrays in the input's structure (Keras: tf.data or torch "
    "datasets); preferred_backend is accepted and unused",
    "plot_model": "Keras's HTML-table boxes, rendered without pydot by Graphviz's `dot` "
    "program or else pygraphviz (the viz extra, no system package); also writes .dot (the "
    "DOT text, needs nothing) and .html (a self-contained page, hover a layer for details)",
    "Progbar": "an ASCII bar (Keras draws coloured box characters)",
    "to_categorical": "a Tensor in gives a Tensor out (tapegrad.ops.one_hot)",
}


# tapegrad's own submodules, reachable as attributes (tg.utils.graphviz.available()).
_SUBMODULES = ("graphviz", "svg_view")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name.startswith("__"):  # a protocol probe (doctest's __wrapped__): no Keras name
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from tapegrad.keras_coverage import missing_name_error

    raise missing_name_error("keras.utils", name, UNSUPPORTED)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def set_random_seed(seed: Any) -> None:
    """Seed every random generator a tapegrad program draws from (Keras' name).

    Seeds Python's `random`, NumPy's global generator (initializers draw from it) and
    tapegrad's global seed, from which layers created without a seed (`Dropout`, the
    recurrent and attention dropouts), ``tapegrad.random`` draws with ``seed=None`` and
    `fit`'s shuffling derive. With it set, two runs of the same program are identical.

    Args:
        seed: A non-negative int.

    Raises:
        ValueError: ``seed`` is not a non-negative int.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.utils.set_random_seed(0)
        >>> a = tg.random.normal((2,)).numpy()
        >>> tg.utils.set_random_seed(0)
        >>> bool((tg.random.normal((2,)).numpy() == a).all())
        True
    """
    from tapegrad import random as tapegrad_random

    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(
            f"set_random_seed: seed must be an int, got {seed!r} ({type(seed).__name__})"
        )
    if not 0 <= int(seed) < 2**32:
        # NumPy's legacy global generator takes seeds below 2**32.
        raise ValueError(f"set_random_seed: seed must be in [0, 2**32 - 1], got {seed}")
    seed = int(seed)
    _python_random.seed(seed)
    np.random.seed(seed)
    tapegrad_random.set_global_seed(seed)


def get_random_seed() -> int | None:
    """The seed last given to `set_random_seed`, or None if it was never called."""
    from tapegrad import random as tapegrad_random

    return tapegrad_random.get_global_seed()


__all__ = ["get_random_seed", "set_random_seed", *sorted(_LAZY)]

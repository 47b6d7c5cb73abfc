"""Pooling layers: max and average pooling over windows, and global pooling (Keras 3).

Window pooling is `tapegrad.ops.max_pool` / `tapegrad.ops.average_pool`: max pooling sends
each window's gradient to its first maximum, and average pooling with ``"same"`` padding
divides by the number of real (unpadded) elements, as Keras and TF do.
"""

from __future__ import annotations

from typing import Any

import tapegrad.numpy as tnp
from tapegrad import ops
from tapegrad.nn.layers.base import Layer
from tapegrad.nn.layers.conv import check_rank, normalize_data_format, normalize_tuple
from tapegrad.nn.validation import check_bool


class BasePooling(Layer):
    """Max or average pooling over sliding windows; subclassed by rank and kind.

    Args:
        rank: Number of spatial dims.
        pool_function: `tapegrad.ops.max_pool` or `tapegrad.ops.average_pool`.
        pool_size: An int or ``rank`` ints: the window.
        strides: An int or ``rank`` ints; None (default) means ``pool_size``.
        padding: ``"valid"`` or ``"same"`` (output size ``ceil(n / stride)``).
        data_format: ``"channels_last"`` (default, also for None) or ``"channels_first"``.
    """

    # Any spatial size and number of channels; `call` checks the rank.
    _check_input_shape = False

    def __init__(
        self,
        rank: int,
        pool_function: Any,
        pool_size: Any,
        strides: Any = None,
        padding: str = "valid",
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        layer = f"{type(self).__name__} '{self.name}'"
        self.rank = rank
        self.pool_function = pool_function
        self.pool_size = normalize_tuple(pool_size, rank, "pool_size", layer)
        self.strides = (
            self.pool_size if strides is None else normalize_tuple(strides, rank, "strides", layer)
        )
        self.padding = str(padding).lower()
        if self.padding not in ("valid", "same"):
            raise ValueError(f"{layer}: padding must be 'valid' or 'same', got {padding!r}")
        self.data_format = normalize_data_format(data_format, layer)

    def call(self, inputs: Any) -> Any:
        check_rank(self, inputs, self.rank, self.data_format)
        # A Tensor also for NumPy inputs, as every layer returns (the op would not convert).
        inputs = tnp.asarray(inputs)
        return self.pool_function(
            inputs,
            self.pool_size,
            strides=self.strides,
            padding=self.padding,
            data_format=self.data_format,
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
        }


class MaxPooling1D(BasePooling):
    """Max over windows of ``pool_size`` steps (Keras' ``MaxPooling1D``).

    Args:
        pool_size: Window length (default 2).
        strides: Step between windows (default: ``pool_size``).
        padding: ``"valid"`` or ``"same"``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.array([1.0, 3.0, 2.0, 0.0, 5.0], np.float32).reshape(1, 5, 1)
        >>> tg.layers.MaxPooling1D(2, padding="same")(x).numpy()[0, :, 0]
        array([3., 2., 5.], dtype=float32)
    """

    def __init__(
        self,
        pool_size: Any = 2,
        strides: Any = None,
        padding: str = "valid",
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(1, ops.max_pool, pool_size, strides, padding, data_format, **kwargs)


class MaxPooling2D(BasePooling):
    """Max over ``pool_size`` windows of images (Keras' ``MaxPooling2D``).

    Args:
        pool_size: An int or 2 ints (default ``(2, 2)``).
        strides: An int or 2 ints (default: ``pool_size``).
        padding: ``"valid"`` or ``"same"``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.arange(16.0, dtype=np.float32).reshape(1, 4, 4, 1)
        >>> tg.layers.MaxPooling2D()(x).numpy()[0, :, :, 0]
        array([[ 5.,  7.],
               [13., 15.]], dtype=float32)
    """

    def __init__(
        self,
        pool_size: Any = (2, 2),
        strides: Any = None,
        padding: str = "valid",
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(2, ops.max_pool, pool_size, strides, padding, data_format, **kwargs)


class MaxPooling3D(BasePooling):
    """Max over ``pool_size`` windows of volumes (Keras' ``MaxPooling3D``).

    Args:
        pool_size: An int or 3 ints (default ``(2, 2, 2)``).
        strides: An int or 3 ints (default: ``pool_size``).
        padding: ``"valid"`` or ``"same"``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.MaxPooling3D()(np.ones((1, 4, 4, 5, 2), np.float32)).shape
        (1, 2, 2, 2, 2)
    """

    def __init__(
        self,
        pool_size: Any = (2, 2, 2),
        strides: Any = None,
        padding: str = "valid",
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(3, ops.max_pool, pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(BasePooling):
    """Mean over windows of ``pool_size`` steps (Keras' ``AveragePooling1D``).

    Args:
        pool_size: Window length (default 2).
        strides: Step between windows (default: ``pool_size``).
        padding: ``"valid"`` or ``"same"`` (padding is not counted in the mean).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.array([1.0, 3.0, 2.0], np.float32).reshape(1, 3, 1)
        >>> tg.layers.AveragePooling1D(2, padding="same")(x).numpy()[0, :, 0]
        array([2., 2.], dtype=float32)
    """

    def __init__(
        self,
        pool_size: Any = 2,
        strides: Any = None,
        padding: str = "valid",
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(1, ops.average_pool, pool_size, strides, padding, data_format, **kwargs)


class AveragePooling2D(BasePooling):
    """Mean over ``pool_size`` windows of images (Keras' ``AveragePooling2D``).

    Args:
        pool_size: An int or 2 ints (default ``(2, 2)``).
        strides: An int or 2 ints (default: ``pool_size``).
        padding: ``"valid"`` or ``"same"`` (padding is not counted in the mean).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.arange(16.0, dtype=np.float32).reshape(1, 4, 4, 1)
        >>> tg.layers.AveragePooling2D()(x).numpy()[0, :, :, 0]
        array([[ 2.5,  4.5],
               [10.5, 12.5]], dtype=float32)
    """

    def __init__(
        self,
        pool_size: Any = (2, 2),
        strides: Any = None,
        padding: str = "valid",
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(2, ops.average_pool, pool_size, strides, padding, data_format, **kwargs)


class AveragePooling3D(BasePooling):
    """Mean over ``pool_size`` windows of volumes (Keras' ``AveragePooling3D``).

    Args:
        pool_size: An int or 3 ints (default ``(2, 2, 2)``).
        strides: An int or 3 ints (default: ``pool_size``).
        padding: ``"valid"`` or ``"same"`` (padding is not counted in the mean).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.AveragePooling3D(2)(np.ones((1, 2, 2, 2, 1), np.float32)).numpy()
        array([[[[[1.]]]]], dtype=float32)
    """

    def __init__(
        self,
        pool_size: Any = (2, 2, 2),
        strides: Any = None,
        padding: str = "valid",
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(3, ops.average_pool, pool_size, strides, padding, data_format, **kwargs)


class BaseGlobalPooling(Layer):
    """Reduces every spatial axis with ``reduce`` (`tapegrad.numpy.mean` or ``max``).

    Args:
        rank: Number of spatial dims.
        reduce: ``reduce(x, axis=..., keepdims=...)``.
        data_format: ``"channels_last"`` (default, also for None) or ``"channels_first"``.
        keepdims: Keep the spatial axes with size 1 (default: drop them).
    """

    _check_input_shape = False

    def __init__(
        self,
        rank: int,
        reduce: Any,
        data_format: str | None = None,
        keepdims: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.rank = rank
        self.reduce = reduce
        self.data_format = normalize_data_format(
            data_format, f"{type(self).__name__} '{self.name}'"
        )
        self.keepdims = check_bool(f"{type(self).__name__} '{self.name}'", "keepdims", keepdims)

    def call(self, inputs: Any) -> Any:
        check_rank(self, inputs, self.rank, self.data_format)
        inputs = tnp.asarray(inputs)
        first = 2 if self.data_format == "channels_first" else 1
        axes = tuple(range(first, first + self.rank))
        return self.reduce(inputs, axis=axes, keepdims=self.keepdims)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(BaseGlobalPooling):
    """The mean over the steps (Keras' ``GlobalAveragePooling1D``); masked steps (the
    inputs' mask, e.g. from `Embedding(mask_zero=True)`, or ``mask=``) are left out.

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        keepdims: Keep the spatial axes with size 1 (default: drop them).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.arange(6.0, dtype=np.float32).reshape(1, 3, 2)
        >>> tg.layers.GlobalAveragePooling1D()(x).numpy()
        array([[2., 3.]], dtype=float32)
    """

    # Keras 3: takes the steps' mask (and gives none: the steps axis is gone).
    supports_masking = True

    def __init__(
        self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(1, tnp.mean, data_format, keepdims, **kwargs)

    def call(self, inputs: Any, mask: Any = None) -> Any:
        """The mean over the steps; with ``mask`` (``(batch, steps)``, by default the
        inputs' own), over the unmasked steps only, as Keras does."""
        if mask is None:
            return super().call(inputs)
        check_rank(self, inputs, self.rank, self.data_format)
        inputs = tnp.asarray(inputs)
        axis = 2 if self.data_format == "channels_first" else 1
        keep = tnp.expand_dims(tnp.not_equal(tnp.asarray(mask), 0), 3 - axis)
        total = tnp.sum(tnp.where(keep, inputs, 0.0), axis=axis, keepdims=self.keepdims)
        count = tnp.sum(tnp.asarray(keep, dtype=inputs.dtype), axis=axis, keepdims=self.keepdims)
        return total / count

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        """None: the steps axis is reduced away."""
        return None


class GlobalAveragePooling2D(BaseGlobalPooling):
    """The mean over the height and width (Keras' ``GlobalAveragePooling2D``).

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        keepdims: Keep the spatial axes with size 1 (default: drop them).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.arange(8.0, dtype=np.float32).reshape(1, 2, 2, 2)
        >>> tg.layers.GlobalAveragePooling2D()(x).numpy()
        array([[3., 4.]], dtype=float32)
        >>> tg.layers.GlobalAveragePooling2D(keepdims=True)(x).shape
        (1, 1, 1, 2)
    """

    def __init__(
        self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(2, tnp.mean, data_format, keepdims, **kwargs)


class GlobalAveragePooling3D(BaseGlobalPooling):
    """The mean over the three spatial axes (Keras' ``GlobalAveragePooling3D``).

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        keepdims: Keep the spatial axes with size 1 (default: drop them).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.GlobalAveragePooling3D()(np.ones((2, 3, 3, 3, 4), np.float32)).shape
        (2, 4)
    """

    def __init__(
        self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(3, tnp.mean, data_format, keepdims, **kwargs)


class GlobalMaxPooling1D(BaseGlobalPooling):
    """The maximum over the steps (Keras' ``GlobalMaxPooling1D``).

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        keepdims: Keep the spatial axes with size 1 (default: drop them).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.array([[[1.0, 6.0], [5.0, 2.0]]], np.float32)
        >>> tg.layers.GlobalMaxPooling1D()(x).numpy()
        array([[5., 6.]], dtype=float32)
    """

    def __init__(
        self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(1, tnp.max, data_format, keepdims, **kwargs)


class GlobalMaxPooling2D(BaseGlobalPooling):
    """The maximum over the height and width (Keras' ``GlobalMaxPooling2D``).

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        keepdims: Keep the spatial axes with size 1 (default: drop them).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.arange(8.0, dtype=np.float32).reshape(1, 2, 2, 2)
        >>> tg.layers.GlobalMaxPooling2D(data_format="channels_first")(x).numpy()
        array([[3., 7.]], dtype=float32)
    """

    def __init__(
        self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(2, tnp.max, data_format, keepdims, **kwargs)


class GlobalMaxPooling3D(BaseGlobalPooling):
    """The maximum over the three spatial axes (Keras' ``GlobalMaxPooling3D``).

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        keepdims: Keep the spatial axes with size 1 (default: drop them).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.GlobalMaxPooling3D()(np.ones((2, 3, 3, 3, 4), np.float32)).shape
        (2, 4)
    """

    def __init__(
        self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(3, tnp.max, data_format, keepdims, **kwargs)


__all__ = [
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
]

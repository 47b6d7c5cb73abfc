"""Normalization layers: BatchNormalization and LayerNormalization (Keras 3 semantics)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.nn import constraints, initializers, regularizers
from tapegrad.nn.layers.base import Layer
from tapegrad.nn.validation import (
    check_bool,
    check_constraint,
    check_int,
    check_number,
    check_probability,
    layer_owner,
)


def _normalize_axis(axis: int, ndim: int, layer: Layer) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': axis {axis} is out of range for "
            f"inputs of rank {ndim}"
        )
    return axis % ndim


def _check_inputs(
    layer: Layer, inputs: Any, axes: Sequence[int], broadcast_shape: Sequence[int]
) -> None:
    """Same rank as at build time and the same sizes along the normalized axes."""
    shape = tuple(tnp.shape(inputs))
    if len(shape) != len(broadcast_shape) or any(shape[a] != broadcast_shape[a] for a in axes):
        expected = tuple(
            broadcast_shape[i] if i in axes else None for i in range(len(broadcast_shape))
        )
        raise ValueError(
            f"Input to layer '{layer.name}' ({type(layer).__name__}) has shape {shape}, but "
            f"the layer was built for inputs of shape {expected} (None: any size)"
        )


def _from_config(
    cls: type,
    config: dict[str, Any],
    initializer_keys: Sequence[str],
    regularizer_keys: Sequence[str],
) -> Any:
    config = dict(config)
    for key in initializer_keys:
        if config.get(key) is not None:
            config[key] = initializers.deserialize(config[key])
    for key in regularizer_keys:
        if config.get(key) is not None:
            config[key] = regularizers.deserialize(config[key])
    return cls(**config)


def _normalize(inputs: Any, mean: Any, variance: Any, gamma: Any, beta: Any, epsilon: float) -> Any:
    """``gamma * (inputs - mean) / sqrt(variance + epsilon) + beta`` (Keras' op order)."""
    inv = 1.0 / tnp.sqrt(variance + epsilon)
    if gamma is not None:
        inv = inv * gamma
    shift = -mean * inv
    if beta is not None:
        shift = shift + beta
    return inputs * inv + shift


class BatchNormalization(Layer):
    """Normalizes each feature with batch statistics while training, moving ones otherwise.

    With ``training=True`` (as in `fit`) the output is ``gamma * (x - mean(x)) /
    sqrt(var(x) + epsilon) + beta`` over every axis but ``axis``, and the non-trainable
    ``moving_mean``/``moving_variance`` are updated with
    ``moving = moving * momentum + batch_stat * (1 - momentum)`` (the biased batch variance,
    as in Keras 3). Otherwise (`predict`, `evaluate`, plain calls) the moving statistics
    are used. A frozen layer (``trainable=False``) always runs in inference mode.

    Args:
        axis: The features axis (e.g. ``1`` after ``channels_first`` convolutions).
        momentum: Momentum of the moving averages.
        epsilon: Added to the variance to avoid dividing by zero.
        center: Whether to add the learned offset ``beta``.
        scale: Whether to multiply by the learned scale ``gamma``.
        beta_initializer: Initializer of ``beta``.
        gamma_initializer: Initializer of ``gamma``.
        moving_mean_initializer: Initializer of the moving mean.
        moving_variance_initializer: Initializer of the moving variance.
        beta_regularizer: Optional regularizer of ``beta``.
        gamma_regularizer: Optional regularizer of ``gamma``.
        beta_constraint: Optional constraint applied to ``beta`` after updates.
        gamma_constraint: Optional constraint applied to ``gamma`` after updates.
        renorm: Batch renormalization (Ioffe 2017), as Keras 3.15: while training, the
            normalized batch is corrected by ``r = std / renorm_std`` and ``d = (mean -
            renorm_mean) / renorm_std`` (no gradient through them) against moving
            ``renorm_mean``/``renorm_stddev``; ``moving_stddev`` is tracked and
            ``moving_variance = moving_stddev**2 - epsilon``.
        renorm_clipping: Optional dict with ``rmin``, ``rmax``, ``dmax`` bounds of r and d.
        renorm_momentum: Momentum of ``renorm_mean``/``renorm_stddev``.
        synchronized: Cross-device statistics; only ``False`` (one process) is supported.

    Call arguments:
        inputs: The batch.
        training: Whether to use (and update) the batch statistics.
        mask: Optional boolean of the inputs' shape without the last axis (by default the
            inputs' mask): while training, only unmasked entries enter the statistics.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.BatchNormalization(momentum=0.5)
        >>> x = tg.tensor([[0.0, 2.0], [2.0, 6.0]])
        >>> layer(x, training=True).numpy().round(2)
        array([[-1., -1.],
               [ 1.,  1.]], dtype=float32)
        >>> layer.moving_mean.numpy()
        array([0.5, 2. ], dtype=float32)
        >>> layer(x).numpy().round(2)  # inference: moving statistics
        array([[-0.5 ,  0.  ],
               [ 1.5 ,  2.53]], dtype=float32)
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    # Only the rank and the features axis are fixed (checked in `call`).
    _check_input_shape = False

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        renorm: bool = False,
        renorm_clipping: dict[str, float] | None = None,
        renorm_momentum: float = 0.99,
        synchronized: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if check_bool(layer_owner(self), "synchronized", synchronized):
            raise ValueError(
                f"BatchNormalization '{self.name}': synchronized=True needs several devices; "
                "tapegrad runs in one process (use synchronized=False)"
            )
        owner = layer_owner(self)
        self.axis = check_int(owner, "axis", axis)
        self.momentum = check_probability(owner, "momentum", momentum, include_one=True)
        self.epsilon = check_number(owner, "epsilon", epsilon, low=0.0)
        self.center = check_bool(owner, "center", center)
        self.scale = check_bool(owner, "scale", scale)
        self.synchronized = False
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = check_constraint(self, "beta_constraint", beta_constraint)
        self.gamma_constraint = check_constraint(self, "gamma_constraint", gamma_constraint)
        self.renorm = check_bool(owner, "renorm", renorm)
        clipping = dict(renorm_clipping or {}) if self.renorm else renorm_clipping
        if self.renorm and set(clipping) - {"rmax", "rmin", "dmax"}:
            raise ValueError(
                f"{owner}: renorm_clipping takes the keys rmax, rmin and dmax, got {clipping!r}"
            )
        self.renorm_clipping = clipping
        self.renorm_momentum = check_probability(
            owner, "renorm_momentum", renorm_momentum, include_one=True
        )

    def build(self, input_shape: Any) -> None:
        ndim = len(input_shape)
        axis = _normalize_axis(self.axis, ndim, self)
        features = input_shape[axis]
        if features is None:
            raise ValueError(
                f"BatchNormalization '{self.name}': axis {self.axis} of the input shape "
                f"{tuple(input_shape)} must be known"
            )
        shape = (features,)
        self.gamma = (
            self.add_weight(
                shape,
                self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
                name="gamma",
            )
            if self.scale
            else None
        )
        self.beta = (
            self.add_weight(
                shape,
                self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
                name="beta",
            )
            if self.center
            else None
        )
        self.moving_mean = self.add_weight(
            shape, self.moving_mean_initializer, trainable=False, name="moving_mean"
        )
        self.moving_variance = self.add_weight(
            shape, self.moving_variance_initializer, trainable=False, name="moving_variance"
        )
        if self.renorm:
            # Keras' order: the stddev twin of the moving variance, then renorm's own.
            def stddev_initializer(shape: Any, dtype: Any = None) -> Any:
                return tnp.sqrt(self.moving_variance_initializer(shape, dtype=dtype))

            self.moving_stddev = self.add_weight(
                shape, stddev_initializer, trainable=False, name="moving_stddev"
            )
            self.renorm_mean = self.add_weight(
                shape, self.moving_mean_initializer, trainable=False, name="renorm_mean"
            )
            self.renorm_stddev = self.add_weight(
                shape, stddev_initializer, trainable=False, name="renorm_stddev"
            )
        self._axis = axis
        self._reduction_axes = tuple(i for i in range(ndim) if i != axis)
        # Per-feature vectors broadcast against the inputs along `axis`.
        self._broadcast_shape = tuple(features if i == axis else 1 for i in range(ndim))

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        _check_inputs(self, inputs, (self._axis,), self._broadcast_shape)
        if mask is not None and tnp.ndim(mask) != tnp.ndim(inputs) - 1:
            raise ValueError(
                f"BatchNormalization '{self.name}': the mask must have one axis less than "
                f"the inputs, got mask shape {tnp.shape(mask)} for inputs {tnp.shape(inputs)}"
            )
        gamma, beta = self._broadcast(self.gamma), self._broadcast(self.beta)
        if training and self.trainable and mask is not None:
            mean, variance = self._masked_moments(inputs, mask)
        elif training and self.trainable:
            mean = tnp.mean(inputs, axis=self._reduction_axes, keepdims=True)
            variance = tnp.mean(tnp.square(inputs - mean), axis=self._reduction_axes, keepdims=True)
        else:
            mean = self._broadcast(self.moving_mean)
            variance = self._broadcast(self.moving_variance)
        if training and self.trainable and self.renorm:
            gamma, beta = self._renormalize(mean, variance, gamma, beta)
        elif training and self.trainable:
            self._update_moving_statistics(mean, variance)
        return _normalize(inputs, mean, variance, gamma, beta, self.epsilon)

    def _renormalize(self, mean: Any, variance: Any, gamma: Any, beta: Any) -> tuple[Any, Any]:
        """Keras' batch renormalization: the corrected (gamma, beta); statistics updated."""
        mean, variance = tg.stop_gradient(mean), tg.stop_gradient(variance)
        stddev = tnp.sqrt(variance + self.epsilon)
        renorm_mean = self._broadcast(self.renorm_mean)
        # Floored: no division by zero early in training.
        renorm_stddev = tnp.maximum(self._broadcast(self.renorm_stddev), self.epsilon**0.5)
        r = stddev / renorm_stddev
        d = (mean - renorm_mean) / renorm_stddev
        clipping = self.renorm_clipping
        if clipping.get("rmin") is not None:
            r = tnp.maximum(r, clipping["rmin"])
        if clipping.get("rmax") is not None:
            r = tnp.minimum(r, clipping["rmax"])
        if clipping.get("dmax") is not None:
            d = tnp.clip(d, -clipping["dmax"], clipping["dmax"])
        # (x_hat * r + d) * gamma + beta = x_hat * (r * gamma) + (d * gamma + beta).
        new_beta = d if gamma is None else d * gamma
        new_gamma = r if gamma is None else r * gamma
        new_beta = new_beta if beta is None else new_beta + beta
        shape = tnp.shape(self.moving_mean)
        mean, stddev = tnp.reshape(mean, shape), tnp.reshape(stddev, shape)
        rm, m = self.renorm_momentum, self.momentum
        self.renorm_mean.assign(self.renorm_mean * rm + mean * (1.0 - rm))
        self.renorm_stddev.assign(self.renorm_stddev * rm + stddev * (1.0 - rm))
        self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
        moving_stddev = self.moving_stddev * m + stddev * (1.0 - m)
        self.moving_stddev.assign(moving_stddev)
        # Rounding may take it below zero: clamped, as Keras' relu.
        self.moving_variance.assign(tnp.maximum(moving_stddev * moving_stddev - self.epsilon, 0.0))
        return new_gamma, new_beta

    def _masked_moments(self, inputs: Any, mask: Any) -> tuple[Any, Any]:
        """Keras' masked moments: weighted by the mask, epsilon-guarded counts."""
        keep = tnp.broadcast_to(tnp.expand_dims(tnp.not_equal(mask, 0), -1), tnp.shape(inputs))
        axes, eps = self._reduction_axes, tg.backend.epsilon()
        count = tnp.sum(tnp.asarray(keep, dtype=inputs.dtype), axis=axes, keepdims=True) + eps
        mean = tnp.sum(tnp.where(keep, inputs, 0.0), axis=axes, keepdims=True) / count
        squares = tnp.square(tnp.where(keep, inputs - mean, 0.0))
        return mean, tnp.sum(squares, axis=axes, keepdims=True) / count

    def _update_moving_statistics(self, mean: Any, variance: Any) -> None:
        # Statistics are state, not part of the differentiated computation.
        shape = tnp.shape(self.moving_mean)
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
            batch = tnp.reshape(tg.stop_gradient(batch), shape)
            moving.assign(moving * self.momentum + batch * (1.0 - self.momentum))

    def _broadcast(self, vector: Any) -> Any:
        if vector is None:
            return None
        if _broadcasts_as_is(vector, self._broadcast_shape):
            return vector
        return tnp.reshape(vector, self._broadcast_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
            "synchronized": self.synchronized,
            "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BatchNormalization:
        return _from_config(
            cls,
            config,
            (
                "beta_initializer",
                "gamma_initializer",
                "moving_mean_initializer",
                "moving_variance_initializer",
            ),
            ("beta_regularizer", "gamma_regularizer"),
        )


class LayerNormalization(Layer):
    """Normalizes each sample over ``axis`` (the features), then scales and shifts.

    The output is ``gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the mean and
    the (biased) variance taken over ``axis`` for each sample; it behaves the same in
    training and inference. With ``rms_scaling=True`` it is RMS normalization:
    ``gamma * x / sqrt(mean(x**2) + epsilon)`` (no centering, no ``beta``).

    Args:
        axis: Axis or list of axes to normalize over (not the batch axis).
        epsilon: Added to the variance to avoid dividing by zero.
        center: Whether to add the learned offset ``beta``.
        scale: Whether to multiply by the learned scale ``gamma``.
        rms_scaling: Use RMS normalization (``center`` and ``scale`` are then ignored).
            Differs from Keras 3.15 on purpose: Keras divides by
            ``sqrt(variance + epsilon)`` (the centered variance, while not subtracting the
            mean) and warns that the argument is deprecated; tapegrad computes true RMS
            normalization, ``x / sqrt(mean(x**2) + epsilon)``.
        beta_initializer: Initializer of ``beta``.
        gamma_initializer: Initializer of ``gamma``.
        beta_regularizer: Optional regularizer of ``beta``.
        gamma_regularizer: Optional regularizer of ``gamma``.
        beta_constraint: Optional constraint applied to ``beta`` after updates.
        gamma_constraint: Optional constraint applied to ``gamma`` after updates.

    Examples:
        >>> import tapegrad as tg
        >>> layer = tg.layers.LayerNormalization(epsilon=0.0)
        >>> layer(tg.tensor([[1.0, 3.0], [10.0, 20.0]])).numpy()
        array([[-1.,  1.],
               [-1.,  1.]], dtype=float32)
        >>> [w.shape for w in layer.weights]
        [(2,), (2,)]
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    # Only the rank and the normalized axes are fixed (checked in `call`).
    _check_input_shape = False

    def __init__(
        self,
        axis: int | Sequence[int] = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        rms_scaling: bool = False,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        if isinstance(axis, list | tuple) and axis:
            self.axis: int | list[int] = [check_int(owner, "axis", a) for a in axis]
        elif isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
            self.axis = int(axis)
        else:
            raise TypeError(
                f"LayerNormalization '{self.name}': axis must be an int or a list of ints, "
                f"got {axis!r}"
            )
        self.epsilon = check_number(owner, "epsilon", epsilon, low=0.0)
        self.center = check_bool(owner, "center", center)
        self.scale = check_bool(owner, "scale", scale)
        self.rms_scaling = check_bool(owner, "rms_scaling", rms_scaling)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = check_constraint(self, "beta_constraint", beta_constraint)
        self.gamma_constraint = check_constraint(self, "gamma_constraint", gamma_constraint)

    def build(self, input_shape: Any) -> None:
        ndim = len(input_shape)
        given = self.axis if isinstance(self.axis, list) else [self.axis]
        axes = [_normalize_axis(a, ndim, self) for a in given]
        if len(set(axes)) != len(axes):
            raise ValueError(f"LayerNormalization '{self.name}': repeated axis in {self.axis}")
        if any(input_shape[a] is None for a in axes):
            raise ValueError(
                f"LayerNormalization '{self.name}': axes {self.axis} of the input shape "
                f"{tuple(input_shape)} must be known"
            )
        # Weights keep the order of `axis`, like Keras' (their values load unchanged).
        shape = tuple(input_shape[a] for a in axes)
        self.gamma = (
            self.add_weight(
                shape,
                self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
                name="gamma",
            )
            if self.scale or self.rms_scaling
            else None
        )
        self.beta = (
            self.add_weight(
                shape,
                self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
                name="beta",
            )
            if self.center and not self.rms_scaling
            else None
        )
        self._axes = tuple(axes)
        self._broadcast_shape = tuple(input_shape[i] if i in axes else 1 for i in range(ndim))

    def call(self, inputs: Any) -> Any:
        _check_inputs(self, inputs, self._axes, self._broadcast_shape)
        gamma = self._broadcast(self.gamma)
        if self.rms_scaling:
            mean_square = tnp.mean(tnp.square(inputs), axis=self._axes, keepdims=True)
            return inputs * (1.0 / tnp.sqrt(mean_square + self.epsilon)) * gamma
        beta = self._broadcast(self.beta)
        ndim = len(self._broadcast_shape)
        if self._axes == tuple(range(ndim - len(self._axes), ndim)):
            # Trailing axes: the op runs them as one fused primitive (float32/64).
            return tg.ops.layer_normalization(inputs, gamma, beta, self._axes, self.epsilon)
        mean = tnp.mean(inputs, axis=self._axes, keepdims=True)
        variance = tnp.mean(tnp.square(inputs - mean), axis=self._axes, keepdims=True)
        return _normalize(inputs, mean, variance, gamma, beta, self.epsilon)

    def _broadcast(self, weight: Any) -> Any:
        if weight is None:
            return None
        if _broadcasts_as_is(weight, self._broadcast_shape):
            return weight
        return tnp.reshape(weight, self._broadcast_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LayerNormalization:
        return _from_config(
            cls,
            config,
            ("beta_initializer", "gamma_initializer"),
            ("beta_regularizer", "gamma_regularizer"),
        )


def _broadcasts_as_is(weight: Any, shape: tuple[int, ...]) -> bool:
    """Whether ``weight`` broadcasts to ``shape`` without a reshape (the last axis is the
    normalized one): a reshape would be a view of the Variable's array, which makes its
    next update allocate instead of writing in place."""
    return tuple(weight.shape) == shape[len(shape) - weight.ndim :] and all(
        d == 1 for d in shape[: len(shape) - weight.ndim]
    )


__all__ = ["BatchNormalization", "LayerNormalization"]

"""Layer wrappers (Keras 3): the `Wrapper` base, `Bidirectional` (a recurrent layer both
ways), `TimeDistributed` (one layer applied to every time step) and
`SpectralNormalization` (a layer's kernel divided by its largest singular value)."""

from __future__ import annotations

import inspect
from typing import Any

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import tree
from tapegrad.nn import initializers
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.layers.serialization import deserialize, serialize
from tapegrad.nn.validation import check_positive_int, layer_owner, require_rank

_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def _renamed_copy(layer: Layer, prefix: str, **overrides: Any) -> Layer:
    """A fresh layer of ``layer``'s config named ``prefix + name`` (Keras' copies)."""
    config = serialize(layer)
    name = layer.name[len(prefix) :] if layer.name.startswith(prefix) else layer.name
    config["config"] = {**config["config"], "name": prefix + name, **overrides}
    return deserialize(config)


class Wrapper(Layer):
    """Base of layers that wrap another layer (Keras' ``Wrapper``): holds ``layer``,
    builds it with the wrapper, and keeps it in the config.

    Args:
        layer: The wrapped layer.

    Examples:
        >>> import tapegrad as tg
        >>> class Doubled(tg.layers.Wrapper):
        ...     def call(self, inputs):
        ...         return 2 * self.layer(inputs)
        >>> Doubled(tg.layers.Dense(1, kernel_initializer="ones"))(tg.tensor([[1.0]])).numpy()
        array([[2.]], dtype=float32)
    """

    _check_input_shape = False

    def __init__(self, layer: Layer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ValueError(f"{layer_owner(self)}: layer must be a Layer, got {layer!r}"[:200])
        self.layer = layer

    def build(self, input_shape: Any = None) -> None:
        if not self.layer.built:
            self.layer.build(input_shape)
            self.layer.built = True

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "layer": serialize(self.layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Wrapper:
        config = dict(config)
        config["layer"] = deserialize(config["layer"])
        return cls(**config)


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges the two.

    Args:
        layer: A recurrent layer (`LSTM`, `GRU`, `SimpleRNN`, `RNN`); it is copied (from
            its config, with new weights) into ``forward_layer``.
        merge_mode: How the two outputs combine: ``"concat"`` (last axis), ``"sum"``,
            ``"mul"``, ``"ave"``, or None (a list of both).
        backward_layer: Optional recurrent layer for the backward direction (its
            ``go_backwards`` must differ from ``layer``'s); default: a copy of ``layer``
            with ``go_backwards=True``.

    Call arguments:
        sequences: ``(batch, time, features)``.
        initial_state: Optional list of the forward layer's states followed by the
            backward layer's.
        mask: Optional boolean ``(batch, time)``, passed to both directions (by default
            the inputs' mask).
        training: Whether dropout is active.

    Returns:
        The merged output; with ``return_state``, ``[output, *forward_states,
        *backward_states]``. The backward sequence is flipped back to input order before
        merging, as in Keras.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> lstm = tg.layers.LSTM(3, return_sequences=True, name="lstm")
        >>> layer = tg.layers.Bidirectional(lstm, name="bi")
        >>> layer(np.ones((2, 5, 4), np.float32)).shape
        (2, 5, 6)
        >>> [w.path for w in layer.weights][:1]
        ['bi/forward_lstm/lstm_cell/kernel']
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    _check_input_shape = False  # a call may pass [sequences, *states]

    def __init__(
        self,
        layer: Layer,
        merge_mode: str | None = "concat",
        weights: Any = None,
        backward_layer: Layer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        for argument, value in (("layer", layer), ("backward_layer", backward_layer)):
            if value is None and argument == "backward_layer":
                continue
            if not isinstance(value, Layer) or not hasattr(value, "go_backwards"):
                raise ValueError(
                    f"{owner}: {argument} must be a recurrent layer (LSTM, GRU, SimpleRNN, "
                    f"RNN), got {value!r}"[:200]
                )
        if merge_mode not in _MERGE_MODES:
            raise ValueError(
                f"{owner}: merge_mode must be one of {_MERGE_MODES}, got {merge_mode!r}"
            )
        self.forward_layer = _renamed_copy(layer, "forward_")
        self.backward_layer = (
            _renamed_copy(layer, "backward_", go_backwards=not layer.go_backwards)
            if backward_layer is None
            else backward_layer
        )
        if self.forward_layer.go_backwards == self.backward_layer.go_backwards:
            raise ValueError(
                f"{owner}: the forward and backward layers must have different go_backwards, "
                f"both have {self.forward_layer.go_backwards}"
            )
        for attribute in ("stateful", "return_sequences", "return_state"):
            forward = getattr(self.forward_layer, attribute)
            backward = getattr(self.backward_layer, attribute)
            if forward != backward:
                raise ValueError(
                    f"{owner}: the forward and backward layers must have the same {attribute}, "
                    f"got {forward} and {backward}"
                )
        for direction in (self.forward_layer, self.backward_layer):
            # Keras zeroes masked outputs of both directions when sequences are returned.
            if getattr(direction, "zero_output_for_mask", None) is not None:
                direction.zero_output_for_mask = direction.return_sequences
        self.merge_mode = merge_mode
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        if weights is not None:
            # Keras' legacy argument: the forward layer's half first.
            half = len(weights) // 2
            self._initial_weights = (list(weights[:half]), list(weights[half:]))

    def __call__(self, inputs: Any = None, initial_state: Any = None, **kwargs: Any) -> Any:
        if inputs is None:
            inputs = kwargs.pop("sequences")
        # Initial states join the inputs, so a functional graph records them as inputs.
        if initial_state is not None:
            inputs = [inputs, *list(initial_state)]
        return super().__call__(inputs, **kwargs)

    def build(self, input_shape: Any) -> None:
        if input_shape and isinstance(input_shape[0], list | tuple):
            input_shape = input_shape[0]
        require_rank(layer_owner(self), input_shape, 3, "(batch, time, features)")
        for direction in (self.forward_layer, self.backward_layer):
            if not direction.built:
                direction.build(tuple(input_shape))
        initial = self.__dict__.pop("_initial_weights", None)
        if initial is not None:
            self.forward_layer.set_weights(initial[0])
            self.backward_layer.set_weights(initial[1])

    def call(self, sequences: Any, mask: Any = None, training: bool | None = None) -> Any:
        forward_state = backward_state = None
        if isinstance(mask, list | tuple):  # initial states joined the inputs
            mask = mask[0] if mask else None
        if isinstance(sequences, list | tuple):
            sequences, *states = sequences
            if len(states) % 2:
                raise ValueError(
                    f"{layer_owner(self)}: initial_state must hold the forward and the "
                    f"backward layer's states (an even count), got {len(states)} tensors"
                )
            if states:
                half = len(states) // 2
                forward_state, backward_state = states[:half], states[half:]
        # Keras passes the mask to both directions.
        y = self.forward_layer(sequences, initial_state=forward_state, mask=mask, training=training)
        y_rev = self.backward_layer(
            sequences, initial_state=backward_state, mask=mask, training=training
        )
        states: list[Any] = []
        if self.return_state:
            states = [*y[1:], *y_rev[1:]]
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = tnp.flip(y_rev, axis=1)
        if self.merge_mode == "concat":
            output: Any = tnp.concatenate([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            output = y + y_rev
        elif self.merge_mode == "ave":
            output = (y + y_rev) / 2
        elif self.merge_mode == "mul":
            output = y * y_rev
        else:
            output = [y, y_rev]
        if not self.return_state:
            return output
        return [*output, *states] if self.merge_mode is None else [output, *states]

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        """The time mask of the output(s) when ``return_sequences``, None for states."""
        if isinstance(mask, list | tuple):
            mask = mask[0] if mask else None
        output_mask = mask if self.return_sequences else None
        masks = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if not self.return_state:
            return masks if self.merge_mode is None else output_mask
        states = len(tree.flatten(self.forward_layer.cell.state_size)) * 2
        return masks + [None] * states

    def compute_output_shape(self, sequences_shape: Any, initial_state_shape: Any = None) -> Any:
        """Output shape(s) for ``(batch, time, features)`` inputs, as Keras gives them."""
        shape = self.forward_layer.compute_output_shape(tuple(sequences_shape))
        state_shapes: list[Any] = []
        if self.return_state:
            shape, state_shapes = shape[0], list(shape[1:])
        if self.merge_mode == "concat":
            shape = (*shape[:-1], shape[-1] * 2)
        outputs = [shape, shape] if self.merge_mode is None else [shape]
        if self.return_state:
            return tuple(outputs + state_shapes + state_shapes)
        return tuple(outputs) if self.merge_mode is None else tuple(shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "merge_mode": self.merge_mode,
            "layer": serialize(self.forward_layer),
            "backward_layer": serialize(self.backward_layer),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Bidirectional:
        config = dict(config)
        config["layer"] = deserialize(config["layer"])
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize(config["backward_layer"])
        return cls(**config)


class TimeDistributed(Wrapper):
    """Applies ``layer`` to every time step (axis 1) of its inputs, with shared weights.

    The time axis is folded into the batch axis for one call of ``layer``, so the result
    equals Keras' per-step calls for every layer whose examples do not interact (all but
    `BatchNormalization` in training, whose batch statistics then span every step).

    Args:
        layer: The layer applied to each ``inputs[:, t]``.

    Call arguments:
        inputs: ``(batch, time, ...)``.
        training: Passed to ``layer``.
        mask: Optional ``(batch, time, ...)`` boolean (by default the inputs' mask):
            passed on to ``layer`` per step where its call takes a ``mask``; the output
            keeps the ``(batch, time)`` mask.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.TimeDistributed(tg.layers.Dense(3))
        >>> layer(np.ones((2, 5, 4), np.float32)).shape
        (2, 5, 3)
        >>> layer.layer.kernel.shape
        (4, 3)
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    def _child_shape(self, input_shape: Any) -> tuple[Any, ...]:
        if not isinstance(input_shape, tuple | list) or len(input_shape) < 3:
            raise ValueError(
                f"{layer_owner(self)}: expects inputs of shape (batch, time, ...) with at "
                f"least 3 dims, got shape {input_shape}"
            )
        return (input_shape[0], *input_shape[2:])

    def build(self, input_shape: Any) -> None:
        child = self._child_shape(input_shape)
        if not self.layer.built:
            self.layer.build(child)

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        shape = tuple(shape_of(inputs))
        self._child_shape(shape)
        batch, steps = shape[0], shape[1]
        folded = tnp.reshape(inputs, (batch * steps, *shape[2:]))
        extra = {}
        # Keras hands each step's slice of the mask to a layer whose call takes one.
        if mask is not None and "mask" in inspect.signature(self.layer.call).parameters:
            mask_shape = tuple(shape_of(mask))
            if mask_shape[:2] != (batch, steps):
                raise ValueError(
                    f"{layer_owner(self)}: the mask must start with the inputs' (batch, "
                    f"time) = {(batch, steps)}, got mask shape {mask_shape}"
                )
            extra["mask"] = tnp.reshape(mask, (batch * steps, *mask_shape[2:]))
        outputs = self.layer(folded, training=training, **extra)
        return tree.map_structure(
            lambda out: tnp.reshape(out, (batch, steps, *shape_of(out)[1:])), outputs
        )

    def compute_output_shape(self, input_shape: Any) -> Any:
        """``(batch, time, *layer's output shape without its batch axis)``."""
        child = self.layer.compute_output_shape(self._child_shape(tuple(input_shape)))
        return (input_shape[0], input_shape[1], *tuple(child)[1:])


class SpectralNormalization(Wrapper):
    """Divides the wrapped layer's kernel by its spectral norm (largest singular value),
    estimated by power iteration, at every training call (Keras'
    ``SpectralNormalization``, used to constrain GAN discriminators).

    As in Keras, a training call assigns the normalized kernel to the layer's kernel and
    the new estimate to ``vector_u``; inference calls use the kernel as it is.

    Args:
        layer: A layer with a ``kernel`` (or ``embeddings``) weight.
        power_iterations: Power-iteration steps per training call.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.SpectralNormalization(tg.layers.Dense(3))
        >>> for _ in range(20):  # each training call refines the estimate
        ...     _ = layer(np.ones((2, 4), np.float32), training=True)
        >>> round(float(np.linalg.norm(layer.layer.kernel.numpy(), 2)), 2)
        1.0
    """

    def __init__(self, layer: Layer, power_iterations: int = 1, **kwargs: Any) -> None:
        super().__init__(layer, **kwargs)
        self.power_iterations = check_positive_int(
            layer_owner(self), "power_iterations", power_iterations
        )

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        kernel = getattr(self.layer, "kernel", None)
        if kernel is None:
            kernel = getattr(self.layer, "embeddings", None)
        if kernel is None:
            raise ValueError(
                f"{layer_owner(self)}: {type(self.layer).__name__} has no 'kernel' nor "
                "'embeddings' weight to normalize"
            )
        self.kernel = kernel
        self.kernel_shape = tuple(kernel.shape)
        self.vector_u = self.add_weight(
            (1, self.kernel_shape[-1]),
            initializers.TruncatedNormal(stddev=0.02),
            dtype=kernel.dtype,
            trainable=False,
            name="vector_u",
        )

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if training:
            vector_u, kernel = self.normalized_weights()
            # An all-zero kernel has no direction to normalize: both stay (Keras' cond).
            zero = tnp.all(tnp.equal(self.kernel.value, 0))
            self.vector_u.assign(tnp.where(zero, self.vector_u.value, vector_u))
            self.kernel.assign(tnp.where(zero, self.kernel.value, kernel))
        return self.layer(inputs, training=training)

    def normalized_weights(self) -> tuple[Any, Any]:
        """The new ``vector_u`` and the kernel divided by its estimated spectral norm."""
        weights = tnp.reshape(self.kernel.value, (-1, self.kernel_shape[-1]))
        vector_u = self.vector_u.value
        vector_v = None
        for _ in range(self.power_iterations):
            vector_v = _unit(tnp.matmul(vector_u, tnp.transpose(weights)))
            vector_u = _unit(tnp.matmul(vector_v, weights))
        vector_u, vector_v = tg.stop_gradient(vector_u), tg.stop_gradient(vector_v)
        sigma = tnp.matmul(tnp.matmul(vector_v, weights), tnp.transpose(vector_u))
        kernel = tnp.reshape(self.kernel.value / sigma, self.kernel_shape)
        return vector_u, kernel

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The wrapped layer's output shape."""
        return self.layer.compute_output_shape(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "power_iterations": self.power_iterations}


def _unit(x: Any) -> Any:
    """``x`` scaled to unit L2 norm (Keras' ops.normalize: epsilon 1e-7 on the norm)."""
    inverse = tnp.minimum(1.0 / tnp.sqrt(tnp.sum(tnp.square(x))), 1e7)
    return x * inverse


__all__ = ["Bidirectional", "SpectralNormalization", "TimeDistributed", "Wrapper"]

"""Layer: the Keras 3 building block (build/call/add_weight, tracking, configs).

Layers are built only on public tapegrad names: weights are `tapegrad.Variable`s, the
computation is ops; gradients come from the tape like for any other code.

A layer called on `KerasTensor`s (symbolic inputs made by `Input`) does not compute: it
records a node of the functional graph and infers the output shape by running itself once
on a small batch of zeros (so no layer, `Lambda` included, needs an output-shape rule).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import re
import threading
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad import backend
from tapegrad.backend import name_scope
from tapegrad.nn import initializers as initializers_module
from tapegrad.nn import regularizers as regularizers_module
from tapegrad.nn.layers.keras_tensor import (
    PROBE_BATCH,
    PROBE_BATCH_AGAIN,
    PROBE_LENGTH,
    PROBE_LENGTH_AGAIN,
    KerasTensor,
    Node,
    flatten,
    map_structure,
    probing,
)
from tapegrad.nn.layers.layer_losses import CALL_CONTEXT, LossesMixin, next_loss_epoch
from tapegrad.nn.layers.layer_masks import MASKS, MasksMixin, get_keras_mask, set_keras_mask
from tapegrad.nn.layers.layer_paths import PathsMixin, scope_name
from tapegrad.nn.layers.structure import bump_structure_version, structure_version
from tapegrad.nn.validation import check_call_inputs, check_layer_arguments

_CALL_CONTEXT = CALL_CONTEXT  # per thread: the training flag, the outermost call's epoch
_BUILD_LOCKS: weakref.WeakKeyDictionary[Any, threading.RLock] = weakref.WeakKeyDictionary()
_BUILD_LOCKS_GUARD = threading.Lock()  # (one lock per layer: concurrent first calls build once)
#: Called as ``check(layer, shape)`` before `Layer.add_weight` allocates, while set (per
#: thread and task): `tapegrad.nn.saving` bounds what a loaded config makes layers allocate.
WEIGHT_CHECK: contextvars.ContextVar[Any] = contextvars.ContextVar("WEIGHT_CHECK", default=None)

_flatten, _map_structure = flatten, map_structure


def unique_name(base: str) -> str:
    """``dense``, ``dense_1``, ... per process, like Keras' automatic layer names."""
    # Keras' to_snake_case: acronyms stay whole (LSTM -> lstm, SimpleRNN -> simple_rnn).
    snake = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", base)
    snake = re.sub("([a-z])([A-Z])", r"\1_\2", snake).lower()
    # The counters are tapegrad.backend's: clear_session() starts the names over.
    index = backend.get_uid(snake) - 1
    return snake if index == 0 else f"{snake}_{index}"


def _build_lock(layer: Any) -> threading.RLock:
    with _BUILD_LOCKS_GUARD:
        lock = _BUILD_LOCKS.get(layer)
        if lock is None:
            lock = _BUILD_LOCKS[layer] = threading.RLock()
        return lock


def shape_of(x: Any) -> tuple[Any, ...]:
    """Shape of a Tensor, array or KerasTensor."""
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


class Layer(LossesMixin, MasksMixin, PathsMixin):
    """Base class of all layers (Keras 3 semantics).

    Subclasses create weights in ``build(input_shape)`` with `add_weight` and compute in
    ``call(inputs, training=None)``. Layers and Variables assigned as attributes (also in
    lists, tuples and dicts) are tracked for `weights`, saving and training.

    Args:
        trainable: Whether the layer's weights are trained (``False`` freezes them all).
        name: Unique name (default: from the class name).
        dtype: Weight dtype (default float32).
        activity_regularizer: Regularizer (or name) of the layer's outputs: each call adds
            its penalty, divided by the batch size, with `add_loss`.
        input_shape: Shape without the batch axis, for the first layer of a `Sequential`.

    Examples:
        >>> import tapegrad as tg
        >>> class Scale(tg.layers.Layer):
        ...     def build(self, input_shape):
        ...         self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones")
        ...     def call(self, inputs):
        ...         return inputs * self.scale
        >>> layer = Scale()
        >>> layer(tg.tensor([[1.0, 2.0]])).numpy()
        array([[1., 2.]], dtype=float32)
        >>> [w.shape for w in layer.trainable_weights]
        [(2,)]
    """

    # Read on every call; the class defaults cover layers that skipped Layer.__init__.
    activity_regularizer: Any = None
    # Layers whose call accepts any input shape after the first (Lambda) switch this off.
    _check_input_shape = True
    # Layers that accept more leading axes than they were built with (Dense: Keras' input
    # spec fixes only the last axis) switch this off: then only the last axis is checked.
    _check_input_rank = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # As in Keras, calling ``layer.build(shape)`` directly marks the layer built, so
        # the first call does not build (and create every weight) a second time.
        build = cls.__dict__.get("build")
        if build is not None:
            cls.build = _marking_built(build)  # type: ignore[method-assign]
        cls._makes_masks = cls.compute_mask is not MasksMixin.compute_mask

    def __init__(
        self,
        trainable: bool = True,
        name: str | None = None,
        dtype: Any = None,
        input_shape: Sequence[int | None] | None = None,
        activity_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        kwargs.pop("input_dim", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword arguments {sorted(kwargs)}")
        check_layer_arguments(self, name, trainable, dtype, input_shape)
        object.__setattr__(self, "_tracking_ready", False)
        self.name = name or unique_name(type(self).__name__)
        self._trainable = trainable
        self.dtype = np.dtype(dtype or backend.floatx())
        self.built = False
        self._weights_list: list[tg.Variable] = []
        self._regularized: list[tuple[Any, tg.Variable]] = []
        self._losses: list[Any] = []
        self._losses_epoch = 0
        self._entry_epoch = 0
        self.activity_regularizer = regularizers_module.get(activity_regularizer)
        self._inbound_nodes: list[Node] = []
        self._build_shapes: Any = None
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        self._declared_input_shape = tuple(input_shape) if input_shape is not None else None
        self._tracking_ready = True

    # -- tracking -----------------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._sublayers():
            layer.trainable = value

    def _scan(self) -> tuple[list[tg.Variable], list[Layer]]:
        """Own Variables and direct sublayers, in attribute order, in one pass.

        Runs on every `trainable_weights` access (twice per training step in user code),
        hence plain loops rather than generators.
        """
        variables: dict[int, tg.Variable] = {id(v): v for v in self._weights_list}
        layers: dict[int, Layer] = {}
        for key, value in vars(self).items():
            if key[0] == "_" and key != "_layers":
                continue
            if isinstance(value, Layer):
                if value is not self:
                    layers.setdefault(id(value), value)
            elif isinstance(value, tg.Variable):
                variables.setdefault(id(value), value)
            elif isinstance(value, _CONTAINERS):
                for item in _trackables(value):
                    if isinstance(item, Layer):
                        if item is not self:
                            layers.setdefault(id(item), item)
                    else:
                        variables.setdefault(id(item), item)
        return list(variables.values()), list(layers.values())

    def _sublayers(self) -> list[Layer]:
        """Direct sublayers, in attribute order, without duplicates."""
        return self._scan()[1]

    def _own_variables(self) -> list[tg.Variable]:
        return self._scan()[0]

    def _weight_entries(self) -> list[tuple[tg.Variable, bool]]:
        """``(weight, trained)`` pairs in Keras 3's `weights` order.

        Keras 3 lists a layer's own trainable weights, then its own non-trainable ones
        (each in `add_weight` order), then each sublayer's `weights`, in tracking order;
        a weight held twice counts where it first appears. ``trained`` is False when the
        weight or any layer holding it is frozen.
        """
        # Cached until any layer attribute changes (see __setattr__): user training loops
        # read the weight lists twice per step, and walking a model's attributes costs
        # more than a small model's arithmetic. A Variable's own ``trainable`` flag is not
        # an attribute of a layer, so the cache also compares the flags it was built with.
        # (A list attribute mutated in place with an existing layer or Variable is not
        # noticed until another attribute is set.)
        version = structure_version()  # read before the walk: a change during it shows
        cached = self.__dict__.get("_weights_cache")
        if (
            cached is not None
            and cached[0] == version
            and [v.trainable for v, _ in cached[1]] == cached[2]
        ):
            return cached[1]
        own = self._own_variables()
        on = self.trainable
        found: dict[int, tuple[tg.Variable, bool]] = {}
        for v in own:
            if v.trainable:
                found.setdefault(id(v), (v, on))
        for v in own:
            if not v.trainable:
                found.setdefault(id(v), (v, False))
        for layer in self._sublayers():
            for v, trained in layer._weight_entries():
                found.setdefault(id(v), (v, trained and on))
        entries = list(found.values())
        object.__setattr__(
            self, "_weights_cache", (version, entries, [v.trainable for v, _ in entries])
        )
        return entries

    @property
    def weights(self) -> list[tg.Variable]:
        """All weights, in Keras 3 order: layer by layer in tracking order.

        Each layer lists its own trainable weights, then its own non-trainable ones (in
        `add_weight` order), then its sublayers' weights; so a model's `get_weights` lines
        up with the same Keras 3 model's.

        Examples:
            >>> import tapegrad as tg
            >>> model = tg.Sequential([tg.Input(shape=(3,)), tg.layers.BatchNormalization(),
            ...                        tg.layers.Dense(2)])
            >>> [w.name for w in model.weights]
            ['gamma', 'beta', 'moving_mean', 'moving_variance', 'kernel', 'bias']
        """
        return [v for v, _ in self._weight_entries()]

    @property
    def trainable_weights(self) -> list[tg.Variable]:
        """The weights optimizers train, in `weights` order (empty for a frozen layer)."""
        return [v for v, trained in self._weight_entries() if trained]

    @property
    def non_trainable_weights(self) -> list[tg.Variable]:
        """The weights optimizers leave alone (frozen or non-trainable), in `weights` order."""
        return [v for v, trained in self._weight_entries() if not trained]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    def count_params(self) -> int:
        """Number of scalars in all weights."""
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' is not built yet: call it on data (or build it) first"
            )
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights' values, in `weights` order."""
        return [np.array(w.numpy(), copy=True) for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Assign values to `weights` (same order, shapes must match)."""
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(
                f"Layer '{self.name}': set_weights got {len(weights)} arrays for {len(own)} weights"
            )
        for variable, value in zip(own, weights, strict=True):
            variable.assign(value)

    # -- weights ------------------------------------------------------------------------
    def add_weight(
        self,
        shape: Sequence[int] | None = None,
        initializer: Any = "glorot_uniform",
        dtype: Any = None,
        trainable: bool = True,
        regularizer: Any = None,
        constraint: Any = None,
        name: str | None = None,
    ) -> tg.Variable:
        """Create a weight Variable owned by this layer.

        Args:
            shape: Weight shape.
            initializer: Initializer, its name, or a callable ``(shape, dtype) -> array``.
            dtype: dtype (default: the layer's).
            trainable: Trained by optimizers and watched by tapes.
            regularizer: Regularizer or name; its penalty joins `losses`.
            constraint: Callable applied to the value after each optimizer update.
            name: Weight name (``kernel``); its `Variable.path` is the layer's path and
                the name (``sequential/dense/kernel``).

        Returns:
            The new `tapegrad.Variable`.
        """
        shape = tuple(int(s) for s in (shape or ()))
        check = WEIGHT_CHECK.get()
        if check is not None:
            check(self, shape)
        dtype = np.dtype(dtype or self.dtype)
        init = initializers_module.get(initializer)
        value = np.asarray(init(shape, dtype=dtype), dtype=dtype)
        with name_scope(scope_name(self), caller=self):
            variable = tg.Variable(value, trainable=trainable, name=name or "weight")
        if constraint is not None:
            variable.constraint = constraint
        self._weights_list.append(variable)
        bump_structure_version()
        if regularizer is not None:
            self._regularized.append((regularizers_module.get(regularizer), variable))
        return variable

    # -- building and calling -------------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        """Create weights for inputs of ``input_shape`` (batch axis included, may be None)."""
        self.built = True

    def call(self, *args: Any, **kwargs: Any) -> Any:
        """The layer's computation (override)."""
        raise NotImplementedError(f"{type(self).__name__}.call is not implemented")

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Output shape for ``input_shape``, by running the layer on zeros."""
        probe = (
            _map_structure(lambda s: KerasTensor(s, self.dtype), input_shape)
            if not _is_shape(input_shape)
            else KerasTensor(input_shape, self.dtype)
        )
        out = self(probe)
        return _map_structure(lambda k: k.shape, out)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        inputs = args[0] if args else kwargs.pop("inputs")
        rest = args[1:]
        kind = type(inputs)
        if kind is not tg.Tensor:  # None, text, object arrays: a clear error, not NumPy's
            check_call_inputs(self, inputs)
        if kind is np.ndarray:  # a batch of data: a Tensor, as Keras converts it
            inputs = tg.Tensor(inputs)
        elif kind is not tg.Tensor:  # the common cases skip the structure walks
            if any(isinstance(x, KerasTensor) for x in _flatten(inputs)):
                return self._call_symbolic(inputs, rest, kwargs)
            # NumPy inputs become Tensors (as Keras converts them): layers return Tensors.
            inputs = _map_structure(
                lambda x: tg.Tensor(x) if isinstance(x, np.ndarray | np.generic) else x,
                inputs,
            )
        if not self._path_settled:  # (False while not built: see __setattr__)
            return self._call_in_scope(inputs, rest, kwargs)
        training = kwargs.pop("training", None)
        context = _CALL_CONTEXT
        previous = context.training
        if training is None:
            training = previous
        if self._check_input_shape:
            self._check_shapes(inputs)
        takes_training = type(self).__dict__.get("_call_takes_training")
        if takes_training is None:
            takes_training = self._accepts("training")
        if takes_training:
            kwargs["training"] = training
        # Mask work only where masks exist, are passed, or the layer makes its own.
        masked = bool(MASKS) or self._makes_masks or kwargs.get("mask") is not None
        previous_mask = self._fill_masks(inputs, rest, kwargs) if masked else None
        # Nested calls inherit the training flag (set/restore: no contextmanager per call).
        context.training = training
        outermost = context.epoch is None
        if outermost:  # a new outermost call: earlier add_loss terms go stale
            epoch = next_loss_epoch()
            context.epoch = epoch
            self.__dict__["_entry_epoch"] = epoch
            self.__dict__["_losses"] = []
        try:
            outputs = self.call(inputs, *rest, **kwargs)
            if masked:
                self._set_output_masks(inputs, outputs, previous_mask)
            if self.activity_regularizer is not None:
                self._add_activity_loss(outputs)
            return outputs
        finally:
            context.training = previous
            if outermost:
                context.epoch = None

    def _accepts(self, argument: str) -> bool:
        cache = type(self).__dict__.get("_call_arguments_cache")
        if cache is None:
            parameters = inspect.signature(self.call).parameters
            cache = set(parameters)
            if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
                cache.add("**")
            type.__setattr__(type(self), "_call_arguments_cache", cache)
            # The per-call question, answered once per class (read in __call__).
            type.__setattr__(
                type(self), "_call_takes_training", "training" in cache or "**" in cache
            )
        return argument in cache or "**" in cache

    def _maybe_build(self, inputs: Any) -> None:
        if self.built:
            return
        # Concurrent first calls: one thread builds, the others wait and find it built.
        with _build_lock(self):
            if self.built:
                return
            shapes = _map_structure(lambda x: shape_of(x), inputs)
            self.build(shapes)
            self.built = True
            self._build_shapes = shapes

    def _check_shapes(self, inputs: Any) -> None:
        expected = self._build_shapes
        if not self._check_input_shape or expected is None:
            return
        flat = self.__dict__.get("_flat_build_shape")
        if flat is None or flat[0] is not expected:  # one shape, not a structure? (once)
            flat = (expected, _is_shape(expected))
            self.__dict__["_flat_build_shape"] = flat
        if not flat[1]:
            return
        got = inputs.shape if type(inputs) is tg.Tensor else shape_of(inputs)
        rank_ok = len(got) == len(expected) or (not self._check_input_rank and len(got) >= 2)
        if not rank_ok or (expected and got[-1] != expected[-1] and expected[-1] is not None):
            raise ValueError(
                f"Input to layer '{self.name}' ({type(self).__name__}) has shape {got}, "
                f"but the layer was built for inputs of shape "
                f"{tuple(None if i == 0 else d for i, d in enumerate(expected))}"
            )

    def _call_symbolic(self, inputs: Any, rest: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Record a functional-graph node; infer output shapes by a probe run on zeros.

        Symbolic tensors may be in any argument (Keras 3): each becomes a graph input.
        """

        symbolic_inputs = [
            x for x in _flatten([inputs, list(rest), kwargs]) if isinstance(x, KerasTensor)
        ]
        # A batch size fixed by every input (Input(batch_shape=(8, ...))) stays known.
        batch_known = all(x.shape[:1] != (None,) for x in symbolic_inputs)

        def probe(batch: int, length: int) -> Any:
            def concrete(x: Any) -> Any:
                if not isinstance(x, KerasTensor):
                    return x
                value = tg.tensor(x.zeros(batch, length))
                if x.mask_rank is not None:  # masked inputs: the outputs' masks are known
                    set_keras_mask(value, tg.tensor(np.ones(value.shape[: x.mask_rank], bool)))
                return value

            # The probe only infers shapes: in inference mode it updates no state (moving
            # statistics) even when the recorded call asks for ``training=True``.
            with probing(batch_known):
                return self(
                    _map_structure(concrete, inputs),
                    *_map_structure(concrete, list(rest)),
                    **{**_map_structure(concrete, kwargs), "training": False},
                )

        outputs = probe(PROBE_BATCH, PROBE_LENGTH)
        flat = _flatten(outputs)
        # Unknown axes past the batch: a second probe tells which output axes follow them.
        second = None
        if any(None in x.shape[1:] for x in symbolic_inputs):
            try:
                second = [
                    shape_of(out) for out in _flatten(probe(PROBE_BATCH_AGAIN, PROBE_LENGTH_AGAIN))
                ]
            except Exception:  # a layer fixing a length: the batch rule below still holds
                second = None
        node_index = len(self._inbound_nodes)
        symbolic = []
        for i, out in enumerate(flat):
            shape = shape_of(out)
            if second is not None and len(second) == len(flat) and len(second[i]) == len(shape):
                shape = tuple(None if a != b else a for a, b in zip(shape, second[i], strict=True))
            if shape and not batch_known:
                # The probe ran with batch PROBE_BATCH: the batch axis stays symbolic.
                shape = (None,) + tuple(shape[1:])
            dtype = np.result_type(out.numpy() if hasattr(out, "numpy") else out)
            mask = get_keras_mask(out)
            name = f"{self.name}/out{i}" if len(flat) > 1 else self.name
            rank = None if mask is None else len(shape_of(mask))
            symbolic.append(KerasTensor(shape, dtype, (self, node_index, i), name, rank))
        node = Node(self, inputs, symbolic, dict(kwargs), tuple(rest))
        self._inbound_nodes.append(node)
        iterator = iter(symbolic)
        return _map_structure(lambda _: next(iterator), outputs)

    # -- the functional graph -------------------------------------------------------------
    @property
    def input(self) -> Any:
        """The symbolic input(s) of the layer's first call in a functional graph (Keras')."""
        return self._first_node("input").inputs

    @property
    def output(self) -> Any:
        """The symbolic output(s) of the layer's first call in a functional graph (Keras').

        Examples:
            >>> import tapegrad as tg
            >>> dense = tg.layers.Dense(2)
            >>> _ = dense(tg.Input(shape=(3,)))
            >>> dense.output.shape
            (None, 2)
        """
        outputs = self._first_node("output").outputs
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def _first_node(self, what: str) -> Node:
        if not self._inbound_nodes:
            raise AttributeError(
                f"Layer '{self.name}' has never been called on symbolic tensors (from "
                f"tapegrad.Input) and thus has no defined {what}."
            )
        return self._inbound_nodes[0]

    # -- configuration ------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-compatible values (override to add your own)."""
        config: dict[str, Any] = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype.name,
        }
        if self._declared_input_shape is not None:
            config["input_shape"] = list(self._declared_input_shape)
        if self.__dict__.get("activity_regularizer") is not None:
            config["activity_regularizer"] = regularizers_module.serialize(
                self.activity_regularizer
            )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """Rebuild a layer from `get_config` output."""
        return cls(**config)

    def __setattr__(self, key: str, value: Any) -> None:
        object.__setattr__(self, key, value)
        if key == "built" and not value:  # the next call builds, in the layer's scope
            self.__dict__["_path_settled"] = False
        bump_structure_version()  # invalidates every layer's cached weight lists

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _marking_built(build: Any) -> Any:
    @functools.wraps(build)
    def build_and_mark(self: Layer, input_shape: Any, *args: Any, **kwargs: Any) -> None:
        with self.open_name_scope() as scope:  # (Keras' build wrapper: the paths)
            self.__dict__.setdefault("_path", scope.path)
            build(self, input_shape, *args, **kwargs)
        self.built = True

    return build_and_mark


_CONTAINERS = (list, tuple, dict)


def _trackables(value: Any) -> Iterator[Any]:
    if isinstance(value, Layer | tg.Variable):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _trackables(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _trackables(item)


def _is_shape(value: Any) -> bool:
    return isinstance(value, tuple | list) and all(
        d is None or isinstance(d, int | np.integer) for d in value
    )

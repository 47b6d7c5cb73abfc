"""MultiOptimizer and OptimizerMap: different optimizers for different variables (Keras 3.15).

An `OptimizerMap` maps variable paths to optimizers: an exact key first, else the one key
that matches the whole path as a regular expression (``"encoder/.*"``), else the default
optimizer. A `MultiOptimizer` builds each optimizer on its share of the variables and
dispatches each ``apply`` to them; its own Variables are ``iteration`` and an unused
``learning_rate`` (as in Keras), followed by every inner optimizer's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any

import tapegrad as tg
from tapegrad.nn.optimizers.base import Optimizer
from tapegrad.nn.optimizers.loss_scale import LossScaleOptimizer

__all__ = ["MultiOptimizer", "OptimizerMap"]


def _serialized(optimizer: Optimizer) -> dict[str, Any]:
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def _deserialized(config: Any, custom_objects: dict[str, Any] | None) -> Any:
    # The package imports this module, so its deserialize is looked up at call time.
    from tapegrad.nn import optimizers

    return optimizers.deserialize(config, custom_objects) if isinstance(config, dict) else config


def _check_inner(optimizer: Any, where: str) -> None:
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"{where}: expected an Optimizer instance, got {optimizer!r}")
    if isinstance(optimizer, LossScaleOptimizer):
        raise ValueError(f"{where}: a LossScaleOptimizer cannot be used inside a MultiOptimizer")
    if isinstance(optimizer, MultiOptimizer):
        raise ValueError(f"{where}: a MultiOptimizer cannot be used inside a MultiOptimizer")


def _path(variable: tg.Variable) -> str:
    return str(getattr(variable, "path", None) or variable.name)


class OptimizerMap(MutableMapping):  # type: ignore[type-arg]
    """Variable paths (or regular expressions over them) to optimizers, with a default.

    Args:
        default_optimizer: The optimizer of every variable no key matches.
        optimizer_map: Optional initial ``{path or pattern: optimizer}``.

    Examples:
        >>> from tapegrad.nn import optimizers
        >>> mapping = optimizers.OptimizerMap(optimizers.RMSprop())
        >>> mapping["encoder/.*"] = optimizers.SGD()
        >>> mapping["decoder"] = optimizers.Adam()
        >>> mapping["encoder/dense/kernel"].name, mapping["decoder"].name
        ('sgd', 'adam')
        >>> mapping["decoder/dense/kernel"].name    # "decoder" matches only itself
        'rm_sprop'
    """

    def __init__(
        self, default_optimizer: Optimizer, optimizer_map: dict[str, Optimizer] | None = None
    ) -> None:
        if not isinstance(default_optimizer, Optimizer):
            raise TypeError(
                f"OptimizerMap: default_optimizer must be an Optimizer, got {default_optimizer!r}"
            )
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise TypeError(f"OptimizerMap: optimizer_map must be a dict, got {optimizer_map!r}")
        self._default_optimizer = default_optimizer
        self._optimizer_map: dict[str, Optimizer] = dict(optimizer_map or {})

    @property
    def default_optimizer(self) -> Optimizer:
        """The optimizer of the variables no key matches."""
        return self._default_optimizer

    def __getitem__(self, key: str) -> Optimizer:
        if key in self._optimizer_map:
            return self._optimizer_map[key]
        matching = [p for p in self._optimizer_map if re.fullmatch(p, key)]
        if len(matching) > 1:
            raise ValueError(
                f"OptimizerMap: several optimizers match the variable {key!r}: {matching}"
            )
        return self._optimizer_map[matching[0]] if matching else self._default_optimizer

    def __setitem__(self, key: str, optimizer: Optimizer) -> None:
        if key in self._optimizer_map:
            raise ValueError(
                f"OptimizerMap: {key!r} already maps to {self._optimizer_map[key]!r}; keys "
                "must not repeat"
            )
        if not isinstance(key, str):
            raise ValueError(f"OptimizerMap: a key must be a string, got {key!r}")
        _check_inner(optimizer, f"OptimizerMap[{key!r}]")
        self._optimizer_map[key] = optimizer

    def __delitem__(self, key: str) -> None:
        del self._optimizer_map[key]

    def __len__(self) -> int:
        return len(self._optimizer_map)

    def __iter__(self) -> Iterator[str]:
        return iter(self._optimizer_map)

    def __call__(self, variable: tg.Variable) -> Optimizer:
        """The optimizer of ``variable`` (looked up by its path)."""
        return self[_path(variable)]

    def get_config(self) -> dict[str, Any]:
        """The default optimizer and the map, serialized."""
        return {
            "default_optimizer": _serialized(self._default_optimizer),
            "optimizer_map": {k: _serialized(v) for k, v in self._optimizer_map.items()},
        }

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None
    ) -> OptimizerMap:
        """Rebuild from ``get_config()``'s output (optimizers from their serialized dicts).

        Args:
            config: The config dict.
            custom_objects: Optional ``{name: class}`` for user-defined optimizers.

        Returns:
            A new OptimizerMap of new, unbuilt optimizers.
        """
        mapping = config.get("optimizer_map") or {}
        return cls(
            _deserialized(config["default_optimizer"], custom_objects),
            {key: _deserialized(value, custom_objects) for key, value in mapping.items()},
        )


class MultiOptimizer(Optimizer):
    """An optimizer that hands each variable to its own optimizer (Keras 3.15).

    It has no learning rate of its own (reading or setting ``learning_rate`` raises);
    ``optimizers`` lists the inner optimizers, whose learning rates, ``iterations`` and
    other attributes are theirs.

    Args:
        optimizer_map: An `OptimizerMap`, or a callable ``f(variable) -> Optimizer``.
        loss_scale_factor: Set on every inner optimizer (see ``Optimizer``).
        name: Name of the optimizer.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn import optimizers
        >>> mapping = optimizers.OptimizerMap(optimizers.SGD(1.0), {"b": optimizers.SGD(0.5)})
        >>> a, b = tg.Variable([1.0], name="a"), tg.Variable([1.0], name="b")
        >>> opt = optimizers.MultiOptimizer(mapping)
        >>> opt.apply([tg.tensor([1.0]), tg.tensor([1.0])], [a, b])
        >>> a.numpy(), b.numpy()
        (array([0.], dtype=float32), array([0.5], dtype=float32))
    """

    def __init__(
        self,
        optimizer_map: OptimizerMap | Callable[[tg.Variable], Optimizer],
        loss_scale_factor: float | None = None,
        name: str | None = None,
    ) -> None:
        if not callable(optimizer_map):
            raise TypeError(
                "MultiOptimizer: optimizer_map must be an OptimizerMap or a callable "
                f"variable -> Optimizer, got {optimizer_map!r}"
            )
        self._inner_optimizers: list[Optimizer] = []
        super().__init__(learning_rate=0.0, loss_scale_factor=loss_scale_factor, name=name)
        self._optimizer_map = optimizer_map
        candidates = list(optimizer_map.values()) if isinstance(optimizer_map, OptimizerMap) else []
        default = getattr(optimizer_map, "default_optimizer", None)
        for inner in [*candidates, *([default] if default is not None else [])]:
            if not any(inner is known for known in self._inner_optimizers):
                inner.loss_scale_factor = loss_scale_factor
                self._inner_optimizers.append(inner)

    @property  # type: ignore[override]
    def loss_scale_factor(self) -> float | None:
        """The loss scale factor, also set on every inner optimizer when assigned."""
        return self.__dict__.get("_loss_scale_factor")

    @loss_scale_factor.setter
    def loss_scale_factor(self, value: float | None) -> None:
        self.__dict__["_loss_scale_factor"] = value
        for inner in self.__dict__.get("_inner_optimizers", ()):
            inner.loss_scale_factor = value

    def _index_of(self, optimizer: Optimizer) -> int:
        for i, known in enumerate(self._inner_optimizers):
            if known is optimizer:
                return i
        self._inner_optimizers.append(optimizer)
        optimizer.loss_scale_factor = self.loss_scale_factor
        return len(self._inner_optimizers) - 1

    def build(self, var_list: Sequence[tg.Variable]) -> None:
        """Ask the map for each variable's optimizer and build each on its variables."""
        if self.built:
            return
        var_list = list(var_list)
        self._owner_of: dict[int, int] = {}
        for variable in var_list:
            inner = self._optimizer_map(variable)
            _check_inner(inner, f"MultiOptimizer: the optimizer of '{_path(variable)}'")
            self._owner_of[id(variable)] = self._index_of(inner)
        for i, inner in enumerate(self._inner_optimizers):
            share = [v for v in var_list if self._owner_of[id(v)] == i]
            if share:
                inner.build(share)
        super().build(var_list)

    @property
    def optimizers(self) -> list[Optimizer]:
        """The inner optimizers, in the order their variables are listed."""
        return list(self._inner_optimizers)

    @property
    def variables(self) -> list[tg.Variable]:
        """``iteration`` and ``learning_rate``, then every inner optimizer's Variables."""
        found = list(self._variables)
        for inner in self._inner_optimizers:
            found.extend(inner.variables)
        return found

    @property
    def learning_rate(self) -> Any:
        """Not available: each inner optimizer has its own."""
        raise AttributeError("MultiOptimizer has no learning rate; use those of its `optimizers`")

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        raise AttributeError(
            "MultiOptimizer has no learning rate to set; set those of its `optimizers`"
        )

    @property
    def iterations(self) -> Any:
        """The number of ``apply`` calls."""
        return self._iterations

    def apply(
        self, grads: Sequence[Any], trainable_variables: Sequence[tg.Variable] | None = None
    ) -> None:
        """Hand each ``(gradient, variable)`` to the variable's optimizer.

        Args:
            grads: Gradients, one per variable the optimizer was built with.
            trainable_variables: The Variables (needed on the first call, to build).
        """
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "MultiOptimizer.apply: without `trainable_variables` the optimizer must "
                    "already be built; call optimizer.build(variables) first"
                )
            trainable_variables = self._trainable_variables
        variables = list(trainable_variables)
        if not self.built:
            self.build(variables)
        if len(grads) != len(self._trainable_variables):
            raise ValueError(
                f"MultiOptimizer.apply: got {len(grads)} gradients for "
                f"{len(self._trainable_variables)} variables"
            )
        shares: list[tuple[list[Any], list[tg.Variable]]] = [
            ([], []) for _ in self._inner_optimizers
        ]
        for gradient, variable in zip(grads, variables, strict=True):
            share_grads, share_vars = shares[self._owner_of[id(variable)]]
            share_grads.append(gradient)
            share_vars.append(variable)
        for inner, (share_grads, share_vars) in zip(self._inner_optimizers, shares, strict=True):
            if share_vars:
                inner.apply(share_grads, share_vars)
        self._iterations.assign_add(1)

    def finalize_variable_values(self, var_list: Sequence[tg.Variable]) -> None:
        """Each inner optimizer's, on its own variables.

        Args:
            var_list: The model's trainable variables.
        """
        for i, inner in enumerate(self._inner_optimizers):
            share = [v for v in var_list if self._owner_of.get(id(v)) == i]
            if share:
                inner.finalize_variable_values(share)

    def get_config(self) -> dict[str, Any]:
        """The serialized map, ``loss_scale_factor`` and ``name`` (as Keras)."""
        if not isinstance(self._optimizer_map, OptimizerMap):
            raise ValueError(
                "MultiOptimizer.get_config: a callable optimizer_map cannot be serialized; "
                "use an OptimizerMap"
            )
        return {
            "optimizer_map": {
                "class_name": "OptimizerMap",
                "config": self._optimizer_map.get_config(),
            },
            "loss_scale_factor": self.loss_scale_factor,
            "name": self.name,
        }

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None
    ) -> MultiOptimizer:
        """Rebuild from ``get_config()``'s output.

        Args:
            config: The config dict.
            custom_objects: Optional ``{name: class}`` for user-defined optimizers.

        Returns:
            A new, unbuilt MultiOptimizer.
        """
        config = dict(config)
        mapping = config.pop("optimizer_map")
        if isinstance(mapping, dict):
            mapping = OptimizerMap.from_config(mapping.get("config", mapping), custom_objects)
        return cls(mapping, **config)

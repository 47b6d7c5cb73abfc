"""Optimizer base class (Keras 3): slot Variables, clipping, weight decay, the update loop.

A concrete optimizer overrides ``build(var_list)`` (creates its slot Variables with
``add_variable_from_reference``) and ``update_step(gradient, variable, learning_rate)``
(updates the Variables in place with tapegrad ops), plus ``get_config``. Everything else —
building on first use, skipping missing gradients, clipping, decoupled weight decay,
the step counter, serialization — lives here, written only with public tapegrad names.
"""

from __future__ import annotations

import numbers
import re
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.nn.optimizers import accumulation, ema, schedules
from tapegrad.nn.optimizers.clipping import cast_to, clip_by_global_norm, clip_by_norm
from tapegrad.nn.optimizers.gradients import GradientMethods
from tapegrad.nn.optimizers.slots import make_initial_value, slot_name
from tapegrad.nn.optimizers.state import StateMethods
from tapegrad.nn.validation import check_number

__all__ = ["Optimizer", "cast_to", "clip_by_global_norm", "clip_by_norm"]


def _snake_case(name: str) -> str:
    # Keras' to_snake_case: the default names Keras gives (without its _1, _2 suffixes).
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


# The step counter's increment (a Tensor of its dtype: assign_add converts nothing).
_ONE_STEP = tg.Tensor(np.array(1, np.int64))


class Optimizer(GradientMethods, StateMethods):
    """Base class of all optimizers (Keras 3's ``BaseOptimizer``).

    Each call of ``apply_gradients`` (or ``apply``) clips the gradients, applies decoupled
    weight decay ``w -= w * weight_decay * learning_rate``, calls ``update_step`` for every
    variable that has a gradient, updates the moving averages (``use_ema``) and increments
    ``iterations``.

    Args:
        learning_rate: A float, a ``LearningRateSchedule`` (called with ``iterations``), or
            a zero-argument callable returning the rate.
        weight_decay: If set, decoupled weight decay applied before each update.
        clipnorm: If set, each gradient is rescaled so that its norm is at most this.
        clipvalue: If set, each gradient is clipped elementwise to ``[-clipvalue, clipvalue]``.
        global_clipnorm: If set, all gradients are rescaled together so that their joint
            norm is at most this. At most one of the three clipping arguments may be set.
        use_ema: Keep a moving average of the weights (`tapegrad.nn.optimizers.ema`).
        ema_momentum: The average's momentum, in ``[0, 1]``.
        ema_overwrite_frequency: Overwrite the weights with their averages every that many
            updates (``None``: only in ``finalize_variable_values``, at the end of ``fit``).
        loss_scale_factor: If set, ``scale_loss`` multiplies the loss by it (the built-in
            train steps call it) and ``apply`` divides the gradients by it.
        gradient_accumulation_steps: If set (an int >= 2), the gradients of that many
            ``apply`` calls are averaged into one update, made at every that-many-th call
            (`tapegrad.nn.optimizers.accumulation`); ``iterations`` then counts updates.
        name: Name of the optimizer, used in messages and configs.
        **kwargs: The ignored legacy ``decay``.

    Examples:
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> from tapegrad.nn.optimizers import Optimizer
        >>> class SignDescent(Optimizer):
        ...     def update_step(self, gradient, variable, learning_rate):
        ...         lr = tnp.astype(learning_rate, variable.dtype)
        ...         variable.assign_sub(lr * tnp.sign(gradient))
        >>> w = tg.Variable([1.0, -2.0])
        >>> SignDescent(learning_rate=0.5).apply([tg.tensor([3.0, -1.0])], [w])
        >>> w.numpy()
        array([ 0.5, -1.5], dtype=float32)
    """

    def __init__(
        self,
        learning_rate: Any,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        owner = type(self).__name__
        ema.check_ema_arguments(owner, use_ema, ema_momentum, ema_overwrite_frequency)
        if kwargs.pop("decay", None) is not None:
            warnings.warn(
                f"{owner}: argument `decay` is no longer supported and is ignored "
                "(use a learning rate schedule)",
                stacklevel=2,
            )
        if kwargs:
            raise ValueError(f"{owner}: argument(s) not recognized: {kwargs}")
        accumulation.check_steps(owner, gradient_accumulation_steps)
        check_number(
            owner, "loss_scale_factor", loss_scale_factor, low=0.0, low_open=True, allow_none=True
        )
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        given = {k: v for k, v in clips.items() if v is not None}
        if len(given) > 1:
            raise ValueError(
                f"{owner}: only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                f"set; got {given}"
            )
        for key, value in given.items():
            check_number(owner, key, value, low=0.0, low_open=True)
        check_number(owner, "weight_decay", weight_decay, low=0.0, allow_none=True)
        if name is not None and not isinstance(name, str):
            raise ValueError(f"{owner}: `name` must be a string, got {name!r}")
        self.name = name or _snake_case(owner)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.built = False
        self._variables: list[tg.Variable] = []
        self._trainable_variables: list[tg.Variable] = []
        self._variable_index: dict[int, int] = {}
        self._exclude_ids: set[int] = set()
        self._exclude_pattern: re.Pattern[str] | None = None
        self._iterations = self.add_variable((), dtype=np.int64, name="iteration")
        self._learning_rate = self._make_learning_rate(learning_rate)

    def _make_learning_rate(self, learning_rate: Any) -> Any:
        if isinstance(learning_rate, schedules.LearningRateSchedule) or callable(learning_rate):
            return learning_rate
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
            raise ValueError(
                f"{type(self).__name__}: `learning_rate` must be a float, a "
                "LearningRateSchedule or a zero-argument callable, got "
                f"{learning_rate!r} ({type(learning_rate).__name__})"
            )
        # 0 is allowed (a frozen step, as in PyTorch); negative or non-finite is not.
        check_number(type(self).__name__, "learning_rate", learning_rate, low=0.0)
        # A Variable so a traced step reads the current rate and callbacks can change it;
        # float64 so float64 models see the exact rate (it is cast per variable dtype).
        return self.add_variable(
            (), initializer=float(learning_rate), dtype=np.float64, name="learning_rate"
        )

    # -- state ------------------------------------------------------------------------
    @property
    def iterations(self) -> Any:
        """The number of updates applied so far (an int64 Variable; with
        ``gradient_accumulation_steps``, the calls of ``apply`` divided by it, a Tensor)."""
        steps = self.gradient_accumulation_steps
        if steps:
            return self._iterations // steps
        return self._iterations

    def scale_loss(self, loss: Any) -> Any:
        """The loss times ``loss_scale_factor`` (the loss itself when that is None).

        A train step differentiates the scaled loss; ``apply`` divides the gradients back.

        Args:
            loss: The loss Tensor.

        Returns:
            The scaled loss.

        Examples:
            >>> import tapegrad as tg
            >>> from tapegrad.nn.optimizers import SGD
            >>> SGD(loss_scale_factor=8.0).scale_loss(tg.tensor(0.5)).numpy()
            array(4., dtype=float32)
        """
        if self.loss_scale_factor is not None:
            return loss * self.loss_scale_factor
        return loss

    @property
    def variables(self) -> list[tg.Variable]:
        """All optimizer state, in creation order: iterations, the learning rate Variable
        (when the rate is a float), then the slot Variables. This is what saving stores."""
        return list(self._variables)

    @property
    def learning_rate(self) -> Any:
        """The current learning rate: the rate Variable, or the schedule's value at
        ``iterations``, or the callable's value. Assign a float to change a float rate."""
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            return self._learning_rate(self._iterations)
        if isinstance(self._learning_rate, tg.Variable):
            return self._learning_rate
        return self._learning_rate()

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        if isinstance(value, schedules.LearningRateSchedule) or callable(value):
            if isinstance(self._learning_rate, tg.Variable):
                # By identity: list.remove would compare Variables with `==` (elementwise).
                self._variables = [v for v in self._variables if v is not self._learning_rate]
            self._learning_rate = value
        elif isinstance(self._learning_rate, tg.Variable):
            if not isinstance(value, tg.Tensor):  # (a Tensor rate is checked where made)
                check_number(type(self).__name__, "learning_rate", value, low=0.0)
            self._learning_rate.assign(float(value))
        elif isinstance(self._learning_rate, schedules.LearningRateSchedule):
            raise TypeError(
                f"{type(self).__name__}: this optimizer was created with a "
                "LearningRateSchedule, so its learning rate cannot be set to a float; create "
                "it with a float learning_rate to make the rate settable"
            )
        else:
            self._learning_rate = self._make_learning_rate(value)

    def add_variable(
        self,
        shape: Sequence[int],
        initializer: Any = "zeros",
        dtype: Any = None,
        name: str | None = None,
    ) -> tg.Variable:
        """Create a non-trainable Variable owned (and saved) by this optimizer.

        Args:
            shape: Shape of the Variable.
            initializer: ``"zeros"``, ``"ones"``, a number, or ``f(shape, dtype) -> array``.
            dtype: dtype of the Variable (default floatx, as Keras).
            name: Name of the Variable.

        Returns:
            The new Variable, also listed in ``variables``.
        """
        dtype = np.dtype(tg.backend.floatx() if dtype is None else dtype)
        value = make_initial_value(initializer, tuple(shape), dtype)
        variable = tg.Variable(value, trainable=False, name=name, dtype=dtype)
        self._variables.append(variable)
        return variable

    def add_variable_from_reference(
        self, reference_variable: tg.Variable, name: str | None = None, initializer: Any = "zeros"
    ) -> tg.Variable:
        """Create a slot Variable with the shape and dtype of a model variable.

        Args:
            reference_variable: The model Variable the slot belongs to.
            name: Slot name (``"momentum"``, ``"velocity"``, ...); the Variable is named
                as Keras 3 names it, ``dense_kernel_momentum`` for ``dense/kernel``.
            initializer: As in ``add_variable``.

        Returns:
            The new slot Variable.
        """
        return self.add_variable(
            reference_variable.shape,
            initializer,
            reference_variable.dtype,
            slot_name(reference_variable, name),
        )

    def add_optimizer_variables(
        self,
        trainable_variables: Sequence[tg.Variable],
        name: str | Sequence[str],
        initializer: Any = "zeros",
    ) -> Any:
        """One slot Variable per model variable (see ``add_variable_from_reference``).

        Args:
            trainable_variables: The model Variables.
            name: Slot name, or a list of names: then the slots of each model variable are
                created together (Keras 3's order: ``w0_m, w0_v, w1_m, w1_v``).
            initializer: As in ``add_variable``; with a list of names, one initializer
                for all or a list of one per name.

        Returns:
            The slot Variables in the order of ``trainable_variables``; a tuple of such
            lists, one per name, when ``name`` is a list.
        """
        if isinstance(name, str):
            return [
                self.add_variable_from_reference(v, name, initializer) for v in trainable_variables
            ]
        names = list(name)
        inits = (
            list(initializer)
            if isinstance(initializer, list | tuple)
            else [initializer] * len(names)
        )
        if len(inits) != len(names):
            raise ValueError(
                f"{type(self).__name__}.add_optimizer_variables: {len(names)} names but "
                f"{len(inits)} initializers"
            )
        slots: tuple[list[tg.Variable], ...] = tuple([] for _ in names)
        for variable in trainable_variables:
            for i, (slot, init) in enumerate(zip(names, inits, strict=True)):
                slots[i].append(self.add_variable_from_reference(variable, slot, init))
        return slots

    def build(self, var_list: Sequence[tg.Variable]) -> None:
        """Record the model variables this optimizer updates; subclasses add their slots.

        Subclasses start with ``if self.built: return`` and ``super().build(var_list)``.

        Args:
            var_list: The model Variables, in the order gradients will be given.
        """
        var_list = list(var_list)
        index: dict[int, int] = {}
        for i, variable in enumerate(var_list):
            if not isinstance(variable, tg.Variable):
                raise TypeError(
                    f"{type(self).__name__}.build: var_list[{i}] is a "
                    f"{type(variable).__name__}, not a tapegrad.Variable"
                )
            if id(variable) in index:
                raise ValueError(
                    f"{type(self).__name__}.build: variable '{variable.name}' appears twice "
                    "in var_list"
                )
            index[id(variable)] = i
        self._variable_index = index
        self._trainable_variables = var_list
        if self.use_ema:
            # Created before the subclass's slots, as Keras does (same variable order).
            self._model_variables_moving_average = self.add_optimizer_variables(var_list, "average")
        if self.gradient_accumulation_steps:
            self._accumulated_gradients = self.add_optimizer_variables(
                var_list, "gradient_accumulator"
            )
        self.built = True

    def _get_variable_index(self, variable: tg.Variable) -> int:
        return self._variable_index[id(variable)]

    def exclude_from_weight_decay(
        self, var_list: Iterable[tg.Variable] | None = None, var_names: Iterable[str] | None = None
    ) -> None:
        """Exempt variables from weight decay (call before the optimizer is built).

        Args:
            var_list: Variables to exempt.
            var_names: Substrings; a variable whose name contains one of them is exempt.
        """
        if self.built:
            raise ValueError(
                f"{type(self).__name__}: exclude_from_weight_decay() must be called before "
                "the optimizer is built"
            )
        self._exclude_ids = {id(v) for v in var_list or ()}
        names = [re.escape(n) for n in var_names or ()]
        self._exclude_pattern = re.compile("|".join(names)) if names else None

    def _use_weight_decay(self, variable: tg.Variable) -> bool:
        if id(variable) in self._exclude_ids:
            return False
        pattern = self._exclude_pattern
        return pattern is None or pattern.search(str(variable.name)) is None

    # -- the update -------------------------------------------------------------------
    def update_step(self, gradient: Any, variable: tg.Variable, learning_rate: Any) -> None:
        """Update ``variable`` (and its slots) in place from one gradient.

        Args:
            gradient: The (clipped) gradient, a Tensor of the variable's shape and dtype.
            variable: The model Variable.
            learning_rate: The current rate (a Variable, Tensor or float; cast it to
                ``variable.dtype``).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement update_step()")

    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, tg.Variable]]) -> tg.Variable:
        """Apply one update from ``(gradient, variable)`` pairs.

        Builds the optimizer on first call. Pairs whose gradient is None are skipped (with
        a warning naming them).

        Args:
            grads_and_vars: Iterable of ``(gradient, Variable)``.

        Returns:
            The ``iterations`` Variable (as tf.keras does).
        """
        pairs = list(grads_and_vars)
        grads = [g for g, _ in pairs]
        variables = [v for _, v in pairs]
        self.apply(grads, variables)
        return self._iterations

    def apply(
        self, grads: Sequence[Any], trainable_variables: Sequence[tg.Variable] | None = None
    ) -> None:
        """Apply one update from gradients matched one-to-one with variables.

        Args:
            grads: Gradients (Tensors, arrays or None).
            trainable_variables: The Variables; may be omitted once the optimizer is built,
                then ``grads`` follows the order it was built with.
        """
        grads = list(grads)
        if not grads:
            return
        owner = type(self).__name__
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    f"{owner}.apply: without `trainable_variables` the optimizer must already "
                    "be built; call optimizer.build(variables) first"
                )
            variables = self._trainable_variables
        else:
            variables = list(trainable_variables)
            if not self.built:
                self.build(variables)
            unknown = [v for v in variables if id(v) not in self._variable_index]
            if unknown:
                raise ValueError(
                    f"{owner}: unknown variable(s) {[v.name for v in unknown]}; this optimizer "
                    "was built for other variables; create a new optimizer for new ones"
                )
        if len(grads) != len(variables):
            raise ValueError(
                f"{owner}.apply: got {len(grads)} gradients for {len(variables)} variables"
            )
        if any(g is None for g in grads):
            missing = [v.name for g, v in zip(grads, variables, strict=True) if g is None]
            kept = [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
            if not kept:
                raise ValueError(f"{owner}: no gradients provided for any variable: {missing}")
            warnings.warn(
                f"{owner}: gradients do not exist for variables {missing}; they are not "
                "updated. Does the loss depend on them?",
                stacklevel=2,
            )
            variables = [v for _, v in kept]
            grads = [g for g, _ in kept]
        grads = [self._as_gradient(g, v) for g, v in zip(grads, variables, strict=True)]
        scale = self.loss_scale_factor
        if scale is not None:
            grads = [g / scale for g in grads]
        if self.gradient_accumulation_steps:
            accumulation.accumulate_or_update(
                self.gradient_accumulation_steps,
                self._iterations,
                [self._accumulated_gradients[self._get_variable_index(v)] for v in variables],
                grads,
                variables,
                self._variables,
                self.update_variables,
            )
        else:
            self.update_variables(grads, variables)
        # As Keras 3: constraints project each updated weight, in custom loops too.
        for variable in variables:
            if variable.constraint is not None:
                variable.assign(variable.constraint(variable))
        if self.use_ema:
            ema.update_moving_average(self)
        self._iterations.assign_add(_ONE_STEP)

    def update_variables(self, grads: list[Any], variables: list[tg.Variable]) -> None:
        """Clip ``grads``, apply weight decay and ``update_step`` each variable (what one
        ``apply`` does between unscaling the gradients and the constraints).

        Args:
            grads: Gradients with the variables' shapes and dtypes.
            variables: The model Variables, one per gradient.
        """
        grads = self._clip_gradients(grads)
        # The rate cast once per variable dtype, not once per variable: update steps get it
        # in their variable's dtype (their own cast is then no op).
        learning_rate = self.learning_rate
        rates: dict[Any, Any] = {}
        for variable in variables:
            if variable.dtype not in rates:
                rates[variable.dtype] = cast_to(learning_rate, variable.dtype)
        self._apply_weight_decay(variables, rates)
        update_step = self.update_step
        for gradient, variable in zip(grads, variables, strict=True):
            update_step(gradient, variable, rates[variable.dtype])

    def finalize_variable_values(self, var_list: Sequence[tg.Variable]) -> None:
        """Set the final weights (``fit`` calls it at its end): with ``use_ema``, the averages.

        Args:
            var_list: The model's trainable variables, in the order the optimizer was built.
        """
        if self.use_ema and self.built:
            ema.overwrite_with_average(self, var_list)

    def _as_gradient(self, gradient: Any, variable: tg.Variable) -> Any:
        if (
            type(gradient) is tg.Tensor
            and gradient.dtype == variable.dtype
            and (gradient.shape == variable.shape)
        ):
            return gradient  # what a tape gives (the common case: two checks)
        if not isinstance(gradient, tg.Tensor):
            gradient = tg.tensor(gradient)
        if gradient.shape != variable.shape:  # (both tuples)
            raise ValueError(
                f"{type(self).__name__}: the gradient for variable '{variable.name}' has shape "
                f"{tuple(gradient.shape)}, but the variable has shape {tuple(variable.shape)}"
            )
        if gradient.dtype != variable.dtype:
            gradient = tnp.astype(gradient, variable.dtype)
        return gradient

    def _clip_gradients(self, grads: list[Any]) -> list[Any]:
        if self.clipnorm:
            return [g if g is None else clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm:
            return clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue:
            limit = self.clipvalue
            return [g if g is None else tnp.clip(g, -limit, limit) for g in grads]
        return grads

    def _apply_weight_decay(self, variables: list[tg.Variable], rates: dict[Any, Any]) -> None:
        """Decoupled weight decay; ``rates`` holds the learning rate in each dtype."""
        if not self.weight_decay:
            return
        for variable in variables:
            if self._use_weight_decay(variable):
                lr = rates[variable.dtype]
                variable.assign(variable - variable * self.weight_decay * lr)

    # -- configuration ----------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-friendly dict (subclasses add theirs).

        Returns:
            A dict that ``from_config`` turns back into an equal, unbuilt optimizer.
        """
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            learning_rate: Any = schedules.serialize(self._learning_rate)
        elif isinstance(self._learning_rate, tg.Variable):
            learning_rate = float(self._learning_rate.numpy())
        else:
            raise ValueError(
                f"{type(self).__name__}.get_config: a plain callable learning rate cannot be "
                "serialized; use a LearningRateSchedule subclass with get_config()"
            )
        return {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None
    ) -> Optimizer:
        """Create an optimizer from ``get_config()``'s output.

        Args:
            config: The config dict.
            custom_objects: Optional ``{name: class}`` for user-defined schedules.

        Returns:
            A new, unbuilt optimizer.
        """
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"

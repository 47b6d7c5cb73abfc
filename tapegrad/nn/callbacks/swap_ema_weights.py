"""`SwapEMAWeights`: evaluate and predict with the optimizer's moving averages of the weights."""

from __future__ import annotations

from typing import Any

from tapegrad.nn.callbacks.callback import Callback


class SwapEMAWeights(Callback):
    """Swaps the model's weights with the optimizer's moving averages (``use_ema=True``)
    around evaluation and prediction, and optionally at epoch ends (Keras 3 semantics).

    With it, validation inside ``fit`` and ``evaluate``/``predict`` given this callback
    run on the averaged weights; training continues on the raw ones. With
    ``swap_on_epoch=True`` the averages are also swapped in at each epoch end (so the
    callbacks after this one, e.g. ``ModelCheckpoint``, see them) and swapped back at the
    next epoch's start; after the last epoch they stay in. Place it before the callbacks
    that should see the averaged weights.

    Args:
        swap_on_epoch: also swap at epoch ends, as described above.

    Raises:
        ValueError: (at the first swap) the model's optimizer does not have ``use_ema=True``
            or was not built.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> model = tg.Sequential(
        ...     [tg.layers.Input((1,)), tg.layers.Dense(1, kernel_initializer="ones")])
        >>> model.compile(tg.optimizers.SGD(0.5, use_ema=True, ema_momentum=0.5), loss="mse")
        >>> for _ in range(2):   # weights 1 -> 0.5 -> 0; their average 0.5 -> 0.25
        ...     model.optimizer.apply([np.ones((1, 1)), np.ones(1)], model.trainable_weights)
        >>> swap = SwapEMAWeights()
        >>> swap.set_model(model)
        >>> swap.on_test_begin()          # evaluation sees the averages
        >>> [w.tolist() for w in model.get_weights()]
        [[[0.25]], [-0.75]]
        >>> swap.on_test_end()            # training goes on with the raw weights
        >>> [w.tolist() for w in model.get_weights()]
        [[[0.0]], [-1.0]]
    """

    def __init__(self, swap_on_epoch: bool = False) -> None:
        super().__init__()
        if not isinstance(swap_on_epoch, bool):
            raise ValueError(
                f"SwapEMAWeights: swap_on_epoch must be True or False, got {swap_on_epoch!r}"
            )
        self.swap_on_epoch = swap_on_epoch
        self._ema_weights_in_model = False

    def _optimizer(self) -> Any:
        optimizer = getattr(self.model, "optimizer", None)
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        if not getattr(optimizer, "use_ema", False):
            raise ValueError(
                "SwapEMAWeights must be used when `use_ema=True` is set on the optimizer. "
                f"Received: use_ema={getattr(optimizer, 'use_ema', None)} "
                f"(optimizer {type(optimizer).__name__})"
            )
        if not hasattr(optimizer, "_model_variables_moving_average"):
            raise ValueError(
                f"SwapEMAWeights: the optimizer {type(optimizer).__name__} has not been "
                "built yet (it holds no moving averages); train the model first"
            )
        return optimizer

    def _swap_variables(self) -> None:
        optimizer = self._optimizer()
        for variable, average in zip(
            optimizer._trainable_variables, optimizer._model_variables_moving_average, strict=True
        ):
            # A copy: the Variable's array may be updated in place by the next assign.
            temporary = variable.numpy().copy()
            variable.assign(average)
            average.assign(temporary)

    def _finalize_ema_values(self) -> None:
        optimizer = self._optimizer()
        for variable, average in zip(
            optimizer._trainable_variables, optimizer._model_variables_moving_average, strict=True
        ):
            average.assign(variable)

    def _swap_in(self) -> None:
        if not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True

    def _swap_out(self) -> None:
        if self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch:
            self._swap_out()

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_weights_in_model:
            self._swap_in()
            # The averages now sit in the model and the raw weights in the optimizer; fit's
            # final finalize_variable_values copies averages into the model, so put the
            # averages back there first (Keras does the same).
            if epoch == self.params.get("epochs", 0) - 1:
                self._finalize_ema_values()

    def on_test_begin(self, logs=None):
        self._swap_in()

    def on_test_end(self, logs=None):
        self._swap_out()

    def on_predict_begin(self, logs=None):
        self._swap_in()

    def on_predict_end(self, logs=None):
        # Keras 3.15 tests `not self._ema_weights_in_model` here, so it never swaps back
        # after predict; tapegrad swaps back as on_test_end does.
        self._swap_out()

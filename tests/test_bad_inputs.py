"""Bad API input gets an error naming the layer/argument/op and the offending value.

One table row per wrong call: the call (a lambda), the exception type and fragments the
message must contain. A second table lists good inputs near the edges that stay accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp

L = tg.layers
X = np.ones((8, 3), np.float32)
Y = np.ones((8, 2), np.float32)
LABELS = np.array([0, 1, 2, 0, 1, 2, 0, 1])


def _model(loss: str = "mse", units: int = 2) -> Any:
    model = tg.Sequential([L.Input(shape=(3,)), L.Dense(units)])
    model.compile("sgd", loss)
    return model


def _fit(**kwargs: Any) -> Any:
    arguments = {"x": X, "y": Y, "verbose": 0, **kwargs}
    return _model().fit(**arguments)


def _classifier_fit(**kwargs: Any) -> Any:
    model = _model("sparse_categorical_crossentropy", units=3)
    return model.fit(X, LABELS, verbose=0, **kwargs)


def _functional(function: Callable[..., Any]) -> Any:
    inputs = L.Input(shape=(3,))
    return tg.Model(inputs, L.Lambda(function)(inputs))


def _dense_named_twice() -> Any:
    inputs = L.Input(shape=(3,))
    hidden = L.Dense(2, name="twin")(inputs)
    return tg.Model(inputs, L.Dense(2, name="twin")(hidden))


# (id, call, exception type, fragments of the message)
ISSUE_CASES: list[tuple[str, Callable[[], Any], type[Exception], tuple[str, ...]]] = [
    ("dense-zero-units", lambda: L.Dense(0), ValueError, ("Dense", "`units`", "units=0")),
    ("dense-float-units", lambda: L.Dense(2.5), ValueError, ("`units`", "units=2.5")),
    ("dense-negative-units", lambda: L.Dense(-1), ValueError, ("`units`", "units=-1")),
    ("layer-rank0-input", lambda: L.Dense(2)(np.float32(1.0)), ValueError,
     ("Dense", "got shape ()")),
    ("layer-none-input", lambda: L.Dense(2)(None), TypeError, ("Dense", "got None")),
    ("layer-object-array", lambda: L.Dense(2)(np.array([[1, "a"]], dtype=object)),
     TypeError, ("Dense", "dtype object")),
    ("layer-string-input", lambda: L.Dense(2)("abc"), TypeError, ("Dense", "'abc'")),
    ("model-none-input", lambda: _model()(None), TypeError, ("Sequential", "got None")),
    ("predict-string", lambda: _model().predict("abc"), TypeError, ("predict()", "'abc'")),
    ("predict-object-array", lambda: _model().predict(np.array([[None] * 3], object)),
     TypeError, ("predict()", "`x`", "dtype object")),
    ("predict-rank0", lambda: _model().predict(np.float32(1.0)), ValueError,
     ("predict()", "`x`", "scalar")),
    ("lambda-returns-int", lambda: _functional(lambda t: 3), TypeError,
     ("Lambda", "int 3")),
    ("lambda-returns-string", lambda: _functional(lambda t: "abc"), TypeError,
     ("Lambda", "str 'abc'")),
    ("fit-zero-samples", lambda: _model().fit(X[:0], Y[:0], verbose=0), ValueError,
     ("fit()", "`x` has 0 samples")),
    ("fit-float-epochs", lambda: _fit(epochs=2.5), ValueError, ("`epochs`", "epochs=2.5")),
    ("fit-sample-weight-length", lambda: _fit(sample_weight=np.ones(3)), ValueError,
     ("fit()", "`sample_weight` has 3 entries", "8 samples")),
    ("fit-batch-size-zero", lambda: _fit(batch_size=0), ValueError,
     ("`batch_size`", "batch_size=0")),
    ("fit-batch-size-negative", lambda: _fit(batch_size=-4), ValueError,
     ("`batch_size`", "batch_size=-4")),
    ("duplicate-names-sequential", lambda: tg.Sequential(
        [L.Input(shape=(3,)), L.Dense(2, name="a"), L.Dense(2, name="a")]), ValueError,
     ('"a" is used 2 times', "unique")),
    ("duplicate-names-no-input", lambda: tg.Sequential(
        [L.Dense(2, name="b"), L.Dense(2, name="b")]), ValueError, ('"b" is used 2 times',)),
    ("duplicate-names-functional", _dense_named_twice, ValueError,
     ('"twin" is used 2 times',)),
    ("concatenate-axis", lambda: tnp.concatenate([tnp.ones((2, 2)), tnp.ones((2, 2))],
                                                 axis=3),
     np.exceptions.AxisError, ("concatenate", "axis 3", "dimension 2")),
    ("grad-of-string", lambda: tg.grad(lambda a: "abc")(tg.tensor(1.0)), TypeError,
     ("grad", "str", "'abc'")),
    ("class-weight-missing-class", lambda: _classifier_fit(class_weight={0: 1.0, 1: 2.0}),
     ValueError, ("`class_weight`", "[2]")),
    ("fit-y-none-with-loss", lambda: _model().fit(X, None, verbose=0), ValueError,
     ("fit()", "'mse'", "`y` is None")),
    ("optimizer-beta-1-list", lambda: tg.optimizers.Adam(beta_1=[]), ValueError,
     ("Adam", "`beta_1`", "beta_1=[]")),
]


@pytest.mark.parametrize("call, error, fragments",
                         [case[1:] for case in ISSUE_CASES], ids=[c[0] for c in ISSUE_CASES])
def test_bad_input_raises_a_clear_error(call: Callable[[], Any], error: type[Exception],
                                        fragments: tuple[str, ...]) -> None:
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"

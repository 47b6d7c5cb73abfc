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
    (
        "layer-rank0-input",
        lambda: L.Dense(2)(np.float32(1.0)),
        ValueError,
        ("Dense", "got shape ()"),
    ),
    ("layer-none-input", lambda: L.Dense(2)(None), TypeError, ("Dense", "got None")),
    (
        "layer-object-array",
        lambda: L.Dense(2)(np.array([[1, "a"]], dtype=object)),
        TypeError,
        ("Dense", "dtype object"),
    ),
    ("layer-string-input", lambda: L.Dense(2)("abc"), TypeError, ("Dense", "'abc'")),
    ("model-none-input", lambda: _model()(None), TypeError, ("Sequential", "got None")),
    ("predict-string", lambda: _model().predict("abc"), TypeError, ("predict()", "'abc'")),
    (
        "predict-object-array",
        lambda: _model().predict(np.array([[None] * 3], object)),
        TypeError,
        ("predict()", "`x`", "dtype object"),
    ),
    (
        "predict-rank0",
        lambda: _model().predict(np.float32(1.0)),
        ValueError,
        ("predict()", "`x`", "scalar"),
    ),
    ("lambda-returns-int", lambda: _functional(lambda t: 3), TypeError, ("Lambda", "int 3")),
    (
        "lambda-returns-string",
        lambda: _functional(lambda t: "abc"),
        TypeError,
        ("Lambda", "str 'abc'"),
    ),
    (
        "fit-zero-samples",
        lambda: _model().fit(X[:0], Y[:0], verbose=0),
        ValueError,
        ("fit()", "`x` has 0 samples"),
    ),
    ("fit-float-epochs", lambda: _fit(epochs=2.5), ValueError, ("`epochs`", "epochs=2.5")),
    (
        "fit-sample-weight-length",
        lambda: _fit(sample_weight=np.ones(3)),
        ValueError,
        ("fit()", "`sample_weight` has 3 entries", "8 samples"),
    ),
    (
        "fit-batch-size-zero",
        lambda: _fit(batch_size=0),
        ValueError,
        ("`batch_size`", "batch_size=0"),
    ),
    (
        "fit-batch-size-negative",
        lambda: _fit(batch_size=-4),
        ValueError,
        ("`batch_size`", "batch_size=-4"),
    ),
    (
        "duplicate-names-sequential",
        lambda: tg.Sequential([L.Input(shape=(3,)), L.Dense(2, name="a"), L.Dense(2, name="a")]),
        ValueError,
        ('"a" is used 2 times', "unique"),
    ),
    (
        "duplicate-names-no-input",
        lambda: tg.Sequential([L.Dense(2, name="b"), L.Dense(2, name="b")]),
        ValueError,
        ('"b" is used 2 times',),
    ),
    ("duplicate-names-functional", _dense_named_twice, ValueError, ('"twin" is used 2 times',)),
    (
        "concatenate-axis",
        lambda: tnp.concatenate([tnp.ones((2, 2)), tnp.ones((2, 2))], axis=3),
        np.exceptions.AxisError,
        ("concatenate", "axis 3", "dimension 2"),
    ),
    (
        "grad-of-string",
        lambda: tg.grad(lambda a: "abc")(tg.tensor(1.0)),
        TypeError,
        ("grad", "str", "'abc'"),
    ),
    (
        "class-weight-missing-class",
        lambda: _classifier_fit(class_weight={0: 1.0, 1: 2.0}),
        ValueError,
        ("`class_weight`", "[2]"),
    ),
    (
        "fit-y-none-with-loss",
        lambda: _model().fit(X, None, verbose=0),
        ValueError,
        ("fit()", "'mse'", "`y` is None"),
    ),
    (
        "optimizer-beta-1-list",
        lambda: tg.optimizers.Adam(beta_1=[]),
        ValueError,
        ("Adam", "`beta_1`", "beta_1=[]"),
    ),
]


@pytest.mark.parametrize(
    "call, error, fragments", [case[1:] for case in ISSUE_CASES], ids=[c[0] for c in ISSUE_CASES]
)
def test_bad_input_raises_a_clear_error(
    call: Callable[[], Any], error: type[Exception], fragments: tuple[str, ...]
) -> None:
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def _mha(**kwargs: Any) -> Any:
    arguments = {"num_heads": 2, "key_dim": 4, **kwargs}
    return L.MultiHeadAttention(**arguments)


def _invalid(argument: str, shown: str) -> tuple[str, ...]:
    """The fragments of a hyper-parameter error: the argument and the value as received."""
    return (f"`{argument}`", f"{argument}={shown}")


# One row per validated constructor argument: (id, call, exception, fragments).
CONSTRUCTOR_CASES: list[tuple[str, Callable[[], Any], type[Exception], tuple[str, ...]]] = [
    ("dense-units-bool", lambda: L.Dense(True), ValueError, _invalid("units", "True")),
    ("dense-units-string", lambda: L.Dense("3"), ValueError, _invalid("units", "'3'")),
    ("dense-use-bias", lambda: L.Dense(2, use_bias="no"), ValueError, _invalid("use_bias", "'no'")),
    ("input-shape", lambda: L.Input(shape=(3, -2)), ValueError, _invalid("shape", "(3, -2)")),
    (
        "input-batch-size",
        lambda: L.Input(shape=(3,), batch_size=0),
        ValueError,
        _invalid("batch_size", "0"),
    ),
    ("dropout-rate-one", lambda: L.Dropout(1.0), ValueError, _invalid("rate", "1.0")),
    ("dropout-rate-negative", lambda: L.Dropout(-0.1), ValueError, _invalid("rate", "-0.1")),
    ("dropout-rate-nan", lambda: L.Dropout(float("nan")), ValueError, _invalid("rate", "nan")),
    ("dropout-seed", lambda: L.Dropout(0.5, seed=1.5), ValueError, _invalid("seed", "1.5")),
    (
        "dropout-noise-shape",
        lambda: L.Dropout(0.5, noise_shape=(None, 0)),
        ValueError,
        _invalid("noise_shape", "(None, 0)"),
    ),
    (
        "flatten-data-format",
        lambda: L.Flatten(data_format="nchw"),
        ValueError,
        _invalid("data_format", "'nchw'"),
    ),
    ("reshape-zero", lambda: L.Reshape((0, 2)), ValueError, _invalid("target_shape", "(0, 2)")),
    (
        "reshape-two-unknown",
        lambda: L.Reshape((-1, -1)),
        ValueError,
        _invalid("target_shape", "(-1, -1)"),
    ),
    ("reshape-float", lambda: L.Reshape((2.5,)), ValueError, _invalid("target_shape", "(2.5,)")),
    (
        "lambda-output-shape",
        lambda: L.Lambda(lambda t: t, output_shape=("a",)),
        ValueError,
        _invalid("output_shape", "('a',)"),
    ),
    (
        "lambda-arguments",
        lambda: L.Lambda(lambda t: t, arguments=[1]),
        TypeError,
        ("Lambda", "arguments", "[1]"),
    ),
    ("conv-filters-zero", lambda: L.Conv2D(0, 3), ValueError, _invalid("filters", "0")),
    ("conv-filters-float", lambda: L.Conv1D(2.0, 3), ValueError, _invalid("filters", "2.0")),
    ("conv-groups", lambda: L.Conv2D(4, 3, groups=0), ValueError, _invalid("groups", "0")),
    (
        "conv-groups-divide",
        lambda: L.Conv2D(4, 3, groups=3),
        ValueError,
        ("filters (4)", "groups (3)"),
    ),
    (
        "conv-kernel-size",
        lambda: L.Conv2D(4, (3, 0)),
        ValueError,
        _invalid("kernel_size", "(3, 0)"),
    ),
    (
        "conv-kernel-size-rank",
        lambda: L.Conv2D(4, (3, 3, 3)),
        ValueError,
        _invalid("kernel_size", "(3, 3, 3)"),
    ),
    ("conv-strides", lambda: L.Conv1D(4, 3, strides=-1), ValueError, _invalid("strides", "-1")),
    (
        "conv-dilation",
        lambda: L.Conv1D(4, 3, dilation_rate=0.5),
        ValueError,
        _invalid("dilation_rate", "0.5"),
    ),
    ("conv-padding", lambda: L.Conv2D(4, 3, padding="full"), ValueError, ("padding", "'full'")),
    (
        "conv-data-format",
        lambda: L.Conv2D(4, 3, data_format="nhwc"),
        ValueError,
        ("data_format", "'nhwc'"),
    ),
    (
        "conv-use-bias",
        lambda: L.Conv2D(4, 3, use_bias=None),
        ValueError,
        _invalid("use_bias", "None"),
    ),
    ("pool-size", lambda: L.MaxPooling2D(pool_size=0), ValueError, _invalid("pool_size", "0")),
    (
        "pool-strides",
        lambda: L.AveragePooling1D(2, strides=(1, 1)),
        ValueError,
        _invalid("strides", "(1, 1)"),
    ),
    (
        "pool-padding",
        lambda: L.MaxPooling1D(2, padding="causal"),
        ValueError,
        ("padding", "'causal'"),
    ),
    (
        "global-pool-keepdims",
        lambda: L.GlobalAveragePooling1D(keepdims="yes"),
        ValueError,
        _invalid("keepdims", "'yes'"),
    ),
    ("embedding-input-dim", lambda: L.Embedding(0, 4), ValueError, _invalid("input_dim", "0")),
    (
        "embedding-output-dim",
        lambda: L.Embedding(10, 2.5),
        ValueError,
        _invalid("output_dim", "2.5"),
    ),
    (
        "embedding-mask-zero",
        lambda: L.Embedding(10, 4, mask_zero=1),
        ValueError,
        _invalid("mask_zero", "1"),
    ),
    ("batchnorm-axis", lambda: L.BatchNormalization(axis=1.0), ValueError, _invalid("axis", "1.0")),
    (
        "batchnorm-momentum",
        lambda: L.BatchNormalization(momentum=1.5),
        ValueError,
        _invalid("momentum", "1.5"),
    ),
    (
        "batchnorm-epsilon",
        lambda: L.BatchNormalization(epsilon=-1e-3),
        ValueError,
        _invalid("epsilon", "-0.001"),
    ),
    (
        "batchnorm-center",
        lambda: L.BatchNormalization(center="False"),
        ValueError,
        _invalid("center", "'False'"),
    ),
    (
        "layernorm-axis",
        lambda: L.LayerNormalization(axis="last"),
        TypeError,
        ("LayerNormalization", "axis", "'last'"),
    ),
    (
        "layernorm-axis-list",
        lambda: L.LayerNormalization(axis=[1, 2.0]),
        ValueError,
        _invalid("axis", "2.0"),
    ),
    (
        "layernorm-epsilon",
        lambda: L.LayerNormalization(epsilon=float("inf")),
        ValueError,
        _invalid("epsilon", "inf"),
    ),
    ("layernorm-scale", lambda: L.LayerNormalization(scale=0), ValueError, _invalid("scale", "0")),
    (
        "concatenate-axis-layer",
        lambda: L.Concatenate(axis=0.5),
        ValueError,
        _invalid("axis", "0.5"),
    ),
    (
        "merge-none-input",
        lambda: L.Add()([tg.tensor([[1.0]]), None]),
        TypeError,
        ("Add", "[1]", "None"),
    ),
    ("dot-axes", lambda: L.Dot(axes=(1, "2")), ValueError, ("Dot", "axes", "'2'")),
    (
        "dot-normalize",
        lambda: L.Dot(axes=1, normalize="l2"),
        ValueError,
        _invalid("normalize", "'l2'"),
    ),
    ("lstm-units", lambda: L.LSTM(0), ValueError, _invalid("units", "0")),
    ("gru-units-float", lambda: L.GRU(3.5), ValueError, _invalid("units", "3.5")),
    (
        "simple-rnn-dropout",
        lambda: L.SimpleRNN(4, dropout=1.5),
        ValueError,
        _invalid("dropout", "1.5"),
    ),
    (
        "lstm-recurrent-dropout",
        lambda: L.LSTM(4, recurrent_dropout=-0.2),
        ValueError,
        _invalid("recurrent_dropout", "-0.2"),
    ),
    ("lstm-seed", lambda: L.LSTM(4, seed="a"), ValueError, _invalid("seed", "'a'")),
    (
        "lstm-cell-use-bias",
        lambda: L.LSTMCell(4, use_bias=[]),
        ValueError,
        _invalid("use_bias", "[]"),
    ),
    (
        "rnn-return-sequences",
        lambda: L.LSTM(4, return_sequences="all"),
        ValueError,
        _invalid("return_sequences", "'all'"),
    ),
    (
        "rnn-go-backwards",
        lambda: L.GRU(4, go_backwards=2),
        ValueError,
        _invalid("go_backwards", "2"),
    ),
    ("mha-num-heads", lambda: _mha(num_heads=0), ValueError, _invalid("num_heads", "0")),
    ("mha-key-dim", lambda: _mha(key_dim=1.5), ValueError, _invalid("key_dim", "1.5")),
    ("mha-value-dim", lambda: _mha(value_dim=-2), ValueError, _invalid("value_dim", "-2")),
    ("mha-dropout", lambda: _mha(dropout=1.0), ValueError, _invalid("dropout", "1.0")),
    (
        "mha-output-shape",
        lambda: _mha(output_shape=(0,)),
        ValueError,
        _invalid("output_shape", "(0,)"),
    ),
    (
        "mha-attention-axes",
        lambda: _mha(attention_axes=(1.0,)),
        ValueError,
        _invalid("attention_axes", "1.0"),
    ),
    ("mha-use-bias", lambda: _mha(use_bias="yes"), ValueError, _invalid("use_bias", "'yes'")),
    (
        "dense-constraint",
        lambda: L.Dense(2, kernel_constraint="nonneg"),
        ValueError,
        _invalid("kernel_constraint", "'nonneg'"),
    ),
    (
        "conv-constraint",
        lambda: L.Conv1D(2, 3, bias_constraint=1.0),
        ValueError,
        _invalid("bias_constraint", "1.0"),
    ),
    (
        "embedding-constraint",
        lambda: L.Embedding(5, 2, embeddings_constraint="unit"),
        ValueError,
        _invalid("embeddings_constraint", "'unit'"),
    ),
    (
        "batchnorm-constraint",
        lambda: L.BatchNormalization(gamma_constraint=[]),
        ValueError,
        _invalid("gamma_constraint", "[]"),
    ),
    (
        "lstm-constraint",
        lambda: L.LSTM(2, recurrent_constraint="maxnorm"),
        ValueError,
        _invalid("recurrent_constraint", "'maxnorm'"),
    ),
    (
        "mha-constraint",
        lambda: _mha(kernel_constraint="x"),
        ValueError,
        _invalid("kernel_constraint", "'x'"),
    ),
    ("layer-name", lambda: L.Dense(2, name=7), ValueError, ("Dense",) + _invalid("name", "7")),
    ("layer-empty-name", lambda: L.Dropout(0.1, name=""), ValueError, _invalid("name", "''")),
    (
        "layer-trainable",
        lambda: L.Dense(2, trainable="no"),
        ValueError,
        _invalid("trainable", "'no'"),
    ),
    (
        "layer-dtype",
        lambda: L.Dense(2, dtype="float99"),
        ValueError,
        _invalid("dtype", "'float99'"),
    ),
    ("layer-dtype-structured", lambda: L.Add(dtype=[]), ValueError, _invalid("dtype", "[]")),
    (
        "batchnorm-synchronized",
        lambda: L.BatchNormalization(synchronized=[]),
        ValueError,
        _invalid("synchronized", "[]"),
    ),
    (
        "flatten-data-format-list",
        lambda: L.Flatten(data_format=[]),
        ValueError,
        _invalid("data_format", "[]"),
    ),
    (
        "gru-reset-after",
        lambda: L.GRU(2, reset_after="no"),
        ValueError,
        _invalid("reset_after", "'no'"),
    ),
    (
        "lstm-unit-forget-bias",
        lambda: L.LSTMCell(2, unit_forget_bias=0),
        ValueError,
        _invalid("unit_forget_bias", "0"),
    ),
    ("rnn-stateful", lambda: L.SimpleRNN(2, stateful=[]), ValueError, _invalid("stateful", "[]")),
    (
        "mha-flash-attention",
        lambda: _mha(flash_attention="auto"),
        ValueError,
        _invalid("flash_attention", "'auto'"),
    ),
    (
        "layer-input-shape",
        lambda: L.Dense(2, input_shape=3),
        ValueError,
        _invalid("input_shape", "3"),
    ),
    # optimizers
    (
        "adam-beta-1-one",
        lambda: tg.optimizers.Adam(beta_1=1.0),
        ValueError,
        ("Adam",) + _invalid("beta_1", "1.0"),
    ),
    (
        "adam-beta-1-huge",
        lambda: tg.optimizers.Adam(beta_1=2147483647),
        ValueError,
        _invalid("beta_1", "2147483647"),
    ),
    (
        "adam-beta-2",
        lambda: tg.optimizers.Adam(beta_2=-0.5),
        ValueError,
        _invalid("beta_2", "-0.5"),
    ),
    (
        "adam-epsilon",
        lambda: tg.optimizers.Adam(epsilon=-1e-7),
        ValueError,
        _invalid("epsilon", "-1e-07"),
    ),
    (
        "adam-amsgrad",
        lambda: tg.optimizers.Adam(amsgrad="no"),
        ValueError,
        _invalid("amsgrad", "'no'"),
    ),
    (
        "adamw-beta-2",
        lambda: tg.optimizers.AdamW(beta_2=[0.9]),
        ValueError,
        ("AdamW",) + _invalid("beta_2", "[0.9]"),
    ),
    (
        "optimizer-learning-rate-negative",
        lambda: tg.optimizers.SGD(learning_rate=-0.1),
        ValueError,
        _invalid("learning_rate", "-0.1"),
    ),
    (
        "optimizer-learning-rate-nan",
        lambda: tg.optimizers.Adam(learning_rate=float("nan")),
        ValueError,
        _invalid("learning_rate", "nan"),
    ),
    (
        "optimizer-learning-rate-string",
        lambda: tg.optimizers.Adam(learning_rate="fast"),
        ValueError,
        ("`learning_rate`", "'fast'"),
    ),
    (
        "optimizer-clipnorm-zero",
        lambda: tg.optimizers.SGD(clipnorm=0.0),
        ValueError,
        _invalid("clipnorm", "0.0"),
    ),
    (
        "optimizer-clipvalue-negative",
        lambda: tg.optimizers.SGD(clipvalue=-1.0),
        ValueError,
        _invalid("clipvalue", "-1.0"),
    ),
    (
        "optimizer-global-clipnorm",
        lambda: tg.optimizers.Adam(global_clipnorm="1"),
        ValueError,
        _invalid("global_clipnorm", "'1'"),
    ),
    (
        "optimizer-weight-decay",
        lambda: tg.optimizers.SGD(weight_decay=-0.01),
        ValueError,
        _invalid("weight_decay", "-0.01"),
    ),
    ("optimizer-name", lambda: tg.optimizers.SGD(name=3), ValueError, ("`name`", "3")),
    (
        "sgd-momentum",
        lambda: tg.optimizers.SGD(momentum=1.5),
        ValueError,
        ("SGD",) + _invalid("momentum", "1.5"),
    ),
    (
        "sgd-nesterov",
        lambda: tg.optimizers.SGD(nesterov="yes"),
        ValueError,
        _invalid("nesterov", "'yes'"),
    ),
    (
        "rmsprop-rho",
        lambda: tg.optimizers.RMSprop(rho=1.0),
        ValueError,
        ("RMSprop",) + _invalid("rho", "1.0"),
    ),
    (
        "rmsprop-momentum",
        lambda: tg.optimizers.RMSprop(momentum=-1),
        ValueError,
        _invalid("momentum", "-1"),
    ),
    (
        "rmsprop-epsilon",
        lambda: tg.optimizers.RMSprop(epsilon=None),
        ValueError,
        _invalid("epsilon", "None"),
    ),
    (
        "rmsprop-centered",
        lambda: tg.optimizers.RMSprop(centered=1),
        ValueError,
        _invalid("centered", "1"),
    ),
    (
        "adagrad-initial-accumulator",
        lambda: tg.optimizers.Adagrad(initial_accumulator_value=-0.1),
        ValueError,
        ("Adagrad",) + _invalid("initial_accumulator_value", "-0.1"),
    ),
    (
        "adagrad-epsilon",
        lambda: tg.optimizers.Adagrad(epsilon="tiny"),
        ValueError,
        _invalid("epsilon", "'tiny'"),
    ),
    (
        "schedule-decay-steps",
        lambda: tg.optimizers.schedules.ExponentialDecay(0.1, "10", 0.5),
        ValueError,
        ("ExponentialDecay",) + _invalid("decay_steps", "'10'"),
    ),
    (
        "schedule-initial-rate",
        lambda: tg.optimizers.schedules.ExponentialDecay(-0.1, 10, 0.5),
        ValueError,
        _invalid("initial_learning_rate", "-0.1"),
    ),
    (
        "schedule-staircase",
        lambda: tg.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5, staircase="yes"),
        ValueError,
        _invalid("staircase", "'yes'"),
    ),
    (
        "cosine-alpha",
        lambda: tg.optimizers.schedules.CosineDecay(0.1, 10, alpha=2.0),
        ValueError,
        ("CosineDecay",) + _invalid("alpha", "2.0"),
    ),
    (
        "cosine-warmup-steps",
        lambda: tg.optimizers.schedules.CosineDecay(0.1, 10, warmup_steps=-1),
        ValueError,
        _invalid("warmup_steps", "-1"),
    ),
    (
        "piecewise-values",
        lambda: tg.optimizers.schedules.PiecewiseConstantDecay([5], [1.0, "x"]),
        ValueError,
        _invalid("values", "'x'"),
    ),
    (
        "optimizer-learning-rate-setter",
        lambda: setattr(tg.optimizers.SGD(), "learning_rate", -1.0),
        ValueError,
        _invalid("learning_rate", "-1.0"),
    ),
]


def _fit_metrics_of_unknown_output() -> Any:
    """Per-output metrics (Keras 3) keyed by a name that is no output of the model."""
    inputs = L.Input(shape=(3,))
    model = tg.Model(inputs, [L.Dense(1, name="a")(inputs), L.Dense(1, name="b")(inputs)])
    model.compile("sgd", "mse", metrics={"nope": ["mae"]})
    return model.fit(X, [Y[:, :1], Y[:, :1]], verbose=0)


def _two_input_model(as_dict: bool) -> Any:
    first, second = L.Input(shape=(2,), name="first"), L.Input(shape=(2,), name="second")
    inputs = {"first": first, "second": second} if as_dict else [first, second]
    return tg.Model(inputs, L.Dense(1)(L.Concatenate()([first, second])))


MODEL_CASES: list[tuple[str, Callable[[], Any], type[Exception], tuple[str, ...]]] = [
    (
        "sequential-not-a-list",
        lambda: tg.Sequential(L.Dense(2)),
        TypeError,
        ("Sequential", "`layers`", "Dense"),
    ),
    (
        "model-no-outputs",
        lambda: tg.Model(L.Input(shape=(3,)), []),
        ValueError,
        ("Model", "one output"),
    ),
    (
        "model-missing-dict-key",
        lambda: _two_input_model(True).predict(
            {"first": np.ones((3, 2)), "secnd": np.ones((3, 2))}, verbose=0
        ),
        ValueError,
        ("Model", "['second'] are missing", "'secnd'"),
    ),
    (
        "model-input-count",
        lambda: _two_input_model(False).predict([np.ones((3, 2))] * 3, verbose=0),
        ValueError,
        ("has 2 input(s)", "3 arrays"),
    ),
]

# Losses and metrics: their main arguments.
LOSS_METRIC_CASES: list[tuple[str, Callable[[], Any], type[Exception], tuple[str, ...]]] = [
    (
        "bce-from-logits",
        lambda: tg.losses.BinaryCrossentropy(from_logits="yes"),
        ValueError,
        ("BinaryCrossentropy",) + _invalid("from_logits", "'yes'"),
    ),
    (
        "bce-label-smoothing",
        lambda: tg.losses.BinaryCrossentropy(label_smoothing=1.5),
        ValueError,
        _invalid("label_smoothing", "1.5"),
    ),
    (
        "cce-axis",
        lambda: tg.losses.CategoricalCrossentropy(axis=1.0),
        ValueError,
        _invalid("axis", "1.0"),
    ),
    (
        "scce-ignore-class",
        lambda: tg.losses.SparseCategoricalCrossentropy(ignore_class=0.5),
        ValueError,
        _invalid("ignore_class", "0.5"),
    ),
    ("huber-delta", lambda: tg.losses.Huber(delta=0.0), ValueError, _invalid("delta", "0.0")),
    (
        "cosine-loss-axis",
        lambda: tg.losses.CosineSimilarity(axis="last"),
        ValueError,
        _invalid("axis", "'last'"),
    ),
    (
        "loss-reduction",
        lambda: tg.losses.MeanSquaredError(reduction="avg"),
        ValueError,
        ("`reduction`", "'avg'"),
    ),
    ("loss-name", lambda: tg.losses.MeanSquaredError(name=1), ValueError, ("`name`", "1")),
    ("loss-wrapper-fn", lambda: tg.losses.LossFunctionWrapper("mse"), TypeError, ("`fn`", "'mse'")),
    ("metric-name", lambda: tg.metrics.Mean(name=["m"]), ValueError, ("`name`", "['m']")),
    ("metric-wrapper-fn", lambda: tg.metrics.MeanMetricWrapper(None), TypeError, ("`fn`", "None")),
    (
        "binary-accuracy-threshold",
        lambda: tg.metrics.BinaryAccuracy(threshold="half"),
        ValueError,
        _invalid("threshold", "'half'"),
    ),
    (
        "top-k-accuracy-k",
        lambda: tg.metrics.TopKCategoricalAccuracy(k=0),
        ValueError,
        ("TopKCategoricalAccuracy",) + _invalid("k", "0"),
    ),
    (
        "sparse-top-k-sorted",
        lambda: tg.metrics.SparseTopKCategoricalAccuracy(from_sorted_ids=1),
        ValueError,
        _invalid("from_sorted_ids", "1"),
    ),
    (
        "metric-bce-smoothing",
        lambda: tg.metrics.BinaryCrossentropy(label_smoothing=-1.0),
        ValueError,
        _invalid("label_smoothing", "-1.0"),
    ),
    (
        "precision-top-k",
        lambda: tg.metrics.Precision(top_k=0),
        ValueError,
        ("Precision",) + _invalid("top_k", "0"),
    ),
    (
        "recall-class-id",
        lambda: tg.metrics.Recall(class_id=-1),
        ValueError,
        _invalid("class_id", "-1"),
    ),
    ("loss-empty-name", lambda: tg.losses.Huber(name=[]), ValueError, _invalid("name", "[]")),
    ("metric-empty-name", lambda: tg.metrics.Accuracy(name=""), ValueError, _invalid("name", "''")),
    (
        "precision-thresholds-empty",
        lambda: tg.metrics.Precision(thresholds=[]),
        ValueError,
        ("Precision", "thresholds", "empty"),
    ),
    (
        "recall-thresholds-text",
        lambda: tg.metrics.Recall(thresholds="half"),
        ValueError,
        ("Recall", "thresholds", "'half'"),
    ),
    (
        "auc-num-thresholds",
        lambda: tg.metrics.AUC(num_thresholds=2.5),
        ValueError,
        ("AUC",) + _invalid("num_thresholds", "2.5"),
    ),
    ("auc-curve", lambda: tg.metrics.AUC(curve=None), ValueError, ("curve", "None")),
    (
        "auc-from-logits",
        lambda: tg.metrics.AUC(from_logits="no"),
        ValueError,
        _invalid("from_logits", "'no'"),
    ),
]

# fit / evaluate / predict arguments beyond the issue's list.
LOOP_CASES: list[tuple[str, Callable[[], Any], type[Exception], tuple[str, ...]]] = [
    (
        "fit-batch-size-float",
        lambda: _fit(batch_size=8.0),
        ValueError,
        _invalid("batch_size", "8.0"),
    ),
    ("fit-epochs-negative", lambda: _fit(epochs=-1), ValueError, _invalid("epochs", "-1")),
    (
        "fit-initial-epoch",
        lambda: _fit(initial_epoch=-2),
        ValueError,
        _invalid("initial_epoch", "-2"),
    ),
    (
        "fit-steps-per-epoch",
        lambda: _fit(steps_per_epoch=0),
        ValueError,
        _invalid("steps_per_epoch", "0"),
    ),
    (
        "fit-validation-batch-size",
        lambda: _fit(validation_batch_size=-1),
        ValueError,
        _invalid("validation_batch_size", "-1"),
    ),
    (
        "fit-validation-freq",
        lambda: _fit(validation_freq=0),
        ValueError,
        _invalid("validation_freq", "0"),
    ),
    ("fit-verbose", lambda: _fit(verbose=3), ValueError, _invalid("verbose", "3")),
    ("fit-verbose-string", lambda: _fit(verbose="loud"), ValueError, _invalid("verbose", "'loud'")),
    ("fit-shuffle", lambda: _fit(shuffle="batch"), ValueError, _invalid("shuffle", "'batch'")),
    (
        "fit-callbacks",
        lambda: _fit(callbacks=tg.callbacks.History()),
        TypeError,
        ("`callbacks`", "History"),
    ),
    (
        "fit-validation-split-one",
        lambda: _fit(validation_split=1.0),
        ValueError,
        _invalid("validation_split", "1.0"),
    ),
    (
        "fit-validation-split-negative",
        lambda: _fit(validation_split=-0.2),
        ValueError,
        _invalid("validation_split", "-0.2"),
    ),
    (
        "fit-validation-split-too-few",
        lambda: _fit(x=X[:1], y=Y[:1], validation_split=0.5),
        ValueError,
        ("1 samples", "validation_split=0.5"),
    ),
    (
        "fit-validation-data-shape",
        lambda: _fit(validation_data=(X,)),
        ValueError,
        ("`validation_data`", "tuple"),
    ),
    (
        "fit-validation-data-lengths",
        lambda: _fit(validation_data=(X, Y[:3])),
        ValueError,
        ("`validation_data[0]` has 8 samples", "`validation_data[1]` has 3"),
    ),
    ("fit-xy-lengths", lambda: _fit(y=Y[:5]), ValueError, ("`x` has 8 samples", "has 5")),
    ("fit-x-none", lambda: _fit(x=None), ValueError, ("fit()", "`x` is None")),
    (
        "fit-x-ragged",
        lambda: _fit(x=[[[1.0, 2.0], [1.0]]]),
        TypeError,
        ("fit()", "`x[0]`", "cannot be converted"),
    ),
    (
        "fit-y-strings",
        lambda: _fit(y=np.array(["a"] * 8)),
        TypeError,
        ("fit()", "`y`", "dtype <U1"),
    ),
    (
        "fit-sample-weight-nan",
        lambda: _fit(sample_weight=np.full(8, np.nan)),
        ValueError,
        ("`sample_weight`", "finite"),
    ),
    (
        "fit-sample-weight-strings",
        lambda: _fit(sample_weight=["a"] * 8),
        TypeError,
        ("`sample_weight`", "dtype <U1"),
    ),
    (
        "fit-class-weight-not-dict",
        lambda: _classifier_fit(class_weight=[1.0, 2.0, 3.0]),
        TypeError,
        ("`class_weight`", "list"),
    ),
    (
        "fit-class-weight-key",
        lambda: _classifier_fit(class_weight={"0": 1.0, 1: 1, 2: 1}),
        ValueError,
        ("`class_weight`", "'0'"),
    ),
    (
        "fit-class-weight-value",
        lambda: _classifier_fit(class_weight={0: 1.0, 1: -1, 2: 1}),
        ValueError,
        _invalid("class_weight[1]", "-1"),
    ),
    (
        "fit-class-weight-multi-output",
        lambda: _model().fit(X, [Y, Y], class_weight={0: 1.0}, verbose=0),
        ValueError,
        ("`class_weight`", "single output"),
    ),
    ("fit-unknown-argument", lambda: _fit(epoch=3), TypeError, ("fit()", "epoch")),
    (
        "evaluate-batch-size",
        lambda: _model().evaluate(X, Y, batch_size=0, verbose=0),
        ValueError,
        ("evaluate()",) + _invalid("batch_size", "0"),
    ),
    (
        "evaluate-return-dict",
        lambda: _model().evaluate(X, Y, return_dict="yes", verbose=0),
        ValueError,
        _invalid("return_dict", "'yes'"),
    ),
    (
        "train-on-batch-return-dict",
        lambda: _model().train_on_batch(X, Y, return_dict=1),
        ValueError,
        ("train_on_batch()",) + _invalid("return_dict", "1"),
    ),
    (
        "evaluate-steps",
        lambda: _model().evaluate(X, Y, steps=-1, verbose=0),
        ValueError,
        _invalid("steps", "-1"),
    ),
    (
        "evaluate-zero-samples",
        lambda: _model().evaluate(X[:0], Y[:0], verbose=0),
        ValueError,
        ("evaluate()", "0 samples"),
    ),
    (
        "evaluate-y-none",
        lambda: _model().evaluate(X, None, verbose=0),
        ValueError,
        ("evaluate()", "`y` is None"),
    ),
    (
        "evaluate-sample-weight",
        lambda: _model().evaluate(X, Y, sample_weight=np.ones(2), verbose=0),
        ValueError,
        ("`sample_weight` has 2 entries",),
    ),
    (
        "predict-batch-size",
        lambda: _model().predict(X, batch_size=2.5, verbose=0),
        ValueError,
        ("predict()",) + _invalid("batch_size", "2.5"),
    ),
    (
        "predict-steps",
        lambda: _model().predict(X, steps=0, verbose=0),
        ValueError,
        _invalid("steps", "0"),
    ),
    (
        "predict-zero-samples",
        lambda: _model().predict(X[:0], verbose=0),
        ValueError,
        ("predict()", "0 samples"),
    ),
    (
        "predict-none",
        lambda: _model().predict(None, verbose=0),
        ValueError,
        ("predict()", "`x` is None"),
    ),
    (
        "predict-verbose",
        lambda: _model().predict(X, verbose=-1),
        ValueError,
        _invalid("verbose", "-1"),
    ),
    (
        "train-on-batch-y-none",
        lambda: _model().train_on_batch(X, None),
        ValueError,
        ("train_on_batch()", "`y` is None"),
    ),
    (
        "train-on-batch-lengths",
        lambda: _model().train_on_batch(X, Y[:2]),
        ValueError,
        ("train_on_batch()", "has 2"),
    ),
    (
        "train-on-batch-class-weight",
        lambda: _model("sparse_categorical_crossentropy", 3).train_on_batch(
            X, LABELS, class_weight={0: 1.0}
        ),
        ValueError,
        ("train_on_batch()", "`class_weight`", "[1, 2]"),
    ),
    (
        "test-on-batch-sample-weight",
        lambda: _model().test_on_batch(X, Y, sample_weight=[1.0]),
        ValueError,
        ("test_on_batch()", "`sample_weight` has 1 entries"),
    ),
    (
        "predict-on-batch-string",
        lambda: _model().predict_on_batch("abc"),
        TypeError,
        ("predict_on_batch()", "'abc'"),
    ),
    (
        "compile-metrics-string",
        lambda: _model().compile("sgd", "mse", metrics="accuracy"),
        ValueError,
        ("compile()", "`metrics`", "'accuracy'"),
    ),
    (
        "compile-unknown-metric",
        lambda: _model().compile("sgd", "mse", metrics=["acuracy"]),
        ValueError,
        ("'acuracy'",),
    ),
    (
        "compile-metrics-dict-unknown-output",
        lambda: _fit_metrics_of_unknown_output(),
        ValueError,
        ("`metrics`", "'nope'", "output names"),
    ),
    (
        "compile-weighted-metrics",
        lambda: _model().compile("sgd", "mse", weighted_metrics=1),
        ValueError,
        ("`weighted_metrics`", "1"),
    ),
    (
        "compile-loss-weights-length",
        lambda: _model().compile("sgd", "mse", loss_weights=[1.0, 2.0]),
        ValueError,
        ("`loss_weights` has 2 entries", "1 outputs"),
    ),
    (
        "compile-loss-weights-value",
        lambda: _model().compile("sgd", "mse", loss_weights={"out": "x"}),
        ValueError,
        _invalid("loss_weights", "'x'"),
    ),
    (
        "compile-loss-list-length",
        lambda: _model().compile("sgd", ["mse", "mae"]),
        ValueError,
        ("`loss` is a list of 2", "1 output"),
    ),
    (
        "compile-run-eagerly",
        lambda: _model().compile("sgd", "mse", run_eagerly="yes"),
        ValueError,
        _invalid("run_eagerly", "'yes'"),
    ),
    (
        "compile-unknown-argument",
        lambda: _model().compile("sgd", "mse", metric=["mae"]),
        TypeError,
        ("compile()", "metric"),
    ),
    (
        "compile-steps-per-execution",
        lambda: _model().compile("sgd", "mse", steps_per_execution=4),
        NotImplementedError,
        ("steps_per_execution=4",),
    ),
    # layer calls on inputs of too few axes
    (
        "flatten-rank0",
        lambda: L.Flatten()(np.float32(1.0)),
        ValueError,
        ("Flatten", "got shape ()"),
    ),
    (
        "reshape-rank0",
        lambda: L.Reshape((-1,))(np.float32(1.0)),
        ValueError,
        ("Reshape", "got shape ()"),
    ),
    (
        "lstm-rank0",
        lambda: L.LSTM(2)(np.float32(1.0)),
        ValueError,
        ("LSTM", "(batch, time, features)", "got shape ()"),
    ),
    (
        "lstm-cell-rank0",
        lambda: L.LSTMCell(2)(np.float32(1.0)),
        ValueError,
        ("LSTMCell", "got shape ()"),
    ),
    (
        "mha-one-input-list",
        lambda: _mha()([np.ones((1, 2, 4), np.float32)]),
        ValueError,
        ("MultiHeadAttention", "[query, value]"),
    ),
]


ALL_CASES = ISSUE_CASES + CONSTRUCTOR_CASES + MODEL_CASES + LOSS_METRIC_CASES + LOOP_CASES


@pytest.mark.parametrize(
    "call, error, fragments",
    [case[1:] for case in ALL_CASES[len(ISSUE_CASES) :]],
    ids=[c[0] for c in ALL_CASES[len(ISSUE_CASES) :]],
)
def test_bad_argument_raises_a_clear_error(
    call: Callable[[], Any], error: type[Exception], fragments: tuple[str, ...]
) -> None:
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_case_ids_are_unique() -> None:
    ids = [case[0] for case in ALL_CASES]
    assert len(ids) == len(set(ids))


class _TargetFree(tg.Sequential):
    """A model whose own loss reads no targets: ``fit(x)`` without ``y`` is legitimate."""

    def compute_loss(
        self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None
    ) -> Any:  # Keras 3's signature (without `training`, as before Keras 3.3)
        return tnp.mean(tnp.square(y_pred))


def _target_free_fit() -> Any:
    model = _TargetFree([L.Input(shape=(3,)), L.Dense(2)])
    model.compile("sgd", "mse")
    return model.fit(X, None, verbose=0)


def _one_hot_class_weight_fit() -> Any:
    model = _model("categorical_crossentropy", units=3)
    targets = np.eye(3, dtype=np.float32)[LABELS]
    return model.fit(X, targets, class_weight={np.int64(0): 1.0, 1: 2.0, 2: 0.5}, verbose=0)


# Edge values that are legitimate: (id, call) — each must run without raising.
GOOD_CASES: list[tuple[str, Callable[[], Any]]] = [
    ("dense-numpy-int-units", lambda: L.Dense(np.int64(3))(X)),
    ("dense-callable-constraint", lambda: L.Dense(2, kernel_constraint=tnp.abs)(X)),
    (
        "conv-numpy-int-arguments",
        lambda: L.Conv2D(np.int32(2), (np.int64(3), 3))(np.ones((1, 5, 5, 1), np.float32)),
    ),
    ("dropout-zero-rate", lambda: L.Dropout(0.0)(X, training=True)),
    ("dropout-numpy-rate", lambda: L.Dropout(np.float32(0.5), seed=np.int64(3))),
    ("reshape-inferred-axis", lambda: L.Reshape((-1,))(np.ones((2, 3, 4), np.float32))),
    ("input-unknown-axis", lambda: L.Input(shape=(None, 3))),
    (
        "layernorm-axis-tuple",
        lambda: L.LayerNormalization(axis=(1, 2))(np.ones((2, 3, 4), np.float32)),
    ),
    ("mha-int-output-shape", lambda: _mha(output_shape=np.int64(6), attention_axes=1)),
    ("lstm-full-rate-seedless", lambda: L.LSTM(np.int64(2), dropout=0.0, seed=None)),
    ("sgd-zero-learning-rate", lambda: tg.optimizers.SGD(learning_rate=0.0)),
    ("sgd-momentum-one", lambda: tg.optimizers.SGD(momentum=1)),
    (
        "adam-schedule",
        lambda: tg.optimizers.Adam(
            learning_rate=tg.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
        ),
    ),
    ("adam-callable-rate", lambda: tg.optimizers.Adam(learning_rate=lambda: 0.01)),
    (
        "adam-numpy-betas",
        lambda: tg.optimizers.Adam(np.float32(1e-3), beta_1=np.float64(0.8), beta_2=0, epsilon=0),
    ),
    ("fit-numpy-batch-size", lambda: _fit(batch_size=np.int64(4), epochs=np.int32(1))),
    ("fit-zero-epochs", lambda: _fit(epochs=0)),
    ("fit-verbose-flags", lambda: _fit(verbose=False)),
    ("fit-list-sample-weight", lambda: _fit(sample_weight=[1.0] * 8)),
    ("fit-validation-split", lambda: _fit(validation_split=0.25)),
    ("fit-validation-data", lambda: _fit(validation_data=(X, Y, np.ones(8)))),
    ("fit-class-weight-every-class", lambda: _classifier_fit(class_weight={0: 1, 1: 2, 2: 3})),
    ("fit-class-weight-one-hot", _one_hot_class_weight_fit),
    ("fit-without-targets-custom-loss", _target_free_fit),
    (
        "predict-float64-and-int-inputs",
        lambda: (_model().predict(X.astype(np.float64)), _model().predict(X.astype(np.int32))),
    ),
    (
        "concatenate-negative-axis",
        lambda: tnp.concatenate([tnp.ones((2, 2)), tnp.ones((2, 1))], axis=-1),
    ),
    ("grad-of-python-float", lambda: tg.grad(lambda a: 2.0)(tg.tensor(1.0))),
    (
        "compile-keras-defaults",
        lambda: _model().compile("adam", "mse", steps_per_execution=1, auto_scale_loss=True),
    ),
    (
        "train-on-batch-class-weight",
        lambda: _model("sparse_categorical_crossentropy", 3).train_on_batch(
            X, LABELS, class_weight={0: 1.0, 1: 2.0, 2: 3.0}
        ),
    ),
    ("predict-on-batch", lambda: _model().predict_on_batch(X)),
]


@pytest.mark.parametrize(
    "call", [case[1] for case in GOOD_CASES], ids=[case[0] for case in GOOD_CASES]
)
def test_good_input_is_still_accepted(call: Callable[[], Any]) -> None:
    call()


def test_validated_configs_stay_plain_json() -> None:
    # NumPy scalars are normalised to Python ones, so saved configs stay plain JSON.
    import json

    config = L.Dense(np.int64(3), use_bias=np.bool_(True)).get_config()
    assert json.loads(json.dumps(config))["units"] == 3
    optimizer = tg.optimizers.Adam(beta_1=np.float32(0.5))
    assert type(optimizer.beta_1) is float


def test_hyper_parameters_are_checked_on_load() -> None:
    # Constructors run on load: an edited config is refused with the argument's name.
    layer = L.Dense(2)
    config = {**layer.get_config(), "units": -5}
    with pytest.raises(ValueError, match="units=-5"):
        L.Dense.from_config(config)
    optimizer_config = tg.optimizers.serialize(tg.optimizers.Adam())
    optimizer_config["config"]["beta_1"] = []
    with pytest.raises(ValueError, match=r"beta_1=\[\]"):
        tg.optimizers.deserialize(optimizer_config)


def test_checks_run_before_any_training() -> None:
    model = _model()
    before = model.get_weights()
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(X, Y, sample_weight=np.ones(3), verbose=0)
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    assert int(model.optimizer.iterations.numpy()) == 0


def test_train_on_batch_applies_class_weight() -> None:
    # Before, train_on_batch accepted class_weight and ignored it.
    model = _model("sparse_categorical_crossentropy", units=3)
    plain = model.train_on_batch(X, LABELS)
    zero = model.train_on_batch(X, LABELS, class_weight={0: 0.0, 1: 0.0, 2: 0.0})
    assert plain > 0 and zero == 0.0


def test_callable_constraint_is_applied_after_updates() -> None:
    # (Variable had no slot for the constraint: any constraint failed at build.)
    model = tg.Sequential([L.Input(shape=(3,)), L.Dense(2, kernel_constraint=tnp.abs)])
    model.compile("sgd", "mse")
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(16, 3)), rng.normal(size=(16, 2)), epochs=2, verbose=0)
    assert model.layers[0].kernel.numpy().min() >= 0

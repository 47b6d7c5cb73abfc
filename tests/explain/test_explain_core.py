"""`tapegrad.explain`: the recorded graphs, the attribution of backward nodes, the listing."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.explain import Explanation, describe_rule
from tapegrad.explain.recorder import summarize


def sin_times(x, y):
    return tnp.sin(x) * y


SIN_TIMES = """\
explain sin_times
arguments: x0:f64[3], x1:f64[3], g:f64[3]
forward (2 ops):
  t0:f64[3] = sin x0
                                = min 0 max 0.8415 mean 0.4403
  t1:f64[3] = multiply t0 x1
                                = min 0 max 1.683 mean 0.7208
backward (3 ops): gradient of sum(t1) with respect to x0
  t2:f64[3] = multiply g x1   # d t1/d t0: multiply rule: g * y
                                = min -1 max 2 mean 0.6667
  t3:f64[3] = cos x0          # d t0/d x0: sin rule: g * cos_p(x)
                                = min 0.5403 max 1 mean 0.806
  t4:f64[3] = multiply t2 t3  # d t0/d x0: sin rule: g * cos_p(x)
                                = min -1 max 1.081 mean 0.3194
kept for the backward pass: x1 (read by t2); x0 (read by t3)
gradients: x0 = t4"""


def test_sin_times_y_golden_listing() -> None:
    x, y = np.array([0.0, 1.0, 0.5]), np.array([-1.0, 2.0, 1.0])
    e = tg.explain(sin_times, x, y)
    assert isinstance(e, Explanation)
    assert e.text(sources=False) == SIN_TIMES


def test_sources_name_the_users_line_and_the_rules_location() -> None:
    e = tg.explain(sin_times, np.array([0.5]), np.array([2.0]))
    text = e.text(values=False)
    assert "test_explain_core.py:" in text.splitlines()[3]
    assert "in sin_times" in text
    assert "tapegrad/core/prims/elementwise.py:" in text
    assert [s.where.split(" in ")[1] for s in e.forward] == ["sin_times", "sin_times"]


WHERE_SQRT = """\
explain relu_sqrt
arguments: x0:f64[3], g:f64[]
forward (4 ops):
  t0:bool[3] = greater x0 0
  t1:f64[3] = sqrt x0
  t2:f64[3] = where t0 t1 0.0
  t3:f64[] = sum[axis=None, keepdims=False] t2
backward (6 ops): gradient of sum(t3) with respect to x0
  t4:f64[3] = broadcast_to[shape=(3,)] g  # d t3/d t2: sum rule: _expand(g, shape_of(x), axis, keepdims)
  t5:f64[3] = where t0 t4 0               # d t2/d t1: where rule: where_p(c, g, 0)
  t6:bool[3] = logical_not t0             # d t2/d t1: mask: _where_zero_mask(...)
  t7:f64[3] = multiply t5 0.5             # d t1/d x0: sqrt rule: g * 0.5 / ans
  t8:f64[3] = divide t7 t1                # d t1/d x0: sqrt rule: g * 0.5 / ans
  t9:f64[3] = where t6 0 t8               # d t1/d x0: mask: where(mask, 0, g)
kept for the backward pass: t0 (read by t5, t6); t1 (read by t8)
where masks: t6 (for d t2/d t1), t9 (for d t1/d x0)
gradients: x0 = t9"""  # noqa: E501


def relu_sqrt(x):
    return tnp.sum(tnp.where(x > 0, tnp.sqrt(x), 0.0))


def test_where_masks_are_shown_and_keep_the_gradient_finite() -> None:
    e = tg.explain(relu_sqrt, np.array([0.0, 4.0, -1.0]))
    assert e.text(values=False, sources=False) == WHERE_SQRT
    np.testing.assert_array_equal(e.gradients(), [0.0, 0.25, 0.0])
    # The unmasked quotient is NaN at 0 (0 / 0) and below (0 / nan): the summary says so,
    # and the mask after it makes both exact zeros.
    quotient = [s for s in e.backward if s.node.primitive == "divide"][0]
    assert quotient.values[0] is not None
    assert quotient.values[0].nans == 2


@tg.custom_gradient
def clipped(x):
    def grad_fn(dy):
        return tnp.clip(dy, -1.0, 1.0)

    return x * 1.0, grad_fn


CUSTOM = """\
explain clipped_loss
arguments: x0:f64[2], g:f64[]
forward (4 ops):
  t0:f64[2] = multiply x0 1.0
  t1:f64[2] = custom_gradient[n_inputs=1] x0 t0
  t2:f64[2] = multiply t1 3.0
  t3:f64[] = sum[axis=None, keepdims=False] t2
backward (3 ops): gradient of sum(t3) with respect to x0
  t4:f64[2] = broadcast_to[shape=(2,)] g  # d t3/d t2: sum rule: _expand(g, shape_of(x), axis, keepdims)
  t5:f64[2] = multiply t4 3.0             # d t2/d t1: multiply rule: g * y
  t6:f64[2] = clip t5 -1.0 1.0            # d t1/d x0: user rule grad_fn: tnp.clip(dy, -1.0, 1.0)
kept for the backward pass: g (read by t4)
gradients: x0 = t6"""  # noqa: E501


def clipped_loss(x):
    return tnp.sum(clipped(x) * 3.0)


def test_custom_gradient_steps_name_the_users_grad_fn() -> None:
    e = tg.explain(clipped_loss, np.array([1.0, 2.0]))
    listing = e.text(values=False, sources=False)
    # (the seed is an input of the backward pass, not kept from the forward one)
    assert listing == CUSTOM.replace("kept for the backward pass: g (read by t4)\n", "")
    clip = e.backward[-1]
    assert clip.user_rule and clip.rule is not None
    assert clip.rule.name == "grad_fn"
    assert clip.rule.location.endswith(f"test_explain_core.py:{grad_line()}")
    np.testing.assert_array_equal(e.gradients(), [1.0, 1.0])


def grad_line() -> int:
    lines = open(__file__, encoding="utf-8").read().splitlines()
    return lines.index("    def grad_fn(dy):") + 1


def test_defvjp_rules_show_the_users_maker() -> None:
    @tg.primitive
    def cube_for_explain(x):
        return x**3

    tg.defvjp(cube_for_explain, lambda ans, x: lambda g: g * 3 * x**2)
    e = tg.explain(cube_for_explain, np.array([2.0]))
    assert all(s.user_rule for s in e.backward)
    assert {s.rule.text for s in e.backward if s.rule} == {"lambda g: g * 3 * x**2"}
    np.testing.assert_array_equal(e.gradients(), [12.0])


def test_integer_inputs_and_unused_inputs_have_no_gradient_and_say_why() -> None:
    def f(x, n, unused):
        return tnp.sum(x * 2.0) + tnp.sum(n)

    e = tg.explain(f, np.ones(2), np.array([1, 2]), np.ones(3), argnums=(0, 1, 2))
    grads = e.gradients()
    assert isinstance(grads, tuple)
    np.testing.assert_array_equal(grads[0], [2.0, 2.0])
    assert grads[1] is None
    assert grads[2] is None
    reasons = {s.name: s.reason for s in e.unconnected()}
    assert reasons == {
        "x1": "int64 input: integers and booleans get no gradient",
        "x2": "the output does not depend on it",
    }
    assert "x1 = None (int64 input" in e.text()


def test_broadcasting_and_reuse_are_attributed_to_the_engine_steps() -> None:
    def f(x, b):
        y = x + b  # b broadcasts over rows: its cotangent is summed back
        return tnp.sum(y * y)  # y is used twice: its two cotangents are added

    e = tg.explain(f, np.ones((2, 3)), np.arange(3.0), argnums=(0, 1))
    parts = {s.part for s in e.backward}
    assert {"vjp", "unbroadcast", "accumulate"} <= parts
    unbroadcast = [s for s in e.backward if s.part == "unbroadcast"]
    assert unbroadcast[0].rule is not None
    assert unbroadcast[0].rule.location.startswith("tapegrad/core/broadcast.py:")
    forward_add = e.steps_by_index(unbroadcast[0].differentiates)
    assert forward_add.node.primitive == "add"
    assert unbroadcast[0].argnum == 1


def test_every_backward_node_names_a_forward_op_and_a_rule() -> None:
    def f(x, w):
        h = tnp.tanh(x @ w)
        return tnp.mean(tnp.logaddexp(h, 0.0)) + tnp.max(h)

    rng = np.random.default_rng(0)
    e = tg.explain(f, rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), argnums=1)
    assert e.backward
    for step in e.backward:
        assert step.rule is not None, step
        assert step.rule.text != "?"
        if step.part != "result":
            assert step.differentiates is not None
            assert not e.steps_by_index(step.differentiates).backward


def test_layers_group_their_ops_and_lambda_layers_too() -> None:
    layers = tg.layers
    model = tg.Sequential(
        [
            tg.Input((3,)),
            layers.Dense(2, name="dense_in_explain"),
            layers.Lambda(lambda t: tnp.tanh(t) * 2.0, name="lambda_in_explain"),
        ],
        name="seq_in_explain",
    )
    e = tg.explain(lambda x: tnp.sum(model(x)), np.ones((2, 3), np.float32))
    scopes = [s.scope for s in e.forward]
    assert scopes[:2] == [("seq_in_explain", "dense_in_explain")] * 2
    assert scopes[2:4] == [("seq_in_explain", "lambda_in_explain")] * 2
    assert scopes[4] == ()
    assert all(s.scope == () for s in e.backward)
    # The weights are inputs named by their paths; the matmul rule reads the kernel.
    variable = model.layers[0].kernel
    kernel = getattr(variable, "path", None) or variable.name
    assert kernel.endswith("dense_in_explain/kernel")
    assert f"{kernel}:f32[3,2]" in e.text()
    kept = {e.names[v] for v in e.residuals()}
    assert kernel in kept


def test_python_control_flow_on_values_is_the_explained_calls() -> None:
    def f(x):
        if float(tnp.sum(x)) > 0:  # (a value read: fixed to this call's branch)
            return tnp.sum(tnp.exp(x))
        return tnp.sum(x)

    e = tg.explain(f, np.array([1.0, 2.0]))
    assert [s.node.primitive for s in e.forward] == ["sum", "exp", "sum"]
    np.testing.assert_array_equal(e.gradients(), np.exp([1.0, 2.0]))


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="argnums 3 out of range"):
        tg.explain(sin_times, np.ones(2), np.ones(2), argnums=3)
    with pytest.raises(ValueError, match="no float output depends on the arguments"):
        tg.explain(lambda x: tnp.ones(3), np.ones(2))


def test_value_summaries() -> None:
    assert (
        str(summarize(np.array([1.0, np.nan, 3.0, np.inf]))) == "min 1 max 3 mean 2, 1 NaN, 1 inf"
    )
    assert str(summarize(np.zeros((0, 2)))) == "empty"
    assert str(summarize(np.full(3, 2.5))) == "all 2.5"
    assert summarize(np.array([True, False])).mean == 0.5


def test_rule_text_of_table_lambdas_and_functions() -> None:
    from tapegrad.core.prims.elementwise import maximum_p, multiply_p

    assert describe_rule(multiply_p.vjp_rules[1]).text == "g * x"
    described = describe_rule(maximum_p.vjp_rules[0])
    assert described.text == "g * greater_p(x, y) + (g * 0.5) * equal_p(x, y)"
    assert described.name == "_max_vjp_first"
    assert describe_rule(len).text == "?"


def test_top_level_name_is_the_callable_package() -> None:
    import tapegrad.explain as package

    assert tg.explain is package
    assert callable(tg.explain)
    assert repr(tg.explain(sin_times, np.ones(1), np.ones(1))).startswith(
        "<Explanation of sin_times: 2 forward ops, 3 backward ops"
    )


def test_variables_and_nested_gradients() -> None:
    v = tg.Variable(np.array([1.0, 2.0]), name="scale")
    e = tg.explain(lambda v: tnp.sum(tnp.exp(v)), v)
    assert [s.name for s in e.sources] == [getattr(v, "path", None) or v.name]
    np.testing.assert_array_equal(e.gradients(), np.exp([1.0, 2.0]))

    def penalty(x):  # a gradient inside the function: its rule's ops are forward ops
        g = tg.grad(lambda y: tnp.sum(tnp.sin(y) * y))(x)
        return tnp.sum(g * g)

    x = np.array([0.3, 1.2])
    e = tg.explain(penalty, x)
    inner = [s for s in e.forward if s.part == "vjp"]
    assert inner
    assert all(s.rule is not None for s in inner)
    xt = tg.tensor(x)
    with tg.GradientTape() as tape:
        tape.watch(xt)
        out = penalty(xt)
    assert e.gradients().tobytes() == tape.gradient(out, xt)._value.tobytes()

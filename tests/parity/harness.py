"""Live parity with Keras 3 (JAX backend): build a thing in both, copy weights, compare.

Importing this module skips the importing test module when Keras or JAX is missing, or when
Keras was already imported with another backend: the suite needs ``KERAS_BACKEND=jax``,
which is set here before Keras is imported (tapegrad itself never imports Keras).

The helpers, from small to large:

* `keras_class` / `tapegrad_class` / `make_pair`: the two objects from one class name and
  one set of constructor arguments (``module`` names the namespace: ``layers``, ``losses``,
  ``metrics``, ``activations``, ...).
* `copy_weights`: Keras -> tapegrad through ``get_weights``/``set_weights`` (Keras 3 order).
* `keras_run` / `tapegrad_run`: forward outputs, the gradients of ``sum(out * cotangent)``
  w.r.t. every float input and every trainable weight, and the non-trainable weights after
  the call (Keras: `jax.value_and_grad` over ``layer.stateless_call``; tapegrad: a
  `GradientTape`).
* `check_layer`: everything at once for one layer case (outputs, gradients, moving
  statistics after a training call, masks, weight shapes and short names, ``get_config``
  keys, ``get_weights``/``set_weights`` round trips in both directions).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import tapegrad as tg

os.environ["KERAS_BACKEND"] = "jax"
if "jax" not in sys.modules:
    # XLA's LLVM optimizations cost most of each case's compile and buy nothing for arrays
    # this small (the float semantics stay the same).
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
    ).strip()
keras = pytest.importorskip("keras")
jax = pytest.importorskip("jax")
if keras.backend.backend() != "jax":
    pytest.skip(
        f"keras was imported with the {keras.backend.backend()!r} backend before the parity "
        "suite could ask for jax",
        allow_module_level=True,
    )

jnp = pytest.importorskip("jax.numpy")

# float32 tolerances of the issue; a case that needs looser ones says why where it asks.
RTOL = 1e-4
ATOL = 1e-5

# Config keys Keras 3.15 writes that tapegrad does not take, each with why.
KERAS_ONLY_CONFIG_KEYS = {
    # Keras' int8/float8 quantization: tapegrad has no quantized layers.
    "quantization_config",
}


def keras_class(name: str, module: str = "layers") -> Any:
    """``keras.<module>.<name>``."""
    return getattr(getattr(keras, module), name)


def tapegrad_class(name: str, module: str = "layers") -> Any:
    """``tapegrad.<module>.<name>`` (the Keras spelling of the same thing)."""
    return getattr(getattr(tg, module), name)


@dataclass
class Sub:
    """An argument that is itself an object (a wrapped layer, a cell): built per library.

    ``name`` is a class name in ``module``; a callable ``name`` is called with the library
    (``keras`` or ``tapegrad``) and the built keyword arguments instead.
    """

    name: Any
    kwargs: dict[str, Any] = field(default_factory=dict)
    module: str = "layers"

    def build(self, lib: Any) -> Any:
        kwargs = resolve(self.kwargs, lib)
        if callable(self.name):
            return self.name(lib, **kwargs)
        return getattr(getattr(lib, self.module), self.name)(**kwargs)


def resolve(value: Any, lib: Any) -> Any:
    """``value`` with every `Sub` in it built for ``lib``."""
    if isinstance(value, Sub):
        return value.build(lib)
    if isinstance(value, list | tuple):
        return type(value)(resolve(item, lib) for item in value)
    if isinstance(value, dict):
        return {key: resolve(item, lib) for key, item in value.items()}
    return value


def make_pair(name: str, kwargs: dict[str, Any] | None = None, module: str = "layers") -> Any:
    """The Keras and the tapegrad object built from one class name and the same arguments."""
    kwargs = kwargs or {}
    return (
        keras_class(name, module)(**resolve(kwargs, keras)),
        tapegrad_class(name, module)(**resolve(kwargs, tg)),
    )


def copy_weights(keras_obj: Any, tg_obj: Any) -> None:
    """Keras -> tapegrad, through ``get_weights``/``set_weights`` in Keras 3 order."""
    tg_obj.set_weights([np.asarray(w) for w in keras_obj.get_weights()])


def leaves(tree: Any) -> list[Any]:
    """The leaves of nested lists/tuples/dicts (dicts in key order), ``None`` dropped."""
    if tree is None:
        return []
    if isinstance(tree, list | tuple):
        return [leaf for item in tree for leaf in leaves(item)]
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree) for leaf in leaves(tree[key])]
    return [tree]


def map_tree(fn: Callable[[Any], Any], tree: Any) -> Any:
    """``fn`` on every leaf of nested lists/tuples/dicts, the structure kept."""
    if isinstance(tree, list | tuple):
        return type(tree)(map_tree(fn, item) for item in tree)
    if isinstance(tree, dict):
        return {key: map_tree(fn, value) for key, value in tree.items()}
    return fn(tree)


def is_float(x: Any) -> bool:
    """Whether a leaf is a floating-point array (the inputs gradients are taken for)."""
    return np.issubdtype(np.asarray(x).dtype, np.floating)


def cotangents(outputs: list[np.ndarray], seed: int = 1) -> list[np.ndarray]:
    """Fixed random output weights: gradients of ``sum(out * w)`` see every output entry."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(np.shape(o)).astype(np.float32) for o in outputs]


@dataclass
class RunResult:
    """What one side computed: outputs, gradients, the state after the call."""

    outputs: list[np.ndarray]
    input_grads: list[np.ndarray] = field(default_factory=list)
    weight_grads: list[np.ndarray] = field(default_factory=list)
    non_trainable: list[np.ndarray] = field(default_factory=list)


def _float_outputs(outputs: list[Any]) -> list[int]:
    return [i for i, o in enumerate(outputs) if is_float(o)]


def keras_run(
    layer: Any,
    args: tuple[Any, ...],
    call_kwargs: dict[str, Any] | None = None,
    training: bool = False,
    grads: bool = True,
    jit: bool = True,
) -> RunResult:
    """Keras forward (and gradients through `jax.value_and_grad` of a stateless call)."""
    call_kwargs = call_kwargs or {}
    trainable = [v.value for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]
    flat = leaves(args)
    float_at = [i for i, x in enumerate(flat) if is_float(x)]
    # stateless_call hands its keywords to ``call`` as they are; not every call takes these.
    parameters = inspect.signature(layer.call).parameters
    takes_training = "training" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )

    def rebuild(float_inputs: list[Any]) -> Any:
        it = iter(range(len(flat)))
        replaced = dict(zip(float_at, float_inputs, strict=True))

        def take(leaf: Any) -> Any:
            i = next(it)
            return replaced.get(i, jnp.asarray(leaf))

        return map_tree(take, args)

    def forward(weights: list[Any], float_inputs: list[Any]) -> Any:
        extra = {"training": training} if takes_training else {}
        out, new_state = layer.stateless_call(
            weights, non_trainable, *rebuild(float_inputs), **extra, **call_kwargs
        )
        return out, new_state

    float_inputs = [jnp.asarray(flat[i]) for i in float_at]
    if not grads:
        out, new_state = forward(trainable, float_inputs)
        outputs = [np.asarray(o) for o in leaves(out)]
        return RunResult(outputs, non_trainable=[np.asarray(v) for v in new_state])
    # One compiled program for values and gradients (compiling op by op costs several
    # times more); the output weights are constants made from the traced shapes.

    def objective(weights: list[Any], inputs: list[Any]) -> Any:
        out, new_state = forward(weights, inputs)
        outs = leaves(out)
        cots = cotangents([np.zeros(o.shape, np.float32) for o in outs])
        used = [i for i, o in enumerate(outs) if jnp.issubdtype(o.dtype, jnp.floating)]
        total = sum(jnp.sum(outs[i] * cots[i]) for i in used)
        return total, (out, new_state)

    step = jax.value_and_grad(objective, argnums=(0, 1), has_aux=True)
    (_, (out, new_state)), (w_grads, x_grads) = (jax.jit(step) if jit else step)(
        trainable, float_inputs
    )
    return RunResult(
        [np.asarray(o) for o in leaves(out)],
        [np.asarray(g) for g in x_grads],
        [np.asarray(g) for g in w_grads],
        [np.asarray(v) for v in new_state],
    )


def tapegrad_run(
    layer: Any,
    args: tuple[Any, ...],
    call_kwargs: dict[str, Any] | None = None,
    training: bool = False,
    grads: bool = True,
) -> RunResult:
    """tapegrad forward (and gradients from a `GradientTape`), as `keras_run` computes."""
    call_kwargs = call_kwargs or {}
    tensors = map_tree(lambda a: tg.tensor(np.asarray(a)), args)
    float_inputs = [t for t in leaves(tensors) if is_float(t)]
    with tg.GradientTape() as tape:
        for t in float_inputs:
            tape.watch(t)
        out = layer(*tensors, training=training, **call_kwargs)
        outputs = [np.asarray(o) for o in leaves(out)]
        objective = None
        if grads:
            cots = cotangents(outputs)
            flat_out = leaves(out)
            for i in _float_outputs(outputs):
                term = tg.numpy.sum(flat_out[i] * tg.tensor(cots[i]))
                objective = term if objective is None else objective + term
    result = RunResult(outputs, non_trainable=[np.asarray(v) for v in layer.non_trainable_weights])
    if grads and objective is not None:
        weights = list(layer.trainable_weights)
        got = tape.gradient(objective, [*float_inputs, *weights], unconnected_gradients="zero")
        result.input_grads = [np.asarray(g) for g in got[: len(float_inputs)]]
        result.weight_grads = [np.asarray(g) for g in got[len(float_inputs) :]]
    return result


def assert_close(
    got: Any, expected: Any, what: str, rtol: float = RTOL, atol: float = ATOL
) -> None:
    """``got`` (tapegrad) equals ``expected`` (Keras) within tolerances; names ``what``."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != Keras {expected.shape}"
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=what)


def assert_all_close(
    got: list[Any], expected: list[Any], what: str, rtol: float = RTOL, atol: float = ATOL
) -> None:
    """Two lists of arrays equal entry by entry (and in number)."""
    assert len(got) == len(expected), f"{what}: {len(got)} arrays != Keras {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert_close(g, e, f"{what}[{i}]", rtol, atol)


def short_name(variable: Any) -> str:
    """A weight's own name (``kernel``), whichever of ``name``/``path`` holds the prefix."""
    return str(variable.name).rsplit("/", 1)[-1]


def check_weight_names(keras_obj: Any, tg_obj: Any) -> None:
    """The same weights in the same order: short names, shapes, trainable split."""
    for kind in ("weights", "trainable_weights", "non_trainable_weights"):
        k_list, t_list = getattr(keras_obj, kind), getattr(tg_obj, kind)
        assert [short_name(v) for v in t_list] == [short_name(v) for v in k_list], kind
        assert [tuple(v.shape) for v in t_list] == [tuple(v.shape) for v in k_list], kind


def check_config_keys(keras_obj: Any, tg_obj: Any) -> None:
    """``get_config`` has Keras's keys (less the documented Keras-only ones)."""
    expected = set(keras_obj.get_config()) - KERAS_ONLY_CONFIG_KEYS
    got = set(tg_obj.get_config())
    assert got == expected, (
        f"get_config: tapegrad lacks {sorted(expected - got)}, adds {sorted(got - expected)}"
    )


def check_round_trips(keras_obj: Any, tg_obj: Any) -> None:
    """``get_weights``/``set_weights`` carry every weight both ways, in Keras 3 order."""
    k_weights = [np.asarray(w) for w in keras_obj.get_weights()]
    t_weights = [np.asarray(w) for w in tg_obj.get_weights()]
    assert_all_close(t_weights, k_weights, "tapegrad.get_weights after Keras -> tapegrad")
    rng = np.random.default_rng(7)
    fresh = [rng.standard_normal(w.shape).astype(w.dtype) for w in t_weights]
    tg_obj.set_weights(fresh)
    keras_obj.set_weights([np.asarray(w) for w in tg_obj.get_weights()])
    assert_all_close(
        [np.asarray(w) for w in keras_obj.get_weights()], fresh, "Keras after tapegrad -> Keras"
    )
    tg_obj.set_weights(k_weights)
    keras_obj.set_weights(k_weights)


def keras_mask(layer: Any, args: tuple[Any, ...], mask: Any) -> Any:
    """Keras's ``compute_mask`` for the call's first argument."""
    return layer.compute_mask(args[0], mask)


def check_masks(keras_layer: Any, tg_layer: Any, args: tuple[Any, ...], mask: Any) -> None:
    """``compute_mask`` agrees (both ``None``, or equal boolean arrays)."""
    k_mask = keras_layer.compute_mask(map_tree(jnp.asarray, args[0]), mask_tree(mask, jnp))
    t_mask = tg_layer.compute_mask(
        map_tree(lambda a: tg.tensor(np.asarray(a)), args[0]), mask_tree(mask, tg)
    )
    k_leaves, t_leaves = leaves(k_mask), leaves(t_mask)
    assert len(t_leaves) == len(k_leaves), f"masks: {t_mask!r} vs Keras {k_mask!r}"
    for t_m, k_m in zip(t_leaves, k_leaves, strict=True):
        np.testing.assert_array_equal(np.asarray(t_m), np.asarray(k_m))


def mask_tree(mask: Any, lib: Any) -> Any:
    """A mask argument as the library's arrays (``None`` kept)."""
    if mask is None:
        return None
    convert = jnp.asarray if lib is jnp else (lambda a: tg.tensor(np.asarray(a)))
    return map_tree(lambda m: None if m is None else convert(m), mask)


@dataclass
class LayerCase:
    """One parametrized layer case: class, arguments, call arguments, what to check."""

    name: str
    kwargs: dict[str, Any]
    args: tuple[Any, ...]
    call_kwargs: dict[str, Any] = field(default_factory=dict)
    grads: bool = True
    training_step: bool = False
    mask: Any = None
    # False where the case's get_config keys are checked by a test of their own.
    config: bool = True
    rtol: float = RTOL
    atol: float = ATOL
    id: str = ""

    def __str__(self) -> str:
        return self.id or self.name


@contextlib.contextmanager
def numpy_initial_values(seed: int = 0) -> Iterator[None]:
    """Keras draws initial weights with NumPy while this is open, not with JAX's sampler.

    JAX compiles its sampler anew for every weight shape (seconds per layer on a shared
    2-core machine, most of the suite's time). The suite copies the initial values to
    tapegrad rather than comparing them, so where they come from does not matter here.
    """
    rng = np.random.default_rng(seed)
    module = keras.src.backend.jax.random

    def uniform(shape: Any, minval=0.0, maxval=1.0, dtype=None, seed=None) -> Any:
        del seed
        return jnp.asarray(rng.uniform(minval, maxval, shape), dtype or "float32")

    def normal(shape: Any, mean=0.0, stddev=1.0, dtype=None, seed=None) -> Any:
        del seed
        return jnp.asarray(rng.normal(mean, stddev, shape), dtype or "float32")

    def truncated_normal(shape: Any, mean=0.0, stddev=1.0, dtype=None, seed=None) -> Any:
        del seed
        draws = np.clip(rng.normal(0.0, 1.0, shape), -2.0, 2.0)
        return jnp.asarray(draws * stddev + mean, dtype or "float32")

    saved = {name: getattr(module, name) for name in ("uniform", "normal", "truncated_normal")}
    module.uniform, module.normal, module.truncated_normal = uniform, normal, truncated_normal
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(module, name, fn)


def build_layers(case: LayerCase) -> tuple[Any, Any]:
    """Both layers built on the case's inputs, tapegrad's weights copied from Keras's."""
    with numpy_initial_values():
        k_layer, t_layer = make_pair(case.name, case.kwargs)
        # A symbolic call builds the Keras layer by tracing only (an eager call compiles).
        k_layer(*map_tree(symbolic, case.args), **map_tree(symbolic, _call_kwargs(case, jnp)))
    t_layer(*map_tree(lambda a: tg.tensor(np.asarray(a)), case.args), **_call_kwargs(case, tg))
    copy_weights(k_layer, t_layer)
    return k_layer, t_layer


def symbolic(value: Any) -> Any:
    """An array as a Keras symbolic tensor of its shape and dtype (anything else as is)."""
    if isinstance(value, np.ndarray | jax.Array):
        return keras.KerasTensor(value.shape, dtype=str(value.dtype))
    return value


def _call_kwargs(case: LayerCase, lib: Any) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        if not isinstance(value, np.ndarray):
            return value
        return jnp.asarray(value) if lib is jnp else tg.tensor(value)

    kwargs = {key: map_tree(convert, value) for key, value in case.call_kwargs.items()}
    if case.mask is not None:
        kwargs["mask"] = mask_tree(case.mask, lib)
    return kwargs


def check_layer(case: LayerCase) -> tuple[Any, Any]:
    """Every check of the suite for one layer case; returns the two layers."""
    k_layer, t_layer = build_layers(case)
    check_weight_names(k_layer, t_layer)
    if case.config:
        check_config_keys(k_layer, t_layer)
    k_run = keras_run(k_layer, case.args, _call_kwargs(case, jnp), grads=case.grads)
    t_run = tapegrad_run(t_layer, case.args, _call_kwargs(case, tg), grads=case.grads)
    tol = {"rtol": case.rtol, "atol": case.atol}
    assert_all_close(t_run.outputs, k_run.outputs, f"{case}: outputs", **tol)
    if case.grads:
        assert_all_close(t_run.input_grads, k_run.input_grads, f"{case}: input grads", **tol)
        assert_all_close(t_run.weight_grads, k_run.weight_grads, f"{case}: weight grads", **tol)
    if case.training_step:
        # One stateful training call each (Keras' own __call__: a layer may assign trainable
        # weights too, as SpectralNormalization does), then every weight compared.
        k_out = k_layer(*map_tree(jnp.asarray, case.args), training=True, **_call_kwargs(case, jnp))
        t_out = t_layer(*map_tree(tg.tensor, case.args), training=True, **_call_kwargs(case, tg))
        assert_all_close(
            [np.asarray(o) for o in leaves(t_out)],
            [np.asarray(o) for o in leaves(k_out)],
            f"{case}: training outputs",
            **tol,
        )
        assert_all_close(
            [np.asarray(w) for w in t_layer.get_weights()],
            [np.asarray(w) for w in k_layer.get_weights()],
            f"{case}: weights after a training call (moving statistics)",
            **tol,
        )
    if case.mask is not None:
        check_masks(k_layer, t_layer, case.args, case.mask)
    check_round_trips(k_layer, t_layer)
    return k_layer, t_layer


def xfail(case: Any, reason: str) -> Any:
    """A case that differs from Keras today, documented: strict, so a fix must remove it."""
    return pytest.param(case, marks=pytest.mark.xfail(strict=True, reason=reason), id=str(case))

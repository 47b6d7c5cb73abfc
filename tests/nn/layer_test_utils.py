"""Keras-style `run_layer_test`: one call checks a layer end to end.

Build, call, output shape, weight counts, config round trip (a new layer from the
config produces the same output once given the same weights), the symbolic (functional)
call, and a gradient check of the outputs w.r.t. the inputs and every trainable weight.
A layer called on a list of tensors (merge layers) gets a list of input shapes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tapegrad as tg


def run_layer_test(
    layer_cls: type,
    init_kwargs: dict[str, Any],
    input_shape: tuple[int, ...] | list[tuple[int, ...]],
    expected_output_shape: tuple[int, ...] | None = None,
    expected_num_trainable_weights: int | None = None,
    expected_num_non_trainable_weights: int = 0,
    input_dtype: Any = np.float64,
    input_data: Any = None,
    check_gradients: bool = True,
    grad_order: int = 1,
    call_kwargs: dict[str, Any] | None = None,
    seed: int = 0,
) -> Any:
    """Run the standard checks on ``layer_cls(**init_kwargs)``; returns the output array.

    Weights are float64 (``dtype="float64"``) unless ``init_kwargs`` says otherwise, so the
    finite-difference gradient checks are tight. A *list* of shapes (and then a list as
    ``input_data``) calls the layer on a list of tensors, as merge layers are called.
    """
    rng = np.random.default_rng(seed)
    kwargs = {"dtype": "float64", **init_kwargs}
    call_kwargs = call_kwargs or {}
    multi = isinstance(input_shape, list)
    if input_data is None:
        arrays = [
            _random_input(rng, shape, input_dtype)
            for shape in (input_shape if multi else [input_shape])
        ]
        input_data = arrays if multi else arrays[0]
    arrays = [np.asarray(a) for a in input_data] if multi else [np.asarray(input_data)]

    def tensors() -> Any:
        made = [tg.tensor(a) for a in arrays]
        return made if multi else made[0]

    layer = layer_cls(**kwargs)
    out = layer(tensors(), **call_kwargs)
    out_array = np.asarray(out)
    if expected_output_shape is not None:
        assert out_array.shape == tuple(expected_output_shape), (
            f"{layer_cls.__name__}: output shape {out_array.shape} != {expected_output_shape}"
        )
    assert layer.built
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights, (
            f"{layer_cls.__name__}: {len(layer.trainable_weights)} trainable weights, "
            f"expected {expected_num_trainable_weights}"
        )
    assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights
    assert layer.count_params() == sum(int(np.prod(w.shape)) for w in layer.weights)

    # Config round trip: same class, same config, same weights -> same output.
    config = layer.get_config()
    clone = layer_cls.from_config({**config, "name": config.get("name", "clone") + "_clone"})
    clone(tensors(), **call_kwargs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        np.asarray(clone(tensors(), **call_kwargs)), out_array, rtol=1e-6, atol=1e-8
    )

    # Functional call: symbolic output shape has a None batch axis and matches.
    symbolic_inputs = [tg.layers.Input(shape=a.shape[1:], dtype=a.dtype) for a in arrays]
    symbolic = layer(symbolic_inputs if multi else symbolic_inputs[0], **call_kwargs)
    assert tuple(symbolic.shape) == (None,) + out_array.shape[1:], (
        f"{layer_cls.__name__}: symbolic shape {symbolic.shape} vs {out_array.shape}"
    )

    if check_gradients and np.dtype(input_dtype).kind == "f":
        weights = layer.trainable_weights
        values = [np.asarray(w.numpy(), np.float64) for w in weights]

        float_inputs = [a.astype(np.float64) for a in arrays]
        tg.check_grads(
            lambda x, *ws: _call_with(layer, x, weights, ws, call_kwargs),
            (float_inputs if multi else float_inputs[0], *values),
            order=grad_order,
            modes=("rev",),
        )
    return out_array


def _random_input(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> Any:
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0, 5, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _call_with(
    layer: Any, x: Any, weights: list[Any], ws: tuple[Any, ...], call_kwargs: dict[str, Any]
) -> Any:
    """Call ``layer`` with its weights replaced by the (possibly traced) tensors ``ws``."""
    from tapegrad.nn.layers.base import Layer

    replaced = _swap_weights(layer, dict(zip(map(id, weights), ws, strict=True)))
    try:
        return Layer.__call__(layer, x, **call_kwargs)
    finally:
        _restore_weights(replaced)


def _swap_weights(layer: Any, mapping: dict[int, Any]) -> list[tuple[Any, str, Any]]:
    """Point every attribute holding a weight at its replacement; returns undo records."""
    undo: list[tuple[Any, str, Any]] = []
    stack = [layer]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for key, value in list(vars(current).items()):
            if isinstance(value, tg.Variable) and id(value) in mapping:
                undo.append((current, key, value))
                object.__setattr__(current, key, mapping[id(value)])
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, tg.Variable) and id(item) in mapping:
                        undo.append((value, i, item))  # type: ignore[arg-type]
                        value[i] = mapping[id(item)]
                    elif hasattr(item, "_sublayers"):
                        stack.append(item)
            elif hasattr(value, "_sublayers"):
                stack.append(value)
    return undo


def _restore_weights(undo: list[tuple[Any, Any, Any]]) -> None:
    for owner, key, value in reversed(undo):
        if isinstance(owner, list):
            owner[key] = value
        else:
            object.__setattr__(owner, key, value)

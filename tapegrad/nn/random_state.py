"""Every random state of a model, as JSON: what exact resume needs besides the weights.

`capture(model)` collects the generators the model's layers hold (NumPy generators such
as `Dropout`'s, `tapegrad.random.SeedGenerator`s), `fit`'s shuffling generator, and the
epoch and step `fit` reached. `restore(model, state)` checks such a document completely
— a file may have been edited — and only then puts every generator back, in place (a
compiled step that holds a generator keeps holding it).

Model archives store this document (``save`` / ``load_model``); `ModelCheckpoint` archives
too. With the weights and the optimizer's Variables it makes ``save`` → ``load_model`` →
``fit(..., initial_epoch=k)`` equal an uninterrupted run bit for bit.

Resume is exact at epoch boundaries (what ``initial_epoch`` can express). Draws with
``seed=None`` use the process's global generator, which belongs to no model: a layer that
must resume exactly holds its own `SeedGenerator` (Keras' pattern) or NumPy generator.

Generators are found by walking the model's attributes: layers (also nested ones, such as
a recurrent layer's cell) and lists, tuples and dicts of them; each generator is named by
its attribute path from the model (``"_stack[1]._rng"``), which a model rebuilt from the
same config (or code) has too.

Examples:
    >>> import json
    >>> import tapegrad as tg
    >>> model = tg.Sequential([tg.layers.Input((3,)), tg.layers.Dropout(0.5, seed=1)])
    >>> state = capture(model)
    >>> sorted(state)
    ['epoch', 'fit_shuffle', 'format', 'generators', 'step']
    >>> restore(model, json.loads(json.dumps(state)))
    >>> restore(model, {**state, "epoch": -1})
    Traceback (most recent call last):
    ...
    ValueError: random state: field 'epoch' must be an int in [0, 2**62], got -1
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from tapegrad.random import SeedGenerator, check_state

#: Version of the document `capture` writes.
FORMAT = 1

_FIELDS = ("format", "generators", "fit_shuffle", "epoch", "step")
# Model attributes `capture` records as their own fields, not as layer generators.
_FIT_SHUFFLE = "_fit_seed_generator"
_FIT_EPOCH = "_fit_epoch"
_FIT_STEP = "_fit_step"
_MODEL_FIELDS = frozenset({_FIT_SHUFFLE})
_MAX_COUNT = 2**62
# The largest int a NumPy bit generator's state holds (PCG64's 128-bit state and inc).
_MAX_STATE_INT = 2**128 - 1
_HEX = re.compile(r"0x[0-9a-f]{1,32}")
_WHERE = "random state"


def capture(model: Any) -> dict[str, Any]:
    """Every random state ``model`` holds, as a JSON-serialisable dict.

    Args:
        model: A `Model` (or any `Layer`).

    Returns:
        ``{"format": 1, "generators": {path: state}, "fit_shuffle": state or None,
        "epoch": int, "step": int}``: ``generators`` maps each layer generator's attribute
        path to ``{"kind": "numpy", "state": ...}`` (a NumPy generator's bit-generator
        state, integers as hex strings) or ``{"kind": "seed_generator", "seed", "counter"}``;
        ``fit_shuffle`` is `fit`'s shuffling generator (None before the first `fit`);
        ``epoch`` is the next epoch `fit` would run (pass it as ``initial_epoch``) and
        ``step`` the training steps taken so far.

    Examples:
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.layers.Input((2,)), tg.layers.Dropout(0.5, seed=0)])
        >>> state = capture(model)
        >>> [(path, entry["kind"]) for path, entry in state["generators"].items()]
        [('_stack[0]._rng', 'numpy')]
        >>> state["epoch"], state["step"], state["fit_shuffle"]
        (0, 0, None)
    """
    generators = {
        path: _capture_generator(generator, path) for path, generator in _generators(model)
    }
    shuffle = getattr(model, _FIT_SHUFFLE, None)
    return {
        "format": FORMAT,
        "generators": generators,
        "fit_shuffle": None if shuffle is None else _seed_generator_state(shuffle),
        "epoch": int(getattr(model, _FIT_EPOCH, 0)),
        "step": int(getattr(model, _FIT_STEP, 0)),
    }


def restore(model: Any, state: Any) -> None:
    """Check ``state`` (from `capture`, maybe read from a file) and put it back into ``model``.

    Nothing changes unless the whole document is valid. Generators are restored in place.

    Args:
        model: A model built like the captured one (same layers and generators).
        state: The document `capture` returned (after a JSON round trip, say).

    Raises:
        ValueError: naming the field that is missing, unknown, of the wrong type or out of
            range, or the generators the model and the document do not share.

    Examples:
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.layers.Input((2,)), tg.layers.Dropout(0.5, seed=0)])
        >>> restore(model, {"format": 1})
        Traceback (most recent call last):
        ...
        ValueError: random state: missing fields ['epoch', 'fit_shuffle', 'generators', 'step']
    """
    if not isinstance(state, dict):
        raise ValueError(f"{_WHERE}: expected a JSON object, got {type(state).__name__}")
    unknown = sorted(str(key) for key in state if key not in _FIELDS)
    if unknown:
        raise ValueError(f"{_WHERE}: unknown fields {unknown}")
    missing = sorted(key for key in _FIELDS if key not in state)
    if missing:
        raise ValueError(f"{_WHERE}: missing fields {missing}")
    if state["format"] != FORMAT or isinstance(state["format"], bool):
        raise ValueError(f"{_WHERE}: field 'format' must be {FORMAT}, got {state['format']!r}")
    epoch = _count(state["epoch"], "epoch")
    step = _count(state["step"], "step")
    shuffle = state["fit_shuffle"]
    shuffle_state = None if shuffle is None else _check_seed_generator(shuffle, "fit_shuffle")
    saved = state["generators"]
    if not isinstance(saved, dict):
        raise ValueError(
            f"{_WHERE}: field 'generators' must be an object, got {type(saved).__name__}"
        )
    live = dict(_generators(model))
    absent = sorted(str(path) for path in saved if path not in live)
    if absent:
        raise ValueError(
            f"{_WHERE}: field 'generators' names generators the model does not have: {absent[:5]}"
        )
    uncovered = sorted(path for path in live if path not in saved)
    if uncovered:
        raise ValueError(
            f"{_WHERE}: field 'generators' lacks generators the model has: {uncovered[:5]}"
        )
    # Check everything before changing anything.
    plan = [
        (live[path], _checked_generator_state(live[path], entry, path))
        for path, entry in saved.items()
    ]
    for generator, checked in plan:
        if isinstance(generator, SeedGenerator):
            generator.set_state(checked)
        else:
            generator.bit_generator.state = checked
    if shuffle_state is not None:
        current = getattr(model, _FIT_SHUFFLE, None)
        if current is None:
            current = SeedGenerator(shuffle_state["seed"], name="fit_shuffle")
            object.__setattr__(model, _FIT_SHUFFLE, current)
        current.set_state(shuffle_state)
    else:
        object.__setattr__(model, _FIT_SHUFFLE, None)
    object.__setattr__(model, _FIT_EPOCH, epoch)
    object.__setattr__(model, _FIT_STEP, step)


# -- the walk -----------------------------------------------------------------------------
def _generators(model: Any) -> Iterator[tuple[str, Any]]:
    """``(attribute path, generator)`` for each generator in ``model``, each once."""
    from tapegrad.nn.layers.base import Layer

    seen: set[int] = {id(model)}

    def visit_layer(layer: Any, prefix: str) -> Iterator[tuple[str, Any]]:
        for key, value in vars(layer).items():
            if key in _MODEL_FIELDS:  # (also a nested model's own: its fit is not this one)
                continue
            yield from visit(value, f"{prefix}{key}")

    def visit(value: Any, path: str) -> Iterator[tuple[str, Any]]:
        if isinstance(value, np.random.Generator | SeedGenerator | Layer):
            if id(value) in seen:
                return
            seen.add(id(value))
            if isinstance(value, Layer):
                yield from visit_layer(value, f"{path}.")
            else:
                yield path, value
        elif isinstance(value, list | tuple):
            for k, item in enumerate(value):
                yield from visit(item, f"{path}[{k}]")
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str | int):
                    yield from visit(item, f"{path}[{key!r}]")

    yield from visit_layer(model, "")


# -- one generator ----------------------------------------------------------------------------
def _capture_generator(generator: Any, path: str) -> dict[str, Any]:
    if isinstance(generator, SeedGenerator):
        return _seed_generator_state(generator)
    return {"kind": "numpy", "state": _encode(generator.bit_generator.state)}


def _seed_generator_state(generator: SeedGenerator) -> dict[str, Any]:
    return {"kind": "seed_generator", **generator.get_state()}


def _check_seed_generator(entry: Any, field: str) -> dict[str, int]:
    if not isinstance(entry, dict) or entry.get("kind") != "seed_generator":
        raise ValueError(
            f"{_WHERE}: field {field!r} must be an object with kind "
            f"'seed_generator', got {_short(entry)}"
        )
    rest = {k: v for k, v in entry.items() if k != "kind"}
    seed, counter = check_state(rest, f"{_WHERE}: field {field!r}")
    return {"seed": seed, "counter": counter}


def _checked_generator_state(generator: Any, entry: Any, path: str) -> Any:
    field = f"generators[{path!r}]"
    if isinstance(generator, SeedGenerator):
        return _check_seed_generator(entry, field)
    if not isinstance(entry, dict) or set(entry) != {"kind", "state"} or entry["kind"] != "numpy":
        raise ValueError(
            f"{_WHERE}: field {field} must be an object {{'kind': 'numpy', "
            f"'state': ...}}, got {_short(entry)}"
        )
    decoded = _decode(entry["state"], generator.bit_generator.state, f"{field}.state")
    # NumPy checks the rest (a zero increment, say) when the state is set: try it on a
    # scratch bit generator of the same kind, so a bad state never reaches the model's.
    scratch = type(generator.bit_generator)()
    try:
        scratch.state = decoded
    except (ValueError, TypeError, OverflowError) as err:
        raise ValueError(
            f"{_WHERE}: field {field} is not a valid {type(scratch).__name__} state: {err}"
        ) from None
    return decoded


def _encode(value: Any) -> Any:
    """A bit generator's state as JSON: ints (and int arrays) as hex strings."""
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray):
        return [hex(int(v)) for v in value.reshape(-1)]
    return hex(int(value))


def _decode(value: Any, template: Any, field: str) -> Any:
    """`_encode`'s inverse, checked against the live generator's own state ``template``."""
    if isinstance(template, dict):
        if not isinstance(value, dict) or set(value) != set(template):
            raise ValueError(
                f"{_WHERE}: field {field} must be an object with the fields "
                f"{sorted(template)}, got {_short(value)}"
            )
        return {k: _decode(value[k], template[k], f"{field}.{k}") for k in template}
    if isinstance(template, str):
        if value != template:
            raise ValueError(
                f"{_WHERE}: field {field} must be {template!r} (the model's "
                f"generator), got {_short(value)}"
            )
        return value
    if isinstance(template, np.ndarray):
        if not isinstance(value, list) or len(value) != template.size:
            raise ValueError(
                f"{_WHERE}: field {field} must be a list of {template.size} hex "
                f"integers, got {_short(value)}"
            )
        limit = int(np.iinfo(template.dtype).max)
        words = [_hex_int(v, f"{field}[{k}]", limit) for k, v in enumerate(value)]
        return np.array(words, dtype=template.dtype).reshape(template.shape)
    limit = 1 if isinstance(template, bool) else _MAX_STATE_INT
    return _hex_int(value, field, limit)


def _hex_int(value: Any, field: str, limit: int) -> int:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise ValueError(
            f"{_WHERE}: field {field} must be a hex integer such as '0x1f', got {_short(value)}"
        )
    number = int(value, 16)
    if number > limit:
        raise ValueError(f"{_WHERE}: field {field} must be at most {hex(limit)}, got {value}")
    return number


def _count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_COUNT:
        raise ValueError(
            f"{_WHERE}: field {field!r} must be an int in [0, 2**62], got {_short(value)}"
        )
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


__all__ = ["FORMAT", "capture", "restore"]

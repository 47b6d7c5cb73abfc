"""Saving and loading models: the ``.tapegrad`` archive (Keras 3 ``.keras``-like) and
weights-only safetensors files. Nothing in a file is ever executed.

The archive is a zip with exactly these members:

* ``metadata.json`` — ``{"format": "tapegrad-model", "version": 1, "tapegrad_version"}``.
* ``config.json`` — ``{"class_name": "Sequential" | "Model", "config", "compile_config"}``:
  the model's `get_config` (nested layer configs; a functional model's ``inbound_nodes``
  and ``input_layers``/``output_layers``). A `Lambda` layer's config holds its function as
  a traced graph (`tapegrad.graph.serialize`) plus ``captured_variables``: the weight keys
  of the Variables the graph reads.
* ``weights.safetensors`` — every weight under ``layers/<key>/<index in layer.weights>``
  where ``<key>`` names a top-level layer by its class and position, Keras 3 style
  (``dense``, ``dense_1``, ``lambda``; a nested model's weights under its own key), so a
  weights file also loads into a fresh model of the same architecture whatever its
  layer names; the large constants of Lambda graphs under ``lambdas/<k>/<n>``; and the
  optimizer's Variables (``iterations`` first) under ``optimizer/<index>``.
* ``optimizer.json`` (compiled models) — the optimizer's ``{"class_name", "config"}``,
  whether it was built, and the name, shape and dtype of each of its Variables.

Loading validates the zip (expected members only, bounded sizes read with a cap),
parses the JSON, rebuilds layers only from the classes of `tapegrad.nn.layers` (and
``custom_objects`` the caller passes), rebuilds each Lambda's function as a replay of its
graph through the primitive table, re-wires functional models, checks and assigns every
weight, and restores the optimizer so training resumes exactly. Every problem with a file
raises ValueError naming it (OSError for I/O).

Writes are atomic: a temporary file in the target directory, flushed and fsynced, then
``os.replace``; a failure leaves any previous file untouched and no temporary file.

The package: `archive` (zip, JSON, safetensors, atomic writes, bounds), `config` (model
and layer configs), `lambdas` (Lambda graphs), `weights` (weight keys and assignment),
`compiled` (compile configuration and optimizer).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad.nn.layers.base import Layer
from tapegrad.nn.models.model import Model
from tapegrad.nn.saving.archive import (
    _ZIP_MAGIC,
    EXTENSIONS,
    FORMAT,
    MEMBER_LIMITS,
    VERSION,
    WEIGHTS_FORMAT,
    _atomic_write,
    _check_header,
    _expect_keys,
    _json_bytes,
    _load_safetensors,
    _parse_json,
    _read_archive,
    _safetensors_bytes,
    _safetensors_metadata,
    _write_members,
)
from tapegrad.nn.saving.compiled import _compile_config, _optimizer_document, _restore_compiled
from tapegrad.nn.saving.config import _Loader, _Saver
from tapegrad.nn.saving.lambdas import GraphFunction
from tapegrad.nn.saving.weights import _assign_weights, _weight_arrays


# -- public API -------------------------------------------------------------------------------
def save_model(model: Model, filepath: str | os.PathLike[str]) -> None:
    """Save architecture, weights and optimizer state to a ``.tapegrad`` archive.

    Args:
        model: A `Sequential` or functional `Model`.
        filepath: Path ending in ``.tapegrad`` (or ``.keras``).

    Raises:
        ValueError: the model cannot be saved (a subclassed model, a Lambda that cannot
            be traced into primitives, a config that is not JSON, ...), naming why.
        OSError: the file cannot be written (any previous file is left untouched).
    """
    path = os.fspath(filepath)
    if not path.endswith(EXTENSIONS):
        raise ValueError(
            f"save_model: the file name must end in {' or '.join(EXTENSIONS)}, got {path!r} "
            "(use save_weights for weights only)"
        )
    saver = _Saver(model)
    config = {"class_name": type(model).__name__, "config": saver.model_config(model, None),
              "compile_config": _compile_config(model)}
    arrays = {**saver.arrays, **_weight_arrays(model)}
    members = {
        "metadata.json": _json_bytes({"format": FORMAT, "version": VERSION,
                                      "tapegrad_version": tg.__version__}),
        "config.json": _json_bytes(config, "config.json"),
    }
    optimizer = getattr(model, "optimizer", None)
    if getattr(model, "compiled", False) and optimizer is not None:
        members["optimizer.json"] = _json_bytes(_optimizer_document(optimizer), "optimizer.json")
        for k, variable in enumerate(optimizer.variables):
            arrays[f"optimizer/{k}"] = np.asarray(variable.numpy())
    members["weights.safetensors"] = _safetensors_bytes(arrays, {"format": FORMAT})
    _atomic_write(path, lambda file: _write_members(file, members))


def load_model(filepath: str | os.PathLike[str], custom_objects: dict[str, Any] | None = None,
               compile: bool = True, safe_mode: bool = True) -> Model:  # noqa: A002
    """Load a model saved by `save_model`; nothing from the file is executed.

    Args:
        filepath: The archive.
        custom_objects: ``{class name: Layer subclass}`` for your own layers (classes you
            pass, never code from the file).
        compile: Recompile with the saved loss/metrics and restore the optimizer state.
        safe_mode: Accepted for Keras compatibility: archives never contain code (a Lambda
            is a graph of primitives), so loading is always safe.

    Returns:
        The model, with its weights (and optimizer state when compiled).

    Raises:
        ValueError: not a tapegrad archive, a corrupt or hostile file (unexpected or
            oversized member, bad JSON, wrong format or version, unknown layer class or
            primitive, a weight of the wrong shape or dtype, ...), naming the problem.
        OSError: the file cannot be read.

    Examples:
        >>> import os, tempfile
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.layers.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.tapegrad")
        >>> model.save(path)
        >>> loaded = tg.models.load_model(path)
        >>> bool(np.array_equal(loaded.predict(np.ones((1, 2)), verbose=0),
        ...                     model.predict(np.ones((1, 2)), verbose=0)))
        True
    """
    del safe_mode  # always safe: see the docstring
    members = _read_archive(os.fspath(filepath))
    metadata = _parse_json(members["metadata.json"], "metadata.json")
    _check_header(metadata, "metadata.json", FORMAT)
    document = _parse_json(members["config.json"], "config.json")
    _expect_keys(document, "config.json", {"class_name", "config", "compile_config"})
    arrays = _load_safetensors(members["weights.safetensors"], "weights.safetensors")
    loader = _Loader(arrays, custom_objects)
    model = loader.model_from_config(document["class_name"], document["config"], "config.json")
    loader.lambdas.resolve_shared_variables(model)
    _assign_weights(model, arrays, "weights.safetensors", archive=True)
    compile_config = document["compile_config"]
    if compile and compile_config is not None:
        if "optimizer.json" not in members:
            raise ValueError("archive: compile_config is present but optimizer.json is missing")
        optimizer_doc = _parse_json(members["optimizer.json"], "optimizer.json")
        _restore_compiled(model, compile_config, optimizer_doc, arrays)
    return model


def save_weights(model: Layer, filepath: str | os.PathLike[str]) -> None:
    """Save the weights only, as safetensors (keys ``layers/<key>/<index>``, see above)."""
    arrays = _weight_arrays(model)
    data = _safetensors_bytes(arrays, {"format": WEIGHTS_FORMAT, "version": str(VERSION)})
    _atomic_write(os.fspath(filepath), lambda file: file.write(data))


def load_weights(model: Layer, filepath: str | os.PathLike[str]) -> None:
    """Load weights saved by `save_weights` (or from a `save_model` archive).

    Raises:
        ValueError: a missing or unexpected weight, or a shape/dtype mismatch (named).
    """
    path = os.fspath(filepath)
    with open(path, "rb") as file:
        magic = file.read(4)
    if magic == _ZIP_MAGIC:
        members = _read_archive(path)
        _check_header(_parse_json(members["metadata.json"], "metadata.json"), "metadata.json",
                      FORMAT)
        arrays = _load_safetensors(members["weights.safetensors"], "weights.safetensors")
        _assign_weights(model, arrays, path, archive=True)
        return
    with open(path, "rb") as file:
        data = file.read(MEMBER_LIMITS["weights.safetensors"] + 1)
    if len(data) > MEMBER_LIMITS["weights.safetensors"]:
        raise ValueError(f"{path}: larger than the {MEMBER_LIMITS['weights.safetensors']} "
                         "bytes accepted")
    arrays = _load_safetensors(data, path)
    metadata = _safetensors_metadata(data)
    if metadata.get("format", WEIGHTS_FORMAT) != WEIGHTS_FORMAT:
        raise ValueError(f"{path}: format {metadata['format']!r} is not {WEIGHTS_FORMAT!r}")
    if metadata.get("version", str(VERSION)) != str(VERSION):
        raise ValueError(f"{path}: unsupported version {metadata['version']!r} (this tapegrad "
                         f"reads version {VERSION})")
    _assign_weights(model, arrays, path, archive=False)



__all__ = ["GraphFunction", "load_model", "load_weights", "save_model", "save_weights"]

"""Saving and loading models: the ``.tapegrad`` archive (Keras 3 ``.keras``-like) and
weights-only safetensors files. Nothing in a file is ever executed.

The archive is a zip with exactly these members:

* ``metadata.json`` — ``{"format": "tapegrad-model", "version": 3, "tapegrad_version",
  "checksums": {"weights": {tensor name: SHA-256}, "lambdas": [SHA-256 per Lambda]}}``
  (version 1 archives, without checksums, still load).
* ``config.json`` — ``{"class_name": "Sequential" | "Model", "config", "compile_config",
  "random_state"}``: the model's `get_config` (nested layer configs; a functional model's
  ``inbound_nodes`` and ``input_layers``/``output_layers``). A `Lambda` layer's config
  holds its function as a traced graph (`tapegrad.graph.serialize`) plus
  ``captured_variables``: the weight keys of the Variables the graph reads.
  ``compile_config`` is what ``compile`` was given (names as names, so ``"accuracy"``
  resolves against the loss again; loss weights; ``jit_compile``); ``random_state`` is
  `tapegrad.nn.random_state.capture` (layer generators, ``fit``'s shuffling, epoch, step).
* ``weights.safetensors`` — every weight under ``layers/<key>/<index in layer.weights>``
  where ``<key>`` names a top-level layer by its class and position, Keras 3 style
  (``dense``, ``dense_1``, ``lambda``; a nested model's weights under its own key), so a
  weights file also loads into a fresh model of the same architecture whatever its
  layer names; the large constants of Lambda graphs under ``lambdas/<k>/<n>``; and the
  optimizer's Variables (``iterations`` first) under ``optimizer/<index>``.
* ``optimizer.json`` (compiled models) — the optimizer's ``{"class_name", "config"}``,
  whether it was built, and the name, shape and dtype of each of its Variables.

Loading validates the zip (expected members only; sizes the zip declares checked against
the file and a compression-ratio bound before reading), parses the JSON, checks every
size in the config against ``max_tensor_elements``, verifies the checksums, rebuilds
layers only from the classes of `tapegrad.nn.layers`, the classes registered with
``register_keras_serializable`` and the ``custom_objects`` the caller passes (custom
functions, losses, metrics... are found by name the same way, never as code), rebuilds
each Lambda's function as a replay of its graph through the primitive table, re-wires
functional models, checks and assigns every weight, and restores the
optimizer and the random state so training resumes exactly. Every problem with a file
raises `ArchiveError` (a ValueError) naming the member and field; failing to open the
file raises OSError.

Writes are atomic: a temporary file ``.<name>.<pid>-<thread>.tmp-tapegrad`` in the target
directory, flushed and fsynced, then ``os.replace``; a failure leaves any previous file
untouched and no temporary file, and a save removes the temporary files that killed
saves of the same path left behind.

The package: `archive` (zip, JSON, safetensors, checksums, atomic writes), `bounds` (size
limits), `config` (model and layer configs), `lambdas` (Lambda graphs), `weights` (weight
keys and assignment), `compiled` (compile configuration and optimizer), `model_config`
(a model's config and JSON without weights, `clone_model`).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad.nn import random_state
from tapegrad.nn.layers.base import Layer
from tapegrad.nn.models.model import Model
from tapegrad.nn.object_registration import CustomObjectScope
from tapegrad.nn.saving.archive import (
    _ZIP_MAGIC,
    EXTENSIONS,
    FORMAT,
    MEMBER_LIMITS,
    READ_VERSIONS,
    VERSION,
    WEIGHTS_FORMAT,
    ArchiveError,
    _atomic_write,
    _check_header,
    _checksums,
    _expect_keys,
    _json_bytes,
    _load_safetensors,
    _parse_json,
    _read_archive,
    _safetensors_bytes,
    _safetensors_metadata,
    _stored_elements,
    _verify_tensors,
    _write_members,
    tensor_sha256,
)
from tapegrad.nn.saving.bounds import MAX_TENSOR_ELEMENTS, WeightBudget, check_config_sizes
from tapegrad.nn.saving.compiled import compile_config, optimizer_document, restore_compiled
from tapegrad.nn.saving.config import Loader, Saver, layer_classes
from tapegrad.nn.saving.lambdas import GraphFunction
from tapegrad.nn.saving.model_config import (
    clone_model,
    model_from_config,
    model_from_json,
    model_to_config,
    model_to_json,
)
from tapegrad.nn.saving.weights import assign_weights, weight_arrays

_DOCUMENT_KEYS = {"class_name", "config", "compile_config"}


# -- public API -------------------------------------------------------------------------------
def save_model(
    model: Model,
    filepath: str | os.PathLike[str],
    overwrite: bool = True,
    zipped: bool | None = None,
    **kwargs: Any,
) -> None:
    """Save architecture, weights and optimizer state to a ``.tapegrad`` archive.

    Args:
        model: A `Sequential` or functional `Model`.
        filepath: Path ending in ``.tapegrad`` (or ``.keras``).
        overwrite: Replace an existing file (else ask on the terminal, as Keras does).
        zipped: Keras' choice of a zip (True, the default) or a folder; tapegrad archives
            are always zip files, so False is refused.
        **kwargs: Keras' ``include_optimizer`` (the optimizer is always saved when the
            model is compiled); other names are refused.

    Raises:
        ValueError: the model cannot be saved (a subclassed model, a Lambda that cannot
            be traced into primitives, a config that is not JSON, ...), naming why.
        OSError: the file cannot be written (any previous file is left untouched).
    """
    kwargs.pop("include_optimizer", None)
    if kwargs:
        raise ValueError(f"save_model: unsupported argument(s) {sorted(kwargs)}")
    if zipped is False:
        raise ValueError(
            "save_model: zipped=False (an unzipped folder) is not supported: a tapegrad "
            "archive is always one zip file"
        )
    path = os.fspath(filepath)
    if not _may_write(path, overwrite):
        return
    if not path.endswith(EXTENSIONS):
        raise ValueError(
            f"save_model: the file name must end in {' or '.join(EXTENSIONS)}, got {path!r} "
            "(use save_weights for weights only)"
        )
    saver = Saver(model)
    config = {
        "class_name": type(model).__name__,
        "config": saver.model_config(model, None),
        "compile_config": compile_config(model),
        "random_state": random_state.capture(model),
    }
    arrays = {**saver.arrays, **weight_arrays(model)}
    optimizer = getattr(model, "optimizer", None)
    optional = {}
    if getattr(model, "compiled", False) and optimizer is not None:
        optional["optimizer.json"] = _json_bytes(optimizer_document(optimizer), "optimizer.json")
        for k, variable in enumerate(optimizer.variables):
            arrays[f"optimizer/{k}"] = np.asarray(variable.numpy())
    checksums = {
        "weights": {key: tensor_sha256(array) for key, array in sorted(arrays.items())},
        "lambdas": saver.lambdas.checksums,
    }
    members = {
        "metadata.json": _json_bytes(
            {
                "format": FORMAT,
                "version": VERSION,
                "tapegrad_version": tg.__version__,
                "checksums": checksums,
            }
        ),
        "config.json": _json_bytes(config, "config.json"),
        **optional,
        "weights.safetensors": _safetensors_bytes(arrays, {"format": FORMAT}),
    }
    _atomic_write(path, lambda file: _write_members(file, members))


def load_model(
    filepath: str | os.PathLike[str],
    custom_objects: dict[str, Any] | None = None,
    compile: bool = True,  # noqa: A002
    safe_mode: bool = True,
    *,
    verify: bool = True,
    max_tensor_elements: int = MAX_TENSOR_ELEMENTS,
) -> Model:
    """Load a model saved by `save_model`; nothing from the file is executed.

    Loading is bounded: sizes the zip declares are checked against the file (a member
    may not claim to expand more than `archive.MAX_COMPRESSION_RATIO` times), the
    safetensors header against its data, and every size in the config (``units``,
    ``filters``, ``kernel_size``, shapes, ``input_dim``/``output_dim``, ...) against
    ``max_tensor_elements`` before any layer is built; while layers are rebuilt, each
    weight they create is checked against that bound and, in total, against the number of
    values the archive stores. Archives written since version 2 hold a SHA-256 per weight
    tensor and per Lambda graph, verified before anything is assigned.

    Args:
        filepath: The archive.
        custom_objects: ``{name: object}``: your own layers, losses, metrics,
            activations, initializers, regularizers or plain functions, found by the
            names the file gives them (objects you pass, never code from the file); names
            registered with `register_keras_serializable` need no entry.
        compile: Recompile with the saved loss, metrics (given as names, they resolve as
            ``compile`` resolves them), loss weights and jit setting, and restore the
            optimizer state.
        safe_mode: Accepted for Keras compatibility: archives never contain code (a Lambda
            is a graph of primitives), so loading is always safe.
        verify: Check the SHA-256 of every weight tensor and Lambda graph (archives of
            version 1 have none); ``False`` skips the check (a damaged file then loads
            whatever its bytes say).
        max_tensor_elements: The most elements any one weight, input or declared size may
            have (default `bounds.MAX_TENSOR_ELEMENTS`, 2**28); raise it for larger models.

    Returns:
        The model, with its weights (and optimizer state when compiled).

    Raises:
        ArchiveError: (a `ValueError`) not a tapegrad archive, a corrupt, altered or hostile
            file (unexpected or oversized member, bad JSON, wrong format or version,
            unknown layer class or primitive, a size over the bound, a checksum mismatch,
            a weight of the wrong shape or dtype, ...), naming the member and field.
        OSError: the file cannot be opened.

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
    if (
        isinstance(max_tensor_elements, bool)
        or not isinstance(max_tensor_elements, int)
        or max_tensor_elements < 1
    ):
        raise ValueError(
            f"load_model: max_tensor_elements must be a positive int, got {max_tensor_elements!r}"
        )
    path = os.fspath(filepath)
    classes = layer_classes(custom_objects)  # TypeError: the caller's mistake, not the file's
    members = _read_archive(path)  # OSError when the file cannot be opened
    progress = {"where": "metadata.json"}  # what was being read, for unexpected errors
    try:
        with CustomObjectScope(custom_objects):
            return _load(members, classes, compile, verify, max_tensor_elements, progress)
    except ArchiveError:
        raise
    except Exception as err:  # anything else a hostile file provokes: named, one type
        raise ArchiveError(
            f"{path}: {progress['where']}: {type(err).__name__}: {str(err)[:500]}"
        ) from err


def _load(
    members: dict[str, bytes],
    classes: dict[str, type[Layer]],
    recompile: bool,
    verify: bool,
    max_tensor_elements: int,
    progress: dict[str, str],
) -> Model:
    metadata = _parse_json(members["metadata.json"], "metadata.json")
    _check_header(metadata, "metadata.json", FORMAT)
    checksums = _checksums(metadata, "metadata.json") if verify else None
    progress["where"] = "config.json"
    document = _parse_json(members["config.json"], "config.json")
    if not isinstance(document, dict) or set(document) != _DOCUMENT_KEYS:
        _expect_keys(document, "config.json", _DOCUMENT_KEYS | {"random_state"})
    check_config_sizes(document, max_tensor_elements)
    progress["where"] = "weights.safetensors"
    weights = members["weights.safetensors"]
    budget = WeightBudget(max_tensor_elements, _stored_elements(weights))
    arrays = _load_safetensors(weights, "weights.safetensors")
    if checksums is not None:
        _verify_tensors(arrays, checksums["weights"], "weights.safetensors")
    loader = Loader(arrays, classes, None if checksums is None else checksums["lambdas"], progress)
    with budget.checking():  # every weight a layer creates is counted before allocation
        model = loader.model_from_config(document["class_name"], document["config"], "config.json")
    loader.lambdas.check_all_verified()
    progress["where"] = "config.json: the Variables Lambdas share"
    loader.lambdas.resolve_shared_variables(model, metadata["version"])
    progress["where"] = "weights.safetensors: assigning the weights"
    assign_weights(model, arrays, "weights.safetensors", True, metadata["version"])
    saved_compile = document["compile_config"]
    if recompile and saved_compile is not None:
        if "optimizer.json" not in members:
            raise ArchiveError("archive: compile_config is present but optimizer.json is missing")
        progress["where"] = "optimizer.json and config.json compile_config"
        optimizer_doc = _parse_json(members["optimizer.json"], "optimizer.json")
        restore_compiled(model, saved_compile, optimizer_doc, arrays)
    if "random_state" in document:  # archives before version 2 have none
        try:
            random_state.restore(model, document["random_state"])
        except ValueError as err:
            raise ArchiveError(f"config.json random_state: {err}") from err
    return model


def save_weights(
    model: Layer,
    filepath: str | os.PathLike[str],
    overwrite: bool = True,
    max_shard_size: Any = None,
    **kwargs: Any,
) -> None:
    """Save the weights only, as safetensors (keys ``layers/<key>/<index>``, see above),
    with each tensor's SHA-256 in the safetensors metadata (``checksums``).

    Args:
        model: The built model (or layer).
        filepath: The file to write.
        overwrite: Replace an existing file (else ask on the terminal, as Keras does).
        max_shard_size: Keras' sharding of large files: not supported (None only).
        **kwargs: Refused (named).
    """
    if kwargs:
        raise ValueError(f"save_weights: unsupported argument(s) {sorted(kwargs)}")
    if max_shard_size is not None:
        raise ValueError(
            "save_weights: max_shard_size is not supported: the weights go to one file"
        )
    if not _may_write(os.fspath(filepath), overwrite):
        return
    arrays = weight_arrays(model)
    checksums = {key: tensor_sha256(array) for key, array in sorted(arrays.items())}
    data = _safetensors_bytes(
        arrays,
        {"format": WEIGHTS_FORMAT, "version": str(VERSION), "checksums": json.dumps(checksums)},
    )
    _atomic_write(os.fspath(filepath), lambda file: file.write(data))


def load_weights(
    model: Layer,
    filepath: str | os.PathLike[str],
    skip_mismatch: bool = False,
    *,
    verify: bool = True,
    **kwargs: Any,
) -> None:
    """Load weights saved by `save_weights` (or from a `save_model` archive).

    Args:
        model: The built model (or layer) to assign to.
        filepath: A weights file or a model archive.
        skip_mismatch: Keras' option to skip layers whose weights do not match: not
            supported (False only; a mismatch raises, naming the weight).
        verify: Check each tensor's SHA-256 where the file records them (files written
            before version 2 do not); ``False`` skips it.
        **kwargs: Refused (named).

    Raises:
        ArchiveError: (a `ValueError`) a corrupt or altered file, a missing or unexpected
            weight, or a shape/dtype mismatch (named).
        OSError: the file cannot be opened.
    """
    if kwargs:
        raise ValueError(f"load_weights: unsupported argument(s) {sorted(kwargs)}")
    if skip_mismatch:
        raise ValueError(
            "load_weights: skip_mismatch=True is not supported: every weight must match "
            "(the error names the one that does not)"
        )
    path = os.fspath(filepath)
    with open(path, "rb") as file:  # OSError here: the file cannot be read at all
        magic = file.read(4)
    try:
        _load_weights(model, path, magic == _ZIP_MAGIC, verify)
    except ArchiveError:
        raise
    except Exception as err:  # anything else a damaged file provokes: named, one type
        raise ArchiveError(f"{path}: {type(err).__name__}: {str(err)[:500]}") from err


def _may_write(path: str, overwrite: bool) -> bool:
    """Whether to write ``path``: yes when it is new or ``overwrite``; else the user is
    asked, as Keras asks (no answer, as in a job without a terminal, is no)."""
    if overwrite or not os.path.exists(path):
        return True
    prompt = f"[WARNING] {path} already exists - overwrite? [y/n] "
    while True:
        try:
            answer = input(prompt).strip().lower()
        except EOFError:
            return False
        if answer in ("y", "n"):
            return answer == "y"
        prompt = 'Enter "y" (overwrite) or "n" (cancel). '


def _load_weights(model: Layer, path: str, archive: bool, verify: bool) -> None:
    if archive:
        members = _read_archive(path)
        metadata = _parse_json(members["metadata.json"], "metadata.json")
        _check_header(metadata, "metadata.json", FORMAT)
        checksums = _checksums(metadata, "metadata.json") if verify else None
        arrays = _load_safetensors(members["weights.safetensors"], "weights.safetensors")
        if checksums is not None:
            _verify_tensors(arrays, checksums["weights"], "weights.safetensors")
        assign_weights(model, arrays, path, True, metadata["version"])
        return
    with open(path, "rb") as file:
        data = file.read(MEMBER_LIMITS["weights.safetensors"] + 1)
    if len(data) > MEMBER_LIMITS["weights.safetensors"]:
        raise ArchiveError(
            f"{path}: larger than the {MEMBER_LIMITS['weights.safetensors']} bytes accepted"
        )
    arrays = _load_safetensors(data, path)
    metadata = _safetensors_metadata(data)
    if metadata.get("format", WEIGHTS_FORMAT) != WEIGHTS_FORMAT:
        raise ArchiveError(f"{path}: format {metadata['format'][:100]!r} is not {WEIGHTS_FORMAT!r}")
    if metadata.get("version", "1") not in {str(v) for v in READ_VERSIONS}:
        raise ArchiveError(
            f"{path}: unsupported version {metadata['version'][:100]!r} (this "
            f"tapegrad reads versions {list(READ_VERSIONS)})"
        )
    if verify and "checksums" in metadata:
        expected = _parse_json(metadata["checksums"].encode(), f"{path} checksums")
        if not isinstance(expected, dict) or not all(isinstance(v, str) for v in expected.values()):
            raise ArchiveError(f"{path}: checksums: expected {{tensor name: SHA-256 hex}}")
        _verify_tensors(arrays, expected, path)
    assign_weights(model, arrays, path, False, int(metadata.get("version", "1")))


__all__ = [
    "ArchiveError",
    "GraphFunction",
    "clone_model",
    "load_model",
    "load_weights",
    "model_from_config",
    "model_from_json",
    "model_to_config",
    "model_to_json",
    "save_model",
    "save_weights",
]

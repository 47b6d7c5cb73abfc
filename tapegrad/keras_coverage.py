"""Which of Keras 3's public names tapegrad serves (as `tapegrad.numpy.coverage` does for NumPy).

Run ``python -m tapegrad.keras_coverage`` (``--markdown`` for the docs page,
``docs/keras_coverage.md``). Every public name of the Keras 3 modules in `MODULES` is one of:

* **supported** — ``tapegrad.<module>.<name>`` exists, with Keras's arguments;
* **differs** — it exists but differs from Keras in a way the report says: a known difference
  (`DIFFERS`, or a module's own ``DIFFERS`` dict), or arguments that do not match Keras's
  signature (a Keras argument missing, another default, another positional order);
* **not supported** — using it raises an error that says so; the report gives why (a module's
  ``UNSUPPORTED`` dict, `OUT_OF_SCOPE`, or "not implemented yet").

The names come from Keras itself when ``keras`` is importable, else from the snapshot
checked in beside this file (``keras_coverage_snapshot.json``, Keras 3.15.1; regenerate it
with ``--snapshot`` in an environment that has Keras). ``keras.applications`` (pretrained
models) and the ``keras.datasets`` downloaders are out of scope: nothing is downloaded at run
time.
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib
import inspect
import json
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).with_name("keras_coverage_snapshot.json")

# Keras module -> the tapegrad module that serves it.
MODULES: dict[str, str] = {
    "keras": "tapegrad",
    "keras.layers": "tapegrad.layers",
    "keras.ops": "tapegrad.ops",
    "keras.ops.nn": "tapegrad.ops.nn",
    "keras.ops.image": "tapegrad.ops.image",
    "keras.ops.linalg": "tapegrad.ops.linalg",
    "keras.ops.numpy": "tapegrad.ops.numpy",
    "keras.losses": "tapegrad.losses",
    "keras.metrics": "tapegrad.metrics",
    "keras.optimizers": "tapegrad.optimizers",
    "keras.optimizers.schedules": "tapegrad.optimizers.schedules",
    "keras.callbacks": "tapegrad.callbacks",
    "keras.utils": "tapegrad.utils",
    "keras.random": "tapegrad.random",
    "keras.saving": "tapegrad.saving",
    "keras.backend": "tapegrad.backend",
    "keras.config": "tapegrad.config",
    "keras.models": "tapegrad.models",
    "keras.activations": "tapegrad.activations",
    "keras.initializers": "tapegrad.initializers",
    "keras.regularizers": "tapegrad.regularizers",
    "keras.constraints": "tapegrad.constraints",
    "keras.tree": "tapegrad.tree",
    "keras.distribution": "tapegrad.distribution",
}

STATUSES = ("supported", "differs", "not supported")

_NO_DOWNLOADS = "out of scope: tapegrad downloads nothing at run time"
# Whole areas of Keras tapegrad does not take on, with why (keyed by qualified name).
OUT_OF_SCOPE: dict[str, str] = {
    "keras.applications": f"{_NO_DOWNLOADS} (pretrained models and their weights)",
    "keras.datasets": f"{_NO_DOWNLOADS} (tapegrad.datasets ships the digits instead)",
    "keras.export": "out of scope: exports to TensorFlow SavedModel / ONNX formats",
    "keras.legacy": "out of scope: Keras 2 (tf.keras) compatibility shims",
    "keras.preprocessing": "out of scope: Keras 2's deprecated preprocessing namespace",
    "keras.wrappers": "out of scope: scikit-learn wrappers",
    "keras.layers.TFSMLayer": "out of scope: loads a TensorFlow SavedModel",
    "keras.layers.JaxLayer": "out of scope: wraps a JAX function (another framework)",
    "keras.layers.FlaxLayer": "out of scope: wraps a Flax module (another framework)",
    "keras.layers.TorchModuleWrapper": "out of scope: wraps a PyTorch module",
    "keras.optimizers.legacy": "out of scope: Keras 2 (tf.keras) optimizers",
    "keras.utils.legacy": "out of scope: Keras 2 (tf.keras) compatibility shims",
    "keras.callbacks.OrbaxCheckpoint": "out of scope: checkpoints through Orbax (a JAX library)",
    "keras.config.set_backend": "out of scope: tapegrad is the backend",
    "keras.config.is_nnx_enabled": "out of scope: Flax NNX is a JAX-backend feature",
    **{
        f"keras.distribution.{name}": (
            "model and sharded parallelism (device meshes, tensor layouts) are not "
            "implemented: tapegrad.distribution is data parallelism over MPI processes, "
            "a full model copy on each"
        )
        for name in (
            "DeviceMesh",
            "LayoutMap",
            "ModelParallel",
            "TensorLayout",
            "distribute_tensor",
        )
    },
}

# Known differences of names tapegrad has, with how they differ (qualified name -> how).
DIFFERS: dict[str, str] = {
    "keras.backend.backend": "answers 'tapegrad' (Keras answers its backend's name)",
    "keras.datasets": "holds `load_digits` (shipped); Keras's downloaders are out of scope",
    "keras.utils.get_file": "never downloads: serves the cache and file:// URLs, refuses others",
}


def _kind(obj: Any) -> str:
    if isinstance(obj, types.ModuleType):
        return "module"
    if isinstance(obj, type):
        return "class"
    if callable(obj):
        return "function"
    return "value"


def _default_repr(value: Any) -> str:
    # Functions and objects as defaults are named, not shown by address.
    if callable(value) or " at 0x" in repr(value):
        return f"<{getattr(value, '__name__', type(value).__name__)}>"
    return repr(value)


def _parameters(obj: Any) -> list[list[Any]] | None:
    """``[name, kind, default repr or None]`` for each parameter, or None if unknown."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    out = []
    for param in signature.parameters.values():
        default = None if param.default is param.empty else _default_repr(param.default)
        out.append([param.name, param.kind.name, default])
    return out


def describe_module(module: Any) -> dict[str, dict[str, Any]]:
    """Kind and parameters of each public name of ``module`` (the snapshot's entries)."""
    names = {}
    for name in sorted(dir(module)):
        if name.startswith("_") or name == "src":  # keras.src: Keras's implementation
            continue
        obj = getattr(module, name)
        entry: dict[str, Any] = {"kind": _kind(obj)}
        if entry["kind"] in ("class", "function"):
            entry["params"] = _parameters(obj)
        names[name] = entry
    return names


@functools.cache
def _installed_keras() -> Any:
    """Keras if it imports here (with whatever backend is configured), else None."""
    try:
        return importlib.import_module("keras")
    except ImportError:
        return None


def keras_names(source: str = "auto") -> tuple[str, dict[str, dict[str, dict[str, Any]]]]:
    """Keras's version and public names by module: from Keras itself or from the snapshot.

    Args:
        source: ``"keras"`` (import Keras; fails without it), ``"snapshot"`` (the checked-in
            file) or ``"auto"`` (Keras if importable, else the snapshot).

    Returns:
        ``(version, {module: {name: {"kind": ..., "params": ...}}})``.

    Examples:
        >>> version, names = keras_names("snapshot")
        >>> version.startswith("3.")
        True
        >>> names["keras.layers"]["Dense"]["kind"]
        'class'
    """
    if source not in ("auto", "snapshot", "keras"):
        raise ValueError(
            f"keras_names: source must be 'auto', 'keras' or 'snapshot', got {source!r}"
        )
    keras = _installed_keras() if source != "snapshot" else None
    if keras is not None:
        modules = {name: describe_module(importlib.import_module(name)) for name in MODULES}
        return keras.__version__, modules
    if source == "keras":
        raise ImportError("keras_names: source='keras', but Keras does not import here")
    data = json.loads(SNAPSHOT.read_text())
    return data["keras_version"], data["modules"]


@functools.cache
def _snapshot_names(keras_module: str) -> frozenset[str]:
    data = json.loads(SNAPSHOT.read_text())
    return frozenset(data["modules"].get(keras_module, ()))


def missing_name_error(
    keras_module: str, name: str, reasons: dict[str, str] | None = None
) -> AttributeError:
    """The error for ``tapegrad.<module>.<name>`` that tapegrad lacks (a module ``__getattr__``).

    A Keras 3 name gets an error saying tapegrad does not support it, and why (``reasons``,
    then `OUT_OF_SCOPE`, else "not implemented yet"); any other name gets Python's usual
    message. It is an ``AttributeError`` so that ``hasattr`` and ``getattr(m, n, default)``
    keep working.

    Args:
        keras_module: The Keras module the tapegrad module serves, e.g. ``"keras.layers"``.
        name: The attribute asked for.
        reasons: The tapegrad module's ``UNSUPPORTED`` dict (name -> why).

    Returns:
        The ``AttributeError`` to raise.

    Examples:
        >>> str(missing_name_error("keras.layers", "TFSMLayer"))[:60]
        "tapegrad.layers.TFSMLayer is not supported: Keras's keras.la"
        >>> str(missing_name_error("keras.layers", "Nonesuch"))
        "module 'tapegrad.layers' has no attribute 'Nonesuch'"
    """
    target = MODULES[keras_module]
    if name.startswith("_") or name not in _snapshot_names(keras_module):
        return AttributeError(f"module {target!r} has no attribute {name!r}")
    qualified = f"{keras_module}.{name}"
    why = (reasons or {}).get(name) or OUT_OF_SCOPE.get(qualified) or "not implemented yet"
    return AttributeError(
        f"{target}.{name} is not supported: Keras's {qualified} has no tapegrad "
        f"counterpart ({why}); `python -m tapegrad.keras_coverage` lists what is supported"
    )


def _tapegrad_object(module: Any, name: str) -> tuple[bool, Any]:
    """``(True, obj)`` if tapegrad has ``module.name``, else ``(False, the error's message)``."""
    try:
        return True, getattr(module, name)
    except (AttributeError, NotImplementedError) as err:
        return False, str(err)


def _why_unsupported(module: Any, qualified: str, name: str, message: str) -> str:
    for key in (qualified, qualified.rsplit(".", 1)[0]):
        if key in OUT_OF_SCOPE:
            return OUT_OF_SCOPE[key]
    reason = (getattr(module, "UNSUPPORTED", None) or {}).get(name) if module else None
    if reason:
        return reason
    if module is None:
        return f"not implemented yet ({message})"
    return "not implemented yet"


def _same_default(keras_default: str, our_default: str) -> bool:
    """Equal reprs, or an int where Keras repeats it in a tuple (``1`` and ``(1, 1)``)."""
    if keras_default == our_default:
        return True
    try:
        theirs, mine = ast.literal_eval(keras_default), ast.literal_eval(our_default)
    except (ValueError, SyntaxError):
        return False
    if isinstance(mine, int) and isinstance(theirs, tuple):
        return all(v == mine for v in theirs)
    return theirs == mine


def _resolve(target: str) -> Any:
    """Import ``target``, or reach it as an attribute of its parent (``tapegrad.ops.numpy``)."""
    try:
        return importlib.import_module(target)
    except ImportError:
        parent, _, child = target.rpartition(".")
        module = getattr(_resolve(parent), child, None) if parent else None
        if module is None:
            raise
        return module


def _signature_difference(keras_params: list[list[Any]] | None, obj: Any) -> str | None:
    """How ``obj``'s arguments differ from Keras's, or None where they match (or are unknown)."""
    ours = _parameters(obj)
    if keras_params is None or ours is None:
        return None
    explicit = ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD", "KEYWORD_ONLY")
    theirs = {p[0]: p for p in keras_params if p[1] in explicit}
    mine = {p[0]: p for p in ours if p[1] in explicit}
    takes_kwargs = any(p[1] == "VAR_KEYWORD" for p in ours)
    positional = ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")
    keras_order = [p[0] for p in keras_params if p[1] in positional]
    our_order = [p[0] for p in ours if p[1] in positional]
    notes = []
    missing, renamed = [], []
    for name in theirs:
        if name in mine:
            continue
        index = keras_order.index(name) if name in keras_order else -1
        if 0 <= index < len(our_order) and our_order[index] not in theirs:
            renamed.append((our_order[index], name))
        elif not takes_kwargs:
            missing.append(name)
    if renamed:
        notes.append(
            "argument names "
            + ", ".join(f"`{ours}`" for ours, _ in renamed)
            + " for Keras's "
            + ", ".join(f"`{keras}`" for _, keras in renamed)
            + " (positional calls work)"
        )
    if missing:
        notes.append("no argument " + ", ".join(f"`{n}`" for n in missing))
    for name in theirs.keys() & mine.keys():
        keras_default, our_default = theirs[name][2], mine[name][2]
        if keras_default is not None and our_default is not None:
            if not _same_default(keras_default, our_default):
                notes.append(f"`{name}` defaults to {our_default} (Keras: {keras_default})")
        elif keras_default is not None:
            notes.append(f"`{name}` is required (Keras defaults it to {keras_default})")
    shared = [n for n in keras_order if n in our_order]
    if shared != [n for n in our_order if n in shared]:
        notes.append(
            "positional order " + ", ".join(our_order) + " (Keras: " + ", ".join(keras_order) + ")"
        )
    return "; ".join(notes) if notes else None


def classify_module(
    keras_module: str, entries: dict[str, dict[str, Any]]
) -> dict[str, tuple[str, str]]:
    """``{name: (status, note)}`` for each Keras name of ``keras_module``."""
    target = MODULES[keras_module]
    try:
        module = _resolve(target)
        missing_module = ""
    except ImportError as err:
        module, missing_module = None, f"{target} is missing: {err}"
    own_differs = (getattr(module, "DIFFERS", None) or {}) if module else {}
    out = {}
    for name, entry in sorted(entries.items()):
        qualified = f"{keras_module}.{name}"
        found, obj = _tapegrad_object(module, name) if module else (False, missing_module)
        if qualified in OUT_OF_SCOPE and not found:
            out[name] = ("not supported", OUT_OF_SCOPE[qualified])
        elif not found:
            out[name] = ("not supported", _why_unsupported(module, qualified, name, obj))
        elif qualified in DIFFERS or name in own_differs:
            out[name] = ("differs", DIFFERS.get(qualified) or own_differs[name])
        else:
            difference = _signature_difference(entry.get("params"), obj)
            out[name] = ("differs", difference) if difference else ("supported", "")
    return out


def report(source: str = "auto") -> tuple[str, dict[str, dict[str, tuple[str, str]]]]:
    """Keras's version and ``{keras module: {name: (status, note)}}`` for every module.

    Examples:
        >>> version, table = report("snapshot")
        >>> table["keras.layers"]["Dense"][0] in STATUSES
        True
    """
    version, names = keras_names(source)
    return version, {module: classify_module(module, names[module]) for module in MODULES}


def counts(entries: dict[str, tuple[str, str]]) -> dict[str, int]:
    """How many names have each status."""
    return {status: sum(s == status for s, _ in entries.values()) for status in STATUSES}


def _markdown(version: str, origin: str, table: dict[str, dict[str, tuple[str, str]]]) -> str:
    total = {s: sum(counts(e)[s] for e in table.values()) for s in STATUSES}
    lines = [
        "# Keras 3 coverage",
        "",
        f"Generated by `python -m tapegrad.keras_coverage --markdown` from Keras {version}'s "
        f"public names ({origin}). A name is **supported** (tapegrad has it with Keras's "
        "arguments), **differs** (tapegrad has it; how it differs is said) or **not "
        "supported** (using it raises an error saying so; why is said).",
        "",
        "`keras.applications` (pretrained models) and the `keras.datasets` downloaders are out "
        "of scope: tapegrad downloads nothing at run time.",
        "",
        "Total: " + ", ".join(f"{n} {s}" for s, n in total.items()) + ".",
        "",
        "| module | supported | differs | not supported |",
        "|---|---|---|---|",
    ]
    for module, entries in table.items():
        c = counts(entries)
        lines.append(f"| `{module}` | {c['supported']} | {c['differs']} | {c['not supported']} |")
    for module, entries in table.items():
        summary = ", ".join(f"{n} {s}" for s, n in counts(entries).items())
        lines += ["", f"## `{module}` — {summary}", ""]
        supported = [f"`{n}`" for n, (s, _) in entries.items() if s == "supported"]
        if supported:
            lines += [f"**supported** ({len(supported)}): " + ", ".join(supported), ""]
        for status in ("differs", "not supported"):
            rows = [(n, note) for n, (s, note) in entries.items() if s == status]
            if rows:
                lines += [f"**{status}** ({len(rows)}):", ""]
                lines += [f"- `{n}` — {note}" for n, note in rows]
                lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _snapshot_text(version: str, names: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The snapshot as JSON with one line per name, so that its diffs read well."""
    modules = []
    for module, entries in names.items():
        rows = [f"  {json.dumps(n)}: {json.dumps(e)}" for n, e in entries.items()]
        modules.append(f" {json.dumps(module)}: {{\n" + ",\n".join(rows) + "\n }")
    return (
        f'{{"keras_version": {json.dumps(version)}, "modules": {{\n'
        + ",\n".join(modules)
        + "\n}}\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Print the coverage table (plain text, or Markdown with ``--markdown``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print the Markdown page")
    parser.add_argument("-o", "--output", help="write to this file instead of printing")
    parser.add_argument(
        "--source",
        choices=("auto", "keras", "snapshot"),
        default="auto",
        help="where Keras's names come from (default: Keras if importable, else the snapshot)",
    )
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help=f"regenerate {SNAPSHOT.name} from the installed Keras and exit",
    )
    args = parser.parse_args(argv)
    if args.snapshot:
        version, names = keras_names("keras")
        SNAPSHOT.write_text(_snapshot_text(version, names))
        print(f"wrote {SNAPSHOT} (Keras {version})")
        return 0
    version, table = report(args.source)
    live = args.source != "snapshot" and _installed_keras() is not None
    origin = "the installed Keras" if live else f"the snapshot {SNAPSHOT.name}"
    if args.markdown:
        text = _markdown(version, origin, table)
    else:
        lines = [f"Keras {version} public names ({origin}) served by tapegrad"]
        for module, entries in table.items():
            lines.append(f"{module}: " + ", ".join(f"{n} {s}" for s, n in counts(entries).items()))
            lines += [
                f"  {name:32s} {status}{': ' + note if note else ''}"
                for name, (status, note) in entries.items()
            ]
        text = "\n".join(lines) + "\n"
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Archive fuzzing: every mutant of a saved model either loads equal or is refused cleanly.

A seeded mutator edits archives of several model kinds (Sequential Dense, functional with
a merge, convolutional, LSTM, Lambda): byte flips, truncations, zip header field edits,
JSON edits (types, huge and negative numbers, missing keys, wrong nesting in
``inbound_nodes``/``output_layers``), safetensors header edits. Each mutant is loaded (with
and without checksum verification) in a child process under a memory limit, with an alarm
per mutant. Outcomes:

* ``refused`` — `ArchiveError` (not caused by a MemoryError);
* ``equal`` — it loads and predicts what the original predicts;
* ``changed`` — it loads and predicts something else: allowed only where nothing could
  notice (a JSON edit of the architecture, or loading with ``verify=False``);
* anything else fails the test: another exception, a MemoryError, an alarm (hang), a
  crash of the child, or a load or predict raising after loading.

The suite runs a few hundred mutants; ``TAPEGRAD_FUZZ_MUTANTS=12000 pytest
tests/nn/test_archive_fuzz.py -s`` runs a long campaign and prints its figures.
"""

from __future__ import annotations

import copy
import io
import json
import os
import random
import signal
import struct
import tempfile
from collections import Counter
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import layers
from tapegrad.nn import saving
from tests.nn import archive_tools as tools

MUTANTS = int(os.environ.get("TAPEGRAD_FUZZ_MUTANTS", "600"))
SEED = int(os.environ.get("TAPEGRAD_FUZZ_SEED", "2026"))
MEMORY_MIB = 2048
ALARM_SECONDS = 20


# -- the models ---------------------------------------------------------------------------
def _dense() -> tg.Model:
    model = tg.Sequential(
        [
            layers.Input(shape=(6,)),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(3),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _merge() -> tg.Model:
    a = layers.Input(shape=(6,), name="a")
    b = layers.Input(shape=(6,), name="b")
    joined = layers.Concatenate()([layers.Dense(4)(a), layers.Dense(4, activation="tanh")(b)])
    added = layers.Add()([layers.Dense(3)(joined), layers.Dense(3)(a)])
    model = tg.Model([a, b], layers.Dense(2)(added))
    model.compile("rmsprop", "mse")
    return model


def _conv() -> tg.Model:
    model = tg.Sequential(
        [
            layers.Input(shape=(8, 8, 2)),
            layers.Conv2D(3, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(2),
        ]
    )
    model.compile("sgd", "mse")
    return model


def _lstm() -> tg.Model:
    model = tg.Sequential([layers.Input(shape=(5, 3)), layers.LSTM(4), layers.Dense(2)])
    model.compile("adam", "mse")
    return model


def _lambda() -> tg.Model:
    scale = tg.Variable(np.linspace(0.5, 1.5, 4).astype(np.float32), name="scale")
    model = tg.Sequential(
        [
            layers.Input(shape=(6,)),
            layers.Dense(4),
            layers.Lambda(lambda x: tnp.tanh(x) * scale + x**2, name="mix"),
            layers.Dense(2),
        ]
    )
    model.compile("adam", "mse")
    return model


KINDS = {
    "dense": (_dense, [(4, 6)]),
    "merge": (_merge, [(4, 6), (4, 6)]),
    "conv": (_conv, [(4, 8, 8, 2)]),
    "lstm": (_lstm, [(4, 5, 3)]),
    "lambda": (_lambda, [(4, 6)]),
}


def _inputs(shapes: list[tuple[int, ...]]) -> Any:
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    return arrays[0] if len(arrays) == 1 else arrays


def build_archives(directory: str) -> dict[str, tuple[bytes, Any, np.ndarray]]:
    """Each model kind: (archive bytes, inputs, predictions)."""
    archives = {}
    for name, (make, shapes) in KINDS.items():
        tg.utils.set_random_seed(1)
        model = make()
        x = _inputs(shapes)
        outputs = model.predict(x, verbose=0)
        model.fit(x, outputs * 0.5, epochs=1, verbose=0) if name != "dense" else model.fit(
            x, np.array([0, 1, 2, 0]), epochs=1, verbose=0
        )
        path = os.path.join(directory, f"{name}.tapegrad")
        model.save(path)
        with open(path, "rb") as file:
            archives[name] = (file.read(), x, model.predict(x, verbose=0))
    return archives


# -- the mutator --------------------------------------------------------------------------
_HUGE = [2**31, 2**31 - 1, 2**62, 2**64, 10**30, 1e308, -1, -(2**31), 0]
_ODD = [[], {}, "x", None, True, [[]], [None], {"a": []}, "", 1.5, [1, 2, 3]]


def _flip(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    position = rng.randrange(len(data))
    return "byte flip", data[:position] + bytes([data[position] ^ rng.randrange(1, 256)]) + data[
        position + 1 :
    ]


def _truncate(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    return "truncation", data[: rng.randrange(len(data))]


def _zip_field(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    central = rng.random() < 0.6
    signature = tools.CENTRAL_HEADER if central else tools.LOCAL_HEADER
    fields = tools.CENTRAL_FIELDS if central else tools.LOCAL_FIELDS
    offsets = tools.headers(data, signature)
    if not offsets:
        return _flip(rng, data)
    offset = rng.choice(offsets)
    field = rng.choice(sorted(fields))
    value = tools.get_field(data, offset, fields, field)
    size = 2 if field in tools._FIELD_SIZES else 4
    new = rng.choice(
        [
            value + 1,
            value - 1,
            0,
            2 ** (8 * size) - 1,
            value ^ (1 << rng.randrange(8 * size)),
            rng.randrange(2 ** (8 * size)),
        ]
    ) % 2 ** (8 * size)
    return f"zip {'central' if central else 'local'} {field}", tools.set_field(
        data, offset, fields, field, new
    )


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for k, child in enumerate(value):
            found += _paths(child, prefix + (k,))
    return found


def _json_edit(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    found = tools.members(io.BytesIO(data))
    member = rng.choice(
        [
            m
            for m in (
                "config.json",
                "config.json",
                "config.json",
                "metadata.json",
                "optimizer.json",
            )
            if m in found
        ]
    )
    document = json.loads(found[member])
    paths = [p for p in _paths(document) if p]
    # Favour the places the issue names: inbound nodes, outputs, sizes.
    favoured = [
        p
        for p in paths
        if any(
            k
            in (
                "inbound_nodes",
                "output_layers",
                "input_layers",
                "units",
                "filters",
                "kernel_size",
                "strides",
                "shape",
                "input_shape",
                "beta_1",
                "learning_rate",
            )
            for k in p
            if isinstance(k, str)
        )
    ]
    path = rng.choice(favoured if favoured and rng.random() < 0.6 else paths)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    action = rng.choice(["huge", "odd", "delete", "wrap", "swap", "duplicate", "deep"])
    if action == "huge":
        parent[key] = rng.choice(_HUGE)
    elif action == "odd":
        parent[key] = copy.deepcopy(rng.choice(_ODD))
    elif action == "delete":
        if isinstance(parent, dict):
            del parent[key]
        else:
            parent.pop(key)
    elif action == "wrap":
        parent[key] = [parent[key]]
    elif action == "swap":
        other = rng.choice(paths)
        target = document
        try:
            for step in other:
                target = target[step]
            parent[key] = copy.deepcopy(target)
        except (KeyError, IndexError, TypeError):
            parent[key] = None
    elif action == "deep":
        parent[key] = "__deep__"
    elif isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    else:
        parent[key] = [parent[key], parent[key]]
    text = json.dumps(document)
    if action == "deep":  # nesting too deep for json.dumps itself: spliced in as text
        depth = rng.choice([50, 900, 5000, 100_000])
        text = text.replace('"__deep__"', "[" * depth + "0" + "]" * depth, 1)
    found[member] = text.encode()
    return f"json {member} {action}", tools.rezip(found)


def _safetensors_edit(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    found = tools.members(io.BytesIO(data))
    blob = found["weights.safetensors"]
    (size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + size])
    names = [n for n in header if n != "__metadata__"]
    action = rng.choice(["dtype", "shape", "offsets", "size field", "drop", "rename"])
    name = rng.choice(names)
    entry = header[name]
    if action == "dtype":
        entry["dtype"] = rng.choice(["F64", "I8", "BF16", "Q4", 7, "F16"])
    elif action == "shape":
        entry["shape"] = rng.choice(
            [[2**40], [-1], entry["shape"] + [1], entry["shape"][:-1], [2**31, 2**31], ["3"]]
        )
    elif action == "offsets":
        begin, end = entry["data_offsets"]
        entry["data_offsets"] = rng.choice(
            [
                [begin, end + 1],
                [begin - 1, end],
                [0, 2**62],
                [end, begin],
                [begin],
                [begin, end + 2**33],
            ]
        )
    elif action == "drop":
        del header[name]
    elif action == "rename":
        header[name + "x"] = header.pop(name)
    text = json.dumps(header).encode()
    size_field = len(text)
    if action == "size field":
        size_field = rng.choice([2**63, size_field + 1, size_field - 1, 0, len(blob)])
    found["weights.safetensors"] = struct.pack("<Q", size_field) + text + blob[8 + size :]
    return f"safetensors {action}", tools.rezip(found)


MUTATORS = [_flip, _truncate, _zip_field, _json_edit, _safetensors_edit]


def mutate(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    return rng.choice(MUTATORS)(rng, data)


# -- the campaign (runs inside the child) ---------------------------------------------------
class _Alarm(BaseException):
    """Raised by SIGALRM: a load that takes too long (not an Exception, so the loader's
    safety net cannot turn it into a refusal)."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Alarm()


def _caused_by_memory(error: BaseException) -> bool:
    seen = error
    while seen is not None:
        if isinstance(seen, MemoryError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _outcome(
    mutant: bytes, kind: str, verify: bool, x: Any, expected: np.ndarray, directory: str
) -> str:
    path = os.path.join(directory, "mutant.tapegrad")
    with open(path, "wb") as file:
        file.write(mutant)
    try:
        model = tg.models.load_model(path, verify=verify)
    except saving.ArchiveError as err:
        return "memory" if _caused_by_memory(err) else "refused"
    except MemoryError:
        return "memory"
    except Exception as err:  # noqa: BLE001 - the point is to catch every kind
        return f"other: {type(err).__name__}: {str(err)[:200]}"
    try:
        predicted = model.predict(x, verbose=0)
    except Exception as err:  # noqa: BLE001
        if kind.startswith("json config.json") and _runs_on_its_own_inputs(model, x):
            return "changed"  # an edited architecture takes other inputs: a clear refusal
        return f"predict raised: {type(err).__name__}: {str(err)[:200]}"
    same = (
        isinstance(predicted, np.ndarray)
        and predicted.shape == expected.shape
        and np.array_equal(predicted, expected)
    )
    if same:
        return "equal"
    may_change = (
        kind.startswith("json config.json") or kind.startswith("json optimizer.json") or not verify
    )
    return "changed" if may_change else "changed unnoticed"


def _runs_on_its_own_inputs(model: Any, x: Any) -> bool:
    """Whether ``model`` declares other input shapes than ``x`` has and runs on those."""
    given = [a.shape[1:] for a in (x if isinstance(x, list) else [x])]
    declared = [tuple(t.shape[1:]) for t in getattr(model, "inputs", None) or []]
    if not declared or declared == given or any(None in shape for shape in declared):
        return False
    probe = [np.zeros((3, *shape), np.float32) for shape in declared]
    try:
        model.predict(probe[0] if len(probe) == 1 else probe, verbose=0)
    except Exception:  # noqa: BLE001
        return False
    return True


def campaign(count: int, seed: int) -> dict[str, Any]:
    """Run ``count`` mutants; return the tallies (and the first few failures)."""
    import resource

    signal.signal(signal.SIGALRM, _on_alarm)
    rng = random.Random(seed)
    directory = tempfile.mkdtemp(prefix="tapegrad-fuzz-")
    archives = build_archives(directory)
    tallies: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    failures: list[str] = []
    for index in range(count):
        name = rng.choice(sorted(archives))
        data, x, expected = archives[name]
        kind, mutant = mutate(rng, data)
        verify = rng.random() < 0.7
        signal.alarm(ALARM_SECONDS)
        try:
            outcome = _outcome(mutant, kind, verify, x, expected, directory)
        except _Alarm:
            outcome = "hang"
        finally:
            signal.alarm(0)
        short = outcome.split(":")[0]
        tallies[short] += 1
        by_kind[f"{kind.split()[0]} {short}"] += 1
        if short not in ("refused", "equal", "changed") and len(failures) < 10:
            failures.append(f"#{index} {name} {kind} verify={verify}: {outcome}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return {
        "mutants": count,
        "tallies": dict(tallies),
        "by_kind": dict(by_kind),
        "failures": failures,
        "peak_rss_mib": peak,
    }


# -- the test -------------------------------------------------------------------------------
def test_every_mutant_loads_equal_or_is_refused():
    timeout = 120 + MUTANTS * 0.5
    result = tools.run_child(
        f"""
        import json
        from tests.nn.test_archive_fuzz import campaign
        print("RESULT", json.dumps(campaign({MUTANTS}, {SEED})))
    """,
        memory_mib=MEMORY_MIB,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"the fuzz child died: {result.returncode}\n{result.stderr[-3000:]}"
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    report = json.loads(line[len("RESULT ") :])
    print(f"\narchive fuzzing: {json.dumps(report, indent=1)}")
    tallies = report["tallies"]
    assert sum(tallies.values()) == MUTANTS
    assert set(tallies) <= {"refused", "equal", "changed"}, report["failures"]
    assert tallies.get("refused", 0) > MUTANTS // 3  # the mutator does reach the checks


def test_the_mutator_is_deterministic_and_changes_the_archive(tmp_path):
    path = tmp_path / "m.tapegrad"
    _dense().save(path)
    original = path.read_bytes()
    first, second = random.Random(3), random.Random(3)
    mutants = [mutate(first, original) for _ in range(20)]
    assert mutants == [mutate(second, original) for _ in range(20)]
    assert all(mutant != original for _, mutant in mutants)

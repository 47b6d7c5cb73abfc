"""The Keras 3 coverage report: it runs, its counts add up, and its statuses are true."""

from __future__ import annotations

import importlib
import json

import pytest

import tapegrad as tg
from tapegrad import keras_coverage as kc

THIN_MODULES = {
    "keras.layers": tg.layers,
    "keras.losses": tg.losses,
    "keras.metrics": tg.metrics,
    "keras.optimizers": tg.optimizers,
    "keras.callbacks": tg.callbacks,
    "keras.activations": tg.activations,
    "keras.initializers": tg.initializers,
}


@pytest.fixture(scope="module")
def table() -> dict[str, dict[str, tuple[str, str]]]:
    return kc.report("snapshot")[1]


def test_snapshot_lists_every_module_with_its_names() -> None:
    version, names = kc.keras_names("snapshot")
    assert version == json.loads(kc.SNAPSHOT.read_text())["keras_version"]
    assert set(names) == set(kc.MODULES)
    assert {"Dense", "LSTM", "MultiHeadAttention"} <= set(names["keras.layers"])
    assert {"Input", "Model", "Sequential", "layers", "ops"} <= set(names["keras"])
    assert all(entry["kind"] for module in names.values() for entry in module.values())


def test_counts_add_up(table: dict[str, dict[str, tuple[str, str]]]) -> None:
    _, names = kc.keras_names("snapshot")
    for module, entries in table.items():
        assert set(entries) == set(names[module]), module
        assert sum(kc.counts(entries).values()) == len(names[module])
        assert all(status in kc.STATUSES for status, _ in entries.values())


def test_supported_names_are_importable(table: dict[str, dict[str, tuple[str, str]]]) -> None:
    for module, entries in table.items():
        try:
            target = kc._resolve(kc.MODULES[module])
        except ImportError:
            assert all(status == "not supported" for status, _ in entries.values()), module
            continue
        for name, (status, note) in entries.items():
            if status != "not supported":
                assert getattr(target, name) is not None, f"{module}.{name}"
            else:
                assert note, f"{module}.{name} is not supported without a reason"
                # tapegrad.ops raises NotImplementedError for the Keras ops it lacks.
                with pytest.raises((AttributeError, NotImplementedError)):
                    getattr(target, name)


def test_core_keras_names_are_served(table: dict[str, dict[str, tuple[str, str]]]) -> None:
    for module, name in [
        ("keras", "Input"),
        ("keras", "Model"),
        ("keras", "Sequential"),
        ("keras.layers", "Dense"),
        ("keras.layers", "Lambda"),
        ("keras.ops", "relu"),
        ("keras.losses", "SparseCategoricalCrossentropy"),
        ("keras.callbacks", "EarlyStopping"),
    ]:
        assert table[module][name][0] in ("supported", "differs"), (module, name)


def test_out_of_scope_names_say_so(table: dict[str, dict[str, tuple[str, str]]]) -> None:
    status, note = table["keras"]["applications"]
    assert status == "not supported" and "out of scope" in note


def test_signature_differences_are_reported() -> None:
    def like_keras(x, axis=None, keepdims=False):  # noqa: ANN001, ANN202
        return x

    def renamed(a, axis=None, keepdims=True):  # noqa: ANN001, ANN202
        return a

    keras_params = kc._parameters(like_keras)
    assert kc._signature_difference(keras_params, like_keras) is None
    note = kc._signature_difference(keras_params, renamed)
    assert "`a` for Keras's `x`" in note and "`keepdims` defaults to True" in note
    assert kc._same_default("(1, 1)", "1") and not kc._same_default("(1, 2)", "1")


@pytest.mark.parametrize("keras_module", sorted(THIN_MODULES))
def test_unsupported_keras_names_raise_saying_so(keras_module: str) -> None:
    module = THIN_MODULES[keras_module]
    _, names = kc.keras_names("snapshot")
    missing = [n for n in names[keras_module] if not hasattr(module, n)]
    for name in missing:
        with pytest.raises(AttributeError, match=f"{name} is not supported"):
            getattr(module, name)
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        module.no_such_name  # noqa: B018


def test_reasons_of_thin_modules_reach_the_report(
    table: dict[str, dict[str, tuple[str, str]]],
) -> None:
    for keras_module, module in THIN_MODULES.items():
        for name, why in module.UNSUPPORTED.items():
            if not hasattr(module, name):
                assert table[keras_module][name] == ("not supported", why)


def test_main_prints_text_and_markdown(capsys: pytest.CaptureFixture[str], tmp_path) -> None:  # noqa: ANN001
    assert kc.main(["--source", "snapshot"]) == 0
    text = capsys.readouterr().out
    assert "keras.layers:" in text and " supported" in text
    page = tmp_path / "coverage.md"
    assert kc.main(["--source", "snapshot", "--markdown", "-o", str(page)]) == 0
    markdown = page.read_text()
    assert markdown.startswith("# Keras 3 coverage")
    assert "| `keras.layers` |" in markdown and "out of scope" in markdown


def test_a_missing_tapegrad_module_makes_its_names_unsupported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(kc.MODULES, "keras.constraints", "tapegrad.no_such_module")
    entries = kc.classify_module("keras.constraints", {"MaxNorm": {"kind": "class"}})
    assert entries["MaxNorm"][0] == "not supported"
    assert "no_such_module" in entries["MaxNorm"][1]
    assert importlib.util.find_spec("tapegrad.no_such_module") is None

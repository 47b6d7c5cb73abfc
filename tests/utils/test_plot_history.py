"""tapegrad.utils.plot_history: one subplot per metric, train against validation."""

import sys

import numpy as np
import pytest

import tapegrad as tg

pytest.importorskip("matplotlib")


def _curves(axes):
    return {line.get_label(): list(line.get_ydata()) for line in axes.get_lines()}


def test_plots_each_metric_with_its_validation_curve_after_fit(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("float32")
    model = tg.Sequential([tg.Input((3,)), tg.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)
    path = tmp_path / "history.png"
    figure = tg.utils.plot_history(history, to_file=path)
    assert path.read_bytes().startswith(b"\x89PNG")
    assert [axes.get_title() for axes in figure.axes] == ["loss", "accuracy"]
    loss = _curves(figure.axes[0])
    assert loss["train"] == pytest.approx(history.history["loss"])
    assert loss["validation"] == pytest.approx(history.history["val_loss"])
    assert list(figure.axes[0].get_lines()[0].get_xdata()) == [1, 2, 3]


def test_metrics_argument_missing_validation_and_layout(tmp_path):
    logs = {"loss": [3.0, 2.0], "mae": [1.0, 0.5], "lr": [0.1, 0.05], "val_loss": [3.5, 2.5]}
    figure = tg.utils.plot_history(logs, metrics=["mae"])
    assert [axes.get_title() for axes in figure.axes] == ["mae"]
    assert list(_curves(figure.axes[0])) == ["train"]  # no val_mae logged
    everything = tg.utils.plot_history(logs, to_file=tmp_path / "h.svg")
    assert [a.get_title() for a in everything.axes] == ["loss", "mae", "lr"]
    assert b"<svg" in (tmp_path / "h.svg").read_bytes()[:400]
    four = tg.utils.plot_history({**logs, "acc": [0.5, 0.6]})
    visible = [a for a in four.axes if a.get_visible()]
    assert len(visible) == 4  # a 2 x 3 grid, the two spare axes hidden
    assert len(four.axes) == 6


def test_bad_histories_are_named():
    with pytest.raises(ValueError, match="no \\['f1'\\]"):
        tg.utils.plot_history({"loss": [1.0]}, metrics=["f1"])
    with pytest.raises(ValueError, match="empty"):
        tg.utils.plot_history({"loss": []})
    with pytest.raises(ValueError, match="History"):
        tg.utils.plot_history([1.0, 2.0])


def test_missing_matplotlib_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"tapegrad\[viz\]"):
        tg.utils.plot_history({"loss": [1.0]})


def test_import_tapegrad_does_not_import_matplotlib():
    import subprocess

    code = "import sys, tapegrad; tapegrad.utils.plot_history; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"

"""The programs in ``examples/`` run on tapegrad, and agree with real Keras 3 where it is here.

Each example is a Keras 3 program whose only change is its import lines (see
``tests/examples/harness.py``). It runs here with ``--small`` in a subprocess, as a user runs
it, and must finish, print its ``RESULT`` line and train (the last epoch's loss below the
first's). Where an interpreter with Keras 3 and JAX is available (this one, if the ``keras``
test extra is installed, or the one named by ``TAPEGRAD_KERAS_PYTHON``), the same program
text also runs under Keras (``KERAS_BACKEND=jax``), and the two runs must agree:

* the ``shapes`` each program reports (output shapes, the callback hooks fired and the log
  keys they saw, the names ``evaluate`` returns, ...) are equal;
* the per-epoch training losses agree within a factor of 2. Both runs are seeded with
  ``keras.utils.set_random_seed`` and see the same data, but the two frameworks draw initial
  weights from different random streams, so the trajectories differ: in these short runs the
  fastest-falling loss (the LSTM forecaster's) differed by up to 1.9x between Keras and
  tapegrad, the others by well under 1.3x. A scale bug (a sum instead of a mean, a loss
  weight or ``from_logits`` ignored, a ``(n,)`` target broadcast against ``(n, 1)``
  predictions) moves a loss further than that.

The TensorFlow-backend guides (``import tapegrad as tf`` for ``tf.GradientTape``) run under
Keras with ``KERAS_BACKEND=tensorflow`` where TensorFlow is importable (this interpreter, or
``TAPEGRAD_KERAS_TF_PYTHON``); JAX has no ``GradientTape``.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.examples.harness import (
    example_paths,
    keras_source,
    parse_result,
    uses_tensorflow,
)

HARNESS = Path(__file__).with_name("harness.py")
TIMEOUT_S = 300
# Per-epoch training losses of the tapegrad and Keras runs may differ by this factor (see
# the module docstring for why it is this loose and what it still catches).
LOSS_RATIO = 2.0

# Where one example's loss depends more on the initial weights than LOSS_RATIO allows.
LOSS_RATIOS = {
    # Under Keras alone, seeds 7, 8 and 9 give first-epoch losses of 0.34, 0.21 and 0.17.
    "siamese_contrastive": 3.0,
}

# Examples that do not run on tapegrad yet, with what they are waiting for.
PENDING: dict[str, str] = {}

# Known differences from Keras the parity test finds, until they are fixed (strict: a fix
# makes the test fail, so that its entry is removed).
DIFFERS_FROM_KERAS: dict[str, str] = {}


def _params(parity: bool = False) -> list:
    params = []
    for path in example_paths():
        marks = [pytest.mark.skip(reason=PENDING[path.stem])] if path.stem in PENDING else []
        if parity and path.stem in DIFFERS_FROM_KERAS:
            marks.append(pytest.mark.xfail(reason=DIFFERS_FROM_KERAS[path.stem], strict=True))
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


def _run(command: list[str], env: dict[str, str], cwd: Path) -> dict:
    done = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{output[-4000:]}"
    return parse_result(done.stdout)


@functools.cache
def _tapegrad_result(path: Path, cwd: Path) -> dict:
    return _run([sys.executable, str(path), "--small"], dict(os.environ), cwd)


def _has_modules(*names: str) -> bool:
    return all(importlib.util.find_spec(name) is not None for name in names)


def _keras_python(tensorflow: bool) -> str | None:
    """An interpreter with Keras 3 and its backend (JAX, or TensorFlow), or None."""
    configured = os.environ.get(
        "TAPEGRAD_KERAS_TF_PYTHON" if tensorflow else "TAPEGRAD_KERAS_PYTHON"
    )
    if configured:
        return configured
    backend = "tensorflow" if tensorflow else "jax"
    return sys.executable if _has_modules("keras", backend) else None


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("examples")


def test_there_are_at_least_ten_examples() -> None:
    assert len(example_paths()) >= 10


@pytest.mark.parametrize("path", example_paths(), ids=lambda p: p.stem)
def test_example_uses_only_keras_names(path: Path) -> None:
    # keras_source raises on any tapegrad import it cannot turn into a Keras import.
    source = keras_source(path.read_text(), path.name)
    assert "tapegrad" not in "".join(
        line for line in source.splitlines() if line.startswith(("import", "from"))
    )
    assert "--small" in path.read_text(), f"{path.name} has no --small size"


@pytest.mark.parametrize("path", _params())
def test_example_runs_on_tapegrad(path: Path, workdir: Path) -> None:
    result = _tapegrad_result(path, workdir)
    losses = result["losses"]
    assert losses and all(math.isfinite(v) for v in losses), losses
    assert losses[-1] < losses[0], f"{path.stem} did not train: losses {losses}"
    assert result["shapes"], "the example reports no shapes"


@pytest.mark.parametrize("path", _params(parity=True))
def test_example_agrees_with_keras(path: Path, workdir: Path) -> None:
    tensorflow = uses_tensorflow(path.read_text())
    python = _keras_python(tensorflow)
    if python is None:
        backend = "tensorflow" if tensorflow else "jax"
        pytest.skip(f"no interpreter with keras and {backend} (the keras test extra)")
    env = dict(os.environ, KERAS_BACKEND="tensorflow" if tensorflow else "jax")
    env.pop("PYTHONPATH", None)
    keras_result = _run([python, str(HARNESS), str(path), "--small"], env, workdir)
    ours = _tapegrad_result(path, workdir)

    assert ours["shapes"] == keras_result["shapes"]
    ratio = LOSS_RATIOS.get(path.stem, LOSS_RATIO)
    pairs = zip(ours["losses"], keras_result["losses"], strict=True)
    for epoch, (mine, theirs) in enumerate(pairs):
        message = (
            f"{path.stem}: epoch {epoch} loss {mine:.4f} on tapegrad, {theirs:.4f} on Keras "
            f"(all: {ours['losses']} vs {keras_result['losses']})"
        )
        assert mine / theirs <= ratio, message
        assert theirs / mine <= ratio, message

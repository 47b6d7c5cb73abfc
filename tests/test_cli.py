"""The ``tapegrad`` command: --version, the demos' seeds, lines and exit messages."""

import re

import pytest

import tapegrad as tg
from tapegrad import cli


def _numbers(text: str) -> list[str]:
    """The printed lines without the one that holds a wall-clock time."""
    return [line for line in text.splitlines() if "trained in" not in line]


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"tapegrad {tg.__version__}"


def test_demo_seed_reproduces_its_numbers_and_lines_fit_80_columns(capsys):
    runs = []
    for _ in range(2):
        status = cli.main(["demo", "--epochs", "2", "--seed", "7"])
        captured = capsys.readouterr()
        runs.append((status, captured.out, captured.err))
    (status, out, err), again = runs[0], runs[1]
    assert _numbers(out) == _numbers(again[1])
    epochs = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1/2", "2/2"]
    for line in epochs:
        assert len(line) <= 80
        assert re.search(r"val_loss \d\.\d{4}  val_acc \d\.\d{4}$", line)
    assert "seed 7" in out
    accuracy = float(re.search(r"held-out accuracy (\d\.\d+)", out).group(1))
    if status == 1:  # two epochs may fall short of the 0.95 the full demo reaches
        assert "below the 0.95" in err and "--epochs" in err
    else:
        assert accuracy >= 0.95


def test_other_seed_other_numbers(capsys):
    cli.main(["demo", "--epochs", "1", "--seed", "1"])
    first = capsys.readouterr().out
    cli.main(["demo", "--epochs", "1", "--seed", "2"])
    second = capsys.readouterr().out
    epoch = [line for line in first.splitlines() if line.startswith("epoch ")]
    assert epoch != [line for line in second.splitlines() if line.startswith("epoch ")]


def test_failing_tape_demo_says_why(capsys):
    assert cli.main(["tape-demo", "--steps", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tapegrad tape-demo: held-out accuracy")
    assert "--steps" in err

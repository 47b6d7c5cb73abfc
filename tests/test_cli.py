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


# -- tapegrad explain ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved_demo_model(tmp_path_factory):
    model, _ = cli.demo_model(seed=0)
    path = tmp_path_factory.mktemp("explain") / "digits.tapegrad"
    model.save(str(path))
    return path


def test_explain_saved_model_prints_forward_and_backward(saved_demo_model, capsys):
    assert cli.main(["explain", str(saved_demo_model), "--batch-size", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("explain model digits")
    assert "x0:f32[3,8,8]" in out  # the synthetic batch follows the input spec
    forward = re.search(r"forward \((\d+) ops\)", out)
    backward = re.search(r"backward \((\d+) ops\)", out)
    assert int(forward.group(1)) > 0
    assert int(backward.group(1)) > 0
    assert "[digits/sqrt_intensity]" in out  # a Lambda layer groups its ops
    # The temperature Lambda's multiply, differentiated by the table's rule for its Variable.
    assert "d t8/d temperature: multiply rule: g * x" in out


@pytest.mark.skipif(
    tg.utils.graphviz.available() is None, reason="no Graphviz renderer (dot or the viz extra)"
)
def test_explain_writes_html_and_svg(saved_demo_model, tmp_path, capsys):
    import xml.etree.ElementTree as ET

    page = tmp_path / "digits.html"
    assert cli.main(["explain", str(saved_demo_model), "-o", str(page)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {page}"
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "multiply rule" in html
    picture = tmp_path / "demo.svg"
    assert cli.main(["explain", "--demo", "-o", str(picture)]) == 0
    root = ET.fromstring(picture.read_bytes())
    titles = [g.get("class") for g in root.iter("{http://www.w3.org/2000/svg}g")]
    assert titles.count("node") > 20  # forward ops, backward steps, weights


def test_explain_says_what_is_wrong(tmp_path, capsys):
    assert cli.main(["explain", str(tmp_path / "missing.tapegrad")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tapegrad explain: ")
    assert "missing.tapegrad" in err
    with pytest.raises(SystemExit) as exited:
        cli.main(["explain"])
    assert exited.value.code == 2
    assert "either a saved model's file or --demo" in capsys.readouterr().err
    assert cli.main(["explain", "--demo", "-o", str(tmp_path / "x.bmp")]) == 1
    assert "unknown extension" in capsys.readouterr().err

"""Runs an example program on tapegrad or, with its imports turned back, on real Keras 3.

The examples are Keras 3 programs whose only change is the import lines
(``import keras`` -> ``import tapegrad as keras``, ``from keras import ...`` ->
``from tapegrad import ...``, and for the TensorFlow-backend guides ``import tensorflow as tf``
-> ``import tapegrad as tf`` for ``tf.GradientTape``/``tf.function``). ``keras_source`` turns
those lines back, so the same program text runs under Keras. The data-loading line
``from tapegrad.datasets import load_digits`` is how the examples get the shipped digits
without a download; the Keras version reads the same file with NumPy instead, so that it
does not need tapegrad importable.

Each example ends by printing one line ``RESULT {json}`` (per-epoch ``losses``, ``final``
numbers, output ``shapes``); ``parse_result`` reads it back.

Run as a script (``python harness.py EXAMPLE.py [args]``) it executes the Keras version of
EXAMPLE with the interpreter running it: that is how the tests drive a side interpreter that
has Keras installed.
"""

from __future__ import annotations

import ast
import gzip
import json
import re
import sys
from pathlib import Path

import numpy as np

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
DIGITS_FILE = EXAMPLES_DIR.parent / "tapegrad" / "datasets" / "data" / "digits.csv.gz"

# The tapegrad imports an example may contain, and their Keras spelling (None: kept as is).
_IMPORT_REWRITES = {
    "import tapegrad as keras": "import keras",
    "import tapegrad as tf": "import tensorflow as tf",
    "from tapegrad.datasets import load_digits": "from harness import load_digits",
}
_FROM_TAPEGRAD = re.compile(r"^from tapegrad import ([\w, ]+)$")


def example_paths() -> list[Path]:
    """Every example program (``examples/*.py``), sorted by name."""
    return sorted(EXAMPLES_DIR.glob("[!_]*.py"))


def uses_tensorflow(source: str) -> bool:
    """Whether the example is a TensorFlow-backend guide (it imports ``tapegrad as tf``)."""
    return "import tapegrad as tf" in source.splitlines()


def keras_source(source: str, name: str = "example") -> str:
    """The example's text with its tapegrad import lines turned back into Keras imports.

    Raises ``ValueError`` naming the line if the example uses tapegrad in any other way
    (an example may use nothing that Keras lacks).
    """
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                modules.append(node.module or "")
            if not any(m.split(".")[0] == "tapegrad" for m in modules):
                continue
            line = lines[node.lineno - 1].split("#", 1)[0].strip()
            if node.end_lineno != node.lineno:
                line = "<several lines>"
            if line in _IMPORT_REWRITES:
                rewritten = _IMPORT_REWRITES[line]
            elif _FROM_TAPEGRAD.match(line):
                rewritten = _FROM_TAPEGRAD.sub(r"from keras import \1", line)
            else:
                raise ValueError(
                    f"{name}:{node.lineno}: a tapegrad import the Keras version cannot "
                    f"rewrite: {lines[node.lineno - 1].strip()!r}"
                )
            if rewritten is not None:
                indent = lines[node.lineno - 1][: node.col_offset]
                lines[node.lineno - 1] = indent + rewritten
        elif isinstance(node, ast.Name) and node.id == "tapegrad":
            raise ValueError(f"{name}:{node.lineno}: uses the name 'tapegrad' directly")
    return "\n".join(lines) + "\n"


def load_digits(return_images: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``tapegrad.datasets.load_digits`` for the Keras runs: the same file, read by NumPy."""
    rows = np.loadtxt(gzip.open(DIGITS_FILE, "rt"), delimiter=",", dtype=np.int64)
    pixels, labels = rows[:, :-1].astype(np.float32), np.ascontiguousarray(rows[:, -1])
    return (pixels.reshape(-1, 8, 8) if return_images else pixels), labels


def parse_result(output: str) -> dict:
    """The ``RESULT {json}`` line an example printed last, as a dict."""
    for line in reversed(output.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise ValueError(f"no 'RESULT {{json}}' line in the example's output:\n{output[-2000:]}")


def _run_as_keras(path: Path, argv: list[str]) -> None:
    source = keras_source(path.read_text(), path.name)
    sys.argv = [str(path), *argv]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    code = compile(source, str(path), "exec")
    exec(code, {"__name__": "__main__", "__file__": str(path)})


if __name__ == "__main__":
    _run_as_keras(Path(sys.argv[1]), sys.argv[2:])

"""How `tapegrad.numpy` is put together: it stands on `tapegrad.core` alone, and every
public function can be found again where it says it lives (pickling by reference)."""

from __future__ import annotations

import importlib
import pickle
import subprocess
import sys

import numpy as np
import pytest

import tapegrad.numpy as tnp
from tapegrad.numpy import linalg


def test_importing_tapegrad_numpy_loads_no_graph_module() -> None:
    code = (
        "import sys, tapegrad.numpy, tapegrad.numpy.linalg\n"
        "print(sorted(m for m in sys.modules if m.startswith('tapegrad.graph')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _public_functions() -> list[tuple[str, object]]:
    found = []
    for prefix, module in (("tnp", tnp), ("tnp.linalg", linalg)):
        for name in sorted(dir(module)):
            obj = getattr(module, name)
            if name.startswith("_") or not callable(obj) or isinstance(obj, np.ufunc):
                continue
            if str(getattr(obj, "__module__", "")).startswith("tapegrad.numpy"):
                found.append((f"{prefix}.{name}", obj))
    return found


@pytest.mark.parametrize(("name", "obj"), _public_functions())
def test_public_functions_are_found_where_they_say_they_live(name: str, obj: object) -> None:
    module = importlib.import_module(obj.__module__)  # type: ignore[attr-defined]
    assert getattr(module, obj.__qualname__) is obj, name  # type: ignore[attr-defined]
    assert pickle.loads(pickle.dumps(obj)) is obj


def test_linalg_exports_its_all() -> None:
    assert sorted(n for n in dir(linalg) if not n.startswith("_") and n != "annotations") == sorted(
        linalg.__all__
    )
    assert tnp.linalg is linalg
    assert linalg.LinAlgError is np.linalg.LinAlgError

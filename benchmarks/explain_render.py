"""How long explaining and drawing a ~1,000-node gradient graph takes.

``python -m benchmarks.explain_render`` builds a deep residual MLP whose explanation has
about a thousand nodes (forward and backward), then times, best of a few runs:

* ``tapegrad.explain`` itself (tracing the forward pass and the backward sweep);
* ``Explanation.text()`` and ``Explanation.to_dot()`` (pure Python, no dependency);
* rendering the DOT to SVG with each Graphviz renderer installed (the ``dot`` program,
  pygraphviz from the ``viz`` extra), and writing the self-contained HTML page.

Options: ``--layers N`` (default 80: ~1,000 nodes), ``--repeat R`` (default 3).
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.utils import graphviz


def _network(layers: int) -> tuple[Callable[..., Any], list[np.ndarray]]:
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((16, 16)) * 0.1 for _ in range(layers)]

    def loss(x: Any, *ws: Any) -> Any:
        h = x
        for w in ws:
            h = h + tnp.tanh(h @ w) * 0.5
        return tnp.mean(h * h)

    return loss, [rng.standard_normal((8, 16)), *weights]


def _best(func: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def _render_with(which: str, dot: str) -> bytes:
    """Render with one renderer, whichever else is installed."""
    real_which = shutil.which
    if which == "pygraphviz":
        shutil.which = lambda name, *a, **k: None if name == "dot" else real_which(name, *a, **k)  # type: ignore[assignment]
    try:
        assert graphviz.available() == which
        return graphviz.render(dot, "svg")
    finally:
        shutil.which = real_which


def main(argv: list[str] | None = None) -> None:
    """Time explain, text, to_dot and each renderer; print one line per step."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=80)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args(argv)
    loss, args = _network(options.layers)
    argnums = tuple(range(1, len(args)))
    explanation = tg.explain(loss, *args, argnums=argnums)
    nodes = len(explanation.graph.nodes)
    dot = explanation.to_dot()
    print(
        f"{nodes} nodes ({len(explanation.forward)} forward, {len(explanation.backward)} "
        f"backward), DOT {len(dot) / 1e3:.0f} kB"
    )
    rows = [
        ("explain", _best(lambda: tg.explain(loss, *args, argnums=argnums), options.repeat)),
        ("text()", _best(explanation.text, options.repeat)),
        ("to_dot()", _best(explanation.to_dot, options.repeat)),
    ]
    renderers = []
    if shutil.which("dot") is not None:
        renderers.append("dot")
    try:
        import pygraphviz  # noqa: F401

        renderers.append("pygraphviz")
    except ImportError:
        pass
    for which in renderers:
        rows.append((f"render svg ({which})", _best(lambda w=which: _render_with(w, dot), 1)))
    if renderers:
        from tapegrad.explain.output import page

        rows.append(("html page", _best(lambda: page(explanation), 1)))
    else:
        print("no Graphviz renderer installed: rendering not timed")
    for name, seconds in rows:
        print(f"{name:24s} {seconds * 1e3:9.1f} ms")


if __name__ == "__main__":
    main()

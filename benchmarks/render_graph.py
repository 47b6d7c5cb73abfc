"""How long Graphviz takes to draw a 1,000-node gradient graph, with each renderer.

``python -m benchmarks.render_graph [--nodes 1000] [--steps 100] [--timeout 60]`` times
`tapegrad.utils.graphviz.render` to SVG and PNG with the system ``dot`` program and with
pygraphviz, whichever are installed, on:

* a DOT graph of ``--nodes`` nodes in the "ladder" layout: the forward chain going down,
  the backward chain beside it going up (its edges written reversed with ``dir=back``) and
  a dashed edge, ``minlen=0``, from each forward op to the backward step that keeps its
  value, so no edge spans ranks;
* the same graph with the backward chain below the forward one, where every kept value's
  edge spans many ranks (Graphviz adds a virtual node per rank crossed: time grows with
  the square of the length);
* when `tapegrad.explain` exists, the drawing of W1's gradient with ``--steps`` steps of
  ``x = tanh(x * 1.01 + 0.1)`` (then ``sum``), as ``Explanation.to_dot()`` lays it out.

Each measurement runs in a child process, best of three, given up after ``--timeout``
seconds (printed as ``> timeout``).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import shutil
import signal
import time
from collections.abc import Callable

from tapegrad.utils import graphviz
from tapegrad.utils.graphviz import dot_quote, html_label_escape


def explanation_like_dot(nodes: int, ladder: bool = True) -> str:
    """A DOT graph of about ``nodes`` nodes shaped like a forward + backward drawing."""
    half = max(nodes // 2, 1)
    lines = ["digraph G {", "  rankdir=TB;", "  node [shape=plaintext, fontname=Helvetica];"]
    for part, colour in (("f", "lightblue"), ("b", "mistyrose")):
        lines.append(f"  subgraph cluster_{part} {{")
        for i in range(half):
            rule = "g * (1 - y**2)" if part == "b" else "tanh(x)"
            label = (
                f'<table border="0" cellborder="1" cellspacing="0"><tr><td bgcolor="{colour}">'
                f"<b>{part}{i}</b></td></tr><tr><td>{html_label_escape(rule)} "
                "f32[16]</td></tr></table>"
            )
            tooltip = dot_quote(f"{part}{i}: {rule}\nshape (16,) float32")
            lines.append(f"    {part}{i} [label=<{label}>, tooltip={tooltip}];")
        lines.append("  }")
    for i in range(half - 1):
        lines.append(f"  f{i} -> f{i + 1};")
        # The backward pass runs from the last op to the first.
        if ladder:
            lines.append(f"  b{i} -> b{i + 1} [dir=back];")
            lines.append(f"  f{i} -> b{i} [style=dashed, minlen=0];")
        else:
            lines.append(f"  b{i + 1} -> b{i};")
            lines.append(f"  f{i} -> b{i} [style=dashed, constraint=false];")
    lines.append(f"  f{half - 1} -> b{half - 1};")  # the output seeds the gradient
    lines.append("}")
    return "\n".join(lines) + "\n"


def _best(func: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def _select(renderer: str) -> None:
    """Make `graphviz.render` use ``renderer`` in this (child) process."""
    if renderer == "dot program":
        graphviz._pygraphviz = lambda: None  # type: ignore[assignment]
    else:
        real = shutil.which
        shutil.which = lambda name, *a, **k: None if name == "dot" else real(name, *a, **k)


def _child(source: str, fmt: str, renderer: str, queue: multiprocessing.Queue) -> None:
    os.setpgrp()  # its own process group: a timeout ends the dot program it starts too
    _select(renderer)
    queue.put(_best(lambda: graphviz.render(source, fmt, dpi=72)))


def _timed(source: str, fmt: str, renderer: str, timeout: float) -> float | None:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    child = multiprocessing.Process(target=_child, args=(source, fmt, renderer, queue))
    child.start()
    child.join(timeout)
    if child.is_alive():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        child.join()
        return None
    return queue.get() if not queue.empty() else None


def _renderers() -> list[str]:
    found = ["dot program"] if shutil.which("dot") is not None else []
    return found + (["pygraphviz"] if graphviz._pygraphviz() is not None else [])


def _w1_dot(steps: int) -> str | None:
    import numpy as np

    import tapegrad as tg
    import tapegrad.numpy as tnp

    explain = getattr(tg, "explain", None)
    if explain is None:
        return None

    def w1(x: tg.Tensor) -> tg.Tensor:
        for _ in range(steps):
            x = tnp.tanh(x * 1.01 + 0.1)
        return tnp.sum(x)

    return str(explain(w1, np.ones(16, np.float32)).to_dot())


def main(argv: list[str] | None = None) -> None:
    """Time the renderers and print one row per (graph, renderer, format)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=100, help="W1's steps for explain")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    graphs = [
        (f"ladder, {args.nodes} nodes", explanation_like_dot(args.nodes)),
        (f"stacked, {args.nodes} nodes", explanation_like_dot(args.nodes, ladder=False)),
    ]
    w1 = _w1_dot(args.steps)
    if w1 is not None:
        graphs.append((f"explain(W1 x{args.steps}), {w1.count(' [label=')} nodes", w1))
    renderers = _renderers()
    if not renderers:
        raise SystemExit(f"no Graphviz renderer: {graphviz.INSTALL_HINT}")
    print(f"{'graph':<34} {'renderer':<12} {'format':<6} {'best of 3 (s)':>13}")
    for title, source in graphs:
        for renderer in renderers:
            for fmt in ("svg", "png"):
                seconds = _timed(source, fmt, renderer, args.timeout)
                shown = (
                    f"{seconds:13.2f}" if seconds is not None else f"> {args.timeout:g}".rjust(13)
                )
                print(f"{title:<34} {renderer:<12} {fmt:<6} {shown}", flush=True)


if __name__ == "__main__":
    main()

"""A/B: the benchmark rows of two commits of tapegrad, measured in alternating runs.

Each commit is checked out into a temporary git worktree; the *current* benchmark code runs
against each one's ``tapegrad`` package (a folder per side holding a copy of
``benchmarks/`` and a link to that side's ``tapegrad/``), in the order A, B, B, A, A, B, ...
so that drift of a shared, noisy machine falls on both sides alike. Every run is a full
``benchmarks.run`` (one process per framework, as the spec says).

Printed per row and framework: the median over rounds of each side's median, B / A, and,
where ``numpy-hand`` ran, each side's ratio to it (the ratio the architecture issue asks
to stay within 5%).

Usage::

    python -m benchmarks.ab BASE [HEAD] [--threads 1|default] [--workloads W1,W2,...]
                            [--frameworks tapegrad,tapegrad-compiled,numpy-hand] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BASELINE = "numpy-hand"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO_ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


def prepare_side(commit: str, where: Path) -> Path:
    """A folder whose ``tapegrad`` is ``commit``'s and whose ``benchmarks`` is today's.

    Args:
        commit: A commit-ish.
        where: An empty temporary folder.

    Returns:
        The folder to run ``python -m benchmarks.run`` in.
    """
    tree = where / "tree"
    _git("worktree", "add", "--detach", str(tree), commit)
    side = where / "side"
    side.mkdir()
    (side / "tapegrad").symlink_to(tree / "tapegrad", target_is_directory=True)
    shutil.copytree(
        REPO_ROOT / "benchmarks",
        side / "benchmarks",
        ignore=shutil.ignore_patterns("results", "__pycache__"),
    )
    return side


def run_side(side: Path, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """One full benchmark run in ``side``; returns median seconds by framework and row."""
    out = side / "report.json"
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--threads",
        args.threads,
        "--workloads",
        args.workloads,
        "--frameworks",
        args.frameworks,
        "--json",
        str(out),
    ]
    subprocess.run(cmd, cwd=side, check=False, capture_output=True, text=True)
    if not out.exists():
        raise RuntimeError(f"benchmarks.run wrote no report in {side}")
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return {
        name: {
            row: entry["median_s"]
            for row, entry in framework["results"].items()
            if isinstance(entry, dict) and "median_s" in entry
        }
        for name, framework in report["reports"].items()
    }


def summarize(
    a_runs: list[dict[str, dict[str, float]]], b_runs: list[dict[str, dict[str, float]]]
) -> list[str]:
    """Table lines: row, framework, A and B medians (ms), B / A, ratios to numpy-hand.

    Examples:
        >>> a = [{"tapegrad": {"W2": 0.002}, "numpy-hand": {"W2": 0.001}}]
        >>> b = [{"tapegrad": {"W2": 0.0021}, "numpy-hand": {"W2": 0.001}}]
        >>> print(summarize(a, b)[2])
        | W2 | tapegrad | 2.000 | 2.100 | 1.050 | 2.000 | 2.100 |
    """

    def median(runs: list[dict[str, dict[str, float]]], name: str, row: str) -> float | None:
        values = [run[name][row] for run in runs if row in run.get(name, {})]
        return statistics.median(values) if values else None

    lines = [
        "| row | framework | A ms | B ms | B / A | A / hand | B / hand |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    names = sorted({name for run in a_runs + b_runs for name in run})
    rows = sorted({row for run in a_runs + b_runs for name in run for row in run[name]})
    for row in rows:
        for name in names:
            a, b = median(a_runs, name, row), median(b_runs, name, row)
            if a is None or b is None or name == BASELINE:
                continue
            hand_a, hand_b = median(a_runs, BASELINE, row), median(b_runs, BASELINE, row)
            to_hand = f"{a / hand_a:.3f} | {b / hand_b:.3f}" if hand_a and hand_b else "– | –"
            lines.append(
                f"| {row} | {name} | {a * 1e3:.3f} | {b * 1e3:.3f} | {b / a:.3f} | {to_hand} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="commit A (e.g. origin/main or a hash)")
    parser.add_argument("head", nargs="?", default="HEAD", help="commit B (default HEAD)")
    parser.add_argument("--threads", choices=["1", "default"], default="1")
    parser.add_argument("--workloads", default="W1,W6,W2,W3,W4,W5")
    parser.add_argument("--frameworks", default="tapegrad,tapegrad-compiled,numpy-hand")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sides = []
        try:
            for label, commit in (("a", args.base), ("b", args.head)):
                (Path(tmp) / label).mkdir()
                sides.append(prepare_side(commit, Path(tmp) / label))
            runs: dict[int, list[dict[str, dict[str, float]]]] = {0: [], 1: []}
            for k in range(args.rounds):
                for index in (0, 1) if k % 2 == 0 else (1, 0):
                    runs[index].append(run_side(sides[index], args))
        finally:
            for label in ("a", "b"):
                tree = Path(tmp) / label / "tree"
                if tree.exists():
                    _git("worktree", "remove", "--force", str(tree))
    print(
        f"A = {args.base} ({_git('rev-parse', '--short', args.base)}), "
        f"B = {args.head} ({_git('rev-parse', '--short', args.head)}), threads "
        f"{args.threads}, {args.rounds} alternating runs each"
    )
    print("\n".join(summarize(runs[0], runs[1])))


if __name__ == "__main__":
    main()

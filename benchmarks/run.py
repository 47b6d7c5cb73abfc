"""Run the benchmarks, one process per framework, and print one comparison table.

Usage::

    python -m benchmarks.run [--workloads W1,W6] [--frameworks torch,jax-jit,...]
                             [--threads 1|default] [--json out.json] [--details]

Rows are workloads, columns frameworks: ``median (min)``, W1 rows in µs per primitive op
(time / 300), the others in ms per call. A second table gives each peer's median over
tapegrad's median from the same run; a third, GFLOP/s at the median for the rows with a
FLOP count (W2, W3: 6*B*P; G0: 2*n^3). Frameworks that are not installed are skipped.

W7 (the Transformer encoder step) runs the steps of `benchmarks.transformer_w7` (its
``run_builders``) for tapegrad, tapegrad-compiled, torch and jax-jit, timed like every other
row; ``python -m benchmarks.transformer_w7`` adds CPU time and peak RSS per step and checks
that the peers' first losses agree.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import harness
from benchmarks.harness import BASELINE, FRAMEWORKS

REPO_ROOT = Path(__file__).resolve().parent.parent

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# As workloads.md asks. XLA reads only the first token (the second, a TensorFlow-era option,
# is ignored); XLA_FLAGS must start with "--" or XLA takes it for a file name, so these go
# last. Even so XLA keeps two cores busy: it runs the program on its own executor thread while
# the caller waits (cpu/wall about 1.9 on tiny programs), and its GEMM ignores these flags
# (G0: cpu/wall 2.0, 71 GFLOP/s against 36 pinned to one core). So ``--threads 1`` also pins
# every framework's process to one CPU (``single_cpu_affinity``): one core each, for all.
XLA_SINGLE_THREAD_FLAGS = ("--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1")


def single_cpu_affinity() -> set[int] | None:
    """Return the one-CPU set that ``--threads 1`` pins each framework's process to.

    Returns:
        ``{cpu}``, the first CPU this process may run on, or None where the platform has no
        CPU affinity (the thread variables are then the only limit).

    Examples:
        >>> cpus = single_cpu_affinity()
        >>> cpus is None or len(cpus) == 1
        True
    """
    if not hasattr(os, "sched_getaffinity"):
        return None
    return {min(os.sched_getaffinity(0))}


def child_env(threads: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """Return the environment of a framework's process for a thread setting.

    Only the thread settings are touched; everything else (``OPENBLAS_CORETYPE`` included)
    is passed on as it is.

    Args:
        threads: ``"1"`` pins OpenMP, OpenBLAS, MKL and XLA to one thread; ``"default"``
            removes those settings so that every library picks its own default.
        base: the environment to start from (default: this process's).

    Returns:
        The new environment.

    Examples:
        >>> env = child_env("1", {"XLA_FLAGS": "--xla_dump_to=/tmp/x"})
        >>> env["OMP_NUM_THREADS"], env["XLA_FLAGS"].split()[0]
        ('1', '--xla_dump_to=/tmp/x')
        >>> sorted(child_env("default", env))
        ['XLA_FLAGS']
    """
    env = dict(os.environ if base is None else base)
    xla_flags = [f for f in env.get("XLA_FLAGS", "").split() if f not in XLA_SINGLE_THREAD_FLAGS]
    for var in THREAD_VARS:
        env.pop(var, None)
    if threads == "1":
        for var in THREAD_VARS:
            env[var] = "1"
        xla_flags.extend(XLA_SINGLE_THREAD_FLAGS)
    elif threads != "default":
        raise ValueError(f"child_env: threads must be '1' or 'default', got {threads!r}")
    if xla_flags:
        env["XLA_FLAGS"] = " ".join(xla_flags)
    else:
        env.pop("XLA_FLAGS", None)
    return env


def missing_requirement(name: str) -> str | None:
    """Return the first package that framework ``name`` needs and cannot find, else None."""
    for package in FRAMEWORKS[name].requires:
        if importlib.util.find_spec(package) is None:
            return package
    return None


def run_child(
    name: str,
    workloads: list[str],
    env: dict[str, str],
    warmup_s: float,
    measure_s: float,
    cpus: set[int] | None = None,
) -> dict[str, Any]:
    """Run :mod:`benchmarks.worker` for one framework in a fresh process; return its report.

    ``cpus``, when given, is the CPU set the process (and every thread it starts) runs on.
    """
    pin = None if cpus is None else (lambda: os.sched_setaffinity(0, cpus))
    timeout = 120 + len(workloads) * (60 + warmup_s + measure_s)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        cmd = [
            sys.executable, "-m", "benchmarks.worker", name,
            "--workloads", ",".join(workloads), "--out", str(out),
            "--warmup", str(warmup_s), "--duration", str(measure_s),
        ]  # fmt: skip
        try:
            proc = subprocess.run(
                cmd,
                cwd=REPO_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                preexec_fn=pin,
            )
        except subprocess.TimeoutExpired:
            return {"framework": name, "status": "error", "message": f"timed out ({timeout}s)"}
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            message = f"exit code {proc.returncode}: " + " | ".join(tail)
            return {"framework": name, "status": "error", "message": message}
        report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return report


def _fmt(value: float) -> str:
    """Format a time with about three significant digits and no exponent."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _cell(entry: dict[str, Any] | None, factor: float) -> str:
    if entry is None:
        return "-"
    if "error" in entry:
        return "error"
    mark = "" if entry.get("correct") is not False else " !"
    return f"{_fmt(entry['median_s'] * factor)} ({_fmt(entry['min_s'] * factor)}){mark}"


def _render(header: list[str], rows: list[list[str]], left: int = 2) -> str:
    """Align a table: the first ``left`` columns (workload, unit) to the left, numbers right."""
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = []
    for row in table:
        cells = [
            cell.ljust(width) if i < left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def format_tables(reports: dict[str, dict[str, Any]], workloads: list[str]) -> str:
    """Render the times table and the ratio-to-tapegrad table.

    Args:
        reports: worker reports of the frameworks that ran, in column order.
        workloads: the row order.

    Returns:
        The tables as text, with footnotes for failed checks and errors.
    """
    names = list(reports)
    results = {n: reports[n].get("results", {}) for n in names}
    rows_present = [w for w in workloads if any(w in results[n] for n in names)]
    header = ["workload", "unit", *names]
    time_rows = []
    for w in rows_present:
        unit, factor = harness.workload_unit(w)
        time_rows.append([w, unit, *(_cell(results[n].get(w), factor) for n in names)])
    legend = "median (min) per call; W1 rows per primitive op (time / 300); '!' = failed check"
    out = [legend, _render(header, time_rows)]

    base = results.get(BASELINE, {})
    peers = [n for n in names if n != BASELINE]
    if not any("median_s" in e for e in base.values()):
        out.append(f"\nratio to {BASELINE}: not available ({BASELINE} has no results)")
    else:
        ratio_rows = []
        for w in rows_present:
            b = base.get(w, {})
            row = [w]
            for n in peers:
                e = results[n].get(w, {})
                ok = "median_s" in e and "median_s" in b
                row.append(_fmt(e["median_s"] / b["median_s"]) if ok else "-")
            if any(cell != "-" for cell in row[1:]):
                ratio_rows.append(row)
        out.append(f"\npeer median / {BASELINE} median, same run (< 1: the peer is faster)")
        out.append(_render(["workload", *peers], ratio_rows, left=1))

    notes = []
    for n in names:
        for w, e in results[n].items():
            if "error" in e:
                notes.append(f"  {n} {w}: {e['error']}")
            elif e.get("correct") is False:
                notes.append(
                    f"  {n} {w}: max rel err {e['max_rel_err']:.3g} > {harness.MAX_REL_ERR}"
                )
            elif e.get("dtype") != "float32":
                notes.append(f"  {n} {w}: result dtype {e.get('dtype')}, expected float32")
    if notes:
        out.append("\nproblems:\n" + "\n".join(notes))
    return "\n".join(out)


def format_throughput(reports: dict[str, dict[str, Any]], workloads: list[str]) -> str:
    """GFLOP/s at the median (and at the min) for the rows of ``harness.WORKLOAD_FLOPS``.

    Returns:
        The table as text, or ``""`` when no such row ran.
    """
    names = list(reports)
    rows = []
    for w in workloads:
        flops = harness.WORKLOAD_FLOPS.get(w)
        entries = [reports[n].get("results", {}).get(w) for n in names]
        if flops is None or not any(e and "median_s" in e for e in entries):
            continue
        cells = [
            f"{flops / e['median_s'] / 1e9:.1f} ({flops / e['min_s'] / 1e9:.1f})"
            if e and "median_s" in e
            else "-"
            for e in entries
        ]
        rows.append([w, f"{flops / 1e9:.3g}", *cells])
    if not rows:
        return ""
    legend = "\nGFLOP/s at median (at min); W2/W3 count 6*B*P, G0 2*n^3"
    return legend + "\n" + _render(["workload", "GFLOP", *names], rows)


def format_first_calls(reports: dict[str, dict[str, Any]], workloads: list[str]) -> str:
    """First and second call of every workload, ms (the first includes any trace + compile).

    For ``tapegrad-compiled`` and ``jax-jit`` the first call traces, optimizes and compiles
    the function and runs it once; for eager frameworks it is a cold run.

    Returns:
        The table as text, or ``""`` when nothing ran.
    """
    names = list(reports)
    rows = []
    for w in workloads:
        entries = [reports[n].get("results", {}).get(w) for n in names]
        if not any(e and "first_call_s" in e for e in entries):
            continue
        cells = [
            f"{_fmt(e['first_call_s'] * 1e3)} / {_fmt(e['second_call_s'] * 1e3)}"
            if e and "first_call_s" in e
            else "-"
            for e in entries
        ]
        rows.append([w, *cells])
    if not rows:
        return ""
    legend = "\nfirst call / second call, ms (compiled columns: trace + compile + run first)"
    return legend + "\n" + _render(["workload", *names], rows, left=1)


def format_threads(reports: dict[str, dict[str, Any]]) -> str:
    """One line per framework: its version, its own thread settings and threadpoolctl's pools."""
    lines = []
    for name, report in reports.items():
        info = report.get("info", {})
        parts = [f"{name} {info.get('version', '?')}:"]
        if "num_threads" in info:
            libs = [k for k in ("mkl", "mkldnn") if info.get(k)]
            parts.append(f"torch threads {info['num_threads']} (built with {', '.join(libs)});")
        if "devices" in info:
            parts.append(f"XLA on {', '.join(info['devices'])}, {info.get('xla_pool')};")
        pools = []
        for pool in info.get("threadpools", []):
            if "error" in pool:
                pools.append(pool["error"])
                continue
            label = f"{pool.get('internal_api')} {pool.get('version') or ''}".strip()
            pools.append(f"{pool.get('prefix')} ({label}) {pool.get('num_threads')} threads")
        parts.append("pools: " + ("; ".join(pools) or "none"))
        lines.append(" ".join(parts))
    return "\n".join(lines)


def format_details(reports: dict[str, dict[str, Any]]) -> str:
    """One line per framework and workload with every timing field (seconds → ms)."""
    header = (
        f"{'framework':<12} {'workload':<10} {'first ms':>9} {'second ms':>10} {'p25 ms':>9}"
        f" {'p75 ms':>9} {'calls':>6} {'cpu/wall':>9} {'max rel err':>12}"
    )
    lines = [header]
    for name, report in reports.items():
        for w, e in report.get("results", {}).items():
            if "error" in e:
                continue
            err = "n/a" if e["max_rel_err"] is None else f"{e['max_rel_err']:.2g}"
            ms = {k: e[k] * 1e3 for k in ("first_call_s", "second_call_s", "p25_s", "p75_s")}
            lines.append(
                f"{name:<12} {w:<10} {ms['first_call_s']:9.3f} {ms['second_call_s']:10.3f}"
                f" {ms['p25_s']:9.4f} {ms['p75_s']:9.4f} {e['n_calls']:6d}"
                f" {e['cpu_wall']:9.2f} {err:>12}"
            )
    return "\n".join(lines)


def _parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str], list[str]]:
    """Parse the command line; return the options, the workloads and the frameworks."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--workloads", default="W1,W6", help="groups or workloads (W1,W7)")
    parser.add_argument(
        "--frameworks", default=",".join(FRAMEWORKS), help=f"from {', '.join(FRAMEWORKS)}"
    )
    parser.add_argument("--threads", choices=("1", "default"), default="default")
    parser.add_argument("--json", metavar="PATH", help="also write every number to PATH")
    parser.add_argument("--details", action="store_true", help="print every timing field")
    parser.add_argument("--warmup", type=float, default=harness.WARMUP_S, help="seconds")
    parser.add_argument("--duration", type=float, default=harness.MEASURE_S, help="seconds")
    args = parser.parse_args(argv)
    try:
        workloads = harness.expand_workloads(args.workloads)
    except ValueError as exc:
        parser.error(str(exc))
    wanted = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in FRAMEWORKS]
    if unknown:
        parser.error(f"unknown frameworks {unknown}; known: {', '.join(FRAMEWORKS)}")
    return args, workloads, [f for f in FRAMEWORKS if f in wanted]


def run_all(
    frameworks: list[str],
    workloads: list[str],
    env: dict[str, str],
    warmup_s: float = harness.WARMUP_S,
    measure_s: float = harness.MEASURE_S,
    cpus: set[int] | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, str], dict[str, str]]:
    """Run each framework in its own process, one after the other, reporting progress.

    Returns:
        The reports of the frameworks that ran, the skipped ones (not installed or not
        importable) with the reason, and the failed ones (crash, timeout) with the reason.
    """
    reports: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    failed: dict[str, str] = {}
    for name in frameworks:
        missing = missing_requirement(name)
        if missing:
            skipped[name] = f"{missing} is not installed"
            print(f"skipping {name}: {skipped[name]}", flush=True)
            continue
        print(f"running {name} ...", flush=True)
        report = run_child(name, workloads, env, warmup_s, measure_s, cpus)
        if report["status"] == "skipped":
            skipped[name] = report.get("message", "")
            print(f"skipping {name}: {skipped[name]}", flush=True)
        elif report["status"] != "ok":
            failed[name] = report.get("message", report["status"])
            print(f"FAILED {name}: {failed[name]}", flush=True)
        else:
            reports[name] = report
    return reports, skipped, failed


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    args, workloads, frameworks = _parse_args(argv)
    env = child_env(args.threads)
    cpus = single_cpu_affinity() if args.threads == "1" else None
    settings = {k: env.get(k) for k in (*THREAD_VARS, "XLA_FLAGS")}
    print(
        f"tapegrad benchmarks, {datetime.datetime.now():%Y-%m-%d %H:%M}, Python "
        f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs\n"
        f"threads: {args.threads} ("
        + ", ".join(f"{k}={v or 'unset'}" for k, v in settings.items())
        + ")"
        + (f", each process pinned to CPU {min(cpus)}" if cpus else ""),
        flush=True,
    )
    reports, skipped, failed = run_all(frameworks, workloads, env, args.warmup, args.duration, cpus)

    print()
    if reports:
        print(format_tables(reports, workloads))
        throughput = format_throughput(reports, workloads)
        if throughput:
            print(throughput)
        print(format_first_calls(reports, workloads))
        print("\nthreads (threadpoolctl, after the runs):")
        print(format_threads(reports))
        if args.details:
            print()
            print(format_details(reports))
    if skipped:
        print("\nskipped: " + "; ".join(f"{n} ({why})" for n, why in skipped.items()))
    if failed:
        print("\nfailed: " + "; ".join(f"{n} ({why})" for n, why in failed.items()))

    if args.json:
        meta = {
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "threads": args.threads,
            "pinned_cpus": sorted(cpus) if cpus else None,
            "env": settings,
            "workloads": workloads,
            "warmup_s": args.warmup,
            "measure_s": args.duration,
        }
        payload = {"meta": meta, "skipped": skipped, "failed": failed, "reports": reports}
        Path(args.json).write_text(json.dumps(payload, indent=1), encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 1 if failed or not reports else 0


if __name__ == "__main__":
    sys.exit(main())

"""Data-parallel training on MPI: W3 and W4 on N processes against one process.

Usage::

    python -m benchmarks.distributed [--processes 2] [--workloads W3,W4] [--steps 40]
                                     [--json out.json]

For each workload (the shared data and weights of `harness`; a ``Sequential`` compiled
with the default ``jit_compile``, SGD 0.1, softmax cross-entropy) it launches, one after
the other, each with one BLAS thread per process:

* ``one``: one process, the global batch (W3: 256, W4: 32) — ``T_1``;
* ``dp``: ``mpiexec -n N``, ``set_distribution(DataParallel())``, the same global batch
  split across the processes — ``T_dp``, and the time spent inside all-reduce calls
  during those steps (waiting for the slower process included);
* ``independent``: ``mpiexec -n N`` without a distribution, each process training on its
  share (the global batch / N) with no communication — ``T_N``, what ``dp`` would cost
  if communication were free (same cores, same contention);
* ``lockstep``: as ``independent``, with an 8-byte all-reduce after every step —
  ``T_lock``: the processes wait for each other every step but move no data. It splits
  the overhead ``T_dp - T_N`` into waiting in lock-step (``T_lock - T_N``: the slower
  process sets each step's pace, and the processes' compute phases line up) and moving
  the gradients (``T_dp - T_lock``);
* ``allreduce``: ``mpiexec -n N``, the model's gradient buffer (float32, all weights)
  all-reduced alone, and an 8-byte one (the latency).

A step is timed from one ``on_train_batch_end`` to the next inside ``fit`` (the loop's
own overheads included; a first epoch compiles and warms up). Reported: medians (and
minima) in ms per global step, speed-up ``T_1 / T_dp``, and the communication overhead
fraction ``(T_dp - T_N) / T_dp``; the bandwidth from the all-reduce of the large buffer
feeds the ring all-reduce cost model of ``docs/distributed.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from typing import Any

import numpy as np

from benchmarks import harness

WORKLOADS = ("W3", "W4")


def build(workload: str) -> tuple[Any, np.ndarray, np.ndarray, int]:
    """The compiled model with the shared initial weights, the 4 batches laid end to end
    (``x``, ``y``) and the global batch size."""
    import tapegrad as tg

    if workload == "W3":
        data = harness.make_mlp_data("W3")
        layers = [tg.layers.Input((data["w1"].shape[0],))]
        layers += [tg.layers.Dense(data[f"w{i}"].shape[1], activation="relu") for i in (1, 2)]
        layers.append(tg.layers.Dense(data["w3"].shape[1]))
        names = harness.MLP_PARAM_NAMES
    else:
        data = harness.cnn_channels_last(harness.make_cnn_data())
        layers = [
            tg.layers.Input(data["x"].shape[2:]),
            tg.layers.Conv2D(data["k1"].shape[-1], 3, padding="same", activation="relu"),
            tg.layers.MaxPooling2D(),
            tg.layers.Conv2D(data["k2"].shape[-1], 3, padding="same", activation="relu"),
            tg.layers.MaxPooling2D(),
            tg.layers.Flatten(),
            tg.layers.Dense(data["w3"].shape[-1]),
        ]
        names = harness.CNN_PARAM_NAMES
    model = tg.Sequential(layers)
    model.set_weights([data[name] for name in names])
    model.compile(tg.optimizers.SGD(0.1), tg.losses.SparseCategoricalCrossentropy(from_logits=True))
    batch = data["x"].shape[1]
    x = data["x"].reshape(-1, *data["x"].shape[2:])
    return model, x, data["y"].reshape(-1), batch


class StepClock:
    """Times each step of ``fit``: from one batch's end to the next.

    Args:
        comm: A communicator to wait on after each step (an 8-byte all-reduce), or None.
    """

    def __init__(self, comm: Any = None) -> None:
        import tapegrad as tg

        clock = self
        token = np.zeros(2, np.float32)

        class Callback(tg.callbacks.Callback):
            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                if comm is not None:
                    comm.allreduce_sum_inplace(token)
                clock.marks.append(time.perf_counter())

        self.marks: list[float] = []
        self.callback = Callback()

    def steps(self) -> np.ndarray:
        return np.diff(np.array(self.marks))


def count_allreduce_time(comm: Any) -> list[float]:
    """Wrap the communicator's all-reduces to add up the seconds spent in them."""
    spent = [0.0]
    for name in ("allreduce_sum", "allreduce_sum_inplace"):
        original = getattr(comm, name)

        def timed(array: Any, _original: Any = original) -> Any:
            start = time.perf_counter()
            try:
                return _original(array)
            finally:
                spent[0] += time.perf_counter() - start

        setattr(comm, name, timed)
    return spent


def worker(mode: str, workload: str, steps: int) -> dict[str, Any]:
    """One configuration, in this process (under mpiexec for the multi-process ones)."""
    import tapegrad.distribution as dist

    comm = dist.world()
    model, x, y, batch = build(workload)
    repeats = max(1, steps // 4)
    x, y = np.concatenate([x] * repeats), np.concatenate([y] * repeats)
    if mode == "allreduce":
        size = sum(int(np.prod(w.shape)) for w in model.weights)
        big = time_allreduce(comm, np.ones(size, np.float32))
        small = time_allreduce(comm, np.ones(2, np.float32))
        return {
            "params": size,
            "allreduce_ms": big[0],
            "allreduce_min_ms": big[1],
            "latency_ms": small[0],
            "latency_min_ms": small[1],
        }
    if mode in ("independent", "lockstep"):
        x, y, batch = local_share(x, y, batch, comm)
    spent = [0.0]
    if mode == "dp":
        dist.set_distribution(dist.DataParallel())
        spent = count_allreduce_time(comm)
    model.fit(x[: 4 * batch], y[: 4 * batch], batch_size=batch, verbose=0, shuffle=False)
    # Checked against the one-process run after these 4 steps (later, random labels and
    # SGD 0.1 amplify the rounding differences of another summation order).
    sums = [float(np.abs(np.asarray(w)).sum()) for w in model.weights]
    comm.barrier()  # every process starts timing together
    clock = StepClock(comm if mode == "lockstep" else None)
    spent[0] = 0.0
    model.fit(x, y, batch_size=batch, verbose=0, shuffle=False, callbacks=[clock.callback])
    times = clock.steps()
    result = {"median_ms": 1e3 * float(np.median(times)), "min_ms": 1e3 * float(times.min())}
    in_allreduce = comm.allgather(np.array([1e3 * spent[0] / len(clock.marks)]))
    if mode == "dp":
        result["in_allreduce_ms"] = float(in_allreduce[0][0])
        result["in_allreduce_ms_per_process"] = [float(t[0]) for t in in_allreduce]
    result["weight_sums"] = sums
    # The slowest process sets the pace (of the independent runs, which do not wait).
    every = comm.allgather(np.array([result["median_ms"], result["min_ms"]]))
    result["median_ms"] = max(float(t[0]) for t in every)
    result["min_ms"] = max(float(t[1]) for t in every)
    return result


def local_share(x: np.ndarray, y: np.ndarray, batch: int, comm: Any) -> tuple[Any, Any, int]:
    """This process's share of every global batch, laid end to end: the independent run
    trains on exactly the samples the data-parallel run gives it."""
    base, extra = divmod(batch, comm.size)
    start = comm.rank * base + min(comm.rank, extra)
    stop = start + base + (1 if comm.rank < extra else 0)
    rows = np.concatenate([np.arange(k + start, k + stop) for k in range(0, len(x), batch)])
    return x[rows], y[rows], stop - start


def time_allreduce(comm: Any, buffer: np.ndarray, calls: int = 30) -> tuple[float, float]:
    """Median and minimum ms of an in-place all-reduce of ``buffer`` (after a warm-up)."""
    for _ in range(3):
        comm.allreduce_sum_inplace(buffer)
    times = []
    for _ in range(calls):
        comm.barrier()
        start = time.perf_counter()
        comm.allreduce_sum_inplace(buffer)
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times)), 1e3 * float(np.min(times))


def launch(mode: str, workload: str, processes: int, steps: int) -> dict[str, Any]:
    """Run `worker` in fresh processes; the result of process 0."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    command = [sys.executable, "-m", "benchmarks.distributed", "--worker", mode, workload]
    command += ["--steps", str(steps)]
    if mode != "one":
        mpiexec = shutil.which("mpiexec")
        if mpiexec is None:
            raise SystemExit("benchmarks.distributed: no mpiexec on PATH (pip install mpich)")
        command = [mpiexec, "-n", str(processes), *command]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"{mode} {workload} failed:\n{done.stdout}\n{done.stderr}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[0])


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--json")
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "WORKLOAD"))
    args = parser.parse_args(argv)
    if args.worker:
        import tapegrad.distribution as dist

        result = worker(args.worker[0], args.worker[1], args.steps)
        if dist.process_id() == 0:
            print(json.dumps(result), flush=True)
        return
    report: dict[str, Any] = {"cpu": cpu_name(), "cores": os.cpu_count(), "rows": {}}
    print(f"{report['cpu']}, {report['cores']} cores; {args.processes} processes, 1 thread each")
    print(
        "workload  stat    T_1 ms  T_dp ms  T_N ms  T_lock ms  speed-up  overhead  in-allreduce ms"
    )
    for workload in args.workloads.split(","):
        one = launch("one", workload, 1, args.steps)
        dp = launch("dp", workload, args.processes, args.steps)
        independent = launch("independent", workload, args.processes, args.steps)
        lockstep = launch("lockstep", workload, args.processes, args.steps)
        alone = launch("allreduce", workload, args.processes, args.steps)
        row: dict[str, Any] = {
            "one": one,
            "dp": dp,
            "independent": independent,
            "lockstep": lockstep,
        }
        error = max(
            abs(a - b) / max(abs(b), 1e-6)
            for a, b in zip(dp["weight_sums"], one["weight_sums"], strict=True)
        )
        if error > harness.MAX_REL_ERR:
            raise SystemExit(f"{workload}: data-parallel weights differ from one process's")
        for stat in ("median", "min"):
            t1, tdp, tn, tlock = (run[f"{stat}_ms"] for run in (one, dp, independent, lockstep))
            row[f"speedup_{stat}"] = t1 / tdp
            row[f"overhead_fraction_{stat}"] = (tdp - tn) / tdp
            row[f"lockstep_fraction_{stat}"] = (tlock - tn) / tdp
            print(
                f"{workload:8s}  {stat:6s}  {t1:6.2f}  {tdp:7.2f}  {tn:6.2f}  {tlock:9.2f}  "
                f"{t1 / tdp:8.2f}  {100 * (tdp - tn) / tdp:7.1f}%  {dp['in_allreduce_ms']:15.2f}"
            )
        row["allreduce"] = alone
        row["bandwidth_GBps"] = allreduce_bandwidth(alone, args.processes)
        print(
            f"{workload:8s}  all-reduce of {alone['params']} floats alone: median "
            f"{alone['allreduce_ms']:.2f} ms, min {alone['allreduce_min_ms']:.2f} ms (8 bytes: "
            f"{alone['latency_min_ms'] * 1e3:.0f} us); bandwidth {row['bandwidth_GBps']:.2f} GB/s"
        )
        report["rows"][workload] = row
        row["projection"] = projection(row, args.processes)
        for line in row["projection"]["lines"]:
            print(f"{workload:8s}  {line}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=2)


def projection(row: dict[str, Any], processes: int) -> dict[str, Any]:
    """The ring all-reduce cost model with this run's bandwidth and latency, at 8-64
    processes: ``T(p) = 2 (p-1)/p * S / B + 2 (p-1) * latency``; the overhead fraction
    ``T(p) / (compute + T(p))`` (no overlap) for weak scaling (each process keeps the
    share it had here: compute ``T_N``) and strong scaling (the global batch stays: the
    compute ``T_1 / p``)."""
    alone = row["allreduce"]
    size = 4 * alone["params"]
    bandwidth = row["bandwidth_GBps"] * 1e9
    latency = alone["latency_min_ms"] / 1e3
    t_one, t_n = row["one"]["median_ms"] / 1e3, row["independent"]["median_ms"] / 1e3
    lines, table = [], {}
    for p in (processes, 8, 16, 32, 64):
        comm = 2 * (p - 1) / p * size / bandwidth + 2 * (p - 1) * latency
        weak, strong = comm / (t_n + comm), comm / (t_one / p + comm)
        table[p] = {"allreduce_ms": 1e3 * comm, "weak": weak, "strong": strong}
        lines.append(
            f"p={p:2d}: all-reduce {1e3 * comm:6.2f} ms; overhead weak scaling "
            f"{100 * weak:5.1f}%, strong scaling {100 * strong:5.1f}%"
        )
    return {"table": table, "lines": lines}


def allreduce_bandwidth(alone: dict[str, Any], processes: int) -> float:
    """Bandwidth in GB/s by the ring model, ``t = 2 (p-1)/p * n / B + latency``, from the
    fastest all-reduce seen (the hardware's, least disturbed by other load)."""
    seconds = (alone["allreduce_min_ms"] - alone["latency_min_ms"]) / 1e3
    moved = 2 * (processes - 1) / processes * 4 * alone["params"]
    return moved / seconds / 1e9 if seconds > 0 else float("inf")


if __name__ == "__main__":
    main()

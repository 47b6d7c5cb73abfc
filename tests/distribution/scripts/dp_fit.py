"""Run under ``mpiexec -n N``: `fit` / `evaluate` / `predict` under `DataParallel`, checked
on every process against one-process references. Process 0 prints ``ok <check>`` for each
check passed (an uncaught failure aborts the job: tapegrad's abort hook).

Each process starts from *different* initial weights (seeded by its rank), so equal
weights afterwards also prove the broadcast from process 0. 50 samples in batches of 16
leave a last batch of 2: with 3 processes one process's share is empty.
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

import tapegrad as tg
import tapegrad.distribution as dist

dist.initialize()
RANK, SIZE = dist.process_id(), dist.num_processes()
RNG = np.random.default_rng(0)
X = RNG.normal(size=(50, 4)).astype(np.float32)
Y = RNG.integers(0, 3, size=50)
BATCH = 16


def report(name: str) -> None:
    if RANK == 0:
        print(f"ok {name}", flush=True)


def build(seed: int, mode: str, optimizer: str = "sgd", norm: bool = False) -> tg.Model:
    """A small classifier (a Lambda layer included), compiled eagerly or compiled."""
    tg.utils.set_random_seed(seed)
    layers = [
        tg.layers.Input((4,)),
        tg.layers.Dense(8, activation="tanh"),
        tg.layers.Lambda(lambda t: t * 0.5 + tg.ops.sin(t)),
    ]
    if norm:
        layers.append(tg.layers.BatchNormalization())
    layers.append(tg.layers.Dense(3))
    model = tg.Sequential(layers)
    opt = tg.optimizers.SGD(0.1) if optimizer == "sgd" else tg.optimizers.Adam(0.01)
    model.compile(
        opt,
        tg.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        run_eagerly=mode == "eager",
        jit_compile=mode == "compiled",
    )
    return model


def arrays(model: tg.Model) -> list[np.ndarray]:
    return [np.array(v.value) for v in model.weights]


def same_everywhere(values: list[np.ndarray], what: str) -> None:
    """Every process holds these arrays bit for bit as process 0 does."""
    theirs = dist.world().bcast(values, 0)
    for index, (mine, ref) in enumerate(zip(values, theirs, strict=True)):
        assert mine.tobytes() == ref.tobytes(), f"rank {RANK}: {what}: array {index} differs"


def same_object(value: object, what: str) -> None:
    theirs = dist.world().bcast(value, 0)
    assert value == theirs, f"rank {RANK}: {what}: {value} != process 0's {theirs}"


def close(got: list[np.ndarray], want: list[np.ndarray], what: str) -> None:
    for index, (a, b) in enumerate(zip(got, want, strict=True)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"{what}: array {index}")


def one_process(mode: str, epochs: int = 2, **fit: object) -> tuple[tg.Model, object]:
    """The full-batch single-process run from process 0's initial weights."""
    dist.set_distribution(None)
    model = build(0, mode)
    history = model.fit(X, Y, batch_size=BATCH, epochs=epochs, verbose=0, **fit)
    return model, history


def check_default(mode: str) -> None:
    """Default all-reduce: weights identical on every process, allclose to one process;
    History, evaluate and predict equal everywhere and to one process."""
    model = build(RANK, mode)
    dist.set_distribution(dist.DataParallel(check_weights=True))
    history = model.fit(X, Y, batch_size=BATCH, epochs=2, verbose=0)
    if mode == "compiled":
        assert model._compiled_steps.get("dp_train") is not None, "the DP step fell back"
    evaluated = model.evaluate(X, Y, batch_size=BATCH, verbose=0, return_dict=True)
    predicted = model.predict(X, batch_size=BATCH, verbose=0)
    dist.set_distribution(None)
    same_everywhere(arrays(model), f"{mode} weights")
    same_object(history.history, f"{mode} History")
    same_object(evaluated, f"{mode} evaluate")
    same_everywhere([predicted], f"{mode} predict")
    reference, ref_history = one_process(mode)
    close(arrays(model), arrays(reference), f"{mode} weights against one process")
    for key, values in ref_history.history.items():
        close([np.array(history.history[key])], [np.array(values)], f"{mode} History {key}")
    want = reference.evaluate(X, Y, batch_size=BATCH, verbose=0, return_dict=True)
    close([np.array(list(evaluated.values()))], [np.array(list(want.values()))], "evaluate")
    assert predicted.shape == (50, 3), predicted.shape
    close([predicted], [reference.predict(X, batch_size=BATCH, verbose=0)], "predict")
    report(f"default {mode}")


def shard(count: int, rank: int) -> slice:
    base, extra = divmod(count, SIZE)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))


def accumulated_reference(epochs: int) -> tg.Model:
    """The single process that accumulates the same micro-batches in the same order: for
    each global batch, the gradient of each process's share of the loss (the loss of its
    micro-batch times its share of the samples), summed in rank order, then one update."""
    model = build(0, "eager")
    weights = model.trainable_weights
    for _ in range(epochs):
        for start in range(0, len(X), BATCH):
            xb, yb = X[start : start + BATCH], Y[start : start + BATCH]
            total = None
            for rank in range(SIZE):
                part = shard(len(xb), rank)
                count = part.stop - part.start
                if count == 0:
                    continue
                with tg.GradientTape() as tape:
                    pred = model(xb[part], training=True)
                    loss = model.compute_loss(x=xb[part], y=yb[part], y_pred=pred)
                    scaled = loss * np.float32(count / len(xb))
                grads = [np.asarray(g) for g in tape.gradient(scaled, weights)]
                total = (
                    grads if total is None else [t + g for t, g in zip(total, grads, strict=True)]
                )
            model.optimizer.apply_gradients(zip(total, weights, strict=True))
    return model


def check_deterministic() -> None:
    """deterministic=True: eager training bit for bit the accumulating single process;
    compiled training identical on every process and close to it."""
    reference = arrays(accumulated_reference(epochs=2))
    for mode in ("eager", "compiled"):
        model = build(RANK, mode)
        dist.set_distribution(dist.DataParallel(deterministic=True))
        model.fit(X, Y, batch_size=BATCH, epochs=2, verbose=0, shuffle=False)
        dist.set_distribution(None)
        same_everywhere(arrays(model), f"deterministic {mode} weights")
        if mode == "eager":
            for index, (got, want) in enumerate(zip(arrays(model), reference, strict=True)):
                assert got.tobytes() == want.tobytes(), f"deterministic: weight {index} differs"
        else:
            close(arrays(model), reference, "deterministic compiled")
        report(f"deterministic {mode}")


def check_resume(directory: str) -> None:
    """ModelCheckpoint (process 0 writes) then load and fit on: exactly the weights of an
    uninterrupted run (Adam, so the optimizer state must come back too)."""
    dp = dist.DataParallel()
    dist.set_distribution(dp)
    straight = build(RANK, "compiled", optimizer="adam")
    straight.fit(X, Y, batch_size=BATCH, epochs=2, verbose=0)
    path = os.path.join(directory, "checkpoint.tapegrad")
    first = build(RANK, "compiled", optimizer="adam")
    saver = tg.callbacks.ModelCheckpoint(path)
    first.fit(X, Y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[saver])
    dist.world().barrier()  # process 0 has written the file
    written = sorted(os.listdir(directory))
    same_object(written, "files written")
    resumed = tg.models.load_model(path)
    resumed.fit(X, Y, batch_size=BATCH, epochs=2, initial_epoch=1, verbose=0)
    # BackupAndRestore (process 0 writes and restores; the others take its state): a run
    # interrupted mid-epoch resumes to the same weights.
    backup = os.path.join(directory, "backup")
    interrupted = build(RANK, "compiled", optimizer="adam")
    try:
        interrupted.fit(
            X,
            Y,
            batch_size=BATCH,
            epochs=2,
            verbose=0,
            callbacks=[tg.callbacks.BackupAndRestore(backup, save_freq=1), Interrupt()],
        )
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the interruption did not happen")
    dist.world().barrier()
    restarted = build(RANK + 10, "compiled", optimizer="adam")
    restarted.fit(
        X,
        Y,
        batch_size=BATCH,
        epochs=2,
        verbose=0,
        callbacks=[tg.callbacks.BackupAndRestore(backup, save_freq=1)],
    )
    dist.set_distribution(None)
    for model, what in ((resumed, "resumed"), (restarted, "restored")):
        same_everywhere(arrays(model), f"{what} weights")
        for index, (a, b) in enumerate(zip(arrays(model), arrays(straight), strict=True)):
            assert a.tobytes() == b.tobytes(), f"rank {RANK}: {what} weight {index} differs"
    report("checkpoint resume")


class Interrupt(tg.callbacks.Callback):
    """Interrupts every process before the third batch of the second epoch."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if self.epoch == 1 and batch == 2:
            raise KeyboardInterrupt("interrupted")


class StopOnOneProcess(tg.callbacks.Callback):
    """Sets stop_training on the last process only, at its second batch."""

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if RANK == SIZE - 1 and batch == 1:
            self.model.stop_training = True


class Drift(tg.callbacks.Callback):
    """Changes a weight on the last process only (what check_weights must catch)."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if RANK == SIZE - 1 and SIZE > 1:
            kernel = self.model.layers[-1].kernel
            kernel.assign(np.asarray(kernel.value) + 1.0)


def check_callbacks(directory: str) -> None:
    """stop_training set on one process stops all at the same step; EarlyStopping sees the
    same numbers everywhere; CSVLogger writes on process 0 only; check_weights names the
    first differing weight on every process; BatchNormalization's moving statistics stay
    identical."""
    dist.set_distribution(dist.DataParallel())
    model = build(RANK, "compiled")
    history = model.fit(X, Y, batch_size=BATCH, epochs=3, verbose=0, callbacks=[StopOnOneProcess()])
    same_object(len(history.history["loss"]), "epochs run after stop_training")
    same_object(int(model.optimizer.iterations), "steps run after stop_training")
    assert int(model.optimizer.iterations) == 2, int(model.optimizer.iterations)
    log = os.path.join(directory, "log.csv")
    stopper = tg.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    history = model.fit(
        X,
        Y,
        batch_size=BATCH,
        epochs=5,
        verbose=0,
        callbacks=[stopper, tg.callbacks.CSVLogger(log)],
    )
    same_object(len(history.history["loss"]), "epochs run under EarlyStopping")
    assert len(history.history["loss"]) == 2, history.history
    dist.world().barrier()
    assert os.path.exists(log), "CSVLogger wrote nothing"
    dist.set_distribution(dist.DataParallel(check_weights=True))
    try:
        model.fit(X, Y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[Drift()])
    except RuntimeError as err:
        assert SIZE > 1, err
        assert f"weight '{model.layers[-1].kernel.path}' differs" in str(err), err
    else:
        assert SIZE == 1, "check_weights missed a drifted weight"
    norm = build(RANK, "eager", norm=True)
    norm.fit(X, Y, batch_size=BATCH, epochs=1, verbose=0)
    dist.set_distribution(None)
    same_everywhere(arrays(norm), "BatchNormalization weights")
    report("callbacks")


def check_presharded(directory: str) -> None:
    """auto_shard_dataset=False: each process passes only its own share of every batch
    (its batch_size is its share), and a generator of the global batches: the same
    training as splitting array data; model.save writes on process 0 only."""
    rows = np.concatenate([np.arange(s, s + BATCH)[shard(BATCH, RANK)] for s in (0, 16, 32)])
    results = []
    for auto in (True, False):
        dist.set_distribution(dist.DataParallel(auto_shard_dataset=auto, deterministic=True))
        model = build(RANK, "eager")
        if auto:
            model.fit(X[:48], Y[:48], batch_size=BATCH, epochs=2, verbose=0, shuffle=False)
        else:
            local = shard(BATCH, RANK).stop - shard(BATCH, RANK).start
            model.fit(X[rows], Y[rows], batch_size=local, epochs=2, verbose=0, shuffle=False)
        results.append(arrays(model))
    for index, (a, b) in enumerate(zip(*results, strict=True)):
        assert a.tobytes() == b.tobytes(), f"rank {RANK}: pre-sharded weight {index} differs"
    # A generator of global batches: each process reads the same stream and takes its share.
    stream = ((X[s : s + BATCH], Y[s : s + BATCH]) for s in (0, 16, 32, 0, 16, 32))
    dist.set_distribution(dist.DataParallel(deterministic=True))
    model = build(RANK, "eager")
    model.fit(stream, epochs=1, verbose=0)
    for index, (a, b) in enumerate(zip(arrays(model), results[0], strict=True)):
        assert a.tobytes() == b.tobytes(), f"rank {RANK}: generator weight {index} differs"
    model.save(os.path.join(directory, f"saved_by_{RANK}.tapegrad"))
    dist.set_distribution(None)
    dist.world().barrier()
    saved = sorted(name for name in os.listdir(directory) if name.startswith("saved_by_"))
    assert saved == ["saved_by_0.tapegrad"], saved
    report("pre-sharded")


def check_custom_loop() -> None:
    """A user's GradientTape loop: each process's half of the batch, average_gradients,
    apply: the full-batch step (the shares are equal)."""
    xb, yb = X[: 6 * SIZE], Y[: 6 * SIZE].astype(np.float32)

    def step(layer: tg.layers.Dense, rows: slice, average: bool) -> list[np.ndarray]:
        with tg.GradientTape() as tape:
            loss = tg.ops.mean((layer(xb[rows])[:, 0] - yb[rows]) ** 2)
        grads = tape.gradient(loss, layer.trainable_weights)
        if average:
            grads = dist.average_gradients(grads)
        tg.optimizers.SGD(0.1).apply_gradients(zip(grads, layer.trainable_weights, strict=True))
        return [np.asarray(v.value) for v in layer.weights]

    layers = []
    for seed in (RANK, 0):
        tg.utils.set_random_seed(seed)
        layers.append(tg.layers.Dense(2))
        layers[-1].build((None, 4))
    for variable in layers[0].weights:  # process 0's initial weights everywhere
        variable.assign(dist.broadcast(np.asarray(variable.value)))
    got = step(layers[0], slice(6 * RANK, 6 * RANK + 6), average=True)
    same_everywhere(got, "custom loop weights")
    close(got, step(layers[1], slice(None), average=False), "custom loop against full batch")
    report("custom loop")


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        directory = dist.world().bcast(scratch, 0)  # one directory for every process
        for mode in ("eager", "compiled"):
            check_default(mode)
        check_deterministic()
        check_resume(directory)
        check_callbacks(directory)
        check_presharded(directory)
        check_custom_loop()
        dist.world().barrier()  # nobody removes the directory while others read it
    if RANK == 0:
        print(f"done {SIZE}", flush=True)


if __name__ == "__main__":
    sys.exit(main())

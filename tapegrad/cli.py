"""The ``tapegrad`` command line: ``tapegrad demo`` (also ``python -m tapegrad demo``),
``tapegrad explain MODEL.tapegrad [-o OUT.html]`` / ``tapegrad explain --demo`` (how the
gradient is computed), ``tapegrad launch -n N script.py`` (`tapegrad.distribution.launch`),
``tapegrad --version``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp


def _make_blobs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two noisy interleaved classes in 2-D that a linear model separates only with
    non-linear features."""
    labels = rng.integers(0, 2, n)
    radius = np.where(labels == 1, 2.0, 1.0) + 0.25 * rng.standard_normal(n)
    angle = rng.uniform(0, 2 * np.pi, n)
    points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return points.astype(np.float32), labels.astype(np.float32)


def demo(steps: int = 200, learning_rate: float = 0.5, seed: int = 0) -> float:
    """Fit logistic regression on a custom feature map with GradientTape; returns accuracy.

    The features come from a plain Python ``lambda`` the engine has never seen: its
    gradient is the chain of the VJP rules of the ops it calls.
    """
    rng = np.random.default_rng(seed)
    x_train, y_train = _make_blobs(rng, 800)
    x_test, y_test = _make_blobs(rng, 400)

    # A user-written function: the framework differentiates it op by op.
    features = lambda x: tnp.concatenate([x, x**2, tnp.sin(x)], axis=1)  # noqa: E731

    w = tg.Variable(np.zeros((6, 1), np.float32), name="w")
    b = tg.Variable(np.zeros((1,), np.float32), name="b")

    def loss_fn(x: np.ndarray, y: np.ndarray) -> tg.Tensor:
        logits = tnp.reshape(features(x) @ w + b, (-1,))
        # Stable binary cross-entropy: log(1 + e^z) - y z.
        return tnp.mean(tnp.logaddexp(0.0, logits) - y * logits)

    print(f"tapegrad {tg.__version__} demo: logistic regression on a custom feature map")
    print(f"  features = lambda x: concatenate([x, x**2, sin(x)])   ({steps} steps)")
    start = time.perf_counter()
    for step in range(steps + 1):
        with tg.GradientTape() as tape:
            loss = loss_fn(x_train, y_train)
        grad_w, grad_b = tape.gradient(loss, [w, b])
        if step % (steps // 5 or 1) == 0:
            print(f"  step {step:4d}  loss {float(loss):.4f}")
        w.assign_sub(learning_rate * grad_w.numpy())
        b.assign_sub(learning_rate * grad_b.numpy())
    elapsed = time.perf_counter() - start
    logits = (features(x_test) @ w + b).numpy().ravel()
    accuracy = float(np.mean((logits > 0) == (y_test > 0.5)))
    print(f"  held-out accuracy {accuracy:.3f}  ({elapsed:.2f} s)")
    return accuracy


def demo_model(seed: int = 0) -> tuple[Any, tg.Variable]:
    """The demo's compiled `Sequential` (two `Lambda` layers) and its trained temperature.

    Args:
        seed: Seeds every generator (`tapegrad.utils.set_random_seed`): same seed, same
            initial weights.

    Returns:
        ``(model, temperature)``.
    """
    from tapegrad import layers, models, optimizers

    tg.utils.set_random_seed(seed)
    temperature = tg.Variable(1.0, name="temperature")  # trained, though only Lambda uses it
    model = models.Sequential(
        [
            layers.Input(shape=(8, 8)),
            layers.Lambda(lambda x: tnp.sqrt(x / 16.0), name="sqrt_intensity"),
            layers.Flatten(name="flatten"),
            layers.Dense(64, activation="relu", name="hidden"),
            layers.Dense(10, name="logits"),
            layers.Lambda(lambda logits: logits * temperature, name="temperature"),
        ],
        name="digits",
    )
    model.compile(optimizer=optimizers.Adam(0.005), loss=_logits_loss(), metrics=["accuracy"])
    return model, temperature


def keras_demo(epochs: int = 20, seed: int = 0, output: str | None = None) -> float:
    """Train a `Sequential` with `Lambda` layers on the shipped digits; save and reload it.

    One line per epoch (train and validation metrics, under 80 columns); the same ``seed``
    prints the same numbers. Returns the held-out accuracy. The reloaded model must
    predict exactly like the trained one (its Lambda functions are rebuilt from their
    saved graphs). Launched on several processes (``tapegrad launch -n 2 tapegrad demo``)
    it trains data-parallel; process 0 prints and checks the saved model.
    """
    import tempfile
    from pathlib import Path

    from tapegrad import callbacks, datasets, distribution, models

    distribution.initialize()
    processes = distribution.num_processes()
    if processes > 1 and distribution.distribution() is None:
        distribution.set_distribution(distribution.DataParallel())
    show = print if distribution.process_id() == 0 else _quiet

    images, labels = datasets.load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    split = int(0.8 * len(labels))
    train, test = order[:split], order[split:]
    model, temperature = demo_model(seed)
    show(
        f"tapegrad {tg.__version__} demo: Sequential with Lambda layers on the 8x8 digits "
        f"({len(train)} train, {len(test)} test, seed {seed}"
        + (f", data parallel on {processes} processes)" if processes > 1 else ")")
    )
    model.summary(print_fn=show)
    start = time.perf_counter()
    model.fit(
        images[train],
        labels[train],
        batch_size=32,
        epochs=epochs,
        validation_split=0.1,
        verbose=0,
        callbacks=[callbacks.LambdaCallback(on_epoch_end=_epoch_printer(epochs, show))],
    )
    elapsed = time.perf_counter() - start
    _, accuracy = model.evaluate(images[test], labels[test], verbose=0)
    show(
        f"held-out accuracy {accuracy:.3f}; learned temperature "
        f"{float(temperature.numpy()):.3f}; trained in {elapsed:.1f} s"
    )
    if processes > 1:  # every process holds the same weights: process 0 checks the saving
        distribution.set_distribution(None)
        if distribution.process_id() != 0:
            return float(accuracy)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(output) if output else Path(tmp) / "digits.tapegrad"
        model.save(str(path))
        reloaded = models.load_model(str(path))
        same = np.array_equal(
            model.predict(images[test], verbose=0), reloaded.predict(images[test], verbose=0)
        )
        print(
            f"saved to {path.name} ({path.stat().st_size:,} bytes), reloaded: "
            f"predictions {'identical' if same else 'DIFFER'}"
        )
    if not same:
        raise SystemExit("tapegrad demo: the reloaded model predicts differently (a bug)")
    return float(accuracy)


def _quiet(*args: Any, **kwargs: Any) -> None:
    """Where ``print`` was: the processes other than 0 of a data-parallel demo say nothing."""


def _epoch_printer(epochs: int, show: Any = print) -> Any:
    """A per-epoch line short enough for an 80-column terminal, val metrics included."""
    short = {"accuracy": "acc", "val_accuracy": "val_acc"}
    width = len(str(epochs))

    def print_epoch(epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        # loss first, then the metrics; the validation ones after, in the same order.
        names = sorted(logs, key=lambda k: (k.startswith("val_"), k != "loss" and k != "val_loss"))
        shown = "  ".join(f"{short.get(k, k)} {float(logs[k]):.4f}" for k in names)
        show(f"epoch {epoch + 1:>{width}}/{epochs}  {shown}", flush=True)

    return print_epoch


def explain_command(
    path: str | None, output: str | None = None, batch_size: int = 2, seed: int = 0
) -> int:
    """``tapegrad explain``: explain the training gradient of a saved model (or the demo's).

    The model is loaded safely (an archive holds no code: Lambda layers are graphs of
    primitives) and explained on a batch built from its input spec and compiled loss
    (`tapegrad.explain.synthetic_batch`); the demo's model on ``batch_size`` of the
    digits. Prints the listing, or writes ``output`` in the format its extension names.

    Args:
        path: The saved model, or None for the demo's model.
        output: A file to write (``.html``, ``.svg``, ``.png``, ``.pdf``, ``.dot``,
            ``.txt``), or None to print the listing.
        batch_size: Rows of the explained batch.
        seed: Seeds the synthetic batch (and the demo model's weights).

    Returns:
        The exit status: 0, or 1 with the reason on stderr.
    """
    from tapegrad import datasets, explain, models

    try:
        if path is None:
            model, _ = demo_model(seed)
            images, labels = datasets.load_digits()
            x, y = images[:batch_size], labels[:batch_size]
        else:
            model = models.load_model(path)
            x, y = explain.synthetic_batch(model, batch_size=batch_size, seed=seed)
        explanation = model.explain(x, y)
        if output is None:
            print(explanation.text())
        else:
            print(f"wrote {explanation.save(output)}")
    except (OSError, ValueError, RuntimeError) as error:
        # A missing or damaged file, an uncompiled model, no Graphviz: say which, no trace.
        print(f"tapegrad explain: {error}", file=sys.stderr)
        return 1
    return 0


def _logits_loss() -> object:
    from tapegrad import losses

    return losses.SparseCategoricalCrossentropy(from_logits=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tapegrad`` command."""
    from tapegrad.distribution import launch as launch_cli

    parser = argparse.ArgumentParser(prog="tapegrad", description=__doc__)
    parser.add_argument("--version", action="version", version=f"tapegrad {tg.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser(
        "demo", help="train a Sequential with Lambda layers on the digits, save, reload"
    )
    demo_parser.add_argument("--epochs", type=int, default=20)
    demo_parser.add_argument("--seed", type=int, default=0, help="same seed, same numbers")
    demo_parser.add_argument("--output", help="where to save the model (default: temp)")
    tape_parser = commands.add_parser(
        "tape-demo", help="logistic regression written with GradientTape and tapegrad.numpy"
    )
    tape_parser.add_argument("--steps", type=int, default=200)
    tape_parser.add_argument("--seed", type=int, default=0)
    explain_parser = commands.add_parser(
        "explain",
        help="how a saved model's gradient is computed: forward and backward graphs, the "
        "rule of each step",
    )
    explain_parser.add_argument("model", nargs="?", help="a saved model (.tapegrad)")
    explain_parser.add_argument("--demo", action="store_true", help="the demo's model")
    explain_parser.add_argument(
        "-o", "--output", help="write .html, .svg, .png, .pdf, .dot or .txt (default: print)"
    )
    explain_parser.add_argument("--batch-size", type=int, default=2)
    explain_parser.add_argument("--seed", type=int, default=0, help="seeds the batch")
    launch_cli.add_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "launch":
        return launch_cli.run_from_args(args)
    if args.command == "explain":
        if (args.model is None) == (not args.demo):
            explain_parser.error("give either a saved model's file or --demo")
        return explain_command(args.model, args.output, args.batch_size, args.seed)
    if args.command == "demo":
        accuracy = keras_demo(epochs=args.epochs, seed=args.seed, output=args.output)
        return _check(accuracy, 0.95, "demo", "try more --epochs")
    if args.command == "tape-demo":
        accuracy = demo(steps=args.steps, seed=args.seed)
        return _check(accuracy, 0.9, "tape-demo", "try more --steps")
    return 2


def _check(accuracy: float, expected: float, command: str, hint: str) -> int:
    """0 when the demo reached its accuracy; else 1, saying why on stderr."""
    if accuracy >= expected:
        return 0
    print(
        f"tapegrad {command}: held-out accuracy {accuracy:.3f} is below the {expected} this "
        f"demo expects ({hint}); exit status 1",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())

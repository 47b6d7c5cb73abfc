"""Kill -9 during saves: the previous file always loads, at most one temporary file remains,
and the next save removes it (issue 10, item 5). Also: memory stays flat over many saves
and loads."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

import tapegrad as tg
from tapegrad import layers
from tests.nn import archive_tools as tools

KILLS = int(os.environ.get("TAPEGRAD_KILLS", "6"))

_CHILD = """
import os, sys
import numpy as np
import tapegrad as tg
from tapegrad import layers
path, mode = sys.argv[1], sys.argv[2]
tg.utils.set_random_seed(0)
model = tg.Sequential([layers.Input(shape=(64,)), layers.Dense(512, activation="relu"),
                       layers.Dense(512, activation="relu"), layers.Dense(4)])
model.compile("adam", "mse")
x = np.random.default_rng(0).standard_normal((256, 64)).astype(np.float32)
y = np.zeros((256, 4), np.float32)
if mode == "save":
    for count in range(10**6):
        model.layers[-1].bias.assign(np.full(4, count, np.float32))
        model.save(path)
        print("saved", count, flush=True)
else:
    class Announce(tg.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            print("saved", batch, flush=True)
    model.fit(x, y, epochs=10**6, batch_size=8, verbose=0, callbacks=[
        tg.callbacks.ModelCheckpoint(path, save_freq=1), Announce()])
"""


def _temporaries(directory: str) -> list[str]:
    return [name for name in os.listdir(directory) if name.endswith(".tmp-tapegrad")]


def _kill_campaign(tmp_path, mode: str) -> dict[str, int]:
    path = str(tmp_path / "model.tapegrad")
    rng = random.Random(17)
    mid_write = 0
    for _ in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(_CHILD), path, mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": tools.REPO, "OMP_NUM_THREADS": "1"},
        )
        try:
            assert child.stdout is not None
            line = child.stdout.readline()  # the first save is complete
            assert line.startswith("saved"), child.stderr.read() if child.stderr else line
            time.sleep(rng.uniform(0.0, 0.4))
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait()
            child.stdout.close()  # type: ignore[union-attr]
            child.stderr.close()  # type: ignore[union-attr]
        left = _temporaries(str(tmp_path))
        assert len(left) <= 1, left
        mid_write += len(left)
        loaded = tg.models.load_model(path)  # the previous (or the new) complete file
        assert loaded.predict(np.zeros((1, 64), np.float32), verbose=0).shape == (1, 4)
    model = tg.models.load_model(path)
    model.save(path)  # the next save removes what the last kill left
    assert _temporaries(str(tmp_path)) == []
    return {"kills": KILLS, "killed mid-write": mid_write}


def test_killed_saves_leave_a_loadable_file_and_at_most_one_temporary(tmp_path):
    figures = _kill_campaign(tmp_path, "save")
    print(f"\nkill during save: {figures}")


def test_killed_checkpoints_leave_a_loadable_file_and_at_most_one_temporary(tmp_path):
    figures = _kill_campaign(tmp_path, "checkpoint")
    print(f"\nkill during ModelCheckpoint: {figures}")


def test_memory_stays_flat_over_many_saves_and_loads(tmp_path):
    """RSS after 300 save/load cycles stays within a generous bound of RSS after 30."""
    result = tools.run_child(
        f"""
        import resource
        import numpy as np
        import tapegrad as tg
        from tapegrad import layers
        import tapegrad.numpy as tnp

        def rss_mib():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * resource.getpagesize() / 2**20

        path = {str(tmp_path / "cycle.tapegrad")!r}
        x = np.ones((8, 16), np.float32)
        model = tg.Sequential([layers.Input(shape=(16,)), layers.Dense(64),
                               layers.Lambda(lambda t: tnp.tanh(t) * 2.0),
                               layers.Dense(4)])
        model.compile("adam", "mse")
        model.fit(x, np.zeros((8, 4), np.float32), epochs=1, verbose=0)
        marks = {{}}
        for cycle in range(300):
            model.save(path)
            model = tg.models.load_model(path)
            model.train_on_batch(x, np.zeros((8, 4), np.float32))
            if cycle in (29, 299):
                marks[cycle] = rss_mib()
        print("RSS", marks[29], marks[299])
    """,
        memory_mib=4096,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("RSS"))
    early, late = (float(v) for v in line.split()[1:])
    print(f"\nRSS after 30 cycles {early:.1f} MiB, after 300 {late:.1f} MiB")
    assert late - early < 60, (early, late)


def test_a_failed_save_in_this_process_leaves_no_temporary(tmp_path, monkeypatch):
    model = tg.Sequential([layers.Input(shape=(3,)), layers.Dense(2)])
    path = tmp_path / "m.tapegrad"
    model.save(path)
    monkeypatch.setattr(os, "replace", lambda *args: (_ for _ in ()).throw(OSError("full")))
    try:
        model.save(path)
    except OSError:
        pass
    assert _temporaries(str(tmp_path)) == []
    assert tg.models.load_model(path).count_params() == 8

"""The built-in trial function outside Ray (Ray Tune's report and checkpoint calls stand-in): a trial handed a
final checkpoint, as PBT does when the trial it copies has just trained its last epoch."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from raytune_app.data.datasets import load_dataset
from raytune_app.spec.load import DataSpec
from raytune_app.trial import trainable
from raytune_app.trial.checkpoint import CheckpointRule
from raytune_app.trial.trainable import TrialSettings, train_trial


class Saved:
    """A checkpoint folder kept after the trial's temporary one is gone (what Ray's persisting does)."""

    def __init__(self, path: Path):
        self.path = path

    @contextmanager
    def as_directory(self):
        yield str(self.path)


def run(monkeypatch, folder: Path, checkpoint: Saved | None, **settings: Any) -> list[tuple[dict, Saved | None]]:
    """train_trial's reports, each with the checkpoint it saved (copied under `folder`); `settings` change the
    trial's TrialSettings."""
    reports = []

    def report(metrics, checkpoint=None):
        if checkpoint is not None:
            kept = folder / f"checkpoint_{len(reports):06d}"
            shutil.copytree(checkpoint.path, kept)
            checkpoint = Saved(kept)
        reports.append((metrics, checkpoint))

    fake = SimpleNamespace(get_checkpoint=lambda: checkpoint, report=report,
                           Checkpoint=SimpleNamespace(from_directory=lambda d: Saved(Path(d))))
    monkeypatch.setattr(trainable, "tune", fake)
    data = load_dataset(DataSpec(dataset="digits")).without_test()
    train_trial({"lr": 0.01, "hidden_size": 32}, data, TrialSettings(**{
        "model": "mlp", "max_epochs": 2, "checkpoints": CheckpointRule("val_accuracy", "max", 1), "seed": 0,
        "cpus_per_trial": 1, "gpus_per_trial": 0, **settings}))
    return reports


def test_a_trial_handed_a_final_checkpoint_reports_that_model_as_its_last_epoch(monkeypatch, tmp_path):
    donor = run(monkeypatch, tmp_path / "donor", None)
    assert [m["epoch"] for m, _ in donor] == [1, 2]
    (tmp_path / "recipient").mkdir()
    recipient = run(monkeypatch, tmp_path / "recipient", donor[-1][1])
    ((metrics, saved),) = recipient  # one report, no training, no checkpoint of its own
    assert metrics["epoch"] == 2 and saved is None and not metrics["diverged"]
    assert metrics["val_accuracy"] == pytest.approx(donor[-1][0]["val_accuracy"])
    assert metrics["val_loss"] == pytest.approx(donor[-1][0]["val_loss"])


def test_an_epoch_is_saved_when_it_can_be_the_pick_at_resume_points_and_always_for_pausing_schedulers():
    """Bounds in `sign(mode) * value` terms, as the driver shares them (trial/best_so_far.py)."""
    rule = CheckpointRule("val_accuracy", "max", every=5)
    acc = lambda v, diverged=False: {"val_accuracy": v, "diverged": diverged}  # noqa: E731
    assert rule.due(1, acc(0.2), None)  # nothing known yet: it may be the best
    assert rule.due(2, acc(0.8), 0.8) and rule.due(3, acc(0.9), 0.8)  # a tie may be the pick (ties: the later)
    assert not rule.due(4, acc(0.79), 0.8) and not rule.due(6, acc(float("nan")), 0.8)
    assert not rule.due(4, acc(0.99, diverged=True), 0.8)
    assert rule.due(5, acc(0.1), 0.8) and rule.due(10, acc(0.1), 0.8)  # the resume points
    loss = CheckpointRule("val_loss", "min", every=5)
    assert loss.due(1, {"val_loss": 0.1}, -0.2) and not loss.due(1, {"val_loss": 0.3}, -0.2)
    assert CheckpointRule("val_loss", "min", every=5, all_epochs=True).due(1, {"val_loss": 9.0}, -0.2)


# What a trial worker does when Ray ends it (raytune_app/trial/worker_exit.py): Ray's worker turns SIGTERM into
# SystemExit(1); here it lands, as it sometimes does, in a weakref callback, where Python cannot raise it
ENDED_BY_SIGTERM = """
import os, signal, sys, weakref
if sys.argv[1] == "quiet":
    from raytune_app.trial.worker_exit import quiet_unraisable_exit
    quiet_unraisable_exit()
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))  # as Ray's worker main loop does

class Thing:
    def __del__(self):
        raise ValueError("a real problem in a finalizer")

def callback(ref):
    os.kill(os.getpid(), signal.SIGTERM)  # the raylet's, as the trial's placement group goes
    for _ in range(1000):  # Python runs the signal's handler here, inside the callback
        pass

thing = Thing()
ref = weakref.ref(thing, callback)
del thing
print("still here")
"""


@pytest.mark.parametrize("mode", ["quiet", "default"])
def test_a_worker_ended_by_ray_prints_no_traceback_but_other_unraisable_errors_still_show(mode):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", ENDED_BY_SIGTERM, mode], capture_output=True, text=True, timeout=60)
    assert out.stdout == "still here\n", out.stderr  # Python could not raise it: nothing changes but the output
    assert "ValueError: a real problem in a finalizer" in out.stderr
    assert ("SystemExit: 1" in out.stderr) == (mode == "default"), out.stderr


def test_every_trial_drops_those_tracebacks_in_its_worker(monkeypatch, tmp_path):
    import sys

    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)  # restored after the test
    run(monkeypatch, tmp_path, None)
    assert getattr(sys.unraisablehook, "quiet_exit", False)

"""Which epochs save a checkpoint (trial/checkpoint.py), on the real CLI and a real Ray: an epoch that can be the
experiment's pick, every checkpoint_every-th, and every epoch where the scheduler resumes from the latest."""

from __future__ import annotations

import csv
import json
import os
import signal
from pathlib import Path

import pytest

from conftest import histories, read_json_lines, run_cli, slow_model, start_cli, wait_for, write_experiment

EVERY = 2  # checkpoint_every


def poor_trials_pid(exp, at_least: int):
    """The poor trial's worker, once Ray's result.json shows its epoch `at_least`."""
    for d in exp.glob("trial_*"):
        rows = read_json_lines(d / "result.json") if (d / "result.json").exists() else []
        if rows and rows[0]["config"]["lr"] == 0.0001 and rows[-1]["epoch"] >= at_least:
            return rows[-1]["pid"]
    return None


def attempts(rows: list[dict]) -> list[int]:
    """The indices of a trial's rows where a new worker process took over (a retry)."""
    return [i for i in range(1, len(rows)) if rows[i]["pid"] != rows[i - 1]["pid"]]


@pytest.fixture(scope="module")
def good_then_poor(ray_address, tmp_path_factory):
    """A good config, then a poor one, one at a time (epochs of about a second: time for the trials to learn the
    driver's best); the poor one's epochs cannot be the pick. Its worker is killed mid-run, once: Ray retries it
    from its latest checkpoint."""
    tmp = tmp_path_factory.mktemp("policy")
    spec = write_experiment(tmp / "policy.yaml", scheduler="fifo", search="grid", num_samples=1, max_epochs=6,
                            max_concurrent=1, checkpoint_every=EVERY, max_failures=1, model=slow_model(tmp),
                            space={"lr": {"grid": [0.1, 0.0001]}, "optimizer": "sgd", "momentum": 0.9,
                                   "batch_size": 32})
    exp = tmp / "runs" / "policy"
    proc = start_cli("tune", spec, "--storage", tmp / "runs", "--address", ray_address, log=tmp / "log")
    # killed once its epoch 3 is in result.json: by then the driver has recorded epoch 2's checkpoint (a kill right
    # after epoch 2's row can beat that record, and Ray then rightly retries from scratch)
    os.kill(wait_for(lambda: poor_trials_pid(exp, 3), timeout=240, proc=proc), signal.SIGKILL)
    assert proc.wait(timeout=240) == 0, (tmp / "log").read_text()[-3000:]
    by_lr = {h[0]["config"]["lr"]: (trial, h) for trial, h in histories(exp).items()}
    return exp, by_lr[0.1], by_lr[0.0001]


def test_epochs_that_cannot_be_the_pick_save_no_checkpoint(good_then_poor):
    exp, (_, good), (poor_id, poor) = good_then_poor
    assert max(r["val_accuracy"] for r in poor) < max(r["val_accuracy"] for r in good)
    saved = [r["epoch"] for r in poor if r.get("checkpoint_dir_name")]
    # the first epoch of each attempt may save one (the driver's best not known yet), then the resume points only
    firsts = {0, *attempts(poor)}
    later = {r["epoch"] for i, r in enumerate(poor) if r.get("checkpoint_dir_name") and i not in firsts}
    assert later <= {2, 4, 6}, saved
    kept = {p.name for p in (exp / f"trial_{poor_id}").glob("checkpoint_*")}
    assert kept <= {r["checkpoint_dir_name"] for r in poor if r.get("checkpoint_dir_name")}  # none unrecorded
    assert 0 < len(kept) <= 3  # retention: its best 2 (keep_checkpoints) and its latest


def test_a_retried_trial_loses_at_most_checkpoint_every_minus_one_epochs(good_then_poor):
    """Its worker was killed: it continues from its latest checkpoint, however poor its epochs."""
    _, _, (_, poor) = good_then_poor
    epochs = [r["epoch"] for r in poor]
    (retry,) = attempts(poor)
    assert epochs[retry] > 1, epochs  # not from scratch
    assert epochs[retry - 1] - (epochs[retry] - 1) <= EVERY - 1, epochs
    assert epochs[-1] == 6


def test_a_second_run_in_the_same_driver_starts_without_the_first_runs_best(ray_address):
    """raytune_app.tune() twice in one Python session: a best left from the first run (another metric, maybe)
    would make the second's trials skip checkpoints its pick needs."""
    import ray

    from raytune_app.trial.best_so_far import ACTOR_NAME
    from raytune_app.tuner.callbacks.best_so_far import ShareBestSoFar

    ray.init(address=ray_address)
    try:
        first = ShareBestSoFar("val_accuracy", "max")
        first.setup()
        first.on_trial_result(1, [], None, {"val_accuracy": 0.9})
        second = ShareBestSoFar("val_loss", "min")
        second.setup()
        assert ray.get(ray.get_actor(ACTOR_NAME).get.remote()) is None
    finally:
        ray.shutdown()


def test_every_epoch_as_good_as_all_before_it_saved_one(good_then_poor):
    _, (_, good), (_, poor) = good_then_poor
    best_before = 0.0
    for row in sorted(good + poor, key=lambda r: r["reported_at"]):
        if row["val_accuracy"] >= best_before:
            assert row.get("checkpoint_dir_name"), row
        best_before = max(best_before, row["val_accuracy"])


def test_a_trial_shows_its_best_epoch_even_without_a_checkpoint_and_the_pick_exports(good_then_poor, tmp_path):
    exp, (good_id, good), (poor_id, poor) = good_then_poor
    summary = json.loads((exp / "summary.json").read_text())
    assert summary["best"]["trial_id"] == good_id
    assert summary["best"]["val_accuracy"] == max(r["val_accuracy"] for r in good)
    assert Path(summary["best"]["checkpoint"]).is_dir()  # kept by retention
    rows = {r["trial_id"]: r for r in csv.DictReader((exp / "trials.csv").open())}
    assert float(rows[poor_id]["best_val_accuracy"]) == max(r["val_accuracy"] for r in poor)
    out = run_cli("best", exp, "--export", tmp_path / "export")
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads((tmp_path / "export" / "scores.json").read_text())["epoch"] == summary["best"]["epoch"]

"""Which epochs save a checkpoint (trial/checkpoint.py), on the real CLI and a real Ray: an epoch that can be the
experiment's pick, every checkpoint_every-th, and every epoch where the scheduler resumes from the latest."""

from __future__ import annotations

import csv
import json

import pytest

from conftest import histories, run_cli, slow_model, write_experiment


@pytest.fixture(scope="module")
def good_then_poor(ray_address, tmp_path_factory):
    """A good config, then a poor one, one at a time (epochs of about a second: time for the trials to learn the
    driver's best); the poor one's epochs cannot be the pick."""
    tmp = tmp_path_factory.mktemp("policy")
    spec = write_experiment(tmp / "policy.yaml", scheduler="fifo", search="grid", num_samples=1, max_epochs=3,
                            max_concurrent=1, model=slow_model(tmp),
                            space={"lr": {"grid": [0.1, 0.0001]}, "optimizer": "sgd", "momentum": 0.9,
                                   "batch_size": 32})
    out = run_cli("tune", spec, "--storage", tmp / "runs", "--address", ray_address)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    exp = tmp / "runs" / "policy"
    by_lr = {h[0]["config"]["lr"]: (trial, h) for trial, h in histories(exp).items()}
    return exp, by_lr[0.1], by_lr[0.0001]


def test_epochs_that_cannot_be_the_pick_save_no_checkpoint(good_then_poor):
    exp, (_, good), (poor_id, poor) = good_then_poor
    assert max(r["val_accuracy"] for r in poor) < max(r["val_accuracy"] for r in good)
    saved = [r["epoch"] for r in poor if r.get("checkpoint_dir_name")]
    assert 3 not in saved, saved  # the driver's best had reached it by its last epoch
    assert len(list((exp / f"trial_{poor_id}").glob("checkpoint_*"))) == len(saved)


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
    rows = {r["trial_id"]: r for r in csv.DictReader((exp / "trials.csv").open())}
    assert float(rows[poor_id]["best_val_accuracy"]) == max(r["val_accuracy"] for r in poor)
    out = run_cli("best", exp, "--export", tmp_path / "export")
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads((tmp_path / "export" / "scores.json").read_text())["epoch"] == summary["best"]["epoch"]

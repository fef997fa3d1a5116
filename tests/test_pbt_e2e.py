"""PBT on the real CLI and a real Ray: each trial trains its budget once, and every config shown or exported is the
one that produced the epoch it is shown for (PBT's exploits change a trial's config as it goes)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from conftest import histories, run_cli, write_experiment

EPOCHS, TRIALS = 4, 3


def test_pbt_is_synchronous_and_stops_at_the_last_epoch_unless_the_file_says_otherwise(tmp_path):
    """Ray's asynchronous PBT compares a trial with the others' latest scores, from other epochs: on Ray's own
    pbt_function example (4 trials on 2 CPUs, 20 iterations each, results counted by a driver callback) trials
    trained 25 and 35 iterations, with reused actors or without; synchronous PBT trained 20 each."""
    from raytune_app.tuner.stoppers import LastEpochStopper
    from raytune_app.tuner.stoppers import stopper_for
    from raytune_app.spec.load import load_spec
    from raytune_app.spec.options import scheduler_kwargs

    spec = load_spec(write_experiment(tmp_path / "p.yaml", scheduler="pbt"))
    assert scheduler_kwargs(spec)["synch"] is True and isinstance(stopper_for(spec), LastEpochStopper)
    spec = load_spec(write_experiment(tmp_path / "a.yaml", scheduler={"name": "pbt", "synch": False}))
    assert scheduler_kwargs(spec)["synch"] is False
    assert stopper_for(load_spec(write_experiment(tmp_path / "h.yaml", scheduler="asha"))) is None


@pytest.fixture(scope="module")
def pbt(ray_address, tmp_path_factory):
    """Three trials, perturbed every epoch, all three live at once (two run at a time: PBT pauses the third)."""
    tmp = tmp_path_factory.mktemp("pbt")
    spec = write_experiment(tmp / "pbt.yaml", num_samples=TRIALS, max_epochs=EPOCHS, max_concurrent=TRIALS,
                            scheduler={"name": "pbt", "perturbation_interval": 1},
                            space={"lr": {"loguniform": [3e-3, 3e-2]}, "hidden_size": 16})
    out = run_cli("tune", spec, "--storage", tmp / "runs", "--address", ray_address, timeout=400)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return tmp / "runs" / "pbt"


def best_row(rows: list[dict], epoch: int) -> dict:
    """The result.json row of the epoch the summary names (its checkpoint's)."""
    (row,) = [r for r in rows if r["epoch"] == epoch]
    return row


def test_each_pbt_trial_trains_its_budget_once(pbt):
    """Ray's asynchronous PBT sent trials back to epochs they had trained (and handed weaker trials the others'
    final checkpoints, reported again): more results than epochs. Synchronous PBT, stopped at the last epoch."""
    for trial, rows in histories(pbt).items():
        assert [r["epoch"] for r in rows] == list(range(1, EPOCHS + 1)), (trial, [r["epoch"] for r in rows])
    summary = json.loads((pbt / "summary.json").read_text())
    assert summary["total_epochs"] == TRIALS * EPOCHS and summary["trials_by_status"] == {"completed": TRIALS}


def test_pbt_mutated_and_every_config_shown_is_its_best_rows(pbt, tmp_path):
    hist = histories(pbt)
    mutated = [t for t, rows in hist.items() if any(r["config"] != rows[0]["config"] for r in rows)]
    assert mutated, "PBT changed no trial's config: this run cannot tell a row's config from the trial's first"
    summary = json.loads((pbt / "summary.json").read_text())
    best = summary["best"]
    row = best_row(hist[best["trial_id"]], best["epoch"])
    assert best["config"] == row["config"] and Path(best["checkpoint"]).name == row["checkpoint_dir_name"]

    out = run_cli("report", pbt, "--format", "json")
    assert out.returncode == 0, out.stderr
    shown = {r["trial_id"]: r for r in json.loads(out.stdout)["trials"]}
    with (pbt / "trials.csv").open() as f:
        table = {r["trial_id"]: r for r in csv.DictReader(f)}
    differs = 0
    for trial, rows in hist.items():
        own = best_row(rows, shown[trial]["best_epoch"])["config"]
        assert shown[trial]["config/lr"] == pytest.approx(own["lr"]), trial
        assert float(table[trial]["config/lr"]) == pytest.approx(own["lr"]), trial
        differs += own != rows[0]["config"]
    assert differs, "no trial's best epoch had a mutated config: the check above would pass with first configs"

    out = run_cli("best", pbt, "--export", tmp_path / "export")
    assert out.returncode == 0, out.stderr
    exported = json.loads((tmp_path / "export" / "config.json").read_text())
    assert exported["config"] == row["config"] and exported["epoch"] == best["epoch"]

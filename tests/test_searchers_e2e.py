"""The real CLI with `search: optuna` and `search: bohb` (+ `scheduler: hb_bohb`) on a real Ray, tiny budgets."""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

import pytest
from optuna.trial import TrialState

from conftest import run_cli, write_experiment

SPACE = {"lr": {"loguniform": [1e-3, 1e-1]}, "hidden_size": {"choice": [32, 64]},
         "activation": {"choice": ["relu", "tanh"]}, "batch_size": {"choice": [32, 64]}}


def tune(ray_address: str, tmp: Path, name: str, *flags: str, **fields) -> tuple[dict, list[dict]]:
    """Run the experiment; its summary.json and trials.csv rows (in the order the searcher proposed them)."""
    spec = write_experiment(tmp / f"{name}.yaml", name=name, space=SPACE, **fields)
    out = run_cli("tune", spec, "--storage", tmp / "runs", "--address", ray_address, *flags)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    exp = tmp / "runs" / name
    with (exp / "trials.csv").open() as f:
        return json.loads((exp / "summary.json").read_text()), list(csv.DictReader(f))


def configs(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k.startswith("config/")} for row in rows]


@pytest.fixture(scope="module")
def optuna_asha(ray_address, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("optuna")
    summary, rows = tune(ray_address, tmp, "optuna-asha", num_samples=6, max_epochs=3, seed=7, search="optuna",
                         scheduler={"name": "asha", "grace_period": 1, "reduction_factor": 3})
    return tmp, summary, rows


def test_optuna_run_summary(optuna_asha):
    _, summary, rows = optuna_asha
    assert (summary["searcher"], summary["scheduler"], summary["num_trials"], len(rows)) == ("optuna", "asha", 6, 6)
    assert 0.5 < summary["best"]["val_accuracy"] <= 1.0
    assert summary["best"]["val_accuracy"] == max(float(r["best_val_accuracy"]) for r in rows)
    assert all(r["status"] in ("completed", "early_stopped") for r in rows)


def test_optuna_study_saw_early_stopped_trials_as_pruned(optuna_asha):
    """Ray's saved searcher state holds Optuna's study: each trial ASHA stopped is PRUNED there, with the value
    of every epoch it trained (the last one included), so TPE ranks it by the epoch it reached."""
    tmp, _, rows = optuna_asha
    (state_file,) = (tmp / "runs" / "optuna-asha").glob("searcher-state-*.pkl")
    state = pickle.loads(state_file.read_bytes())  # OptunaSearch saves its attributes
    trials = state["_ot_study"].trials
    # Tune saves its searcher's wrappers' states beside it: the one that asks Optuna ahead maps Tune's trial ids
    # to those Optuna knows (tuner/suggest_ahead.py)
    (wrappers_file,) = (tmp / "runs" / "optuna-asha").glob("search_gen_state-*.json")
    ids = pickle.loads(wrappers_file.read_bytes())["name:SuggestAhead"]["ids"]
    assert {r["status"] for r in rows} == {"completed", "early_stopped"}  # ASHA stopped some of the 6 at epoch 1
    for row in rows:
        trial = trials[state["_ot_trials"][ids[row["trial_id"]]].number]
        if row["status"] == "completed":  # as Ray tells it: the final result's value
            assert trial.state == TrialState.COMPLETE and trial.value is not None, row
            continue
        assert trial.state == TrialState.PRUNED, row
        assert sorted(trial.intermediate_values) == list(range(1, int(row["epochs"]) + 1))
        assert trial.value == pytest.approx(trial.intermediate_values[int(row["epochs"])])


def test_seeded_optuna_runs_propose_the_same_first_configs(optuna_asha, ray_address):
    tmp, _, rows = optuna_asha
    _, again = tune(ray_address, tmp, "optuna-again", num_samples=3, max_epochs=1, seed=7, search="optuna",
                    scheduler="fifo", max_concurrent=1)
    assert configs(again) == configs(rows)[:3]


def test_bohb_with_hyperband_for_bohb(ray_address, tmp_path):
    # trials HyperBandForBOHB stopped while paused read `unfinished` without tuner/schedulers.py's mend (in CI)
    summary, rows = tune(ray_address, tmp_path, "bohb", num_samples=6, max_epochs=3,
                         scheduler="hb_bohb", search={"name": "bohb", "min_points_in_model": 3})
    assert (summary["searcher"], summary["scheduler"], summary["num_trials"], len(rows)) == ("bohb", "hb_bohb", 6, 6)
    assert 0.5 < summary["best"]["val_accuracy"] <= 1.0
    assert all(r["status"] in ("completed", "early_stopped") for r in rows), [(r["status"], r["epochs"]) for r in rows]
    # ConfigSpace proposes numpy scalars: trials trained with them, and reports show plain values
    assert {r["config/batch_size"] for r in rows} <= {"32", "64"}
    assert isinstance(summary["best"]["config"]["hidden_size"], int)

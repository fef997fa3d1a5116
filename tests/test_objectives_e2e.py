"""Several objectives end to end (issue 28, part A): the real CLI on a real Ray, tiny budgets. Optuna's study keeps a
direction per objective and each trial's point, every result holds the secondary metrics, an extension is
warm-started through Optuna's study, and schedulers and training functions do what they say."""

from __future__ import annotations

import json
import math
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.storages.journal import JournalFileBackend
from optuna.study import StudyDirection
from optuna.trial import TrialState

from raytune_app.results.reader import load_experiment
from raytune_app.spec.metrics import SECONDARY
from raytune_app.tuner.optuna_study import STUDY, STUDY_FILE

from conftest import histories, run_cli, write_experiment

OBJECTIVES = [{"name": "val_accuracy", "mode": "max"}, {"name": "param_count", "mode": "min"}]
# generous limits: every trial meets them, and each names a metric the trials then measure
CONSTRAINTS = [{"name": "latency_ms", "le": 10_000}, {"name": "flops_per_sample", "le": 1e12},
               {"name": "train_seconds", "le": 1e6}]
SPACE = {"lr": {"loguniform": [1e-3, 1e-1]}, "hidden_size": {"choice": [16, 64, 256]}}


def several(path: Path, **fields) -> Path:
    """A small experiment file with several objectives (no metric, no mode)."""
    write_experiment(path, **fields)
    raw = yaml.safe_load(path.read_text())
    del raw["metric"], raw["mode"]
    path.write_text(yaml.safe_dump({**raw, "objectives": OBJECTIVES}))
    return path


def study_of(exp: Path) -> optuna.Study:
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(exp / STUDY_FILE)))
    return optuna.load_study(study_name=STUDY, storage=storage)


@pytest.fixture(scope="module")
def pareto(ray_address, tmp_path_factory):
    """4 trials x 3 epochs with the defaults for several objectives: Optuna's TPE and pareto_asha."""
    tmp = tmp_path_factory.mktemp("pareto")
    spec = several(tmp / "pareto.yaml", num_samples=4, max_epochs=3, max_concurrent=1, space=SPACE,
                   constraints=CONSTRAINTS)
    out = run_cli("tune", spec, "--storage", tmp / "runs", "--address", ray_address)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return tmp, tmp / "runs" / "pareto", out


def test_the_run_ends_with_a_summary_of_the_primary(pareto):
    _, exp, out = pareto
    summary = json.loads((exp / "summary.json").read_text())
    assert (summary["searcher"], summary["scheduler"], summary["metric"]) == ("optuna", "pareto_asha", "val_accuracy")
    e = load_experiment(str(exp))
    # the selected trial (by default the front's best primary) has the best primary
    assert summary["best"]["val_accuracy"] == max(e.best_value(t) for t in e.trials)
    assert "optimising val_accuracy (max), param_count (min)" in out.stdout
    assert "pareto_asha: at each rung, trials go on by Pareto front of val_accuracy and param_count" in out.stdout


def test_every_result_holds_the_secondary_metrics(pareto):
    _, exp, _ = pareto
    for trial, rows in histories(exp).items():
        for name in SECONDARY:
            assert all(isinstance(r[name], (int, float)) and math.isfinite(r[name]) for r in rows), (trial, name)
        assert len({(r["param_count"], r["flops_per_sample"], r["latency_ms"]) for r in rows}) == 1  # measured once
        seconds = [r["train_seconds"] for r in rows]
        assert seconds == sorted(seconds) and seconds[-1] == pytest.approx(sum(r["epoch_time_s"] for r in rows))


def test_the_saved_study_has_a_direction_per_objective_and_each_trials_point(pareto):
    """Optuna's own journal in the experiment folder: a finished trial holds its point (its best epoch by the
    primary, param_count from the same row), a trial pareto_asha stopped is PRUNED."""
    _, exp, _ = pareto
    study = study_of(exp)
    assert study.directions == [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE]
    e = load_experiment(str(exp))
    by_params = {json.dumps(t.config, sort_keys=True): t for t in e.trials}
    assert len(study.trials) == len(e.trials) == 4
    for ot in study.trials:
        trial = by_params[json.dumps(ot.params, sort_keys=True)]
        if trial.status == "early_stopped":
            assert ot.state == TrialState.PRUNED, trial.trial_id
            continue
        point = e.best_epoch(trial)
        assert (ot.state, ot.values) == (TrialState.COMPLETE, [point["val_accuracy"], point["param_count"]])


def test_extend_warm_starts_through_optunas_study(ray_address, pareto):
    _, exp, _ = pareto
    out = run_cli("extend", exp, "--num-samples", "2", "--address", ray_address)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    ext = exp.parent / "pareto-ext1"
    summary = json.loads((ext / "summary.json").read_text())
    assert summary["warm_start"] == {"sources": [str(exp)], "points": 4, "skipped": 0}
    earlier, study = study_of(exp), study_of(ext)
    assert len(study.directions) == 2 and len(study.trials) == 6
    assert [(t.state, t.values, t.params) for t in study.trials[:4]] == \
        [(t.state, t.values, t.params) for t in earlier.trials]


def test_asha_on_the_primary_says_so(ray_address, pareto):
    tmp, _, _ = pareto
    spec = several(tmp / "asha.yaml", num_samples=2, max_epochs=2, max_concurrent=1, space=SPACE,
                   scheduler="asha", search="random")
    out = run_cli("tune", spec, "--storage", tmp / "runs", "--address", ray_address)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "asha stops trials by val_accuracy (max) alone, whatever their param_count" in out.stderr


# a training function that reports one of its two objectives: its first report ends the run, naming the other
MISSES_ONE = """from ray import tune


def train(config):
    for epoch in range(1, 3):
        tune.report({"score": config["x"] * epoch, "epoch": epoch})
"""


def test_a_training_function_must_report_every_objective(ray_address, tmp_path):
    (tmp_path / "train.py").write_text(MISSES_ONE)
    spec = tmp_path / "fn.yaml"
    spec.write_text(yaml.safe_dump({
        "objectives": [{"name": "score", "mode": "max"}, {"name": "energy_j", "mode": "min"}],
        "trainable": "train.py:train", "max_epochs": 2, "num_samples": 2, "max_concurrent": 1,
        "scheduler": "fifo", "search": "random", "space": {"x": {"uniform": [0.1, 1.0]}}}))
    out = run_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address)
    assert out.returncode == 1, out.stdout[-2000:] + out.stderr[-3000:]
    assert (f"{spec}: trainable: the first report of train.py:train has no 'energy_j' (one of the experiment's "
            "objectives); it reported: epoch, score") in out.stderr
    assert "Traceback" not in out.stderr

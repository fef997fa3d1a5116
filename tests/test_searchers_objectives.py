"""Optuna with several objectives as Ray drives it, without a cluster: the study's directions, each trial told its
point, the samplers, the study saved as an Optuna journal, and warm starts through Optuna's own study."""

from __future__ import annotations

import cloudpickle
import optuna
import pytest
import yaml
from optuna.storages.journal import JournalFileBackend
from optuna.study import StudyDirection
from optuna.trial import TrialState

from raytune_app.results import reader
from raytune_app.spec.load import load_spec
from raytune_app.tuner.optuna_study import STUDY, STUDY_FILE, load_optuna_history
from raytune_app.tuner.searchers import build_search

ACC, SIZE = {"name": "val_accuracy", "mode": "max"}, {"name": "param_count", "mode": "min"}
SPACE = {"lr": {"loguniform": [1e-4, 1e-1]}, "hidden_size": {"choice": [16, 64, 256]}}


def spec_of(tmp_path, **fields):
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump({"objectives": [ACC, SIZE], "max_epochs": 3, "num_samples": 8, "space": SPACE,
                                    "search": "optuna", **fields}))
    return load_spec(path)


def searcher(spec, history=None):
    """The search algorithm set up as Tune does it: with several objectives TuneConfig names no metric."""
    search_alg, param_space = build_search(spec, max_concurrent=4, history=history)
    metric = None if spec.multi_objective else spec.metric
    assert search_alg.set_search_properties(metric, spec.mode if metric else None, param_space)
    return search_alg


def saved_study(search_alg, folder) -> optuna.Study:
    """What the run leaves: the searcher saved as Ray saves it, the study read back with Optuna's own API."""
    search_alg.save(str(folder / "searcher-state.pkl"))
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(folder / STUDY_FILE)))
    return optuna.load_study(study_name=STUDY, storage=storage)


def row(epoch, acc, size=1000, checkpointed=True, diverged=False):
    return {"val_accuracy": acc, "param_count": size, "epoch": epoch, "training_iteration": epoch,
            "diverged": diverged, "checkpoint_dir_name": f"checkpoint_{epoch - 1:06d}" if checkpointed else None}


def run_trial(search_alg, trial_id, rows, stopped=False, error=False):
    """Proposed, a result per epoch, then completed as Ray does it (a stopped trial's last result on completion
    only; none on error)."""
    assert search_alg.suggest(trial_id) is not None
    for result in rows[:-1] if stopped else rows:
        search_alg.on_trial_result(trial_id, result)
    search_alg.on_trial_complete(trial_id, result=None if error else rows[-1], error=error)


def test_the_study_has_a_direction_per_objective_and_each_trial_its_point(tmp_path):
    search_alg = searcher(spec_of(tmp_path))
    # best checkpointed epoch by the primary is epoch 2 (epoch 3 is better but saved no checkpoint)
    run_trial(search_alg, "full", [row(1, 0.5), row(2, 0.8, 5000), row(3, 0.9, 5000, checkpointed=False)])
    run_trial(search_alg, "stopped", [row(1, 0.4), row(2, 0.6)], stopped=True)
    run_trial(search_alg, "diverged", [row(1, 0.0, 300, diverged=True)])
    run_trial(search_alg, "failed", [row(1, 0.3)], error=True)
    run_trial(search_alg, "last", [row(1, 0.7, 20), row(2, 0.6, 20), row(3, 0.75, 20)])
    study = saved_study(search_alg, tmp_path)
    assert study.directions == [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE]
    trials = study.trials
    assert (trials[0].state, trials[0].values) == (TrialState.COMPLETE, [0.8, 5000.0])
    assert trials[1].state == TrialState.PRUNED and trials[1].values is None  # no undertrained point on the front
    assert (trials[2].state, trials[2].values) == (TrialState.COMPLETE, [0.0, 300.0])  # its worst value, as Ray's
    assert trials[3].state == TrialState.FAIL
    assert trials[4].values == [0.75, 20.0]
    assert [t.number for t in study.best_trials] == [0, 4]


def test_one_objective_is_told_as_before(tmp_path):
    spec = load_spec(_one_objective_file(tmp_path))
    search_alg = searcher(spec)
    run_trial(search_alg, "full", [row(1, 0.5), row(2, 0.8), row(3, 0.7)])  # Ray's way: the last result
    study = saved_study(search_alg, tmp_path)
    assert study.direction == StudyDirection.MAXIMIZE and study.trials[0].value == 0.7


def _one_objective_file(tmp_path):
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump({"metric": "val_accuracy", "mode": "max", "max_epochs": 3, "num_samples": 8,
                                    "space": SPACE, "search": "optuna"}))
    return path


@pytest.mark.parametrize("sampler, cls", [("tpe", optuna.samplers.TPESampler),
                                          ("nsga2", optuna.samplers.NSGAIISampler),
                                          ("gp", optuna.samplers.GPSampler)])
def test_each_sampler_is_seeded_and_gets_its_options(tmp_path, sampler, cls):
    proposals = []
    for seed in (3, 3):
        search_alg = searcher(spec_of(tmp_path, seed=seed, num_samples=12, search={"name": "optuna",
                                                                                   "sampler": sampler}))
        assert isinstance(search_alg.searcher._sampler, cls)
        # the Tuner pickles its searcher at once (NSGA-II's lock once made that a TypeError: tuner/nsga2.py)
        search_alg = cloudpickle.loads(cloudpickle.dumps(search_alg))
        proposals.append([search_alg.suggest(f"t{i}") for i in range(3)])
    assert proposals[0] == proposals[1]
    if sampler == "nsga2":  # a quarter of the trials: four generations
        assert search_alg.searcher._sampler._population_size == 3


def test_warm_start_from_earlier_trials_through_optunas_study(tmp_path, monkeypatch):
    """Earlier trials, as a live run tells them: completed with their point, stopped early PRUNED; a config
    outside the new space or a point without every objective is skipped and counted."""
    config = {"lr": 0.01, "hidden_size": 64}
    rows = [row(1, 0.6, 5000), row(2, 0.9, 5000), row(3, 0.8, 5000)]
    trials = [reader.Trial("done", "completed", config, [r | {"config": config} for r in rows], order=0),
              reader.Trial("asha", "early_stopped", config | {"lr": 0.02}, rows[:1], order=1),
              reader.Trial("outside", "completed", config | {"hidden_size": 32}, rows, order=2),
              reader.Trial("no_size", "completed", config, [{**r, "param_count": None} for r in rows], order=3),
              reader.Trial("running", "running", config, rows, order=4)]
    experiment = reader.Experiment("old", "/old", "val_accuracy", "max", 3, {}, None, trials)
    monkeypatch.setattr(reader, "load_experiment", lambda path: experiment)
    spec = spec_of(tmp_path)
    history = load_optuna_history(["/old"], spec, "f.yaml")
    assert (len(history.points), history.skipped) == (2, 2)
    search_alg = searcher(spec, history)
    run_trial(search_alg, "new", [row(1, 0.7, 300), row(2, 0.95, 300), row(3, 0.93, 300)])
    study = saved_study(search_alg, tmp_path)
    assert [(t.state, t.values, t.params) for t in study.trials] == [
        (TrialState.COMPLETE, [0.9, 5000.0], config), (TrialState.PRUNED, None, config | {"lr": 0.02}),
        (TrialState.COMPLETE, [0.95, 300.0], study.trials[2].params)]
    assert study.directions == [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE]


def test_one_objective_warm_start_keeps_a_pruned_trials_epochs(tmp_path, monkeypatch):
    rows = [row(1, 0.6), row(2, 0.7)]
    trials = [reader.Trial("asha", "early_stopped", {"lr": 0.01, "hidden_size": 16}, rows, order=0)]
    monkeypatch.setattr(reader, "load_experiment",
                        lambda path: reader.Experiment("old", "/old", "val_accuracy", "max", 3, {}, None, trials))
    history = load_optuna_history(["/old"], load_spec(_one_objective_file(tmp_path)), "f.yaml")
    (pruned,) = history.points
    assert pruned.state == TrialState.PRUNED and pruned.intermediate_values == {1: 0.6, 2: 0.7}

"""The searchers as Ray objects, without a cluster: Optuna told of early-stopped trials, seeded proposals."""

from __future__ import annotations

import pytest
from optuna.trial import TrialState

from raytune_app.tuner.searchers import build_search
from raytune_app.spec.hyperparams import chosen
from raytune_app.spec.load import load_spec

from conftest import write_experiment

SPACE = {"lr": {"loguniform": [1e-4, 1e-1]}, "hidden_size": {"choice": [32, 64, 128]},
         "hidden_layers": {"int": [1, 3]}, "momentum": 0.9}


def searcher_for(tmp_path, **fields):
    """The spec's search algorithm, set up with its param space as Tuner would (metric and mode from the spec)."""
    spec = load_spec(write_experiment(tmp_path / "e.yaml", space=SPACE, **fields))
    search_alg, param_space = build_search(spec, max_concurrent=4)
    assert search_alg.set_search_properties(spec.metric, spec.mode, param_space)
    return search_alg, param_space


def optuna_state(search_alg, trial_id):
    ahead = search_alg.searcher  # inside the ConcurrencyLimiter: Optuna's next config worked out ahead
    ahead.settle()
    optuna_search = ahead.searcher
    return optuna_search._ot_trials[ahead.wrapped_id(trial_id)].number, optuna_search._ot_study


def run_trial(search_alg, trial_id, values, error=False, stopped=False):
    """A fake trial as Ray drives a searcher: proposed, one result per epoch, then completed with the last one
    (none on error). A trial that a scheduler or stopper `stopped` has its last result passed on completion only."""
    assert search_alg.suggest(trial_id) is not None
    results = [{"val_accuracy": v, "epoch": i, "training_iteration": i, "diverged": False}
               for i, v in enumerate(values, 1)]
    for result in results[:-1] if stopped else results:
        search_alg.on_trial_result(trial_id, result)
    search_alg.on_trial_complete(trial_id, result=None if error else results[-1], error=error)


def test_optuna_is_told_that_an_early_stopped_trial_was_pruned(tmp_path):
    search_alg, _ = searcher_for(tmp_path, search="optuna", max_epochs=3)
    run_trial(search_alg, "full", [0.5, 0.7, 0.8])
    run_trial(search_alg, "stopped", [0.4, 0.6], stopped=True)  # ASHA stopped it after epoch 2 of 3
    run_trial(search_alg, "first", [0.2], stopped=True)  # ... and this one after epoch 1
    run_trial(search_alg, "budget", [0.3, 0.5])  # --time-budget ran out while it trained epoch 3
    run_trial(search_alg, "failed", [0.3], error=True)
    states = {}
    for trial_id in ("full", "stopped", "first", "budget", "failed"):
        number, study = optuna_state(search_alg, trial_id)
        states[trial_id] = study.trials[number]
    assert states["full"].state == TrialState.COMPLETE and states["full"].value == 0.8
    # Optuna's TPE ranks it as a pruned trial: by the step it reached (2), then its value there
    assert states["stopped"].state == TrialState.PRUNED
    assert states["stopped"].intermediate_values == {1: 0.4, 2: 0.6} and states["stopped"].value == 0.6
    assert states["first"].state == TrialState.PRUNED and states["first"].intermediate_values == {1: 0.2}
    assert states["budget"].state == TrialState.PRUNED and states["budget"].intermediate_values == {1: 0.3, 2: 0.5}
    assert states["failed"].state == TrialState.FAIL


def test_a_diverged_trial_keeps_its_worst_value_as_complete(tmp_path):
    search_alg, _ = searcher_for(tmp_path, search="optuna", max_epochs=3)
    assert search_alg.suggest("t") is not None
    result = {"val_accuracy": 0.0, "epoch": 1, "training_iteration": 1, "diverged": True}
    search_alg.on_trial_result("t", result)
    search_alg.on_trial_complete("t", result=result)
    number, study = optuna_state(search_alg, "t")
    assert study.trials[number].state == TrialState.COMPLETE and study.trials[number].value == 0.0


@pytest.mark.parametrize("search", ["optuna", "bohb"])
def test_seeded_searchers_propose_the_same_configs_and_keep_constants(tmp_path, search):
    fields = {"search": search, "scheduler": "hb_bohb"} if search == "bohb" else {"search": search}
    proposals = []
    for seed in (0, 0, 1):
        search_alg, _ = searcher_for(tmp_path, seed=seed, **fields)
        proposals.append([search_alg.suggest(f"t{i}") for i in range(3)])
    assert proposals[0] == proposals[1] != proposals[2]
    for config in proposals[0]:
        assert set(config) == set(SPACE) - {"momentum"}  # Ray merges the space's constants in itself
        assert config["hidden_size"] in (32, 64, 128) and 1 <= config["hidden_layers"] <= 3
        # what trials train with is Python's own values (BOHB's ConfigSpace proposes numpy scalars)
        assert {type(v) for v in chosen(config).values()} <= {int, float}


def test_optuna_sampler_options_reach_tpe(tmp_path):
    search_alg, _ = searcher_for(tmp_path, search={"name": "optuna", "n_startup_trials": 1, "constant_liar": False,
                                                    "points_to_evaluate": [{"lr": 0.01, "hidden_size": 64,
                                                                            "hidden_layers": 2}]})
    sampler = search_alg.searcher.searcher._ot_study.sampler
    assert (sampler._n_startup_trials, sampler._constant_liar, sampler._multivariate) == (1, False, True)
    assert search_alg.suggest("t0") == {"lr": 0.01, "hidden_size": 64, "hidden_layers": 2}

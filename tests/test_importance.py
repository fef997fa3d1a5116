"""Hyperparameter importance on synthetic experiments whose truth is known (no Ray needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from raytune_app.results.importance import evaluate, fidelities, importances
from raytune_app.results.reader import load_experiment
from synthetic import SPACE, asha_like, sample, write_folder


def test_the_one_hyperparameter_that_decides_the_metric_ranks_first_with_most_of_the_importance(tmp_path):
    # 40 trials, all completed: val_accuracy depends on lr alone; the other 7 hyperparameters are noise
    rng = np.random.default_rng(3)
    configs = [sample(SPACE, rng) for _ in range(40)]

    def curve(i: int, epoch: int) -> float:
        return 0.95 - 0.1 * (math.log10(configs[i]["lr"]) + 2.5) ** 2 - 0.3 / epoch

    exp = write_folder(tmp_path / "lr-decides", configs, curve, [5] * 40, ["completed"] * 40, max_epochs=5,
                       space=SPACE)
    (found,), note = importances(load_experiment(exp))
    assert (found.epoch, found.trials) == (5, 40)
    assert next(iter(found.scores)) == "lr" and found.scores["lr"] > 0.5, found.scores
    assert sum(found.scores.values()) == pytest.approx(1.0)
    assert set(found.scores) == {k for k, v in SPACE.items() if isinstance(v, dict)}  # not the constant momentum
    assert "rests on 40 trials" in note


def test_trials_are_compared_at_the_same_epoch(tmp_path):
    # hidden_size decides only how long a trial runs (all but the 512-wide trials are stopped at epoch 1, as a
    # scheduler might); the metric itself depends on lr and the epoch alone
    rng = np.random.default_rng(4)
    configs = [sample(SPACE, rng) | {"hidden_size": (64, 128, 256, 512)[i % 4]} for i in range(52)]
    ends = [9 if c["hidden_size"] == 512 else 1 for c in configs]

    def curve(i: int, epoch: int) -> float:
        return (0.9 - 0.02 * (math.log10(configs[i]["lr"]) + 2.5) ** 2) * (1 - math.exp(-epoch / 3))

    statuses = ["early_stopped" if end == 1 else "completed" for end in ends]
    e = load_experiment(write_folder(tmp_path / "fidelity", configs, curve, ends, statuses, max_epochs=9,
                                     space=SPACE))
    assert fidelities(e) == [(9, 13), (1, 52)]  # 13: a quarter of the trials, just enough
    found, _ = importances(e)
    assert [(i.epoch, i.trials) for i in found] == [(9, 13), (1, 52)]
    for at_one_epoch in found:
        assert next(iter(at_one_epoch.scores)) == "lr" and at_one_epoch.scores["lr"] > 0.5, at_one_epoch
    # the trap avoided: each trial's best value whatever its epoch credits hidden_size, which set the epoch
    mixed = evaluate({t.trial_id: t.config for t in e.trials}, {t.trial_id: e.best_value(t) for t in e.trials},
                     "max", None)
    assert next(iter(mixed)) == "hidden_size", mixed


def test_too_few_trials_at_any_epoch_give_a_note_not_a_guess(tmp_path):
    found, note = importances(load_experiment(asha_like(tmp_path / "small", 6)))
    assert found == [] and "needs 8 trials with a finite val_accuracy at the same epoch" in note


def test_past_sampled_trials_the_importances_rest_on_a_sample_and_say_so(tmp_path, monkeypatch):
    """An experiment of more trials than SAMPLED (10,000 against 2,000; 40 against 25 here): the importances rest
    on the same random sample of them every time, the one hyperparameter that decides still first."""
    from raytune_app.results import importance

    monkeypatch.setattr(importance, "SAMPLED", 25)
    rng = np.random.default_rng(3)
    configs = [sample(SPACE, rng) for _ in range(40)]

    def curve(i: int, epoch: int) -> float:
        return 0.95 - 0.1 * (math.log10(configs[i]["lr"]) + 2.5) ** 2 - 0.3 / epoch

    e = load_experiment(write_folder(tmp_path / "sampled", configs, curve, [5] * 40, ["completed"] * 40,
                                     max_epochs=5, space=SPACE))
    (found,), note = importances(e)
    assert (found.epoch, found.trials, found.reached) == (5, 25, 40)
    assert next(iter(found.scores)) == "lr", found.scores
    assert "at epoch 5 it rests on a random sample of 25 of the 40 trials that reached it" in note
    assert importances(e) == ([found], note)

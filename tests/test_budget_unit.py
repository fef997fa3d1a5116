"""`--time-budget` counts from the command's start (tuner/callbacks/budget.py), and a run it cut before any result says so."""

from __future__ import annotations

import time

import pytest

from raytune_app.tuner.callbacks.budget import budget_left
from raytune_app.results.summary import problem_of


def test_start_up_is_taken_from_the_budget():
    started = time.time() - 8.0  # a command that started 8 s ago
    assert 11.5 < budget_left(20.0, started) <= 12.0
    assert budget_left(5.0, started) == 1.0  # start-up took it all: a second for Ray, not a negative budget
    assert budget_left(None, started) is None


@pytest.mark.parametrize("statuses, says", [
    ({"time_budget": 2}, "The time budget ran out before any trial reported a usable val_accuracy"),
    ({"diverged": 2}, "No trial reported a usable val_accuracy (every one failed, diverged or never reported)"),
])
def test_a_run_without_a_best_says_whether_the_budget_ran_out(statuses, says):
    assert says in problem_of({"best": None, "trials_by_status": statuses, "metric": "val_accuracy"})

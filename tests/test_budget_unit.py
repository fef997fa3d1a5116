"""`--time-budget` counts from the command's start (tuner/callbacks/budget.py), the trials it cut are marked without a
look at every trial after every step, and a run it cut before any result says so."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from raytune_app.results.status import BUDGET_MARKER
from raytune_app.results.summary import problem_of
from raytune_app.tuner.callbacks.budget import MarkBudgetCuts, budget_left


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


class FakeTrial:
    """What MarkBudgetCuts reads of one of Ray's trials; every read of its status is counted."""

    reads = 0

    def __init__(self, trial_id: str, folder, status: str = "PENDING"):
        self.trial_id, self.local_path, self._status = trial_id, str(folder), status
        self.last_result = {"epoch": 1}
        folder.mkdir()

    @property
    def status(self) -> str:
        FakeTrial.reads += 1
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        self._status = value


def marked(trial: FakeTrial) -> bool:
    return (Path(trial.local_path) / BUDGET_MARKER).exists()


def test_a_step_looks_at_the_open_trials_only_however_many_have_ended(tmp_path):
    """After each step only the trials not over yet are looked at (2 here), not the 1,000 that ended before."""
    cuts, trials = MarkBudgetCuts(), []
    for i in range(1000):  # one trial at a time, ended through Ray's hook
        trials.append(FakeTrial(f"t{i}", tmp_path / f"t{i}"))
        cuts.on_step_begin(i, trials)
        trials[-1].status = "TERMINATED"
        cuts.on_trial_complete(i, trials, trials[-1])
        cuts.on_step_end(i, trials)
    trials += [FakeTrial("a", tmp_path / "a", "RUNNING"), FakeTrial("b", tmp_path / "b")]
    cuts.on_step_begin(1000, trials)
    FakeTrial.reads = 0
    for step in range(1001, 1011):
        cuts.on_step_begin(step, trials)
        cuts.on_step_end(step, trials)
    assert FakeTrial.reads <= 10 * 2, FakeTrial.reads
    assert not any(marked(t) for t in trials)


def test_the_trials_the_budget_cut_are_marked_and_no_others(tmp_path):
    """Cut: the running trial and the pending one added in the budget's last step. Not cut: a trial that ended
    through Ray's hook, one that failed, and one that was over before a resumed run started."""
    old = FakeTrial("old", tmp_path / "old", "TERMINATED")
    done, failed, running = (FakeTrial(n, tmp_path / n, "RUNNING") for n in ("done", "failed", "running"))
    trials = [old, done, failed, running]
    cuts = MarkBudgetCuts()
    cuts.on_step_begin(0, trials)
    done.status = "TERMINATED"
    cuts.on_trial_complete(0, trials, done)
    failed.status = "ERROR"
    cuts.on_trial_error(0, trials, failed)
    cuts.on_step_end(0, trials)
    cuts.on_step_begin(1, trials)
    trials.append(FakeTrial("late", tmp_path / "late"))  # proposed in the step where the budget ran out
    running.status = trials[-1].status = "TERMINATED"  # the budget's stop: no hook
    cuts.on_step_end(1, trials)
    assert {t.trial_id for t in trials if marked(t)} == {"running", "late"}
    assert json.loads((Path(running.local_path) / BUDGET_MARKER).read_text()) == {
        "stopped_by": "time_budget", "result": 1}

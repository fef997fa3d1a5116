"""`--time-budget`: which trials it cut off, so they are not taken for trials the scheduler stopped early.

Ray spends the budget with its TimeoutStopper (TuneConfig.time_budget_s). When it runs out, the controller
sets every unfinished trial to TERMINATED in the middle of a step, without the `on_trial_complete` hook
that a scheduler's stop or a trial's natural end goes through. So a trial that becomes TERMINATED during
a step without that hook was cut by the budget (the other paths there, fail-fast and Tune's server stop,
are not used by raytune-app); Ray's end-of-run cleanup comes after the last step, so an interrupt is not
mistaken for it. Each cut trial gets a small marker file in its folder, which the reader turns into the
status `time_budget`.

Only the trials that are not over yet (pending, running, paused: a few, however many trials the run has)
are looked at after each step, not every trial of the run: a step costs the same at the 10,000th trial as
at the first.
"""

from __future__ import annotations

import json
import os
import time

from ray.tune import Callback

from raytune_app.results.status import BUDGET_MARKER

TERMINATED, ERROR = "TERMINATED", "ERROR"


def budget_left(budget_s: float | None, started: float) -> float | None:
    """`--time-budget` counts from the command's start at `started` (what a user times), while Ray's
    TimeoutStopper counts from its first check: Ray gets what start-up (Ray, the data) has left, 1 s at least."""
    if budget_s is None:
        return None
    return max(1.0, budget_s - (time.time() - started))


class MarkBudgetCuts(Callback):
    """Marks the trials that Ray terminated during a step without ending them through its hooks."""

    def __init__(self) -> None:
        self._open: dict[str, object] = {}  # trial id -> trial, for the trials not over yet
        # how many of the controller's trials have been looked at: its list only grows (a retried trial
        # moves to its end), so the trials after that many are the new ones
        self._seen = 0
        self._started = False

    def _take_new(self, trials: list, skip_over: bool) -> None:
        """Start following the trials added since the last look (`skip_over`: not those already over, which a
        resumed run finds in its saved state)."""
        for t in trials[self._seen:]:
            if not (skip_over and t.status in (TERMINATED, ERROR)):
                self._open[t.trial_id] = t
        self._seen = len(trials)

    def on_step_begin(self, iteration: int, trials: list, **info) -> None:
        self._take_new(trials, skip_over=not self._started)
        self._started = True

    def on_trial_complete(self, iteration: int, trials: list, trial, **info) -> None:
        self._open.pop(trial.trial_id, None)

    def on_trial_error(self, iteration: int, trials: list, trial, **info) -> None:
        self._open.pop(trial.trial_id, None)

    def on_step_end(self, iteration: int, trials: list, **info) -> None:
        self._take_new(trials, skip_over=False)
        for t in [t for t in self._open.values() if t.status in (TERMINATED, ERROR)]:
            del self._open[t.trial_id]
            if t.status == TERMINATED and t.local_path and os.path.isdir(t.local_path):
                with open(os.path.join(t.local_path, BUDGET_MARKER), "w") as f:
                    json.dump({"stopped_by": "time_budget", "result": (t.last_result or {}).get("epoch")}, f)

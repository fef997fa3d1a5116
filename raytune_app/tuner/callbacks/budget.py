"""`--time-budget`: which trials it cut off, so they are not taken for trials the scheduler stopped early.

Ray spends the budget with its TimeoutStopper (TuneConfig.time_budget_s). When it runs out, the controller
sets every unfinished trial to TERMINATED in the middle of a step, without the `on_trial_complete` hook
that a scheduler's stop or a trial's natural end goes through. So a trial that becomes TERMINATED during
a step without that hook was cut by the budget (the other paths there, fail-fast and Tune's server stop,
are not used by raytune-app); Ray's end-of-run cleanup comes after the last step, so an interrupt is not
mistaken for it. Each cut trial gets a small marker file in its folder, which the reader turns into the
status `time_budget`.
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
        self._ended: set[str] = set()  # trials that went through on_trial_complete / on_trial_error
        self._known: set[str] | None = None  # trials already over when this session started (a resume)

    def on_step_begin(self, iteration: int, trials: list, **info) -> None:
        if self._known is None:
            self._known = {t.trial_id for t in trials if t.status in (TERMINATED, ERROR)}

    def on_trial_complete(self, iteration: int, trials: list, trial, **info) -> None:
        self._ended.add(trial.trial_id)

    def on_trial_error(self, iteration: int, trials: list, trial, **info) -> None:
        self._ended.add(trial.trial_id)

    def on_step_end(self, iteration: int, trials: list, **info) -> None:
        for t in trials:
            if t.status != TERMINATED or t.trial_id in self._ended or t.trial_id in (self._known or ()):
                continue
            self._ended.add(t.trial_id)
            if t.local_path and os.path.isdir(t.local_path):
                with open(os.path.join(t.local_path, BUDGET_MARKER), "w") as f:
                    json.dump({"stopped_by": "time_budget", "result": (t.last_result or {}).get("epoch")}, f)

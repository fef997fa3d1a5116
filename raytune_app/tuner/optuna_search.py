"""Ray's OptunaSearch, telling Optuna that an early-stopped trial was pruned.

Ray's searchers learn from a trial that ASHA (or --time-budget) stopped at epoch 2 as if its epoch-2 value
were a finished trial's result: TPE then compares an undertrained network with fully trained ones. Optuna
has a state for exactly this, PRUNED: its TPE ranks pruned trials after the complete ones, by the step they
reached and then by their value there (the intermediate values OptunaSearch.on_trial_result already reports
per epoch). Ray's OptunaSearch tells a trial PRUNED when it ends without a result, so this subclass reports the
last result as an intermediate value (when a scheduler stops a trial, Ray hands that result to
on_trial_complete only, and a trial ASHA stopped at epoch 1 would reach Optuna without any value), then
completes the trial without a result: public methods only.
"""

from __future__ import annotations

from typing import Any

from ray.tune.result import TRAINING_ITERATION
from ray.tune.search.optuna import OptunaSearch

from raytune_app.results.status import classify


class PrunedAwareOptunaSearch(OptunaSearch):
    """OptunaSearch whose study records early-stopped trials as PRUNED, as Optuna's own pruners would."""

    def __init__(self, *args: Any, max_epochs: int, **kwargs: Any):
        self._max_epochs = max_epochs
        self._last_step: dict[str, int] = {}  # per trial: the step of the last result reported to Optuna
        super().__init__(*args, **kwargs)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Report as OptunaSearch does, remembering the step (on_trial_complete reports a result not seen yet)."""
        super().on_trial_result(trial_id, result)
        self._last_step[trial_id] = result[TRAINING_ITERATION]

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """A trial that ended without error before max_epochs (and did not diverge) is told PRUNED; the rest
        as Ray tells them. The one classification of statuses (results/status.py) decides which is which."""
        status = classify(result, "ERROR" if error else "TERMINATED", self._max_epochs)
        if status != "early_stopped":
            super().on_trial_complete(trial_id, result=result, error=error)
            return
        if self._last_step.get(trial_id) != result[TRAINING_ITERATION]:  # the result that made it stop
            self.on_trial_result(trial_id, result)
        # no result: OptunaSearch tells the study PRUNED, and Optuna takes a pruned trial's value from its last
        # intermediate value (OptunaSearch ignores a second completion of a trial itself)
        super().on_trial_complete(trial_id, result=None, error=False)

"""Ray's OptunaSearch, telling Optuna that an early-stopped trial was pruned.

Ray's searchers learn from a trial that ASHA (or --time-budget) stopped at epoch 2 as if its epoch-2 value
were a finished trial's result: TPE then compares an undertrained network with fully trained ones. Optuna
has a state for exactly this, PRUNED: its TPE ranks pruned trials after the complete ones, by the step they
reached and then by their value there (the intermediate values OptunaSearch.on_trial_result already reports
per epoch). Ray's OptunaSearch tells a trial PRUNED only when it ended without any result, so this subclass
tells the study itself, after reporting the last result too: when a scheduler stops a trial, Ray hands that
result to on_trial_complete only, and a trial ASHA stopped at epoch 1 would reach Optuna without any value.
That needs OptunaSearch's internals (Ray has no public hook for it): `_ot_trials`
(Ray trial id -> Optuna trial), `_ot_study`, and `_completed_trials` (what it keeps to ignore a second
completion), used as OptunaSearch.on_trial_complete uses them in Ray 2.60's optuna_search.py.
"""

from __future__ import annotations

from typing import Any

from optuna.trial import TrialState
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
        if status != "early_stopped" or trial_id in self._completed_trials:
            super().on_trial_complete(trial_id, result=result, error=error)
            return
        if self._last_step.get(trial_id) != result[TRAINING_ITERATION]:  # the result that made it stop
            self.on_trial_result(trial_id, result)
        # values=None: Optuna takes a pruned trial's value from its last intermediate value
        self._ot_study.tell(self._ot_trials[trial_id], state=TrialState.PRUNED)
        self._completed_trials.add(trial_id)

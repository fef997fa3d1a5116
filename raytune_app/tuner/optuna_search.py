"""Ray's OptunaSearch, telling Optuna that an early-stopped trial was pruned, and saving the study as a journal.

Ray's searchers learn from a trial that ASHA (or --time-budget) stopped at epoch 2 as if its epoch-2 value
were a finished trial's result: TPE then compares an undertrained network with fully trained ones. Optuna
has a state for exactly this, PRUNED: its TPE ranks pruned trials after the complete ones, by the step they
reached and then by their value there (the intermediate values OptunaSearch.on_trial_result already reports
per epoch). Ray's OptunaSearch tells a trial PRUNED when it ends without a result, so this subclass reports the
last result as an intermediate value (when a scheduler stops a trial, Ray hands that result to
on_trial_complete only, and a trial ASHA stopped at epoch 1 would reach Optuna without any value), then
completes the trial without a result: public methods only.

With several objectives (`metric` and `mode` lists), Ray's OptunaSearch reports no intermediate values (Optuna
has none for them) and tells a finished trial the values of its last result. Here a finished trial is told its
point instead, as the results name it: its best checkpointed epoch by the primary objective (the one rule for
best, results/best.py), the other objectives read from the same row; an early-stopped one is PRUNED, without
values, so that no undertrained point enters Optuna's front.
"""

from __future__ import annotations

import os
from typing import Any

from ray.tune.result import TRAINING_ITERATION
from ray.tune.search.optuna import OptunaSearch

from raytune_app.results.best import best_epoch
from raytune_app.results.status import classify
from raytune_app.tuner.optuna_study import save_study


class PrunedAwareOptunaSearch(OptunaSearch):
    """OptunaSearch whose study records early-stopped trials as PRUNED, as Optuna's own pruners would."""

    def __init__(self, *args: Any, max_epochs: int, storage, **kwargs: Any):
        self._max_epochs = max_epochs
        self._last_step: dict[str, int] = {}  # per trial: the step of the last result reported to Optuna
        self._points: dict[str, dict] = {}  # several objectives, per trial: its point so far
        self._study_storage = storage  # the study's (optuna_study.py), saved beside Ray's searcher state
        super().__init__(*args, storage=storage, **kwargs)

    def save(self, checkpoint_path: str) -> None:
        """Ray's searcher state (a pickle of this object, for resume), and beside it the study as an Optuna
        journal that Optuna's own tools open (Ray uploads the folder's files with its own to a storage URI)."""
        super().save(checkpoint_path)
        save_study(self._study_storage, os.path.dirname(checkpoint_path))

    def _point(self, trial_id: str, result: dict) -> dict:
        """The trial's point with `result` seen: its best usable epoch by the primary so far (else `result`)."""
        rows = [r for r in (self._points.get(trial_id), result) if r is not None]
        return best_epoch(rows, self.metric[0], self.mode[0]) or result

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Report as OptunaSearch does, remembering the step (on_trial_complete reports a result not seen yet)
        and, with several objectives, the trial's point so far."""
        super().on_trial_result(trial_id, result)
        self._last_step[trial_id] = result[TRAINING_ITERATION]
        if isinstance(self.metric, list):
            self._points[trial_id] = self._point(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """A trial that ended without error before max_epochs (and did not diverge) is told PRUNED; the rest
        as Ray tells them. The one classification of statuses (results/status.py) decides which is which."""
        status = classify(result, "ERROR" if error else "TERMINATED", self._max_epochs)
        if status != "early_stopped":
            if isinstance(self.metric, list) and result is not None:  # its point, else (diverged) the worst values
                result = self._point(trial_id, result)
            super().on_trial_complete(trial_id, result=result, error=error)
            return
        if self._last_step.get(trial_id) != result[TRAINING_ITERATION]:  # the result that made it stop
            self.on_trial_result(trial_id, result)
        # no result: OptunaSearch tells the study PRUNED, and Optuna takes a pruned trial's value from its last
        # intermediate value (OptunaSearch ignores a second completion of a trial itself)
        super().on_trial_complete(trial_id, result=None, error=False)

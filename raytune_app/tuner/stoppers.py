"""Ray Tune stoppers: a user's training function's budget (and its missing metric), a PBT trial's last epoch."""

from __future__ import annotations

from ray import tune

from raytune_app.results.status import progress
from raytune_app.trial.user_trainable import MISSING_METRIC


class UserTrainableStopper(tune.Stopper):
    """Stops a trial of a user's function after `max_epochs` reports, and the whole run as soon as a first
    report lacked the metric (the wrapper marks such a report)."""

    def __init__(self, max_reports: int):
        self._max_reports = max_reports
        self._missing = False

    def __call__(self, trial_id: str, result: dict) -> bool:
        if MISSING_METRIC in result:
            self._missing = True
            return True
        return result.get("training_iteration", 0) >= self._max_reports

    def stop_all(self) -> bool:
        return self._missing


class LastEpochStopper(tune.Stopper):
    """Ends a trial of the built-in loop on its last epoch's result, before the scheduler sees it: PBT would
    otherwise hand the weaker trials the stronger ones' final checkpoints, to train no further (each then
    reported that epoch again). A user's function gets the same from UserTrainableStopper."""

    def __init__(self, max_epochs: int):
        self._max_epochs = max_epochs

    def __call__(self, trial_id: str, result: dict) -> bool:
        return progress(result) >= self._max_epochs

    def stop_all(self) -> bool:
        return False


def stopper_for(spec) -> tune.Stopper | None:
    """A user's function's stopper; a PBT trial's, at its last epoch (see LastEpochStopper)."""
    if spec.trainable:
        return UserTrainableStopper(spec.max_epochs)
    return LastEpochStopper(spec.max_epochs) if spec.scheduler.name == "pbt" else None

"""What the driver adds around the user's own code: its checks before Ray starts, the stopper of a user's
training function (and of a PBT trial), and the summary's view of what such a function reported."""

from __future__ import annotations

from typing import Any, Iterable

from ray import tune

from raytune_app.errors import InputError
from raytune_app.run.schedulers import LastEpochStopper
from raytune_app.spec.metrics import finite
from raytune_app.spec.user_code import BUILTIN_MODELS, describe_exception
from raytune_app.trial.user_trainable import MISSING_METRIC


def check_model(spec, dataset, source: str) -> None:
    """A user's model must build and run on two samples of the real data; InputError naming `model`."""
    if spec.model in BUILTIN_MODELS or spec.trainable:
        return
    from raytune_app.trial.user_model import check_forward

    problem = check_forward(spec, dataset, lambda exc: describe_exception(exc, spec.code_dir))
    if problem:
        raise InputError([f"{source}: model: {problem}"])


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


def stopper_for(spec) -> tune.Stopper | None:
    """A user's function's stopper; a PBT trial's, at its last epoch (see LastEpochStopper)."""
    if spec.trainable:
        return UserTrainableStopper(spec.max_epochs)
    return LastEpochStopper(spec.max_epochs) if spec.scheduler.name == "pbt" else None


def missing_metric_problem(spec, results: Iterable[Any]) -> str | None:
    """The run's failure when a trial's first report lacked the metric: one line naming what it reported."""
    for result in results:
        reported = (result.metrics or {}).get(MISSING_METRIC)
        if reported:
            return (f"{spec.source}: trainable: the first report of {spec.trainable} has no {spec.metric!r} (the "
                    f"experiment's metric); it reported: {reported}. Report it with "
                    f"tune.report({{{spec.metric!r}: ...}}) or set `metric` to one of those")
    return None


def reported_test_scores(experiment, trial) -> dict[str, float]:
    """A user's function scores its own held-out data: the `test_*` metrics of the trial's best epoch."""
    row = experiment.best_epoch(trial) or {}
    return {k: v for k, v in row.items() if k.startswith("test_") and finite(v)}

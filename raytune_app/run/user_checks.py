"""What the driver adds around the user's own code: its checks before Ray starts, and the summary's view of what
a user's training function reported."""

from __future__ import annotations

from typing import Any, Iterable

from raytune_app.errors import InputError
from raytune_app.spec.metrics import finite
from raytune_app.spec.user_code import BUILTIN_MODELS, code_name, describe_exception
from raytune_app.trial.user_trainable import MISSING_METRIC


def check_model(spec, dataset, source: str) -> None:
    """A user's model must build and run on two samples of the real data; InputError naming `model`."""
    if spec.model in BUILTIN_MODELS or spec.trainable:
        return
    from raytune_app.trial.user_model import check_forward

    problem = check_forward(spec, dataset, lambda exc: describe_exception(exc, spec.code_dir))
    if problem:
        raise InputError([f"{source}: model: {problem}"])


def missing_metric_problem(spec, results: Iterable[Any]) -> str | None:
    """The run's failure when a trial's first report lacked the metric (or an objective): one line naming what
    it reported."""
    for result in results:
        reported = (result.metrics or {}).get(MISSING_METRIC)
        if reported:
            names = reported.split(", ")
            metric = next((o.name for o in spec.objectives if o.name not in names), spec.metric)
            what, instead = ("one of the experiment's objectives", "`objectives` to metrics it reports") \
                if spec.multi_objective else ("the experiment's metric", "`metric` to one of those")
            return (f"{spec.source}: trainable: the first report of {code_name(spec.trainable)} has no {metric!r} "
                    f"({what}); it reported: {reported}. Report it with tune.report({{{metric!r}: ...}}) or set {instead}")
    return None


def reported_test_scores(experiment, trial) -> dict[str, float]:
    """A user's function scores its own held-out data: the `test_*` metrics of the trial's best epoch."""
    row = experiment.best_epoch(trial) or {}
    return {k: v for k, v in row.items() if k.startswith("test_") and finite(v)}

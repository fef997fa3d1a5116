"""Scheduler names -> Ray Tune's own schedulers (`tune.create_scheduler`), with our defaults.

HyperBand and HyperBandForBOHB come through subclasses that mend one Ray 2.60 bug (`_SavesStoppedPauses`), with
the one private name that needs (ray_compat/controller.py); PBT trials end at their last epoch before PBT sees
it (tuner/stoppers.py); pareto_asha, for several objectives, is ours (tuner/pareto_asha.py)."""

from __future__ import annotations

import logging

from ray import tune
from ray.tune.schedulers import (AsyncHyperBandScheduler, FIFOScheduler, HyperBandForBOHB, HyperBandScheduler,
                                 MedianStoppingRule, PopulationBasedTraining)

from raytune_app.ray_compat.controller import save_trial_again
from raytune_app.spec.options import pbt_mutations, scheduler_kwargs
from raytune_app.tuner.pareto_asha import ParetoAsha

log = logging.getLogger(__name__)

# our short names -> the names `tune.create_scheduler` knows
RAY_NAMES = {
    "asha": "async_hyperband",
    "hyperband": "hyperband",
    "median": "median_stopping_rule",
    "pbt": "pbt",
    "fifo": "fifo",
    "hb_bohb": "hb_bohb",
}


class _SavesStoppedPauses:
    """Ray 2.60's TuneController saves a trial's state again only when something happens to the trial's actor.
    A PAUSED trial has no actor, so when the scheduler stops it (HyperBand ending a bracket) its status turns
    TERMINATED in memory but stays PAUSED in the saved experiment state: the run ends, and every reader of
    the state (our summary, Ray's ExperimentAnalysis) sees an unfinished trial that a resume would train on.
    Ray calls `on_trial_remove` as it stops such a trial, so the trial is marked there to be saved again."""

    def on_trial_remove(self, tune_controller, trial) -> None:
        super().on_trial_remove(tune_controller, trial)
        save_trial_again(tune_controller, trial)


class HyperBandSavingPauses(_SavesStoppedPauses, HyperBandScheduler):
    """Ray's synchronous HyperBand, its stopped pauses saved."""


class HyperBandForBOHBSavingPauses(_SavesStoppedPauses, HyperBandForBOHB):
    """Ray's HyperBandForBOHB, its stopped pauses saved."""


# the schedulers that pause trials and stop them while paused
OURS = {"hyperband": HyperBandSavingPauses, "hb_bohb": HyperBandForBOHBSavingPauses}


# our short names -> the public Ray classes `tune.create_scheduler` makes of them (a contract test checks it)
CLASSES = {
    "asha": AsyncHyperBandScheduler,
    "hyperband": HyperBandScheduler,
    "median": MedianStoppingRule,
    "pbt": PopulationBasedTraining,
    "fifo": FIFOScheduler,
    "hb_bohb": HyperBandForBOHB,
}


def scheduler_class(name: str) -> type:
    """The Ray class behind a scheduler name (pareto_asha: ours, on Ray's public FIFOScheduler)."""
    return ParetoAsha if name == "pareto_asha" else CLASSES[name]


def several_objectives_note(spec) -> tuple[int, str] | None:
    """With several objectives, what the scheduler does with them (a log level and a line), or None."""
    name, others = spec.scheduler.name, ", ".join(o.name for o in spec.objectives[1:])
    if not spec.multi_objective:
        return None
    if name == "fifo":
        return logging.INFO, "fifo: every trial trains to max_epochs; none is stopped on any objective"
    if name == "pareto_asha":
        return logging.INFO, (f"pareto_asha: at each rung, trials go on by Pareto front of {spec.metric} and "
                              f"{others}, spread along it")
    return logging.WARNING, (f"{name} stops trials by {spec.metric} ({spec.mode}) alone, whatever their {others}: "
                             f"the front can lose the trials that are good on those; `scheduler: pareto_asha` ranks "
                             f"by every objective, `fifo` stops none")


def build_scheduler(spec) -> "tune.schedulers.TrialScheduler":
    """The Ray Tune scheduler the spec names; metric and mode come from TuneConfig, except with several objectives
    (TuneConfig has none then, see build.py): pareto_asha takes them all, the others rank the primary alone."""
    kwargs = scheduler_kwargs(spec)
    note = several_objectives_note(spec)
    if note:
        log.log(*note)
    if spec.scheduler.name == "pareto_asha":
        return ParetoAsha([(o.name, o.mode) for o in spec.objectives], constraints=spec.constraints, **kwargs)
    if spec.multi_objective and spec.scheduler.name != "fifo":
        kwargs |= {"metric": spec.metric, "mode": spec.mode}
    if spec.scheduler.name == "pbt":
        kwargs.setdefault("hyperparam_mutations", {n: p.to_tune() for n, p in pbt_mutations(spec).items()})
    if spec.scheduler.name in OURS:
        return OURS[spec.scheduler.name](**kwargs)
    return tune.create_scheduler(RAY_NAMES[spec.scheduler.name], **kwargs)

"""Scheduler names -> Ray Tune's own schedulers (`tune.create_scheduler`), with our defaults."""

from __future__ import annotations

from ray import tune

from raytune_app.spec.options import pbt_mutations, scheduler_kwargs

# our short names -> the names `tune.create_scheduler` knows
RAY_NAMES = {
    "asha": "async_hyperband",
    "hyperband": "hyperband",
    "median": "median_stopping_rule",
    "pbt": "pbt",
    "fifo": "fifo",
    "hb_bohb": "hb_bohb",
}


def scheduler_class(name: str) -> type:
    """The Ray class behind a scheduler name."""
    from ray.tune.schedulers import SCHEDULER_IMPORT

    cls = SCHEDULER_IMPORT[RAY_NAMES[name]]
    return cls if isinstance(cls, type) else cls()


def build_scheduler(spec) -> "tune.schedulers.TrialScheduler":
    """The Ray Tune scheduler the spec names; metric and mode come from TuneConfig."""
    kwargs = scheduler_kwargs(spec)
    if spec.scheduler.name == "pbt":
        kwargs.setdefault("hyperparam_mutations", {n: p.to_tune() for n, p in pbt_mutations(spec).items()})
    return tune.create_scheduler(RAY_NAMES[spec.scheduler.name], **kwargs)

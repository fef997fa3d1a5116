"""Scheduler names -> Ray Tune's own schedulers (`tune.create_scheduler`), with our defaults."""

from __future__ import annotations

from typing import Any

from ray import tune

# our short names -> the names `tune.create_scheduler` knows
RAY_NAMES = {
    "asha": "async_hyperband",
    "hyperband": "hyperband",
    "median": "median_stopping_rule",
    "pbt": "pbt",
    "fifo": "fifo",
}
# what PBT may change in a running trial: nothing that changes the weights' shapes
PBT_MUTABLE = ("lr", "weight_decay", "momentum", "dropout", "batch_size")


def scheduler_class(name: str) -> type:
    """The Ray class behind a scheduler name (for checking its options before Ray starts)."""
    from ray.tune.schedulers import SCHEDULER_IMPORT

    cls = SCHEDULER_IMPORT[RAY_NAMES[name]]
    return cls if isinstance(cls, type) else cls()


def pbt_mutations(spec) -> dict[str, Any]:
    """PBT's hyperparam_mutations: the sampled, shape-preserving hyperparameters of the space."""
    return {n: p.to_tune() for n, p in spec.params.items() if n in PBT_MUTABLE and p.kind != "constant"}


def scheduler_kwargs(spec) -> dict[str, Any]:
    """Defaults tied to the experiment's budget, overridden by the file's options."""
    name = spec.scheduler.name
    defaults: dict[str, Any] = {"time_attr": "training_iteration"}
    if name == "asha":
        defaults |= {"max_t": spec.max_epochs, "grace_period": 1, "reduction_factor": 3}
    elif name == "hyperband":
        defaults |= {"max_t": spec.max_epochs, "reduction_factor": 3}
    elif name == "median":
        defaults |= {"grace_period": 1, "min_samples_required": 3}
    elif name == "pbt":
        defaults |= {"perturbation_interval": 2 * spec.checkpoint_every}
    else:
        defaults = {}
    return defaults | dict(spec.scheduler.options)


def build_scheduler(spec) -> "tune.schedulers.TrialScheduler":
    """The Ray Tune scheduler the spec names; metric and mode come from TuneConfig."""
    kwargs = scheduler_kwargs(spec)
    if spec.scheduler.name == "pbt":
        kwargs.setdefault("hyperparam_mutations", pbt_mutations(spec))
    return tune.create_scheduler(RAY_NAMES[spec.scheduler.name], **kwargs)

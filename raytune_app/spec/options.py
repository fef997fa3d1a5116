"""What each scheduler and searcher of the experiment file accepts, and the defaults tied to the budget.

Validation reads these tables instead of importing Ray (`validate` and `report` stay quick); a test
checks them against the signatures of Ray's own classes, so they cannot drift from the Ray we install.
"""

from __future__ import annotations

from typing import Any

# options of Ray's classes that an experiment file may set, by our name
SCHEDULER_OPTIONS = {
    "asha": ("time_attr", "max_t", "grace_period", "reduction_factor", "brackets", "stop_last_trials"),
    "hyperband": ("time_attr", "max_t", "reduction_factor", "stop_last_trials"),
    "median": ("time_attr", "grace_period", "min_samples_required", "min_time_slice", "hard_stop"),
    "pbt": ("time_attr", "perturbation_interval", "burn_in_period", "hyperparam_mutations", "quantile_fraction",
            "resample_probability", "perturbation_factors", "log_config", "require_attrs", "synch"),
    "fifo": (),
    "hb_bohb": ("time_attr", "max_t", "reduction_factor", "stop_last_trials"),
    "pareto_asha": ("time_attr", "max_t", "grace_period", "reduction_factor"),  # tuner/pareto_asha.py
}
SEARCHER_OPTIONS = {
    "hyperopt": ("points_to_evaluate", "n_initial_points", "gamma"),
    "random": ("points_to_evaluate", "constant_grid_search"),
    "grid": ("points_to_evaluate", "constant_grid_search"),
    "optuna": ("points_to_evaluate", "evaluated_rewards"),
    "bohb": ("points_to_evaluate",),
}
# options of the optimiser inside Ray's searcher, given in the same `search:` mapping: Optuna's TPESampler
# (Ray's OptunaSearch takes it as an object) and hpbandster's BOHB (TuneBOHB's `bohb_config`)
# Optuna's samplers that `search: {name: optuna, sampler: NAME}` picks (tpe unless set), and the options of each
OPTUNA_SAMPLERS = {
    "tpe": ("n_startup_trials", "n_ei_candidates", "multivariate", "group", "constant_liar"),
    "nsga2": ("population_size", "mutation_prob", "crossover_prob", "swapping_prob"),
    "gp": ("n_startup_trials", "deterministic_objective"),
}
SAMPLER_OPTIONS = {
    "optuna": ("sampler", *dict.fromkeys(o for options in OPTUNA_SAMPLERS.values() for o in options)),
    "bohb": ("min_points_in_model", "top_n_percent", "num_samples", "random_fraction", "bandwidth_factor",
             "min_bandwidth"),
}
# the searchers that need a scheduler of their own, and the reverse: BOHB is HyperBand's brackets with TPE-like
# models of each budget, so Ray's TuneBOHB and HyperBandForBOHB only work together
PAIRED = {"bohb": "hb_bohb", "hb_bohb": "bohb"}
# searchers that learn from results (PBT refuses them) and those that take only flat spaces (Ray converts the
# space to Optuna's or ConfigSpace's distributions, which have no branches)
LEARNING = ("hyperopt", "optuna", "bohb")
FLAT_ONLY = ("optuna", "bohb")
# options of Ray's classes that raytune-app sets itself, and the key of the file that sets them
RESERVED = {
    "space": "space", "random_state_seed": "seed", "random_state": "seed", "max_concurrent": "max_concurrent",
    "metric": "metric", "mode": "mode", "seed": "seed", "custom_explore_fn": "(a Python function: not from a file)",
    "objectives": "objectives", "constraints": "constraints",
}
# what PBT may change in a running trial: nothing that changes the weights' shapes
PBT_MUTABLE = ("lr", "weight_decay", "momentum", "dropout", "batch_size")


# Why synchronous HyperBand keeps its last round running (found by tracing Ray 2.60's hyperband.py): a trial
# that reaches its bracket's last milestone is paused, and the pause first saves a checkpoint. If the bracket's
# last trial reports while that save runs, the bracket is done and its cleanup stops only trials already
# PAUSED; the saving one turns PAUSED a moment later and is never resumed nor stopped, so the run never ends.
# With stop_last_trials=False, last-round trials are not paused at all: they train to max_t and end.
# HyperBandForBOHB (hb_bohb) is a HyperBandScheduler with the same brackets and pauses: it gets the same setting.
HYPERBANDS = ("hyperband", "hb_bohb")  # the synchronous HyperBand schedulers: brackets that pause trials
# the schedulers that continue a trial from its latest checkpoint, which must be of the epoch they saw: the
# HyperBands resume paused trials, PBT hands a trial's latest checkpoint to another; their trials save every epoch
FROM_LATEST_CHECKPOINT = (*HYPERBANDS, "pbt")
HYPERBAND_HANG = ("Ray's synchronous HyperBand can leave a last-round trial paused for ever when it pauses "
                  "trials at the last milestone")
# Ray's PBT is asynchronous by default: a trial is compared with the others' latest scores, however many epochs
# behind or ahead they are, and exploiting one behind sends it back to that epoch (it trains those epochs again)
# or one ahead skips epochs; a trial cloning a paused trial's old checkpoint can even be picked to run again
# before that trial resumes, and repeat (ray-project/ray#7284; Ray's remedy is synch). With `synch: true` all
# trials are perturbed at the same epochs, so each trains exactly max_epochs. The file may still say otherwise.


def scheduler_kwargs(spec) -> dict[str, Any]:
    """Defaults tied to the experiment's budget, overridden by the file's options."""
    name = spec.scheduler.name
    defaults: dict[str, Any] = {"time_attr": "training_iteration"}
    if name in ("asha", "pareto_asha"):
        defaults |= {"max_t": spec.max_epochs, "grace_period": 1, "reduction_factor": 3}
    elif name in HYPERBANDS:  # stop_last_trials: see HYPERBAND_HANG
        defaults |= {"max_t": spec.max_epochs, "reduction_factor": 3, "stop_last_trials": False}
    elif name == "median":
        defaults |= {"grace_period": 1, "min_samples_required": 3}
    elif name == "pbt":
        defaults |= {"perturbation_interval": 2, "synch": True}
    else:
        defaults = {}
    return defaults | dict(spec.scheduler.options)


def searcher_kwargs(spec) -> tuple[dict[str, Any], dict[str, Any]]:
    """The file's search options split into those of Ray's searcher and those of the sampler inside it (for
    optuna, `sampler` names Optuna's sampler: tpe unless set)."""
    inner = SAMPLER_OPTIONS.get(spec.search.name, ())
    options = spec.search.options
    return ({k: v for k, v in options.items() if k not in inner}, {k: v for k, v in options.items() if k in inner})


def optuna_sampler(spec) -> tuple[str, dict[str, Any]]:
    """The Optuna sampler a `search: optuna` names and its options, with defaults tied to the budget: NSGA-II's
    population is a quarter of the trials (at most Optuna's 50, at least 2), so that it breeds four generations."""
    options = searcher_kwargs(spec)[1]
    name = options.pop("sampler", "tpe")
    if name == "nsga2":
        options.setdefault("population_size", max(2, min(50, spec.trial_count // 4)))
    return name, options


def pbt_mutations(spec) -> dict[str, Any]:
    """PBT's hyperparam_mutations: the sampled, shape-preserving hyperparameters of the space (as Params)."""
    return {n: p for n, p in spec.params.items() if n in PBT_MUTABLE and p.kind != "constant"}

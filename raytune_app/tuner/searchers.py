"""Searcher names -> Ray Tune's own search algorithms, seeded.

HyperOpt gets the space in its native tree form (so TPE models each conditional
branch separately); Optuna, BOHB, random and grid search get Ray Tune's sample
domains, which Ray converts for Optuna and ConfigSpace itself. The searchers
that learn from results sit behind a ConcurrencyLimiter.

With several objectives, Optuna's samplers (TPE, NSGA-II, GP) get the lists of metrics and modes through Ray's
OptunaSearch, and TuneConfig gets none (tuner/build.py): Ray would hand TuneConfig's single metric to the searcher,
which would overwrite its lists without a word.
"""

from __future__ import annotations

import importlib
from typing import Any

from ray import tune

from raytune_app.spec.options import optuna_sampler, searcher_kwargs
from raytune_app.spec.space import to_hyperopt_space, to_param_space

# our names -> the names `tune.create_searcher` knows (grid is Ray's basic variant generator too)
RAY_NAMES = {"hyperopt": "hyperopt", "optuna": "optuna", "bohb": "bohb", "random": "random", "grid": "random"}
# our names -> (module, class) of the public Ray class `tune.create_searcher` makes (a contract test checks it);
# imported on use: each imports its optimiser library
CLASSES = {"hyperopt": ("ray.tune.search.hyperopt", "HyperOptSearch"),
           "optuna": ("ray.tune.search.optuna", "OptunaSearch"),
           "bohb": ("ray.tune.search.bohb", "TuneBOHB"),
           "random": ("ray.tune.search", "BasicVariantGenerator"),
           "grid": ("ray.tune.search", "BasicVariantGenerator")}


# the searchers whose next config is worked out while Tune ends the trial before, off its scheduling thread
# (suggest_ahead.py): their TPE takes longer the more trials they were told. BOHB's goes with HyperBandForBOHB, which pauses its trials.
ASKED_AHEAD = ("hyperopt", "optuna")


def searcher_class(name: str) -> type:
    """The Ray class behind a searcher name."""
    module, cls = CLASSES[name]
    return getattr(importlib.import_module(module), cls)


def objectives(spec) -> dict[str, Any]:
    """A searcher's metric and mode: the experiment's, or with several objectives the lists of them."""
    if spec.multi_objective:
        return {"metric": [o.name for o in spec.objectives], "mode": [o.mode for o in spec.objectives]}
    return {"metric": spec.metric, "mode": spec.mode}


def _optuna_sampler(spec) -> Any:
    """Optuna's sampler that the file names (`sampler: tpe`, `nsga2` or `gp`), seeded, with its options."""
    import optuna

    name, options = optuna_sampler(spec)
    if name == "nsga2":
        from raytune_app.tuner.nsga2 import SavableNSGAIISampler

        return SavableNSGAIISampler(seed=spec.seed, **options)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=spec.seed, **options)
    # multivariate TPE models the hyperparameters jointly; constant_liar keeps concurrent trials apart
    return optuna.samplers.TPESampler(**{"seed": spec.seed, "multivariate": True, "constant_liar": True, **options})


def learning_searcher(spec, options: dict[str, Any], sampler: dict[str, Any], history) -> Any:
    """Ray's HyperOptSearch, OptunaSearch (told of early-stopped trials) or TuneBOHB for the spec."""
    common = dict(**objectives(spec), **options)
    if spec.search.name == "optuna":
        import optuna

        from raytune_app.tuner.optuna_search import PrunedAwareOptunaSearch
        from raytune_app.tuner.optuna_study import STUDY, study_storage

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # not a line per study made, loaded or saved
        # the study is ours (optuna_study.py): its directions, any earlier trials, saved as Optuna's own journal
        return PrunedAwareOptunaSearch(sampler=_optuna_sampler(spec), max_epochs=spec.max_epochs,
                                       storage=study_storage(spec, history), study_name=STUDY, **common)
    if spec.search.name == "bohb":
        return tune.create_searcher("bohb", seed=spec.seed, bohb_config=sampler or None, **common)
    common |= dict(space=to_hyperopt_space(spec.params), random_state_seed=spec.seed)
    searcher = tune.create_searcher("hyperopt", **common)
    if history is not None:  # told as finished; the file's points_to_evaluate still run first (warm_start.py)
        from raytune_app.tuner.warm_start import add_history

        add_history(searcher, history, spec.mode)
    return searcher


def build_search(spec, max_concurrent: int, history=None) -> tuple[Any, dict[str, Any]]:
    """(search_alg, param_space) for `tune.Tuner`; `history` warm-starts HyperOpt or Optuna."""
    options, sampler = searcher_kwargs(spec)
    if spec.search.name in ("random", "grid"):
        searcher = tune.create_searcher("random", random_state=spec.seed, max_concurrent=max_concurrent, **options)
        return searcher, to_param_space(spec.params)
    from ray.tune.search import ConcurrencyLimiter

    searcher = learning_searcher(spec, options, sampler, history)
    # not with several objectives: Optuna's study is then the experiment's saved record (tuner/optuna_study.py),
    # and a config asked ahead for a slot a stop never fills would stay in it as a RUNNING trial
    if spec.search.name in ASKED_AHEAD and not spec.multi_objective:
        from raytune_app.tuner.suggest_ahead import SuggestAhead

        searcher = SuggestAhead(searcher, total=spec.trial_count)
    searcher = ConcurrencyLimiter(searcher, max_concurrent=max_concurrent)
    # HyperOpt holds the whole space itself; Optuna and BOHB take Ray's domains from the Tuner
    return searcher, {} if spec.search.name == "hyperopt" else to_param_space(spec.params)

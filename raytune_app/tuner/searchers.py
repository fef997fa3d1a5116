"""Searcher names -> Ray Tune's own search algorithms, seeded.

HyperOpt gets the space in its native tree form (so TPE models each conditional
branch separately); Optuna, BOHB, random and grid search get Ray Tune's sample
domains, which Ray converts for Optuna and ConfigSpace itself. The searchers
that learn from results sit behind a ConcurrencyLimiter.
"""

from __future__ import annotations

import importlib
from typing import Any

from ray import tune

from raytune_app.spec.options import searcher_kwargs
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


def _learning_searcher(spec, options: dict[str, Any], sampler: dict[str, Any], history) -> Any:
    """Ray's HyperOptSearch, OptunaSearch (TPE, told of early-stopped trials) or TuneBOHB for the spec."""
    common = dict(metric=spec.metric, mode=spec.mode, **options)
    if spec.search.name == "optuna":
        import optuna

        from raytune_app.tuner.optuna_search import PrunedAwareOptunaSearch

        # multivariate TPE models the hyperparameters jointly; constant_liar keeps concurrent trials apart
        tpe = optuna.samplers.TPESampler(**{"seed": spec.seed, "multivariate": True, "constant_liar": True,
                                            **sampler})
        return PrunedAwareOptunaSearch(sampler=tpe, max_epochs=spec.max_epochs, **common)
    if spec.search.name == "bohb":
        return tune.create_searcher("bohb", seed=spec.seed, bohb_config=sampler or None, **common)
    common |= dict(space=to_hyperopt_space(spec.params), random_state_seed=spec.seed)
    searcher = tune.create_searcher("hyperopt", **common)
    if history is not None:  # told as finished; the file's points_to_evaluate still run first (warm_start.py)
        from raytune_app.tuner.warm_start import add_history

        add_history(searcher, history, spec.mode)
    return searcher


def build_search(spec, max_concurrent: int, history=None) -> tuple[Any, dict[str, Any]]:
    """(search_alg, param_space) for `tune.Tuner`; `history` warm-starts HyperOpt."""
    options, sampler = searcher_kwargs(spec)
    if spec.search.name in ("random", "grid"):
        searcher = tune.create_searcher("random", random_state=spec.seed, max_concurrent=max_concurrent, **options)
        return searcher, to_param_space(spec.params)
    from ray.tune.search import ConcurrencyLimiter

    searcher = _learning_searcher(spec, options, sampler, history)
    if spec.search.name in ASKED_AHEAD:
        from raytune_app.tuner.suggest_ahead import SuggestAhead

        searcher = SuggestAhead(searcher, total=spec.trial_count)
    searcher = ConcurrencyLimiter(searcher, max_concurrent=max_concurrent)
    # HyperOpt holds the whole space itself; Optuna and BOHB take Ray's domains from the Tuner
    return searcher, {} if spec.search.name == "hyperopt" else to_param_space(spec.params)

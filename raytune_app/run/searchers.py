"""Searcher names -> Ray Tune's own search algorithms (`tune.create_searcher`), seeded.

HyperOpt gets the space in its native tree form (so TPE models each conditional
branch separately); random and grid search get Ray Tune's sample domains.
"""

from __future__ import annotations

from typing import Any

from ray import tune

from raytune_app.spec.space import to_hyperopt_space, to_param_space


def searcher_class(name: str) -> type:
    """The Ray class behind a searcher name."""
    from ray.tune.search import SEARCH_ALG_IMPORT

    return SEARCH_ALG_IMPORT["hyperopt" if name == "hyperopt" else "random"]()


def build_search(spec, max_concurrent: int, history=None) -> tuple[Any, dict[str, Any]]:
    """(search_alg, param_space) for `tune.Tuner`; `history` warm-starts HyperOpt."""
    options = dict(spec.search.options)
    if spec.search.name == "hyperopt":
        from ray.tune.search import ConcurrencyLimiter

        kwargs = dict(space=to_hyperopt_space(spec.params), metric=spec.metric, mode=spec.mode,
                      random_state_seed=spec.seed, **options)
        if history is not None:
            from raytune_app.run.warm_start import WarmStartHyperOptSearch

            searcher = WarmStartHyperOptSearch(history=history, **kwargs)
        else:
            searcher = tune.create_searcher("hyperopt", **kwargs)
        return ConcurrencyLimiter(searcher, max_concurrent=max_concurrent), {}
    searcher = tune.create_searcher("random", random_state=spec.seed, max_concurrent=max_concurrent, **options)
    return searcher, to_param_space(spec.params)

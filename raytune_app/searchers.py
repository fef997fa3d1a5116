"""Searcher names -> Ray Tune's own search algorithms (`tune.create_searcher`), seeded."""

from __future__ import annotations

from ray import tune


def searcher_class(name: str) -> type:
    """The Ray class behind a searcher name (for checking its options before Ray starts)."""
    from ray.tune.search import SEARCH_ALG_IMPORT

    return SEARCH_ALG_IMPORT["hyperopt" if name == "hyperopt" else "random"]()


def build_searcher(spec, max_concurrent: int):
    """HyperOpt's TPE behind a concurrency limit, or Ray's random/grid variant generator."""
    options = dict(spec.search.options)
    if spec.search.name == "hyperopt":
        from ray.tune.search import ConcurrencyLimiter

        searcher = tune.create_searcher("hyperopt", random_state_seed=spec.seed, **options)
        return ConcurrencyLimiter(searcher, max_concurrent=max_concurrent)
    return tune.create_searcher("random", random_state=spec.seed, max_concurrent=max_concurrent, **options)

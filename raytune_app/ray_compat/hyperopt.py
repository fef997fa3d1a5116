"""HyperOpt's own history inside Ray's HyperOptSearch, where a warm start puts earlier trials.

Why: a warm start tells HyperOpt's TPE of trials evaluated in earlier experiments, as finished, with their
values. Ray's public API has no way to do that. Public alternatives checked (Ray 2.60): the constructor's
`points_to_evaluate` (runs its points again); `Searcher.add_evaluated_point` and `add_evaluated_trials`
(HyperOptSearch does not implement them: NotImplementedError); HyperOpt's `fmin(trials=...)` (not how Ray
drives HyperOpt). Overriding Ray's `_setup_hyperopt` to replace its `_hpopt_trials` (as raytune-app did
before) also dropped the user's `points_to_evaluate`: an IndexError in `suggest` when both were given.

What is relied on, checked by tests/test_ray_compat_hyperopt.py:
- `HyperOptSearch.get_state()` (public) returns a dict whose key "hyperopt_trials" is the live
  `hyperopt.Trials` object that `suggest` reads (the dict's layout is Ray's own);
- the user's `points_to_evaluate` are that object's first trials, proposed by their position in it, so trials
  appended after them are never proposed again; new proposals take ids after every trial in it.
"""

from __future__ import annotations

from typing import Any

from ray.tune.search.hyperopt import HyperOptSearch

TRIALS_KEY = "hyperopt_trials"  # the key of HyperOptSearch.get_state() holding HyperOpt's Trials (Ray 2.60)


def hyperopt_trials(searcher: HyperOptSearch) -> Any:
    """The `hyperopt.Trials` a HyperOptSearch suggests from (its space must be set: given to the constructor)."""
    trials = searcher.get_state().get(TRIALS_KEY)
    if trials is None:
        import ray

        raise RuntimeError(f"Ray {ray.__version__}: HyperOptSearch.get_state() has no {TRIALS_KEY!r}; "
                           "raytune_app/ray_compat/hyperopt.py needs updating for this Ray")
    return trials

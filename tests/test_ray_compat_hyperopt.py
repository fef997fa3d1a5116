"""Contract of raytune_app/ray_compat/hyperopt.py with the installed Ray: what a warm start relies on in
Ray's HyperOptSearch. A failure here names the Ray version that changed it."""

from __future__ import annotations

import hyperopt
import ray
from hyperopt import hp
from hyperopt.fmin import generate_trial
from ray.tune.search.hyperopt import HyperOptSearch

from raytune_app.ray_compat.hyperopt import hyperopt_trials

CHANGED = (f"Ray {ray.__version__}: HyperOptSearch no longer works as raytune_app/ray_compat/hyperopt.py "
           "relies on; update that module (and tuner/warm_start.py) for this Ray")


def searcher(points=None) -> HyperOptSearch:
    return HyperOptSearch(space={"x": hp.uniform("x", 0, 1)}, metric="m", mode="max", points_to_evaluate=points,
                          n_initial_points=1, random_state_seed=0)


def test_get_state_holds_the_live_hyperopt_trials_that_suggest_reads():
    s = searcher()
    trials = hyperopt_trials(s)
    assert isinstance(trials, hyperopt.Trials), CHANGED
    s.suggest("a")
    assert len(trials.trials) == 1, CHANGED  # the proposal went into this very object


def test_points_to_evaluate_come_first_by_position_and_new_ids_follow_every_trial():
    s = searcher([{"x": 0.1}, {"x": 0.2}])
    trials = hyperopt_trials(s)
    assert len(trials.trials) == 2, CHANGED  # the points are HyperOpt trials from the start
    # a finished trial appended after them, as tuner/warm_start.py does
    (tid,) = trials.new_trial_ids(1)
    done = generate_trial(tid, {"x": 0.9}) | {"state": hyperopt.JOB_STATE_DONE,
                                              "result": {"loss": -0.5, "status": hyperopt.STATUS_OK}}
    trials.insert_trial_docs([done])
    trials.refresh()
    assert [s.suggest("p1")["x"], s.suggest("p2")["x"]] == [0.1, 0.2], CHANGED  # in the given order
    s.suggest("tpe")
    assert len(trials.trials) == 4 and len(set(trials.tids)) == 4, CHANGED  # a new trial with an id of its own
    s.on_trial_complete("p1", {"m": 0.3})  # Ray finds its trial by that id
    assert [t["result"].get("loss") for t in trials.trials] == [None, -0.3, -0.5, None], CHANGED

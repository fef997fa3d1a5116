"""The searcher asked ahead (tuner/suggest_ahead.py): the next config ready before a slot frees, worked out on a
thread of its own, saved and restored with the run."""

from __future__ import annotations

import threading
import time

from ray import cloudpickle
from ray.tune.search import ConcurrencyLimiter, SearchGenerator, Searcher

from raytune_app.ray_compat.hyperopt import hyperopt_trials
from raytune_app.spec.load import load_spec
from raytune_app.tuner.searchers import build_search
from raytune_app.tuner.suggest_ahead import SuggestAhead

from conftest import write_experiment

SLOW_S = 0.3


class SlowSearcher(Searcher):
    """A searcher whose suggestions take SLOW_S, as TPE's do after many trials; it notes every call and where."""

    def __init__(self) -> None:
        super().__init__(metric="val_accuracy", mode="max")
        self.calls: list[tuple[str, str, str]] = []
        self.n = 0

    def suggest(self, trial_id: str) -> dict:
        time.sleep(SLOW_S)
        self.n += 1
        self.calls.append(("suggest", trial_id, threading.current_thread().name))
        return {"lr": self.n / 10}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.calls.append(("result", trial_id, threading.current_thread().name))

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.calls.append(("complete", trial_id, threading.current_thread().name))


def timed(fn, *args):
    started = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - started


def test_the_next_config_is_ready_when_a_slot_frees_and_worked_out_on_one_thread_in_tunes_order():
    inner = SlowSearcher()
    ahead = SuggestAhead(inner)
    first, took = timed(ahead.suggest, "a")
    assert first == {"lr": 0.1} and took >= SLOW_S  # nothing worked out yet
    ahead.on_trial_result("a", {"val_accuracy": 0.5})
    ahead.on_trial_complete("a", {"val_accuracy": 0.5})
    time.sleep(SLOW_S + 0.2)  # the trial trains: the thread works out the next config meanwhile
    second, took = timed(ahead.suggest, "b")
    assert second == {"lr": 0.2} and took < SLOW_S / 3
    ahead.on_trial_complete("b", {"val_accuracy": 0.6})
    ahead.settle()
    a, b, c = ahead.wrapped_id("a"), ahead.wrapped_id("b"), ahead.get_state()["ahead"][0]
    assert [call[:2] for call in inner.calls] == [("suggest", a), ("suggest", b), ("result", a), ("complete", a),
                                                  ("suggest", c), ("complete", b)]  # Tune's order
    assert {c[2] for c in inner.calls} == {inner.calls[0][2]} != {threading.current_thread().name}


def hyperopt_chain(tmp_path):
    spec = load_spec(write_experiment(tmp_path / "e.yaml", space={"lr": {"loguniform": [1e-4, 1e-1]},
                                                                  "hidden_size": {"choice": [32, 64]}}))
    search_alg, param_space = build_search(spec, max_concurrent=2)
    search_alg.set_search_properties(spec.metric, spec.mode, param_space)
    return SearchGenerator(search_alg)


def test_hyperopt_and_optuna_are_asked_ahead_inside_the_concurrency_limit(tmp_path):
    for search in ("hyperopt", "optuna"):
        spec = load_spec(write_experiment(tmp_path / f"{search}.yaml", search=search))
        limiter, param_space = build_search(spec, max_concurrent=2)
        limiter.set_search_properties(spec.metric, spec.mode, param_space)
        assert isinstance(limiter, ConcurrencyLimiter) and isinstance(limiter.searcher, SuggestAhead)
        assert limiter.suggest("1") and limiter.suggest("2") and limiter.suggest("3") is None  # still two at once


def test_a_resumed_run_knows_its_trials_and_hands_out_the_config_worked_out_ahead(tmp_path):
    """Tune saves the wrappers' states, then the base searcher (SearchGenerator.save_to_dir); a resume builds the
    chain afresh and restores it."""
    run = hyperopt_chain(tmp_path)
    limiter = run.searcher
    configs = [limiter.suggest(t) for t in ("t1", "t2")]
    limiter.on_trial_complete("t1", {"val_accuracy": 0.7, "training_iteration": 1})
    run.save_to_dir(str(tmp_path), "s")
    expected_next = limiter.searcher.get_state()["ahead"][1]

    resumed = hyperopt_chain(tmp_path / "..")
    resumed.restore_from_dir(str(tmp_path))
    ahead = resumed.searcher.searcher
    assert ahead.wrapped_id("t2") == limiter.searcher.wrapped_id("t2") and configs[0] != configs[1]
    assert resumed.searcher.suggest("t3") == expected_next
    ahead.on_trial_complete("t2", {"val_accuracy": 0.8, "training_iteration": 1})
    ahead.settle()
    done = [t["result"].get("loss") for t in hyperopt_trials(ahead.searcher).trials
            if t["result"].get("loss") is not None]
    assert sorted(done) == [-0.8, -0.7]  # both trials told, by the ids HyperOpt knows them by


def test_pickled_with_the_tuner_it_keeps_its_state_and_works_on(tmp_path):
    limiter = hyperopt_chain(tmp_path).searcher
    limiter.suggest("t1")
    copy = cloudpickle.loads(cloudpickle.dumps(limiter))  # as Ray pickles the Tuner
    assert copy.searcher.wrapped_id("t1") == limiter.searcher.wrapped_id("t1")
    assert copy.suggest("t2") == limiter.suggest("t2")

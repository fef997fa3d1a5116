"""The searcher asked ahead (tuner/suggest_ahead.py): the next config ready before a slot frees, worked out on a
thread of its own, saved and restored with the run."""

from __future__ import annotations

import math
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


def test_the_next_config_is_worked_out_as_a_trial_completes_on_one_thread_in_tunes_order():
    inner = SlowSearcher()
    ahead = SuggestAhead(inner)
    first, took = timed(ahead.suggest, "a")
    assert first == {"lr": 0.1} and took >= SLOW_S  # nothing worked out yet
    ahead.on_trial_result("a", {"val_accuracy": 0.5})
    ahead.on_trial_complete("a", {"val_accuracy": 0.5})
    time.sleep(SLOW_S + 0.2)  # Tune ends the trial: the thread works out the next config meanwhile
    second, took = timed(ahead.suggest, "b")
    assert second == {"lr": 0.2} and took < SLOW_S / 3
    ahead.on_trial_complete("b", {"val_accuracy": 0.6})
    ahead.settle()
    a, b, c = ahead.wrapped_id("a"), ahead.wrapped_id("b"), ahead.get_state()["ahead"][0]
    assert [call[:2] for call in inner.calls] == [("suggest", a), ("result", a), ("complete", a), ("suggest", b),
                                                  ("complete", b), ("suggest", c)]  # as Tune made them
    assert {c[2] for c in inner.calls} == {inner.calls[0][2]} != {threading.current_thread().name}


def test_no_config_is_worked_out_for_a_slot_tune_will_not_fill():
    inner = SlowSearcher()
    ahead = SuggestAhead(inner, total=2)
    ahead.suggest("a"), ahead.suggest("b")
    ahead.on_trial_complete("a", {"val_accuracy": 0.5})
    ahead.settle()
    assert ahead.get_state()["ahead"] is None and inner.n == 2


def hyperopt_chain(tmp_path):
    spec = load_spec(write_experiment(tmp_path / "e.yaml", space={"lr": {"loguniform": [1e-4, 1e-1]},
                                                                  "hidden_size": {"choice": [32, 64]}}))
    search_alg, param_space = build_search(spec, max_concurrent=2)
    search_alg.set_search_properties(spec.metric, spec.mode, param_space)
    return SearchGenerator(search_alg)


def test_hyperopt_and_optuna_are_asked_ahead_inside_the_concurrency_limit(tmp_path):
    """Never more configs out at once than the trials the CPUs hold (max_concurrent), however many are ahead."""
    for search in ("hyperopt", "optuna"):
        spec = load_spec(write_experiment(tmp_path / f"{search}.yaml", search=search, num_samples=6))
        limiter, param_space = build_search(spec, max_concurrent=2)
        limiter.set_search_properties(spec.metric, spec.mode, param_space)
        assert isinstance(limiter, ConcurrencyLimiter) and isinstance(limiter.searcher, SuggestAhead)
        live, handed = set(), 0
        for n in range(12):
            trial = f"t{n}"
            if limiter.suggest(trial):
                live.add(trial)
                handed += 1
            else:  # the limit: a slot frees only when a trial completes
                assert len(live) == 2
                done = min(live)
                live.discard(done)
                limiter.on_trial_complete(done, {"val_accuracy": 0.5, "training_iteration": 1})
            assert len(live) <= 2
        assert handed >= 6


def sequence_of_configs(spec, search_alg, param_space, trials: int) -> list[dict]:
    """The configs `search_alg` gives one trial at a time, each told a score that depends on its config only."""
    search_alg.set_search_properties(spec.metric, spec.mode, param_space)
    run = SearchGenerator(search_alg)
    configs = []
    for n in range(trials):
        config = search_alg.suggest(f"t{n}")
        configs.append(config)
        score = 1 - abs(math.log10(config["lr"]) + 2.5) / 3 + config["hidden_size"] / 1000
        search_alg.on_trial_complete(f"t{n}", {spec.metric: score, "training_iteration": 1})
    del run
    return configs


def test_a_seed_gives_the_same_configs_as_the_searcher_asked_when_a_slot_frees(tmp_path):
    """One trial at a time, past TPE's random start: the searcher is asked with every trial's result known, as
    without the wrapper (working the next config out as the previous one is handed out would miss the latest)."""
    from ray.tune.search import ConcurrencyLimiter
    from raytune_app.spec.options import searcher_kwargs
    from raytune_app.tuner.searchers import learning_searcher

    for search, start in (("hyperopt", {"n_initial_points": 2}), ("optuna", {"n_startup_trials": 2})):
        spec = load_spec(write_experiment(tmp_path / f"{search}.yaml", seed=3, num_samples=8,
                                          search={"name": search, **start},
                                          space={"lr": {"loguniform": [1e-4, 1e-1]},
                                                 "hidden_size": {"choice": [32, 64, 128]}}))
        ahead, param_space = build_search(spec, max_concurrent=1)
        assert isinstance(ahead.searcher, SuggestAhead)
        before = ConcurrencyLimiter(learning_searcher(spec, *searcher_kwargs(spec), None), max_concurrent=1)
        expected = sequence_of_configs(spec, before, param_space, 8)
        assert sequence_of_configs(spec, ahead, param_space, 8) == expected, search


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

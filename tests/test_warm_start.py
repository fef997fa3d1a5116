"""Building on past runs: warm starts, extending an experiment, and reproducing a run from its seed."""

from __future__ import annotations

import json

import hyperopt
import pytest
from ray.tune import ExperimentAnalysis

from raytune_app.ray_compat.hyperopt import hyperopt_trials
from raytune_app.tuner.searchers import build_search
from raytune_app.tuner.warm_start import History, hyperopt_point, load_history
from raytune_app.spec.load import load_spec
from raytune_app.spec.space import parse_space

from conftest import run_cli, write_experiment

SPACE = {"hidden_size": {"choice": [16, 64, 256]}, "lr": {"choice": [1e-4, 1e-3, 1e-2, 1e-1]}}


def test_configs_map_to_hyperopt_points_or_fall_outside():
    params, _ = parse_space({"lr": {"loguniform": [1e-4, 1e-1]}, "act": {"choice": ["relu", "tanh"]}, "m": 0.9,
                             "opt": {"choice": [{"name": "sgd", "mom": {"uniform": [0, 1]}}, {"name": "adam"}]}})
    config = {"lr": 0.01, "act": "tanh", "m": 0.9, "opt": {"name": "sgd", "mom": 0.5}}
    assert hyperopt_point(params, config) == {"lr": 0.01, "act": 1, "opt": 0, "opt/sgd/mom": 0.5}
    assert hyperopt_point(params, {**config, "lr": 0.5}) is None  # outside the bounds
    assert hyperopt_point(params, {**config, "act": "gelu"}) is None  # not an option
    assert hyperopt_point(params, {**config, "m": 0.5}) is None  # a different constant
    assert hyperopt_point(params, {**config, "opt": {"name": "rmsprop"}}) is None  # no such branch
    assert hyperopt_point(params, {k: v for k, v in config.items() if k != "lr"}) is None  # missing


def test_a_trial_counts_with_the_config_of_its_best_epoch(monkeypatch):
    """PBT changes a trial's config as it trains: its best value goes with the config that produced it (each
    result records its own; a result without one goes with the trial's)."""
    from raytune_app.results import reader

    first, mutated = {"hidden_size": 16, "lr": 0.1}, {"hidden_size": 16, "lr": 0.01}
    rows = [{"epoch": 1, "val_accuracy": 0.5, "checkpoint_dir_name": "checkpoint_000000", "config": first},
            {"epoch": 2, "val_accuracy": 0.9, "checkpoint_dir_name": "checkpoint_000001", "config": mutated}]
    trials = [reader.Trial("pbt", "completed", first, rows, order=0),
              reader.Trial("plain", "completed", first, [{k: v for k, v in rows[0].items() if k != "config"}], order=1)]
    experiment = reader.Experiment("old", "/old", "val_accuracy", "max", 2, {}, None, trials)
    monkeypatch.setattr(reader, "load_experiment", lambda path: experiment)
    params, _ = parse_space(SPACE)
    history = load_history(["/old"], params, "val_accuracy", "f.yaml")
    assert history.points == (hyperopt_point(params, mutated), hyperopt_point(params, first))
    assert history.values == (0.9, 0.5)


def test_history_is_told_as_evaluated_and_the_files_points_still_run_first(tmp_path):
    points = [{"hidden_size": 16, "lr": 0.1}, {"hidden_size": 256, "lr": 1e-4}, {"hidden_size": 64, "lr": 1e-2}]
    spec = load_spec(write_experiment(tmp_path / "e.yaml", space=SPACE,
                                      search={"name": "hyperopt", "points_to_evaluate": points}))
    params = spec.params
    earlier = [{"hidden_size": 64, "lr": 1e-3}, {"hidden_size": 16, "lr": 1e-4}, {"hidden_size": 256, "lr": 0.1},
               {"hidden_size": 64, "lr": 0.1}]
    history = History(("old",), tuple(hyperopt_point(params, c) for c in earlier), (0.5, 0.6, 0.7, 0.8), 0)
    search_alg, _ = build_search(spec, max_concurrent=10, history=history)
    assert [search_alg.suggest(f"p{i}") for i in range(3)] == points  # the file's points, in its order
    search_alg.suggest("tpe")  # then HyperOpt itself, which knows the earlier trials as finished (loss = -value)
    search_alg.searcher.settle()
    trials = hyperopt_trials(search_alg.searcher.searcher)  # (inside the wrapper that works out the next config ahead)
    done = sorted(-t["result"]["loss"] for t in trials.trials if t["state"] == hyperopt.JOB_STATE_DONE)
    assert done == [0.5, 0.6, 0.7, 0.8] and len(trials.trials) == 8  # none ahead: no trial has completed yet


def ordered(exp) -> list[tuple[dict, float]]:
    """(config, best val_accuracy over its epochs) of each trial in the order the searcher proposed them."""
    trials = sorted(ExperimentAnalysis(str(exp)).trials, key=lambda t: int(t.experiment_tag.split("_")[0]))
    return [(t.config, t.metric_analysis["val_accuracy"]["max"]) for t in trials]


@pytest.fixture(scope="module")
def cold(ray_address, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("warm")
    spec = write_experiment(tmp / "cold.yaml", num_samples=8, max_epochs=2, scheduler="fifo", max_concurrent=1,
                            search={"name": "hyperopt", "n_initial_points": 8}, space=SPACE)
    out = run_cli("tune", spec, "--storage", tmp / "runs", "--address", ray_address, "--seed", "0")
    assert out.returncode == 0, out.stderr[-3000:]
    return tmp, tmp / "runs" / "cold"


def test_a_warm_start_reaches_the_earlier_best_in_fewer_trials(ray_address, cold):
    tmp, exp = cold
    history = ordered(exp)
    best = max(v for _, v in history)
    cold_trials = next(i for i, (_, v) in enumerate(history, 1) if v >= best)
    assert cold_trials > 1
    spec = write_experiment(tmp / "warm.yaml", num_samples=cold_trials - 1, max_epochs=2, scheduler="fifo",
                            max_concurrent=1, search={"name": "hyperopt", "n_initial_points": 4}, space=SPACE)
    out = run_cli("tune", spec, "--storage", tmp / "runs", "--address", ray_address, "--seed", "0",
                  "--warm-start", "cold")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "warm start: 8 earlier trial(s) from 1 experiment(s)" in out.stdout
    warm = ordered(tmp / "runs" / "warm")
    assert max(v for _, v in warm) >= best  # within fewer trials than the cold search needed
    # the control: the same search without the warm start does not get there in as many trials
    out = run_cli("tune", spec, "--storage", tmp / "runs", "--address", ray_address, "--seed", "0",
                  "--name", "control")
    assert out.returncode == 0, out.stderr[-3000:]
    assert max(v for _, v in ordered(tmp / "runs" / "control")) < best
    summary = json.loads((tmp / "runs" / "warm" / "summary.json").read_text())
    assert summary["warm_start"] == {"sources": [str(exp)], "points": 8, "skipped": 0}


def test_trials_outside_the_new_space_are_skipped_and_counted(ray_address, cold):
    tmp, exp = cold
    narrow = {**SPACE, "lr": {"choice": [1e-4, 1e-3, 1e-2]}}
    outside = sum(1 for config, _ in ordered(exp) if config["lr"] == 1e-1)
    spec = write_experiment(tmp / "narrow.yaml", num_samples=1, max_epochs=1, scheduler="fifo", space=narrow)
    out = run_cli("tune", spec, "--storage", tmp / "runs", "--address", ray_address, "--warm-start", str(exp))
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads((tmp / "runs" / "narrow" / "summary.json").read_text())
    assert summary["warm_start"] == {"sources": [str(exp)], "points": 8 - outside, "skipped": outside}


def test_warm_start_needs_hyperopt(cold, tmp_path):
    _, exp = cold
    spec = write_experiment(tmp_path / "rand.yaml", search="random", space=SPACE)
    out = run_cli("tune", spec, "--storage", tmp_path / "runs", "--warm-start", str(exp))
    assert out.returncode == 2 and "search: a warm start needs `search: hyperopt`" in out.stderr


def test_extend_adds_trials_as_a_linked_experiment(ray_address, cold):
    _, exp = cold
    out = run_cli("extend", exp, "--num-samples", "2", "--address", ray_address)
    assert out.returncode == 0, out.stderr[-3000:]
    ext = exp.parent / "cold-ext1"
    summary = json.loads((ext / "summary.json").read_text())
    assert summary["extends"] == str(exp) and summary["num_trials"] == 2
    assert summary["warm_start"]["points"] == 8
    assert len(ordered(exp)) == 8  # the finished experiment itself is untouched


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden"])
def test_extend_checks_the_name_as_tune_does(cold, name):
    tmp, exp = cold
    before = sorted(tmp.rglob("*"))
    out = run_cli("extend", exp, "--num-samples", "1", "--name", name)
    assert out.returncode == 2, out.stderr[-3000:]
    assert out.stderr.strip() == f"{exp}: name: must be letters, digits, '.', '_' or '-', got {name!r}"
    assert sorted(tmp.rglob("*")) == before  # nothing written, inside the storage folder or beside it


POINTS = [{"hidden_size": 16, "lr": 0.1}, {"hidden_size": 256, "lr": 1e-4}]


@pytest.fixture(scope="module")
def pointed(ray_address, cold):
    """A warm start from `cold` (8 trials) whose file also has points_to_evaluate (issue 25: an IndexError)."""
    tmp, exp = cold
    spec = write_experiment(tmp / "pointed.yaml", num_samples=3, max_epochs=1, scheduler="fifo", max_concurrent=1,
                            search={"name": "hyperopt", "points_to_evaluate": POINTS}, space=SPACE)
    out = run_cli("tune", spec, "--storage", tmp / "runs", "--address", ray_address, "--warm-start", "cold")
    assert out.returncode == 0, out.stderr[-3000:]
    return tmp / "runs" / "pointed"


def test_a_warm_start_runs_the_files_points_first(pointed, cold):
    _, exp = cold
    assert [config for config, _ in ordered(pointed)][:2] == POINTS  # then one trial of HyperOpt's own
    summary = json.loads((pointed / "summary.json").read_text())
    assert summary["num_trials"] == 3
    assert summary["warm_start"] == {"sources": [str(exp)], "points": 8, "skipped": 0}


def test_extend_does_not_run_the_points_again(ray_address, pointed):
    out = run_cli("extend", pointed, "--num-samples", "1", "--address", ray_address)
    assert out.returncode == 0, out.stderr[-3000:]
    ext = pointed.parent / "pointed-ext1"
    summary = json.loads((ext / "summary.json").read_text())
    assert summary["num_trials"] == 1 and summary["warm_start"]["points"] == 3  # the 2 points among them
    assert "points_to_evaluate" not in json.loads((ext / "raytune_app_spec.json").read_text())["search"]["options"]
    assert ordered(ext)[0][0] not in POINTS


@pytest.mark.parametrize("search, concurrency", [("hyperopt", "1"), ("random", "2")])
def test_the_same_seed_samples_the_same_configs(ray_address, tmp_path, search, concurrency):
    # HyperOpt: 2 random start-up points, then 3 proposals of TPE itself
    searcher = {"name": "hyperopt", "n_initial_points": 2} if search == "hyperopt" else search
    spec = write_experiment(tmp_path / "seeded.yaml", num_samples=5, max_epochs=2, search=searcher,
                            space={"lr": {"loguniform": [1e-3, 1e-1]}, "hidden_size": {"choice": [16, 64]}})
    runs = []
    for name in ("first", "second"):
        out = run_cli("tune", spec, "--storage", tmp_path / "runs", "--name", name, "--address", ray_address,
                      "--seed", "7", "--max-concurrent", concurrency)
        assert out.returncode == 0, out.stderr[-3000:]
        runs.append(ordered(tmp_path / "runs" / name))
    if concurrency == "1":  # same order, same metrics
        assert runs[0] == runs[1]
    else:  # random search: the same set of configs
        key = lambda c: json.dumps(c, sort_keys=True)  # noqa: E731
        assert sorted(key(c) for c, _ in runs[0]) == sorted(key(c) for c, _ in runs[1])

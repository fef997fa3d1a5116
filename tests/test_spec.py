import pytest
import yaml

from raytune_app.errors import InputError
from raytune_app.spec.load import load_spec

from conftest import REPO, run_cli, write_experiment


@pytest.mark.parametrize("path", sorted((REPO / "search_spaces").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_experiment_files_are_valid(path):
    spec = load_spec(path)
    assert spec.name and spec.params


def test_defaults_and_shorthands(tmp_path):
    spec = load_spec(write_experiment(tmp_path / "my_exp.yaml", scheduler="hyperband", search="random"))
    assert spec.name == "my-exp" and spec.scheduler.name == "hyperband" and spec.search.name == "random"
    assert spec.resources.cpus_per_trial == 1 and spec.keep_checkpoints == 2 and spec.checkpoint_every == 5


def test_cli_overrides_win_and_keep_options_of_the_same_scheduler(tmp_path):
    path = write_experiment(tmp_path / "e.yaml", scheduler={"name": "asha", "grace_period": 2})
    spec = load_spec(path, {"num_samples": 7, "resources.gpus_per_trial": 0.25, "scheduler": "asha"})
    assert spec.num_samples == 7 and spec.resources.gpus_per_trial == 0.25
    assert spec.scheduler.options == {"grace_period": 2}
    assert load_spec(path, {"scheduler": "fifo"}).scheduler.options == {}


def test_pbt_defaults_to_random_search(tmp_path):
    spec = load_spec(write_experiment(tmp_path / "e.yaml"), {"scheduler": "pbt"})
    assert spec.search.name == "random"


def problems(tmp_path, text=None, **fields):
    path = tmp_path / "e.yaml"
    if text is not None:
        path.write_text(text)
    else:
        write_experiment(path, **fields)
    with pytest.raises(InputError) as err:
        load_spec(path)
    assert all(p.startswith(f"{path}: ") for p in err.value.problems)
    return "\n".join(err.value.problems)


@pytest.mark.parametrize("fields, message", [
    ({"space": {"lr": {"loguniform": [0.0, 0.1]}}}, "space.lr: loguniform needs 0 < low < high, got [0.0, 0.1]"),
    ({"max_epoch": 3}, "max_epoch: unknown key (did you mean 'max_epochs'?)"),
    ({"mode": "maximise"}, "mode: input should be 'min' or 'max'"),
    ({"max_epochs": 0}, "max_epochs: input should be greater than 0"),
    ({"num_samples": 2.5}, "num_samples: "),
    ({"metric": "val_rmse"}, "metric: 'val_rmse' is not reported for classification data"),
    ({"data": {"dataset": "diabetes"}}, "metric: 'val_accuracy' is not reported for regression data"),
    ({"scheduler": {"name": "asha", "grace_period": 9}}, "scheduler.grace_period: 9 is above max_epochs (3)"),
    ({"scheduler": {"name": "asha", "grace": 1}}, "scheduler.grace: not an option of asha (did you mean 'grace_period'?)"),
    ({"scheduler": "ashaa"}, "scheduler.name: input should be 'asha'"),
    ({"space": {"hidden_layers": {"grid": [1, 2]}}}, "space.hidden_layers: grid needs `search: grid`"),
    ({"space": {"learning_rate": 0.1}}, "space.learning_rate: not a hyperparameter the mlp trainer understands"),
    ({"space": {"activation": {"choice": ["relu", "relux"]}}}, "space.activation: unknown activation 'relux'"),
    ({"data": {"dataset": "digits", "val_fraction": 0.6, "test_fraction": 0.5}}, "val_fraction + test_fraction"),
])
def test_bad_input_is_one_line_naming_the_key(tmp_path, fields, message):
    assert message in problems(tmp_path, **fields)


def test_missing_metric_and_mode_are_reported_together(tmp_path):
    text = problems(tmp_path, text=yaml.safe_dump({"max_epochs": 2}))
    assert "metric: is required" in text and "mode: is required" in text


def test_yaml_syntax_error_names_the_line(tmp_path):
    assert "line 3: YAML syntax error" in problems(tmp_path, text="metric: val_accuracy\nmode: max\nspace: {lr: [1, 2}\nmax_epochs: 3\n")


def test_validate_command_exits_2_without_traceback(tmp_path):
    bad = write_experiment(tmp_path / "bad.yaml", space={"lr": {"loguniform": [0.0, 0.1]}})
    good = write_experiment(tmp_path / "good.yaml")
    out = run_cli("validate", good, bad)
    assert out.returncode == 2
    assert f"{good}: ok: 3 trials x 3 epochs, asha + hyperopt" in out.stdout
    assert out.stderr.strip() == f"{bad}: space.lr: loguniform needs 0 < low < high, got [0.0, 0.1]"


def test_tune_with_bad_input_exits_2_before_ray_starts(tmp_path):
    bad = write_experiment(tmp_path / "bad.yaml", mode="maximum")
    out = run_cli("tune", bad, "--storage", tmp_path / "runs")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith(f"{bad}: mode: ")
    assert not (tmp_path / "runs").exists()


def test_missing_file_is_bad_input(tmp_path):
    out = run_cli("tune", tmp_path / "nope.yaml")
    assert out.returncode == 2 and "nope.yaml: cannot read" in out.stderr


def test_option_tables_match_the_signatures_of_rays_classes():
    """Validation reads spec/options.py instead of importing Ray; it must not drift from the Ray we install."""
    import inspect

    from raytune_app.tuner.schedulers import scheduler_class
    from raytune_app.tuner.searchers import searcher_class
    from raytune_app.spec.options import (OPTUNA_SAMPLERS, RESERVED, SAMPLER_OPTIONS, SCHEDULER_OPTIONS,
                                          SEARCHER_OPTIONS)

    def options(cls: type) -> set[str]:
        params = inspect.signature(cls).parameters.values()
        return {p.name for p in params if p.kind != p.VAR_KEYWORD} - {"self", "metric", "mode"} - set(RESERVED)

    # what a file cannot set: Python objects (a sampler, a storage, callables), the sampler's options that the
    # file sets flat instead (bohb_config), Optuna's study in memory, and TPESampler's deprecated arguments
    not_from_files = {"optuna": {"sampler", "storage", "study_name"},
                      "bohb": {"bohb_config"},
                      "optuna sampler": {"gamma", "weights", "constraints_func", "consider_prior", "prior_weight",
                                         "consider_magic_clip", "consider_endpoints", "warn_independent_sampling"}}
    for name, allowed in SCHEDULER_OPTIONS.items():
        assert set(allowed) == options(scheduler_class(name)), name
    for name, allowed in SEARCHER_OPTIONS.items():
        assert set(allowed) == options(searcher_class(name)) - not_from_files.get(name, set()), name
    import optuna
    from hpbandster.optimizers.config_generators.bohb import BOHB

    samplers = {"tpe": optuna.samplers.TPESampler, "nsga2": optuna.samplers.NSGAIISampler,
                "gp": optuna.samplers.GPSampler}
    objects = {"mutation", "crossover", "independent_sampler", "elite_population_selection_strategy",
               "child_generation_strategy", "after_trial_strategy"}  # Python objects, not from a file
    for sampler, cls in samplers.items():
        assert set(OPTUNA_SAMPLERS[sampler]) == options(cls) - not_from_files["optuna sampler"] - objects, sampler
    assert set(SAMPLER_OPTIONS["optuna"]) == {"sampler", *(o for opts in OPTUNA_SAMPLERS.values() for o in opts)}
    assert set(SAMPLER_OPTIONS["bohb"]) == options(BOHB) - {"configspace"}


@pytest.mark.parametrize("fields, message", [
    ({"search": {"name": "optuna", "n_startup": 5}},
     "search.n_startup: not an option of optuna (did you mean 'n_startup_trials'?)"),
    ({"search": {"name": "optuna", "seed": 3}}, "search.seed: set by raytune-app from `seed`"),
    ({"search": {"name": "optuna", "sampler": "cmaes"}}, "search.sampler: must be one of tpe, nsga2, gp, got 'cmaes'"),
    ({"search": "optuna", "space": {"optimizer": {"choice": [{"name": "sgd", "lr": 0.1}, {"name": "adam"}]}}},
     "space.optimizer: a conditional choice needs `search: hyperopt` or `random` (Ray's optuna searcher takes "
     "flat spaces only)"),
    ({"search": "optuna", "space": {"hidden_layers": {"grid": [1, 2]}}},
     "space.hidden_layers: grid needs `search: grid` or `random` (optuna cannot grid)"),
    ({"search": "optuna", "scheduler": "pbt", "space": {"lr": {"uniform": [0.01, 0.1]}}},
     "search: pbt explores by itself"),
    ({"search": "bohb"}, "search: bohb works only with `scheduler: hb_bohb`"),
    ({"search": "hyperopt", "scheduler": "hb_bohb"}, "scheduler: hb_bohb works only with `search: bohb`"),
    ({"search": {"name": "bohb", "top_n": 10}, "scheduler": "hb_bohb"},
     "search.top_n: not an option of bohb (did you mean 'top_n_percent'?)"),
    ({"search": "bohb", "scheduler": {"name": "hb_bohb", "stop_last_trials": True}}, "scheduler.stop_last_trials: "),
    ({"search": "bohb", "scheduler": {"name": "hb_bohb", "max_t": 9}},
     "scheduler.max_t: hb_bohb's last round trains to max_epochs (3)"),
    ({"search": "bohb", "scheduler": "hb_bohb", "space": {"dropout": {"quniform": [0.0, 0.5, 0.1]}}},
     "space.dropout: bohb cannot quantize"),
    ({"search": "optuna", "scheduler": "hb_bohb"}, "scheduler: hb_bohb works only with `search: bohb`"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_new_searchers_options_and_pairings_are_checked(tmp_path, fields, message):
    assert message in problems(tmp_path, **fields)


def test_new_searchers_take_their_options(tmp_path):
    spec = load_spec(write_experiment(tmp_path / "e.yaml", search={
        "name": "optuna", "n_startup_trials": 4, "multivariate": False, "points_to_evaluate": [{"lr": 0.01}]}))
    assert spec.search.options == {"n_startup_trials": 4, "multivariate": False, "points_to_evaluate": [{"lr": 0.01}]}
    spec = load_spec(write_experiment(tmp_path / "e.yaml", scheduler={"name": "hb_bohb", "reduction_factor": 2},
                                      search={"name": "bohb", "min_points_in_model": 3}))
    assert (spec.search.name, spec.search.options, spec.scheduler.options) == (
        "bohb", {"min_points_in_model": 3}, {"reduction_factor": 2})
    assert load_spec(write_experiment(tmp_path / "e.yaml", scheduler="hb_bohb")).search.name == "bohb"


def test_bohb_without_its_extra_is_refused(tmp_path, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "hpbandster" else find_spec(name, *a))
    assert ("search.name: bohb needs hpbandster and ConfigSpace: pip install 'raytune-app[bohb]'"
            in problems(tmp_path, search="bohb", scheduler="hb_bohb"))


def test_tracking_without_mlflow_is_refused_with_the_names_case_kept(tmp_path, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else find_spec(name, *a))
    assert "tracking.mlflow: MLflow is not installed: pip install 'raytune-app[mlflow]'" in problems(
        tmp_path, tracking={"mlflow": "file:///tmp/mlruns"})

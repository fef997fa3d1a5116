"""Bad input through the real command line: exit 2, one line naming file and key, and no Ray started."""

from __future__ import annotations

import numpy as np
import pytest
import ray
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raytune_app.cli.main import main
from raytune_app.errors import InputError
from raytune_app.spec.load import load_spec

from conftest import run_cli, write_experiment


def bad_npz(kind):
    def make(path):
        if kind == "mismatch":
            np.savez(path, X=np.zeros((5, 2)), y=np.zeros(4, dtype=int))
        elif kind == "nan":
            np.savez(path, X=np.full((5, 2), np.nan), y=np.zeros(5, dtype=int))
        elif kind == "inf":  # in a regression target
            np.savez(path, X=np.zeros((5, 2)), y=np.array([0.5, 1.5, -np.inf, 2.0, 1.0]))
        elif kind == "unreadable":
            path.write_bytes(b"\x00garbage")
    return make


def no_label_csv(path):
    path.write_text("a,b\n1,2\n3,4\n")


def inf_csv(path):
    path.write_text("a,b,label\n1,2,0\n3,inf,1\n5,6,0\n")


CASES = [
    ({"space": {"lr": {"loguniform": [0.0, 0.1]}}}, "space.lr: loguniform needs 0 < low < high, got [0.0, 0.1]"),
    ({"space": {"lr": {"loguniform": [-1.0, 0.1]}}}, "space.lr: loguniform needs 0 < low < high"),
    ({"space": {"lr": {"uniform": [0.5, 0.1]}}}, "space.lr: uniform needs low < high"),
    ({"space": {"lr": {"uniform": [0.1]}}}, "space.lr: uniform needs [low, high] as 2 numbers"),
    ({"space": {"lr": {"uniform": "0.1-0.5"}}}, "space.lr: uniform needs [low, high] as 2 numbers"),
    ({"space": {"hidden_layers": {"int": [1.5, 3]}}}, "space.hidden_layers: int needs integer bounds"),
    ({"space": {"hidden_size": {"choice": []}}}, "space.hidden_size: choice needs a non-empty list"),
    ({"space": {"hidden_size": {"grid": []}}}, "space.hidden_size: grid needs a non-empty list"),
    ({"space": {"lr": {"log_uniform": [1e-4, 1e-1]}}}, "space.lr: unknown distribution 'log_uniform' (did you mean 'loguniform'?)"),
    ({"num_sample": 4}, "num_sample: unknown key (did you mean 'num_samples'?)"),
    ({"mode": "best"}, "mode: input should be 'min' or 'max', got 'best'"),
    ({"metric": None}, "metric: "),
    ({"metric": "val_rmse"}, "metric: 'val_rmse' is not reported for classification data"),
    ({"data": {"dataset": "diabetes"}}, "metric: 'val_accuracy' is not reported for regression data"),
    ({"max_epochs": 0}, "max_epochs: input should be greater than 0"),
    ({"max_epochs": 2.5}, "max_epochs: input should be a valid integer"),
    ({"num_samples": -1}, "num_samples: input should be greater than 0"),
    ({"num_samples": "ten"}, "num_samples: input should be a valid integer"),
    ({"scheduler": {"name": "asha", "grace_period": 5}}, "scheduler.grace_period: 5 is above max_epochs (3)"),
    ({"space": {"lr": {"grid": [0.1, 0.01]}}}, "space.lr: grid needs `search: grid` or `random` (hyperopt cannot grid)"),
    ({"data": {"dataset": "missing.npz"}}, "data.dataset: no such data file"),
    ({"data": {"dataset": "bad.npz"}, "_make": bad_npz("unreadable")}, "data.dataset: cannot read"),
    ({"data": {"dataset": "bad.npz"}, "_make": bad_npz("mismatch")}, "data.dataset: "),
    ({"data": {"dataset": "bad.npz"}, "_make": bad_npz("nan")},
     "bad.npz: X holds NaN or infinite values (first in row 0)"),
    ({"data": {"dataset": "bad.npz"}, "_make": bad_npz("inf")},
     "bad.npz: y holds NaN or infinite values (first in row 2)"),
    ({"data": {"dataset": "bad.csv"}, "_make": inf_csv}, "bad.csv: X holds NaN or infinite values (first in row 1)"),
    ({"data": {"dataset": "bad.csv"}, "_make": no_label_csv}, "data.dataset: "),
    # NaN and infinities: never a setting (the spec is saved as JSON, which has neither), wherever they are
    ({"resources": {"cpus_per_trial": float("inf")}},
     "resources.cpus_per_trial: input should be a finite number, got inf"),
    ({"resources": {"gpus_per_trial": float("inf")}}, "resources.gpus_per_trial: must be a number of GPUs"),
    ({"time_budget_s": float("inf")}, "time_budget_s: input should be a finite number, got inf"),
    ({"data": {"dataset": "synthetic", "class_sep": float("nan")}}, "data.class_sep: input should be a finite number"),
    ({"data": {"val_fraction": float("nan")}}, "data.val_fraction: input should be a finite number"),
    ({"space": {"lr": {"choice": [0.1, float("inf")]}}}, "space.lr.choice[1]: must be a finite number, got inf"),
    ({"space": {"lr": 0.1, "momentum": float("nan")}}, "space.momentum: must be a finite number, got nan"),
    ({"scheduler": {"name": "asha", "reduction_factor": float("inf")}},
     "scheduler.reduction_factor: must be a finite number, got inf"),
    # seeds: NumPy's (scikit-learn's split, HyperOpt, Optuna) are 0 .. 2**32 - 1
    ({"data": {"seed": -1}}, "data.seed: input should be greater than or equal to 0, got -1"),
    ({"seed": 2**32}, "seed: input should be less than or equal to 4294967295, got 4294967296"),
    # options raytune-app sets itself: Ray would crash on them after starting
    ({"search": {"name": "hyperopt", "random_state_seed": 3}},
     "search.random_state_seed: set by raytune-app from `seed`"),
    ({"search": {"name": "hyperopt", "space": {}}}, "search.space: set by raytune-app from `space`"),
    ({"search": {"name": "random", "random_state": 3}}, "search.random_state: set by raytune-app from `seed`"),
    ({"search": {"name": "random", "max_concurrent": 2}},
     "search.max_concurrent: set by raytune-app from `max_concurrent`"),
    ({"scheduler": {"name": "hyperband", "stop_last_trials": True}},
     "scheduler.stop_last_trials: Ray's synchronous HyperBand can leave a last-round trial paused for ever"),
    ({"scheduler": {"name": "hyperband", "max_t": 2}}, "scheduler.max_t: hyperband's last round trains to"),
    ({"search": {"name": "random", "n_initial_points": 2}},
     "search.n_initial_points: not an option of random"),
]


@pytest.mark.parametrize("fields, message", CASES, ids=lambda v: message_id(v))
def test_tune_rejects_bad_input_before_ray_starts(tmp_path, capsys, fields, message):
    fields = dict(fields)
    make = fields.pop("_make", None)
    if make:
        make(tmp_path / fields["data"]["dataset"])
    path = write_experiment(tmp_path / "exp.yaml", **fields)
    code = main(["tune", str(path), "--storage", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}: ") and message in lines[0], err
    assert "Traceback" not in err
    assert not ray.is_initialized() and not (tmp_path / "runs").exists()


def message_id(value):
    return value.split(":")[0] if isinstance(value, str) else None


def test_every_problem_is_listed_at_once(tmp_path, capsys):
    path = write_experiment(tmp_path / "exp.yaml", mode="best", space={"lr": {"uniform": [1, 0]}, "foo": 1})
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "mode: " in err  # pydantic problems come first; the space problems are reported with them
    assert "space.lr: uniform needs low < high" in err


def test_validate_refuses_what_it_let_through(tmp_path):
    """Issue 25: `validate` said ok to these, and `data.seed: -1` ended in scikit-learn's traceback."""
    np.savez(tmp_path / "inf.npz", X=np.array([[0.0, 1.0], [np.inf, 2.0]] * 5), y=np.array([0, 1] * 5))
    files = {"npz": ({"data": {"dataset": "inf.npz"}}, "data.dataset: {}/inf.npz: X holds NaN or infinite values "
                                                        "(first in row 1)".format(tmp_path)),
             "cpus": ({"resources": {"cpus_per_trial": float("inf")}},
                      "resources.cpus_per_trial: input should be a finite number, got inf"),
             "budget": ({"time_budget_s": float("inf")}, "time_budget_s: input should be a finite number, got inf"),
             "seed": ({"data": {"seed": -1}}, "data.seed: input should be greater than or equal to 0, got -1")}
    paths = {k: write_experiment(tmp_path / f"{k}.yaml", **fields) for k, (fields, _) in files.items()}
    out = run_cli("validate", *paths.values(), cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr and not out.stdout
    assert out.stderr.splitlines() == [f"{paths[k]}: {line}" for k, (_, line) in files.items()]


def test_non_finite_flags_are_bad_input(tmp_path, capsys):
    path = write_experiment(tmp_path / "exp.yaml")
    assert main(["tune", str(path), "--time-budget", "inf", "--cpus-per-trial", "nan"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{path}: time_budget_s: input should be a finite number, got inf",
        f"{path}: resources.cpus_per_trial: input should be a finite number, got nan"]
    assert not ray.is_initialized()


def test_unwritable_storage_is_bad_input(tmp_path, capsys):
    path = write_experiment(tmp_path / "exp.yaml")
    code = main(["tune", str(path), "--storage", "/proc/raytune-cannot-write-here"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"{path}: storage: cannot write to /proc/raytune-cannot-write-here")
    assert not ray.is_initialized()


def test_bad_flag_value_is_a_usage_error(tmp_path):
    out = run_cli("tune", write_experiment(tmp_path / "exp.yaml"), "--scheduler", "nope")
    assert out.returncode == 2 and "invalid choice: 'nope'" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("flags, message", [
    (["--gpus-per-trial", "2"], "resources.gpus_per_trial: 2 GPUs per trial, but no node of the Ray cluster "
                                "offers that many (largest: 1)"),
    (["--cpus-per-trial", "64"], "resources.cpus_per_trial: 64 CPUs per trial, but no node"),
])
def test_resources_no_node_can_offer_are_refused_not_left_pending(ray_address, tmp_path, flags, message):
    path = write_experiment(tmp_path / "exp.yaml")
    out = run_cli("tune", path, "--storage", tmp_path / "runs", "--address", ray_address, *flags, timeout=120)
    assert out.returncode == 2, out.stderr[-2000:]
    assert f"{path}: {message}" in out.stderr and "Traceback" not in out.stderr


# -- generated garbage never crashes the loader -------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True),
                    st.text(max_size=8), st.sampled_from(["asha", "hyperopt", "digits", "val_accuracy", "max"]))
keys = st.one_of(st.sampled_from(["metric", "mode", "max_epochs", "num_samples", "data", "space", "scheduler",
                                  "search", "resources", "model", "name", "lr", "uniform", "loguniform", "int",
                                  "choice", "grid", "dataset", "name", "grace_period"]), st.text(max_size=6))
trees = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(keys, inner, max_size=5)), max_leaves=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.dictionaries(keys, trees, max_size=8))
def test_generated_documents_only_ever_give_input_errors(tmp_path, doc):
    path = tmp_path / "gen.yaml"
    path.write_text(yaml.safe_dump(doc))
    try:
        load_spec(path)
    except InputError as exc:
        assert exc.problems and all(p.startswith(f"{path}: ") and "\n" not in p for p in exc.problems)
    assert not ray.is_initialized()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_generated_text_only_ever_gives_input_errors(tmp_path, text):
    path = tmp_path / "gen.yaml"
    path.write_text(text)
    try:
        load_spec(path)
    except InputError as exc:
        assert all(p.startswith(f"{path}: ") for p in exc.problems)

"""Several objectives in the experiment file (issue 28): `objectives`, `constraints`, `select`, and the searchers
and schedulers they allow; checked before Ray starts, one line per problem naming the key."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from raytune_app.errors import InputError
from raytune_app.spec.load import ExperimentSpec, load_spec, revalidated
from raytune_app.spec.schema import SCHEMA_FILE

from conftest import run_cli

ACC = {"name": "val_accuracy", "mode": "max"}
SIZE = {"name": "param_count", "mode": "min"}
BASE = {"max_epochs": 3, "num_samples": 8, "data": {"dataset": "digits"}, "space": {"lr": {"loguniform": [1e-3, 0.1]}}}


def write(tmp_path, **fields):
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump({**BASE, **fields}))
    return path


def problems(tmp_path, **fields) -> str:
    path = write(tmp_path, **fields)
    with pytest.raises(InputError) as err:
        load_spec(path)
    assert all(p.startswith(f"{path}: ") for p in err.value.problems)
    return "\n".join(err.value.problems)


def test_objectives_instead_of_metric_and_mode(tmp_path):
    spec = load_spec(write(tmp_path, objectives=[ACC, SIZE, {"name": "latency_ms", "mode": "min"}]))
    assert (spec.metric, spec.mode) == ("val_accuracy", "max")  # the primary: what one-metric code reads
    assert [(o.name, o.mode) for o in spec.objectives] == [("val_accuracy", "max"), ("param_count", "min"),
                                                          ("latency_ms", "min")]
    assert spec.multi_objective and spec.secondary_metrics == ("param_count", "latency_ms")
    # several objectives and no searcher or scheduler named: ones that keep the front
    assert (spec.search.name, spec.scheduler.name) == ("optuna", "pareto_asha")
    named = load_spec(write(tmp_path, objectives=[ACC, SIZE], search="random", scheduler="fifo"))
    assert (named.search.name, named.scheduler.name) == ("random", "fifo")


def test_a_one_objective_file_is_as_before(tmp_path):
    spec = load_spec(write(tmp_path, metric="val_accuracy", mode="max"))
    assert [(o.name, o.mode) for o in spec.objectives] == [("val_accuracy", "max")]
    assert not spec.multi_objective and spec.secondary_metrics == ()
    assert (spec.search.name, spec.scheduler.name) == ("hyperopt", "asha")
    # `objectives` with one entry is the same experiment
    assert load_spec(write(tmp_path, objectives=[ACC])) == spec


def test_the_saved_spec_reads_back_and_revalidates(tmp_path):
    spec = load_spec(write(tmp_path, objectives=[ACC, SIZE], constraints=[{"name": "latency_ms", "le": 5.0}],
                           select={"limits": [{"name": "param_count", "le": 50000}]}))
    saved = ExperimentSpec.model_validate_json(spec.model_dump_json())  # what resume and extend read
    assert saved == spec
    assert revalidated(spec, "x", num_samples=4).objectives == spec.objectives
    assert spec.secondary_metrics == ("param_count", "latency_ms")


@pytest.mark.parametrize("fields, message", [
    ({"metric": "val_accuracy", "mode": "max", "objectives": [ACC, SIZE]},
     "objectives: give either objectives or metric and mode, not both"),
    ({"objectives": [ACC, {"name": "param_count", "mode": "max"}]},
     "objectives[1].mode: param_count should be optimised with mode 'min', got 'max'"),
    ({"objectives": [ACC, {"name": "param_cnt", "mode": "min"}]},
     "objectives[1].name: 'param_cnt' is not a metric the trainer reports for classification data; one of "
     "flops_per_sample, latency_ms, param_count, train_loss, train_seconds, val_accuracy, val_loss "
     "(did you mean 'param_count'?)"),
    ({"objectives": [ACC, ACC]}, "objectives[1].name: 'val_accuracy' is listed twice"),
    ({"objectives": [{"name": "val_accuracy"}, SIZE]}, "objectives[0].mode: is required"),
    ({"objectives": [ACC, {"name": "param_count", "mode": "min", "weight": 2}]},
     "objectives[1].weight: unknown key"),
    ({"objectives": [SIZE, ACC]},  # the primary ranks a trial's epochs: a per-epoch score
     "objectives[0].name: 'param_count' is not reported for classification data; one of val_accuracy"),
    ({"objectives": [{"name": "val_accuracy", "mode": "min"}, SIZE]},
     "objectives[0].mode: val_accuracy should be optimised with mode 'max', got 'min'"),
    ({"objectives": [ACC, SIZE], "constraints": [{"name": "latency_ms", "le": 5, "ge": 1}]},
     "constraints[0]: give one of le (at most) and ge (at least)"),
    ({"objectives": [ACC, SIZE], "constraints": [{"name": "latency", "le": 5}]},
     "constraints[0].name: 'latency' is not a metric the trainer reports"),
    ({"objectives": [ACC, SIZE], "select": {"limits": [{"name": "param_count", "le": 9}],
                                           "weights": {"val_accuracy": 1}}},
     "select: give limits or weights, not both"),
    ({"objectives": [ACC, SIZE], "select": {"weights": {"val_accuracy": -1, "param_count": 1}}},
     "select: weights must be 0 or more, one of them above 0"),
    ({"objectives": [ACC, SIZE], "select": {"weights": {"val_loss": 1}}},
     "select.weights.val_loss: 'val_loss' is not an objective; one of val_accuracy, param_count"),
    ({"objectives": [ACC, SIZE], "select": {"limits": [{"name": "latency_ms", "le": 2}]}},
     "select.limits[0].name: 'latency_ms' is not an objective"),
    ({"metric": "val_accuracy", "mode": "max", "constraints": [{"name": "latency_ms", "le": 5}]},
     "constraints: needs several objectives"),
    ({"objectives": [ACC], "select": {"weights": {"val_accuracy": 1}}}, "select: needs several objectives"),
    ({"objectives": [ACC, SIZE], "search": "hyperopt"},
     "search: hyperopt optimises one metric; with several objectives use optuna (sampler tpe, nsga2 or gp), "
     "random or grid"),
    ({"objectives": [ACC, SIZE], "search": "bohb", "scheduler": "hb_bohb"}, "search: bohb optimises one metric"),
    ({"objectives": [ACC, SIZE], "scheduler": "pbt", "search": "random"},
     "scheduler: pbt ranks trials by one metric; with several objectives use pareto_asha or fifo"),
    ({"objectives": [ACC, SIZE], "search": {"name": "optuna", "evaluated_rewards": [0.9],
                                           "points_to_evaluate": [{"lr": 0.01}]}},
     "search.evaluated_rewards: Ray's OptunaSearch takes one value per point"),
    ({"objectives": [ACC, SIZE], "search": {"name": "optuna", "sampler": "nsga"}},
     "search.sampler: must be one of tpe, nsga2, gp, got 'nsga' (did you mean 'nsga2'?)"),
    ({"objectives": [ACC, SIZE], "search": {"name": "optuna", "sampler": "nsga2", "n_startup_trials": 3}},
     "search.n_startup_trials: not an option of Optuna's nsga2 sampler"),
    ({"objectives": [ACC, SIZE], "search": {"name": "optuna", "sampler": "nsga2", "population_size": 5}},
     "search.population_size: NSGA-II breeds each generation of 5 trials from the one before: it needs 10 "
     "trials or more, num_samples gives 8"),
    ({"objectives": [ACC, SIZE], "scheduler": {"name": "pareto_asha", "grace_period": 9}},
     "scheduler.grace_period: 9 is above max_epochs (3)"),
    ({"objectives": [ACC, SIZE], "scheduler": {"name": "pareto_asha", "objectives": []}},
     "scheduler.objectives: set by raytune-app from `objectives`"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_objectives_are_one_line_naming_the_key(tmp_path, fields, message):
    assert message in problems(tmp_path, **fields)


def test_a_training_function_reports_its_own_objectives(tmp_path):
    (tmp_path / "train.py").write_text("def train(config):\n    pass\n")
    fields = {"trainable": "train.py:train", "max_epochs": 3, "num_samples": 2, "space": {"x": {"uniform": [0, 1]}}}
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump({**fields, "objectives": [{"name": "score", "mode": "max"},
                                                             {"name": "energy_j", "mode": "min"}]}))
    spec = load_spec(path)
    assert spec.secondary_metrics == ()  # nothing measured for it: it reports them
    # a name whose direction is known is still checked
    path.write_text(yaml.safe_dump({**fields, "objectives": [{"name": "score", "mode": "max"},
                                                             {"name": "latency_ms", "mode": "max"}]}))
    with pytest.raises(InputError, match=r"objectives\[1\]\.mode: latency_ms should be optimised with mode 'min'"):
        load_spec(path)


def test_validate_exits_2_on_both_without_traceback(tmp_path):
    path = write(tmp_path, metric="val_accuracy", mode="max", objectives=[ACC, SIZE])
    out = run_cli("validate", path, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == f"{path}: objectives: give either objectives or metric and mode, not both"
    ok = write(tmp_path, objectives=[ACC, SIZE])
    out = run_cli("validate", ok, timeout=120)
    assert out.returncode == 0 and "optimising val_accuracy (max), param_count (min)" in out.stdout, out.stderr


def test_the_schema_takes_objectives_or_metric_and_mode():
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA_FILE.read_text()))
    several = {**BASE, "objectives": [ACC, SIZE], "constraints": [{"name": "latency_ms", "le": 5}],
               "select": {"weights": {"val_accuracy": 1, "param_count": 0.5}},
               "search": {"name": "optuna", "sampler": "nsga2", "population_size": 4}, "scheduler": "pareto_asha"}
    assert [e.message for e in validator.iter_errors(several)] == []
    assert [e.message for e in validator.iter_errors({**BASE, "metric": "val_loss", "mode": "min"})] == []
    for refused in ({**several, "metric": "val_accuracy", "mode": "max"}, BASE,
                    {**several, "objectives": [{"name": "val_accuracy"}]},
                    {**several, "select": {"weight": {}}}):
        assert list(validator.iter_errors(refused)), refused

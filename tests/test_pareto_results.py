"""Several objectives on the results side (issue 28, part B), on synthetic experiment folders: each trial's point
is its best epoch by the primary with the others from the same row, front ranks among feasible trials only, the
selected trial, summary.json's Pareto set and trials.csv's columns, the report's order, and the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import raytune_app
from raytune_app.results import pareto
from raytune_app.results.reader import RayTrial, load_experiment
from raytune_app.results.report import ranked, render
from raytune_app.results.summary import summarize
from raytune_app.spec.names import SPEC_FILE

OBJECTIVES = [{"name": "val_accuracy", "mode": "max"}, {"name": "param_count", "mode": "min"}]


def history(*epochs: tuple[float, int], tag: int) -> list[dict]:
    """Rows of (val_accuracy, param_count), each epoch checkpointed; trials run one after another."""
    return [{"epoch": i, "training_iteration": i, "val_accuracy": acc, "param_count": size,
             "timestamp": 100 + 10 * tag + i, "time_total_s": i,
             "experiment_tag": f"{tag}_lr=0.1", "checkpoint_dir_name": f"checkpoint_{i - 1:06d}",
             "config": {"lr": 0.1 * tag}} for i, (acc, size) in enumerate(epochs, 1)]


TRIALS = {
    # the best primary epoch is the second: its param_count (200) is the point's, not the first epoch's 10
    "a": history((0.80, 10), (0.95, 200), tag=1),
    "b": history((0.90, 100), tag=2),
    "c": history((0.90, 100), tag=3),  # equal to b: both on the front
    "d": history((0.85, 150), tag=4),  # dominated by b and c
    "e": history((0.99, 5000), tag=5),  # the best primary, but over the constraint
    "f": history((0.60, 20), tag=6),
}


def experiment(tmp_path: Path, constraints=({"name": "param_count", "le": 1000},), select=None) -> Path:
    exp = tmp_path / "exp"
    exp.mkdir()
    spec = {"name": "exp", "metric": "val_accuracy", "mode": "max", "max_epochs": 2, "objectives": OBJECTIVES,
            "constraints": list(constraints), "select": select or {"limits": [], "weights": {}}}
    (exp / SPEC_FILE).write_text(json.dumps(spec))
    for tid, rows in TRIALS.items():
        (exp / f"trial_{tid}").mkdir()
        (exp / f"trial_{tid}" / "result.json").write_text("".join(json.dumps({**r, "trial_id": tid}) + "\n"
                                                                   for r in rows))
    return exp


def ended() -> dict[str, RayTrial]:
    return {t: RayTrial("TERMINATED", {}) for t in TRIALS}


def test_points_ranks_front_and_selection(tmp_path):
    e = load_experiment(experiment(tmp_path), ray_states=ended())
    f = e.pareto
    assert f.point(e.trials[0]).values == {"val_accuracy": 0.95, "param_count": 200}  # the same row
    assert [t.trial_id for t in f.front] == ["a", "b", "c", "f"]
    assert {t: p.rank for t, p in f.points.items()} == {"a": 0, "b": 0, "c": 0, "d": 1, "e": None, "f": 0}
    assert not f.points["e"].feasible and f.selected.trial_id == "a" and e.best_trial.trial_id == "a"
    points = [[0.95, 200], [0.9, 100], [0.9, 100], [0.6, 20]]
    assert f.hypervolume == pareto.hypervolume(points, ["max", "min"], f.reference) > 0
    assert f.reference == pareto.reference_point([*points[:3], [0.85, 150], [0.99, 5000], points[3]],
                                                 ["max", "min"])


def test_select_limits_and_weights(tmp_path):
    limits = load_experiment(experiment(tmp_path, select={"limits": [{"name": "param_count", "le": 150}]}),
                             ray_states=ended())
    assert limits.pareto.selected.trial_id == "b"  # b and c tie: the first proposed
    (tmp_path / "w").mkdir()
    nothing = load_experiment(experiment(tmp_path / "w", select={"limits": [{"name": "param_count", "le": 1}]}),
                              ray_states=ended())
    assert nothing.pareto.selected.trial_id == "a" and "no front member meets" in nothing.pareto.selected_by


def test_summary_and_trials_csv(tmp_path, monkeypatch):
    exp = experiment(tmp_path)
    monkeypatch.setattr("raytune_app.results.summary.driver_states", lambda path, errored: ended())  # Ray's record
    spec = type("Spec", (), {"name": "exp", "metric": "val_accuracy", "mode": "max", "seed": 0, "warm_start": None,
                             "extends": None, "gpu_packing": None,
                             "scheduler": type("S", (), {"name": "fifo"}), "search": type("S", (), {"name": "optuna"})})
    scored = []
    summary = summarize(str(exp), spec, [], lambda e, t, c: scored.append(t.trial_id) or {"test_accuracy": 0.5})
    front = summary["pareto"]["front"]
    assert [(p["trial_id"], p["epoch"], p["val_accuracy"], p["param_count"]) for p in front] == \
        [("a", 2, 0.95, 200), ("b", 1, 0.9, 100), ("c", 1, 0.9, 100), ("f", 1, 0.6, 20)]
    assert all(p["checkpoint"].endswith(f"trial_{p['trial_id']}/checkpoint_{p['epoch'] - 1:06d}") for p in front)
    assert all(p["test_accuracy"] == 0.5 for p in front) and sorted(scored) == ["a", "b", "c", "f"]
    assert summary["pareto"]["selected"] == summary["best"]["trial_id"] == "a"
    assert summary["best"]["param_count"] == 200
    assert summary["pareto"]["reference"].keys() == {"val_accuracy", "param_count"}
    table = pd.read_csv(exp / "trials.csv", dtype={"trial_id": str})
    assert list(table["front_rank"].fillna(-1)) == [0, 0, 0, 1, -1, 0]
    assert list(table["feasible"]) == [True, True, True, True, False, True]
    assert list(table["param_count"]) == [200, 100, 100, 150, 5000, 20]


def test_report_ranks_by_front_and_says_so(tmp_path):
    exp = experiment(tmp_path)
    e = load_experiment(exp, ray_states=ended())
    table = ranked([e])
    assert list(table["trial_id"]) == ["a", "b", "c", "f", "d", "e"]  # selected, the front, rank 1, infeasible
    info = json.loads(render([e], table, "json"))["experiments"][0]["pareto"]
    assert info["front"] == ["a", "b", "c", "f"] and info["selected"] == "a"
    assert "Pareto front of val_accuracy, param_count: 4 trial(s)" in render([e], table, "table")
    assert list(ranked([e], sort="val_accuracy")["trial_id"])[:2] == ["e", "a"]  # --sort still sorts by it


def test_the_python_api_carries_the_front(tmp_path):
    results = raytune_app.load(experiment(tmp_path))
    assert [p.trial_id for p in results.pareto] == ["a", "b", "c", "f"]
    assert results.best.trial_id == "a" and results.pareto[0].values == {"val_accuracy": 0.95, "param_count": 200}


def test_the_html_report_draws_the_front_and_its_hypervolume(tmp_path):
    from raytune_app.results.html_report import render_html
    from raytune_app.results.pareto_plots import front_figure

    e = load_experiment(experiment(tmp_path), ray_states=ended())
    fig = front_figure(e)
    kinds = {t["name"].split(" (")[0]: t for t in fig["data"]}
    assert set(kinds) == {"on the Pareto front", "dominated", "breaks a constraint", "selected"}
    assert kinds["selected"]["x"] == [0.95] and kinds["breaks a constraint"]["y"] == [5000]
    assert "lr = 0.1" in kinds["selected"]["text"][0]  # the hover shows the config
    assert "updatemenus" not in fig["layout"]  # two objectives: one pair of axes
    page = render_html([e], ranked([e]))
    assert "data-kind='pareto-front'" in page and "data-kind='hypervolume'" in page


def test_three_objectives_get_an_axis_picker_and_the_hypervolume_ends_at_the_summarys(tmp_path):
    from raytune_app.results.pareto_plots import front_figure, hypervolume_over_time

    exp = experiment(tmp_path)
    spec = json.loads((exp / SPEC_FILE).read_text())
    spec["objectives"].append({"name": "epoch", "mode": "min"})
    (exp / SPEC_FILE).write_text(json.dumps(spec))
    e = load_experiment(exp, ray_states=ended())
    buttons = front_figure(e)["layout"]["updatemenus"][0]["buttons"]
    assert [b["label"] for b in buttons] == ["val_accuracy vs param_count", "val_accuracy vs epoch",
                                             "param_count vs epoch"]
    curve = hypervolume_over_time(e)
    assert curve[-1][1] == pytest.approx(e.pareto.hypervolume) and [t for t, _ in curve] == sorted(t for t, _ in curve)


def scalars(folder: Path, tag: str) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return [(s.step, s.value) for s in events.Scalars(tag)] if tag in events.Tags()["scalars"] else []


def test_tensorboard_gets_each_trials_front_rank(tmp_path):
    from raytune_app.tuner.callbacks.tensorboard import log_front_ranks

    exp = experiment(tmp_path)
    assert log_front_ranks(load_experiment(exp, ray_states=ended())) == 6
    assert {t: scalars(exp / f"trial_{t}", "front_rank") for t in TRIALS} == {
        "a": [(2, 0)], "b": [(1, 0)], "c": [(1, 0)], "d": [(1, 1)], "e": [(1, -1)], "f": [(1, 0)]}


def test_mlflow_runs_carry_the_front_rank_and_the_points_objectives(tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from raytune_app.run.tracking import BEST_TAG, FEASIBLE_TAG, FRONT_RANK_TAG, _record
    from raytune_app.tuner.callbacks.mlflow_runs import TRIAL_TAG

    exp = experiment(tmp_path)
    (exp / "trials.csv").write_text("trial_id,status\n" + "".join(f"{t},completed\n" for t in TRIALS))
    (exp / "summary.json").write_text(json.dumps({"best": None}))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("exp")
    runs = {t: client.create_run(experiment_id, tags={TRIAL_TAG: t}).info.run_id for t in TRIALS}
    _record(uri, "exp", str(exp))
    tags = {t: client.get_run(r).data.tags for t, r in runs.items()}
    assert {t: (g[FRONT_RANK_TAG], g[FEASIBLE_TAG], g[BEST_TAG]) for t, g in tags.items()} == {
        "a": ("0", "true", "true"), "b": ("0", "true", "false"), "c": ("0", "true", "false"),
        "d": ("1", "true", "false"), "e": ("infeasible", "false", "false"), "f": ("0", "true", "false")}
    assert client.get_run(runs["a"]).data.metrics == {"point/val_accuracy": 0.95, "point/param_count": 200}


def test_under_several_objectives_every_epoch_may_be_a_points_checkpoint():
    """A trial far from the best primary may still hold a point of the front, whose checkpoint is the trial's own
    best epoch: the experiment's best so far, which spares one-objective trials their checkpoints, bounds nothing."""
    from raytune_app.spec.load import load_spec
    from raytune_app.tuner.trainables import checkpoint_rule

    base = {"data": {"dataset": "digits"}, "model": "mlp", "scheduler": "fifo", "search": "random",
            "space": {"lr": {"loguniform": [1e-3, 1e-1]}}}
    one = checkpoint_rule(load_spec(base | {"metric": "val_accuracy", "mode": "max"}))
    several = checkpoint_rule(load_spec(base | {"objectives": [{"name": "val_accuracy", "mode": "max"},
                                                               {"name": "param_count", "mode": "min"}]}))
    behind = {"val_accuracy": 0.5}
    assert not one.due(1, behind, best_known=0.9)
    assert several.due(1, behind, best_known=0.9)

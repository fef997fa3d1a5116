"""Several objectives, the results side (issue 28, part B), end to end: one small grid run on digits (4 trials x 2
epochs, accuracy against parameter count, the widest model over a constraint) through the real CLI, then its
summary.json, trials.csv, `best --pareto --export`, `evaluate --trial` and the Python API, each checked against
the trials' own result.json files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from conftest import read_json_lines, run_cli, trial_dirs, write_experiment

OBJECTIVES = [{"name": "val_accuracy", "mode": "max"}, {"name": "param_count", "mode": "min"}]
LIMIT = 10_000  # param_count: the 256-wide MLP has more, the others fewer
SPACE = {"hidden_size": {"grid": [8, 16, 64, 256]}, "hidden_layers": 1, "lr": 0.05}


@pytest.fixture(scope="module")
def run(ray_address, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("front")
    spec = write_experiment(tmp / "front.yaml", num_samples=1, max_epochs=2, max_concurrent=1, space=SPACE,
                            search="grid", scheduler="fifo", keep_checkpoints=1)
    raw = yaml.safe_load(spec.read_text())
    del raw["metric"], raw["mode"]
    spec.write_text(yaml.safe_dump({**raw, "objectives": OBJECTIVES,
                                    "constraints": [{"name": "param_count", "le": LIMIT}]}))
    out = run_cli("tune", spec, "--storage", tmp / "runs", "--address", ray_address)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    exp = tmp / "runs" / "front"
    return tmp, exp, json.loads((exp / "summary.json").read_text())


def own_points(exp: Path) -> dict[str, dict]:
    """Each trial's point read straight from its result.json: its best checkpointed epoch by val_accuracy (ties:
    the later), param_count from the same row."""
    points = {}
    for folder in trial_dirs(exp):
        rows = [r for r in read_json_lines(folder / "result.json") if r.get("checkpoint_dir_name")]
        best = max(rows, key=lambda r: (r["val_accuracy"], r["epoch"]))
        points[best["trial_id"]] = best
    return points


def non_dominated(points: dict[str, dict]) -> set[str]:
    """The feasible points that no other feasible point dominates, by brute force."""
    feasible = {t: (p["val_accuracy"], -p["param_count"]) for t, p in points.items() if p["param_count"] <= LIMIT}
    return {t for t, a in feasible.items()
            if not any(b[0] >= a[0] and b[1] >= a[1] and b != a for b in feasible.values())}


def test_the_front_is_the_non_dominated_set_of_the_trials_own_results(run):
    _, exp, summary = run
    points = own_points(exp)
    assert len(points) == 4 and any(p["param_count"] > LIMIT for p in points.values())  # one trial is infeasible
    front = {p["trial_id"]: p for p in summary["pareto"]["front"]}
    assert set(front) == non_dominated(points)
    for tid, p in front.items():
        assert (p["epoch"], p["val_accuracy"], p["param_count"]) == \
            (points[tid]["epoch"], points[tid]["val_accuracy"], points[tid]["param_count"])
        assert Path(p["checkpoint"]).is_dir()  # retention kept it
        assert isinstance(p["test_accuracy"], float)
    table = pd.read_csv(exp / "trials.csv", dtype={"trial_id": str})
    assert set(table.loc[table["front_rank"] == 0, "trial_id"]) == set(front)
    assert list(table.sort_values("trial_id")["feasible"]) == \
        [points[t]["param_count"] <= LIMIT for t in sorted(table["trial_id"])]
    assert summary["pareto"]["hypervolume"] > 0 and set(summary["pareto"]["reference"]) == {"val_accuracy",
                                                                                           "param_count"}
    # no front member or selected trial violates the constraint; the selected is the front's best primary
    assert all(p["param_count"] <= LIMIT for p in front.values())
    assert summary["best"]["trial_id"] == summary["pareto"]["selected"] == \
        max(front, key=lambda t: (front[t]["val_accuracy"], -list(front).index(t)))
    assert summary["best"]["param_count"] <= LIMIT


def test_every_exported_pareto_model_reproduces_its_validation_score_and_size(run):
    from raytune_app.data.datasets import load_dataset
    from raytune_app.spec.saved import load_saved_spec
    from raytune_app.trial.loop import evaluate
    from raytune_app.trial.user_model import build_trial_model

    tmp, exp, summary = run
    out = run_cli("best", exp, "--pareto", "--export", tmp / "front-models")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    data = load_dataset(load_saved_spec(str(exp)).data)
    X, y = torch.from_numpy(data.X_val), torch.from_numpy(data.y_val)
    folders = sorted(p.name for p in (tmp / "front-models").iterdir())
    assert folders == sorted(p["trial_id"] for p in summary["pareto"]["front"])
    for point in summary["pareto"]["front"]:
        folder = tmp / "front-models" / point["trial_id"]
        config = json.loads((folder / "config.json").read_text())
        model = build_trial_model(config["model"], "", config["config"], tuple(config["input_shape"]),
                                  config["outputs"])
        model.load_state_dict(torch.load(folder / "model.pt", weights_only=True))
        assert evaluate(model, X, y, data)["accuracy"] == pytest.approx(point["val_accuracy"], abs=1e-9)
        assert sum(p.numel() for p in model.parameters()) == point["param_count"]
        scores = json.loads((folder / "scores.json").read_text())
        assert (scores["param_count"], scores["front_rank"]) == (point["param_count"], 0)
    again = run_cli("best", exp, "--pareto", "--export", tmp / "front-models")
    assert again.returncode == 2 and "already exist" in again.stderr  # nothing overwritten


def test_evaluate_scores_any_trial(run):
    tmp, exp, summary = run
    points = own_points(exp)
    outside = next(t for t, p in points.items() if p["param_count"] > LIMIT)
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.savez(tmp / "new.npz", X=digits.data[:200], y=digits.target[:200])
    out = run_cli("evaluate", exp, "--data", tmp / "new.npz", "--trial", outside)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert f"on 200 rows of {tmp / 'new.npz'} (trial {outside} of front)" in out.stdout
    missing = run_cli("evaluate", exp, "--data", tmp / "new.npz", "--trial", "nope")
    assert missing.returncode == 2 and "--trial: no trial 'nope'" in missing.stderr


def test_the_python_api_and_report_carry_the_same_front(run):
    import raytune_app

    _, exp, summary = run
    results = raytune_app.load(exp)
    assert [p.trial_id for p in results.pareto] == [p["trial_id"] for p in summary["pareto"]["front"]]
    assert results.best.trial_id == summary["pareto"]["selected"]
    point = results.pareto[-1]
    assert sum(p.numel() for p in point.load_model().parameters()) == point.values["param_count"]
    report = json.loads(run_cli("report", exp, "--format", "json").stdout)
    assert report["experiments"][0]["pareto"]["front"] == [p["trial_id"] for p in summary["pareto"]["front"]]
    assert {"val_accuracy", "param_count", "front_rank", "feasible"} <= set(report["trials"][0])


def test_tensorboard_carries_every_objective_and_the_front_rank(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, exp, _ = run
    table = pd.read_csv(exp / "trials.csv", dtype={"trial_id": str}).set_index("trial_id")
    points = own_points(exp)
    for folder in trial_dirs(exp):
        events = EventAccumulator(str(folder))
        events.Reload()
        tid = read_json_lines(folder / "result.json")[0]["trial_id"]
        assert [s.value for s in events.Scalars("param_count")] == [points[tid]["param_count"]] * 2
        rank = table.loc[tid, "front_rank"]
        assert [s.value for s in events.Scalars("front_rank")] == [-1 if pd.isna(rank) else rank]

"""Ray's ResultGrid -> summary.json, trials.csv and the best checkpoint's held-out test score."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

import pandas as pd
import torch

from . import storage
from .data import TEST_METRIC, Dataset
from .hyperparams import Hyperparams
from .models import build_model
from .space import flatten
from .spec import ExperimentSpec
from .trainable import evaluate, load_checkpoint


def trial_status(result, ray_status: str | None, max_epochs: int) -> str:
    """completed | early_stopped | diverged | error | unfinished | not_started."""
    metrics = result.metrics or {}
    if result.error is not None or ray_status == "ERROR":
        return "error"
    if "epoch" not in metrics:
        return "not_started"
    if ray_status in ("PENDING", "RUNNING", "PAUSED"):  # an interrupted run: resume continues it
        return "unfinished"
    if metrics.get("diverged"):
        return "diverged"
    return "completed" if metrics["epoch"] >= max_epochs else "early_stopped"


def _best(values: pd.Series, mode: str) -> float | None:
    values = values[values.map(lambda v: isinstance(v, (int, float)) and math.isfinite(v))]
    if values.empty:
        return None
    return float(values.max() if mode == "max" else values.min())


def trial_id(result) -> str:
    return (result.metrics or {}).get("trial_id") or result.path.rstrip("/").rsplit("/", 1)[-1].removeprefix("trial_")


def trial_rows(results, spec: ExperimentSpec, ray_status: dict[str, str]) -> list[dict[str, Any]]:
    """One row per trial: id, status, epochs, final and best metric, flattened config."""
    rows = []
    for result in results:
        metrics, tid = result.metrics or {}, trial_id(result)
        history = result.metrics_dataframe
        best = _best(history[spec.metric], spec.mode) if history is not None and spec.metric in history else None
        rows.append({
            "trial_id": tid,
            "status": trial_status(result, ray_status.get(tid), spec.max_epochs),
            "epochs": int(metrics.get("epoch", 0)),
            f"final_{spec.metric}": metrics.get(spec.metric),
            f"best_{spec.metric}": best,
            **{f"config/{k}": v for k, v in flatten(result.config or {}).items()},
        })
    return rows


def best_checkpoint(result, metric: str, mode: str):
    """The kept checkpoint of a trial with the best metric (Ray keeps the best N)."""
    scored = [(c, m) for c, m in (result.best_checkpoints or []) if isinstance(m.get(metric), (int, float))]
    if not scored:
        return result.checkpoint
    pick = max if mode == "max" else min
    return pick(scored, key=lambda cm: cm[1][metric])[0]


def test_score(checkpoint, config: dict, spec: ExperimentSpec, dataset: Dataset) -> float | None:
    """The checkpoint's score on the held-out test split (None when there is no test split)."""
    if checkpoint is None or dataset.X_test is None or len(dataset.X_test) == 0:
        return None
    model = build_model(spec.model, Hyperparams.from_config(config), dataset.input_shape, dataset.outputs)
    with checkpoint.as_directory() as path:
        model.load_state_dict(load_checkpoint(path)["model"])
    scores = evaluate(model, torch.from_numpy(dataset.X_test), torch.from_numpy(dataset.y_test), dataset)
    return scores["accuracy" if dataset.task == "classification" else "rmse"]


def summarize(results, spec: ExperimentSpec, dataset: Dataset, path: str, wall_time_s: float) -> dict[str, Any]:
    """Write summary.json and trials.csv under `path`; return the summary."""
    from ray.tune import ExperimentAnalysis

    trials = ExperimentAnalysis(path).trials
    ray_status = {t.trial_id: t.status for t in trials}
    # Ray's experiment tag starts with the trial's number: the order the searcher proposed them
    order = {t.trial_id: int(t.experiment_tag.split("_", 1)[0]) for t in trials if t.experiment_tag[:1].isdigit()}
    rows = sorted(trial_rows(results, spec, ray_status), key=lambda r: order.get(r["trial_id"], len(order)))
    summary: dict[str, Any] = {
        "experiment": spec.name, "path": path, "metric": spec.metric, "mode": spec.mode,
        "scheduler": spec.scheduler.name, "searcher": spec.search.name, "seed": spec.seed,
        "wall_time_s": round(wall_time_s, 3), "num_trials": len(rows),
        "trials_by_status": dict(Counter(r["status"] for r in rows)),
        "total_epochs": sum(r["epochs"] for r in rows), "best": None,
        "warm_start": spec.warm_start.model_dump() if spec.warm_start else None,
        "extends": spec.extends,
    }
    # the best of the trials' best values; ties go to the trial proposed first, so the same experiment always
    # names the same best trial (Ray's get_best_result takes the first in its own order, which a restore changes)
    scored = [r for r in rows if r[f"best_{spec.metric}"] is not None]
    if scored:
        row = (max if spec.mode == "max" else min)(scored, key=lambda r: r[f"best_{spec.metric}"])
        best = next(res for res in results if trial_id(res) == row["trial_id"])
        checkpoint = best_checkpoint(best, spec.metric, spec.mode)
        summary["best"] = {
            "trial_id": row["trial_id"], "config": flatten(best.config), "epochs": row["epochs"],
            spec.metric: row[f"best_{spec.metric}"],
            "checkpoint": checkpoint.path if checkpoint else None,
            TEST_METRIC[dataset.task]: test_score(checkpoint, best.config, spec, dataset),
        }
    storage.write_text(storage.join(path, "summary.json"), json.dumps(summary, indent=2, default=str))
    storage.write_text(storage.join(path, "trials.csv"), pd.DataFrame(rows).to_csv(index=False))
    return summary

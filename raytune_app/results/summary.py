"""An invocation's end: summary.json and trials.csv, from the one reader and the one rule for best."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Callable, Iterable

import pandas as pd

from raytune_app import storage
from raytune_app.errors import InputError
from raytune_app.results.reader import (SUMMARY_FILE, TRIALS_FILE, Experiment, RayTrial, Trial, load_experiment,
                                        ray_trials)
from raytune_app.results.report import trial_row
from raytune_app.results.status import progress
from raytune_app.results.wall_time import wall_times
from raytune_app.spec.space import flatten


def checkpoint_path(e: Experiment, t: Trial) -> str | None:
    """The folder of the trial's best checkpoint (the one retention always keeps), or None."""
    best = e.best_epoch(t)
    name = (best or {}).get("checkpoint_dir_name")
    return storage.join(t.path, name) if name and t.path else None


def driver_states(path: str, errored: Iterable[str]) -> dict[str, RayTrial]:
    """Ray's trial states after a run; trials the run reported as failed are ERROR (Ray may have saved a
    trial whose worker was killed as RUNNING)."""
    states = dict(ray_trials(path) or {})
    for tid in errored:
        old = states.get(tid)
        states[tid] = RayTrial("ERROR", old.config if old else {}, old.order if old else None)
    return states


def run_status(summary: dict[str, Any] | None) -> str:
    """How the experiment stands, read off its summary: `running` (none yet: running, or its driver died),
    `interrupted` (trials left unfinished: a resume continues them), `failed` (trials that failed after their
    retries, or no trial with a usable metric), or `finished`."""
    if summary is None:
        return "running"
    counts = summary["trials_by_status"]
    if counts.get("unfinished"):
        return "interrupted"
    return "failed" if counts.get("error") or not summary["best"] else "finished"


def problem_of(summary: dict[str, Any] | None) -> str | None:
    """Why a failed experiment failed, read off its summary (None when it did not fail)."""
    if run_status(summary) != "failed":
        return None
    counts, metric = summary["trials_by_status"], summary["metric"]
    if counts.get("error"):
        return f"{counts['error']} trial(s) failed after their retries; their errors are in Ray's error.txt files"
    if summary.get("pareto") is not None and summary["pareto"]["constraints"]:
        return "No trial is on the Pareto front: none reported every objective and met the constraints."
    if counts.get("time_budget"):
        return (f"The time budget ran out before any trial reported a usable {metric}; "
                "give it more time (--time-budget).")
    return f"No trial reported a usable {metric} (every one failed, diverged or never reported)."


def model_io(dataset) -> dict[str, Any] | None:
    """What rebuilds the experiment's models without its data: their input shape, outputs and task."""
    if dataset is None:
        return None
    return {"task": dataset.task, "input_shape": list(dataset.input_shape), "outputs": dataset.outputs}


def pareto_summary(e: Experiment, test_score: Callable[[Experiment, Trial, str | None], dict[str, float | None]],
                   best: dict[str, Any] | None) -> dict[str, Any]:
    """Several objectives: the Pareto set (each point's trial, epoch, objective values, config, checkpoint and
    held-out scores), its hypervolume with the reference point, and the selected trial (front.py)."""
    f = e.pareto
    names = [o.name for o in f.objectives]
    front = []
    for t in f.front:
        checkpoint = checkpoint_path(e, t)
        tests = {k: v for k, v in best.items() if k.startswith("test_")} if best and best["trial_id"] == t.trial_id \
            else test_score(e, t, checkpoint)
        front.append({"trial_id": t.trial_id, "epoch": progress(f.point(t).row), **f.point(t).values,
                      "config": flatten(e.shown_config(t)), "checkpoint": checkpoint, **tests})
    return {"objectives": [{"name": o.name, "mode": o.mode} for o in f.objectives],
            "constraints": [c.model_dump(exclude_none=True) for c in f.constraints],
            "front": front, "hypervolume": f.hypervolume, "reference": dict(zip(names, f.reference)),
            "selected": f.selected.trial_id if f.selected else None, "selected_by": f.selected_by}


def trial_record(e: Experiment, trial_id: str) -> dict[str, Any]:
    """Any trial as summary.json records the best: its best epoch, config, checkpoint, its objectives' values
    and (for a Pareto point, where the summary has them) its held-out scores. InputError when there is no such
    trial; RunFailed when it has no usable value of the metric."""
    from raytune_app.errors import RunFailed

    trial = next((t for t in e.trials if t.trial_id == str(trial_id)), None)
    if trial is None:
        known = ", ".join(t.trial_id for t in e.trials[:10])
        raise InputError([f"--trial: no trial {trial_id!r} in {e.path} (trials: {known}"
                          f"{', ...' if len(e.trials) > 10 else ''})"])
    for recorded in [(e.summary or {}).get("best") or {}, *((e.summary or {}).get("pareto") or {}).get("front", [])]:
        if recorded.get("trial_id") == trial.trial_id:
            return recorded
    row = e.best_epoch(trial)
    if row is None:
        raise RunFailed(f"{e.path}: trial {trial.trial_id} has no usable {e.metric}")
    names = [o.name for o in e.pareto.objectives] if e.multi_objective else [e.metric]
    return {"trial_id": trial.trial_id, "config": flatten(e.shown_config(trial)), "epochs": trial.epochs,
            "epoch": progress(row), **{n: row.get(n) for n in names}, "checkpoint": checkpoint_path(e, trial)}


def summarize(path: str, spec, errored: Iterable[str],
              test_score: Callable[[Experiment, Trial, str | None], dict[str, float | None]],
              model: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write summary.json and trials.csv under `path` (an invocation has ended); return the summary.

    `test_score(experiment, best trial, its checkpoint folder)` gives the held-out scores to record; `model` what
    rebuilds the experiment's models (model_io)."""
    e = load_experiment(path, ray_states=driver_states(path, errored), use_summary=False)
    rows = [trial_row(e, t) for t in e.trials]
    total, this_run = wall_times(path)
    summary: dict[str, Any] = {
        "experiment": spec.name, "path": path, "metric": spec.metric, "mode": spec.mode,
        "scheduler": spec.scheduler.name, "searcher": spec.search.name, "seed": spec.seed,
        "wall_time_s": round(total, 3), "this_run_wall_time_s": round(this_run, 3), "num_trials": len(rows),
        "trials_by_status": dict(Counter(r["status"] for r in rows)),
        "total_epochs": sum(r["epochs"] for r in rows), "best": None,
        "warm_start": spec.warm_start.model_dump() if spec.warm_start else None,
        "extends": spec.extends,
        "gpu_packing": spec.gpu_packing.model_dump() if spec.gpu_packing else None,  # gpus_per_trial: auto
        "model": model,
        # folders of attempts Ray no longer lists (a trial restarted afresh, or created just before a kill)
        "superseded_trial_folders": [f.rsplit("/", 1)[-1] for f in e.orphans],
    }
    best = e.best_trial
    if best is not None:
        row = rows[e.trials.index(best)]
        checkpoint = checkpoint_path(e, best)
        summary["best"] = {
            "trial_id": best.trial_id, "config": flatten(e.shown_config(best)), "epochs": row["epochs"],
            "epoch": row["best_epoch"], spec.metric: row[f"best_{spec.metric}"], "checkpoint": checkpoint,
            **test_score(e, best, checkpoint),
        }
    if e.multi_objective:
        summary["pareto"] = pareto_summary(e, test_score, summary["best"])
        if summary["best"]:
            summary["best"].update(e.pareto.point(best).values)
    storage.write_atomic(storage.join(path, SUMMARY_FILE), json.dumps(summary, indent=2, default=str))
    storage.write_atomic(storage.join(path, TRIALS_FILE), pd.DataFrame(rows).to_csv(index=False))
    return summary

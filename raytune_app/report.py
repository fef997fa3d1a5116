"""Experiments read back from their folders, and their trials ranked side by side.

An experiment folder holds Ray's per-trial `result.json` (every reported epoch), our
`raytune_app_spec.json` (metric, mode, budget, space) and, once the run has ended, our
`summary.json` and `trials.csv` (each trial's status, the best trial and its test score).
Reading needs neither Ray nor torch, so reports are quick; only an experiment without a
summary (still running, or its driver died) asks Ray's ExperimentAnalysis for trial states.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from .errors import InputError, did_you_mean
from .names import SPEC_FILE
from .space import flatten

SUMMARY_FILE = "summary.json"
TRIALS_FILE = "trials.csv"
FORMATS = ("table", "json", "csv", "markdown")
# columns of Ray's result.json that are bookkeeping, not metrics one could rank by
_NOT_METRICS = {"epoch", "diverged", "timestamp", "done", "training_iteration", "time_this_iter_s",
                "time_total_s", "pid", "time_since_restore", "iterations_since_restore",
                "should_checkpoint"}


@dataclass
class Trial:
    trial_id: str
    status: str
    config: dict[str, Any]  # as Ray sampled it (conditional branches nested)
    history: pd.DataFrame  # Ray's result.json: one row per reported epoch
    path: Path | None = None

    @property
    def epochs(self) -> int:
        return int(self.history["epoch"].max()) if "epoch" in self.history and len(self.history) else 0


@dataclass
class Experiment:
    name: str
    path: Path
    metric: str
    mode: str  # "min" | "max"
    max_epochs: int
    spec: dict[str, Any]  # raytune_app_spec.json as written
    summary: dict[str, Any] | None  # summary.json; None while running (or if the driver died)
    trials: list[Trial] = field(default_factory=list)

    @property
    def test_metric(self) -> str | None:
        best = (self.summary or {}).get("best") or {}
        return next((k for k in best if k.startswith("test_")), None)

    def metrics(self) -> list[str]:
        """Numeric per-epoch metrics the trials reported (val_accuracy, train_loss, ...)."""
        names: dict[str, None] = {}
        for t in self.trials:
            for col in t.history.columns:
                if col not in _NOT_METRICS and pd.api.types.is_numeric_dtype(t.history[col]):
                    names[col] = None
        return list(names)


def _read_json_lines(path: Path) -> list[dict]:
    """Ray's result.json (one JSON object a line; Infinity/NaN allowed, a torn last line skipped)."""
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line being written right now
    return rows


def _trial_from_folder(folder: Path) -> tuple[str, dict, pd.DataFrame]:
    rows = _read_json_lines(folder / "result.json") if (folder / "result.json").is_file() else []
    config = rows[0].get("config", {}) if rows else {}
    if not config and (folder / "params.json").is_file():
        config = json.loads((folder / "params.json").read_text())
    trial_id = rows[0].get("trial_id") if rows else None
    history = pd.DataFrame([{k: v for k, v in r.items() if k != "config"} for r in rows])
    return str(trial_id or folder.name.removeprefix("trial_")), config, history


def _ray_trials(path: Path) -> dict[str, tuple[str, dict]]:
    """Ray's own trial states (RUNNING, TERMINATED, ERROR, ...) and configs; {} before Ray has saved any."""
    try:
        from ray.tune import ExperimentAnalysis

        return {t.trial_id: (t.status, t.config or {}) for t in ExperimentAnalysis(str(path)).trials}
    except Exception:  # no experiment state written yet, or one being written
        return {}


def _without_summary(path: Path, found: list, max_epochs: int) -> tuple[dict[str, str], list]:
    """A running (or abandoned) experiment's trial states, as summary.json would name them ('running'
    for unfinished ones), and the trials Ray has created that have no folder yet ('pending')."""
    from types import SimpleNamespace

    from .summary import trial_status

    ray_trials = _ray_trials(path)
    statuses = {}
    for trial_id, _, history, _ in found:
        last = history.iloc[-1].to_dict() if len(history) else {}
        ray_status = ray_trials.get(trial_id, ("RUNNING", {}))[0]
        status = trial_status(SimpleNamespace(metrics=last, error=None), ray_status, max_epochs)
        statuses[trial_id] = "running" if status == "unfinished" else status
    seen = {f[0] for f in found}
    pending = [(tid, config, pd.DataFrame(), None) for tid, (_, config) in ray_trials.items() if tid not in seen]
    statuses |= {f[0]: "pending" for f in pending}
    return statuses, pending


def _summary_statuses(folder: Path) -> dict[str, str]:
    try:
        table = pd.read_csv(folder / TRIALS_FILE, dtype={"trial_id": str}, usecols=["trial_id", "status"])
    except (ValueError, pd.errors.EmptyDataError):  # no trials at all
        return {}
    return dict(zip(table["trial_id"], table["status"]))


def load_experiment(path: str | Path) -> Experiment:
    """Read an experiment folder; InputError naming the path when it is not one."""
    folder = Path(path).expanduser().resolve()  # Ray takes a path without a scheme only when absolute
    if not (folder / SPEC_FILE).is_file():
        raise InputError([f"{path}: not a raytune-app experiment folder (no {SPEC_FILE})"])
    try:
        spec = json.loads((folder / SPEC_FILE).read_text())
        metric, mode, max_epochs = spec["metric"], spec["mode"], int(spec["max_epochs"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError([f"{path}: unreadable {SPEC_FILE}: {exc}"]) from None
    summary = None
    if (folder / SUMMARY_FILE).is_file():
        try:
            summary = json.loads((folder / SUMMARY_FILE).read_text())
        except ValueError as exc:
            raise InputError([f"{path}: unreadable {SUMMARY_FILE}: {exc}"]) from None
    found = [(*_trial_from_folder(d), d) for d in sorted(folder.glob("trial_*")) if d.is_dir()]
    if summary is not None and (folder / TRIALS_FILE).is_file():
        statuses = _summary_statuses(folder)
        # trials that never reported have no result.json; trials.csv still lists them
        seen = {f[0] for f in found}
        found += [(tid, {}, pd.DataFrame(), None) for tid in statuses if tid not in seen]
    else:
        statuses, pending = _without_summary(folder, found, max_epochs)
        found += pending
    trials = [Trial(tid, statuses[tid], config, history, d) for tid, config, history, d in found]
    return Experiment(name=(summary or {}).get("experiment") or spec.get("name") or folder.name,
                      path=folder, metric=metric, mode=mode, max_epochs=max_epochs, spec=spec,
                      summary=summary, trials=trials)


def load_experiments(paths: Iterable[str | Path]) -> list[Experiment]:
    """Every path read, every bad one reported; experiments with the same name get their folder's path."""
    experiments, problems = [], []
    for p in paths:
        try:
            experiments.append(load_experiment(p))
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    names = [e.name for e in experiments]
    for e in experiments:
        if names.count(e.name) > 1:
            e.name = str(e.path)
    return experiments


def _finite(values: pd.Series) -> pd.Series:
    values = pd.to_numeric(values, errors="coerce")
    return values[values.map(math.isfinite)]


def best_value(history: pd.DataFrame, metric: str, mode: str) -> float | None:
    """A trial's best finite value of `metric` over its epochs (None when it has none)."""
    if metric not in history:
        return None
    values = _finite(history[metric])
    if values.empty:
        return None
    return float(values.max() if mode == "max" else values.min())


def last_value(history: pd.DataFrame, metric: str) -> float | None:
    if metric not in history or not len(history):
        return None
    value = pd.to_numeric(history[metric], errors="coerce").iloc[-1]
    return None if pd.isna(value) else float(value)


def mode_of(metric: str, experiment: Experiment) -> str:
    """min or max: the experiment's own mode for its metric; accuracy goes up, losses, errors and times down."""
    if metric == experiment.metric:
        return experiment.mode
    return "max" if "accuracy" in metric else "min"


def trial_rows(experiment: Experiment, sort: str | None = None) -> list[dict[str, Any]]:
    """One row per trial: status, epochs, best and last metric (and the sort metric), flattened config."""
    rows = []
    for t in experiment.trials:
        row: dict[str, Any] = {
            "experiment": experiment.name, "trial_id": t.trial_id, "status": t.status, "epochs": t.epochs,
            f"best_{experiment.metric}": best_value(t.history, experiment.metric, experiment.mode),
            f"last_{experiment.metric}": last_value(t.history, experiment.metric),
        }
        if sort and sort != experiment.metric:
            row[f"best_{sort}"] = best_value(t.history, sort, mode_of(sort, experiment))
        row["time_s"] = last_value(t.history, "time_total_s")
        row.update({f"config/{k}": v for k, v in flatten(t.config).items()})
        rows.append(row)
    return rows


def check_sort(experiments: list[Experiment], sort: str | None) -> None:
    if sort is None:
        return
    known = sorted({m for e in experiments for m in e.metrics()} | {e.metric for e in experiments})
    if sort not in known:
        raise InputError([f"--sort: {sort!r} is not a metric the trials reported{did_you_mean(sort, known)}; "
                          f"one of {', '.join(known)}"])


def ranked(experiments: list[Experiment], sort: str | None = None, top: int | None = None) -> pd.DataFrame:
    """All trials ranked best first by `sort` (default: each experiment's metric, in its mode).

    Experiments optimising the same metric the same way are ranked together; otherwise each is
    ranked on its own and they follow one another. `top` keeps the best N of each experiment.
    """
    check_sort(experiments, sort)
    keys = {e.name: (sort or e.metric, mode_of(sort or e.metric, e)) for e in experiments}
    together = len(set(keys.values())) == 1
    frames = []
    for order, e in enumerate(experiments):
        key, mode = keys[e.name]
        frame = pd.DataFrame(trial_rows(e, sort))
        if frame.empty:
            continue
        frame["_key"] = pd.to_numeric(frame[f"best_{key}"], errors="coerce")
        frame["_order"] = order
        frame = frame.sort_values("_key", ascending=mode == "min", na_position="last", kind="stable")
        frame["rank"] = range(1, len(frame) + 1)
        frames.append(frame.head(top) if top else frame)
    if not frames:
        return pd.DataFrame(columns=["experiment", "rank", "trial_id", "status", "epochs"])
    table = pd.concat(frames, ignore_index=True)
    if together and len(frames) > 1:
        key, mode = next(iter(keys.values()))
        table = table.sort_values(["_key", "_order", "rank"], ascending=[mode == "min", True, True],
                                  na_position="last", kind="stable")
        table["rank"] = range(1, len(table) + 1)
    table = table.drop(columns=["_key", "_order"])
    config_cols = [c for c in table.columns if c.startswith("config/")]
    first = ["experiment", "rank", "trial_id", "status", "epochs"]
    rest = [c for c in table.columns if c not in first and c not in config_cols]
    return table[first + rest + config_cols].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- output


def _plain(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, non-finite floats and NaN to None."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def experiment_info(e: Experiment) -> dict[str, Any]:
    """What a report says about an experiment besides its trials."""
    best = (e.summary or {}).get("best") or {}
    statuses: dict[str, int] = {}
    for t in e.trials:
        statuses[t.status] = statuses.get(t.status, 0) + 1
    info = {"name": e.name, "path": str(e.path), "metric": e.metric, "mode": e.mode, "max_epochs": e.max_epochs,
            "num_trials": len(e.trials), "trials_by_status": statuses, "finished": e.summary is not None,
            "best": None}
    if best:
        info["best"] = {"trial_id": best.get("trial_id"), e.metric: best.get(e.metric),
                        **({e.test_metric: best.get(e.test_metric)} if e.test_metric else {})}
    return info


def _headline(e: Experiment) -> str:
    info = experiment_info(e)
    counts = ", ".join(f"{n} {s}" for s, n in info["trials_by_status"].items())
    line = f"{e.name} ({e.path}): {info['num_trials']} trials ({counts}), {e.metric} ({e.mode})"
    best = info["best"]
    if best:
        line += f"; best {best['trial_id']}: " + ", ".join(
            f"{k} = {_cell(v)}" for k, v in best.items() if k != "trial_id" and v is not None)
    elif not info["finished"]:
        line += "; no summary.json: still running, or its driver died"
    return line


def _markdown(table: pd.DataFrame) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    numeric = [pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])
               for c in table.columns]
    lines = ["| " + " | ".join(esc(str(c)) for c in table.columns) + " |",
             "| " + " | ".join("---:" if n else "---" for n in numeric) + " |"]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(esc(_cell(v)) for v in row) + " |")
    return "\n".join(lines)


def render(experiments: list[Experiment], table: pd.DataFrame, fmt: str) -> str:
    """The ranked table as text: table (with a headline per experiment), json, csv or markdown."""
    if fmt == "json":
        records = [{k: _plain(v) for k, v in row.items()} for row in table.to_dict(orient="records")]
        return json.dumps({"experiments": [experiment_info(e) for e in experiments], "trials": records},
                          indent=2, default=str)
    if fmt == "csv":
        return table.to_csv(index=False).rstrip("\n")
    if fmt == "markdown":
        heads = "\n".join(f"- {_headline(e)}" for e in experiments)
        return f"{heads}\n\n{_markdown(table)}"
    heads = "\n".join(_headline(e) for e in experiments)
    shown = table.map(_cell) if len(table) else table
    return f"{heads}\n\n{shown.to_string(index=False)}"

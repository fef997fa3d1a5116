"""`report`: the trials of one or more experiments (read by reader.py) ranked side by side, as text."""

from __future__ import annotations

import json
import math
import shlex
from typing import Any

import pandas as pd

from raytune_app.errors import InputError, did_you_mean
from raytune_app.results.reader import Experiment, Trial, load_experiment, load_experiments, progress  # noqa: F401
from raytune_app.spec.space import flatten

FORMATS = ("table", "json", "csv", "markdown")
SHOWN_ROWS = 500  # ranks that the table format and the HTML page show; csv, json and markdown have every trial


def trial_row(e: Experiment, t: Trial) -> dict[str, Any]:
    """One trial as trials.csv and `report` show it: status, epochs, best value (and its epoch) by the one
    rule, last value, and the flattened config that produced that best epoch (Experiment.shown_config)."""
    best = e.best_epoch(t)
    return {
        "trial_id": t.trial_id, "status": t.status, "epochs": t.epochs,
        f"best_{e.metric}": None if best is None else best[e.metric],
        "best_epoch": None if best is None else progress(best),
        f"last_{e.metric}": t.last.get(e.metric),
        **(objective_columns(e, t) if e.multi_objective else {}),
        **{f"config/{k}": v for k, v in flatten(e.shown_config(t)).items()},
    }


def objective_columns(e: Experiment, t: Trial) -> dict[str, Any]:
    """Several objectives: the trial's point (each objective's value at its best epoch), its front rank (0: on
    the Pareto front; empty when infeasible or without a point) and whether it meets the constraints."""
    point = e.pareto.point(t)
    return {**{o.name: point.values[o.name] if point else None for o in e.pareto.objectives},
            "front_rank": point.rank if point else None, "feasible": point.feasible if point else False}


def _rows(e: Experiment, trials: list[Trial], sort: str | None) -> list[dict[str, Any]]:
    rows = []
    for t in trials:
        row = {"experiment": e.name, **trial_row(e, t)}
        if sort and sort != e.metric:
            row[f"best_{sort}"] = e.best_value(t, sort)
        row["time_s"] = t.last.get("time_total_s")
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
    """All trials ranked best first by `sort` (default: each experiment's metric, in its mode), by the one
    rule for best: rank 1 of an experiment is the best trial its summary names. With several objectives the
    default ranks the selected trial first, then by front rank (front.order).

    Experiments optimising the same metric the same way are ranked together; otherwise each is
    ranked on its own and they follow one another. `top` keeps the best N of each experiment.
    """
    check_sort(experiments, sort)
    keys = {e.name: (sort or e.metric, e.mode_of(sort or e.metric)) for e in experiments}
    # several objectives rank by front, each experiment on its own
    together = len(set(keys.values())) == 1 and (sort is not None or not any(e.multi_objective for e in experiments))
    frames = []
    for order, e in enumerate(experiments):
        key, mode = keys[e.name]
        trials = e.ranked(key, mode)
        if sort is None and e.multi_objective:
            from raytune_app.results.front import order

            trials = order(e.pareto, trials)
        frame = pd.DataFrame(_rows(e, trials[:top] if top else trials, sort))
        if frame.empty:
            continue
        frame.insert(1, "rank", range(1, len(frame) + 1))
        frame["_order"] = order
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["experiment", "rank", "trial_id", "status", "epochs"])
    table = pd.concat(frames, ignore_index=True)
    if together and len(frames) > 1:
        key, mode = next(iter(keys.values()))
        value = pd.to_numeric(table[f"best_{key}"], errors="coerce") * (1 if mode == "min" else -1)
        table = table.assign(_key=value).sort_values(["_key", "_order", "rank"], na_position="last", kind="stable")
        table["rank"] = range(1, len(table) + 1)
        table = table.drop(columns=["_key"])
    table = table.drop(columns=["_order"])
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
    if e.multi_objective:
        info["pareto"] = pareto_info(e)
    if e.status_note:
        info["status_note"] = e.status_note
    if e.damaged:
        info["damaged_result_files"] = e.damaged  # result.json -> lines skipped
    if best:
        info["best"] = {"trial_id": best.get("trial_id"), e.metric: best.get(e.metric),
                        **({e.test_metric: best.get(e.test_metric)} if e.test_metric else {})}
    elif e.summary is None and e.best_trial is not None:  # still running: the best so far, by the same rule
        info["best"] = {"trial_id": e.best_trial.trial_id, e.metric: e.best_value(e.best_trial)}
    return info


def pareto_info(e: Experiment) -> dict[str, Any]:
    """Several objectives: the objectives, the front's trials, its hypervolume against its reference point and
    the selected trial, as the reports show them."""
    f = e.pareto
    return {"objectives": [{"name": o.name, "mode": o.mode} for o in f.objectives],
            "front": [t.trial_id for t in f.front], "hypervolume": f.hypervolume,
            "reference": dict(zip([o.name for o in f.objectives], f.reference)),
            "selected": f.selected.trial_id if f.selected else None}


def damage_warnings(experiments: list[Experiment]) -> list[str]:
    """One line per result.json with damaged lines: the trial's numbers come from its other lines."""
    return [f"warning: {file}: {n} damaged line(s) skipped (not UTF-8 or not JSON); its trial is shown "
            f"without them" for e in experiments for file, n in e.damaged.items()]


def _headline(e: Experiment) -> str:
    info = experiment_info(e)
    counts = ", ".join(f"{n} {s}" for s, n in info["trials_by_status"].items())
    line = f"{e.name} ({e.path}): {info['num_trials']} trials ({counts}), {e.metric} ({e.mode})"
    best = info["best"]
    if best:
        line += f"; best {best['trial_id']}: " + ", ".join(
            f"{k} = {_cell(v)}" for k, v in best.items() if k != "trial_id" and v is not None)
    if e.multi_objective:
        p = info["pareto"]
        line += (f"; Pareto front of {', '.join(o['name'] for o in p['objectives'])}: {len(p['front'])} trial(s), "
                 f"hypervolume {_cell(p['hypervolume'])}")
    if not info["finished"]:
        line += "; no summary.json: still running, or its driver died"
    if e.status_note:
        line += f"; statuses unknown where {e.status_note}"
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
    table, every = shown_rows(experiments, table)
    shown = table.map(_cell) if len(table) else table
    return f"{heads}\n\n{shown.to_string(index=False)}" + (f"\n\n{every}" if every else "")


def shown_rows(experiments: list[Experiment], table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The ranking down to rank SHOWN_ROWS (ten thousand rows are of no use to read, and took seconds to lay
    out), and a line saying where every trial is ('' when none is left out)."""
    if not len(table) or table["rank"].max() <= SHOWN_ROWS:
        return table, ""
    shown = table[table["rank"] <= SHOWN_ROWS]
    paths = " ".join(shlex.quote(str(e.path)) for e in experiments)
    return shown, (f"The best {SHOWN_ROWS:,} by rank of {len(table):,} trials; every trial: "
                   f"raytune-app report {paths} --format csv")

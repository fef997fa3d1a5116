"""Warm starts: what earlier experiments learned, handed to HyperOpt as already-evaluated points.

Ray's HyperOptSearch takes `points_to_evaluate` but would run them again; here the
earlier trials' configs go into HyperOpt's own `Trials` history as finished, with
their final metrics, so TPE starts from them instead of rediscovering them.

The order, with the file's own `points_to_evaluate`: the earlier trials are told to HyperOpt as already
evaluated before anything runs; the file's points then run first, as new trials, in the file's order; then
TPE proposes the rest, from the earlier trials and the points' results together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from raytune_app.errors import InputError
from raytune_app.spec.metrics import sign
from raytune_app.spec.space import Param

# statuses of trials whose value is final (a trial still running or failed may yet change)
ENDED = ("completed", "early_stopped", "time_budget", "diverged")


@dataclass(frozen=True)
class History:
    """Earlier trials usable in the new space, as HyperOpt points, with what was skipped."""

    sources: tuple[str, ...]
    points: tuple[dict[str, Any], ...]
    values: tuple[float, ...]
    skipped: int


def hyperopt_point(params: Mapping[str, Param], config: Mapping[str, Any], prefix: str = "") -> dict | None:
    """A config as HyperOpt's labelled values (choices as indices), or None if it lies outside the space."""
    point: dict[str, Any] = {}
    for name, p in params.items():
        if name not in config:
            return None
        value, label = config[name], f"{prefix}{name}"
        if p.kind == "constant":
            if value != p.args[0]:
                return None
        elif p.branches:
            names = p.options
            chosen = value.get("name") if isinstance(value, Mapping) else None
            if chosen not in names:
                return None
            index = names.index(chosen)
            inner = hyperopt_point(p.branches[index], value, f"{label}/{chosen}/")
            if inner is None:
                return None
            point |= {label: index, **inner}
        elif p.kind in ("choice", "grid"):
            if value not in p.args:
                return None
            point[label] = list(p.args).index(value)
        else:
            if not isinstance(value, (int, float)) or not p.args[0] <= value <= p.args[1]:
                return None
            if p.kind in ("int", "logint") and float(value) != int(value):
                return None
            point[label] = value
    return point


def earlier_experiments(paths: list[str], source: str) -> Iterator[Any]:
    """The experiments a warm start reads, one by one; InputError naming `source` and --warm-start for one that
    cannot be read."""
    from raytune_app.results.reader import load_experiment

    for path in paths:
        try:
            yield load_experiment(path)
        except InputError as exc:
            raise InputError([f"{source}: --warm-start: {p}" for p in exc.problems]) from None


def load_history(paths: list[str], params: Mapping[str, Param], metric: str, source: str) -> History:
    """Ended trials of earlier experiments, each with its best value by the one rule for best (best.py) and
    the config of that epoch, mapped into the new space. Reads files only: a bad path is refused before Ray starts."""
    points, values, skipped = [], [], 0
    for experiment in earlier_experiments(paths, source):
        for trial in experiment.trials:
            row = experiment.best_epoch(trial, metric)
            if trial.status not in ENDED or row is None:
                continue
            # the config that produced the value: PBT changes a trial's config as it goes
            point = hyperopt_point(params, trial.config_of(row))
            if point is None:
                skipped += 1
                continue
            points.append(point)
            values.append(float(row[metric]))
    return History(tuple(paths), tuple(points), tuple(values), skipped)


def add_history(searcher, history: History, mode: str) -> None:
    """Tell Ray's HyperOptSearch (`searcher`) the earlier trials as finished. They go after the file's
    `points_to_evaluate` in HyperOpt's trials, which Ray proposes by position: those points still run first."""
    import hyperopt as hpo
    from hyperopt.fmin import generate_trial

    from raytune_app.ray_compat.hyperopt import hyperopt_trials

    if not history.points:
        return
    trials = hyperopt_trials(searcher)
    docs = []
    for tid, point, value in zip(trials.new_trial_ids(len(history.points)), history.points, history.values):
        doc = generate_trial(tid, point)
        # HyperOpt minimises its loss
        doc |= {"state": hpo.JOB_STATE_DONE, "result": {"loss": -sign(mode) * value, "status": hpo.STATUS_OK}}
        docs.append(doc)
    trials.insert_trial_docs(docs)
    trials.refresh()

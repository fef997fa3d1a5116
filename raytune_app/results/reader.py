"""The one reader of an experiment folder: every command that shows results reads them here.

An experiment folder (STORAGE/NAME, a local path or a URI) holds
- our `raytune_app_spec.json`: the validated experiment (metric, mode, budget, space);
- Ray's `trial_*/result.json`: one JSON line per reported epoch, each with the trial's id, its
  experiment tag (the searcher's proposal number first), the config that produced it (PBT changes a
  trial's config as it goes) and, for an epoch that saved one, the checkpoint folder's name
  (`checkpoint_dir_name`). Metrics are read as Ray names them: a nested `{"val": {"acc": x}}` is `val/acc`;
- Ray's experiment state, which knows each trial's status (read as plain JSON, never unpickled);
- once an invocation has ended, our `summary.json` and `trials.csv` (statuses, best trial, test score).

Reading needs neither Ray nor PyTorch when the summary is there, so reports are quick.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Mapping

import pandas as pd

from raytune_app import storage
from raytune_app.errors import InputError
from raytune_app.results import best as best_rule
from raytune_app.results.status import BUDGET_MARKER, classify, progress
from raytune_app.spec.metrics import direction
from raytune_app.spec.names import SPEC_FILE
from raytune_app.spec.space import flatten

RESULT_FILE = "result.json"
SUMMARY_FILE = "summary.json"
TRIALS_FILE = "trials.csv"
TRIAL_PREFIX = "trial_"
# columns of Ray's result.json that are bookkeeping, not metrics one could rank by
NOT_METRICS = {"epoch", "diverged", "timestamp", "done", "training_iteration", "time_this_iter_s",
               "time_total_s", "pid", "time_since_restore", "iterations_since_restore", "reported_at",
               "should_checkpoint", "checkpoint_dir_name", "date", "hostname", "node_ip", "trial_id",
               "experiment_tag", "epoch_time_s", "worker_pids", "worker_nodes"}


def is_experiment(path: str) -> bool:
    """Whether `path` is a raytune-app experiment folder (it holds our saved spec)."""
    return storage.exists(storage.join(path, SPEC_FILE))


def parse_json_lines(data: bytes) -> tuple[list[dict[str, Any]], int]:
    """(the JSON objects of a file of one a line, how many lines were skipped as damaged). A line that is not
    UTF-8 or not a JSON object is skipped and counted, one line at a time, so one bad byte costs one line; a
    torn last line (no newline yet: being written right now, or a killed run's) is skipped without counting."""
    lines = data.split(b"\n")
    rows, skipped = [], 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line.decode("utf-8"))
        except ValueError:  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
            row = None
        if isinstance(row, dict):
            rows.append(row)
        elif i < len(lines) - 1:  # the last piece has no newline after it: torn, not damaged
            skipped += 1
    return rows, skipped


def read_json_lines(file: str) -> list[dict[str, Any]]:
    """A file of one JSON object a line ([] when it is not there), damaged lines skipped (parse_json_lines);
    an unreadable file raises OSError."""
    return parse_json_lines(storage.read_bytes(file))[0] if storage.exists(file) else []


def flat_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """A result with its metrics named as Ray names them (nested mappings flattened with `/`, as Ray's
    TuneController does before schedulers, searchers and stoppers see it): what `metric: val/acc` refers to.
    The `config` stays one nested mapping: it is the config, not metrics."""
    flat = flatten({k: v for k, v in result.items() if k != "config"})
    if "config" in result:
        flat["config"] = result["config"]
    return flat


def _latest_owns_its_checkpoint(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Results that name a checkpoint folder a later result names again lose it: the folder holds the later
    epoch's model. (Ray numbers a trial's checkpoints after those its driver registered; PBT's exploit drops
    the exploited trial's latest checkpoint unregistered, so its next checkpoint is written into that folder,
    as is a trial's resumed from a checkpoint older than its last.) So no score is shown with, or chosen for,
    another epoch's model."""
    owner = {r["checkpoint_dir_name"]: i for i, r in enumerate(rows) if r.get("checkpoint_dir_name")}
    return [{**r, "checkpoint_dir_name": None} if owner.get(r.get("checkpoint_dir_name"), i) != i else r
            for i, r in enumerate(rows)]


def read_result_file(trial_path: str) -> tuple[list[dict[str, Any]], int]:
    """(a trial's reported results, oldest first, each flattened by flat_result, each checkpoint folder named
    only by the result whose model it holds; how many damaged lines of Ray's result.json were skipped);
    ([], 0) when it has none yet. An unreadable file raises OSError."""
    file = storage.join(trial_path, RESULT_FILE)
    if not storage.exists(file):
        return [], 0
    rows, skipped = parse_json_lines(storage.read_bytes(file))
    return _latest_owns_its_checkpoint([flat_result(r) for r in rows]), skipped


def read_results(trial_path: str) -> list[dict[str, Any]]:
    """A trial's reported results, oldest first, each flattened by flat_result ([] when it has none yet)."""
    return read_result_file(trial_path)[0]


def proposal_number(row: Mapping[str, Any]) -> int | None:
    """The searcher's proposal number, from Ray's experiment tag (`7_lr=0.01,...`)."""
    head = str(row.get("experiment_tag", "")).split("_", 1)[0]
    return int(head) if head.isdigit() else None


@dataclass
class Trial:
    trial_id: str
    status: str
    config: dict[str, Any]  # as sampled (conditional branches nested); a row's own: config_of(row)
    rows: list[dict[str, Any]]  # Ray's result.json, one per reported epoch (flat_result: with its config)
    path: str | None = None  # the trial's folder
    order: int | None = None  # proposal number: ties for best go to the trial proposed first
    skipped_lines: int = 0  # damaged lines of its result.json, not read

    def config_of(self, row: Mapping[str, Any] | None) -> dict[str, Any]:
        """The config that produced `row` (Ray records it in each result; PBT's exploits change it as the
        trial goes), or the trial's own config for a row without one."""
        return dict((row or {}).get("config") or self.config)

    def checkpoint_row(self, checkpoint: str) -> dict[str, Any] | None:
        """The result that saved the checkpoint folder `checkpoint` (a path or just its name), or None."""
        name = checkpoint.rstrip("/").rsplit("/", 1)[-1]
        return next((r for r in reversed(self.rows) if r.get("checkpoint_dir_name") == name), None)

    @cached_property
    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)

    @property
    def epochs(self) -> int:
        return max((progress(r) for r in self.rows), default=0)

    @property
    def last(self) -> dict[str, Any]:
        return self.rows[-1] if self.rows else {}


@dataclass
class Experiment:
    name: str
    path: str
    metric: str
    mode: str  # "min" | "max"
    max_epochs: int
    spec: dict[str, Any]  # raytune_app_spec.json as written
    summary: dict[str, Any] | None  # summary.json; None while running (or if the driver died)
    trials: list[Trial] = field(default_factory=list)
    status_note: str = ""  # why statuses are 'unknown', when they are
    orphans: list[str] = field(default_factory=list)  # trial folders Ray's record does not list (kept, not shown)
    # (trial, metric, mode) -> its best epoch: reports ask for each trial's many times
    _best: dict[tuple[int, str, str], dict | None] = field(default_factory=dict, init=False, repr=False,
                                                           compare=False)

    @property
    def damaged(self) -> dict[str, int]:
        """result.json files that had damaged lines -> how many of their lines were skipped."""
        return {storage.join(t.path, RESULT_FILE): t.skipped_lines for t in self.trials
                if t.skipped_lines and t.path}

    @cached_property
    def checkpointed_only(self) -> bool:
        """Whether only the epochs that saved a checkpoint can be a trial's best (best.py): the experiment saved
        checkpoints, but not at its best epoch of all."""
        return best_rule.only_checkpointed_count([t.rows for t in self.trials], self.metric, self.mode)

    def mode_of(self, metric: str) -> str:
        """The experiment's own mode for its metric; other metrics go their natural way."""
        return self.mode if metric == self.metric else direction(metric)

    def best_epoch(self, trial: Trial, metric: str | None = None, mode: str | None = None) -> dict | None:
        """The trial's best epoch by the one rule (see best.py), worked out once (a copy each time)."""
        metric = metric or self.metric
        mode = mode or self.mode_of(metric)
        key = (id(trial), metric, mode)
        if key not in self._best:
            self._best[key] = best_rule.best_epoch(trial.rows, metric, mode, checkpointed_only=self.checkpointed_only)
        row = self._best[key]
        return None if row is None else dict(row)

    def best_value(self, trial: Trial, metric: str | None = None, mode: str | None = None) -> float | None:
        row = self.best_epoch(trial, metric, mode)
        return None if row is None else float(row[metric or self.metric])

    def shown_config(self, trial: Trial, metric: str | None = None, mode: str | None = None) -> dict[str, Any]:
        """The config that goes with the trial's best value (best_value, same arguments): the one that produced
        its best epoch (under PBT not the one it started with), or its latest result's without a best epoch."""
        return trial.config_of(self.best_epoch(trial, metric, mode) or trial.last)

    def ranked(self, metric: str | None = None, mode: str | None = None) -> list[Trial]:
        """The trials best first by the one rule; those without a usable value last, in proposal order."""
        metric = metric or self.metric
        mode = mode or self.mode_of(metric)
        return best_rule.rank(self.trials, lambda t: self.best_value(t, metric, mode), mode)

    @property
    def multi_objective(self) -> bool:
        return len(self.spec.get("objectives") or ()) > 1

    @cached_property
    def pareto(self):
        """Several objectives: the trials' points, front ranks, the front and the selected trial (front.py)."""
        from raytune_app.results.front import pareto_of

        return pareto_of(self)

    @property
    def best_trial(self) -> Trial | None:
        """The trial with the best metric; with several objectives the one the `select:` rule picks from the
        Pareto front (None when no trial is feasible)."""
        if self.multi_objective:
            return self.pareto.selected
        ranked = self.ranked()
        return ranked[0] if ranked and self.best_value(ranked[0]) is not None else None

    @property
    def test_metric(self) -> str | None:
        best = (self.summary or {}).get("best") or {}
        return next((k for k in best if k.startswith("test_")), None)  # test_accuracy, test_rmse, a user's

    def metrics(self) -> list[str]:
        """Numeric per-epoch metrics the trials reported (val_accuracy, train_loss, ...)."""
        names: dict[str, None] = {}
        for t in self.trials:
            for row in t.rows:
                for key, value in row.items():
                    if key not in NOT_METRICS and isinstance(value, (int, float)) and not isinstance(value, bool):
                        names[key] = None
        return list(names)


def trial_folders(path: str) -> list[str]:
    return [d for d in storage.list_dirs(path) if d.startswith(TRIAL_PREFIX)]


def _read_trial(path: str, folder: str) -> tuple[str, dict, list[dict], int | None, str, int]:
    trial_path = storage.join(path, folder)
    try:
        rows, skipped = read_result_file(trial_path)
    except OSError:
        rows, skipped = [], 0
    config = rows[0].get("config", {}) if rows else {}
    params = storage.join(trial_path, "params.json")
    if not config and storage.exists(params):
        try:
            config = json.loads(storage.read_text(params))
        except (OSError, ValueError):
            config = {}
    trial_id = str((rows[0].get("trial_id") if rows else None) or folder.removeprefix(TRIAL_PREFIX))
    return trial_id, config, rows, proposal_number(rows[0]) if rows else None, trial_path, skipped


@dataclass(frozen=True)
class RayTrial:
    """What Ray's experiment state says of a trial."""

    status: str  # PENDING | RUNNING | PAUSED | TERMINATED | ERROR
    config: dict
    order: int | None = None


def ray_trials(path: str) -> dict[str, RayTrial] | None:
    """Ray's own record of the trials, read as plain JSON: its pickled parts are never decoded, so opening a
    folder someone sent runs none of its code (ray_compat/experiment_state.py); None when it cannot be read
    (no experiment state written yet, or one being written)."""
    from raytune_app.ray_compat.experiment_state import saved_trials

    trials = saved_trials(path)
    if trials is None:
        return None
    return {t.trial_id: RayTrial(t.status, t.config, proposal_number({"experiment_tag": t.experiment_tag}))
            for t in trials}


def _status_from_errors(folder: str | None, spec: Mapping[str, Any]) -> str | None:
    """Without Ray's state: ERROR when the trial's error.txt records more failures than its retries allow."""
    if folder is None or not storage.exists(storage.join(folder, "error.txt")):
        return None
    try:
        failures = storage.read_text(storage.join(folder, "error.txt")).count("Failure # ")
    except (OSError, UnicodeDecodeError):
        return None
    retries = int(spec.get("max_failures", 0))
    return "ERROR" if retries >= 0 and failures > retries else None


def _summary_table(path: str) -> pd.DataFrame | None:
    file = storage.join(path, TRIALS_FILE)
    if not storage.exists(file):
        return None
    try:
        import io

        return pd.read_csv(io.StringIO(storage.read_text(file)), dtype={"trial_id": str})
    except (ValueError, pd.errors.EmptyDataError, OSError):  # a run with no trials at all writes an empty table
        return pd.DataFrame(columns=["trial_id", "status"])


def read_spec(path: str, shown_as: str) -> dict[str, Any]:
    try:
        spec = json.loads(storage.read_text(storage.join(path, SPEC_FILE)))
        spec["max_epochs"] = int(spec["max_epochs"])
        missing = [k for k in ("metric", "mode") if k not in spec]
        if missing:
            raise KeyError(", ".join(missing))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError([f"{shown_as}: unreadable {SPEC_FILE}: {exc}"]) from None
    return spec


def read_summary(path: str, shown_as: str) -> dict[str, Any] | None:
    file = storage.join(path, SUMMARY_FILE)
    if not storage.exists(file):
        return None
    try:
        return json.loads(storage.read_text(file))
    except (OSError, ValueError) as exc:
        raise InputError([f"{shown_as}: unreadable {SUMMARY_FILE}: {exc}"]) from None


def resolve(path: str | Any) -> str:
    """An experiment path as given: a URI stays, a local path becomes absolute."""
    return storage.resolve(str(path)).rstrip("/")


def load_experiment(path: str | Any, ray_states: Mapping[str, RayTrial] | None = None,
                    use_summary: bool = True) -> Experiment:
    """Read an experiment folder; InputError naming the path when it is not one.

    Statuses come from, in this order: `ray_states` (the driver, just after a run), our trials.csv
    (a finished invocation), Ray's experiment state (a running or abandoned one), and otherwise the
    trials' own results ('unknown' where those cannot tell)."""
    shown_as, path = str(path), resolve(path)
    if not is_experiment(path):
        raise InputError([f"{shown_as}: not a raytune-app experiment folder (no {SPEC_FILE})"])
    spec = read_spec(path, shown_as)
    summary = read_summary(path, shown_as) if use_summary else None
    found = {tid: (config, rows, order, folder, skipped)
             for tid, config, rows, order, folder, skipped in (_read_trial(path, f) for f in trial_folders(path))}
    table = _summary_table(path) if summary is not None and ray_states is None else None
    note, live = "", False
    if ray_states is None and table is None:
        ray_states = ray_trials(path)
        live = True
        if ray_states is None:
            note = "Ray's experiment state cannot be read"
    if table is not None:
        # trials.csv lists them in proposal order, including trials that never reported
        listed = list(zip(table["trial_id"], table["status"]))
        given = {tid: RayTrial(str(status), {}, i) for i, (tid, status) in enumerate(listed)}
    else:
        given = dict(ray_states or {})
    # with Ray's record (or our table of it), that is the experiment: a folder it does not list is an attempt
    # Ray gave up on (a trial restarted afresh, or one created just before a driver was killed)
    authoritative = table is not None or ray_states is not None
    orphans = [found[t][3] for t in found if authoritative and t not in given]
    trials = []
    for tid in [t for t in found if not authoritative or t in given] + [t for t in given if t not in found]:
        config, rows, order, folder, skipped = found.get(tid, ({}, [], None, None, 0))
        state = given.get(tid)
        if state is not None and order is None:
            order = state.order
        config = config or (state.config if state else {})
        if table is not None:
            status = state.status if state else "unknown"
        else:
            cut = folder is not None and storage.exists(storage.join(folder, BUDGET_MARKER))
            ray_status = state.status if state else _status_from_errors(folder, spec) if note else None
            status = classify(rows[-1] if rows else None, ray_status, int(spec["max_epochs"]), budget_cut=cut,
                              live=live)
        trials.append(Trial(tid, status, config, rows, folder, order, skipped))
    trials.sort(key=lambda t: (t.order is None, t.order if t.order is not None else 0, t.trial_id))
    return Experiment(name=(summary or {}).get("experiment") or spec.get("name") or path.rsplit("/", 1)[-1],
                      path=path, metric=spec["metric"], mode=spec["mode"], max_epochs=int(spec["max_epochs"]),
                      spec=spec, summary=summary, trials=trials, status_note=note, orphans=orphans)


def load_experiments(paths: Iterable[str]) -> list[Experiment]:
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
            e.name = e.path
    return experiments

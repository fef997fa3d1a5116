"""MLflow tracking (`tracking: {mlflow: URI}` or `--mlflow URI`): each trial an MLflow run under an MLflow
experiment named after ours. Without a URI nothing here imports MLflow, and it stays an optional extra.

While the run goes on, Ray's MLflowLoggerCallback (as tuner/callbacks/mlflow_runs.TrialRuns) logs each trial's params and
per-epoch metrics. When the invocation ends, `record_outcome` tags each run with the trial's status from
summary.json and whether it is the best trial (with several objectives: the selected one, each run also tagged
with its front rank and feasibility, its point's objectives logged as `point/NAME`), and uploads the best
trial's checkpoint as an artifact.
"""

from __future__ import annotations

import logging
import urllib.parse
import urllib.request
from typing import Any

from raytune_app import storage
from raytune_app.errors import InputError
from raytune_app.spec.load import ExperimentSpec

log = logging.getLogger(__name__)
STATUS_TAG = "raytune_app.status"
BEST_TAG = "raytune_app.best"
CHECKPOINT_TAG = "raytune_app.best_checkpoint"  # which checkpoint the artifact holds
FRONT_RANK_TAG = "raytune_app.front_rank"  # several objectives: 0 on the Pareto front
FEASIBLE_TAG = "raytune_app.feasible"
ARTIFACT_PATH = "best_checkpoint"
# MLflow's run status for a trial's status at the end of an invocation
RUN_STATUS = {"error": "FAILED", "unfinished": "KILLED", "running": "RUNNING", "not_started": "KILLED"}


def _runs_by_trial(tracker, experiment_id: str) -> dict[str, Any]:
    """The experiment's runs by our trial id tag (a trial's first run, should there be several)."""
    from raytune_app.tuner.callbacks.mlflow_runs import TRIAL_TAG

    runs: dict[str, Any] = {}
    token = None
    while True:
        page = tracker.search_runs([experiment_id], max_results=1000, page_token=token, order_by=["start_time ASC"])
        for run in page:
            trial_id = run.data.tags.get(TRIAL_TAG)
            if trial_id is not None:
                runs.setdefault(trial_id, run)
        token = page.token
        if not token:
            return runs


def check_reachable(uri: str, source: str) -> None:
    """An http(s) tracking server that does not answer stops the command before any trial starts (MLflow's
    own client would retry for minutes)."""
    if not uri.startswith(("http://", "https://")):
        return
    loopback = urllib.parse.urlsplit(uri).hostname in ("127.0.0.1", "localhost", "::1")
    opener = urllib.request.build_opener(*([urllib.request.ProxyHandler({})] if loopback else []))
    try:
        opener.open(f"{uri.rstrip('/')}/health", timeout=10).read()
    except OSError as exc:
        raise InputError([f"{source}: tracking.mlflow: no MLflow server answers at {uri}: {exc}"]) from None


def record_outcome(spec: ExperimentSpec, path: str) -> None:
    """After an invocation: each run's status tags from summary.json, and the best trial's checkpoint as an
    artifact. Tracking problems are reported, not fatal: the experiment itself is done and saved."""
    if not spec.tracking.mlflow:
        return
    try:
        _record(spec.tracking.mlflow, spec.name, path)
    except Exception as exc:  # MLflow raises many kinds (HTTP, REST, file store): none should fail the run
        log.warning(f"MLflow: could not record the outcome at {spec.tracking.mlflow}: {exc}")


def _front_tags(e, t) -> list:
    """Several objectives: the trial's front rank (`infeasible` when it breaks a constraint) and feasibility."""
    from mlflow.entities import RunTag

    point = e.pareto.point(t) if e.multi_objective else None
    if point is None:
        return []
    rank = "infeasible" if point.rank is None else str(point.rank)
    return [RunTag(FRONT_RANK_TAG, rank), RunTag(FEASIBLE_TAG, str(point.feasible).lower())]


def _point_metrics(e, t) -> list:
    """Several objectives: each objective's value at the trial's point (`point/NAME`, stepped by its epoch), as
    summary.json and trials.csv give it (the per-epoch values are logged while it trains)."""
    from mlflow.entities import Metric

    point = e.pareto.point(t) if e.multi_objective else None
    if point is None:
        return []
    step, when = int(point.row.get("epoch") or 0), int(float(point.row.get("timestamp") or 0) * 1000)
    return [Metric(f"point/{name}", float(value), when, step) for name, value in point.values.items()
            if value is not None]


def _record(uri: str, name: str, path: str) -> None:
    from mlflow.entities import RunTag

    from raytune_app.results.reader import load_experiment
    from raytune_app.results.summary import checkpoint_path
    from raytune_app.tuner.callbacks.mlflow_runs import client

    tracker = client(uri)
    experiment = tracker.get_experiment_by_name(name)
    if experiment is None:
        return
    runs = _runs_by_trial(tracker, experiment.experiment_id)
    e = load_experiment(path)
    best = e.best_trial
    for t in e.trials:
        run = runs.get(t.trial_id)
        if run is None:  # never started: Ray made no run for it
            continue
        is_best = best is not None and t.trial_id == best.trial_id
        tracker.log_batch(run.info.run_id, tags=[RunTag(STATUS_TAG, t.status), RunTag(BEST_TAG, str(is_best).lower()),
                                                 *_front_tags(e, t)], metrics=_point_metrics(e, t))
        status = RUN_STATUS.get(t.status, "FINISHED")
        if run.info.status == "RUNNING" and status != "RUNNING":
            tracker.set_terminated(run.info.run_id, status)
    checkpoint = checkpoint_path(e, best) if best is not None else None
    if checkpoint is None or best.trial_id not in runs:
        return
    if storage.is_uri(checkpoint):
        log.warning(f"MLflow: the best checkpoint {checkpoint} is not uploaded (only local ones are)")
        return
    run = runs[best.trial_id]
    folder = checkpoint.rstrip("/").rsplit("/", 1)[-1]
    if run.data.tags.get(CHECKPOINT_TAG) != folder:  # a resume that kept the same best uploads nothing again
        tracker.log_artifacts(run.info.run_id, checkpoint, artifact_path=ARTIFACT_PATH)
        tracker.set_tag(run.info.run_id, CHECKPOINT_TAG, folder)

"""Ray's MLflowLoggerCallback, with one MLflow run per trial across resumes (see run/tracking.py). Imported
only when the experiment tracks to MLflow (importing Ray's callback imports MLflow).

Two things Ray's callback does not do are added here:
- a resumed trial gets a new run from Ray's callback: here it finds its run again by the trial id tag;
- it logs every number of every result, one request each: here an epoch's metrics go in one request,
  stepped by epoch, without Ray's bookkeeping (pid, timestamps, the config again), a nested metric named as
  Ray names it (`val/acc`).
"""

from __future__ import annotations

from ray.air.integrations.mlflow import MLflowLoggerCallback

from raytune_app.ray_compat.mlflow import trial_runs
from raytune_app.results.reader import NOT_METRICS, flat_result, progress
from raytune_app.spec.metrics import finite


TRIAL_TAG = "raytune_app.trial_id"  # finds a trial's run again after a resume


def client(uri: str):
    """MLflow's client for the tracking server at `uri`."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


class TrialRuns(MLflowLoggerCallback):
    """Ray's MLflow callback, with one run per trial across resumes and one request per epoch."""

    def log_trial_start(self, trial) -> None:
        runs = trial_runs(self)
        if trial not in runs:
            found = client(self.tracking_uri).search_runs([self.mlflow_util.experiment_id],
                                       filter_string=f"tags.`{TRIAL_TAG}` = '{trial.trial_id}'", max_results=1)
            if found:
                runs[trial] = found[0].info.run_id
            else:
                run = self.mlflow_util.start_run(run_name=f"trial_{trial.trial_id}",
                                                 tags={**self.tags, TRIAL_TAG: trial.trial_id})
                runs[trial] = run.info.run_id
        client(self.tracking_uri).update_run(runs[trial], status="RUNNING")
        super().log_trial_start(trial)  # logs the params to the run found or made above

    def log_trial_result(self, iteration: int, trial, result: dict) -> None:
        from mlflow.entities import Metric

        step = progress(result)
        when = int(result.get("timestamp", 0) * 1000)
        metrics = [Metric(key, float(value), when, step) for key, value in flat_result(result).items()
                   if key not in NOT_METRICS and finite(value)]  # a nested report's `val/acc`, as Ray names it
        if metrics:
            client(self.tracking_uri).log_batch(trial_runs(self)[trial], metrics=metrics)


def mlflow_callbacks(spec) -> list:
    """Ray Tune callbacks for the experiment's MLflow tracking (the driver checked the server answers)."""
    return [TrialRuns(tracking_uri=spec.tracking.mlflow, experiment_name=spec.name,
                      tags={"raytune_app.experiment": spec.name})]

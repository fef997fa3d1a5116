"""The MLflow run Ray's MLflowLoggerCallback logs each trial to: a resumed trial's earlier run, found again.

Private to Ray: `MLflowLoggerCallback._trial_runs`, its map from a trial to the MLflow run id (Ray 2.60's
ray/air/integrations/mlflow.py: made empty by `setup`, filled by `log_trial_start` only for a trial it does not
hold yet, read by `log_trial_result` and `log_trial_end`). raytune-app puts a resumed trial's earlier run there
before Ray's `log_trial_start` runs, so that Ray logs to that run instead of starting another one per resume.
tests/test_ray_compat_mlflow.py checks each of these.

Public alternatives checked: the callback's public hooks start a new run for any trial they do not hold, and
take no run id; `ray.air.integrations.mlflow.setup_mlflow` runs inside the trial's worker, not in the driver,
and cannot find a run again by a tag either.
"""

from __future__ import annotations

from typing import Any


def trial_runs(callback: Any) -> dict[Any, str]:
    """An MLflowLoggerCallback's trial -> MLflow run id map, once Ray has called its `setup`."""
    return callback._trial_runs

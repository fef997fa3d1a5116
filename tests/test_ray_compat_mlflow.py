"""Contract with the installed Ray for raytune_app/ray_compat/mlflow.py: Ray's MLflowLoggerCallback keeps a trial ->
run id map that its `setup` makes, and logs a trial found there to that run instead of starting another. A
failure names the installed Ray version and what changed. (No MLflow server: Ray's MLflow calls are recorded.)"""

from __future__ import annotations

import ray
from ray.air.integrations.mlflow import MLflowLoggerCallback

from raytune_app.ray_compat.mlflow import trial_runs


def changed(what: str) -> str:
    return f"Ray {ray.__version__} changed: {what} (raytune_app/ray_compat/mlflow.py relies on it)"


class Trial:
    config = {"lr": 0.1}
    local_path = "/nowhere"


def test_a_run_put_in_the_map_is_the_one_ray_logs_the_trial_to(monkeypatch):
    callback, calls = MLflowLoggerCallback(tracking_uri="http://127.0.0.1:9"), []
    util = callback.mlflow_util
    monkeypatch.setattr(util, "setup_mlflow", lambda **kw: None)
    callback.setup()
    assert isinstance(getattr(callback, "_trial_runs", None), dict) and not trial_runs(callback), \
        changed("MLflowLoggerCallback.setup no longer makes an empty `_trial_runs` map")
    monkeypatch.setattr(util, "start_run", lambda **kw: calls.append(("start", None)))
    monkeypatch.setattr(util, "log_params", lambda run_id, params_to_log: calls.append(("params", run_id)))
    monkeypatch.setattr(util, "log_metrics", lambda run_id, metrics_to_log, step: calls.append(("metrics", run_id)))
    monkeypatch.setattr(util, "end_run", lambda run_id, status: calls.append(("end", run_id)))
    trial = Trial()
    trial_runs(callback)[trial] = "run-1"
    callback.log_trial_start(trial)
    callback.log_trial_result(1, trial, {"training_iteration": 1, "x": 1.0})
    callback.log_trial_end(trial)
    assert calls == [("params", "run-1"), ("metrics", "run-1"), ("end", "run-1")], \
        changed(f"MLflowLoggerCallback does not log a trial held in `_trial_runs` to that run: {calls}")

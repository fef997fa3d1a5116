"""The user's own Ray Tune function trainable (`trainable: train.py:train`), run unchanged.

`train(config)` calls `ray.tune.report(...)` and `ray.tune.get_checkpoint()` as in any Ray Tune script. The
wrapper imports it where the trial runs and checks the first report of each trial: one without the
experiment's metric is replaced by a report that names the metrics it had (and gives the metric its worst
value, so schedulers and searchers stay sound); the trial then ends, and the driver's stopper ends the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ray import tune

from raytune_app.spec.hyperparams import plain
from raytune_app.spec.metrics import worst_value
from raytune_app.trial.user_model import import_here
from raytune_app.trial.worker_exit import quiet_unraisable_exit

MISSING_METRIC = "raytune_app_missing_metric"  # result key: the metrics a first report had instead


@dataclass(frozen=True)
class UserTrainable:
    ref: str  # train.py:train
    code_dir: str
    metric: str


class _FirstReportLacksMetric(BaseException):
    """Ends the user's function (BaseException: its own `except Exception` must not swallow it)."""


_report = tune.report  # Ray's own
_expected: dict[str, Any] = {"metric": None, "checked": True}


def _flat_keys(metrics: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Result keys as Ray flattens them (`{"val": {"acc": 1}}` reports `val/acc`)."""
    keys = []
    for key, value in metrics.items():
        keys += _flat_keys(value, f"{prefix}{key}/") if isinstance(value, Mapping) else [f"{prefix}{key}"]
    return keys


def checked_report(metrics: dict, *, checkpoint: tune.Checkpoint | None = None) -> None:
    """`ray.tune.report` with the first report of a trial checked for the experiment's metric."""
    metric = _expected["metric"]
    if metric is not None and not _expected["checked"]:
        _expected["checked"] = True
        keys = _flat_keys(metrics)
        if metric not in keys:
            _report({metric: worst_value(metric), MISSING_METRIC: ", ".join(sorted(keys)) or "(nothing)"})
            raise _FirstReportLacksMetric
    _report(metrics, checkpoint=checkpoint)


def run_user_trainable(config: dict, code: UserTrainable) -> None:
    """Import the user's function here and run it on the trial's config, its first report checked."""
    quiet_unraisable_exit()  # Ray ends this worker with SIGTERM once the trial stops (worker_exit.py)
    tune.report = checked_report  # before the import: `from ray.tune import report` then binds it too
    fn = import_here(code.ref, code.code_dir)
    _expected.update(metric=code.metric, checked=False)
    try:
        fn(plain(config))
    except _FirstReportLacksMetric:
        return
    finally:
        _expected.update(metric=None, checked=True)

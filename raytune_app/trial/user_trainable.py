"""The user's own Ray Tune function trainable (`trainable: train.py:train`), run unchanged.

`train(config)` calls `ray.tune.report(...)` and `ray.tune.get_checkpoint()` as in any Ray Tune script. The
wrapper imports it where the trial runs and sees each of its reports (ray_compat/report.py):
- a first report without the experiment's metric (read as Ray names metrics: `{"val": {"acc": x}}` reports
  `val/acc`), or without one of several objectives, is replaced by a report that names the metrics it had and
  gives each objective its worst value; the trial then ends, and the driver's stopper ends the run;
- a report whose metric is NaN or infinite is marked `diverged`, with the metric's worst value and without its
  checkpoint, and the trial ends there, as a built-in trial does.
Worst values keep schedulers and searchers sound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Any

from ray import tune

from raytune_app.ray_compat.report import rays_report, route_reports
from raytune_app.spec.hyperparams import plain
from raytune_app.spec.metrics import worst_value
from raytune_app.spec.space import flatten
from raytune_app.trial.user_model import import_here
from raytune_app.trial.worker_exit import quiet_unraisable_exit

MISSING_METRIC = "raytune_app_missing_metric"  # result key: the metrics a first report had instead
DIVERGED = "diverged"  # result key, as the built-in trainer reports it


@dataclass(frozen=True)
class UserTrainable:
    ref: str  # train.py:train
    code_dir: str
    metric: str
    mode: str  # the experiment's: a diverged or silent trial reports the metric's worst value in it
    others: tuple[tuple[str, str], ...] = ()  # several objectives: the others' (name, mode), checked alike


class _TrialEnds(BaseException):
    """Ends the user's function after the report that ended its trial (BaseException: the function's own
    `except Exception` must not swallow it)."""


_expected: dict[str, Any] = {"metric": None, "mode": None, "others": (), "checked": True}


def _diverged(value: Any) -> bool:
    """A NaN or infinite number (numpy's floats included); other values are the user's own business."""
    return isinstance(value, Real) and not math.isfinite(value)


def checked_report(metrics: dict, *, checkpoint: tune.Checkpoint | None = None) -> None:
    """`ray.tune.report` with the first report of a trial checked for the experiment's metric, and a non-finite
    metric marked diverged; either ends the trial."""
    metric = _expected["metric"]
    flat = flatten(metrics) if metric is not None else {}
    if metric is not None and not _expected["checked"]:
        _expected["checked"] = True
        wanted = [(metric, _expected["mode"]), *_expected["others"]]
        if any(name not in flat for name, _ in wanted):
            rays_report({**{name: worst_value(name, mode) for name, mode in wanted},
                         MISSING_METRIC: ", ".join(sorted(flat)) or "(nothing)"})
            raise _TrialEnds
    if _diverged(flat.get(metric)):
        rays_report({**flat, metric: worst_value(metric, _expected["mode"]), DIVERGED: True})
        raise _TrialEnds
    rays_report(metrics, checkpoint=checkpoint)


def run_user_trainable(config: dict, code: UserTrainable) -> None:
    """Import the user's function here and run it on the trial's config, its reports checked."""
    quiet_unraisable_exit()  # Ray ends this worker with SIGTERM once the trial stops (worker_exit.py)
    route_reports(checked_report)  # before the import: `from ray.tune import report` then binds it too
    fn = import_here(code.ref, code.code_dir)
    _expected.update(metric=code.metric, mode=code.mode, others=code.others, checked=False)
    try:
        fn(plain(config))
    except _TrialEnds:
        return
    finally:
        _expected.update(metric=None, mode=None, others=(), checked=True)

"""The one classification of a trial's status, shared by the summary, the reports and the progress lines.

completed      trained every epoch
early_stopped  the scheduler stopped it (ASHA, HyperBand, median stopping)
time_budget    still training (or still starting) when --time-budget ran out
diverged       its loss became NaN or infinite, so it stopped itself
error          it failed, retries included (Ray's error.txt says why)
unfinished     an interrupted experiment's trial; `resume` continues it
running        a trial of an experiment still running (or whose driver died)
not_started    it never reported a result
unknown        Ray's state could not be read and its results cannot tell
"""

from __future__ import annotations

from typing import Any, Mapping

STATUSES = ("completed", "early_stopped", "time_budget", "diverged", "error", "unfinished", "running",
            "not_started", "unknown")
LIVE = ("PENDING", "RUNNING", "PAUSED")  # Ray's statuses of a trial that is not done
BUDGET_MARKER = "raytune_app_time_budget.json"  # in a trial's folder: --time-budget stopped it (tuner/callbacks/budget.py)


def progress(row: Mapping[str, Any]) -> int:
    """How far a trial got when it reported `row`: its epoch (Ray's iteration count for code without one)."""
    return int(row.get("epoch", row.get("training_iteration", 0)) or 0)


def classify(last: Mapping[str, Any] | None, ray_status: str | None, max_epochs: int, *,
             budget_cut: bool = False, live: bool = False) -> str:
    """The status of a trial from its last result and Ray's status for it (None: not known).

    `live`: the experiment may still be running, so Ray's unfinished trials are 'running', not 'unfinished'."""
    if ray_status == "ERROR":
        return "error"
    if not last:
        return "time_budget" if budget_cut else "not_started"
    if ray_status in LIVE:
        return "running" if live else "unfinished"
    if last.get("diverged"):
        return "diverged"
    if progress(last) >= max_epochs:
        return "completed"
    if budget_cut:
        return "time_budget"
    if ray_status is None and not last.get("done"):
        return "unknown"  # without Ray's state, only a trial's final result says that it ended
    return "early_stopped"

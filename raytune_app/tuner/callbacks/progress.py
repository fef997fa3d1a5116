"""One line per finished trial, so a run shows its progress between Ray's 30-second status tables."""

from __future__ import annotations

import logging
import math

from ray.tune import Callback

from raytune_app.results.reader import flat_result
from raytune_app.results.status import classify, progress

log = logging.getLogger(__name__)


class TrialProgress(Callback):
    """`[5/32] trial 3f2a: val_accuracy 0.9611 after 9 epochs (stopped early); best so far 0.9722`."""

    def __init__(self, metric: str, mode: str, total: int, max_epochs: int):
        self._metric, self._mode, self._total, self._max_epochs = metric, mode, total, max_epochs
        self._done = 0
        self._best: float | None = None

    def _line(self, trial, how: str) -> None:
        self._done += 1
        result = flat_result(trial.last_result or {})  # `val/acc` of a nested report, as Ray names it
        value = result.get(self._metric)
        if isinstance(value, (int, float)) and math.isfinite(value) and not result.get("diverged"):
            better = max if self._mode == "max" else min
            self._best = value if self._best is None else better(self._best, value)
        shown = f"{value:.4f}" if isinstance(value, (int, float)) else "-"
        best = f"{self._best:.4f}" if self._best is not None else "-"
        log.info(f"[{self._done}/{self._total}] trial {trial.trial_id}: {self._metric} {shown} after "
                 f"{progress(result)} epochs ({how}); best so far {best}")

    def on_trial_complete(self, iteration: int, trials: list, trial, **info) -> None:
        self._line(trial, classify(trial.last_result, "TERMINATED", self._max_epochs).replace("_", " "))

    def on_trial_error(self, iteration: int, trials: list, trial, **info) -> None:
        self._line(trial, "failed")

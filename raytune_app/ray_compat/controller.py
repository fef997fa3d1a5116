"""Re-saving a trial's state from a scheduler hook.

Private to Ray: `TuneController._mark_trial_to_checkpoint(trial)` (Ray 2.60's tune_controller.py), which queues
the trial's state for the next save of the experiment state. Ray 2.60 re-saves a trial only when something
happens to its actor; a PAUSED trial has none, so when a scheduler stops it (HyperBand ending a bracket) its
TERMINATED status never reaches the saved state (see tuner/schedulers.py).

Public alternatives checked: a `tune.Callback` (its `on_trial_complete` gets the trials, not the controller, and
no callback can ask for a save); `TrialScheduler.on_trial_remove` (public, the hook used: Ray's `stop_trial`
passes the controller itself there, not the restricted wrapper that other scheduler hooks get); the
controller's public `checkpoint(force=True)` saves the cached states without refreshing this trial's.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def save_trial_again(tune_controller, trial) -> None:
    """Have Ray save `trial`'s state again at its next experiment-state save (a warning if this Ray cannot)."""
    mark = getattr(tune_controller, "_mark_trial_to_checkpoint", None)
    if mark is None:
        import ray

        log.warning("Ray %s has no TuneController._mark_trial_to_checkpoint: trial %s may stay PAUSED in the "
                    "saved experiment state", ray.__version__, trial)
        return
    mark(trial)

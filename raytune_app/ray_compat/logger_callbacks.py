"""Ray's JSON and CSV result loggers, kept from overwriting a restarted trial's history.

Private to Ray: `LoggerCallback._restore_from_remote(file_name, trial)` (Ray 2.60's logger/logger.py), which
`JsonLoggerCallback.log_trial_start` and `CSVLoggerCallback._setup_trial` call each time a trial starts with a
checkpoint: it copies the trial's file from the storage path over the driver's own copy, meant for a driver
that picks up an earlier driver's experiment. But Ray uploads the driver's files only every few seconds, so
that copy can be older, or empty (a PBT trial restarted right after its last report ended with an empty
result.json). The override fetches the storage copy only when this driver has none.

Public alternatives checked: `log_trial_start` (public) calls the copy before it opens the file, and the CSV
logger decides there whether to write its header again, so restoring the file afterwards duplicates the header;
writing our own loggers would copy Ray's file formats, which `ExperimentAnalysis` and our reader rely on.
"""

from __future__ import annotations

from pathlib import Path


class KeepTheDriversCopy:
    """Mixin for Ray's JsonLoggerCallback / CSVLoggerCallback: a restarted trial keeps what this driver wrote."""

    def _restore_from_remote(self, file_name: str, trial) -> None:
        local = Path(trial.local_path, file_name)
        if local.exists() and local.stat().st_size > 0:
            return  # written by this driver: at least as new as what it has uploaded
        super()._restore_from_remote(file_name, trial)

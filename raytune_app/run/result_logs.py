"""Ray's JSON and CSV result loggers, without one way they lose a trial's history.

When a trial starts again under the same driver with a checkpoint (PBT hands it another trial's checkpoint,
a paused trial resumes, a failed one is retried), Ray's LoggerCallback first copies the trial's file from the
storage path over the driver's own copy, meant for a driver that picks up an earlier driver's experiment. But
Ray uploads the driver's files to the storage path only every few seconds, so that copy can be older, or empty:
a PBT trial restarted right after its last report ended with an empty result.json, and the summary called a
trial that trained every epoch "not started". Here the storage copy is fetched only when this driver has none
(a resumed experiment stages its files in a new folder), which is the case it exists for.
"""

from __future__ import annotations

from pathlib import Path

from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback


class _KeepTheDriversCopy:
    # overrides LoggerCallback._restore_from_remote, a private hook of Ray's: the only way to keep the callbacks'
    # public behaviour (file names, formats, on_trial_* handling) while fixing the overwrite
    def _restore_from_remote(self, file_name: str, trial) -> None:
        local = Path(trial.local_path, file_name)
        if local.exists() and local.stat().st_size > 0:
            return  # written by this driver: at least as new as what it has uploaded
        super()._restore_from_remote(file_name, trial)


class JsonLogger(_KeepTheDriversCopy, JsonLoggerCallback):
    """Ray's result.json logger; a restarted trial keeps the lines this driver wrote."""


class CsvLogger(_KeepTheDriversCopy, CSVLoggerCallback):
    """Ray's progress.csv logger; a restarted trial keeps the rows this driver wrote."""

"""Ray's JSON and CSV result loggers, without one way they lose a trial's history.

When a trial starts again under the same driver with a checkpoint (PBT hands it another trial's checkpoint,
a paused trial resumes, a failed one is retried), Ray's LoggerCallback first copies the trial's file from the
storage path over the driver's own copy, meant for a driver that picks up an earlier driver's experiment. But
Ray uploads the driver's files to the storage path only every few seconds, so that copy can be older, or empty:
a PBT trial restarted right after its last report ended with an empty result.json, and the summary called a
trial that trained every epoch "not started". Here the storage copy is fetched only when this driver has none
(a resumed experiment stages its files in a new folder), which is the case it exists for
(ray_compat/logger_callbacks.py: the private hook that takes).
"""

from __future__ import annotations

from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

from raytune_app.ray_compat.logger_callbacks import KeepTheDriversCopy


class JsonLogger(KeepTheDriversCopy, JsonLoggerCallback):
    """Ray's result.json logger; a restarted trial keeps the lines this driver wrote."""


class CsvLogger(KeepTheDriversCopy, CSVLoggerCallback):
    """Ray's progress.csv logger; a restarted trial keeps the rows this driver wrote."""

"""Keep two runs on one machine out of each other's staging folder.

Ray Tune stages a run's driver-side files (each trial's result.json, the experiment state) in a folder named
after the run's start time, to the second, and its experiment name (ray_compat/staging.py), and copies that
folder to the storage path. Two runs of the same experiment name started within the same second on one
machine (one Ray session: a shared cluster, a loop of seeds) share that folder, and each copies the other's
trials into its own experiment: seen as a run whose summary listed another run's trials as never started.
Ray offers no public way to choose the folder, so same-named starts on one machine are spaced out instead.

The record of recent starts is per user (user_state.py): another user's runs on this machine stage in a Ray
session of their own (a Ray session's folders belong to the user who started that Ray).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from filelock import FileLock

from raytune_app.errors import RunFailed
from raytune_app.ray_compat.staging import STAMP_RESOLUTION_S
from raytune_app.user_state import private_dir

log = logging.getLogger(__name__)

# more than Ray's second of resolution plus the time from Tuner.fit() to Ray reading the clock
GAP_S = STAMP_RESOLUTION_S + 2.0
# the last start time of each recently started name, for this user's runs on this machine; names whose start
# is more than GAP_S old are dropped, so the file stays small
STARTS_FILE = "starts.json"


def starts_file() -> Path:
    """This user's record of recent starts (RunFailed when the private folder is not private)."""
    return private_dir() / STARTS_FILE


def _read(path: Path) -> dict[str, float]:
    """The record's entries that read as times; a damaged record never stops a run."""
    try:
        starts = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    items = starts.items() if isinstance(starts, dict) else ()
    return {k: v for k, v in items if isinstance(v, (int, float))}


def space_out_start(name: str) -> float:
    """Wait until GAP_S seconds have passed since this user last started an experiment named `name` on this
    machine (call it just before Tuner.fit); the seconds waited. Without a private folder for the record,
    the run starts at once (a warning says why)."""
    try:
        record = starts_file()
    except RunFailed as exc:
        log.warning("%s: same-named runs started within a second may share Ray's staging folder", exc)
        return 0.0
    with FileLock(f"{record}.lock"):
        starts = _read(record)
        now = time.time()
        wait = max(0.0, min(starts.get(name, 0.0) + GAP_S - now, GAP_S))  # a clock set back never means a long wait
        time.sleep(wait)
        now = time.time()
        starts = {k: v for k, v in starts.items() if 0 <= now - v < GAP_S} | {name: now}
        record.write_text(json.dumps(starts))
    return wait

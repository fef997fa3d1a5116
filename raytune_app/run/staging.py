"""Keep two runs on one machine out of each other's staging folder.

Ray Tune stages a run's driver-side files (each trial's result.json, the experiment state) in
`<Ray session>/artifacts/<start time, to the second>/<experiment name>/` on the driver's machine, and copies
that folder to the storage path. Two runs of the same experiment name started within the same second on one
machine (one Ray session: a shared cluster, a loop of seeds) share that folder, and each copies the other's
trials into its own experiment: seen as a run whose summary listed another run's trials as never started.
Ray offers no public way to choose the folder, so same-named starts on one machine are spaced out instead.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from filelock import FileLock

# more than Ray's second of resolution plus the time from Tuner.fit() to Ray reading the clock
GAP_S = 3.0
# the last start time of each recently started name, shared by every run on this machine; names whose
# start is more than GAP_S old are dropped, so the file stays small and /tmp gets one file (and its lock)
STARTS = Path(tempfile.gettempdir()) / "raytune_app-starts.json"


def _read(path: Path) -> dict[str, float]:
    """The record's entries that read as times; a damaged record never stops a run."""
    try:
        starts = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    items = starts.items() if isinstance(starts, dict) else ()
    return {k: v for k, v in items if isinstance(v, (int, float))}


def space_out_start(name: str) -> float:
    """Wait until GAP_S seconds have passed since this machine last started an experiment named `name`
    (call it just before Tuner.fit); the seconds waited."""
    with FileLock(f"{STARTS}.lock"):
        starts = _read(STARTS)
        now = time.time()
        wait = max(0.0, min(starts.get(name, 0.0) + GAP_S - now, GAP_S))  # a clock set back never means a long wait
        time.sleep(wait)
        now = time.time()
        starts = {k: v for k, v in starts.items() if 0 <= now - v < GAP_S} | {name: now}
        STARTS.write_text(json.dumps(starts))
    return wait

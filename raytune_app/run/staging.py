"""Keep two runs on one machine out of each other's staging folder.

Ray Tune stages a run's driver-side files (each trial's result.json, the experiment state) in
`<Ray session>/artifacts/<start time, to the second>/<experiment name>/` on the driver's machine, and copies
that folder to the storage path. Two runs of the same experiment name started within the same second on one
machine (one Ray session: a shared cluster, a loop of seeds) share that folder, and each copies the other's
trials into its own experiment: seen as a run whose summary listed another run's trials as never started.
Ray offers no public way to choose the folder, so same-named starts on one machine are spaced out instead.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from pathlib import Path

from filelock import FileLock

# more than Ray's second of resolution plus the time from Tuner.fit() to Ray reading the clock
GAP_S = 3.0


def _stamp(name: str) -> Path:
    digest = hashlib.sha1(name.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"raytune_app-start-{digest}"


def space_out_start(name: str) -> float:
    """Wait until GAP_S seconds have passed since this machine last started an experiment named `name`
    (call it just before Tuner.fit); the seconds waited."""
    stamp = _stamp(name)
    with FileLock(f"{stamp}.lock"):
        try:
            last = float(stamp.read_text())
        except (OSError, ValueError):
            last = 0.0
        wait = max(0.0, min(last + GAP_S - time.time(), GAP_S))  # a clock set back never means a long wait
        time.sleep(wait)
        stamp.write_text(repr(time.time()))
    return wait

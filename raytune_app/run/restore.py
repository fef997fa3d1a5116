"""Whether Ray can really restore an experiment folder, and what to do with one it cannot.

A driver killed during start-up can leave Ray's `tuner.pkl` without any experiment state: Ray's
`Tuner.restore` then "restores" an experiment with no trials and its searcher's count used up, runs
one trial and reports success. Such a folder is started afresh instead, its partial files set aside.
"""

from __future__ import annotations

import time

from raytune_app import storage
from raytune_app.spec.names import SPEC_FILE

# Ray's snapshot of the experiment, written every few seconds while it runs (TuneController's file
# name; no public API tells whether one exists, and Tuner.can_restore only looks for tuner.pkl)
STATE_PREFIX, STATE_SUFFIX = "experiment_state-", ".json"
ABANDONED = "abandoned"
OURS = (SPEC_FILE, "raytune_app_runs.jsonl")


def restorable(path: str) -> bool:
    """Ray has saved the experiment's state, so `Tuner.restore` continues every trial of it."""
    from ray.tune import Tuner

    has_state = any(n.startswith(STATE_PREFIX) and n.endswith(STATE_SUFFIX) for n in storage.list_files(path))
    return has_state and Tuner.can_restore(path)


def set_aside_partial_start(path: str) -> list[str]:
    """Move what a run stopped during start-up left (Ray's files, trial folders) into abandoned/TIME/,
    so a fresh start neither reads nor overwrites it; returns what was moved."""
    target = storage.join(path, ABANDONED, time.strftime("%Y%m%d-%H%M%S"))
    names = [n for n in storage.list_files(path) if n not in OURS]
    names += [d for d in storage.list_dirs(path) if d != ABANDONED]
    for name in names:
        storage.move(storage.join(path, name), storage.join(target, name))
    return names

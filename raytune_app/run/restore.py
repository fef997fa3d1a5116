"""Whether Ray can really restore an experiment folder, and what to do with one it cannot.

`Tuner.can_restore` only checks for `tuner.pkl`, which `tune.Tuner()` writes before anything runs. A
driver killed between that and Ray's first experiment state leaves a folder that `Tuner.restore` "restores"
into an experiment of ONE trial (Ray does not save `num_samples`, and with random search not even the
space), exiting 0. So the folder's own files decide (Ray 2.60's write order, checked by killing start-ups):

- new:        no tuner.pkl, or no readable experiment state and no trial that reported or checkpointed:
              nothing ran, start afresh (Ray's partial files are set aside, never deleted);
- restorable: Ray's newest experiment state is readable (Ray reads only the newest one);
- no_state:   trials ran but the newest state is unreadable (a kill cut it short while it was copied):
              refused, since a restore would silently shrink the experiment.
"""

from __future__ import annotations

import json
import time

from raytune_app import storage
from raytune_app.results.reader import read_results, trial_folders
from raytune_app.results.wall_time import RUNS_FILE
from raytune_app.spec.names import SPEC_FILE

# Ray's snapshot of the experiment (TuneController's file name: no public API tells whether one is readable)
STATE_PREFIX, STATE_SUFFIX = "experiment_state-", ".json"
TUNER_FILE = "tuner.pkl"  # what Tuner.can_restore looks for
ABANDONED = "abandoned"
OURS = (SPEC_FILE, RUNS_FILE)


def newest_state(path: str) -> str | None:
    states = [n for n in storage.list_files(path) if n.startswith(STATE_PREFIX) and n.endswith(STATE_SUFFIX)]
    return max(states) if states else None


def _readable_state(file: str) -> bool:
    try:
        return isinstance(json.loads(storage.read_text(file)).get("trial_data"), list)
    except (OSError, ValueError, AttributeError, UnicodeDecodeError):
        return False


def _ran(trial_path: str) -> bool:
    try:
        if read_results(trial_path):
            return True
    except (OSError, UnicodeDecodeError):
        return True  # something is there: in doubt, it ran
    return any(d.startswith("checkpoint_") for d in storage.list_dirs(trial_path))


def folder_state(path: str) -> str:
    """'new', 'restorable' or 'no_state' (see the module's docstring)."""
    if TUNER_FILE not in storage.list_files(path):
        return "new"
    state = newest_state(path)
    if state and _readable_state(storage.join(path, state)):
        return "restorable"
    if not any(_ran(storage.join(path, t)) for t in trial_folders(path)):
        return "new"
    return "no_state"


def no_state_problem(path: str) -> str:
    return (f"{path}: trials ran, but Ray's newest experiment state ({newest_state(path) or 'none'}) cannot be "
            "read (its driver was killed while writing it); a restore would silently shrink the experiment. "
            "Move that file aside to resume from the state before it, or start a new experiment with another --name")


def set_aside_partial_start(path: str) -> list[str]:
    """Move what a run stopped during start-up left (Ray's files, empty trial folders) into abandoned/TIME/,
    so a fresh start neither reads nor overwrites it; returns what was moved."""
    target = storage.join(path, ABANDONED, time.strftime("%Y%m%d-%H%M%S"))
    names = [n for n in storage.list_files(path) if n not in OURS]
    names += [d for d in storage.list_dirs(path) if d != ABANDONED]
    for name in names:
        storage.move(storage.join(path, name), storage.join(target, name))
    return names


def mark_errored(path: str, trial_ids: list[str]) -> list[str]:
    """After a run: make Ray's saved state say ERROR for the trials the run reported as failed.

    Ray 2.60 re-saves a trial's state only when it is queued for saving, and a trial whose worker was killed
    (SIGKILL, out of memory) loses its actor before that happens: its last saved state stays RUNNING, while
    the run reports it failed. `Tuner.restore(restart_errored=True)` would then resume it from its checkpoint
    instead of starting it over. No public API re-saves a trial, so the newest state file (the one Tuner.restore
    reads) is corrected here, in the one place that knows Ray's file names; returns the trials corrected."""
    state_name = newest_state(path) if trial_ids else None
    if state_name is None:
        return []
    file = storage.join(path, state_name)
    state = json.loads(storage.read_text(file))
    wanted = {f"trial_{t}" for t in trial_ids}
    fixed = []
    for entry in state.get("trial_data", []):
        trial = json.loads(entry[0])
        if trial.get("relative_logdir") in wanted and trial.get("status") != "ERROR":
            trial["status"] = "ERROR"
            entry[0] = json.dumps(trial, indent=2)
            fixed.append(trial["relative_logdir"].removeprefix("trial_"))
    if fixed:
        storage.write_atomic(file, json.dumps(state))
    return fixed

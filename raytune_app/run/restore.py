"""Whether Ray can really restore an experiment folder, and what to do with one it cannot.

`Tuner.can_restore` only checks for Ray's `tuner.pkl`, which `tune.Tuner()` writes before anything runs. A
driver killed between that and Ray's first experiment state leaves a folder that `Tuner.restore` "restores"
into an experiment of ONE trial (Ray does not save `num_samples`, and with random search not even the
space), exiting 0. So the folder's own files decide (Ray 2.60's write order, checked by killing start-ups):

- new:        not `Tuner.can_restore`, or no readable experiment state and no trial that reported or checkpointed:
              nothing ran, start afresh (Ray's partial files are set aside, never deleted);
- restorable: Ray's newest experiment state is readable (Ray reads only the newest one);
- no_state:   trials ran but the newest state is unreadable (a kill cut it short while it was copied):
              refused, since a restore would silently shrink the experiment.
"""

from __future__ import annotations

import time

from raytune_app import storage
from raytune_app.ray_compat.experiment_state import is_checkpoint_folder, newest_state, readable
from raytune_app.results.reader import read_results, trial_folders
from raytune_app.results.wall_time import RUNS_FILE
from raytune_app.spec.names import SPEC_FILE

ABANDONED = "abandoned"
OURS = (SPEC_FILE, RUNS_FILE)


def _ran(trial_path: str) -> bool:
    try:
        if read_results(trial_path):
            return True
    except (OSError, UnicodeDecodeError):
        return True  # something is there: in doubt, it ran
    return any(is_checkpoint_folder(d) for d in storage.list_dirs(trial_path))


def folder_state(path: str) -> str:
    """'new', 'restorable' or 'no_state' (see the module's docstring)."""
    from ray import tune

    if not tune.Tuner.can_restore(path):
        return "new"
    if readable(path):
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

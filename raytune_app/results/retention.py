"""Which checkpoints an experiment keeps: each trial's best `keep_checkpoints` by the one rule for best
(best.py: the checkpoint summary.json names is always the first of them; with several objectives so is each
trial's Pareto point, its best epoch by the primary, front.py), and its latest: the one Ray's saved
experiment state names, which a resume starts the trial from.

Ray's own `CheckpointConfig(num_to_keep)` deletes a checkpoint as soon as a newer one arrives, while the
experiment state that names it is still on its way to storage: a driver killed then leaves a state that
points at a deleted checkpoint, and the trial cannot resume (seen in a test that kills the driver right after
a checkpoint). So Ray keeps every checkpoint during the run, and the surplus goes once the run has ended and
its final state is saved. The latest checkpoint on disk is not always the one that state names: a worker
can write a checkpoint that the driver never records (it was stopped or killed first); so the state decides.
In doubt, nothing is deleted: a trial whose results cannot be read, some of whose result lines are damaged,
or whose record in the state cannot be.
"""

from __future__ import annotations

from raytune_app import storage
from raytune_app.ray_compat.experiment_state import is_checkpoint_folder, newest_state, saved_trials
from raytune_app.results.best import ranked_checkpoints
from raytune_app.results.reader import read_result_file, trial_folders


def surplus(checkpoints: list[str], ranked: list[str], keep: int, latest: str | None) -> list[str]:
    """The checkpoints beyond the best `keep` of `ranked` (best first) and `latest`."""
    kept = set([c for c in ranked if c in checkpoints][:keep]) | {latest}
    return [c for c in checkpoints if c not in kept]


def prune(path: str, metric: str, mode: str, keep: int) -> list[str]:
    """Delete the surplus checkpoints of every trial of the experiment at `path`; return what went. The
    folders themselves are listed (not Ray's records), so checkpoints a killed run wrote after its last
    saved state go too. A trial folder that no saved state lists (none was saved, or Ray gave that attempt
    up) keeps its newest checkpoint as its latest."""
    saved = saved_trials(path)
    if saved is None and newest_state(path):
        return []  # the state is there but cannot be read: which checkpoint it names is unknown
    records = {t.folder: t for t in saved or ()}
    deleted = []
    for trial in trial_folders(path):
        trial_path = storage.join(path, trial)
        record = records.get(trial)
        if record is not None and not record.checkpoint_known:
            continue  # its record of checkpoints cannot be read: keep them all
        try:
            rows, damaged = read_result_file(trial_path)
        except OSError:
            continue  # cannot tell which is best: keep them all
        if damaged:
            continue  # a damaged line may have been the best epoch's: keep them all
        checkpoints = [d for d in storage.list_dirs(trial_path) if is_checkpoint_folder(d)]
        if checkpoints and not rows:
            continue  # no scores at all (yet): keep them all
        latest = record.checkpoint if record is not None else max(checkpoints, default=None)
        for name in surplus(checkpoints, ranked_checkpoints(rows, metric, mode), keep, latest):
            storage.delete_dir(storage.join(trial_path, name))
            deleted.append(storage.join(trial_path, name))
    return deleted

"""Which checkpoints an experiment keeps: each trial's best `keep_checkpoints` by the one rule for best
(best.py: the checkpoint summary.json names is always the first of them), and its latest.

Ray's own `CheckpointConfig(num_to_keep)` deletes a checkpoint as soon as a newer one arrives, while the
experiment state that names it is still on its way to storage: a driver killed then leaves a state that
points at a deleted checkpoint, and the trial cannot resume (seen in a test that kills the driver right after
a checkpoint). So Ray keeps every checkpoint during the run, and the surplus goes once the run has ended and
its final state, which names only the latest checkpoints, is saved. When a trial's results cannot be read,
or some of their lines are damaged, all its checkpoints stay: in doubt, nothing is deleted.
"""

from __future__ import annotations

from raytune_app import storage
from raytune_app.results.best import ranked_checkpoints
from raytune_app.results.reader import read_result_file, trial_folders


def surplus(checkpoints: list[str], ranked: list[str], keep: int) -> list[str]:
    """The checkpoints beyond the best `keep` of `ranked` (best first) and the latest."""
    kept = set([c for c in ranked if c in checkpoints][:keep]) | ({max(checkpoints)} if checkpoints else set())
    return [c for c in checkpoints if c not in kept]


def prune(path: str, metric: str, mode: str, keep: int) -> list[str]:
    """Delete the surplus checkpoints of every trial of the experiment at `path`; return what went. The
    folders themselves are listed (not Ray's records), so checkpoints a killed run wrote after its last
    saved state go too."""
    deleted = []
    for trial in trial_folders(path):
        trial_path = storage.join(path, trial)
        try:
            rows, damaged = read_result_file(trial_path)
        except OSError:
            continue  # cannot tell which is best: keep them all
        if damaged:
            continue  # a damaged line may have been the best epoch's: keep them all
        checkpoints = [d for d in storage.list_dirs(trial_path) if d.startswith("checkpoint_")]
        if checkpoints and not rows:
            continue  # no scores at all (yet): keep them all
        for name in surplus(checkpoints, ranked_checkpoints(rows, metric, mode), keep):
            storage.delete_dir(storage.join(trial_path, name))
            deleted.append(storage.join(trial_path, name))
    return deleted

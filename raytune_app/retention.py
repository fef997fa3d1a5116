"""Which checkpoints an experiment keeps: each trial's best `keep_checkpoints` by the metric, and its latest.

Ray's own `CheckpointConfig(num_to_keep)` deletes a checkpoint as soon as a newer one arrives, while the
experiment state that names it is still on its way to storage: a driver killed then leaves a state that
points at a deleted checkpoint, and the trial cannot resume (seen in a test that kills the driver right after
a checkpoint). So Ray keeps every checkpoint during the run, and the surplus goes once the run has ended and
its final state, which names only the latest checkpoints, is saved.
"""

from __future__ import annotations

import json
import math

from . import storage


def _scores(trial_path: str, metric: str) -> dict[str, float]:
    """checkpoint folder name -> the metric reported with it, from Ray's result.json."""
    try:
        lines = storage.read_text(storage.join(trial_path, "result.json")).splitlines()
    except OSError:
        return {}
    scores = {}
    for line in lines:
        result = json.loads(line) if line.strip() else {}
        value = result.get(metric)
        if result.get("checkpoint_dir_name") and isinstance(value, (int, float)) and math.isfinite(value):
            scores[result["checkpoint_dir_name"]] = float(value)
    return scores


def surplus(checkpoints: list[str], scores: dict[str, float], keep: int, mode: str) -> list[str]:
    """The checkpoints beyond the best `keep` by score (ties: the newer stays) and the latest."""
    sign = 1 if mode == "max" else -1
    ranked = sorted((c for c in checkpoints if c in scores), key=lambda c: (sign * scores[c], c), reverse=True)
    kept = set(ranked[:keep]) | ({max(checkpoints)} if checkpoints else set())
    return [c for c in checkpoints if c not in kept]


def prune(path: str, metric: str, mode: str, keep: int) -> None:
    """Delete the surplus checkpoints of every trial of the experiment at `path`. The folders themselves are
    listed (not Ray's records), so checkpoints a killed run wrote after its last saved state go too."""
    for trial in (d for d in storage.list_dirs(path) if d.startswith("trial_")):
        trial_path = storage.join(path, trial)
        checkpoints = [d for d in storage.list_dirs(trial_path) if d.startswith("checkpoint_")]
        for name in surplus(checkpoints, _scores(trial_path, metric), keep, mode):
            storage.delete_dir(storage.join(trial_path, name))

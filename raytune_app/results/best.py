"""The one rule for "best", used by the summary, reports, exports, checkpoint retention and warm starts.

- A trial's best epoch is its best value of the metric among the epochs that are usable: a finite
  value, not diverged. Ties go to the later epoch.
- The best trial (the experiment's pick) is the trial with the best such value. Ties go to the trial
  proposed first, so the same experiment always names the same best trial, however often it is read or
  restored.
- The score shown and the model exported always come from the same epoch: the pick's epoch must have
  saved a checkpoint when the experiment saves any. The built-in training loop saves every epoch that is
  at least as good as the best result the driver had seen (trial/checkpoint.py), so its pick always has
  one. Where it has none (a training function of the user's that checkpoints less often than it reports),
  only the epochs that saved a checkpoint are usable, in every trial of the experiment.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from raytune_app.results.status import progress
from raytune_app.spec.metrics import finite, sign

T = TypeVar("T")


def usable(row: Mapping[str, Any], metric: str, checkpointed_only: bool) -> bool:
    """Whether an epoch's result can stand for its trial."""
    if not finite(row.get(metric)) or row.get("diverged"):
        return False
    return bool(row.get("checkpoint_dir_name")) or not checkpointed_only


def _epoch_key(row: Mapping[str, Any], metric: str, mode: str) -> tuple:
    return sign(mode) * float(row[metric]), progress(row)


def best_epoch(rows: Sequence[Mapping[str, Any]], metric: str, mode: str,
               checkpointed_only: bool = True) -> dict | None:
    """The trial's best usable epoch (its result row), or None when it has none."""
    candidates = [r for r in rows if usable(r, metric, checkpointed_only)]
    return dict(max(candidates, key=lambda r: _epoch_key(r, metric, mode))) if candidates else None


def running_best(rows: Sequence[Mapping[str, Any]], metric: str, mode: str,
                 checkpointed_only: bool = True) -> list[Mapping[str, Any] | None]:
    """best_epoch of rows[:1], rows[:2], ... in one pass, for curves that ask after every result."""
    bests: list[Mapping[str, Any] | None] = []
    best, best_key = None, None
    for row in rows:
        if usable(row, metric, checkpointed_only):
            key = _epoch_key(row, metric, mode)
            if best is None or key > best_key:
                best, best_key = row, key
        bests.append(best)
    return bests


def only_checkpointed_count(trials: Sequence[Sequence[Mapping[str, Any]]], metric: str, mode: str) -> bool:
    """Whether only the epochs that saved a checkpoint are usable in an experiment whose trials' rows are
    `trials` (in proposal order): it saved checkpoints, but not at the best epoch of all."""
    if not any(r.get("checkpoint_dir_name") for rows in trials for r in rows):
        return False
    bests = [best_epoch(rows, metric, mode, checkpointed_only=False) for rows in trials]
    top = rank(bests, lambda row: None if row is None else float(row[metric]), mode)[0]
    return top is not None and not top.get("checkpoint_dir_name")


def ranked_checkpoints(rows: Sequence[Mapping[str, Any]], metric: str, mode: str) -> list[str]:
    """The trial's checkpoint folders that have a usable score, best first by the same rule."""
    scored = [r for r in rows if usable(r, metric, checkpointed_only=True)]
    return [r["checkpoint_dir_name"] for r in sorted(scored, key=lambda r: _epoch_key(r, metric, mode), reverse=True)]


def rank(trials: Iterable[T], value: Callable[[T], float | None], mode: str) -> list[T]:
    """Trials best first by `value`; ties, and trials without a value (last), keep their given order
    (callers give them in proposal order)."""
    trials = list(trials)
    values = [value(t) for t in trials]
    order = sorted(range(len(trials)), key=lambda i: (values[i] is None,
                                                       -sign(mode) * values[i] if values[i] is not None else 0, i))
    return [trials[i] for i in order]

"""The one rule for "best", used by the summary, reports, exports, checkpoint retention and warm starts.

- A trial's best epoch is its best value of the metric among the epochs that are usable: a finite
  value, not diverged and, when the experiment saves checkpoints, an epoch that saved one (so the
  score shown and the model exported always come from the same epoch). Ties go to the later epoch.
- The best trial is the trial with the best such value. Ties go to the trial proposed first, so the
  same experiment always names the same best trial, however often it is read or restored.
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

"""What the built-in trainer reports, and the one place that knows which way a metric is better.

Free of Ray, PyTorch and NumPy: the experiment file is checked against it before anything starts.
"""

from __future__ import annotations

import math
from typing import Any

# per-epoch metrics of the built-in trainer, by task
METRICS = {
    "classification": ("val_accuracy", "val_loss", "train_loss"),
    "regression": ("val_rmse", "val_loss", "train_loss"),
}
# what the built-in loop measures of a trial's model besides its scores, reported in every result when an objective
# or a constraint names it (trial/costs.py): its size, its cost per prediction, and the training time so far
SECONDARY = ("param_count", "flops_per_sample", "latency_ms", "train_seconds")
# the best checkpoint's score on the held-out split, by task
TEST_METRIC = {"classification": "test_accuracy", "regression": "test_rmse"}
# what a task's model is scored by on new data (evaluate, the held-out test)
SCORE = {"classification": "accuracy", "regression": "rmse"}


def direction(metric: str) -> str:
    """'max' for accuracies (and other scores that grow: auc, f1, r2), 'min' for losses, errors and times."""
    name = metric.rsplit("/", 1)[-1].lower()
    return "max" if name.endswith(("accuracy", "acc", "auc", "f1", "r2", "precision", "recall", "reward")) else "min"


def sign(mode: str) -> int:
    """+1 when larger is better: `sign(mode) * value` is a key where larger always wins."""
    return 1 if mode == "max" else -1


# scores that never go below 0: their worst value is 0 (others that grow, a reward or r2, can be negative)
NON_NEGATIVE = ("accuracy", "acc", "auc", "f1", "precision", "recall")


def worst_value(metric: str, mode: str | None = None) -> float:
    """What a diverged trial reports for `metric` optimised in `mode` (default: its name's direction): the worst
    value it can take, so that schedulers and searchers rank it last."""
    if (mode or direction(metric)) == "min":
        return math.inf
    return 0.0 if metric.rsplit("/", 1)[-1].lower().endswith(NON_NEGATIVE) else -math.inf


def finite(value: Any) -> bool:
    """A usable metric value: a real, finite number (not a bool, None, NaN or infinity)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

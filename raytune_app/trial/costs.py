"""What the built-in loop measures of a trial's model besides its scores: the secondary metrics that objectives
and constraints may name (spec/metrics.py SECONDARY), reported in every result of the trial, so that Ray's check
that each result holds every objective passes, and any epoch can be a point of the Pareto front.

- param_count: the model's parameters (trainable or not);
- flops_per_sample: the floating-point operations of one prediction, a batch of one sample, as PyTorch's
  FlopCounterMode counts them (matrix products and convolutions: 2 per multiply-add; element-wise operations
  such as activations are not counted);
- latency_ms: milliseconds of one prediction of one sample on the device the trial trains on (where the model
  would serve): the median of many timed calls after a few untimed ones, measured once per trial;
- train_seconds: the seconds spent on the trial's epochs so far (training and validation, `epoch_time_s`
  summed), carried in its checkpoints so that a restored or PBT-cloned model keeps counting.

They are measured once, before the first epoch (a model's size and cost do not change as it trains).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from typing import Any, Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

COSTS_FILE = "costs.json"  # beside a checkpoint's weights: train_seconds up to that epoch
WARM_UP_CALLS, MAX_TIMED_CALLS, MIN_TIMED_CALLS, TIMING_BUDGET_S = 5, 100, 5, 1.0


def param_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def flops_per_sample(model: torch.nn.Module, sample: torch.Tensor) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(sample)
    return int(counter.get_total_flops())


def latency_ms(model: torch.nn.Module, sample: torch.Tensor) -> float:
    """The median of up to MAX_TIMED_CALLS timed predictions (at least MIN_TIMED_CALLS, within about
    TIMING_BUDGET_S), after WARM_UP_CALLS untimed ones."""
    sync = torch.cuda.synchronize if sample.device.type == "cuda" else (lambda: None)
    times: list[float] = []
    with torch.no_grad():
        for _ in range(WARM_UP_CALLS):
            model(sample)
        sync()
        deadline = time.perf_counter() + TIMING_BUDGET_S
        while len(times) < MAX_TIMED_CALLS and (len(times) < MIN_TIMED_CALLS or time.perf_counter() < deadline):
            started = time.perf_counter()
            model(sample)
            sync()
            times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


MEASURES = {"param_count": lambda model, sample: param_count(model), "flops_per_sample": flops_per_sample,
            "latency_ms": latency_ms}


class TrialCosts:
    """The secondary metrics `names` of one trial's model: measured once, train_seconds added up per epoch."""

    def __init__(self, names: tuple[str, ...], model: torch.nn.Module, sample: torch.Tensor, checkpoint=None):
        self._names = names
        training = model.training
        model.eval()  # as it would serve: no dropout
        self._fixed: dict[str, Any] = {n: MEASURES[n](model, sample) for n in names if n in MEASURES}
        model.train(training)
        self._train_seconds = _saved_train_seconds(checkpoint) if "train_seconds" in names else 0.0

    def after_epoch(self, epoch_time_s: float) -> dict[str, Any]:
        """The metrics to add to an epoch's result that took `epoch_time_s`."""
        self._train_seconds += epoch_time_s
        return self._fixed | ({"train_seconds": self._train_seconds} if "train_seconds" in self._names else {})

    def saving(self, save: Callable[[str], None] | None) -> Callable[[str], None] | None:
        """A checkpoint's `save(folder)` that also writes train_seconds so far beside the weights."""
        if save is None or "train_seconds" not in self._names:
            return save

        def save_with_costs(folder: str) -> None:
            save(folder)
            with open(os.path.join(folder, COSTS_FILE), "w") as f:
                json.dump({"train_seconds": self._train_seconds}, f)

        return save_with_costs


def _saved_train_seconds(checkpoint) -> float:
    """train_seconds up to a trial's checkpoint (one saved without it: 0)."""
    if checkpoint is None:
        return 0.0
    with checkpoint.as_directory() as folder:
        path = os.path.join(folder, COSTS_FILE)
        if not os.path.exists(path):
            return 0.0
        with open(path) as f:
            return float(json.load(f)["train_seconds"])

"""A trial's checkpoint: model, optimizer, epoch and RNG state in one file, loaded safely; and which epochs save one.

An epoch is saved when it can still be the experiment's pick, when a scheduler needs it, and at the points a
resume needs. Saving is what a report costs most: `torch.save`, Ray's copy into the trial folder, and a second
driver round trip (Ray's `save` call after the result).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

import torch

from raytune_app.spec.metrics import finite, sign

CHECKPOINT_FILE = "checkpoint.pt"


@dataclass(frozen=True)
class CheckpointRule:
    """Which epochs of a trial save a checkpoint.

    - every `every`-th epoch: a resume (a failed trial retried, an interrupted or killed run resumed) starts
      from the latest checkpoint, so it loses at most `every` - 1 epochs of the trial's work;
    - every epoch whose `metric` is at least as good as the best result of the experiment the driver had seen
      (`best_known`, in `sign(mode) * value` terms; None when not known): it may become the experiment's pick,
      whose score and model must come from the same epoch (results/best.py). The bound the trial holds can only
      be older, so lower, than the driver's: a stale bound adds checkpoints, it never loses the pick's;
    - every epoch when `all_epochs`: the scheduler pauses trials or hands their latest checkpoint to others
      (HyperBand, BOHB's, PBT), which must be the epoch it just saw.
    """

    metric: str
    mode: str
    every: int
    all_epochs: bool = False

    def due(self, epoch: int, metrics: Mapping[str, Any], best_known: float | None) -> bool:
        if self.all_epochs or epoch % self.every == 0:
            return True
        value = metrics.get(self.metric)
        if not finite(value) or metrics.get("diverged"):
            return False
        return best_known is None or sign(self.mode) * value >= best_known


def save_checkpoint(path: str, model, optimizer, epoch: int, gen: torch.Generator, device: torch.device) -> None:
    rng = {"torch": torch.get_rng_state(), "shuffle": gen.get_state()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "epoch": epoch, "rng": rng}, os.path.join(path, CHECKPOINT_FILE))


def load_checkpoint(path: str, device: torch.device | str = "cpu") -> dict[str, Any]:
    """A checkpoint directory's contents, loaded safely (`weights_only=True`)."""
    return torch.load(os.path.join(path, CHECKPOINT_FILE), map_location=device, weights_only=True)

"""A trial's checkpoint: model, optimizer, epoch and RNG state in one file, loaded safely."""

from __future__ import annotations

import os
from typing import Any

import torch

CHECKPOINT_FILE = "checkpoint.pt"


def save_checkpoint(path: str, model, optimizer, epoch: int, gen: torch.Generator, device: torch.device) -> None:
    rng = {"torch": torch.get_rng_state(), "shuffle": gen.get_state()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "epoch": epoch, "rng": rng}, os.path.join(path, CHECKPOINT_FILE))


def load_checkpoint(path: str, device: torch.device | str = "cpu") -> dict[str, Any]:
    """A checkpoint directory's contents, loaded safely (`weights_only=True`)."""
    return torch.load(os.path.join(path, CHECKPOINT_FILE), map_location=device, weights_only=True)

"""The Ray Tune function trainable: trains one config, reports every epoch, checkpoints.

Checkpoints hold model, optimizer, epoch and RNG state, so a restarted trial
continues at the epoch after its checkpoint with the same random stream.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
import warnings
import zlib
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import nn
from ray import tune

from .data import Dataset
from .hyperparams import Hyperparams
from .models import apply_hyperparams, build_model, build_optimizer

CHECKPOINT_FILE = "checkpoint.pt"
EVAL_BATCH = 4096


@dataclass(frozen=True)
class TrialSettings:
    """What every trial of an experiment shares (the config holds what differs)."""

    model: str
    max_epochs: int
    checkpoint_every: int
    seed: int
    cpus_per_trial: float
    gpus_per_trial: float


def trial_seed(config: Mapping[str, Any], base_seed: int) -> int:
    """The trial's seed: `seed` from its config, else derived from the config and --seed,
    so the same config trains the same way in every run."""
    if config.get("seed") is not None:
        return int(config["seed"])
    text = json.dumps(config, sort_keys=True, default=str)
    return (zlib.crc32(text.encode()) + 1_000_003 * base_seed) % (2**31)


def worst_value(metric: str) -> float:
    """What a diverged trial reports: the worst value a metric can take."""
    return 0.0 if metric.endswith("accuracy") else float("inf")


def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, data: Dataset) -> dict[str, float]:
    """Loss and accuracy (classification) or RMSE in the target's own units (regression)."""
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(X), EVAL_BATCH):
            xb, yb = X[start:start + EVAL_BATCH], y[start:start + EVAL_BATCH]
            out = model(xb)
            if data.task == "classification":
                total_loss += nn.functional.cross_entropy(out, yb, reduction="sum").item()
                correct += (out.argmax(dim=1) == yb).sum().item()
            else:
                target = (yb - data.y_mean) / data.y_std
                total_loss += nn.functional.mse_loss(out.squeeze(1), target, reduction="sum").item()
    n = max(1, len(X))
    if data.task == "classification":
        return {"loss": total_loss / n, "accuracy": correct / n}
    return {"loss": total_loss / n, "rmse": math.sqrt(total_loss / n) * data.y_std}


def train_epoch(model, optimizer, X, y, data: Dataset, batch_size: int, gen: torch.Generator) -> float:
    """One pass over the training split in shuffled mini-batches; returns the mean training loss."""
    model.train()
    order = torch.randperm(len(X), generator=gen).to(X.device)
    total = 0.0
    for start in range(0, len(X), batch_size):
        idx = order[start:start + batch_size]
        out = model(X[idx])
        if data.task == "classification":
            loss = nn.functional.cross_entropy(out, y[idx])
        else:
            loss = nn.functional.mse_loss(out.squeeze(1), (y[idx] - data.y_mean) / data.y_std)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    return total / max(1, len(X))


def _save(path: str, model, optimizer, epoch: int, gen: torch.Generator, device: torch.device) -> None:
    rng = {"torch": torch.get_rng_state(), "shuffle": gen.get_state()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "epoch": epoch, "rng": rng}, os.path.join(path, CHECKPOINT_FILE))


def load_checkpoint(path: str, device: torch.device | str = "cpu") -> dict[str, Any]:
    """A checkpoint directory's contents, loaded safely (`weights_only=True`)."""
    return torch.load(os.path.join(path, CHECKPOINT_FILE), map_location=device, weights_only=True)


def _tensor(array, device: torch.device) -> torch.Tensor:
    """Zero-copy view of an object-store array (read-only there; training never writes to it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array).to(device)


def train_trial(config: dict, data: Dataset, settings: TrialSettings) -> None:
    """Train one trial, resuming from `tune.get_checkpoint()` when Ray restarts it."""
    # one "Checkpoint successfully created" line per epoch and trial would drown the driver's output
    logging.getLogger("ray.train._internal.storage").setLevel(logging.WARNING)
    torch.set_num_threads(max(1, int(settings.cpus_per_trial)))
    use_cuda = settings.gpus_per_trial > 0 and torch.cuda.is_available()
    device = torch.device("cuda" if use_cuda else "cpu")
    hp = Hyperparams.from_config(config)
    seed = trial_seed(config, settings.seed)
    torch.manual_seed(seed)
    model = build_model(settings.model, hp, data.input_shape, data.outputs).to(device)
    optimizer = build_optimizer(hp, model.parameters())
    gen = torch.Generator().manual_seed(seed)

    first_epoch = 1
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as ckpt_dir:
            state = load_checkpoint(ckpt_dir)  # on the CPU: RNG states must stay there; load_state_dict moves the rest
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        apply_hyperparams(optimizer, hp)  # PBT may hand over a checkpoint with a new config
        gen.set_state(state["rng"]["shuffle"])
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and use_cuda:
            torch.cuda.set_rng_state(state["rng"]["cuda"], device)
        first_epoch = state["epoch"] + 1

    X_train, y_train, X_val, y_val = (_tensor(a, device) for a in (data.X_train, data.y_train, data.X_val, data.y_val))
    for epoch in range(first_epoch, settings.max_epochs + 1):
        started = time.perf_counter()
        train_loss = train_epoch(model, optimizer, X_train, y_train, data, hp.batch_size, gen)
        val = evaluate(model, X_val, y_val, data)
        metrics = {"epoch": epoch, "train_loss": train_loss, "val_loss": val["loss"],
                   f"val_{'accuracy' if data.task == 'classification' else 'rmse'}":
                       val.get("accuracy", val.get("rmse")),
                   "epoch_time_s": time.perf_counter() - started, "diverged": False}
        if not all(math.isfinite(metrics[k]) for k in ("train_loss", "val_loss")):
            metrics |= {k: worst_value(k) for k in metrics if k.startswith(("train_", "val_"))}
            metrics["diverged"] = True
            tune.report(metrics)
            return
        if epoch % settings.checkpoint_every == 0 or epoch == settings.max_epochs:
            with tempfile.TemporaryDirectory() as tmp:
                _save(tmp, model, optimizer, epoch, gen, device)
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(tmp))
        else:
            tune.report(metrics)

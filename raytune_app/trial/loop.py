"""The built-in training loop's two steps: one epoch of mini-batches, and scoring a split."""

from __future__ import annotations

import math

import torch
from torch import nn

from raytune_app.data.datasets import Dataset

EVAL_BATCH = 4096


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


def train_epoch(model, optimizer, X, y, data: Dataset, batch_size: int, gen: torch.Generator,
                rank: int = 0, world: int = 1) -> float:
    """One pass over the training split in shuffled mini-batches; returns the mean training loss.

    Data-parallel (`world` DDP workers): every worker draws the same order and trains on its share
    `batch[rank::world]` of each batch of `batch_size`, the global batch. Its loss is weighted by its share's
    size, so that DDP's average of the workers' gradients is the gradient of the whole batch's mean loss, as
    one worker would compute it; the values the workers return average to the epoch's mean training loss."""
    model.train()
    order = torch.randperm(len(X), generator=gen).to(X.device)
    total = 0.0
    for start in range(0, len(X), batch_size):
        batch = order[start:start + batch_size]
        idx = batch[rank::world]
        out = model(X[idx])
        if not len(idx):  # a last batch smaller than the workers: DDP still needs this worker's (zero) gradient
            loss = out.sum() * 0.0
        elif data.task == "classification":
            loss = nn.functional.cross_entropy(out, y[idx])
        else:
            loss = nn.functional.mse_loss(out.squeeze(1), (y[idx] - data.y_mean) / data.y_std)
        loss = loss * (len(idx) * world / len(batch))  # exactly 1 with one worker
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
    return total / max(1, len(X))

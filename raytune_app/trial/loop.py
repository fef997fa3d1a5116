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

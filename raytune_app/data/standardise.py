"""Feature standardisation: fitted on the training split, applied to every split and to new data."""

from __future__ import annotations

import numpy as np


def fit(X_train: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std of the flattened training split (a constant feature gets std 1)."""
    flat = np.asarray(X_train, dtype=np.float64).reshape(len(X_train), width)
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    std[std == 0] = 1.0
    return mean, std


def apply(X: np.ndarray, mean: np.ndarray, std: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Raw rows -> what the model was trained on: standardised float32, reshaped to `shape` per row."""
    flat = np.asarray(X, dtype=np.float64).reshape(len(X), np.size(mean))  # (an empty split has 0 rows)
    return ((flat - mean) / std).astype(np.float32).reshape((len(X), *shape))

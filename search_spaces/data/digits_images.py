"""A custom data loader: scikit-learn's digits as 1x8x8 images in [0, 1], the training split as a
`torch.utils.data.Dataset`, validation and test as arrays (either form works for every split)."""

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import TensorDataset


def load(val_fraction=0.2, test_fraction=0.2, seed=0):
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=test_fraction, random_state=seed, stratify=y)
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val_fraction / (1 - test_fraction), random_state=seed, stratify=y_rest)
    train = TensorDataset(torch.from_numpy(X_train), torch.from_numpy(y_train))
    return {"train": train, "val": (X_val, y_val), "test": (X_test, y_test)}

"""A user's own code for the end-to-end tests: a model, a data loader and a Ray Tune training function, written
into a folder that is on no one's sys.path. With `log`, each file appends the folder it was imported from to
that file (so a test can tell the driver's import from the workers' copies)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

LOGGING = """
import os as _os
if {log!r}:
    with open({log!r}, "a") as _f:
        _f.write(_os.path.dirname(_os.path.abspath(__file__)) + "\\n")
"""

MODEL = """
import math
from torch import nn


class Net(nn.Module):
    \"\"\"Not an nn.Sequential: only this class can load its checkpoints (keys body.1.*, head.*).\"\"\"

    def __init__(self, input_shape, num_outputs, width=32):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), width), nn.ReLU())
        self.head = nn.Linear(width, num_outputs)

    def forward(self, x):
        return self.head(self.body(x))
"""

LOADER = """
import numpy as np
import torch
from sklearn.datasets import load_digits
from torch.utils.data import TensorDataset


def load(n_val=300, n_test=300):
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    n = len(X) - n_val - n_test
    train = TensorDataset(torch.from_numpy(X[:n]), torch.from_numpy(y[:n]))
    return {"train": train, "val": (X[n:n + n_val], y[n:n + n_val]), "test": (X[n + n_val:], y[n + n_val:])}
"""

TRAIN = """
import os
import tempfile
import time

import torch
from ray import tune
from sklearn.datasets import load_digits

from models.net import Net


def train(config):
    X, y = load_digits(return_X_y=True)
    X, y = torch.tensor(X / 16.0, dtype=torch.float32), torch.tensor(y)
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = (X[:1200], y[:1200]), (X[1200:1500], y[1200:1500]), (X[1500:], y[1500:])
    torch.manual_seed(0)
    model = Net((64,), 10, width=config["width"])
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as folder:
            state = torch.load(os.path.join(folder, "state.pt"), weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["epoch"]
    for epoch in range(start + 1, config["epochs"] + 1):
        time.sleep(config.get("sleep", 0))
        for i in range(0, len(X_train), 64):
            loss = torch.nn.functional.cross_entropy(model(X_train[i:i + 64]), y_train[i:i + 64])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            val = (model(X_val).argmax(1) == y_val).float().mean().item()
            test = (model(X_test).argmax(1) == y_test).float().mean().item()
        with tempfile.TemporaryDirectory() as folder:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch},
                       os.path.join(folder, "state.pt"))
            tune.report({"epoch": epoch, "val_acc": val, "test_accuracy": test, "code_dir": os.path.dirname(__file__)},
                        checkpoint=tune.Checkpoint.from_directory(folder))
"""


def write_user_code(folder: Path, log: str = "") -> Path:
    """models/net.py:Net, data/load.py:load and train.py:train under `folder`; returns it."""
    for name, body in (("models/net.py", MODEL), ("data/load.py", LOADER), ("train.py", TRAIN)):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(LOGGING.format(log=log)) + body)
    return folder


def write_trainable_experiment(path: Path, **fields) -> Path:
    """An experiment of train.py:train (no `data`, no `model`: the function has its own)."""
    spec = {"metric": "val_acc", "mode": "max", "max_epochs": 3, "num_samples": 2, "trainable": "train.py:train",
            "scheduler": "fifo", "search": "random",
            "space": {"lr": {"loguniform": [1e-3, 1e-2]}, "width": {"choice": [16, 32]}, "epochs": 3}}
    spec.update(fields)
    path.write_text(yaml.safe_dump(spec))
    return path

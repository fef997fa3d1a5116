# %% [markdown]
# # Tuning a model defined right here
#
# A model class and a data function written in this script (or notebook) go straight to `raytune_app.tune()`:
# no files to name, nothing to install. Ray pickles them and sends them to every trial, on this machine or on a
# cluster (set RAY_ADDRESS, or pass `address=`).

# %%
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

import raytune_app


# %%
class Net(nn.Module):
    """A small MLP whose width and depth the search chooses; raytune-app passes the input shape and the number of
    classes, and trains it with the built-in loop (optimizer, loss, checkpoints)."""

    def __init__(self, input_shape, num_outputs, width=64, layers=1, dropout=0.0):
        super().__init__()
        sizes = [int(np.prod(input_shape))] + [width] * layers
        blocks = [nn.Flatten()]
        for fan_in, fan_out in zip(sizes, sizes[1:]):
            blocks += [nn.Linear(fan_in, fan_out), nn.ReLU(), nn.Dropout(dropout)]
        self.body = nn.Sequential(*blocks, nn.Linear(sizes[-1], num_outputs))

    def forward(self, x):
        return self.body(x)


def data(seed=0):
    """The digits, scaled, split into train, validation and a held-out test split."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_train, X_rest, y_train, y_rest = train_test_split(X, y, test_size=0.4, random_state=seed, stratify=y)
    X_val, X_test, y_val, y_test = train_test_split(X_rest, y_rest, test_size=0.5, random_state=seed, stratify=y_rest)
    return {"train": (X_train, y_train), "val": (X_val, y_val), "test": (X_test, y_test)}


# %%
results = raytune_app.tune({
    "name": "digits-from-python",
    "metric": "val_accuracy", "mode": "max",
    "model": Net,
    "data": {"loader": data, "args": {"seed": 0}},
    "max_epochs": 4, "num_samples": 6,
    "space": {
        "width": {"choice": [32, 64, 128]},
        "layers": {"int": [1, 2]},
        "dropout": {"uniform": [0.0, 0.3]},
        "lr": {"loguniform": [1.0e-3, 3.0e-2]},
    },
}, storage="runs", resume=True)  # resume=True: run it again and it shows the finished experiment

# %%
print(results)
best = results.best
print("best config:", best.config)
print(results.trials[["rank", "trial_id", "status", "best_val_accuracy"]].to_string(index=False))

# %% [markdown]
# The best epoch's network, rebuilt from its checkpoint, scores on the held-out split what the run recorded.

# %%
model = best.load_model()
X_test, y_test = data(seed=0)["test"]
with torch.no_grad():
    accuracy = float((model(torch.from_numpy(X_test)).argmax(1).numpy() == y_test).mean())
print(f"test accuracy {accuracy:.6f} (recorded {best.test_scores['test_accuracy']:.6f})")

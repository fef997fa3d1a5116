"""A trial's hyperparameters and the names they may take, without PyTorch: the experiment file is
validated against them before PyTorch is imported (the CLI starts Ray meanwhile)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

import numpy as np

ACTIVATIONS = ("relu", "tanh", "gelu", "sigmoid", "leaky_relu", "elu", "silu")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
CNN_ONLY = ("channels", "kernel_size")


def plain(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config with numpy scalars as Python's own values: BOHB's ConfigSpace proposes np.int64, np.str_
    and np.bool_, which PyTorch's DataLoader (an np.int64 batch_size) and users' code do not all take."""
    return {k: plain(v) if isinstance(v, Mapping) else v.item() if isinstance(v, np.generic) else v
            for k, v in config.items()}


def chosen(config: Mapping[str, Any]) -> dict[str, Any]:
    """A sampled config as the values a trial trains with: a mapping is a conditional branch,
    `optimizer: {name: sgd, lr: ...}` means optimizer=sgd plus the branch's own hyperparameters."""
    flat: dict[str, Any] = {}
    for key, value in plain(config).items():
        if isinstance(value, Mapping):
            flat.update({k: v for k, v in value.items() if k != "name"})
            flat[key] = value.get("name")
        else:
            flat.setdefault(key, value)
    return flat


@dataclass(frozen=True)
class Hyperparams:
    """A trial's hyperparameters with the built-in trainer's defaults filled in."""

    lr: float = 1e-3
    hidden_layers: int | None = None
    hidden_size: int | None = None
    hidden_sizes: tuple[int, ...] | None = None
    activation: str = "relu"
    dropout: float = 0.0
    batch_size: int = 64
    optimizer: str = "adam"
    weight_decay: float = 0.0
    momentum: float = 0.0
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    seed: int | None = None
    channels: tuple[int, ...] = (16, 32)
    kernel_size: int = 3
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Hyperparams":
        """Read a sampled config (see `chosen`)."""
        flat = chosen(config)
        names = {f.name for f in fields(cls)} - {"extra"}
        known = {k: v for k, v in flat.items() if k in names}
        if known.get("hidden_sizes") is not None:
            known["hidden_sizes"] = tuple(int(x) for x in known["hidden_sizes"])
        channels = known.get("channels")
        if isinstance(channels, (int, float)):
            known["channels"] = (int(channels), 2 * int(channels))
        elif channels is not None:
            known["channels"] = tuple(int(x) for x in channels)
        for key in ("hidden_layers", "hidden_size", "batch_size", "kernel_size"):
            if known.get(key) is not None:
                known[key] = int(known[key])
        return cls(**known, extra={k: v for k, v in flat.items() if k not in names})

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Widths of the hidden layers: explicit, or layers x size, or the classic 256, 128."""
        if self.hidden_sizes is not None:
            return self.hidden_sizes
        if self.hidden_layers is None and self.hidden_size is None:
            return (256, 128)
        return (self.hidden_size or 128,) * (2 if self.hidden_layers is None else self.hidden_layers)

"""The models and optimizers a trial's config describes.

With no hyperparameters set, `mlp` is the classic tutorial NeuralNet:
Linear(in->256) ReLU Linear(256->128) ReLU Linear(128->out), trained with Adam.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "silu": nn.SiLU,
}
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
MODELS = ("mlp", "cnn")
CNN_ONLY = ("channels", "kernel_size")


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
        """Read a sampled config; a mapping is a conditional branch: `optimizer: {name: sgd, lr: ...}`
        means optimizer=sgd plus the branch's own hyperparameters."""
        flat: dict[str, Any] = {}
        for key, value in config.items():
            if isinstance(value, Mapping):
                flat.update({k: v for k, v in value.items() if k != "name"})
                flat[key] = value.get("name")
            else:
                flat.setdefault(key, value)
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


def _dense_stack(in_features: int, sizes: tuple[int, ...], hp: Hyperparams, out: int) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for size in sizes:
        layers += [nn.Linear(in_features, size), ACTIVATIONS[hp.activation]()]
        if hp.dropout > 0:
            layers.append(nn.Dropout(hp.dropout))
        in_features = size
    layers.append(nn.Linear(in_features, out))
    return layers


def build_model(kind: str, hp: Hyperparams, input_shape: tuple[int, ...], outputs: int) -> nn.Module:
    """The network for `kind` ('mlp' or 'cnn'); input_shape excludes the batch dimension."""
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), *_dense_stack(math.prod(input_shape), hp.layer_sizes, hp, outputs))
    if len(input_shape) != 3:
        raise ValueError(f"cnn needs image-shaped data (C, H, W), got {input_shape}")
    in_ch, height, width = input_shape
    layers: list[nn.Module] = []
    for ch in hp.channels:
        layers += [nn.Conv2d(in_ch, ch, hp.kernel_size, padding="same"), ACTIVATIONS[hp.activation]()]
        if min(height, width) >= 2:
            layers.append(nn.MaxPool2d(2))
            height, width = height // 2, width // 2
        in_ch = ch
    hidden = (hp.hidden_size or 128,) * (1 if hp.hidden_layers is None else hp.hidden_layers)
    return nn.Sequential(*layers, nn.Flatten(), *_dense_stack(in_ch * height * width, hidden, hp, outputs))


def build_optimizer(hp: Hyperparams, params) -> torch.optim.Optimizer:
    """The optimizer the config names, with its settings applied."""
    if hp.optimizer == "sgd":
        return torch.optim.SGD(params, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay,
                               nesterov=hp.nesterov and hp.momentum > 0)
    if hp.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay)
    cls = torch.optim.AdamW if hp.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=hp.lr, betas=(hp.beta1, hp.beta2), weight_decay=hp.weight_decay)


def apply_hyperparams(optimizer: torch.optim.Optimizer, hp: Hyperparams) -> None:
    """Re-apply lr/weight decay/momentum after loading optimizer state (PBT may have changed them)."""
    for group in optimizer.param_groups:
        group["lr"] = hp.lr
        group["weight_decay"] = hp.weight_decay
        if "momentum" in group:
            group["momentum"] = hp.momentum

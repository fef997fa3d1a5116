"""The models and optimizers a trial's config describes.

With no hyperparameters set, `mlp` is the classic tutorial NeuralNet:
Linear(in->256) ReLU Linear(256->128) ReLU Linear(128->out), trained with Adam.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from raytune_app.spec.hyperparams import Hyperparams

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "silu": nn.SiLU,
}

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

"""A user model whose training steps take time without taking CPU: for tests that must catch trials mid-run
(kill, Ctrl-C, a lost node, a live TensorBoard) while other tests share the two cores. It is the built-in
MLP's shape (hidden_size, activation), so the built-in training loop, checkpoints and HParams work as usual."""

import math
import time

from torch import nn


class SlowNet(nn.Module):
    def __init__(self, input_shape, num_outputs, hidden_size=32, activation="relu", step_s=0.02):
        super().__init__()
        act = {"relu": nn.ReLU, "tanh": nn.Tanh}[activation]
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), hidden_size), act(),
                                 nn.Linear(hidden_size, num_outputs))
        self.step_s = step_s

    def forward(self, x):
        if self.training:
            time.sleep(self.step_s)  # one training batch
        return self.net(x)

"""The classic tutorial's network, as a user's own model file: Linear 128 -> 256 -> 128 -> 10 with ReLUs.

raytune-app calls it with the hyperparameters its signature names (`hidden1`, `hidden2`, `dropout`) and, as
it names them, the data's `input_shape` and `num_outputs`; the built-in loop trains it (Adam, cross-entropy).
"""

import math

from torch import nn


class NeuralNet(nn.Module):
    def __init__(self, input_shape=(128,), num_outputs=10, hidden1=256, hidden2=128, dropout=0.0):
        super().__init__()
        self.fc1 = nn.Linear(math.prod(input_shape), hidden1)
        self.fc2 = nn.Linear(hidden1, hidden2)
        self.fc3 = nn.Linear(hidden2, num_outputs)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        x = self.dropout(self.relu(self.fc1(x.flatten(1))))
        x = self.dropout(self.relu(self.fc2(x)))
        return self.fc3(x)

"""A custom Ray Tune training function: what the built-in loop lacks -- a cosine learning-rate schedule with
linear warm-up, gradient clipping, and mixed precision on CUDA. Plain Ray Tune code: it runs unchanged under
`tune.Tuner(train)` too.

Data: the classic tutorial's 128 features and 10 classes; model: models/neural_net.py, imported as a sibling.
"""

import math
import os
import tempfile

import torch
from ray import tune
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from torch import nn

from models.neural_net import NeuralNet


def _data(seed=0):
    X, y = make_classification(n_samples=3000, n_features=128, n_informative=32, n_redundant=0, n_classes=10,
                               n_clusters_per_class=1, class_sep=1.5, random_state=seed)
    X = ((X - X.mean(0)) / X.std(0)).astype("float32")
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, random_state=seed)
    X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=0.25, random_state=seed)
    return [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in ((X_train, y_train), (X_val, y_val), (X_test, y_test))]


def _accuracy(model, X, y, device):
    model.eval()
    with torch.no_grad():
        out = model(X.to(device))
    return (out.argmax(1).cpu() == y).float().mean().item(), nn.functional.cross_entropy(out.cpu().float(), y).item()


def train(config):
    torch.manual_seed(config.get("seed", 0))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = _data()
    model = NeuralNet(hidden1=config["hidden1"], hidden2=config["hidden2"]).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    epochs, warmup = config["epochs"], config["warmup_epochs"]
    steps_per_epoch = math.ceil(len(X_train) / config["batch_size"])

    def factor(step):  # linear warm-up, then cosine decay to zero
        if step < warmup * steps_per_epoch:
            return (step + 1) / (warmup * steps_per_epoch)
        progress = (step - warmup * steps_per_epoch) / max(1, (epochs - warmup) * steps_per_epoch)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    scaler = torch.amp.GradScaler(enabled=device.type == "cuda")
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as folder:
            state = torch.load(os.path.join(folder, "state.pt"), map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        start = state["epoch"]

    for epoch in range(start + 1, epochs + 1):
        model.train()
        order = torch.randperm(len(X_train), generator=torch.Generator().manual_seed(epoch))
        for i in range(0, len(X_train), config["batch_size"]):
            idx = order[i:i + config["batch_size"]]
            with torch.autocast(device.type, enabled=device.type == "cuda"):
                loss = nn.functional.cross_entropy(model(X_train[idx].to(device)), y_train[idx].to(device))
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), config["clip_norm"])
            scaler.step(optimizer)
            scaler.update()
            schedule.step()
        val_accuracy, val_loss = _accuracy(model, X_val, y_val, device)
        test_accuracy, _ = _accuracy(model, X_test, y_test, device)
        with tempfile.TemporaryDirectory() as folder:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "schedule": schedule.state_dict(), "epoch": epoch}, os.path.join(folder, "state.pt"))
            tune.report({"epoch": epoch, "val_accuracy": val_accuracy, "val_loss": val_loss,
                         "test_accuracy": test_accuracy, "lr": schedule.get_last_lr()[0]},
                        checkpoint=tune.Checkpoint.from_directory(folder))

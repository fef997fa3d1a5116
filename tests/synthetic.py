"""Experiment folders written without Ray: the files a real run leaves (our spec, Ray's result.json per trial,
summary.json and trials.csv), with curves whose truth the test knows. Used by the report tests and by
benchmarks/report_speed.py."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

# the default job's space (search_spaces/mlp_digits.yaml)
SPACE = {"lr": {"loguniform": [1.0e-4, 1.0e-1]}, "hidden_layers": {"int": [1, 3]},
         "hidden_size": {"choice": [64, 128, 256, 512]}, "activation": {"choice": ["relu", "tanh", "gelu"]},
         "dropout": {"uniform": [0.0, 0.5]}, "batch_size": {"choice": [32, 64, 128]},
         "optimizer": {"choice": ["adam", "adamw", "sgd"]}, "weight_decay": {"loguniform": [1.0e-6, 1.0e-2]},
         "momentum": 0.9}
START = 1_700_000_000.0


def sample(space: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """One config drawn from a flat space of loguniform, uniform, int and choice entries."""
    config = {}
    for name, entry in space.items():
        if not isinstance(entry, dict):
            config[name] = entry
            continue
        (kind, args), = entry.items()
        if kind == "loguniform":
            config[name] = float(math.exp(rng.uniform(math.log(args[0]), math.log(args[1]))))
        elif kind == "uniform":
            config[name] = float(rng.uniform(*args))
        elif kind == "int":
            config[name] = int(rng.integers(args[0], args[1] + 1))
        else:
            config[name] = args[int(rng.integers(len(args)))]
    return config


def write_folder(exp: Path, configs: list[dict], curve: Callable[[int, int], float], ends: list[int],
                 statuses: list[str], *, max_epochs: int, space: dict, metric: str = "val_accuracy",
                 mode: str = "max") -> Path:
    """An experiment folder where trial i (proposed i-th) has `configs[i]`, reports `curve(i, epoch)` for
    epochs 1..ends[i] (a checkpoint each) and has status `statuses[i]` in trials.csv."""
    from raytune_app.results.reader import RayTrial, load_experiment
    from raytune_app.results.report import trial_row

    exp.mkdir(parents=True)
    (exp / "raytune_app_spec.json").write_text(json.dumps(
        {"name": exp.name, "metric": metric, "mode": mode, "max_epochs": max_epochs, "space": space}))
    clock = START
    for i, (config, end) in enumerate(zip(configs, ends)):
        trial_id = f"{i:05d}"
        folder = exp / f"trial_{trial_id}"
        folder.mkdir()
        lines = []
        for epoch in range(1, end + 1):
            clock += 0.37
            value = curve(i, epoch)
            lines.append(json.dumps({
                metric: value, "val_loss": 1.0 - value if mode == "max" else value, "train_loss": 0.9 / epoch,
                "epoch": epoch, "timestamp": int(clock), "time_total_s": 0.37 * epoch, "time_this_iter_s": 0.37,
                "iterations_since_restore": epoch, "training_iteration": epoch, "trial_id": trial_id,
                "experiment_tag": f"{i + 1}_lr={config.get('lr', 0):.4g}", "done": epoch == end,
                "checkpoint_dir_name": f"checkpoint_{epoch - 1:06d}", "config": config}))
        (folder / "result.json").write_text("\n".join(lines) + "\n")
    ended = {f"{i:05d}": RayTrial("TERMINATED", {}) for i in range(len(configs))}  # as Ray's state lists them
    e = load_experiment(exp, ray_states=ended, use_summary=False)
    listed = dict(zip((f"{i:05d}" for i in range(len(configs))), statuses))
    for t in e.trials:
        t.status = listed[t.trial_id]
    rows = [trial_row(e, t) for t in e.trials]
    import pandas as pd

    pd.DataFrame(rows).to_csv(exp / "trials.csv", index=False)
    best = e.best_trial
    summary = {"experiment": exp.name, "path": str(exp), "metric": metric, "mode": mode, "num_trials": len(rows),
               "trials_by_status": {s: statuses.count(s) for s in dict.fromkeys(statuses)},
               "best": best and {"trial_id": best.trial_id, metric: e.best_value(best), "config": best.config}}
    (exp / "summary.json").write_text(json.dumps(summary))
    return exp


def asha_like(exp: Path, trials: int, *, seed: int = 0, max_epochs: int = 30,
              quality: Callable[[dict], float] | None = None) -> Path:
    """The default job's shape: ASHA rungs at epochs 1, 3, 9, 27 keep the best third; a few trials fail or are
    cut by the time budget. By default only `lr` decides how good a trial gets (best near 10^-2.5)."""
    rng = np.random.default_rng(seed)
    configs = [sample(SPACE, rng) for _ in range(trials)]
    quality = quality or (lambda c: 0.97 - 0.08 * (math.log10(c["lr"]) + 2.5) ** 2)
    q = np.array([quality(c) for c in configs]) + rng.normal(scale=0.005, size=trials)
    ends, statuses = [max_epochs] * trials, ["completed"] * trials
    alive = list(range(trials))
    for rung in (1, 3, 9, 27):
        if rung >= max_epochs:
            break
        keep = set(sorted(alive, key=lambda i: -q[i])[:max(1, len(alive) // 3)])
        for i in alive:
            if i not in keep:
                ends[i], statuses[i] = rung, "early_stopped"
        alive = sorted(keep)
    for i in rng.choice(trials, size=max(1, trials // 30), replace=False):
        ends[i], statuses[i] = int(rng.integers(1, ends[i] + 1)), "error"
    for i in range(trials - max(1, trials // 40), trials):  # the last proposals: still running at the budget
        if statuses[i] != "error":
            ends[i], statuses[i] = min(ends[i], 2), "time_budget"

    pace = rng.uniform(1.5, 8, size=trials)  # epochs to get two thirds of the way

    def curve(i: int, epoch: int) -> float:
        return float(q[i] * (1 - math.exp(-epoch / pace[i])) + 0.003 * math.sin(epoch + i))

    return write_folder(exp, configs, curve, ends, statuses, max_epochs=max_epochs, space=SPACE)

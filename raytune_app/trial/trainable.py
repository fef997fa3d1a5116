"""The Ray Tune function trainable: trains one config, reports every epoch, checkpoints the epochs that matter.

Checkpoints hold model, optimizer, epoch and RNG state, so a restarted trial
continues at the epoch after its checkpoint with the same random stream. Which
epochs save one: trial/checkpoint.py's CheckpointRule.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
import warnings
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
from ray import tune

from raytune_app.data.datasets import Dataset
from raytune_app.ray_compat.settings import CHECKPOINT_LOGGER
from raytune_app.spec.hyperparams import Hyperparams
from raytune_app.spec.metrics import worst_value
from raytune_app.trial.best_so_far import DriversBest
from raytune_app.trial.checkpoint import CheckpointRule, load_checkpoint, save_checkpoint
from raytune_app.trial.costs import TrialCosts
from raytune_app.trial.loop import evaluate, train_epoch
from raytune_app.trial.models import apply_hyperparams, build_optimizer
from raytune_app.trial.user_model import build_trial_model, import_here
from raytune_app.trial.worker_exit import quiet_unraisable_exit


@dataclass(frozen=True)
class TrialSettings:
    """What every trial of an experiment shares (the config holds what differs)."""

    model: str
    max_epochs: int
    checkpoints: CheckpointRule
    seed: int
    cpus_per_trial: float
    gpus_per_trial: float
    code_dir: str = ""  # the experiment's folder, for a user's model or loader
    data_spec: Any = None  # the `data:` section, when each trial calls the user's loader itself (on_workers)
    secondary: tuple[str, ...] = ()  # the model's measurements that objectives or constraints name (costs.py)


def trial_seed(config: Mapping[str, Any], base_seed: int) -> int:
    """The trial's seed: `seed` from its config, else derived from the config and --seed,
    so the same config trains the same way in every run."""
    if config.get("seed") is not None:
        return int(config["seed"])
    text = json.dumps(config, sort_keys=True, default=str)
    return (zlib.crc32(text.encode()) + 1_000_003 * base_seed) % (2**31)


def as_tensor(array, device: torch.device) -> torch.Tensor:
    """Zero-copy view of an object-store array (read-only there; training never writes to it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array).to(device)


def load_on_worker(settings: TrialSettings) -> Dataset:
    """The data of a user's loader that runs where the trial runs (`data.on_workers`)."""
    from raytune_app.data.user_loader import load_user_data

    spec = settings.data_spec
    return load_user_data(spec, loader=import_here(spec.loader, spec.code_dir)).without_test()


def require_cuda(gpus: float) -> None:
    """Never train on the CPU while holding a GPU: a worker whose PyTorch sees no CUDA device fails loudly."""
    if gpus > 0 and not torch.cuda.is_available():
        raise RuntimeError(f"the trial asked for {gpus:g} GPU(s) but PyTorch on this worker "
                           f"({os.uname().nodename}) sees no CUDA device (torch {torch.__version__}, "
                           f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}); install a CUDA build "
                           "of PyTorch there, or run with --gpus-per-trial 0")


def resume(checkpoint, model, optimizer, gen: torch.Generator, hp: Hyperparams, device: torch.device) -> int:
    """Load a trial's checkpoint into model, optimizer and random streams; the epoch to train next."""
    with checkpoint.as_directory() as ckpt_dir:
        state = load_checkpoint(ckpt_dir)  # on the CPU: RNG states must stay there; load_state_dict moves the rest
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    apply_hyperparams(optimizer, hp)  # PBT may hand over a checkpoint with a new config
    gen.set_state(state["rng"]["shuffle"])
    torch.set_rng_state(state["rng"]["torch"])
    if "cuda" in state["rng"] and device.type == "cuda":
        torch.cuda.set_rng_state(state["rng"]["cuda"], device)
    return state["epoch"] + 1


def epoch_metrics(epoch: int, train_loss: float, val: dict[str, float], task: str, started: float) -> dict:
    """What a trial reports for an epoch; a diverged one reports the worst value of every score."""
    metrics = {"epoch": epoch, "train_loss": train_loss, "val_loss": val["loss"],
               f"val_{'accuracy' if task == 'classification' else 'rmse'}": val.get("accuracy", val.get("rmse")),
               "epoch_time_s": time.perf_counter() - started, "diverged": False,
               "reported_at": time.time()}  # a float wall clock across trials: Ray's `timestamp` is whole seconds
    if not all(math.isfinite(metrics[k]) for k in ("train_loss", "val_loss")):
        metrics |= {k: worst_value(k) for k in metrics if k.startswith(("train_", "val_"))}
        metrics["diverged"] = True
    return metrics


def report_epoch(report: Callable, metrics: dict, save: Callable[[str], None] | None, checkpoint_cls: type) -> bool:
    """Report an epoch (`tune.report`, or `ray.train.report` from a data-parallel worker), with the checkpoint
    `save(folder)` writes unless save is None; False when the trial ends here: it diverged."""
    if metrics["diverged"] or save is None:
        report(metrics)
        return not metrics["diverged"]
    with tempfile.TemporaryDirectory() as tmp:
        save(tmp)
        report(metrics, checkpoint=checkpoint_cls.from_directory(tmp))
    return True


def train_trial(config: dict, data: Dataset | None, settings: TrialSettings) -> None:
    """Train one trial, resuming from `tune.get_checkpoint()` when Ray restarts it."""
    quiet_unraisable_exit()  # Ray ends this worker with SIGTERM once the trial stops (worker_exit.py)
    # one "Checkpoint successfully created" line per epoch and trial would drown the driver's output
    logging.getLogger(CHECKPOINT_LOGGER).setLevel(logging.WARNING)
    torch.set_num_threads(max(1, int(settings.cpus_per_trial)))
    use_cuda = settings.gpus_per_trial > 0
    require_cuda(settings.gpus_per_trial)
    device = torch.device("cuda" if use_cuda else "cpu")
    hp = Hyperparams.from_config(config)
    seed = trial_seed(config, settings.seed)
    torch.manual_seed(seed)
    if data is None:
        data = load_on_worker(settings)
    model = build_trial_model(settings.model, settings.code_dir, config, data.input_shape, data.outputs).to(device)
    optimizer = build_optimizer(hp, model.parameters())
    gen = torch.Generator().manual_seed(seed)

    first_epoch = 1
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        first_epoch = resume(checkpoint, model, optimizer, gen, hp, device)

    X_train, y_train, X_val, y_val = (as_tensor(a, device) for a in (data.X_train, data.y_train, data.X_val, data.y_val))
    costs = TrialCosts(settings.secondary, model, X_val[:1], checkpoint)
    if first_epoch > settings.max_epochs:
        # PBT handed this trial another one's final checkpoint: nothing is left to train, so it reports that
        # model's scores as its last epoch (without a checkpoint of its own) instead of ending where it was
        started = time.perf_counter()
        train_loss = evaluate(model, X_train, y_train, data)["loss"]
        tune.report(epoch_metrics(settings.max_epochs, train_loss, evaluate(model, X_val, y_val, data), data.task,
                                  started))
        return
    best = DriversBest()
    for epoch in range(first_epoch, settings.max_epochs + 1):
        started = time.perf_counter()
        best.ask()  # answered while the epoch trains
        train_loss = train_epoch(model, optimizer, X_train, y_train, data, hp.batch_size, gen)
        metrics = epoch_metrics(epoch, train_loss, evaluate(model, X_val, y_val, data), data.task, started)
        metrics |= costs.after_epoch(metrics["epoch_time_s"])
        save = (lambda folder: save_checkpoint(folder, model, optimizer, epoch, gen, device)) \
            if settings.checkpoints.due(epoch, metrics, best.known()) else None
        if not report_epoch(tune.report, metrics, costs.saving(save), tune.Checkpoint):
            return

"""Data-parallel trials: one config trained with PyTorch DDP over N Ray Train workers, inside a Tune trial.

The trial's Tune function is the Train driver (Ray Train V2's "Tune + Train" pattern): it starts a
`TorchTrainer` whose workers run `train_worker`, and hands each epoch's report, with rank 0's checkpoint,
on to Tune. Tune therefore keeps a data-parallel trial's checkpoints in its trial folder like any other
trial's: schedulers stop and pause it, PBT copies them, `--max-failures` and `resume` restart from them,
`best --export` reads them.

Why not Ray's `TuneReportCallback`: it forwards rank 0's metrics and only the *path* of Train's checkpoint,
so Tune would hold no checkpoint of the trial (nothing to pause to, to exploit, to retry from or to export).
`_Relay` is the same hand-over with the checkpoint.

Equivalence with a one-worker trial (same seed, same config): the batch size is the global one, each worker
trains on its share of every batch (see loop.train_epoch), DDP averages the gradients, the training loss is
averaged over the workers and every worker scores the whole validation split; so the reported history is the
one-worker history up to floating-point rounding.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import pyarrow.fs
import ray
import ray.train
import ray.train.torch
import torch
import torch.distributed as dist
from ray import tune
from ray.util.queue import Queue

from raytune_app.data.datasets import Dataset
from raytune_app.spec.hyperparams import Hyperparams
from raytune_app.trial.best_so_far import DriversBest
from raytune_app.trial.checkpoint import save_checkpoint
from raytune_app.trial.costs import TrialCosts
from raytune_app.trial.loop import evaluate, train_epoch
from raytune_app.trial.models import build_optimizer
from raytune_app.trial.user_model import build_trial_model
from raytune_app.trial.trainable import (TrialSettings, as_tensor, epoch_metrics, report_epoch, require_cuda,
                                         resume, trial_seed)
from raytune_app.trial.worker_exit import quiet_unraisable_exit

TRAIN_RUN = "ray_train"  # Ray Train's run folder inside the trial folder: checkpoints pass through it to Tune
WORKER_KEYS = ("worker_pid", "worker_node")  # what each worker adds to its report: where it ran


@dataclass(frozen=True)
class DataParallelSettings:
    """A data-parallel trial's settings: the trial's own, and its workers'."""

    trial: TrialSettings
    workers: int
    cpus_per_worker: float
    gpus_per_worker: float

    @property
    def backend(self) -> str:
        """gloo on CPUs; NCCL needs a GPU of its own per worker, so workers sharing GPUs use gloo too."""
        return "nccl" if self.gpus_per_worker >= 1 else "gloo"


def data_parallel_trainable(data: Dataset, settings: DataParallelSettings):
    """The Tune trainable of a data-parallel trial, its data in the object store.

    The function only coordinates; the workers hold the CPUs and GPUs, in Ray Train's own placement group
    (the resource checks and the default concurrency count them, see cluster/ray_session.py). Tune refuses a
    trial whose bundle asks for nothing at all; one byte of memory is a request every node grants beside
    workers that take all its CPUs."""
    fn = tune.with_parameters(train_data_parallel, data=data, settings=settings)
    return tune.with_resources(fn, {"cpu": 0, "memory": 1})


class _Relay(ray.train.UserCallback):
    """Runs in Ray Train's controller: hands each report of the workers (rank 0's metrics, which are the
    workers' average, where every worker ran, and the checkpoint) to the trial's function."""

    def __init__(self, queue: Queue):
        self._queue = queue

    def after_report(self, run_context, metrics: list[dict], checkpoint) -> None:
        report = {k: v for k, v in metrics[0].items() if k not in WORKER_KEYS}
        report |= {f"{key}s": [m[key] for m in metrics] for key in WORKER_KEYS}
        self._queue.put((report, checkpoint))  # blocks until the function took the previous one


def _remove(fs: pyarrow.fs.FileSystem, path: str) -> None:
    if fs.get_file_info(path).type != pyarrow.fs.FileType.NotFound:
        fs.delete_dir(path)


def train_data_parallel(config: dict, data: Dataset, settings: DataParallelSettings) -> None:
    """Tune function of a data-parallel trial: run the TorchTrainer, report each of its epochs to Tune.

    Train's own run lives in the trial folder (TRAIN_RUN), a transit area for checkpoints emptied before and
    after each attempt. Train retries nothing itself (max_failures=0): a failed worker fails the trial and Tune
    retries it from its checkpoint (--max-failures), so that one count and one record cover every failure."""
    quiet_unraisable_exit()  # Ray ends this worker with SIGTERM once the trial stops (worker_exit.py)
    # DeveloperAPI, public: the trial folder on the experiment's storage (a shared folder or a bucket)
    trial_storage = tune.get_context().get_storage()
    fs, run_path = trial_storage.storage_filesystem, f"{trial_storage.trial_fs_path}/{TRAIN_RUN}"
    _remove(fs, run_path)  # what a killed attempt left: Train would restore its own state from it
    queue = Queue(maxsize=1, actor_options={"num_cpus": 0})
    trainer = ray.train.torch.TorchTrainer(
        train_worker,
        train_loop_config={"config": config, "data": data, "settings": settings,
                           "checkpoint": tune.get_checkpoint()},
        scaling_config=ray.train.ScalingConfig(
            num_workers=settings.workers, use_gpu=settings.gpus_per_worker > 0,
            resources_per_worker={"CPU": settings.cpus_per_worker, "GPU": settings.gpus_per_worker}),
        torch_config=ray.train.torch.TorchConfig(backend=settings.backend),
        run_config=ray.train.RunConfig(
            name=TRAIN_RUN, storage_path=trial_storage.trial_fs_path, storage_filesystem=fs,
            callbacks=[_Relay(queue)], failure_config=ray.train.FailureConfig(max_failures=0),
            logging_config=ray.train.LoggingConfig(log_level="WARNING")))
    failure: list[BaseException] = []

    def fit() -> None:
        try:
            trainer.fit()
        except BaseException as exc:  # re-raised below, in the trial's thread, so Tune records it
            failure.append(exc)
        finally:
            queue.put(None)

    threading.Thread(target=fit, name="raytune-app-train", daemon=True).start()
    try:
        while (item := queue.get()) is not None:
            metrics, checkpoint = item
            if checkpoint is None:
                tune.report(metrics)
                continue
            tune.report(metrics, checkpoint=tune.Checkpoint(checkpoint.path, checkpoint.filesystem))
            fs.delete_dir(checkpoint.path)  # Tune has its own copy in the trial folder now
    finally:  # also when Tune stops the trial (its report raises SystemExit); the workers end with this actor
        _remove(fs, run_path)
    if failure:
        raise failure[0]


def _node_address() -> str:
    """This node's address as Ray knows it (the host may have another, which is what the OS would say)."""
    node = ray.get_runtime_context().get_node_id()
    return next(n["NodeManagerAddress"] for n in ray.nodes() if n["NodeID"] == node)


def _mean_over_workers(value: float, device: torch.device) -> float:
    total = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return total.item() / dist.get_world_size()


def train_worker(loop_config: dict) -> None:
    """One Ray Train worker: its share of every batch under DDP; rank 0 writes the checkpoints, and every
    worker resumes from the trial's checkpoint when Tune restarts the trial."""
    quiet_unraisable_exit()  # a worker of Ray Train's placement group, ended like a trial's (worker_exit.py)
    config, data, settings = loop_config["config"], loop_config["data"], loop_config["settings"]
    trial: TrialSettings = settings.trial
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    torch.set_num_threads(max(1, int(settings.cpus_per_worker)))
    require_cuda(settings.gpus_per_worker)
    device = ray.train.torch.get_device()
    hp = Hyperparams.from_config(config)
    seed = trial_seed(config, trial.seed)
    torch.manual_seed(seed)  # the same initial weights everywhere (DDP also broadcasts rank 0's)
    model = build_trial_model(trial.model, trial.code_dir, config, data.input_shape, data.outputs)
    ddp = ray.train.torch.prepare_model(model)  # on this worker's device, wrapped in DistributedDataParallel
    optimizer = build_optimizer(hp, ddp.parameters())
    gen = torch.Generator().manual_seed(seed)  # the same shuffle on every worker: each takes its share of it
    first_epoch = resume(loop_config["checkpoint"], model, optimizer, gen, hp, device) \
        if loop_config["checkpoint"] else 1

    X_train, y_train, X_val, y_val = (as_tensor(a, device) for a in (data.X_train, data.y_train, data.X_val, data.y_val))
    costs = TrialCosts(trial.secondary, model, X_val[:1], loop_config["checkpoint"])
    where = {"worker_pid": os.getpid(), "worker_node": _node_address()}
    best = DriversBest()  # rank 0 decides which epochs to save
    for epoch in range(first_epoch, trial.max_epochs + 1):
        started = time.perf_counter()
        if rank == 0:
            best.ask()
        train_loss = _mean_over_workers(
            train_epoch(ddp, optimizer, X_train, y_train, data, hp.batch_size, gen, rank, world), device)
        metrics = epoch_metrics(epoch, train_loss, evaluate(model, X_val, y_val, data), data.task, started) | where
        metrics |= costs.after_epoch(metrics["epoch_time_s"])
        save = (lambda folder: save_checkpoint(folder, model, optimizer, epoch, gen, device)) \
            if rank == 0 and trial.checkpoints.due(epoch, metrics, best.known()) else None
        if not report_epoch(ray.train.report, metrics, costs.saving(save), ray.train.Checkpoint):
            return

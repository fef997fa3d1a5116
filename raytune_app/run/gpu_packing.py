"""`gpus_per_trial: auto`: measure one trial's peak CUDA memory, then pack as many trials per GPU as fit.

The probe is a Ray task on one GPU of the cluster (the driver's machine may have none). For each of the
largest configs the space can produce (`largest_configs`), it builds the model a trial builds (the built-in
one, or the user's `model: FILE.py:NAME`) and runs one training step (forward, backward, optimizer step) on
one batch of the config's batch size, reading PyTorch's peak reserved memory. A training function of the
user's (`trainable:`) trains its own way: `auto` is refused for it before Ray starts (spec/load.py). A trial
counts as the probe's whole footprint on the device (its CUDA context included) plus a margin, and
`gpus_per_trial` becomes 1/k for the k trials that fit in a GPU (`trials_per_gpu`).

Without a GPU anywhere in the cluster, `auto` means no GPU: the trials train on CPUs and the driver says so,
so one file runs on a laptop and on a GPU cluster alike. A GPU that PyTorch cannot use is an error (exit 2).
"""

from __future__ import annotations

import itertools
import logging
import math
from numbers import Real
from typing import Any, Mapping

from raytune_app.errors import InputError
from raytune_app.spec.load import ExperimentSpec, GpuPackingSpec, revalidated
from raytune_app.spec.space import Param

log = logging.getLogger(__name__)
HEADROOM = 1.25  # on each trial's measured peak: allocator fragmentation, cuDNN workspaces, other batch shapes
DEVICE_SHARE = 0.9  # of each GPU's memory that trials may fill; the rest stays free
MAX_CONFIGS = 64  # configs the probe measures at most
PROBE_TIMEOUT_S = 600  # for a GPU to be free (or started by an autoscaler) and the probe to run
GIB = 2**30


def _number(x: Any) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool)


def _largest_values(param: Param) -> list[Any]:
    """The values of one parameter that can make the biggest model: every number of the built-in models grows
    with its value (widths, depth, channels, kernel, batch size), so only the largest is kept; other options
    (lists of widths, optimizers, activations, branches) are all kept."""
    if param.branches:
        return [c for branch in param.branches for c in _largest_combinations(branch)]
    if param.kind == "constant":
        return [param.args[0]]
    if param.is_continuous:
        return [param.args[1]]
    if all(_number(o) for o in param.args):
        return [max(param.args)]
    return list(param.args)


def _largest_combinations(params: Mapping[str, Param]) -> list[dict[str, Any]]:
    names = list(params)
    return [dict(zip(names, values)) for values in itertools.product(*(_largest_values(params[n]) for n in names))]


def largest_configs(params: Mapping[str, Param], limit: int = MAX_CONFIGS) -> list[dict[str, Any]]:
    """The configs the probe measures: the largest the space can produce, at most `limit` of them."""
    return _largest_combinations(params)[:limit]


def trials_per_gpu(trial_bytes: int, device_bytes: int) -> int:
    """How many trials of `trial_bytes` peak share a GPU of `device_bytes`: as many as fit with HEADROOM each
    in DEVICE_SHARE of it, at least 1 (a trial that needs most of a GPU gets all of it), 0 when it needs more
    than the whole GPU."""
    if trial_bytes > device_bytes:
        return 0
    return max(1, math.floor(device_bytes * DEVICE_SHARE / (trial_bytes * HEADROOM)))


def gpu_fraction(trials: int) -> float:
    """1/trials rounded down to Ray's resource precision (0.0001), so that `trials` of them fit in 1 GPU."""
    return math.floor(10_000 / trials) / 10_000


def probe_step(model: str, code_dir: str, config: dict, data, device) -> None:
    """One training step (forward, backward, optimizer step) on one batch of the config's batch size, on
    `device`, of the model a trial of `config` trains: the built-in one, or the user's, built as trials build it."""
    import torch

    from raytune_app.spec.hyperparams import Hyperparams
    from raytune_app.trial.loop import train_epoch
    from raytune_app.trial.models import build_optimizer
    from raytune_app.trial.trainable import as_tensor
    from raytune_app.trial.user_model import build_trial_model

    hp = Hyperparams.from_config(config)
    net = build_trial_model(model, code_dir, config, data.input_shape, data.outputs).to(device)
    optimizer = build_optimizer(hp, net.parameters())
    rows = torch.arange(hp.batch_size) % len(data.X_train)  # one whole batch, even from a small split
    X, y = (as_tensor(a, torch.device("cpu"))[rows].to(device) for a in (data.X_train, data.y_train))
    train_epoch(net, optimizer, X, y, data, hp.batch_size, torch.Generator().manual_seed(0))


def _probe(model: str, code_dir: str, data, configs: list[dict]) -> dict[str, Any]:
    """On a GPU: (device, memory, memory in use with just a CUDA context, peak per config) or the problem."""
    import os

    import torch

    if not torch.cuda.is_available():
        return {"problem": f"PyTorch on the GPU node {os.uname().nodename} sees no CUDA device (torch "
                           f"{torch.__version__}, CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r})"}
    device = torch.device("cuda")
    torch.zeros(1, device=device)  # the CUDA context: part of every trial's footprint
    free, total = torch.cuda.mem_get_info(device)
    peaks = []
    for config in configs:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        probe_step(model, code_dir, config, data, device)
        peaks.append(torch.cuda.max_memory_reserved(device))
    return {"device": torch.cuda.get_device_name(device), "total": total, "context": total - free, "peaks": peaks}


def _cluster_has_gpus() -> bool:
    from raytune_app.cluster.ray_session import cluster_nodes

    return any(r.get("GPU", 0) > 0 for r in cluster_nodes())


def pack_trials(spec: ExperimentSpec, data, source: str) -> ExperimentSpec:
    """The spec with `gpus_per_trial: auto` resolved (and what was measured, for the summary); prints it."""
    import ray

    key = f"{source}: resources.gpus_per_trial: auto"
    if not _cluster_has_gpus():
        packing = GpuPackingSpec(gpus_per_trial=0.0, reason="the Ray cluster has no GPUs: trials train on CPUs")
    else:
        configs = largest_configs(spec.params)
        probe = ray.remote(num_gpus=1)(_probe).remote(spec.model, spec.code_dir, data, configs)
        try:
            found = ray.get(probe, timeout=PROBE_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError:
            ray.cancel(probe, force=True)
            raise InputError([f"{key}: no GPU of the Ray cluster was free for the memory probe within "
                              f"{PROBE_TIMEOUT_S} s; set gpus_per_trial to a number"]) from None
        if "problem" in found:
            raise InputError([f"{key}: {found['problem']}; install a CUDA build of PyTorch there, "
                              "or set gpus_per_trial to 0"])
        peak = max(found["peaks"])
        largest = configs[found["peaks"].index(peak)]
        trial = found["context"] + peak
        trials = trials_per_gpu(trial, found["total"])
        if not trials:
            raise InputError([f"{key}: one trial of the largest config ({largest}) needs {trial / GIB:.1f} GiB, "
                              f"more than a whole {found['device']} ({found['total'] / GIB:.1f} GiB); use "
                              "workers_per_trial, or a space of smaller models"])
        packing = GpuPackingSpec(
            gpus_per_trial=gpu_fraction(trials), device=found["device"], device_gib=round(found["total"] / GIB, 2),
            trial_peak_gib=round(trial / GIB, 3), trials_per_gpu=trials, largest_config=largest,
            reason=f"one trial peaks at {trial / GIB:.2f} GiB (CUDA context included; the largest of "
                   f"{len(configs)} config(s) probed, one training step on one batch) on a {found['device']} of "
                   f"{found['total'] / GIB:.1f} GiB: {trials} trial(s) per GPU, each with {HEADROOM - 1:.0%} "
                   f"headroom in {DEVICE_SHARE:.0%} of the GPU")
    log.info(f"gpus_per_trial auto: {packing.reason}; gpus_per_trial = {packing.gpus_per_trial:g}")
    resources = {**spec.resources.model_dump(), "gpus_per_trial": packing.gpus_per_trial}
    return revalidated(spec, source, resources=resources, gpu_packing=packing)

"""Starting or joining Ray, and checking that trials can ever be placed on it."""

from __future__ import annotations

import logging

import ray

from .errors import InputError


def connect(address: str | None, dashboard: bool = False, dashboard_host: str = "127.0.0.1") -> None:
    """Join the cluster at `address`, or start a local Ray on every core of this machine."""
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
    else:
        ray.init(include_dashboard=dashboard, dashboard_host=dashboard_host, logging_level=logging.WARNING)


def trial_capacity(cpus_per_trial: float, gpus_per_trial: float, source: str) -> int:
    """How many trials fit at once; InputError when a trial fits on no node at all."""
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if gpus_per_trial > 0 and not any(r.get("GPU", 0) > 0 for r in nodes):
        raise InputError([f"{source}: resources.gpus_per_trial: {gpus_per_trial} GPUs per trial, "
                          "but the Ray cluster has no GPUs (use --gpus-per-trial 0)"])
    fits = [r for r in nodes if r.get("CPU", 0) >= cpus_per_trial and r.get("GPU", 0) >= gpus_per_trial]
    if not fits:
        most = max((r.get("CPU", 0) for r in nodes), default=0)
        raise InputError([f"{source}: resources.cpus_per_trial: {cpus_per_trial} CPUs per trial, "
                          f"but no node of the Ray cluster offers that many (largest: {most:g})"])
    total = 0
    for r in fits:
        per_node = int(r.get("CPU", 0) // cpus_per_trial)
        if gpus_per_trial > 0:
            per_node = min(per_node, int(r.get("GPU", 0) // gpus_per_trial))
        total += per_node
    return max(1, total)

"""Starting or joining Ray, and checking that trials can ever be placed on it."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import ray

from raytune_app import storage
from raytune_app.errors import InputError
from raytune_app.ray_compat.settings import without_idle_workers


MIB = 1024**2
OBJECT_STORE_FLOOR = 200 * MIB  # Tune's results and Ray's own objects, whatever the data
OBJECT_STORE_COPIES = 4  # the data is put once (tune.with_parameters); room for data-parallel workers' copies
OBJECT_STORE_SHARE = 0.3  # Ray's default share of memory: data needing more is left to Ray's own sizing


def object_store_bytes(data_bytes: int, memory_bytes: int) -> int | None:
    """The object store a local Ray needs for this data: Ray's default (30 % of memory) makes its start
    seconds slower on a small machine, so a few times the data, at least the floor; None (Ray's default)
    when that would be more than Ray's default share of `memory_bytes`."""
    wanted = max(OBJECT_STORE_FLOOR, OBJECT_STORE_COPIES * data_bytes)
    return wanted if wanted <= OBJECT_STORE_SHARE * memory_bytes else None


def physical_memory() -> int:
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def connect(address: str | None, dashboard: bool = False, dashboard_host: str = "127.0.0.1",
            data_bytes: int = 0) -> None:
    """Join the cluster at `address` (without one: the Ray that `ray start --head` started on this machine, or
    RAY_ADDRESS's, as `ray.init()` would), or start a local Ray on every core of this machine, its object
    store sized to `data_bytes` (see object_store_bytes), without idle workers (ray_compat/settings.py: on a
    small machine they only slow the first trial's start)."""
    from raytune_app.ray_compat.local_ray import address_ray_init_would_join

    address = address or address_ray_init_would_join()
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
    else:
        with without_idle_workers():
            ray.init(include_dashboard=dashboard, dashboard_host=dashboard_host, logging_level=logging.WARNING,
                     object_store_memory=object_store_bytes(data_bytes, physical_memory()))


def leave() -> None:
    """Disconnect from a joined cluster, or stop the Ray that `connect` started: now rather than in
    Ray's exit hook, which first sleeps half a second for log lines this command has already printed."""
    if ray.is_initialized():
        ray.shutdown()


def autoscaler_node_types(config: dict | None) -> list[tuple[dict, int]]:
    """(resources, max_workers) of each worker type in an autoscaler's config ([] without one)."""
    head = (config or {}).get("head_node_type")
    return [(dict(t.get("resources") or {}), int(t.get("max_workers", 0) or 0))
            for name, t in ((config or {}).get("available_node_types") or {}).items() if name != head]


def _matches(node: dict, resources: dict) -> bool:
    return all(node.get(k, 0) == v for k, v in resources.items() if k in ("CPU", "GPU"))


def reachable_nodes(live: list[dict], node_types: list[tuple[dict, int]]) -> list[dict]:
    """The live nodes plus the workers an autoscaler may still add: for each worker type, up to its
    max_workers counting the live nodes of that type already (not on top of them)."""
    nodes = list(live)
    for resources, max_workers in node_types:
        running = sum(1 for n in live if _matches(n, resources))
        nodes += [dict(resources)] * max(0, max_workers - running)
    return nodes


def capacity(nodes: list[dict], cpus: float, gpus: float, source: str, workers: int = 1) -> int:
    """How many trials fit at once on `nodes` (resource dicts), a trial holding `workers` bundles of `cpus` and
    `gpus` (one, or the Ray Train workers of a data-parallel trial, which may sit on different nodes);
    InputError naming the short resource when none fits anywhere."""
    unit = "trial" if workers == 1 else "worker"
    if gpus > 0 and not any(r.get("GPU", 0) > 0 for r in nodes):
        raise InputError([f"{source}: resources.gpus_per_{unit}: {gpus:g} GPUs per {unit}, "
                          f"but the Ray cluster has no GPUs (use --gpus-per-{unit} 0)"])
    fits = [r for r in nodes if r.get("CPU", 0) >= cpus and r.get("GPU", 0) >= gpus]
    if not fits:
        most_gpus = max((r.get("GPU", 0) for r in nodes), default=0)
        most_cpus = max((r.get("CPU", 0) for r in nodes), default=0)
        if most_gpus < gpus:
            raise InputError([f"{source}: resources.gpus_per_{unit}: {gpus:g} GPUs per {unit}, "
                              f"but no node of the Ray cluster offers that many (largest: {most_gpus:g})"])
        if most_cpus < cpus:
            raise InputError([f"{source}: resources.cpus_per_{unit}: {cpus:g} CPUs per {unit}, "
                              f"but no node of the Ray cluster offers that many (largest: {most_cpus:g})"])
        raise InputError([f"{source}: resources: {cpus:g} CPUs and {gpus:g} GPUs per {unit}, "
                          "but no node of the Ray cluster offers both at once"])
    slots = 0
    for r in fits:
        per_node = int(r.get("CPU", 0) // cpus)
        if gpus > 0:
            per_node = min(per_node, int(r.get("GPU", 0) // gpus))
        slots += per_node
    if slots < workers:
        each = f"{cpus:g} CPUs" + (f" and {gpus:g} GPUs ({workers * gpus:g} GPUs per trial)" if gpus else "")
        raise InputError([f"{source}: resources.workers_per_trial: {workers} workers of {each}, but the Ray "
                          f"cluster can never hold more than {slots} such workers at once"])
    return max(1, slots // workers)


def cluster_nodes() -> list[dict]:
    """The resources of the live nodes and of the workers that the cluster's autoscaler may still add, its node
    types read from the autoscaler that the cluster runs (`ray up`, `ray start --autoscaling-config`, KubeRay),
    so a GPU worker type scaled to zero still counts."""
    from raytune_app.ray_compat.autoscaler import autoscaling_config

    live = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    return reachable_nodes(live, autoscaler_node_types(autoscaling_config()))


def trial_capacity(workers: int, cpus: float, gpus: float, source: str) -> int:
    """Trials that fit at once on the cluster as it is or as its autoscaler may grow it; see `capacity`."""
    return capacity(cluster_nodes(), cpus, gpus, source, workers)


@ray.remote(num_cpus=0)
def _reads(path: str, token: str) -> bool:
    try:
        return Path(path).read_text() == token
    except OSError:
        return False


def _sees(read: ray.ObjectRef) -> bool:
    """A node's answer; a node that left the cluster after it was listed (an autoscaler removing an idle worker)
    sees nothing but needs nothing either: its read is unschedulable, since it asks for no resources and only
    that node will do."""
    try:
        return ray.get(read, timeout=120)
    except ray.exceptions.TaskUnschedulableError:
        return True


def check_storage_shared(storage_path: str, source: str) -> None:
    """On a cluster of several nodes, a local storage path must be one folder that every node
    sees (a shared mount): each node reads back a marker the driver writes, or InputError."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    if storage.is_uri(storage_path) or len(nodes) < 2:
        return
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    token = uuid.uuid4().hex
    marker = Path(storage.resolve(storage_path)) / f".raytune-app-shared-{token}"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(token)
    try:
        checks = {n["NodeManagerAddress"]: _reads.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(str(marker), token)
            for n in nodes}
        blind = sorted(ip for ip, ref in checks.items() if not _sees(ref))
    finally:
        marker.unlink(missing_ok=True)
    if blind:
        raise InputError([f"{source}: storage: {storage_path} is a local folder that node(s) {', '.join(blind)} "
                          "of this cluster cannot see; on several nodes pass a shared --storage: a bucket "
                          "(s3://..., gs://...) or a file system mounted at the same path on every node"])

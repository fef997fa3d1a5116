"""The config of the autoscaler that a Ray cluster runs: which node types it may still start.

Ray 2.60 publishes no node types through a public API. Checked: `ray status` and `ray.autoscaler.v2.sdk.
get_cluster_status` report nodes, launches and demands, never the types; `ray.autoscaler.sdk` only drives `ray up`
from a config file on the user's machine; the GCS's ClusterConfig (`ray._private.state.state.get_cluster_config()`,
which Ray Data and Ray Train v2 read for the same question) stays empty, since none of Ray's own autoscalers
reports it. So the config is read where the running autoscaler itself gets it, on the head node:

- KubeRay: the RayCluster resource, turned into node types by the function KubeRay's autoscaler uses
  (`ray.autoscaler._private.kuberay.autoscaling_config._derive_autoscaling_config_from_ray_cr`, private), fetched
  with Ray's client for the Kubernetes API (`ray.autoscaler._private.kuberay.node_provider.KubernetesHttpApiClient`,
  private: the pod's service account, which KubeRay lets the head pod's autoscaler read its RayCluster with). The
  cluster's name and namespace come from `RAY_CLUSTER_NAME` and `RAY_CLUSTER_NAMESPACE`, which the KubeRay
  operator sets in every Ray pod (Ray's dashboard reads them the same way).
- `ray up` and `ray start --head --autoscaling-config=FILE`: FILE, as the command line of the head's autoscaler
  process names it (Ray's `autoscaler/_private/monitor.py`, or `autoscaler/v2/monitor.py`, started by `ray start`
  with `--gcs-address=ADDRESS --autoscaling-config=FILE`, relative to that process's folder): found in /proc among
  the processes of this network namespace that serve the connected cluster's GCS. A fixed path such as `ray up`'s
  `~/ray_bootstrap_config.yaml` would miss the other two ways.
- `node:__internal_head__` (`ray._common.constants.HEAD_NODE_RESOURCE_NAME`, private): the resource that only the
  head node has, to read there when the driver runs on another node. Public alternative checked:
  `ray.util.state.list_nodes` tells `is_head_node`, but needs Ray's dashboard, which a local Ray that raytune-app
  starts has not.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import ray
import yaml

log = logging.getLogger(__name__)

HEAD_RESOURCE = "node:__internal_head__"
GCS_FLAG = "--gcs-address="
CONFIG_FLAG = "--autoscaling-config="
KUBERAY_ENV = ("RAY_CLUSTER_NAME", "RAY_CLUSTER_NAMESPACE")


def autoscaling_config() -> dict | None:
    """The connected cluster's autoscaler config (its `available_node_types` and `head_node_type`), or None
    when the cluster has no autoscaler (a local Ray, nodes started by hand): read on the head node."""
    gcs = ray.get_runtime_context().gcs_address
    head = next((n["NodeID"] for n in ray.nodes() if n.get("Alive") and HEAD_RESOURCE in n.get("Resources", {})),
                None)
    if head is None or head == ray.get_runtime_context().get_node_id():
        return head_autoscaling_config(gcs)
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    on_head = ray.remote(num_cpus=0)(head_autoscaling_config).options(
        scheduling_strategy=NodeAffinitySchedulingStrategy(head, soft=False))
    return ray.get(on_head.remote(gcs), timeout=120)


def head_autoscaling_config(gcs_address: str) -> dict | None:
    """On the head node: the config of the autoscaler serving `gcs_address` (see the module's docstring)."""
    name, namespace = (os.environ.get(k) for k in KUBERAY_ENV)
    if name and namespace:
        return _kuberay_config(name, namespace)
    path = monitor_config_path(gcs_address)
    if path is None:
        return None
    try:
        return yaml.safe_load(path.read_text()) or None
    except (OSError, yaml.YAMLError) as e:
        log.warning("cannot read the autoscaler's config %s (%s): counting only the nodes that are up", path, e)
        return None


def monitor_config_path(gcs_address: str) -> Path | None:
    """The --autoscaling-config file of the autoscaler process that serves `gcs_address` in this network
    namespace (another Ray on this machine may use the same address in a namespace of its own), run by this
    process's user (as Ray runs the head's processes and its jobs): another user's process cannot name it."""
    own = Path("/proc/self/ns/net")
    if not own.exists():
        return None
    net = own.stat().st_ino
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if proc.stat().st_uid != os.getuid():
                continue
            args = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
            config = next((a[len(CONFIG_FLAG):] for a in args if a.startswith(CONFIG_FLAG)), None)
            if not config or GCS_FLAG + gcs_address not in args or (proc / "ns" / "net").stat().st_ino != net:
                continue
            return Path(os.readlink(proc / "cwd")) / Path(config).expanduser()
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return None


def _kuberay_config(name: str, namespace: str) -> dict | None:
    from ray.autoscaler._private.kuberay.autoscaling_config import _derive_autoscaling_config_from_ray_cr
    from ray.autoscaler._private.kuberay.node_provider import KubernetesHttpApiClient

    try:
        cr = KubernetesHttpApiClient(namespace=namespace).get(f"rayclusters/{name}")
    except Exception as e:  # noqa: BLE001 (no access, no API server): Ray's client raises whatever requests does
        log.warning("cannot read the RayCluster %s/%s from Kubernetes (%s): counting only the nodes that are up",
                    namespace, name, e)
        return None
    return _derive_autoscaling_config_from_ray_cr(cr)

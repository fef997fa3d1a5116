"""Contracts with the installed Ray for raytune_app/ray_compat/autoscaler.py: how the autoscaler's config is found
on the head node. A failure names the installed Ray version and what changed. The whole path, on an autoscaling
cluster of Ray's fake provider, is in tests/test_autoscaling_e2e.py (`make test-cluster`)."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
import ray
import yaml

from conftest import ENV, REPO, wait_for
from raytune_app.cluster.ray_session import autoscaler_node_types
from raytune_app.ray_compat import autoscaler

RAY = ray.__version__


def changed(what: str) -> str:
    return f"Ray {RAY} changed: {what} (raytune_app/ray_compat/autoscaler.py relies on it; see its docstring)"


def test_kuberays_autoscaler_derives_node_types_from_the_shipped_raycluster_spec():
    from ray.autoscaler._private.kuberay.autoscaling_config import _derive_autoscaling_config_from_ray_cr
    from ray.autoscaler._private.kuberay.node_provider import KubernetesHttpApiClient

    job = yaml.safe_load((REPO / "cluster" / "kuberay-rayjob.yaml").read_text())
    cr = {"metadata": {"name": "raytune", "namespace": "default"}, "spec": job["spec"]["rayClusterSpec"]}
    types = sorted(autoscaler_node_types(_derive_autoscaling_config_from_ray_cr(cr)), key=str)
    assert types == [({"CPU": 4, "GPU": 1, "memory": 16 * 2**30}, 2), ({"CPU": 8, "memory": 16 * 2**30}, 4)], \
        changed(f"KubeRay's RayCluster -> autoscaler config gives {types}")
    assert "namespace" in inspect.signature(KubernetesHttpApiClient).parameters and \
        callable(KubernetesHttpApiClient.get), changed("ray.autoscaler._private.kuberay.node_provider.KubernetesHttpApiClient")


def test_the_head_starts_its_autoscaler_with_the_clusters_gcs_address_and_the_config_on_its_command_line(ray_address):
    from ray._common.constants import HEAD_NODE_RESOURCE_NAME
    from ray._private.services import start_monitor

    assert HEAD_NODE_RESOURCE_NAME == autoscaler.HEAD_RESOURCE, changed("the head node's resource name")
    source = inspect.getsource(start_monitor)
    assert f'"{autoscaler.CONFIG_FLAG}"' in source and f'f"{autoscaler.GCS_FLAG}{{gcs_address}}"' in source, \
        changed("ray._private.services.start_monitor: the autoscaler's --gcs-address/--autoscaling-config flags")
    # a head started without --autoscaling-config: its autoscaler process found by the cluster's GCS address,
    # no config file; the head told apart by its resource
    probe = """
import json, sys, ray
from pathlib import Path
from raytune_app.ray_compat import autoscaler

def args(proc):
    try:
        return (proc / "cmdline").read_bytes().decode(errors="replace").split("\\0")
    except OSError:  # ended meanwhile
        return []

ray.init(address=sys.argv[1])
flag = autoscaler.GCS_FLAG + ray.get_runtime_context().gcs_address
monitors = [a for a in map(args, Path("/proc").iterdir())
            if flag in a and any(x.endswith("autoscaler/_private/monitor.py") for x in a)]
heads = [n for n in ray.nodes() if autoscaler.HEAD_RESOURCE in n["Resources"]]
print("found:", json.dumps([len(monitors), len(heads), autoscaler.autoscaling_config()]))
"""
    done = subprocess.run([sys.executable, "-c", probe, ray_address], env=ENV, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = [s for s in done.stdout.splitlines() if s.startswith("found: ")]  # not Ray's own lines
    monitors, heads, config = yaml.safe_load(line.removeprefix("found: "))
    assert monitors == 1, changed(f"{monitors} autoscaler processes (monitor.py) name the cluster's GCS address")
    assert heads == 1, changed("no node, or several, holds the head's resource")
    assert config is None  # no autoscaler config: the live nodes only



@pytest.mark.skipif(os.getuid() != 0, reason="starting a process as another user needs root")
def test_the_config_is_taken_only_from_a_process_of_this_user_naming_the_clusters_gcs(tmp_path):
    """A process that looks like the head's autoscaler (the two flags on its command line), run by this user
    and then by another one: only the first one's file counts, and only for its GCS address."""
    config = tmp_path / "autoscaler.yaml"
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)", "--gcs-address=127.0.0.1:1",
               f"--autoscaling-config={config.name}"]
    for user, expected in ((None, config), ("nobody", None)):
        as_user = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups"] if user else []
        proc = subprocess.Popen([*as_user, *sleeper], cwd=tmp_path)
        try:  # until setpriv (root) has become the sleeper
            wait_for(lambda: Path(f"/proc/{proc.pid}/cmdline").read_bytes().startswith(sys.executable.encode()))
            assert autoscaler.monitor_config_path("127.0.0.1:1") == expected, user
            assert autoscaler.monitor_config_path("127.0.0.1:2") is None
        finally:
            proc.kill()
            proc.wait()

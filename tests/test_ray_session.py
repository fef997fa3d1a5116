"""Resource checks against live nodes and the node types an autoscaler may add; how a local Ray starts."""

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from raytune_app.errors import InputError
from raytune_app.cluster.ray_session import (MIB, OBJECT_STORE_COPIES, OBJECT_STORE_FLOOR, autoscaler_node_types,
                                             capacity, object_store_bytes, reachable_nodes)

from conftest import ENV, REPO, wait_for


def test_capacity_counts_trials_that_fit_per_node():
    nodes = [{"CPU": 8, "GPU": 1}, {"CPU": 2}]
    assert capacity(nodes, 1, 0, "f") == 10
    assert capacity(nodes, 2, 0.25, "f") == 4  # only the GPU node, 4 quarter-GPU trials
    with pytest.raises(InputError, match="f: resources.cpus_per_trial: 16 CPUs per trial.*largest: 8"):
        capacity(nodes, 16, 0, "f")
    with pytest.raises(InputError, match="but the Ray cluster has no GPUs"):
        capacity([{"CPU": 4}], 1, 1, "f")


def test_short_gpus_are_named_not_cpus():
    with pytest.raises(InputError, match="gpus_per_trial: 2 GPUs per trial, but no node .* offers that many"
                                         r" \(largest: 1\)"):
        capacity([{"CPU": 8, "GPU": 1}], 1, 2, "f")
    with pytest.raises(InputError, match="4 CPUs and 1 GPUs per trial, but no node .* offers both"):
        capacity([{"CPU": 8}, {"CPU": 2, "GPU": 1}], 4, 1, "f")


def test_live_workers_of_an_autoscaled_type_are_not_counted_twice():
    types = [({"CPU": 4, "GPU": 1}, 2), ({"CPU": 8}, 1)]
    live = [{"CPU": 2}, {"CPU": 4, "GPU": 1}, {"CPU": 4, "GPU": 1}]  # head and both GPU workers already up
    assert sorted(map(str, reachable_nodes(live, types))) == sorted(map(str, live + [{"CPU": 8}]))
    assert capacity(reachable_nodes(live, types), 1, 1, "f") == 2  # not 4


def test_node_types_of_an_autoscaler_config_count_even_when_scaled_to_zero():
    config = yaml.safe_load((REPO / "cluster" / "aws.yaml").read_text())
    head_only = [config["available_node_types"][config["head_node_type"]]["resources"]]
    added = reachable_nodes(head_only, autoscaler_node_types(config))[1:]
    workers = {k: v for k, v in config["available_node_types"].items() if k != config["head_node_type"]}
    assert len(added) == sum(t["max_workers"] for t in workers.values())
    with pytest.raises(InputError):
        capacity(head_only, 1, 0.25, "f")  # a CPU-only head: no GPU yet ...
    assert capacity(head_only + added, 1, 0.25, "f") > 0  # ... but the GPU workers may come
    assert autoscaler_node_types(None) == []  # no autoscaler


def test_object_store_is_a_few_times_the_data_with_a_floor_and_rays_default_above():
    gib = 1024**3
    assert object_store_bytes(0, 16 * gib) == OBJECT_STORE_FLOOR
    assert object_store_bytes(10 * MIB, 16 * gib) == OBJECT_STORE_FLOOR  # small data: the floor
    assert object_store_bytes(gib, 16 * gib) == OBJECT_STORE_COPIES * gib
    assert object_store_bytes(2 * gib, 16 * gib) is None  # more than Ray's 30 % share: Ray's own sizing
    assert object_store_bytes(0, 512 * MIB) is None  # the floor alone is more than that share


IDLE_WORKERS = """
import sys
import time
from pathlib import Path
from raytune_app.cluster.local import pids_of
from raytune_app.cluster.ray_session import connect, leave

connect(None)
time.sleep(3)  # Ray starts its idle workers as the driver registers, within a second
titles = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in pids_of(Path(sys.argv[1]))]
print(sum(t.startswith(b"ray::IDLE") for t in titles))
leave()
"""


def test_a_local_ray_starts_no_idle_workers_for_trials_that_never_use_them():
    from raytune_app.cluster.local import pids_of

    ray_dir = tempfile.mkdtemp(prefix="rtidle", dir="/tmp")  # short: Ray's socket paths have a length limit
    out = subprocess.run([sys.executable, "-c", IDLE_WORKERS, ray_dir], env={**ENV, "RAY_TMPDIR": ray_dir},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["0"]  # Ray's own default: one per CPU
    wait_for(lambda: not pids_of(Path(ray_dir)), timeout=30)


LEFT_NODE = """
import sys
import ray
from raytune_app.cluster.ray_session import check_storage_shared

ray.init(address=sys.argv[1])
listed = ray.nodes()
# the node list as read a moment before an autoscaler removed an idle worker: one node more than there is now
ghost = {**listed[0], "NodeID": "ab" * 28, "NodeManagerAddress": "127.0.0.9"}
calls = iter([[*listed, ghost]])
ray.nodes = lambda: next(calls, listed)
check_storage_shared(sys.argv[2], "exp.yaml")
print("checked")
"""


def test_a_node_that_leaves_during_the_storage_check_is_not_a_blind_one(ray_address, tmp_path):
    """CI saw it: on an autoscaling cluster, a node listed alive left before its read of the marker ran, and
    the run ended in Ray's TaskUnschedulableError instead of starting its trials."""
    out = subprocess.run([sys.executable, "-c", LEFT_NODE, ray_address, str(tmp_path / "runs")], env=ENV,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[-1:] == ["checked"]

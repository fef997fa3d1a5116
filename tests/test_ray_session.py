"""Resource checks against live nodes and the node types an autoscaler may add."""

import pytest
import yaml

from raytune_app.errors import InputError
from raytune_app.cluster.ray_session import autoscaler_nodes, capacity

from conftest import REPO


def test_capacity_counts_trials_that_fit_per_node():
    nodes = [{"CPU": 8, "GPU": 1}, {"CPU": 2}]
    assert capacity(nodes, 1, 0, "f") == 10
    assert capacity(nodes, 2, 0.25, "f") == 4  # only the GPU node, 4 quarter-GPU trials
    with pytest.raises(InputError, match="f: resources.cpus_per_trial: 16 CPUs per trial.*largest: 8"):
        capacity(nodes, 16, 0, "f")
    with pytest.raises(InputError, match="but the Ray cluster has no GPUs"):
        capacity([{"CPU": 4}], 1, 1, "f")


def test_node_types_of_a_ray_up_cluster_count_even_when_scaled_to_zero(tmp_path):
    config = yaml.safe_load((REPO / "cluster" / "aws.yaml").read_text())
    path = tmp_path / "ray_bootstrap_config.yaml"
    path.write_text(yaml.safe_dump(config))
    added = autoscaler_nodes(str(path))
    workers = {k: v for k, v in config["available_node_types"].items() if k != config["head_node_type"]}
    assert len(added) == sum(t["max_workers"] for t in workers.values())
    head_only = [config["available_node_types"][config["head_node_type"]]["resources"]]
    with pytest.raises(InputError):
        capacity(head_only, 1, 0.25, "f")  # a CPU-only head: no GPU yet ...
    assert capacity(head_only + added, 1, 0.25, "f") > 0  # ... but the GPU workers may come
    assert autoscaler_nodes(str(tmp_path / "missing.yaml")) == []

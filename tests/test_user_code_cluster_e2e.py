"""The user's own code on a three-node `cluster-local` cluster, each node in its own temp dir: the code reaches
every node through Ray's runtime env (the user's folder is on no worker's path), for each of the three levels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import histories, run_cli, write_experiment
from user_code_files import write_trainable_experiment, write_user_code

TINY = {"num_samples": 3, "max_epochs": 2, "scheduler": "fifo", "search": "random"}


@pytest.fixture(scope="module")
def code(tmp_path_factory):
    folder = tmp_path_factory.mktemp("travelling")
    return write_user_code(folder, log=str(folder.parent / "imports.log"))


def imports(code: Path) -> list[str]:
    """Folders the user's files were imported from, one line per import (driver and workers); emptied."""
    log = code.parent / "imports.log"
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def assert_travelled(code: Path, cluster_root: Path, exp: Path) -> None:
    """Trials ran on several nodes, and every worker imported the user's code from its own node's copy."""
    hist = histories(exp)
    assert len(hist) == 3 and all(h[-1]["epoch"] == 2 for h in hist.values())
    assert len({r["node_ip"] for h in hist.values() for r in h}) >= 2
    folders = imports(code)
    copies = [f for f in folders if not f.startswith(str(code))]
    assert all(f.startswith(str(cluster_root)) for f in copies), folders  # each node's unpacked working_dir
    assert len({Path(f).parts[len(cluster_root.parts)] for f in copies}) >= 2, folders  # node1, node2, ...
    assert len(folders) - len(copies) <= 2, folders  # the driver's own imports (checks, summary)


@pytest.fixture(scope="module")
def cluster_root(cluster):
    state, _ = cluster
    return Path(state["nodes"][0]["temp_dir"]).parent


def test_a_user_model_reaches_every_node(cluster, cluster_root, code):
    state, _ = cluster
    spec = write_experiment(code / "model.yaml", model="models/net.py:Net", space={"width": {"choice": [16, 32]}},
                            **TINY)
    imports(code)
    out = run_cli("tune", spec, "--storage", code / "runs", "--address", state["address"])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert_travelled(code, cluster_root, code / "runs" / "model")
    summary = json.loads((code / "runs" / "model" / "summary.json").read_text())
    assert summary["best"]["test_accuracy"] > 0.3  # the driver rebuilt the best model from its own import


def test_a_user_loader_runs_on_the_workers(cluster, cluster_root, code):
    state, _ = cluster
    spec = write_experiment(code / "loader.yaml", data={"loader": "data/load.py:load", "on_workers": True}, **TINY)
    imports(code)
    out = run_cli("tune", spec, "--storage", code / "runs", "--address", state["address"])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert_travelled(code, cluster_root, code / "runs" / "loader")


def test_a_user_training_function_reaches_every_node(cluster, cluster_root, code):
    state, _ = cluster
    spec = write_trainable_experiment(code / "fn.yaml", num_samples=3, max_epochs=2,
                                      space={"lr": 0.01, "width": {"choice": [16, 32]}, "epochs": 2})
    imports(code)
    out = run_cli("tune", spec, "--storage", code / "runs", "--address", state["address"])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert_travelled(code, cluster_root, code / "runs" / "fn")
    assert all(not r["code_dir"].startswith(str(code)) for h in histories(code / "runs" / "fn").values() for r in h)

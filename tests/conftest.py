"""Shared fixtures: one real local Ray for the whole session, and a way to run the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))
# loopback-only test clusters: Ray 2.60's token authentication is not needed there
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ray_address():
    """A one-node Ray cluster on 127.0.0.1 shared by the end-to-end tests. It declares one GPU that this
    machine does not have: a trial asking for it must fail loudly rather than train on the CPU."""
    from raytune_app.cluster.local import kill_node, pids_of

    for _ in range(3):  # a port taken between free_port() and Ray's bind, or a GCS slow to start on a busy box
        port = free_port()
        temp = tempfile.mkdtemp(prefix="rt_", dir="/tmp")  # short: Ray's socket paths have a length limit
        started = subprocess.run(
            [RAY, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
             "--num-gpus=1", "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats",
             f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
             f"--metrics-export-port={free_port()}"],
            env=ENV, capture_output=True, text=True, timeout=180)
        if started.returncode == 0:
            break
        kill_node(temp, gcs_port=port)
        shutil.rmtree(temp, ignore_errors=True)
    else:
        raise RuntimeError(f"ray start failed 3 times; last output:\n{started.stdout}{started.stderr}")
    yield f"127.0.0.1:{port}"
    kill_node(temp, gcs_port=port)  # only this cluster: `ray stop` would end every Ray on the machine
    shutil.rmtree(temp, ignore_errors=True)
    time.sleep(0.5)
    assert not pids_of(Path(temp), port), "processes of the test cluster outlived the suite"


@pytest.fixture(scope="module")
def cluster(monkeypatch_module):
    """A three-node `cluster-local` cluster (127.0.0.1-3, a temp dir each) for one test module: (state, env)."""
    root = tempfile.mkdtemp(prefix="rtl", dir="/tmp")  # short: Ray's socket paths have a length limit
    env = {**ENV, "RAYTUNE_APP_LOCAL_CLUSTER_DIR": root,
           # notice a lost node within seconds instead of Ray's default of about half a minute
           "RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3"}
    monkeypatch_module.setattr("conftest.ENV", env)  # run_cli and start_cli read it
    port, dash = free_port(), free_port()
    up = subprocess.run([sys.executable, "-m", "raytune_app", "cluster-local", "up", "--nodes", "3",
                         "--port", str(port), "--dashboard-port", str(dash)],
                        env=env, capture_output=True, text=True, timeout=300)
    assert up.returncode == 0, up.stdout + up.stderr
    state = json.loads((Path(root) / "cluster.json").read_text())
    yield state, env
    down = subprocess.run([sys.executable, "-m", "raytune_app", "cluster-local", "down"], env=env,
                          capture_output=True, text=True, timeout=120)
    # `down` counts the nodes it found running: a test may have killed one
    assert down.returncode == 0 and down.stdout.startswith("stopped "), down.stdout + down.stderr
    from raytune_app.cluster.local import pids_of

    assert not any(pids_of(Path(n["temp_dir"]), port) for n in state["nodes"])
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def run_cli(*args: str, timeout: float = 300, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m raytune_app ARGS` in a real process; output captured as text."""
    return subprocess.run([sys.executable, "-m", "raytune_app", *map(str, args)], env=ENV, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def write_experiment(path: Path, **fields) -> Path:
    """A small experiment file: tiny budgets unless the test says otherwise."""
    spec = {"metric": "val_accuracy", "mode": "max", "max_epochs": 3, "num_samples": 3,
            "data": {"dataset": "digits"}, "space": {"lr": {"loguniform": [1e-3, 1e-1]}}}
    spec.update(fields)
    path.write_text(yaml.safe_dump(spec))
    return path


def slow_model(folder: Path) -> str:
    """The `model:` value of tests/slow_model.py, copied next to the experiment files in `folder`: training
    batches that sleep, so that a trial stays mid-run without keeping a core busy (see that file)."""
    shutil.copy(Path(__file__).with_name("slow_model.py"), folder / "slow_model.py")
    return "slow_model.py:SlowNet"


def read_json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def start_cli(*args: str, log: Path) -> subprocess.Popen:
    """The real CLI in the background (a child of this Python process, so SIGINT reaches it)."""
    return subprocess.Popen([sys.executable, "-m", "raytune_app", *map(str, args)], env=ENV,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_for(predicate, timeout: float = 120, proc: subprocess.Popen | None = None):
    """Poll until predicate() is truthy (returned); fails on timeout or if proc exits first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before the condition held")
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def trial_dirs(exp: Path) -> list[Path]:
    return sorted(p for p in exp.iterdir() if p.name.startswith("trial_")) if exp.exists() else []


def checkpointed(exp: Path, epoch: int) -> bool:
    """A trial has saved the checkpoint of `epoch` (workers write checkpoints straight to storage; Ray's other
    files get there every few seconds)."""
    return any((d / f"checkpoint_{epoch - 1:06d}").is_dir() for d in trial_dirs(exp))


def histories(exp: Path) -> dict[str, list[dict]]:
    """Each trial's reported results, from Ray's own result.json."""
    return {d.name.removeprefix("trial_"): read_json_lines(d / "result.json")
            for d in trial_dirs(exp) if (d / "result.json").exists()}


# the files that take longest (minutes of CPU each, measured): run first, so that `pytest -n 3 --dist loadfile`
# does not end with one worker alone on a long file while the others idle
LONGEST_FIRST = ("test_local_cluster_e2e.py", "test_tune_e2e.py", "test_fault_tolerance_e2e.py",
                 "test_user_code_e2e.py", "test_warm_start.py", "test_data_parallel_e2e.py", "test_objectives_e2e.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file keeps its own order

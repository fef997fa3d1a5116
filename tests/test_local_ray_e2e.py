"""`tune` without --address on a machine where `ray start --head` runs joins that Ray (README, Command line)
instead of failing with Ray's "object_store_memory must not be provided" (issue 25)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ENV, RAY, free_port, write_experiment


@pytest.fixture
def ray_started_here():
    """`ray start --head` as a user runs it: no --temp-dir, so it writes its address where `ray.init()` looks;
    Ray's temp dir is a private RAY_TMPDIR (not other test clusters'). The env to run the CLI with, and the dir."""
    root = tempfile.mkdtemp(prefix="rth", dir="/tmp")  # short: Ray's socket paths have a length limit
    env = {**ENV, "RAY_TMPDIR": root, "TMPDIR": root}
    env.pop("RAY_ADDRESS", None)
    port = free_port()
    subprocess.run([RAY, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=1",
                    "--include-dashboard=false", "--disable-usage-stats", f"--ray-client-server-port={free_port()}",
                    f"--dashboard-agent-listen-port={free_port()}", f"--metrics-export-port={free_port()}"],
                   env=env, check=True, capture_output=True, timeout=120)
    yield env, Path(root) / "ray"
    from raytune_app.cluster.local import kill_node, pids_of

    kill_node(Path(root) / "ray", gcs_port=port)  # only this Ray: `ray stop` would end every Ray on the machine
    time.sleep(0.5)
    assert not pids_of(Path(root) / "ray", port), "processes of the test's Ray outlived it"
    shutil.rmtree(root, ignore_errors=True)


def test_tune_without_address_joins_the_ray_started_on_this_machine(ray_started_here, tmp_path):
    env, ray_dir = ray_started_here
    sessions = sorted(ray_dir.glob("session_2*"))
    assert len(sessions) == 1
    spec = write_experiment(tmp_path / "joined.yaml", num_samples=1, max_epochs=1, scheduler="fifo")
    out = subprocess.run([sys.executable, "-m", "raytune_app", "tune", spec,
                          "--storage", tmp_path / "runs"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert sorted(ray_dir.glob("session_2*")) == sessions  # no Ray of its own: it ran on the one started here
    assert (tmp_path / "runs" / "joined" / "summary.json").is_file()

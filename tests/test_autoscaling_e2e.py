"""Ray's autoscaler for real: a cluster of Ray's fake multi-node provider (tests/fake_autoscaling.py), whose
worker node types are cluster/aws.yaml's scaled down to this machine, a 1-CPU head, and idle workers leaving
after 12 s. One cluster for the module (its start costs half a minute); `make test-cluster` runs it.

Trials bigger than the head make the autoscaler add nodes and run there (Ray's actor list says where), the
user's code reaches the new nodes, idle nodes go, the same through `ray job submit`, and a node lost mid-trial is
replaced while its trial continues from its checkpoint. The scale-up and idle-removal figures are printed (`-s`),
not asserted: benchmarks/autoscaling.py reports them."""

from __future__ import annotations

import json
import sys
import time

import pytest

from conftest import RAY, checkpointed, histories, read_json_lines, slow_model, trial_dirs, wait_for, \
    write_experiment
from fake_autoscaling import (DASHBOARD, GCS, IDLE_TIMEOUT_MIN, FakeCluster, actor_ids, epoch, namespaces_usable,
                              scaled_down, trial_actors)
from user_code_files import write_user_code

pytestmark = pytest.mark.autoscaling

TUNE = [sys.executable, "-m", "raytune_app", "tune"]
# two CPUs per trial: more than the head's one, as much as a scaled-down worker.cpu node offers
BIG = {"max_concurrent": 1, "scheduler": "fifo", "search": "random", "resources": {"cpus_per_trial": 2}}
IDLE_TIMEOUT_S = IDLE_TIMEOUT_MIN * 60


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    why = namespaces_usable()
    if why:
        pytest.skip(f"the fake autoscaling cluster needs network and PID namespaces: {why}")
    cluster = FakeCluster(tmp_path_factory.mktemp("fake"), scaled_down())
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
    assert not cluster.processes(), "processes of the fake cluster outlived it"


def worker_nodes(fake: FakeCluster) -> dict[str, dict]:
    """Ray's nodes other than the head, dead ones included, by node id."""
    return {n["node_id"]: n for n in fake.state("nodes") if not n["is_head_node"]}


def all_workers_gone(fake: FakeCluster) -> dict[str, dict] | None:
    nodes = worker_nodes(fake)
    return nodes if nodes and all(n["state"] == "DEAD" for n in nodes.values()) else None


READ_CONFIG = """
import json, sys, ray
from raytune_app.ray_compat import autoscaler

ray.init(address=sys.argv[1])
here = autoscaler.autoscaling_config()  # this driver is on the head: read in this process
context = ray.get_runtime_context()


class OnAWorkerNode:
    \"\"\"The runtime context of a driver on another node than the head.\"\"\"
    gcs_address = context.gcs_address

    def get_node_id(self):
        return "0" * 56


ray.get_runtime_context = OnAWorkerNode
print("configs:", json.dumps([here, autoscaler.autoscaling_config()]))  # read by a Ray task on the head
"""


def test_the_node_types_are_read_from_the_autoscaler_the_cluster_runs_by_a_driver_on_any_node(fake):
    done = fake.run([sys.executable, "-c", READ_CONFIG, GCS], timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    # (the driver also prints the autoscaler's events as they come)
    (line,) = [s for s in done.stdout.splitlines() if s.startswith("configs: ")]
    here, on_head = json.loads(line.removeprefix("configs: "))
    assert here == on_head == fake.config  # the file the head's autoscaler was started with


def test_a_trial_no_node_type_can_hold_is_refused_naming_the_largest_type(fake, tmp_path):
    spec = write_experiment(tmp_path / "huge.yaml", num_samples=1, max_epochs=1, resources={"cpus_per_trial": 3})
    out = fake.run([*TUNE, spec, "--storage", tmp_path / "runs", "--address", GCS], cwd=tmp_path)
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    # the largest node type the autoscaler may add (worker.cpu, 2 CPUs), not the 1-CPU head that is up
    assert (f"{spec}: resources.cpus_per_trial: 3 CPUs per trial, but no node of the Ray cluster offers that many "
            "(largest: 2)") in out.stderr
    assert "Traceback" not in out.stderr and not worker_nodes(fake)  # refused before any node was asked for


@pytest.fixture(scope="module")
def scaled_up(fake, tmp_path_factory):
    """Two trials of 2 CPUs, one at a time, of the user's own model (a file on no node's path), through the CLI."""
    folder = tmp_path_factory.mktemp("grow")
    code = write_user_code(folder / "code", log=str(folder / "imports.log"))
    spec = write_experiment(code / "grow.yaml", model="models/net.py:Net", space={"width": {"choice": [16, 32]}},
                            num_samples=2, max_epochs=2, **BIG)
    before = actor_ids(fake)
    submitted = time.time()
    out = fake.run([*TUNE, spec, "--storage", folder / "runs", "--address", GCS], cwd=folder, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return {"exp": folder / "runs" / "grow", "submitted": submitted, "ended": time.time(), "code": code,
            "imports": (folder / "imports.log").read_text().splitlines(), "actors": trial_actors(fake, before)}


def test_trials_bigger_than_the_head_make_the_autoscaler_add_nodes_and_run_there(fake, scaled_up):
    summary = json.loads((scaled_up["exp"] / "summary.json").read_text())
    assert summary["trials_by_status"] == {"completed": 2}
    added = worker_nodes(fake)
    actors = scaled_up["actors"]
    assert actors and all(a["node_id"] in added for a in actors), (actors, added)
    assert all(added[a["node_id"]]["resources_total"]["CPU"] == 2 for a in actors)  # worker.cpu nodes
    node_up = min(epoch(added[a["node_id"]]["start_time_ms"]) for a in actors)
    first = min(r["timestamp"] - r["time_this_iter_s"] for h in histories(scaled_up["exp"]).values() for r in h)
    print(f"\nscale-up: a worker.cpu node was up {node_up - scaled_up['submitted']:.1f} s and the first trial "
          f"trained there {first - scaled_up['submitted']:.1f} s after `tune` started (target: 30 s)")


def test_the_users_code_reaches_the_new_nodes(scaled_up):
    """The trials, all on added nodes (above), imported the user's model from Ray's copy of its folder, which
    the driver ships although only the head was up when it started."""
    copies = [f for f in scaled_up["imports"] if not f.startswith(str(scaled_up["code"]))]
    assert copies and all("runtime_resources" in f for f in copies), scaled_up["imports"]
    hist = histories(scaled_up["exp"])
    assert len(hist) == 2 and all(h[-1]["epoch"] == 2 for h in hist.values())


def test_idle_nodes_are_removed_after_the_idle_timeout(fake, scaled_up):
    nodes = wait_for(lambda: all_workers_gone(fake), timeout=IDLE_TIMEOUT_S + 60)
    gone = max(epoch(n["end_time_ms"]) for n in nodes.values())
    print(f"\nidle removal: the last added node left {gone - scaled_up['ended']:.1f} s after the run ended "
          f"(target: idle timeout {IDLE_TIMEOUT_S:.0f} s + 30 s)")


def test_ray_job_submit_scales_up_the_same(fake, tmp_path):
    """The run sent as a Ray job, its driver on the head. (No `--working-dir` here: each node unpacks it afresh
    into its session folder, which the fake nodes share, so a new node's copy would pull the folder from under
    the driver; tests/test_local_cluster_e2e.py submits with it to nodes of their own.)"""
    wait_for(lambda: all_workers_gone(fake) or not worker_nodes(fake), timeout=IDLE_TIMEOUT_S + 60)
    spec = write_experiment(tmp_path / "job.yaml", num_samples=1, max_epochs=1, **BIG)
    before = actor_ids(fake)

    def submit():
        done = fake.run([RAY, "job", "submit", "--address", DASHBOARD, "--", *TUNE, spec, "--address", "auto",
                         "--storage", tmp_path / "runs"], timeout=600)
        # the head's dashboard agent registers a little after the dashboard answers; Ray says to retry
        return None if "No available agent" in done.stderr else done
    done = wait_for(submit, timeout=120)
    assert done.returncode == 0 and "succeeded" in done.stdout + done.stderr, done.stdout[-3000:] + done.stderr[-3000:]
    assert json.loads((tmp_path / "runs" / "job" / "summary.json").read_text())["trials_by_status"] == {"completed": 1}
    added = worker_nodes(fake)
    actors = trial_actors(fake, before)
    assert actors and all(a["node_id"] in added for a in actors), (actors, added)


SLOW = {"space": {"lr": {"loguniform": [1e-3, 1e-2]}, "batch_size": 16, "hidden_size": 64}}


def test_a_node_lost_mid_trial_is_replaced_and_the_trial_continues_from_its_checkpoint(fake, tmp_path):
    """The node of a training trial vanishes (its Ray processes killed, as a reclaimed spot instance's would):
    Tune retries the trial from its latest checkpoint, on a node that the autoscaler adds in its place."""
    spec = write_experiment(tmp_path / "loss.yaml", num_samples=1, max_epochs=6, max_failures=3,
                            model=slow_model(tmp_path), **BIG, **SLOW)
    exp = tmp_path / "runs" / "loss"
    before = actor_ids(fake)
    proc = fake.popen([*TUNE, spec, "--storage", tmp_path / "runs", "--address", GCS], log=tmp_path / "log",
                      cwd=tmp_path)
    try:
        wait_for(lambda: checkpointed(exp, 2), timeout=300, proc=proc)
        (victim,) = {a["node_id"] for a in trial_actors(fake, before) if a["state"] == "ALIVE"}
        assert fake.kill_node(victim) > 0
        assert proc.wait(timeout=400) == 0, (tmp_path / "log").read_text()[-4000:]
    finally:
        proc.kill()
    assert json.loads((exp / "summary.json").read_text())["trials_by_status"] == {"completed": 1}
    (trial,) = trial_dirs(exp)
    epochs = [r["epoch"] for r in read_json_lines(trial / "result.json")]
    assert epochs.count(1) == 1 and epochs[-1] == 6, epochs  # resumed from its checkpoint, not from epoch 1
    assert any(r["iterations_since_restore"] == 1 and r["epoch"] > 1 for r in read_json_lines(trial / "result.json"))
    nodes = [a["node_id"] for a in trial_actors(fake, before)]
    assert victim in nodes and len(set(nodes)) == 2, nodes  # retried on another node
    assert worker_nodes(fake)[victim]["state"] == "DEAD"


def test_gpus_auto_probes_on_a_gpu_node_that_the_autoscaler_adds(fake, tmp_path):
    """`gpus_per_trial: auto` with only the CPU head up: the GPU worker types count, so the memory probe asks for
    a GPU and the autoscaler adds a worker.gpu node for it (its GPU declared only: PyTorch there finds no CUDA
    device, which the run reports, exit 2)."""
    spec = write_experiment(tmp_path / "auto.yaml", num_samples=1, max_epochs=1, resources={"gpus_per_trial": "auto"})
    out = fake.run([*TUNE, spec, "--storage", tmp_path / "runs", "--address", GCS], cwd=tmp_path, timeout=600)
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    assert f"{spec}: resources.gpus_per_trial: auto: PyTorch on the GPU node" in out.stderr
    assert "sees no CUDA device" in out.stderr
    assert any(n["resources_total"].get("GPU") for n in worker_nodes(fake).values())

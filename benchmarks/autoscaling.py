"""Scale-up and idle-removal times of Ray's autoscaler under raytune-app, on the fake autoscaling cluster of the
tests (tests/fake_autoscaling.py: Ray's fake multi-node provider on this machine, cluster/aws.yaml's worker types
scaled down, a 1-CPU head, idle timeout 12 s).

Each round runs `raytune-app tune` with one trial of 2 CPUs (more than the head has) on a cluster of the head
alone, then waits for the added node to leave. Printed per round:
- node up: when the added worker node registered, counted from the start of `tune`;
- first trial: when the trial's first epoch began there (target: within 30 s);
- idle removal: when the node left, counted from the end of the run (target: idle timeout + 30 s).

    .venv/bin/python benchmarks/autoscaling.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import write_experiment  # noqa: E402
from fake_autoscaling import GCS, IDLE_TIMEOUT_MIN, FakeCluster, epoch, namespaces_usable, scaled_down  # noqa: E402


def workers(cluster: FakeCluster) -> dict[str, dict]:
    return {n["node_id"]: n for n in cluster.state("nodes") if not n["is_head_node"]}


def one_round(cluster: FakeCluster, folder: Path, name: str) -> dict:
    spec = write_experiment(folder / f"{name}.yaml", num_samples=1, max_epochs=1, scheduler="fifo", search="random",
                            resources={"cpus_per_trial": 2})
    known = set(workers(cluster))
    submitted = time.time()
    out = cluster.run([sys.executable, "-m", "raytune_app", "tune", spec, "--storage", folder / "runs",
                       "--address", GCS], cwd=folder, timeout=600)
    ended = time.time()
    if out.returncode:
        raise SystemExit(out.stdout[-3000:] + out.stderr[-3000:])
    (trial,) = (folder / "runs" / name).glob("trial_*")
    first = json.loads((trial / "result.json").read_text().splitlines()[0])
    (added,) = set(workers(cluster)) - known
    up = epoch(workers(cluster)[added]["start_time_ms"])
    deadline = ended + 300
    while workers(cluster)[added]["state"] != "DEAD" and time.time() < deadline:
        time.sleep(0.5)
    gone = epoch(workers(cluster)[added]["end_time_ms"])
    return {"node_up_s": up - submitted, "first_trial_s": first["timestamp"] - first["time_this_iter_s"] - submitted,
            "idle_removal_s": gone - ended}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    why = namespaces_usable()
    if why:
        raise SystemExit(f"needs network and PID namespaces: {why}")
    folder = Path(tempfile.mkdtemp(prefix="rtbench"))
    cluster = FakeCluster(folder, scaled_down())
    started = time.time()
    try:
        cluster.start()
        print(f"cluster up in {time.time() - started:.1f} s (head only); idle timeout {IDLE_TIMEOUT_MIN * 60:.0f} s")
        print("round  node up (s)  first trial (s)  idle removal (s)")
        for i in range(rounds):
            r = one_round(cluster, folder, f"round{i}")
            print(f"{i + 1:5d}  {r['node_up_s']:11.1f}  {r['first_trial_s']:15.1f}  {r['idle_removal_s']:16.1f}",
                  flush=True)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()

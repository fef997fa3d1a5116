"""Ray's autoscaler for real on this machine: Ray's fake multi-node provider ("Testing Autoscaling Locally" in
Ray's docs), started as `RAY_FAKE_CLUSTER=1 ray start --head --autoscaling-config=FILE`, FILE being the worker
node types of the shipped cluster/aws.yaml scaled down to this machine. The autoscaler starts and stops each
worker node as Ray processes on this machine.

Fake nodes listen on fixed ports (the GCS on 6379) and share one session folder, so the cluster lives in a
network, PID and mount namespace of its own (`unshare --net --pid --fork --mount-proc`), loopback up, its Ray
folder private: it cannot meet another Ray of the machine, and killing the namespace's first process ends every
process in it. Commands reach it through `nsenter` (`FakeCluster.run`). Never `ray stop`: it would end every Ray
of the user on the machine."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

from conftest import ENV, RAY, REPO

FAKE_HEAD_ID = "f" * 51 + "00000"  # the head's node id that Ray's fake provider assumes
HEAD_TYPE = "ray.head.default"  # the head's node type name that Ray's fake provider assumes
GCS = "127.0.0.1:6379"  # the fake provider starts its nodes against port 6379 of this address
DASHBOARD = "http://127.0.0.1:8265"
HEAD_CPUS = 1
IDLE_TIMEOUT_MIN = 0.2  # idle workers leave after 12 s (cluster/aws.yaml: 10 minutes)
MAX_WORKERS = 3  # all worker types together (cluster/aws.yaml: 8)

# PID 1 of the namespace: loopback up (ioctl SIOCGIFFLAGS/SIOCSIFFLAGS, IFF_UP; no `ip` needed), then reap the
# orphans that Ray's daemons become, until killed
INIT = """
import fcntl, os, socket, struct, time
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    flags = struct.unpack("16sH14x", fcntl.ioctl(s, 0x8913, struct.pack("16sH14x", b"lo", 0)))[1]
    fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", flags | 1))
print("up", flush=True)
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.5)
"""
UNSHARE = ["unshare", "--net", "--pid", "--fork", "--mount-proc", "--kill-child"]


def scaled_down(aws: Path = REPO / "cluster" / "aws.yaml") -> dict:
    """The autoscaler config: cluster/aws.yaml's worker types, each with an eighth of its CPUs (1 or 2, as this
    machine has 2 cores; GPUs declared as they are), at most 2 of a type and 3 in all; a 1-CPU head."""
    aws_config = yaml.safe_load(aws.read_text())
    types = {HEAD_TYPE: {"resources": {"CPU": HEAD_CPUS}, "node_config": {}, "max_workers": 0}}
    for name, t in aws_config["available_node_types"].items():
        if name != aws_config["head_node_type"]:
            resources = {**t["resources"], "CPU": min(2, max(1, t["resources"]["CPU"] // 8))}
            types[name] = {"resources": resources, "node_config": {}, "min_workers": 0,
                           "max_workers": min(2, t["max_workers"])}
    empty = ("cluster_synced_files", "rsync_exclude", "rsync_filter", "initialization_commands", "setup_commands",
             "head_setup_commands", "worker_setup_commands", "head_start_ray_commands", "worker_start_ray_commands")
    return {"cluster_name": "raytune-fake", "max_workers": MAX_WORKERS, "upscaling_speed": 1.0,
            "idle_timeout_minutes": IDLE_TIMEOUT_MIN,
            # Ray's fake provider: nodes told apart by node id (they share 127.0.0.1), nothing set up over SSH
            "provider": {"type": "fake_multinode", "use_node_id_as_ip": True, "disable_node_updaters": True,
                         "disable_launch_config_check": True},
            "auth": {"ssh_user": "ubuntu"}, "available_node_types": types, "head_node_type": HEAD_TYPE,
            "file_mounts": {}, "file_mounts_sync_continuously": False, **{k: [] for k in empty}}


def namespaces_usable() -> str:
    """'' where this process may make the namespaces (root, or user namespaces allowed), else why not."""
    if not shutil.which("nsenter"):
        return "no nsenter (util-linux) on this machine"
    try:
        done = subprocess.run([*UNSHARE, "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unshare: {e}"
    return "" if done.returncode == 0 else f"unshare --net --pid --mount-proc: {done.stderr.strip()}"


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: pytest killed, all goes


class FakeCluster:
    """An autoscaling Ray cluster in namespaces of its own; `run` a command in them, `stop` ends it all."""

    def __init__(self, root: Path, config: dict):
        self.root = root
        self.config = config
        self.temp = Path(tempfile.mkdtemp(prefix="rfk", dir="/tmp"))  # short: Ray's socket path limit
        self.unshare: subprocess.Popen | None = None
        self.init_pid = 0
        self.pid_ns = 0

    def start(self) -> None:
        config = self.root / "autoscaler.yaml"
        config.write_text(yaml.safe_dump(self.config))
        self.unshare = subprocess.Popen([*UNSHARE, sys.executable, "-c", INIT], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)
        if self.unshare.stdout.readline().strip() != "up":
            raise AssertionError(f"the namespace's loopback did not come up: {self.unshare.stderr.read()[-2000:]}")
        children = Path(f"/proc/{self.unshare.pid}/task/{self.unshare.pid}/children").read_text().split()
        self.init_pid = int(children[0])
        self.pid_ns = os.stat(f"/proc/{self.init_pid}/ns/pid").st_ino
        head_env = {"RAY_FAKE_CLUSTER": "1", "RAY_TMPDIR": str(self.temp),  # the fake nodes' folder too
                    "RAY_OVERRIDE_NODE_ID_FOR_TESTING": FAKE_HEAD_ID, "RAY_CLOUD_INSTANCE_ID": FAKE_HEAD_ID,
                    # a lost node noticed within seconds instead of Ray's default of about half a minute
                    "RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3"}
        up = self.run([RAY, "start", "--head", "--node-ip-address=127.0.0.1", "--port=6379",
                       f"--num-cpus={HEAD_CPUS}", f"--autoscaling-config={config}", "--dashboard-host=127.0.0.1",
                       f"--temp-dir={self.temp}", "--disable-usage-stats"], env=head_env, timeout=300)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]

    def run(self, args: list[str], env: dict | None = None, cwd: Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
        """`args` inside the cluster's namespaces (where 127.0.0.1:6379 is its GCS); output captured as text."""
        return subprocess.run(self.inside(args, cwd), env={**ENV, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout)

    def popen(self, args: list[str], log: Path, cwd: Path | None = None) -> subprocess.Popen:
        """`args` inside the cluster's namespaces, in the background, output to `log`."""
        return subprocess.Popen(self.inside(args, cwd), env=ENV, stdout=log.open("w"), stderr=subprocess.STDOUT)

    def inside(self, args: list[str], cwd: Path | None = None) -> list[str]:
        return ["nsenter", f"--target={self.init_pid}", "--net", "--pid", "--mount",
                f"--wd={cwd or Path.cwd()}", "--", *map(str, args)]

    def state(self, what: str) -> list[dict]:
        """Ray's state API (`ray list nodes|actors --detail`): dead actors and nodes included."""
        done = self.run([RAY, "list", what, "--detail", "--format", "json", "--limit", "10000",
                         "--address", DASHBOARD], timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return [] if done.stdout.startswith("No resource") else json.loads(done.stdout)

    def processes(self) -> list[int]:
        """Host pids of the processes left in the cluster's PID namespace."""
        pids = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and os.stat(proc / "ns" / "pid").st_ino == self.pid_ns:
                    pids.append(int(proc.name))
            except OSError:
                continue
        return pids

    def kill_node(self, node_id: str) -> int:
        """End one node as a machine that vanishes would: SIGKILL to its raylet and agents (they name its node
        id) and to their children (the workers: trials in training). Returns how many processes it killed."""
        flags = {f"--node_id={node_id}".encode(), f"--node-id={node_id}".encode()}
        mine = {}  # pid -> (parent pid, arguments)
        for pid in self.processes():
            try:
                parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
                mine[pid] = parent, Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:  # ended meanwhile
                continue
        node = {pid for pid, (_, args) in mine.items() if flags & set(args)}
        doomed = node | {pid for pid, (parent, _) in mine.items() if parent in node}
        for pid in doomed:
            os.kill(pid, signal.SIGKILL)
        return len(doomed)

    def stop(self) -> None:
        """Kill the namespace's first process: the kernel then kills every process in the namespace."""
        if self.init_pid:
            os.kill(self.init_pid, signal.SIGKILL)
        if self.unshare is not None:
            self.unshare.wait(timeout=60)
        deadline = time.time() + 30
        while self.processes() and time.time() < deadline:
            time.sleep(0.2)
        subprocess.run(["rm", "-rf", str(self.temp)], check=False)



def trial_actors(cluster: FakeCluster, before: set[str]) -> list[dict]:
    """The actors of Tune's trials (one per trial, or several trials in turn: Tune reuses them) that are not in
    `before` (actor ids), from Ray's actor list, which tells the node each ran on."""
    return [a for a in cluster.state("actors")
            if a["class_name"].endswith("ImplicitFunc") and a["actor_id"] not in before]


def epoch(stamp: str) -> float:
    """Seconds since the epoch of a time in Ray's state API output ('2026-12-06 22:26:30.138000', local time)."""
    return datetime.fromisoformat(stamp).timestamp()


def actor_ids(cluster: FakeCluster) -> set[str]:
    return {a["actor_id"] for a in cluster.state("actors")}

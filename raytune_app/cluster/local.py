"""`raytune-app cluster-local up|down`: a multi-node Ray cluster on one machine.

Node i runs on 127.0.0.i with a temp dir of its own (nodes sharing one would unpack
job working dirs over each other). Nodes advertise loopback addresses and the dashboard
binds to 127.0.0.1; Ray's token authentication is off, which is only safe for such a
loopback-only cluster on your own machine. For trying the cluster workflow and for tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from raytune_app.errors import InputError, RunFailed

ROOT = Path(os.environ.get("RAYTUNE_APP_LOCAL_CLUSTER_DIR") or Path(tempfile.gettempdir()) / "raytune-local")
STATE = ROOT / "cluster.json"


def _ray_env() -> dict[str, str]:
    # this Python's bin first, so jobs' entrypoints find `raytune-app` and `python` of this install
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def _ray(*args: str) -> None:
    ray = str(Path(sys.executable).with_name("ray"))
    done = subprocess.run([ray, *args], env=_ray_env(), capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise RunFailed(f"cluster-local: `ray {args[0]}` failed (exit {done.returncode}): {last}; "
                        f"its logs are under {ROOT}; stop what started with `raytune-app cluster-local down`")


def _processes() -> dict[int, tuple[int, bytes]]:
    """pid -> (parent pid, command line) of every process we can see."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                out[int(entry.name)] = (ppid, (entry / "cmdline").read_bytes())
            except (OSError, IndexError, ValueError):
                continue
    return out


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pids_of(temp_dir: Path, gcs_port: int | None = None) -> list[int]:
    """Ray processes of one node: those naming its temp dir, and their children (the workers). The head's
    Ray client server names neither: it is found by the GCS address it serves (`gcs_port`)."""
    procs = _processes()
    needle = str(temp_dir).encode()
    client = b"ray.util.client.server"
    gcs = f":{gcs_port}\0".encode() if gcs_port else None
    pids = {pid for pid, (_, cmd) in procs.items() if pid != os.getpid() and (
        needle in cmd or (gcs is not None and client in cmd and gcs in cmd))}
    grown = True
    while grown:
        children = {pid for pid, (ppid, _) in procs.items() if ppid in pids} - pids
        pids |= children
        grown = bool(children)
    return sorted(pids)


def kill_node(temp_dir: str | Path, sig: int = signal.SIGKILL, gcs_port: int | None = None) -> int:
    """Stop one node's Ray processes (its workers exit with its raylet; with `gcs_port`, the head's client
    server too); returns how many."""
    pids = pids_of(Path(temp_dir), gcs_port)
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    return len(pids)


def read_state() -> dict | None:
    return json.loads(STATE.read_text()) if STATE.exists() else None


def up(nodes: int, cpus_per_node: float, port: int, dashboard_port: int) -> dict:
    """Start the head on 127.0.0.1 and nodes-1 workers on 127.0.0.2, ...; returns the state."""
    if nodes < 1 or nodes > 250:
        raise InputError([f"--nodes: must be between 1 and 250, got {nodes}"])
    state = read_state()
    if state and pids_of(Path(state["nodes"][0]["temp_dir"])):
        raise InputError([f"cluster-local: a cluster is already up at {state['address']}; "
                          "`raytune-app cluster-local down` first"])
    ROOT.mkdir(parents=True, exist_ok=True)
    address = f"127.0.0.1:{port}"
    state = {"address": address, "dashboard": f"http://127.0.0.1:{dashboard_port}", "nodes": []}
    for i in range(1, nodes + 1):
        ip, temp_dir = f"127.0.0.{i}", ROOT / f"node{i}"
        # the agents' fixed default ports would clash with those of any other Ray on this machine
        common = [f"--node-ip-address={ip}", f"--num-cpus={cpus_per_node:g}", f"--temp-dir={temp_dir}",
                  f"--dashboard-agent-listen-port={_free_port()}", f"--metrics-export-port={_free_port()}",
                  "--disable-usage-stats"]
        if i == 1:
            _ray("start", "--head", f"--port={port}", "--dashboard-host=127.0.0.1",
                 f"--ray-client-server-port={_free_port()}",
                 f"--dashboard-port={dashboard_port}", *common)
        else:
            _ray("start", f"--address={address}", *common)
        state["nodes"].append({"ip": ip, "temp_dir": str(temp_dir)})
        STATE.write_text(json.dumps(state, indent=2))  # so `down` can clean up a half-started cluster
    _wait_for_http(f"{state['dashboard']}/api/version")
    return state


def _wait_for_http(url: str, timeout: float = 60) -> None:
    """Wait for the dashboard (Ray's job server) to answer, so `ray job submit` works at once."""
    import urllib.request

    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.time() > deadline:
                raise RunFailed(f"cluster-local: Ray's dashboard did not come up at {url} within {timeout:g} s; "
                                "stop the cluster with `raytune-app cluster-local down`") from None
            time.sleep(0.5)


def down() -> int:
    """Stop every node of the cluster `up` started; returns the number of nodes stopped."""
    state = read_state()
    if not state:
        return 0
    port = int(state["address"].rsplit(":", 1)[1])
    for node in reversed(state["nodes"]):
        kill_node(node["temp_dir"], signal.SIGTERM, port)
    deadline = time.time() + 10
    while time.time() < deadline and any(pids_of(Path(n["temp_dir"]), port) for n in state["nodes"]):
        time.sleep(0.2)
    for node in state["nodes"]:
        kill_node(node["temp_dir"], gcs_port=port)
    STATE.unlink()
    return len(state["nodes"])

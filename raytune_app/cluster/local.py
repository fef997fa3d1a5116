"""`raytune-app cluster-local up|down`: a multi-node Ray cluster on one machine.

Node i runs on 127.0.0.i with a temp dir of its own (nodes sharing one would unpack
job working dirs over each other). Nodes advertise loopback addresses and the dashboard
binds to 127.0.0.1; Ray's token authentication is off, which is only safe for such a
loopback-only cluster on your own machine. For trying the cluster workflow and for tests.

The nodes' temp dirs and `cluster.json` live in a folder of the user's own: RAYTUNE_APP_LOCAL_CLUSTER_DIR, or
TMPDIR/raytune-local-UID; one that someone else owns or may write to is refused (its state file says which
processes `down` stops). `up` records each node's processes by identity (pid, start time, command line), and
`down` stops only those whose identity still matches, with their children (Ray's workers).
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
from typing import NamedTuple

from raytune_app.errors import InputError, RunFailed
from raytune_app.ray_compat.settings import loopback_cluster_settings
from raytune_app.user_state import privacy_problem

ROOT_VARIABLE = "RAYTUNE_APP_LOCAL_CLUSTER_DIR"
STATE = "cluster.json"


def state_dir() -> Path:
    """The user's private folder for the cluster's state and temp dirs, made (0700) when missing. InputError
    when it is a link, someone else's, or open to others: its state file steers what `down` stops."""
    chosen = os.environ.get(ROOT_VARIABLE)
    root = Path(chosen).expanduser().absolute() if chosen else Path(tempfile.gettempdir()) / f"raytune-local-{os.getuid()}"
    problem = privacy_problem(root)
    if problem:
        raise InputError([f"cluster-local: {root} {problem}; the cluster's state must be in a private folder of "
                          f"yours: `chmod 700` it if it is yours, else remove it or set {ROOT_VARIABLE} to another"])
    return root


def _ray_env() -> dict[str, str]:
    # this Python's bin first, so jobs' entrypoints find `raytune-app` and `python` of this install
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, **loopback_cluster_settings()}


def _ray(*args: str) -> None:
    ray = str(Path(sys.executable).with_name("ray"))
    done = subprocess.run([ray, *args], env=_ray_env(), capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise RunFailed(f"cluster-local: `ray {args[0]}` failed (exit {done.returncode}): {last}; "
                        f"its logs are under {state_dir()}; stop what started with `raytune-app cluster-local down`")


class Process(NamedTuple):
    ppid: int
    start: int  # clock ticks from boot to its start (/proc/PID/stat field 22): with the pid, it names one process
    cmdline: bytes


def _processes() -> dict[int, Process]:
    """pid -> Process, for every living process we can see (a zombie has ended: only its parent's wait is left)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if fields[0] not in "ZX":
                    out[int(entry.name)] = Process(int(fields[1]), int(fields[19]), (entry / "cmdline").read_bytes())
            except (OSError, IndexError, ValueError):
                continue
    return out


def _command(process: Process) -> str:
    return process.cmdline.decode(errors="backslashreplace")


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
    pids = {pid for pid, p in procs.items() if pid != os.getpid() and (
        needle in p.cmdline or (gcs is not None and client in p.cmdline and gcs in p.cmdline))}
    return sorted(_with_descendants(pids, procs))


def _with_descendants(pids: set[int], procs: dict[int, Process]) -> set[int]:
    pids = set(pids)
    grown = True
    while grown:
        children = {pid for pid, p in procs.items() if p.ppid in pids} - pids
        pids |= children
        grown = bool(children)
    return pids


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
    """The state `up` wrote (None when there is none); InputError when the file is not one."""
    path = state_dir() / STATE
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text())
        for node in state["nodes"]:
            node["processes"] = [{"pid": int(p["pid"]), "start": int(p["start"]), "cmdline": str(p["cmdline"])}
                                 for p in node.get("processes", [])]
        str(state["address"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InputError([f"cluster-local: {path}: not a state file that `up` wrote; remove it once the Ray it "
                          "names is stopped"]) from None
    return state


def _write_state(state: dict) -> None:
    path = state_dir() / STATE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2))
    temporary.replace(path)


def _still_running(node: dict, procs: dict[int, Process]) -> dict[int, int]:
    """pid -> start of the node's recorded processes whose identity still matches: the same start time and
    command line (a pid alone may since name another process)."""
    return {p["pid"]: p["start"] for p in node["processes"]
            if p["pid"] in procs and procs[p["pid"]].start == p["start"] and _command(procs[p["pid"]]) == p["cmdline"]}


def _alive(targets: dict[int, int], procs: dict[int, Process]) -> set[int]:
    return {pid for pid, start in targets.items() if pid in procs and procs[pid].start == start}


def _signal(targets: dict[int, int], sig: int) -> None:
    """Signal the targets (pid -> start) still alive, and their children, which join the targets: they are
    followed by identity even once their parent is gone."""
    procs = _processes()
    alive = _alive(targets, procs)
    targets.update({pid: procs[pid].start for pid in _with_descendants(alive, procs) - alive})
    for pid in _alive(targets, procs):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def up(nodes: int, cpus_per_node: float, port: int, dashboard_port: int) -> dict:
    """Start the head on 127.0.0.1 and nodes-1 workers on 127.0.0.2, ...; returns the state."""
    if nodes < 1 or nodes > 250:
        raise InputError([f"--nodes: must be between 1 and 250, got {nodes}"])
    root = state_dir()
    state = read_state()
    if state and any(_still_running(node, _processes()) for node in state["nodes"]):
        raise InputError([f"cluster-local: a cluster is already up at {state['address']}; "
                          "`raytune-app cluster-local down` first"])
    address = f"127.0.0.1:{port}"
    state = {"address": address, "dashboard": f"http://127.0.0.1:{dashboard_port}", "nodes": []}
    for i in range(1, nodes + 1):
        ip, temp_dir = f"127.0.0.{i}", root / f"node{i}"
        # the agents' fixed default ports would clash with those of any other Ray on this machine
        common = [f"--node-ip-address={ip}", f"--num-cpus={cpus_per_node:g}", f"--temp-dir={temp_dir}",
                  f"--dashboard-agent-listen-port={_free_port()}", f"--metrics-export-port={_free_port()}",
                  "--disable-usage-stats"]
        try:
            if i == 1:
                _ray("start", "--head", f"--port={port}", "--dashboard-host=127.0.0.1",
                     f"--ray-client-server-port={_free_port()}",
                     f"--dashboard-port={dashboard_port}", *common)
            else:
                _ray("start", f"--address={address}", *common)
        finally:  # recorded even when `ray start` failed half-way, so that `down` can stop what it started
            procs = _processes()
            ids = [{"pid": pid, "start": procs[pid].start, "cmdline": _command(procs[pid])}
                   for pid in pids_of(temp_dir, port if i == 1 else None) if pid in procs]
            state["nodes"].append({"ip": ip, "temp_dir": str(temp_dir), "processes": ids})
            _write_state(state)
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
    """Stop the processes `up` recorded whose identity still matches, and their children; returns the number
    of nodes that had any running."""
    state = read_state()
    if not state:
        return 0
    procs = _processes()
    running = [_still_running(node, procs) for node in state["nodes"]]
    targets = {pid: start for found in running for pid, start in found.items()}
    _signal(targets, signal.SIGTERM)
    deadline = time.time() + 10
    while time.time() < deadline and _alive(targets, _processes()):
        time.sleep(0.2)
    _signal(targets, signal.SIGKILL)
    (state_dir() / STATE).unlink()
    return sum(1 for found in running if found)

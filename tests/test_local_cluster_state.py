"""`cluster-local`'s state is the user's own: a private folder (a shared temp folder let another user's file
steer what `down` kills, and made a second user fail after Ray started), and `down` stops only the processes
`up` recorded whose identity (pid, start time, command line) still matches. Real CLI, real processes; no Ray
is started (the 3-node `cluster` fixture's teardown checks that `down` stops a real cluster)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ENV, free_port


def cluster_local(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raytune_app", "cluster-local", *args],
                          env={**ENV, "RAYTUNE_APP_LOCAL_CLUSTER_DIR": str(folder)}, capture_output=True, text=True,
                          timeout=120)


def bystander(*argv: str) -> subprocess.Popen:
    """A process of this user that no cluster started: it sleeps (with a child, if asked) until killed."""
    code = ("import subprocess, sys, time\n"
            "if 'child' in sys.argv: subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
            "time.sleep(120)")
    return subprocess.Popen([sys.executable, "-c", code, *argv])


def identity(pid: int) -> dict:
    """What `up` records of a process: its pid, its start (field 22 of /proc/PID/stat), its command line."""
    start = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="backslashreplace")
    return {"pid": pid, "start": start, "cmdline": command}


def children(pid: int) -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and (p / "stat").exists()
            and int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except FileNotFoundError:
        return False


def plant(folder: Path, *nodes: dict) -> None:
    state = {"address": "127.0.0.1:6379", "dashboard": "http://127.0.0.1:8265",
             "nodes": [{"ip": f"127.0.0.{i + 1}", **node} for i, node in enumerate(nodes)]}
    (folder / "cluster.json").write_text(json.dumps(state))


@pytest.fixture
def private(tmp_path) -> Path:
    folder = tmp_path / "cl"
    folder.mkdir(mode=0o700)
    return folder


def test_down_kills_no_process_that_a_planted_state_names(private, tmp_path):
    marker = str(tmp_path / "not-a-ray-node")
    named = bystander(marker)  # what the old `down` killed: any process whose command line holds the temp dir
    reused = bystander()  # its pid recorded, but with another start time: the pid now names another process
    ours = bystander("child")  # recorded by `up` as it is: stopped, with its child
    try:
        time.sleep(1)
        old = identity(reused.pid)
        plant(private, {"temp_dir": marker},
              {"temp_dir": str(tmp_path / "node2"), "processes": [{**old, "start": old["start"] - 1}]},
              {"temp_dir": str(tmp_path / "node3"), "processes": [identity(ours.pid)]})
        child = children(ours.pid)
        assert child
        done = cluster_local(private, "down")
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.strip() == "stopped 1 node(s)"
        assert named.poll() is None and reused.poll() is None
        assert ours.wait(timeout=10) == -15 and not alive(child[0])
        assert not (private / "cluster.json").exists()
    finally:
        for proc in (named, reused, ours):
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("action", ["down", "up", "status"])
def test_a_state_folder_that_others_may_write_to_is_refused(tmp_path, action):
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o777)
    named = bystander(str(folder / "node1"))
    plant(folder, {"temp_dir": str(folder / "node1")})
    try:
        flags = ["--nodes", "1", "--port", str(free_port()), "--dashboard-port", str(free_port())]
        done = cluster_local(folder, action, *(flags if action == "up" else []))
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.strip() == (
            f"cluster-local: {folder} is open to other users (mode 0777; chmod 700 it); the cluster's state must be in a private "
            f"folder of yours: `chmod 700` it if it is yours, else remove it or set RAYTUNE_APP_LOCAL_CLUSTER_DIR "
            f"to another")
        assert named.poll() is None and not (folder / "node1").exists()  # nothing stopped, no Ray started
    finally:
        named.kill()
        named.wait()
        if action == "up":  # an `up` that went ahead would have started a node there
            from raytune_app.cluster.local import kill_node

            kill_node(folder / "node1")


def test_a_state_folder_of_someone_else_or_a_link_is_refused(tmp_path, private):
    if os.getuid() == 0:
        theirs = tmp_path / "theirs"
        theirs.mkdir(mode=0o700)
        os.chown(theirs, 65534, 65534)
    else:
        theirs = Path("/")  # root's
    owner = theirs.stat().st_uid
    done = cluster_local(theirs, "down")
    assert done.returncode == 2 and f"{theirs} belongs to uid {owner}, not to you (uid {os.getuid()})" in done.stderr
    link = tmp_path / "link"
    link.symlink_to(private)
    done = cluster_local(link, "down")
    assert done.returncode == 2 and f"cluster-local: {link} is a link;" in done.stderr


def test_the_default_state_folder_is_the_users_own_and_private(tmp_path, monkeypatch):
    from raytune_app.cluster.local import state_dir

    monkeypatch.delenv("RAYTUNE_APP_LOCAL_CLUSTER_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = state_dir()
    assert folder == tmp_path / f"raytune-local-{os.getuid()}"
    info = folder.stat()
    assert info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) == 0o700
    assert state_dir() == folder  # found again as it is

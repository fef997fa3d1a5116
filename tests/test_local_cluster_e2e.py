"""A three-node Ray cluster on loopback (127.0.0.1-3), one for the whole module (bringing one up costs half a
minute): trials spread, data-parallel workers span nodes, the user's code reaches every node through Ray's
runtime env (the user's folder is on no worker's path), job submission, and, last, losing a node."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, histories, run_cli, slow_model, start_cli, trial_dirs, wait_for, write_experiment
from user_code_files import write_trainable_experiment, write_user_code

# epochs of about a second, sleeping (tests/slow_model.py): Ray copies result.json, which the tests read, to
# the storage path every 2 s
SLOW = {"scheduler": "fifo", "search": "random",
        "space": {"lr": {"loguniform": [1e-3, 1e-2]}, "batch_size": 16, "hidden_size": 64}}


def test_nodes_are_on_loopback_addresses(cluster):
    state, _ = cluster
    assert [n["ip"] for n in state["nodes"]] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert state["dashboard"].startswith("http://127.0.0.1:")


@pytest.fixture(scope="module")
def submitted(cluster, tmp_path_factory):
    """The default experiment sent with `ray job submit` (4 trials of 2 epochs, `--gpus-per-trial auto` on a
    cluster without GPUs): one run that several tests read."""
    state, env = cluster
    runs = tmp_path_factory.mktemp("submit") / "runs"
    ray = str(Path(sys.executable).with_name("ray"))

    def submit():
        done = subprocess.run([ray, "job", "submit", "--address", state["dashboard"], "--working-dir", str(REPO),
                               "--", "raytune-app", "tune", "search_spaces/mlp_digits.yaml", "--address", "auto",
                               "--storage", str(runs), "--num-samples", "4", "--max-epochs", "2",
                               "--gpus-per-trial", "auto"],
                              env=env, capture_output=True, text=True, timeout=300)
        # the head's dashboard agent registers a little after the dashboard answers; Ray says to retry
        return None if "No available agent" in done.stderr else done
    return wait_for(submit, timeout=60), runs / "mlp-digits"


def test_ray_job_submit_runs_the_experiment(submitted):
    done, exp = submitted
    assert done.returncode == 0 and "succeeded" in done.stdout + done.stderr, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((exp / "summary.json").read_text())
    assert summary["num_trials"] == 4 and summary["best"]["test_accuracy"] > 0


def test_trials_run_on_several_nodes(submitted):
    _, exp = submitted
    hist = histories(exp)
    assert len(hist) == 4 and all(h[-1]["epoch"] >= 1 for h in hist.values())
    nodes = {r["node_ip"] for h in hist.values() for r in h}
    assert len(nodes) >= 2, nodes


def test_auto_gpus_on_a_cluster_without_gpus_trains_on_cpus_and_says_so(submitted):
    done, exp = submitted
    assert "gpus_per_trial auto: the Ray cluster has no GPUs: trials train on CPUs; gpus_per_trial = 0" in done.stdout
    packing = json.loads((exp / "summary.json").read_text())["gpu_packing"]
    assert packing["gpus_per_trial"] == 0 and packing["trials_per_gpu"] is None


# data-parallel trials: three nodes of one CPU, so a trial of two one-CPU workers needs two of them
@pytest.fixture(scope="module")
def one_and_two_workers(cluster, tmp_path_factory):
    """The same trial (its seed fixed) with one worker and with two DDP workers, through the CLI."""
    from test_data_parallel_e2e import ONE_CONFIG

    state, _ = cluster
    tmp = tmp_path_factory.mktemp("dp")
    spec = write_experiment(tmp / "dp.yaml", **ONE_CONFIG)
    for name, flags in (("one", []), ("two", ["--workers-per-trial", "2", "--cpus-per-worker", "1"])):
        out = run_cli("tune", spec, "--storage", tmp / "runs", "--name", name, "--address", state["address"], *flags)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return tmp / "runs" / "one", tmp / "runs" / "two"


def test_a_data_parallel_trial_spreads_its_workers_over_nodes_and_trains_like_one_worker(one_and_two_workers):
    from test_data_parallel_e2e import assert_same_history

    (one,), (two,) = (histories(exp).values() for exp in one_and_two_workers)
    assert_same_history(one, two)
    nodes = two[-1]["worker_nodes"]
    assert len(set(nodes)) == 2, nodes  # (Ray names the head by the host's address, not 127.0.0.1)
    pids = {tuple(r["worker_pids"]) for r in two}
    assert len(pids) == 1 and len(set(next(iter(pids)))) == 2  # two processes, the same all along
    assert two[0]["pid"] not in two[0]["worker_pids"]  # neither of them the trial's own process
    assert "worker_pids" not in one[0]


def test_rank_0_checkpoints_are_the_trials_own_and_export_like_any(one_and_two_workers, tmp_path):
    import torch

    _, exp = one_and_two_workers
    (trial,) = trial_dirs(exp)
    assert sorted(p.name for p in trial.glob("checkpoint_*")) == ["checkpoint_000001", "checkpoint_000002"]
    assert not (trial / "ray_train").exists()  # Train's transit folder is gone
    summary = json.loads((exp / "summary.json").read_text())
    assert summary["best"]["test_accuracy"] > 0.5 and summary["gpu_packing"] is None
    out = run_cli("best", exp, "--export", tmp_path / "model")
    assert out.returncode == 0, out.stderr[-3000:]
    weights = torch.load(tmp_path / "model" / "model.pt", weights_only=True)
    assert not any(k.startswith("module.") for k in weights)  # the model's own names, not DDP's wrapper


# the user's own code, at each of its three levels
TINY = {"num_samples": 3, "max_epochs": 2, "scheduler": "fifo", "search": "random"}


# files that must never leave this machine, at the top and nested (and a .rayignore that tries to ship .env)
SECRETS = [".env", ".netrc", "id_rsa.pem", ".aws/credentials", ".ssh/id_rsa", "data/.env", "models/.netrc",
           "deep/copy/.aws/credentials", "deep/copy/.ssh/id_rsa", "deep/copy/id_rsa.pem", "server.key", "cert.p12",
           ".git-credentials", ".pypirc", ".docker/config.json", "deep/credentials.json"]
# ordinary files, some with names like a secret's; data/cache.bin is listed in data/.gitignore
ORDINARY = ["keys.py", "environment.py", "netrc_notes.txt", "data/tokenizer.json", "data/.gitignore", ".rayignore"]
# imported by every process that imports models.net: the files (and sizes) of the folder it was imported from
PROBE = """
import json, os
_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_files = {{}}
for _dir, _subdirs, _names in os.walk(_root):
    _subdirs[:] = [d for d in _subdirs if d not in ("__pycache__", "runs")]
    for _name in _names:
        _path = os.path.join(_dir, _name)
        _files[os.path.relpath(_path, _root)] = os.path.getsize(_path)
with open({log!r}, "a") as _f:
    _f.write(json.dumps({{"root": _root, "files": _files}}) + "\\n")
"""


@pytest.fixture(scope="module")
def code(tmp_path_factory):
    folder = tmp_path_factory.mktemp("travelling")
    write_user_code(folder, log=str(folder.parent / "imports.log"))
    for name in SECRETS + ORDINARY + ["data/cache.bin"]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"{name}\n")
    (folder / ".rayignore").write_text("!.env\n")
    (folder / "data" / ".gitignore").write_text("cache.bin\n")
    (folder / "models" / "__init__.py").write_text(PROBE.format(log=str(folder.parent / "shipped.log")))
    return folder


def imports(code: Path) -> list[str]:
    """Folders the user's files were imported from, one line per import (driver and workers); emptied."""
    log = code.parent / "imports.log"
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def assert_travelled(folders: list[str], code: Path, cluster_root: Path, exp: Path, subfolder: str = "") -> None:
    """Trials ran on several nodes, and every worker imported the user's code (the files in `subfolder`) from
    its own node's copy; `folders` are the imports that the run logged."""
    hist = histories(exp)
    assert len(hist) == 3 and all(h[-1]["epoch"] == 2 for h in hist.values())
    assert len({r["node_ip"] for h in hist.values() for r in h}) >= 2
    folders = [f for f in folders if not subfolder or Path(f).name == subfolder]
    copies = [f for f in folders if not f.startswith(str(code))]
    assert all(f.startswith(str(cluster_root)) for f in copies), folders  # each node's unpacked working_dir
    assert len({Path(f).parts[len(cluster_root.parts)] for f in copies}) >= 2, folders  # node1, node2, ...
    assert len(folders) - len(copies) <= 2, folders  # the driver's own imports (checks, summary)


@pytest.fixture(scope="module")
def cluster_root(cluster):
    state, _ = cluster
    return Path(state["nodes"][0]["temp_dir"]).parent


def shipped(code: Path) -> list[dict]:
    """What each import of models.net saw of its folder (PROBE), one entry per import; emptied."""
    log = code.parent / "shipped.log"
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def model_and_loader(cluster, code):
    """The user's model trained on the user's loader's data, the loader run on the workers: one run. Returns
    the experiment, the folders the user's files were imported from, the CLI's output and what PROBE saw."""
    state, _ = cluster
    spec = write_experiment(code / "model.yaml", model="models/net.py:Net", space={"width": {"choice": [16, 32]}},
                            data={"loader": "data/load.py:load", "on_workers": True}, **TINY)
    imports(code)
    shipped(code)
    out = run_cli("tune", spec, "--storage", code / "runs", "--address", state["address"])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return code / "runs" / "model", imports(code), out, shipped(code)


def test_a_user_model_reaches_every_node(cluster_root, code, model_and_loader):
    exp, folders, *_ = model_and_loader
    assert_travelled(folders, code, cluster_root, exp, "models")
    summary = json.loads((exp / "summary.json").read_text())
    assert summary["best"]["val_accuracy"] > 0.3
    assert summary["best"]["test_accuracy"] is None  # the loader ran on the workers only: no test split here


def test_a_user_loader_runs_on_the_workers(cluster_root, code, model_and_loader):
    exp, folders, *_ = model_and_loader
    assert_travelled(folders, code, cluster_root, exp, "data")


def test_no_secret_reaches_the_nodes_and_the_driver_says_what_it_sends(cluster_root, code, model_and_loader):
    """Seen from inside the trials, on the other nodes: their copy of the folder holds the code and none of the
    secrets, and it is exactly the files (and bytes) the driver said it sends."""
    _, _, out, seen = model_and_loader
    copies = [s for s in seen if not s["root"].startswith(str(code))]
    assert all(s["root"].startswith(str(cluster_root)) for s in copies), seen
    nodes = {Path(s["root"]).parts[len(cluster_root.parts)] for s in copies}
    assert len(nodes) >= 2 and nodes - {"node1"}, nodes  # trials on the other nodes too
    said = re.search(rf"sending (\d+) files \(([0-9.]+) KiB\) of {re.escape(str(code))} to every node", out.stdout)
    assert said, out.stdout[-3000:]
    for copy in copies:
        files = copy["files"]
        assert not set(SECRETS) & set(files), (copy["root"], sorted(files))
        assert {"models/net.py", "models/__init__.py", "data/load.py", "train.py", "model.yaml", *ORDINARY} <= set(files)
        assert "data/cache.bin" not in files  # a nested .gitignore is honoured
        assert (len(files), f"{sum(files.values()) / 1024:.1f}") == (int(said.group(1)), said.group(2))
    assert f"{len(SECRETS)} files of {code} look like secrets and are never sent to the nodes: " in out.stderr


def test_a_user_training_function_reaches_every_node(cluster, cluster_root, code):
    state, _ = cluster
    spec = write_trainable_experiment(code / "fn.yaml", num_samples=3, max_epochs=2,
                                      space={"lr": 0.01, "width": {"choice": [16, 32]}, "epochs": 2})
    imports(code)
    out = run_cli("tune", spec, "--storage", code / "runs", "--address", state["address"])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert_travelled(imports(code), code, cluster_root, code / "runs" / "fn")
    assert all(not r["code_dir"].startswith(str(code)) for h in histories(code / "runs" / "fn").values() for r in h)


def test_losing_a_node_moves_its_trials_to_the_others(cluster, tmp_path):
    from raytune_app.cluster.local import kill_node

    state, _ = cluster
    spec = write_experiment(tmp_path / "loss.yaml", num_samples=3, max_epochs=8, max_failures=3,
                            model=slow_model(tmp_path), **SLOW)
    exp = tmp_path / "runs" / "loss"
    proc = start_cli("tune", spec, "--storage", tmp_path / "runs", "--address", state["address"],
                     log=tmp_path / "log")

    def trial_on_node2_with_checkpoint():
        # a checkpoint Ray has taken in (a result row names it), not only a folder on disk: one whose report the
        # driver had not read when the node died is one Ray cannot restore from (with checkpoints every 5th
        # epoch, the trial then rightly starts again from epoch 1)
        for trial, h in histories(exp).items():
            if h and h[-1]["node_ip"] == "127.0.0.2" and h[-1]["epoch"] < 8 and any(r.get("checkpoint_dir_name")
                                                                                   for r in h):
                return trial
    victim = wait_for(trial_on_node2_with_checkpoint, timeout=180, proc=proc)
    assert kill_node(state["nodes"][1]["temp_dir"]) > 0
    assert proc.wait(timeout=300) == 0, (tmp_path / "log").read_text()[-4000:]
    summary = json.loads((exp / "summary.json").read_text())
    assert summary["trials_by_status"] == {"completed": 3}
    h = histories(exp)[victim]
    epochs = [r["epoch"] for r in h]
    assert epochs.count(1) == 1 and epochs[-1] == 8, epochs  # resumed from its checkpoint, not from epoch 1
    moved = [r for r in h if r["iterations_since_restore"] == 1 and r["epoch"] > 1]
    assert moved and moved[0]["node_ip"] != "127.0.0.2"


def test_a_storage_folder_some_node_cannot_see_is_refused_before_any_trial(cluster, tmp_path):
    """A fourth node in a mount namespace of its own sees an empty tmpfs where the others see `runs`."""
    from raytune_app.cluster.local import kill_node

    state, env = cluster
    runs = tmp_path / "runs"
    runs.mkdir()
    node4 = Path(state["nodes"][0]["temp_dir"]).parent / "node4"
    ray = str(Path(sys.executable).with_name("ray"))
    start = (f"mount -t tmpfs tmpfs {runs} && exec {ray} start --address={state['address']} "
             f"--node-ip-address=127.0.0.4 --num-cpus=1 --temp-dir={node4} --disable-usage-stats")
    subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", start], env=env,
                   check=True, capture_output=True, timeout=120)
    try:
        spec = write_experiment(tmp_path / "blind.yaml", num_samples=2, max_epochs=1)
        out = run_cli("tune", spec, "--storage", runs, "--address", state["address"])
        assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
        assert f"{spec}: storage: {runs} is a local folder that node(s) 127.0.0.4 of this cluster cannot see" in out.stderr
        assert not (runs / "blind" / "experiment_state").exists() and not list(runs.glob("blind/trial_*"))
    finally:
        kill_node(node4)


def test_a_model_and_data_defined_in_main_tune_on_the_cluster(cluster, tmp_path):
    """examples/tune_from_python.py on the three nodes: its `Net` and `data`, defined in the script's `__main__`,
    reach trials on every node by value (nothing of the script's folder is shipped), and the best model reloaded
    scores on the test split what the run recorded."""
    state, env = cluster
    done = subprocess.run([sys.executable, str(REPO / "examples" / "tune_from_python.py")], cwd=tmp_path,
                          env={**env, "RAY_ADDRESS": state["address"]}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    measured, recorded = map(float, re.search(r"test accuracy ([\d.]+) \(recorded ([\d.]+)\)", done.stdout).groups())
    assert measured == recorded > 0.5
    hist = histories(tmp_path / "runs" / "digits-from-python")
    assert len({r["node_ip"] for h in hist.values() for r in h}) >= 2

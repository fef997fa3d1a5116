"""Results you can trust, on the real CLI and a real Ray: every number and file agrees with every other, and
every failure is loud."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ENV, histories, read_json_lines, run_cli, write_experiment

# one trial at a time: one trial worker (its imports are most of a tiny run's CPU)
FIFO = {"scheduler": "fifo", "search": "random", "max_concurrent": 1}


def summary_of(exp: Path) -> dict:
    return json.loads((exp / "summary.json").read_text())


def checkpoint_row(summary: dict, exp: Path) -> dict:
    """The result.json row of the epoch whose checkpoint summary.json names."""
    best = summary["best"]
    name = Path(best["checkpoint"]).name
    rows = read_json_lines(exp / f"trial_{best['trial_id']}" / "result.json")
    return next(r for r in rows if r.get("checkpoint_dir_name") == name)


def test_with_checkpoints_every_2_epochs_the_best_is_a_checkpointed_epoch_and_exports(ray_address, tmp_path):
    spec = write_experiment(tmp_path / "every2.yaml", num_samples=2, max_epochs=3, checkpoint_every=2,
                            keep_checkpoints=1, **FIFO)
    out = run_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address)
    assert out.returncode == 0, out.stderr[-3000:]
    exp = tmp_path / "runs" / "every2"
    summary = summary_of(exp)
    assert Path(summary["best"]["checkpoint"]).is_dir()
    row = checkpoint_row(summary, exp)
    assert row["epoch"] == summary["best"]["epoch"] in (2, 3)
    assert row["val_accuracy"] == summary["best"]["val_accuracy"]
    hist = histories(exp)[summary["best"]["trial_id"]]
    assert summary["best"]["val_accuracy"] == max(r["val_accuracy"] for r in hist if r.get("checkpoint_dir_name"))
    out = run_cli("best", exp, "--export", tmp_path / "export")
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads((tmp_path / "export" / "scores.json").read_text())["epoch"] == summary["best"]["epoch"]


def test_a_run_where_every_trial_diverges_fails(ray_address, tmp_path):
    spec = write_experiment(tmp_path / "nan.yaml", num_samples=2, max_epochs=3, **FIFO,
                            space={"lr": {"uniform": [1e9, 1e10]}, "optimizer": "sgd", "momentum": 0.9})
    out = run_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address)
    assert out.returncode == 1, out.stdout[-3000:]
    assert "No trial reported a usable val_accuracy" in out.stderr
    summary = summary_of(tmp_path / "runs" / "nan")
    assert summary["best"] is None and summary["trials_by_status"] == {"diverged": 2}


def test_a_trial_asking_for_a_gpu_its_worker_lacks_fails_loudly(ray_address, tmp_path):
    """The test cluster declares a GPU that this machine does not have."""
    spec = write_experiment(tmp_path / "gpu.yaml", num_samples=1, max_epochs=2, max_failures=0, **FIFO)
    out = run_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address, "--gpus-per-trial", "1")
    assert out.returncode == 1, out.stdout[-3000:]
    assert summary_of(tmp_path / "runs" / "gpu")["trials_by_status"] == {"error": 1}
    (error,) = (tmp_path / "runs" / "gpu").glob("trial_*/error.txt")
    assert "asked for 1 GPU(s) but PyTorch on this worker" in error.read_text()


def test_tune_resume_continues_the_saved_experiment_and_names_what_it_ignored(ray_address, tmp_path):
    spec = write_experiment(tmp_path / "saved.yaml", num_samples=2, max_epochs=2, **FIFO)
    runs = tmp_path / "runs"
    assert run_cli("tune", spec, "--storage", runs, "--address", ray_address).returncode == 0
    out = run_cli("tune", spec, "--storage", runs, "--address", ray_address, "--resume", "--num-samples", "5",
                  "--seed", "7", "--max-epochs", "4")
    assert out.returncode == 0, out.stderr[-3000:]
    ignored = next(line for line in out.stdout.splitlines() if "exactly as it was saved; ignored:" in line)
    assert "num_samples (asked 5, saved 2)" in ignored and "seed (asked 7, saved 0)" in ignored
    assert "max_epochs (asked 4, saved 2)" in ignored
    summary = summary_of(runs / "saved")
    assert summary["num_trials"] == 2 and summary["total_epochs"] == 4


def test_warm_start_from_a_missing_experiment_is_refused_before_ray_starts(tmp_path):
    spec = write_experiment(tmp_path / "warm.yaml")
    out = run_cli("tune", spec, "--storage", tmp_path / "runs", "--warm-start", "nowhere", timeout=60)
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    assert out.stderr.count("\n") == 1 and "--warm-start" in out.stderr and "nowhere" in out.stderr
    assert out.stdout == "" and "Traceback" not in out.stderr  # nothing started: not even the run's headline


@pytest.mark.parametrize("args", [["validate", "search_spaces/mlp_digits.yaml"]])
def test_validate_never_imports_ray(args):
    code = ("import sys; from raytune_app.cli.main import main; code = main(sys.argv[1:]); "
            "assert 'ray' not in sys.modules and 'torch' not in sys.modules, 'imported'; sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code, *args], env=ENV, capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


def test_cluster_local_errors_are_one_line_without_traceback(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**ENV, "RAYTUNE_APP_LOCAL_CLUSTER_DIR": str(tmp_path / "cl")}
        done = subprocess.run([sys.executable, "-m", "raytune_app", "cluster-local", "up", "--nodes", "1",
                               "--port", str(port)], env=env, capture_output=True, text=True, timeout=180)
        subprocess.run([sys.executable, "-m", "raytune_app", "cluster-local", "down"], env=env,
                       capture_output=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("cluster-local: `ray start` failed")

"""Data-parallel trials through the real CLI on a local Ray (gloo on CPUs): a trial that can never fit is refused,
and a killed worker's trial resumes from its checkpoint. That N workers train like one, in processes of their
own, is tested across nodes in test_local_cluster_e2e.py."""

from __future__ import annotations

import json
import os
import signal

import pytest

from conftest import checkpointed, histories, read_json_lines, run_cli, start_cli, trial_dirs, wait_for, write_experiment

# one config, its seed fixed: a one-worker and a two-worker trial of it must report the same history
# (test_local_cluster_e2e.py)
ONE_CONFIG = {"num_samples": 1, "max_epochs": 3, "scheduler": "fifo", "search": "random",
              "space": {"lr": 0.01, "seed": 7, "hidden_size": 64}}
METRICS = ("train_loss", "val_loss", "val_accuracy")


def assert_same_history(one: list[dict], many: list[dict], rel: float = 1e-4) -> None:
    assert [r["epoch"] for r in many] == [r["epoch"] for r in one] == [1, 2, 3]
    for a, b in zip(one, many):
        for key in METRICS:
            assert b[key] == pytest.approx(a[key], rel=rel, abs=1e-6), (a["epoch"], key, a[key], b[key])


def test_a_trial_needing_more_gpus_than_the_cluster_has_is_refused_before_any_trial(ray_address, tmp_path):
    spec = write_experiment(tmp_path / "big.yaml", **ONE_CONFIG)
    out = run_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address,
                  "--workers-per-trial", "2", "--gpus-per-worker", "1")
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    assert (f"{spec}: resources.workers_per_trial: 2 workers of 1 CPUs and 1 GPUs (2 GPUs per trial), but the Ray "
            "cluster can never hold more than 1 such workers at once") in out.stderr
    assert not list(tmp_path.glob("runs/big/trial_*"))


def test_a_killed_worker_fails_its_trial_which_resumes_from_its_checkpoint(ray_address, tmp_path):
    epochs = 6  # Ray Train consolidates the workers' reports every 2 s: an epoch lasts that long at least
    spec = write_experiment(tmp_path / "kill.yaml", **(ONE_CONFIG | {"max_epochs": epochs, "max_failures": 1}))
    exp = tmp_path / "runs" / "kill"
    proc = start_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address,
                     "--workers-per-trial", "2", log=tmp_path / "log")
    wait_for(lambda: checkpointed(exp, 2), proc=proc, timeout=300)
    (trial,) = trial_dirs(exp)
    killed = wait_for(lambda: (read_json_lines(trial / "result.json") or [{}])[-1].get("worker_pids"), proc=proc)[1]
    os.kill(killed, signal.SIGKILL)
    assert proc.wait(timeout=300) == 0, (tmp_path / "log").read_text()[-4000:]
    (history,) = histories(exp).values()
    epochs_seen = [r["epoch"] for r in history]
    assert epochs_seen.count(1) == 1 and epochs_seen[-1] == epochs, epochs_seen  # not from epoch 1 again
    restarted = [r for r in history if r["iterations_since_restore"] == 1 and r["epoch"] > 1]
    assert restarted and killed not in restarted[0]["worker_pids"]
    assert json.loads((exp / "summary.json").read_text())["trials_by_status"] == {"completed": 1}


def test_auto_gpus_on_a_gpu_pytorch_cannot_use_is_refused_before_any_trial(ray_address, tmp_path):
    """The shared cluster declares a GPU this machine does not have: the memory probe finds no CUDA there."""
    spec = write_experiment(tmp_path / "auto.yaml", **ONE_CONFIG)
    out = run_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address, "--gpus-per-trial", "auto")
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    assert f"{spec}: resources.gpus_per_trial: auto: PyTorch on the GPU node" in out.stderr
    assert "sees no CUDA device" in out.stderr and not list(tmp_path.glob("runs/auto/trial_*"))

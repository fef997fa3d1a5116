"""Data-parallel trials through the real CLI on a local Ray (gloo on CPUs): the workers are separate processes,
N workers train like one, a trial that can never fit is refused, and a killed worker's trial resumes from its
checkpoint."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch

from conftest import checkpointed, histories, read_json_lines, run_cli, start_cli, trial_dirs, wait_for, write_experiment

# one config, its seed fixed: a one-worker and a two-worker trial of it must report the same history
ONE_CONFIG = {"num_samples": 1, "max_epochs": 3, "scheduler": "fifo", "search": "random",
              "space": {"lr": 0.01, "seed": 7, "hidden_size": 64}}
METRICS = ("train_loss", "val_loss", "val_accuracy")


def assert_same_history(one: list[dict], many: list[dict], rel: float = 1e-4) -> None:
    assert [r["epoch"] for r in many] == [r["epoch"] for r in one] == [1, 2, 3]
    for a, b in zip(one, many):
        for key in METRICS:
            assert b[key] == pytest.approx(a[key], rel=rel, abs=1e-6), (a["epoch"], key, a[key], b[key])


@pytest.fixture(scope="module")
def one_and_two_workers(ray_address, tmp_path_factory):
    """The same trial with one worker and with two (DDP), each through the CLI on the shared cluster."""
    tmp = tmp_path_factory.mktemp("dp")
    spec = write_experiment(tmp / "dp.yaml", **ONE_CONFIG)
    runs = {}
    for name, flags in (("one", []), ("two", ["--workers-per-trial", "2", "--cpus-per-worker", "1"])):
        out = run_cli("tune", spec, "--storage", tmp / "runs", "--name", name, "--address", ray_address, *flags)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        runs[name] = tmp / "runs" / name
    return runs, tmp


def test_two_workers_train_like_one_in_separate_processes(one_and_two_workers):
    runs, tmp = one_and_two_workers
    (one,) = histories(runs["one"]).values()
    (two,) = histories(runs["two"]).values()
    assert_same_history(one, two)
    pids = {tuple(r["worker_pids"]) for r in two}
    assert len(pids) == 1 and len(set(next(iter(pids)))) == 2  # two processes, the same all along
    assert two[0]["pid"] not in two[0]["worker_pids"]  # neither of them the trial's own process
    assert "worker_pids" not in one[0]


def test_rank_0_checkpoints_are_the_trials_own_and_export_like_any(one_and_two_workers):
    runs, tmp = one_and_two_workers
    (trial,) = trial_dirs(runs["two"])
    assert sorted(p.name for p in trial.glob("checkpoint_*")) == ["checkpoint_000001", "checkpoint_000002"]
    assert not (trial / "ray_train").exists()  # Train's transit folder is gone
    summary = json.loads((runs["two"] / "summary.json").read_text())
    assert summary["best"]["test_accuracy"] > 0.5 and summary["gpu_packing"] is None
    out = run_cli("best", runs["two"], "--export", tmp / "model")
    assert out.returncode == 0, out.stderr[-3000:]
    weights = torch.load(tmp / "model" / "model.pt", weights_only=True)
    assert not any(k.startswith("module.") for k in weights)  # the model's own names, not DDP's wrapper


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

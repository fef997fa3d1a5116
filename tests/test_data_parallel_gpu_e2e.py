"""Data-parallel trials and `gpus_per_trial: auto` on CUDA (skipped without a GPU), through the real CLI on a
Ray the CLI starts itself, so that Ray's own GPU detection is part of the test."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import histories, run_cli, trial_dirs, write_experiment
from test_data_parallel_e2e import ONE_CONFIG, assert_same_history
from test_gpu_e2e import GPU_WORK, newest_checkpoint

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def tune_workers(tmp_path, name: str, *flags: str) -> list[dict]:
    spec = write_experiment(tmp_path / f"{name}.yaml", **ONE_CONFIG)
    out = run_cli("tune", spec, "--storage", tmp_path / "runs", *flags)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    (trial,) = trial_dirs(tmp_path / "runs" / name)
    assert "cuda" in newest_checkpoint(trial)["rng"]  # rank 0 checkpointed from the GPU
    (history,) = histories(tmp_path / "runs" / name).values()
    return history


def test_two_workers_sharing_one_gpu_train_like_one_gpu_trial(tmp_path):
    """2 x 0.5 GPU: both workers on one device, so gloo (NCCL refuses two ranks on one GPU)."""
    one = tune_workers(tmp_path, "one", "--gpus-per-trial", "0.5")
    two = tune_workers(tmp_path, "two", "--workers-per-trial", "2", "--gpus-per-worker", "0.5")
    assert len(set(two[-1]["worker_pids"])) == 2
    assert_same_history(one, two, rel=1e-3)  # CUDA kernels sum in orders of their own


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_two_workers_of_one_gpu_each_use_nccl(tmp_path):
    two = tune_workers(tmp_path, "nccl", "--workers-per-trial", "2", "--gpus-per-worker", "1")
    assert [r["epoch"] for r in two] == [1, 2, 3] and len(set(two[-1]["worker_pids"])) == 2


def test_auto_packs_several_trials_on_one_gpu_by_their_measured_memory(tmp_path):
    spec = write_experiment(tmp_path / "auto.yaml", num_samples=4, max_epochs=3,
                            **(GPU_WORK | {"space": GPU_WORK["space"] | {"hidden_size": {"choice": [64, 256]}}}))
    exp = tmp_path / "runs" / "auto"
    out = run_cli("tune", spec, "--storage", tmp_path / "runs", "--gpus-per-trial", "auto", "--cpus-per-trial", "1")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    packing = json.loads((exp / "summary.json").read_text())["gpu_packing"]
    assert packing["trials_per_gpu"] > 1 and packing["gpus_per_trial"] < 1, packing
    assert packing["largest_config"]["hidden_size"] == 256 and 0 < packing["trial_peak_gib"] < packing["device_gib"]
    assert "gpus_per_trial auto: one trial peaks at" in out.stdout and "GPU packing" in out.stdout
    hist = histories(exp)
    assert len(hist) == 4 and all([r["epoch"] for r in h] == [1, 2, 3] for h in hist.values())  # none ran out
    starts = [h[0]["timestamp"] - h[0]["time_this_iter_s"] for h in hist.values()]
    assert max(starts) < min(h[-1]["timestamp"] for h in hist.values())  # all four on the GPU at once

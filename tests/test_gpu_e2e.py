"""The CUDA paths, on a machine with a GPU (skipped elsewhere): fractional GPUs per trial, CUDA
checkpoints (with the GPU's RNG state) that resume and export, all through the real CLI on a Ray
the CLI starts itself, so Ray's own GPU detection is part of the test."""

from __future__ import annotations

import signal

import pytest
import torch

from conftest import checkpointed, histories, run_cli, start_cli, trial_dirs, wait_for, write_experiment
from test_fault_tolerance_e2e import EPOCHS, assert_finished_without_restarts

from raytune_app.trial.checkpoint import load_checkpoint

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

# long enough on a GPU (thousands of small steps per epoch) for trials to overlap and to be interrupted
GPU_WORK = {"data": {"dataset": "synthetic", "n_samples": 40000, "n_features": 64}, "scheduler": "fifo",
            "search": "random", "space": {"lr": {"loguniform": [1e-3, 1e-2]}, "batch_size": 16, "hidden_size": 256}}


def newest_checkpoint(trial_dir):
    return load_checkpoint(str(sorted(trial_dir.glob("checkpoint_*"))[-1]))


def test_quarter_gpus_run_four_trials_at_once_on_one_gpu_and_checkpoint_its_rng(tmp_path):
    spec = write_experiment(tmp_path / "gpu.yaml", num_samples=4, max_epochs=3, **GPU_WORK)
    exp = tmp_path / "runs" / "gpu"
    out = run_cli("tune", spec, "--storage", tmp_path / "runs", "--gpus-per-trial", "0.25", "--cpus-per-trial", "1")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    hist = histories(exp)
    assert len(hist) == 4 and all([r["epoch"] for r in h] == [1, 2, 3] for h in hist.values())
    starts = [h[0]["timestamp"] - h[0]["time_this_iter_s"] for h in hist.values()]
    ends = [h[-1]["timestamp"] for h in hist.values()]
    assert max(starts) < min(ends), (starts, ends)  # all four trials were running at the same time
    for d in trial_dirs(exp):
        state = newest_checkpoint(d)
        assert state["epoch"] == 3 and "cuda" in state["rng"]  # trained on the GPU, its RNG saved
    best = run_cli("best", exp, "--export", tmp_path / "model")  # a CUDA checkpoint, loaded on the CPU
    assert best.returncode == 0, best.stderr[-3000:]
    weights = torch.load(tmp_path / "model" / "model.pt", weights_only=True)
    assert all(t.device.type == "cpu" for t in weights.values())


def test_ctrl_c_then_resume_continues_gpu_trials_from_their_cuda_checkpoints(tmp_path):
    slower = GPU_WORK | {"data": GPU_WORK["data"] | {"n_samples": 80000}}  # seconds per epoch, even on a GPU
    spec = write_experiment(tmp_path / "gpu-resume.yaml", num_samples=3, max_epochs=EPOCHS, **slower)
    exp = tmp_path / "runs" / "gpu-resume"
    proc = start_cli("tune", spec, "--storage", tmp_path / "runs", "--gpus-per-trial", "0.5", log=tmp_path / "log")
    wait_for(lambda: checkpointed(exp, 2), proc=proc, timeout=300)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130, (tmp_path / "log").read_text()[-3000:]

    out = run_cli("resume", exp)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    hist = assert_finished_without_restarts(exp, 3)
    assert any(r["iterations_since_restore"] == 1 and r["epoch"] > 1 for h in hist.values() for r in h)
    assert all("cuda" in newest_checkpoint(d)["rng"] for d in trial_dirs(exp))

"""What a user's own training function reports, read as Ray reads it, on the real CLI and a real Ray: nested
metrics named the Ray way (`val/acc`) everywhere, and a NaN metric that ends its trial as diverged."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from conftest import histories, read_json_lines, run_cli

# one trial at a time: one trial worker (its imports are most of a tiny run's CPU)
TINY = {"mode": "max", "max_epochs": 3, "num_samples": 1, "scheduler": "fifo", "search": "random",
        "max_concurrent": 1}

# val/acc falls after epoch 1, so each trial's best epoch is not its latest: retention must keep both
NESTED = """
import os
import tempfile

from ray import tune

CURVE = [0.9, 0.5, 0.6]


def train(config):
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as folder:
            start = int(open(os.path.join(folder, "epoch")).read())
    for epoch in range(start + 1, 4):
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "epoch"), "w") as f:
                f.write(str(epoch))
            tune.report({"epoch": epoch, "val": {"acc": CURVE[epoch - 1] * config["scale"], "loss": 1.0 / epoch},
                         "train": {"loss": 2.0 / epoch}}, checkpoint=tune.Checkpoint.from_directory(folder))
"""

# the trial with bad=True reports NaN at epoch 2 (and would go on to epoch 3)
NAN = """
from ray import tune


def train(config):
    for epoch in range(1, 4):
        acc = float("nan") if config["bad"] and epoch == 2 else 0.5 + 0.1 * epoch
        tune.report({"epoch": epoch, "val_acc": acc})
"""


def experiment(folder: Path, name: str, code: str, **fields) -> Path:
    (folder / f"{name}.py").write_text(code)
    spec = folder / f"{name}.yaml"
    spec.write_text(yaml.safe_dump({**TINY, "trainable": f"{name}.py:train", **fields}))
    return spec


@pytest.fixture(scope="module")
def nested(ray_address, tmp_path_factory):
    """A training function reporting {"val": {"acc": x}, ...}, tuned on `metric: val/acc`: (run output, folder)."""
    folder = tmp_path_factory.mktemp("nested")
    spec = experiment(folder, "nested", NESTED, metric="val/acc", num_samples=2, keep_checkpoints=1,
                      space={"scale": {"uniform": [0.5, 1.0]}})
    out = run_cli("tune", spec, "--storage", folder / "runs", "--address", ray_address)
    return out, folder / "runs" / "nested"


def test_nested_metrics_name_the_best_trial_and_its_checkpoint_survives(nested):
    out, exp = nested
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    summary = json.loads((exp / "summary.json").read_text())
    best = summary["best"]
    hist = histories(exp)
    top = max(hist, key=lambda t: hist[t][0]["val"]["acc"])
    assert best["trial_id"] == top and best["epoch"] == 1
    assert best["val/acc"] == hist[top][0]["val"]["acc"]
    # every trial keeps its best epoch's checkpoint (epoch 1) and its latest (epoch 3)
    for trial in hist:
        kept = sorted(p.name for p in (exp / f"trial_{trial}").glob("checkpoint_*"))
        assert kept == ["checkpoint_000000", "checkpoint_000002"], (trial, kept)
    assert Path(best["checkpoint"]).name == "checkpoint_000000"


def test_report_ranks_nested_metrics_and_best_exports(nested, tmp_path):
    _, exp = nested
    out = run_cli("report", exp, "--format", "json")
    assert out.returncode == 0, out.stderr
    trials = json.loads(out.stdout)["trials"]
    summary = json.loads((exp / "summary.json").read_text())
    assert trials[0]["trial_id"] == summary["best"]["trial_id"] and trials[0]["rank"] == 1
    assert trials[0]["best_val/acc"] == summary["best"]["val/acc"] > trials[1]["best_val/acc"]
    out = run_cli("report", exp, "--sort", "train/loss", "--format", "csv")
    assert out.returncode == 0, out.stderr
    out = run_cli("best", exp, "--export", tmp_path / "export")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "export" / "checkpoint" / "epoch").read_text() == "1"  # the best epoch's own checkpoint


def test_progress_lines_and_tensorboard_name_the_nested_metric(nested):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, exp = nested
    lines = re.findall(r"\[\d/2\] trial \w+: val/acc (\S+) after 3 epochs \(completed\)", out.stdout)
    assert len(lines) == 2 and all(v != "-" for v in lines), out.stdout[-3000:]
    for trial, rows in histories(exp).items():
        acc = EventAccumulator(str(exp / f"trial_{trial}"))
        acc.Reload()
        scalars = [e.value for e in acc.Scalars("val/acc")]
        assert scalars == pytest.approx([r["val"]["acc"] for r in rows])


def test_a_nan_metric_ends_its_trial_as_diverged(ray_address, tmp_path):
    spec = experiment(tmp_path, "nan", NAN, metric="val_acc", space={"bad": {"grid": [True, False]}})
    out = run_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]  # the other trial has a usable val_acc
    exp = tmp_path / "runs" / "nan"
    summary = json.loads((exp / "summary.json").read_text())
    assert summary["trials_by_status"] == {"completed": 1, "diverged": 1}, summary["trials_by_status"]
    bad = next(d for d in exp.glob("trial_*") if read_json_lines(d / "result.json")[0]["config"]["bad"])
    rows = read_json_lines(bad / "result.json")
    assert [r["epoch"] for r in rows] == [1, 2]  # stopped at the NaN
    assert rows[-1]["diverged"] is True and rows[-1]["val_acc"] == 0.0  # the worst value, as built-in trials
    assert re.search(rf"trial {bad.name.removeprefix('trial_')}: val_acc 0\.0000 after 2 epochs \(diverged\)",
                     out.stdout), out.stdout[-3000:]
    assert summary["best"]["trial_id"] != bad.name.removeprefix("trial_")
    out = run_cli("report", exp, "--format", "csv")
    assert out.returncode == 0 and ",diverged," in out.stdout

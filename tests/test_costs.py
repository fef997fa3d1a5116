"""The built-in loop's secondary metrics (trial/costs.py): measured once per trial, reported in every result,
train_seconds carried across a restart; nothing added for an experiment that names none."""

from __future__ import annotations

import pytest
import torch

from raytune_app.spec.metrics import SECONDARY
from raytune_app.trial.costs import COSTS_FILE, TrialCosts, flops_per_sample, latency_ms, param_count

from test_trainable_unit import run

# the digits MLP of {"lr": 0.01, "hidden_size": 32}: 64 -> 32 -> 32 -> 10
PARAMS = (64 * 32 + 32) + (32 * 32 + 32) + (32 * 10 + 10)
FLOPS = 2 * (64 * 32 + 32 * 32 + 32 * 10)  # a multiply-add is 2 (biases and activations are not counted)


def test_measures_of_a_model():
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    sample = torch.zeros(1, 64)
    assert param_count(model) == 64 * 32 + 32 + 32 * 10 + 10
    assert flops_per_sample(model, sample) == 2 * (64 * 32 + 32 * 10)
    assert 0 < latency_ms(model, sample) < 1000


def test_train_seconds_add_up_and_go_into_checkpoints(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Dropout(0.5))
    model.train()
    costs = TrialCosts(("train_seconds", "param_count"), model, torch.zeros(1, 4))
    assert model.training  # measured as it would serve (eval), then put back
    assert costs.after_epoch(1.5) == {"param_count": 10, "train_seconds": 1.5}
    assert costs.after_epoch(0.5)["train_seconds"] == 2.0
    saved = []

    def save(folder):
        saved.append(folder)

    costs.saving(save)(str(tmp_path))
    assert saved == [str(tmp_path)] and (tmp_path / COSTS_FILE).exists()
    assert TrialCosts(("param_count",), model, torch.zeros(1, 4)).saving(save) is save
    assert TrialCosts((), model, torch.zeros(1, 4)).after_epoch(1.0) == {}


def test_every_result_of_a_trial_reports_them_and_a_restart_keeps_counting(monkeypatch, tmp_path):
    (tmp_path / "first").mkdir()
    reports = run(monkeypatch, tmp_path / "first", None, secondary=SECONDARY)
    assert [m["epoch"] for m, _ in reports] == [1, 2]
    for metrics, _ in reports:
        assert (metrics["param_count"], metrics["flops_per_sample"]) == (PARAMS, FLOPS)
        assert metrics["latency_ms"] == reports[0][0]["latency_ms"] > 0  # measured once
    first, second = (m for m, _ in reports)
    assert first["train_seconds"] == first["epoch_time_s"]
    assert second["train_seconds"] == pytest.approx(first["epoch_time_s"] + second["epoch_time_s"])
    # restarted from its first epoch's checkpoint (a retry, a resume, PBT): epoch 2 counts on from there
    (tmp_path / "again").mkdir()
    ((again, _),) = run(monkeypatch, tmp_path / "again", reports[0][1], secondary=SECONDARY)
    assert again["epoch"] == 2
    assert again["train_seconds"] == pytest.approx(first["train_seconds"] + again["epoch_time_s"])


def test_an_experiment_that_names_none_reports_as_before(monkeypatch, tmp_path):
    reports = run(monkeypatch, tmp_path, None)
    assert not set(SECONDARY) & set(reports[0][0])
    assert not any((tmp_path / f"checkpoint_{i:06d}" / COSTS_FILE).exists() for i in range(2))

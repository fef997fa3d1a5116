"""Conditional search spaces end to end: branches respected by HyperOpt and random search."""

from __future__ import annotations

import csv
import json

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata as hp_metadata

from conftest import read_json_lines, run_cli, write_experiment

BRANCHES = {"choice": [
    {"name": "sgd", "lr": {"loguniform": [1e-3, 1.0]}, "momentum": {"uniform": [0.0, 0.99]},
     "nesterov": {"choice": [True, False]}},
    {"name": "adam", "lr": {"loguniform": [1e-5, 1e-2]}, "beta1": {"uniform": [0.8, 0.99]}},
]}
KEYS = {"sgd": {"name", "lr", "momentum", "nesterov"}, "adam": {"name", "lr", "beta1"}}


# each run also stands for its scheduler's end-to-end test (test_tune_e2e.py has the others)
@pytest.mark.parametrize("search, scheduler", [("hyperopt", "median"), ("random", "fifo")])
def test_conditional_optimizer_branches(ray_address, tmp_path, search, scheduler):
    spec = write_experiment(tmp_path / "cond.yaml", name="cond", num_samples=6, max_epochs=2, scheduler=scheduler,
                            search=search, max_concurrent=1, space={"optimizer": BRANCHES, "hidden_size": 32})
    out = run_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address, "--seed", "1")
    assert out.returncode == 0, out.stderr[-3000:]
    exp = tmp_path / "runs" / "cond"
    summary = json.loads((exp / "summary.json").read_text())
    assert (summary["scheduler"], summary["searcher"], summary["num_trials"]) == (scheduler, search, 6)
    assert summary["best"]["test_accuracy"] > 0.1
    trials = sorted(p for p in exp.iterdir() if p.name.startswith("trial_"))
    names = set()
    for trial in trials:
        opt = read_json_lines(trial / "result.json")[0]["config"]["optimizer"]
        assert set(opt) == KEYS[opt["name"]], opt  # no momentum in an adam trial, no beta1 in sgd
        low, high = (1e-3, 1.0) if opt["name"] == "sgd" else (1e-5, 1e-2)
        assert low <= opt["lr"] <= high
        names.add(opt["name"])
        acc = EventAccumulator(str(trial))
        acc.Reload()
        content = acc.PluginTagToContent(hp_metadata.PLUGIN_NAME)
        start = hp_metadata.parse_session_start_info_plugin_data(content[hp_metadata.SESSION_START_INFO_TAG])
        assert set(start.hparams) == {f"optimizer/{k}" for k in KEYS[opt["name"]]} | {"hidden_size"}
    assert names == {"sgd", "adam"}  # both branches were explored
    with (exp / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {"config/optimizer/name", "config/optimizer/lr", "config/optimizer/momentum"} <= set(rows[0])
    adam_rows = [r for r in rows if r["config/optimizer/name"] == "adam"]
    assert all(r["config/optimizer/momentum"] == "" for r in adam_rows)
    best = json.loads((exp / "summary.json").read_text())["best"]
    assert "optimizer/name" in best["config"] and "optimizer/lr" in best["config"]

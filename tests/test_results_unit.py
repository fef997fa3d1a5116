"""Results read the way Ray writes them, without a Ray run: the one reader on hand-made experiment folders
(metrics named as Ray names them, each result's own config, checkpoint folders Ray wrote twice, damaged
result.json files), the wrapper around a user's reports, and the driver's MLflow callback."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from conftest import run_cli
from raytune_app.results.reader import load_experiment
from raytune_app.results.report import ranked, trial_row
from raytune_app.results.retention import prune
from test_best import ended, make_experiment


def row(epoch: int, tag: int, config: dict, checkpoint: int | None = -1, **metrics) -> dict:
    """A result.json row as Ray writes it; checkpoint: its folder's index (-1: the epoch's own, None: none)."""
    out = {"epoch": epoch, "training_iteration": epoch, "experiment_tag": f"{tag}_x", "config": config,
           "timestamp": 1000 + epoch, **metrics}
    if checkpoint is not None:
        out["checkpoint_dir_name"] = f"checkpoint_{epoch - 1 if checkpoint == -1 else checkpoint:06d}"
    return out


def finish(exp: Path, trials: list[str]) -> None:
    """The summary.json and trials.csv an ended invocation leaves (statuses then come from there)."""
    (exp / "summary.json").write_text(json.dumps({"experiment": "exp", "best": None}))
    (exp / "trials.csv").write_text("trial_id,status\n" + "".join(f"{t},completed\n" for t in trials))


# ------------------------------------------------------------------------------------------- nested metrics


def test_nested_metrics_are_read_as_ray_names_them(tmp_path):
    """{"val": {"acc": x}} is `val/acc`, as Ray flattens it for schedulers and searchers; the config stays whole."""
    cfg = {"opt": {"name": "sgd", "lr": 0.1}}
    acc = {"a": [0.9, 0.5, 0.6], "b": [0.7, 0.8, 0.75]}
    trials = {t: [row(i, n, cfg, val={"acc": v, "loss": 1 - v}) for i, v in enumerate(values, 1)]
              for n, (t, values) in enumerate(acc.items(), 1)}
    exp = make_experiment(tmp_path, trials, metric="val/acc")
    e = load_experiment(exp, ray_states=ended("a", "b"))
    assert e.best_trial.trial_id == "a" and e.best_value(e.best_trial) == 0.9
    assert {"val/acc", "val/loss"} <= set(e.metrics()) and e.trials[0].rows[0]["config"] == cfg
    table = ranked([e])
    assert list(table["trial_id"]) == ["a", "b"] and list(table["best_val/acc"]) == [0.9, 0.8]
    assert list(ranked([e], sort="val/loss")["trial_id"]) == ["a", "b"]  # a loss goes down: a's 0.1 first
    prune(str(exp), "val/acc", "max", keep=1)  # each trial's best checkpoint stays, with the latest
    assert sorted(p.name for p in (exp / "trial_a").glob("checkpoint_*")) == ["checkpoint_000000", "checkpoint_000002"]
    assert sorted(p.name for p in (exp / "trial_b").glob("checkpoint_*")) == ["checkpoint_000001", "checkpoint_000002"]


def test_a_warm_start_learns_nested_metrics(tmp_path):
    from raytune_app.tuner.warm_start import load_history
    from raytune_app.spec.space import parse_space

    trials = {"a": [row(1, 1, {"lr": 0.01}, val={"acc": 0.6}), row(2, 1, {"lr": 0.01}, val={"acc": 0.9})],
              "b": [row(1, 2, {"lr": 0.1}, val={"acc": 0.8})]}
    exp = make_experiment(tmp_path, trials, metric="val/acc")
    finish(exp, list(trials))
    history = load_history([str(exp)], parse_space({"lr": {"loguniform": [1e-3, 1.0]}})[0], "val/acc", "e.yaml")
    assert history.values == (0.9, 0.8) and history.points == ({"lr": 0.01}, {"lr": 0.1})


def test_the_user_trainable_checks_nested_reports_and_ends_a_diverged_trial(monkeypatch):
    from raytune_app.trial import user_trainable as ut

    sent = []
    monkeypatch.setattr(ut, "rays_report", lambda metrics, checkpoint=None: sent.append((metrics, checkpoint)))
    monkeypatch.setitem(ut._expected, "metric", "val/acc")
    monkeypatch.setitem(ut._expected, "checked", False)
    ut.checked_report({"val": {"acc": 0.5}, "epoch": 1}, checkpoint="c1")  # the first report has val/acc
    assert sent == [({"val": {"acc": 0.5}, "epoch": 1}, "c1")]
    with pytest.raises(ut._TrialEnds):
        ut.checked_report({"val": {"acc": math.nan}, "epoch": 2}, checkpoint="c2")
    assert sent[-1] == ({"val/acc": 0.0, "epoch": 2, "diverged": True}, None)  # the worst value, no checkpoint


@pytest.mark.parametrize("metric, mode, worst", [("score", "max", -math.inf), ("reward", "max", -math.inf),
                                                 ("val/acc", "max", 0.0), ("loss", "min", math.inf),
                                                 ("val_accuracy", "min", math.inf)])
def test_a_diverged_user_trial_reports_the_worst_value_in_the_experiments_mode(monkeypatch, metric, mode, worst):
    """The worst value follows the file's mode, not the metric's name: a `score` maximised that diverges must not
    report +inf, the best value a scheduler or searcher could see."""
    from raytune_app.trial import user_trainable as ut

    sent = []
    monkeypatch.setattr(ut, "rays_report", lambda metrics, checkpoint=None: sent.append(metrics))
    monkeypatch.setitem(ut._expected, "metric", metric)
    monkeypatch.setitem(ut._expected, "mode", mode)
    with pytest.raises(ut._TrialEnds):
        ut.checked_report({metric: math.nan})
    assert sent == [{metric: worst, "diverged": True}]


# ------------------------------------------------------------------------------------------ a row's config


def test_every_config_shown_is_the_one_that_produced_its_row(tmp_path):
    """PBT's exploit changes a trial's config mid-run: the best epoch (3) was trained with lr 0.5, not 0.1."""
    first, mutated = {"lr": 0.1, "width": 16}, {"lr": 0.5, "width": 16}
    trials = {"p": [row(1, 1, first, val_accuracy=0.5), row(2, 1, first, val_accuracy=0.6),
                    row(3, 1, mutated, val_accuracy=0.9), row(4, 1, mutated, val_accuracy=0.8)],
              "q": [row(1, 2, first, val_accuracy=0.4), row(2, 2, mutated, val_accuracy=0.35, checkpoint=None)]}
    e = load_experiment(make_experiment(tmp_path, trials), ray_states=ended("p", "q"))
    p, q = e.trials
    assert p.config == first  # as sampled
    assert e.shown_config(p) == mutated and trial_row(e, p)["config/lr"] == 0.5
    assert trial_row(e, q)["config/lr"] == 0.1  # q's best epoch is its first
    assert p.config_of(p.checkpoint_row("/anywhere/trial_p/checkpoint_000002")) == mutated
    from raytune_app.results.export import _checkpoint_config

    assert _checkpoint_config(e, "p", str(p.path) + "/checkpoint_000002", {}) == mutated
    from raytune_app.results import plots

    assert "lr = 0.5" in plots._hover(e, p, 0.9) and "lr = 0.1" not in plots._hover(e, p, 0.9)  # the HTML page
    e.spec["space"] = {"lr": {"loguniform": [0.01, 1.0]}, "width": 16}
    assert plots._varying(e, [p, q])["lr"][1] == [0.5, 0.1]  # parallel coordinates and slices


def test_a_checkpoint_folder_written_twice_holds_the_later_epoch(tmp_path):
    """After a PBT exploit Ray wrote epoch 4's checkpoint into epoch 3's folder: epoch 3's 0.95 has no model."""
    cfg = {"lr": 0.1}
    trials = {"p": [row(1, 1, cfg, val_accuracy=0.5), row(2, 1, cfg, val_accuracy=0.6),
                    row(3, 1, cfg, val_accuracy=0.95), row(4, 1, cfg, 2, val_accuracy=0.7)]}
    e = load_experiment(make_experiment(tmp_path, trials), ray_states=ended("p"))
    best = e.best_epoch(e.trials[0])
    assert best["epoch"] == 4 and best["checkpoint_dir_name"] == "checkpoint_000002"
    assert e.trials[0].checkpoint_row("checkpoint_000002")["epoch"] == 4


# -------------------------------------------------------------------------------------- damaged result.json


def test_damaged_lines_are_skipped_counted_and_a_torn_last_line_is_not():
    from raytune_app.results.reader import parse_json_lines

    good = [json.dumps({"epoch": i}).encode() for i in (1, 2, 3)]
    data = b"\n".join([good[0], b'{"epoch": 9, "val\xff": 1}', b'{"epoch": 8, "val', b"[1, 2]", b"", good[1],
                       good[2], b'{"epoch": 4, "va'])
    rows, skipped = parse_json_lines(data)
    assert [r["epoch"] for r in rows] == [1, 2, 3] and skipped == 3  # not UTF-8, garbled, not an object
    assert parse_json_lines(b"\n".join(good) + b"\n")[1] == 0


def test_report_lists_every_trial_of_a_damaged_experiment_and_names_the_damage(tmp_path):
    cfg = {"lr": 0.1}
    trials = {t: [row(i, n, cfg, val_accuracy=0.1 * i + 0.01 * n) for i in (1, 2, 3)]
              for n, t in enumerate(("a", "b", "c"), 1)}
    exp = make_experiment(tmp_path, trials)
    finish(exp, list(trials))
    damaged = exp / "trial_b" / "result.json"
    lines = damaged.read_bytes().split(b"\n")
    lines[0] = lines[0].replace(b'"epoch"', b'"ep\xffoch"')  # a non-UTF-8 byte
    lines[1] = lines[1][: len(lines[1]) // 2]  # a garbled line in the middle
    damaged.write_bytes(b"\n".join(lines) + b'{"epoch": 4, "val_acc')  # and a torn last line (not counted)
    for fmt in ("table", "json"):
        out = run_cli("report", exp, "--format", fmt)
        assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
        assert f"warning: {damaged}: 2 damaged line(s) skipped" in out.stderr
    listed = json.loads(out.stdout)
    assert sorted(t["trial_id"] for t in listed["trials"]) == ["a", "b", "c"]
    assert listed["experiments"][0]["damaged_result_files"] == {str(damaged): 2}
    assert next(t for t in listed["trials"] if t["trial_id"] == "b")["best_val_accuracy"] == pytest.approx(0.32)
    assert prune(str(exp), "val_accuracy", "max", keep=1)  # the others are pruned; b, in doubt, keeps all three
    assert len(list((exp / "trial_b").glob("checkpoint_*"))) == 3


# ---------------------------------------------------------------------------- the driver's result callbacks


def test_mlflow_logs_a_nested_metric_by_rays_name(monkeypatch):
    from raytune_app.ray_compat.mlflow import trial_runs
    from raytune_app.tuner.callbacks import mlflow_runs

    batches = []

    class Client:
        def log_batch(self, run_id, metrics):
            batches.append((run_id, {m.key: (m.value, m.step) for m in metrics}))

    monkeypatch.setattr(mlflow_runs, "client", lambda uri: Client())
    callback, trial = mlflow_runs.TrialRuns(tracking_uri="http://127.0.0.1:9"), object()
    monkeypatch.setattr(callback.mlflow_util, "setup_mlflow", lambda **kw: None)
    callback.setup()
    trial_runs(callback)[trial] = "run-1"  # what log_trial_start leaves
    callback.log_trial_result(2, trial, {"epoch": 2, "training_iteration": 2, "timestamp": 1000,
                                         "val": {"acc": 0.75, "note": "x"}, "config": {"lr": 0.1}})
    assert batches == [("run-1", {"val/acc": (0.75, 2)})]


def test_progress_lines_read_nested_metrics_and_skip_a_diverged_value_for_best_so_far(caplog):
    """A diverged trial reports the metric's worst value (0 for one that grows), which is not worst for a reward
    that can be negative: it must not become the best so far."""
    from types import SimpleNamespace

    from raytune_app.tuner.callbacks.progress import TrialProgress

    progress = TrialProgress("eval/reward", "max", total=2, max_epochs=3)
    ok = SimpleNamespace(trial_id="t1", last_result={"epoch": 3, "eval": {"reward": -5.0}})
    bad = SimpleNamespace(trial_id="t2", last_result={"epoch": 2, "eval/reward": 0.0, "diverged": True})
    with caplog.at_level("INFO", logger="raytune_app"):
        progress.on_trial_complete(1, [], ok)
        progress.on_trial_complete(2, [], bad)
    assert [r.getMessage() for r in caplog.records] == [
        "[1/2] trial t1: eval/reward -5.0000 after 3 epochs (completed); best so far -5.0000",
        "[2/2] trial t2: eval/reward 0.0000 after 2 epochs (diverged); best so far -5.0000"]

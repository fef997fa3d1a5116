"""The one rule for best, the one status classification, and checkpoint retention, on synthetic folders."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from raytune_app.results.best import best_epoch, rank, ranked_checkpoints, running_best
from raytune_app.results.reader import RayTrial, load_experiment
from raytune_app.results.retention import prune
from raytune_app.results.status import classify
from raytune_app.spec.names import SPEC_FILE


def rows(values, checkpointed=None, diverged=(), tag=1):
    """result.json rows: epoch i+1 reports values[i]; checkpointed: epochs with a checkpoint (default all)."""
    out = []
    for i, v in enumerate(values, 1):
        row = {"epoch": i, "training_iteration": i, "val_accuracy": v, "diverged": i in diverged,
               "experiment_tag": f"{tag}_lr=0.1", "trial_id": f"t{tag}", "timestamp": 1000 + i}
        if checkpointed is None or i in checkpointed:
            row["checkpoint_dir_name"] = f"checkpoint_{i - 1:06d}"
        out.append(row)
    return out


def test_ties_go_to_the_later_epoch_and_that_checkpoint_ranks_first():
    history = rows([0.5, 0.9, 0.7, 0.9, 0.6])
    assert best_epoch(history, "val_accuracy", "max")["epoch"] == 4
    assert ranked_checkpoints(history, "val_accuracy", "max")[:2] == ["checkpoint_000003", "checkpoint_000001"]
    assert best_epoch(history, "val_accuracy", "min")["epoch"] == 1


def test_only_checkpointed_epochs_count_when_checkpoints_are_saved():
    history = rows([0.5, 0.95, 0.7, 0.8], checkpointed={2 * k for k in range(1, 3)} - {2})  # only epoch 4
    assert best_epoch(history, "val_accuracy", "max")["epoch"] == 4
    assert best_epoch(history, "val_accuracy", "max", checkpointed_only=False)["epoch"] == 2


def test_diverged_and_non_finite_epochs_are_never_best():
    history = rows([0.3, math.nan, math.inf, 0.0], diverged={4})
    assert best_epoch(history, "val_accuracy", "max")["epoch"] == 1
    assert best_epoch(rows([0.0], diverged={1}), "val_accuracy", "max") is None


def test_ranking_breaks_ties_by_the_given_order_and_puts_missing_values_last():
    assert rank(["a", "b", "c", "d"], {"a": 0.5, "b": None, "c": 0.9, "d": 0.9}.get, "max") == ["c", "d", "a", "b"]
    assert rank(["a", "b", "c"], {"a": 2.0, "b": 1.0, "c": 1.0}.get, "min") == ["b", "c", "a"]


@pytest.mark.parametrize("last, ray, kw, expected", [
    ({"epoch": 3}, "TERMINATED", {}, "completed"),
    ({"epoch": 1}, "TERMINATED", {}, "early_stopped"),
    ({"epoch": 1}, "TERMINATED", {"budget_cut": True}, "time_budget"),
    ({"epoch": 2, "diverged": True}, "TERMINATED", {}, "diverged"),
    ({"epoch": 2}, "ERROR", {}, "error"),
    ({"epoch": 2}, "RUNNING", {}, "unfinished"),
    ({"epoch": 2}, "RUNNING", {"live": True}, "running"),
    (None, "PENDING", {}, "not_started"),
    (None, "TERMINATED", {"budget_cut": True}, "time_budget"),  # the budget ran out while it started
    ({"epoch": 1}, None, {}, "unknown"),
    ({"epoch": 1, "done": True}, None, {}, "early_stopped"),
])
def test_statuses(last, ray, kw, expected):
    assert classify(last, ray, 3, **kw) == expected


def make_experiment(tmp_path: Path, trials: dict[str, list[dict]], metric="val_accuracy", mode="max") -> Path:
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / SPEC_FILE).write_text(json.dumps({"name": "exp", "metric": metric, "mode": mode, "max_epochs": 5}))
    for tid, history in trials.items():
        folder = exp / f"trial_{tid}"
        folder.mkdir()
        (folder / "result.json").write_text("".join(json.dumps({**r, "trial_id": tid}) + "\n" for r in history))
        for r in history:
            if r.get("checkpoint_dir_name"):
                (folder / r["checkpoint_dir_name"]).mkdir(exist_ok=True)  # Ray may name one twice
    return exp


def ended(*trial_ids: str) -> dict[str, RayTrial]:
    """Ray's record of trials that have ended."""
    return {t: RayTrial("TERMINATED", {}) for t in trial_ids}


def test_prune_keeps_the_best_by_the_rule_and_the_latest(tmp_path):
    exp = make_experiment(tmp_path, {"a": rows([0.5, 0.9, 0.7, 0.9, 0.6])})
    deleted = prune(str(exp), "val_accuracy", "max", keep=1)
    kept = sorted(p.name for p in (exp / "trial_a").glob("checkpoint_*"))
    assert kept == ["checkpoint_000003", "checkpoint_000004"]  # the best (a tie: the later) and the latest
    assert len(deleted) == 3
    e = load_experiment(exp, ray_states=ended("a"))
    assert e.best_epoch(e.trials[0])["checkpoint_dir_name"] == "checkpoint_000003"


def test_prune_keeps_everything_when_results_cannot_be_read(tmp_path):
    exp = make_experiment(tmp_path, {"a": rows([0.5, 0.9, 0.7])})
    (exp / "trial_a" / "result.json").write_bytes(b"\xff\xfe\x00 not text")  # unreadable: in doubt, keep
    assert prune(str(exp), "val_accuracy", "max", keep=1) == []
    assert len(list((exp / "trial_a").glob("checkpoint_*"))) == 3


def test_prune_keeps_checkpoints_of_a_trial_without_results(tmp_path):
    exp = make_experiment(tmp_path, {"a": rows([0.5, 0.9, 0.7])})
    (exp / "trial_a" / "result.json").unlink()
    assert prune(str(exp), "val_accuracy", "max", keep=1) == []


def test_the_best_trial_is_the_first_proposed_among_ties_and_reports_rank_it_first(tmp_path):
    exp = make_experiment(tmp_path, {"zz": rows([0.8, 0.9], tag=1), "aa": rows([0.9, 0.7], tag=2),
                                     "mm": rows([0.95], checkpointed=set(), tag=3)})
    e = load_experiment(exp, ray_states=ended("zz", "aa", "mm"))
    assert [t.trial_id for t in e.ranked()] == ["zz", "aa", "mm"]  # mm's 0.95 has no checkpoint
    assert e.best_trial.trial_id == "zz"


def test_a_trial_is_scored_by_every_epoch_and_the_pick_is_its_checkpointed_best(tmp_path):
    """As the built-in loop saves them: an epoch at least as good as the best seen before it saves a checkpoint
    (and a resume point every few epochs); the others do not, yet still score their trial."""
    exp = make_experiment(tmp_path, {"a": rows([0.6, 0.8, 0.7], checkpointed={1, 2}, tag=1),
                                     "b": rows([0.5, 0.75, 0.7], checkpointed=set(), tag=2),
                                     "c": rows([0.4, 0.55, 0.5], checkpointed={3}, tag=3)})
    e = load_experiment(exp, ray_states=ended("a", "b", "c"))
    assert not e.checkpointed_only
    assert [(t.trial_id, e.best_value(t)) for t in e.ranked()] == [("a", 0.8), ("b", 0.75), ("c", 0.55)]
    from raytune_app.results.report import trial_row
    from raytune_app.results.summary import checkpoint_path

    assert trial_row(e, e.trials[1])["best_epoch"] == 2 and trial_row(e, e.trials[2])["best_epoch"] == 2
    assert e.best_trial.trial_id == "a"  # rank 1, and the score shown comes with its model
    assert checkpoint_path(e, e.best_trial).endswith("trial_a/checkpoint_000001")
    assert checkpoint_path(e, e.trials[1]) is None  # b's best epoch saved nothing: it has no model to export


def test_when_the_best_epoch_of_all_saved_no_checkpoint_only_checkpointed_epochs_count(tmp_path):
    """A training function of the user's that checkpoints every other epoch: its best report may have none."""
    exp = make_experiment(tmp_path, {"a": rows([0.6, 0.9, 0.7], checkpointed={1, 3}, tag=1),
                                     "b": rows([0.5, 0.75, 0.65, 0.8], checkpointed={2, 4}, tag=2)})
    e = load_experiment(exp, ray_states=ended("a", "b"))
    assert e.checkpointed_only
    assert [(t.trial_id, e.best_value(t)) for t in e.ranked()] == [("b", 0.8), ("a", 0.7)]
    assert e.best_epoch(e.best_trial)["checkpoint_dir_name"] == "checkpoint_000003"


def test_without_rays_state_statuses_come_from_the_results_or_are_unknown(tmp_path):
    done = rows([0.5, 0.6]) + []
    done[-1]["done"] = True  # Ray marks the result on which a scheduler stopped a trial
    exp = make_experiment(tmp_path, {"full": rows([0.1, 0.2, 0.3, 0.4, 0.5]), "stopped": done,
                                     "cut": rows([0.3]), "broken": rows([0.2])})
    (exp / "trial_broken" / "error.txt").write_text("Failure # 1 ...\nFailure # 2 ...\nFailure # 3 ...\n")
    (exp / SPEC_FILE).write_text(json.dumps({"name": "exp", "metric": "val_accuracy", "mode": "max",
                                             "max_epochs": 5, "max_failures": 2}))
    e = load_experiment(exp)  # no experiment state: Ray's ExperimentAnalysis cannot read it
    assert {t.trial_id: t.status for t in e.trials} == {"full": "completed", "stopped": "early_stopped",
                                                         "cut": "unknown", "broken": "error"}
    assert e.status_note
    from raytune_app.results.report import ranked, render

    assert "statuses unknown where Ray's experiment state cannot be read" in render([e], ranked([e]), "table")


def test_folders_rays_record_does_not_list_are_superseded_attempts(tmp_path):
    exp = make_experiment(tmp_path, {"new": rows([0.5], tag=2), "old": rows([0.9], tag=1)})
    e = load_experiment(exp, ray_states=ended("new"))
    assert [t.trial_id for t in e.trials] == ["new"] and e.orphans == [str(exp / "trial_old")]


@pytest.mark.parametrize("seed", range(8))
def test_the_picks_checkpoint_is_never_lost_however_stale_the_trials_bound(tmp_path, seed):
    """Three trials report in turn; each epoch's trial knows the driver's best as of any earlier moment (an
    answer still on its way: an older, lower bound), and saves by the built-in loop's rule. Values repeat, so
    ties within and across trials happen. The pick's score and its checkpoint then come from one epoch."""
    import random

    from raytune_app.results.summary import checkpoint_path
    from raytune_app.trial.checkpoint import CheckpointRule

    rng = random.Random(seed)
    rule = CheckpointRule("val_accuracy", "max", every=5)
    values = {t: [rng.choice([0.5, 0.6, 0.7, 0.8]) for _ in range(rng.randint(1, 7))] for t in ("a", "b", "c")}
    order = [t for t in values for _ in values[t]]
    rng.shuffle(order)
    seen: list[float] = []  # the driver's results, as they came
    saved: dict[str, set[int]] = {t: set() for t in values}
    for trial in order:
        epoch = len([v for t, v in seen if t == trial]) + 1
        value = values[trial][epoch - 1]
        known = [v for _, v in seen[:rng.randint(0, len(seen))]]  # the bound as of some earlier moment
        if rule.due(epoch, {"val_accuracy": value}, max(known) if known else None):
            saved[trial].add(epoch)
        seen.append((trial, value))
    exp = make_experiment(tmp_path, {t: rows(v, checkpointed=saved[t], tag=i)
                                     for i, (t, v) in enumerate(values.items(), 1)})
    e = load_experiment(exp, ray_states=ended(*values))
    assert not e.checkpointed_only
    assert e.best_value(e.best_trial) == max(max(v) for v in values.values())
    assert checkpoint_path(e, e.best_trial) is not None, (values, saved)


ROW = st.fixed_dictionaries({"epoch": st.integers(1, 4), "val_accuracy": st.sampled_from([0.5, 0.7, 0.9, math.nan]),
                             "checkpoint_dir_name": st.sampled_from([None, "checkpoint_000000"]),
                             "id": st.integers()})


@given(st.lists(ROW, max_size=12), st.sampled_from(["max", "min"]), st.booleans())
def test_the_running_best_is_the_best_epoch_of_each_prefix(rows, mode, checkpointed_only):
    # the hypervolume-over-time curve reads a trial's best so far after every result from it, in one pass
    bests = running_best(rows, "val_accuracy", mode, checkpointed_only)
    assert [b if b is None else b["id"] for b in bests] == [
        None if (b := best_epoch(rows[:n], "val_accuracy", mode, checkpointed_only)) is None else b["id"]
        for n in range(1, len(rows) + 1)]

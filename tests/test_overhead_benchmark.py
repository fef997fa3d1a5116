"""benchmarks/overhead.py's tables (docs/gen/performance.py's `overhead` regions) from the figures its --raw
keeps: the trials' timeline per size and checkout with issue 27's targets read on this checkout's runs, the
start-up figures, and the snapshot periods against utilisation and the saved state's age."""

from __future__ import annotations

import json

from docs.gen import performance


def timeline(this: bool, seed: int, epoch_gap: float, trial_gap: float, utilisation: float) -> dict:
    return {"part": "timeline", "checkout": "/x" if this else "/before", "commit": "abc1234" if this else "b942098",
            "this": this, "trials_asked": 32, "seed": seed, "wall_s": 60.0, "cores": 2, "epochs": 100 + seed,
            "checkpointed_epochs": 20, "epoch_gap_ms_median": epoch_gap, "epoch_gap_ms_p90": 2 * epoch_gap,
            "epoch_after_checkpoint_gap_ms_median": epoch_gap + 1, "epoch_no_checkpoint_gap_ms_median": epoch_gap,
            "trial_gap_ms_median": trial_gap, "trial_gap_ms_p90": 2 * trial_gap,
            "utilisation_while_tuning": utilisation, "trials": 32, "tuning_s": 50.0}


def test_an_overhead_region_shows_each_checkout_and_the_targets_on_this_one(tmp_path):
    records = [timeline(True, s, 2.0 + s, 20.0, 0.98) for s in range(3)]
    records += [timeline(False, s, 9.0, 37.0, 0.90) for s in range(3)]
    records.append({"part": "startup", "cores": 2, "own_startup_s": 0.8, "first_result_s_fresh_ray": 6.5,
                    "first_result_s_floor_bare_ray_tune": 4.2})
    raw = tmp_path / "overhead.jsonl"
    raw.write_text("".join(json.dumps(r) + "\n" for r in records))
    text = performance.KINDS["overhead"]([str(raw)])
    rows = [line for line in text.splitlines() if line.startswith("| 32 |")]
    assert rows[0].startswith("| 32 | abc1234 | 3 | 101 | 20 | 3.0 |") and "| 98.0% |" in rows[0]
    assert rows[1].startswith("| 32 | b942098 (before) | 3 |") and "| 90.0% |" in rows[1]
    assert "- 32 trials, per-epoch gap (checkpoint, report, driver's wait) <= 3 ms median: 3.0 (met)" in text
    assert "- 32 trials, time between trials <= 15 ms median: 20.0 (NOT met)" in text
    assert "- 32 trials, utilisation while tuning >= 97 %: 98.0% (met)" in text
    assert "| Ray's floor: bare `ray.init` + one Tune trial of a tiny function | 4.20 |" in text


def test_an_overhead_region_shows_each_snapshot_period_and_the_cost_of_a_copy(tmp_path):
    records = [{"part": "cadence", "job": "500 one-epoch trials", "period": period, "round": r, "cores": 2,
                "wall_s": wall + r, "utilisation": 0.8, "state_age_median_s": age, "state_age_max_s": 3 * age,
                "saves_seen": 7} for r in range(3) for period, wall, age in (("ours", 40.0, 2.0), ("2", 50.0, 1.0))]
    records += [{"part": "staging_copy", "trials": n, "wall_s": n / 500, "cpu_s": n / 3000} for n in (10000, 1000)]
    raw = tmp_path / "cadence.jsonl"
    raw.write_text("".join(json.dumps(r) + "\n" for r in records))
    text = performance.KINDS["overhead"]([str(raw)])
    assert ("| 500 one-epoch trials | raytune-app's (unset: 10 ms a trial, 2 to 60 s) | 3 | 41.0 | 80.0% | 2.0 | "
            "6.0 | 7 |") in text
    assert "| 500 one-epoch trials | 2 s | 3 | 51.0 | 80.0% | 1.0 | 3.0 | 7 |" in text
    assert "| 1,000 trial folders | 2.00 | 0.33 |\n| 10,000 trial folders | 20.00 | 3.33 |" in text
    assert "| trials | checkout |" not in text  # no timeline runs in the file, no timeline table


def test_an_overhead_region_shows_each_searchers_suggestion_time_by_trials_told(tmp_path):
    records = [{"part": "searcher", "searcher": name, "seed": seed, "told": told, "suggest_ms": ms * told + seed}
               for seed in range(3) for told in (1000, 32) for name, ms in (("hyperopt", 0.1), ("optuna", 0.05))]
    raw = tmp_path / "searcher.jsonl"
    raw.write_text("".join(json.dumps(r) + "\n" for r in records))
    text = performance.KINDS["overhead"]([str(raw)])
    assert "| finished trials told | rounds | hyperopt suggest ms | optuna suggest ms |" in text
    assert "| 32 | 3 | 4.2 | 2.6 |\n| 1,000 | 3 | 101.0 | 51.0 |" in text


def test_the_searcher_part_times_each_searcher_asked_ahead(tmp_path):
    """(i) runs the searchers raytune-app builds (tuner/searchers.py) on the MLP task, keeping each figure."""
    import argparse

    from benchmarks import jsonl, overhead
    from raytune_app.tuner.searchers import ASKED_AHEAD

    raw = tmp_path / "raw.jsonl"
    overhead.searcher_cost(tmp_path, argparse.Namespace(timeline_trials=[40], repeats=1, raw=raw))
    kept = jsonl.read([raw])
    assert [(r["searcher"], r["told"]) for r in kept] == [(n, told) for n in ASKED_AHEAD for told in (32, 40)]
    assert all(r["suggest_ms"] > 0 for r in kept)

"""benchmarks/overhead.py's tables (docs/gen/performance.py's `overhead` regions) from the figures its --raw
keeps: the trials' timeline per size and checkout with issue 27's targets read on this checkout's runs, and the
start-up figures."""

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

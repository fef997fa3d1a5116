"""benchmarks/pareto.py's tables (docs/gen/performance.py's `pareto` regions): runs of another number of trials
than FIFO's shown apart, and the target at equal epochs read from the group whose epochs come nearest FIFO's."""

from __future__ import annotations

import json

from docs.gen import performance


def run(method: str, seed: int, hv: float, epochs: int, trials: int) -> dict:
    return {"method": method, "seed": seed, "wall_s": 20.0, "hypervolume": hv, "front": 3, "epochs": epochs,
            "trials": trials, "points": []}


def test_equal_epochs_compares_the_early_stopper_given_more_trials_with_fifo(tmp_path):
    runs = [run("tpe", s, 0.40, 480, 32) for s in range(3)]
    runs += [run("tpe+pareto_asha", s, 0.36, 112, 32) for s in range(3)]
    runs += [run("tpe+pareto_asha", s, 0.41, 490 + s, 96) for s in range(3)]
    runs += [run("tpe+pareto_asha", s, 0.30, 700, 128) for s in range(3)]  # farther from FIFO's epochs
    raw = tmp_path / "pareto.jsonl"
    raw.write_text("".join(json.dumps(r) + "\n" for r in runs))
    text = performance.KINDS["pareto"]([str(raw)])
    assert "| tpe+pareto_asha (96 trials) | 0.4100" in text and "| tpe+pareto_asha | 0.3600" in text
    assert "- pareto_asha >= 0.95 x FIFO (same searcher, same trials): 0.900 (NOT met)" in text
    assert "- pareto_asha >= 0.95 x FIFO at equal epochs (491 against 480): 1.025 (met)" in text


def test_no_equal_epoch_target_without_a_run_near_fifos_epochs(tmp_path):
    runs = [run("tpe", 0, 0.40, 480, 32), run("tpe+pareto_asha", 0, 0.36, 112, 32)]
    raw = tmp_path / "pareto.jsonl"
    raw.write_text("".join(json.dumps(r) + "\n" for r in runs))
    assert "equal epochs" not in performance.KINDS["pareto"]([str(raw)])

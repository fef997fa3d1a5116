"""benchmarks/compare.py's figures (docs/gen/performance.py's `compare` regions): issue 27's targets read off the
medians over seeds, a task's table from the newest file that has it, and seeds gathered over several invocations."""

from __future__ import annotations

import json
from dataclasses import asdict

from docs.gen import performance

compare = performance._compare()
OURS, OPTUNA = compare.METHODS["raytune"][0], compare.METHODS["optuna"][0]


def run(method: str, seed: int, points: list[tuple[float, float]], task: str = "mlp_synthetic") -> compare.Run:
    return compare.Run(task, method, seed, points, {30.0: 0.8, 60.0: 0.8, 120.0: 0.8}, 121.0)


def test_the_targets_of_issue_27_are_read_off_the_medians_over_seeds():
    # ours: 0.83 at 20 s, 0.845 at 50 s on two seeds of three; Optuna: 0.82 at 5 s, 0.84 at 40 s on every seed
    ours = [run(OURS, s, [(20.0, 0.83), (50.0, 0.845 if s < 2 else 0.83)] + [(100.0, 0.5)] * 10) for s in range(3)]
    peer = [run(OPTUNA, s, [(5.0, 0.82), (40.0, 0.84)] + [(100.0, 0.5)] * 5) for s in range(3)]
    checked = {what: (figure, met) for what, figure, met in
               compare.targets("mlp_synthetic", compare.TASKS["mlp_synthetic"], {OURS: ours, OPTUNA: peer},
                               [30.0, 60.0, 120.0])}
    assert checked["mlp_synthetic: epochs trained by 120 s >= Optuna's"] == ("12 against 7", True)
    assert checked["mlp_synthetic: best val accuracy by 30 s >= Optuna's"] == ("0.830 against 0.820", True)
    assert checked["mlp_synthetic: best val accuracy by 60 s >= Optuna's"] == ("0.845 against 0.840", True)
    # Optuna reaches 0.82 in 5 s: no target there; 0.84 in 40 s against our 50 s (the third seed never did)
    assert not any("seconds to 0.82" in what for what in checked)
    assert checked["mlp_synthetic: seconds to 0.84 <= Optuna's (which needs more than 10 s)"] == (
        "50.0 against 40.0", False)
    # most seeds never reaching a target is "not reached", later than any time
    ours = [run(OURS, s, [(20.0, 0.83), (50.0, 0.845 if s < 1 else 0.83)]) for s in range(3)]
    text = compare.verdicts({"mlp_synthetic": {OURS: ours, OPTUNA: peer}}, [30.0, 60.0, 120.0])
    assert "- mlp_synthetic: seconds to 0.84 <= Optuna's (which needs more than 10 s): not reached against 40.0 " \
           "(NOT met)" in text
    assert compare.verdicts({"mlp_synthetic": {OURS: ours}}, [120.0]) == ""  # no Optuna runs: nothing to compare


def test_each_tasks_table_comes_from_the_newest_file_that_has_it(tmp_path):
    def write(name: str, runs: list[compare.Run]) -> str:
        (tmp_path / name).write_text("".join(json.dumps(asdict(r)) + "\n" for r in runs))
        return str(tmp_path / name)

    old = write("old.jsonl", [run(OURS, s, [(9.0, 0.70)]) for s in range(2)]
                + [run(OURS, s, [(9.0, 0.90)], task="cnn_digits") for s in range(2)])
    new = write("new.jsonl", [run(OURS, s, [(8.0, 0.75)]) for s in range(3)] + [run(OPTUNA, 0, [(3.0, 0.74)])])
    text = performance.KINDS["compare"]([old, new])
    mlp, cnn = text.split("**mlp_synthetic**")[1].split("**cnn_digits**")
    assert "3 seeds" in mlp and "0.750 [0.750, 0.750]" in mlp and "0.700" not in mlp and f"Runs: `{new}`" in mlp
    assert "0.900 [0.900, 0.900]" in cnn and f"Runs: `{old}`." in cnn
    assert "- mlp_synthetic: best val accuracy by 120 s >= Optuna's: 0.750 against 0.740 (met)" in text


def test_seeds_run_apart_gather_in_one_raw_file(tmp_path, monkeypatch):
    def method(task, seed, budgets, workdir):
        return [(1.0 + seed, 0.5)], {120.0: 0.5}, 2.0

    monkeypatch.setattr(compare, "METHODS", {"fake": ("fake method", method)})
    raw = tmp_path / "raw.jsonl"
    for first in (0, 2):
        compare.run_all({"mlp_synthetic": compare.TASKS["mlp_synthetic"]}, ["fake"], [120.0], range(first, first + 2),
                        raw)
    assert [r.seed for r in compare.read_runs([raw])] == [0, 1, 2, 3]

"""benchmarks/scale.py's tables, and their region in docs/performance.md (docs/gen/performance.py), from the
figures its --out keeps: medians per variant and size, the marginal cost per trial between sizes."""

from __future__ import annotations

import json

from docs.gen import performance


def run(variant: str, trials: int, r: int, wall: float) -> dict:
    return {"part": "once", "variant": variant, "trials": trials, "round": r, "wall_s": wall, "driver_cpu_s": 1.0,
            "driver_peak_mb": 500.0, "tail_s": 2.0, "trials_reported": trials, "cores": 2, "sleep": 0.0}


def test_a_scale_region_shows_medians_and_the_marginal_cost_per_trial(tmp_path):
    records = [run("raytune-app", 200, 0, 10.0), run("raytune-app", 200, 1, 12.0), run("raytune-app", 200, 2, 99.0),
               run("raytune-app", 1000, 0, 40.0), run("raytune-app", 1000, 1, 36.0), run("raytune-app", 1000, 2, 38.0),
               run("bare", 200, 0, 11.0), run("bare", 1000, 0, 35.0),
               {"part": "reports", "experiment": "synthetic ASHA, 1,000 trials", "command": "report --html",
                "wall_s": 2.5, "peak_mb": 300.0, "page_mb": 10.2, "cores": 2}]
    (tmp_path / "scale.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    page = f"before\n<!-- generated: scale {tmp_path / 'scale.jsonl'} -->\nold\n<!-- end generated -->\nafter\n"
    text = performance.render(page)
    assert "old" not in text and text.startswith("before\n") and text.endswith("<!-- end generated -->\nafter\n")
    # medians 12 s and 38 s: (38 - 12) / 800 trials = 32.5 ms a trial
    assert "| raytune-app | 1,000 | 38.0 | 32.5 | 1.0 | 500 | 2.0 |" in text
    assert "| bare | 1,000 | 35.0 | 30.0 |" in text
    assert "medians of 3 interleaved rounds" in text
    assert "| synthetic ASHA, 1,000 trials | `report --html` | 2.50 | 300 | 10.2 |" in text


def test_the_targets_of_issue_29_are_read_off_the_medians(tmp_path):
    sizes = {200: (10.0, 11.0), 1000: (34.0, 35.0), 10000: (340.0, 400.0)}
    records = [run(variant, n, r, walls[i] + r) for n, walls in sizes.items() for i, variant in
               enumerate(("raytune-app", "bare")) for r in range(3)]
    records += [{**run(variant, 1000, 0, wall), "part": "cluster"} for variant, wall in (("raytune-app", 50.0),
                                                                                         ("bare", 40.0))]
    records.append({"part": "reports", "experiment": "synthetic ASHA, 10,000 trials", "command": "report --html",
                    "wall_s": 12.0, "peak_mb": 900.0, "page_mb": 20.0, "cores": 2})
    (tmp_path / "scale.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    text = performance.KINDS["scale"]([str(tmp_path / "scale.jsonl")])
    assert "- 10,000 trials on one node, wall time <= bare Ray Tune's: 341.0 s against 401.0 s (met)" in text
    assert "- 10,000 trials, driver peak memory <= bare Ray Tune's: 500 MB against 500 MB (met)" in text
    # (35 - 11) / 800 = 30 ms; (341 - 35) / 9000 = 34 ms: 1.13 x
    assert ("- marginal cost per trial from 1,000 to 10,000 within 1.3 x that from 200 to 1,000: "
            "34.0 ms against 30.0 ms, 1.13 x (met)") in text
    assert "- 1,000 trials on the fake autoscaling cluster within 1.2 x bare Ray Tune's wall: 50.0 s against 40.0 s, " \
           "1.25 x (NOT met)" in text
    assert "- `report --html` of synthetic ASHA, 10,000 trials <= 15 s and <= 2 GB: 12.0 s, 900 MB (met)" in text


def test_bare_ray_tune_runs_raytune_apps_own_trial_function(tmp_path):
    # the `model` part's bare variant builds raytune-app's trial settings itself, so it breaks when they change
    scale = performance._script("scale")
    spec = scale.experiment(tmp_path / "model", "model", 2, 0.0)
    run = scale.one_run("bare", spec, tmp_path / "model" / "runs", timeout=300)
    assert run["trials_reported"] == 2 and run["driver_peak_mb"] > 0

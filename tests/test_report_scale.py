"""The HTML report of an experiment with more trials than a browser can draw one by one: drawn aggregated, and
saying so (results/plots.py MAX_DRAWN, results/report.py SHOWN_ROWS). The limits are lowered here so that a
40-trial synthetic experiment stands for a 10,000-trial one."""

from __future__ import annotations

import pytest

from raytune_app.results import html_report, plots, report
from raytune_app.results.reader import load_experiment
from raytune_app.results.report import ranked
from synthetic import asha_like


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    return load_experiment(asha_like(tmp_path_factory.mktemp("scale") / "many", 40))


def trial_lines(figure: dict) -> list[dict]:
    """The learning curves' traces that are a trial's own line (named after the trial)."""
    return [t for t in figure["data"] if t.get("mode") in ("lines", "lines+markers") and "legendgroup" not in t]


def test_up_to_the_limit_every_trial_is_drawn_with_its_hover_box(experiment):
    curves = plots.learning_curves(experiment)
    assert len(trial_lines(curves)) == 40 and "a line per trial (40 trials)" in curves["layout"]["title"]["text"]
    slices = plots.slices(experiment)
    assert {t["type"] for t in slices["data"]} == {"scatter"}
    assert all(isinstance(t["hovertemplate"], list) for t in slices["data"])  # each dot's config in its hover


def test_past_the_limit_the_best_are_drawn_over_a_band_of_every_trial_and_the_titles_say_so(experiment,
                                                                                             monkeypatch):
    monkeypatch.setattr(plots, "MAX_DRAWN", 10)
    curves = plots.learning_curves(experiment)
    lines = trial_lines(curves)
    assert [t["name"].split()[0] for t in lines] == [t.trial_id for t in experiment.ranked()[:10]]
    assert "the 10 best of 40 trials as lines, over every trial's 10th to 90th percentile and median" in \
        curves["layout"]["title"]["text"]
    band = [t for t in curves["data"] if t.get("legendgroup") == "band"]
    at_epoch_1 = sorted(float(r["val_accuracy"]) for t in experiment.trials for r in t.rows if r["epoch"] == 1)
    low, median = band[1]["y"][0], band[2]["y"][0]
    assert band[0]["x"][0] == 1 and band[1]["customdata"][0] == len(at_epoch_1) == 40
    assert at_epoch_1[3] <= low <= at_epoch_1[4] and at_epoch_1[19] <= median <= at_epoch_1[20]

    slices = plots.slices(experiment)
    assert {t["type"] for t in slices["data"]} == {"scattergl"}  # WebGL points
    assert all(isinstance(t["hovertemplate"], str) for t in slices["data"])  # one short hover box per panel
    assert "a dot's hover names its trial" in slices["layout"]["title"]["text"]
    (_, best), = plots.best_so_far([experiment])
    assert best["data"][0]["type"] == "scattergl"


def test_the_best_so_far_line_keeps_only_its_steps(experiment):
    (_, best), = plots.best_so_far([experiment])
    dots, line = best["data"]
    y = line["y"]
    assert all(a < b for a, b in zip(y[:-2], y[1:-1])) and y[-1] == y[-2] == max(dots["y"])
    assert line["x"][0] == dots["x"][0] and line["x"][-1] == dots["x"][-1] and len(y) < len(dots["y"])


def test_the_ranking_stops_at_its_limit_and_says_where_the_rest_are(experiment, monkeypatch):
    monkeypatch.setattr(report, "SHOWN_ROWS", 15)
    every = (f"The best 15 by rank of 40 trials; every trial: raytune-app report {experiment.path} "
             f"--format csv")
    page = html_report.render_html([experiment], ranked([experiment]))
    assert page.count("</tr>") == 1 + 15  # the header and 15 trials
    assert every in page
    text = report.render([experiment], ranked([experiment]), "table")
    assert text.endswith(every) and len(text.splitlines()) == 1 + 1 + 1 + 15 + 2  # headline, blank, header
    assert len(report.render([experiment], ranked([experiment]), "csv").splitlines()) == 1 + 40


def test_up_to_the_limit_the_ranking_has_every_trial_and_no_note(experiment):
    page = html_report.render_html([experiment], ranked([experiment]))
    assert page.count("</tr>") == 1 + 40 and "every trial:" not in page
    assert "every trial:" not in report.render([experiment], ranked([experiment]), "table")

"""`raytune-app report EXP... --html FILE`: one self-contained, interactive page (plotly, its JavaScript
embedded once: no CDN, works offline).

From top to bottom: each experiment's headline, the best value so far against wall time (experiments
together), with several objectives the Pareto front and its hypervolume against wall time (pareto_plots.py),
then per kind of plot the experiments side by side: learning curves, parallel coordinates,
slice plots and hyperparameter importance (importance.py); last, the ranked table of report.ranked, whose
rank 1 is the summary's best trial. The plots themselves are built in plots.py; an experiment of more trials
than a browser can draw one by one is drawn aggregated, as each figure's title says (plots.MAX_DRAWN), and the
table stops at rank report.SHOWN_ROWS, saying so.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from raytune_app.results import plots, report
from raytune_app.results.importance import importances
from raytune_app.results.report import Experiment, _cell, _headline

_CSS = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 24px; } h2 { font-size: 20px; margin-top: 36px; border-bottom: 1px solid #ccc; }
h3 { font-size: 15px; margin: 8px 0 0; }
.side-by-side { display: grid; grid-template-columns: repeat(var(--columns), minmax(0, 1fr)); gap: 16px; }
figure { margin: 0; min-width: 0; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; position: sticky; top: 0; } tr:nth-child(even) td { background: #fafafa; }
p.note { color: #555; font-size: 14px; max-width: 1100px; }
"""
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


class _Page:
    """The page's parts in order; each plot gets an id of its own."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.count = 0

    def add(self, *parts: str) -> None:
        self.parts += parts

    def figure(self, kind: str, experiment: str, fig: dict[str, Any] | None, missing: str = "") -> str:
        """A plot as a <figure> (the DOM names its kind and experiment), or a note saying why there is none."""
        import plotly.io

        if fig is None:
            return f"<p class='note'>{html.escape(missing)}</p>"
        self.count += 1
        div = plotly.io.to_html(fig, config=PLOTLY_CONFIG, include_plotlyjs=False, full_html=False,
                                validate=False, div_id=f"plot-{self.count}")
        return (f"<figure class='plot' data-kind='{kind}' data-experiment='{html.escape(experiment, quote=True)}'>"
                f"{div}</figure>")


def _side_by_side(page: _Page, title: str, experiments: list[Experiment],
                  cell: Callable[[Experiment], str]) -> None:
    columns = min(len(experiments), 2)
    page.add(f"<h2>{html.escape(title)}</h2>", f"<div class='side-by-side' style='--columns: {columns}'>",
             *(f"<div><h3>{html.escape(e.name)}</h3>{cell(e)}</div>" for e in experiments), "</div>")


def _importance(page: _Page, e: Experiment) -> str:
    found, note = importances(e)
    fig = plots.importance(e, found) if found else None
    return page.figure("importance", e.name, fig, note) + (f"<p class='note'>{html.escape(note)}</p>" if found else "")


def render_html(experiments: list[Experiment], table: pd.DataFrame) -> str:
    """The whole page as a string."""
    from plotly.offline import get_plotlyjs

    esc = html.escape
    names = ", ".join(e.name for e in experiments)
    page = _Page()
    page.add("<!DOCTYPE html><html><head><meta charset='utf-8'>",
             f"<title>raytune-app report: {esc(names)}</title><style>{_CSS}</style>",
             f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>",
             f"<h1>raytune-app report: {esc(names)}</h1>",
             f"<p class='note'>Generated {datetime.now():%Y-%m-%d %H:%M:%S}. Hover a point for its trial; click a "
             f"legend entry to hide or show it (double-click: only it).</p><ul>",
             *(f"<li>{esc(_headline(e))}</li>" for e in experiments), "</ul>", "<h2>Best so far</h2>")
    page.add(*(page.figure("best-so-far", ", ".join(shown), fig) for shown, fig in plots.best_so_far(experiments)))
    several = [e for e in experiments if e.multi_objective]
    if several:
        from raytune_app.results import pareto_plots

        _side_by_side(page, "Pareto front", several, lambda e: page.figure(
            "pareto-front", e.name, pareto_plots.front_figure(e), f"No trial of {e.name} has a point yet."))
        _side_by_side(page, "Hypervolume", several, lambda e: page.figure(
            "hypervolume", e.name, pareto_plots.hypervolume_figure(e), f"No trial of {e.name} is feasible yet."))
    _side_by_side(page, "Learning curves", experiments, lambda e: page.figure(
        "learning-curves", e.name, plots.learning_curves(e), f"No trial of {e.name} reported {e.metric}."))
    _side_by_side(page, "Parallel coordinates", experiments, lambda e: page.figure(
        "parallel-coordinates", e.name, plots.parallel_coordinates(e), "No hyperparameter varied."))
    _side_by_side(page, "Slices", experiments, lambda e: page.figure(
        "slices", e.name, plots.slices(e), "No hyperparameter varied."))
    _side_by_side(page, "Hyperparameter importance", experiments, lambda e: _importance(page, e))
    page.add("<h2>Ranking</h2>", *_ranking(experiments, table), "</body></html>")
    return "\n".join(page.parts)


def _ranking(experiments: list[Experiment], table: pd.DataFrame) -> list[str]:
    """The ranked table, down to rank report.SHOWN_ROWS (a note says where the rest are)."""
    if not len(table):
        return ["<p>No trials.</p>"]
    shown, every = report.shown_rows(experiments, table)
    note = [f"<p class='note'>{html.escape(every)}</p>"] if every else []
    return [*note, shown.map(_cell).to_html(index=False, border=0, classes="ranking")]


def write_html(experiments: list[Experiment], table: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(experiments, table), encoding="utf-8")

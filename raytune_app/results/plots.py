"""The HTML report's interactive plots, as plotly figure dicts (plotly.js draws them; see html_report.py).

Figures are plain dicts rather than plotly's graph objects: a thousand trials make a thousand traces, and
validating each through graph objects would take seconds. Every point's hover names its trial, and the
trial's config and value; colours run from dark (worst) to bright (best) whatever the metric's direction.

A browser draws a few hundred lines, and tens of thousands of points as WebGL, but not ten thousand SVG lines
with a hover box each. So an experiment of more than MAX_DRAWN trials is drawn aggregated, and each figure's
title says how: its learning curves are the MAX_DRAWN best trials' lines over a band of every trial's values at
each epoch; its points are drawn with WebGL, their hover boxes naming the trial without its config (the
ranking has it).
"""

from __future__ import annotations

import html
import math
from typing import Any

from raytune_app.results.importance import LOG_KINDS, Importance, searched
from raytune_app.results.reader import Experiment, Trial, progress
from raytune_app.spec.metrics import finite
from raytune_app.spec.space import DISCRETE, Param, flatten

# plasma without its palest yellows, which vanish on white
SCALE = [[i / 7, c] for i, c in enumerate(
    ["#0d0887", "#46039f", "#7201a8", "#9c179e", "#bd3786", "#d8576b", "#ed7953", "#fb9f3a"])]
# how a trial's learning curve ends, by status: marker symbol and legend label
END_MARKERS = {"early_stopped": ("x", "stopped early by the scheduler"), "time_budget": ("diamond-open", "cut by the time budget"),
               "error": ("square-open", "failed"), "diverged": ("triangle-down-open", "diverged"),
               "running": ("triangle-right-open", "still running"), "unfinished": ("triangle-right-open", "unfinished")}
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
SLICE_COLUMNS = 3
MAX_DRAWN = 200  # trials drawn one by one (a line, a hover box each); more are aggregated
BAND = (10, 50, 90)  # the percentiles of every trial's value at an epoch that an aggregated figure draws


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _config_text(config: dict[str, Any]) -> str:
    """A trial's flattened config for a hover box (escaped: plotly renders it as HTML)."""
    return "<br>".join(html.escape(f"{k} = {_num(v)}") for k, v in flatten(config).items())


def _hover(e: Experiment, t: Trial, best: float | None) -> str:
    """The fixed part of a trial's hover box: who it is, how it ended, its best value and config."""
    value = "none" if best is None else f"{best:.4g}"
    return (f"<b>trial {html.escape(t.trial_id)}</b> ({t.status})<br>best {e.metric} {value}<br>"
            f"{_config_text(e.shown_config(t))}<extra>{html.escape(e.name)}</extra>")


class Colours:
    """Each trial's colour by its best value: SCALE's dark end worst, bright end best."""

    def __init__(self, e: Experiment, best: dict[str, float | None]):
        values = [v for v in best.values() if v is not None]
        self.low, self.high = (min(values), max(values)) if values else (0.0, 1.0)
        if self.low == self.high:
            self.low, self.high = self.low - 0.5, self.high + 0.5
        self.reverse = e.mode == "min"
        self.title = f"best {e.metric}"

    def __call__(self, value: float | None) -> str:
        from plotly.colors import sample_colorscale

        if value is None:
            return "grey"
        where = (value - self.low) / (self.high - self.low)
        return sample_colorscale(SCALE, [1 - where if self.reverse else where])[0]

    def bar(self, **colorbar: Any) -> dict[str, Any]:
        """The marker settings that draw this scale as a colour bar."""
        return {"colorscale": SCALE, "reversescale": self.reverse, "cmin": self.low, "cmax": self.high,
                "showscale": True, "colorbar": {"title": {"text": self.title}, "thickness": 12, **colorbar}}


def best_values(e: Experiment) -> dict[str, float | None]:
    return {t.trial_id: e.best_value(t) for t in e.trials}


def aggregated(e: Experiment) -> bool:
    """Whether the experiment has too many trials to draw one by one (see MAX_DRAWN)."""
    return len(e.trials) > MAX_DRAWN


def _points(many: bool) -> str:
    """The trace type of a figure's points: WebGL when there are too many for SVG."""
    return "scattergl" if many else "scatter"


def _steps(when: tuple, running: list[float]) -> tuple[list, list]:
    """A best-so-far step line reduced to its steps (where it changes) and its end: the same line."""
    last = len(running) - 1
    keep = [i for i in range(len(running)) if i in (0, last) or running[i] != running[i - 1]]
    return [when[i] for i in keep], [running[i] for i in keep]


# --------------------------------------------------------------------------------------------- over time


def timeline(e: Experiment) -> list[tuple[float, float, str, int]]:
    """Every usable reported epoch as (seconds since the experiment's first result, value, trial id, epoch).

    Ray's timestamp is whole seconds; time_total_s is precise but counts from the trial's start (and goes
    on across restarts), so each stretch since a restart is placed by its latest timestamp."""
    points = []
    for t in e.trials:
        stretches: list[list[dict]] = []
        for row in t.rows:
            if not stretches or row.get("iterations_since_restore") == 1:
                stretches.append([])
            stretches[-1].append(row)
        for rows in stretches:
            timed = [r for r in rows if finite(r.get("timestamp")) and finite(r.get("time_total_s"))]
            if not timed:
                continue
            offset = max(r["timestamp"] - r["time_total_s"] for r in timed)
            points += [(offset + r["time_total_s"], float(r[e.metric]), t.trial_id, progress(r)) for r in timed
                       if finite(r.get(e.metric)) and not r.get("diverged")]
    points.sort()
    start = points[0][0] if points else 0.0
    return [(when - start, value, tid, epoch) for when, value, tid, epoch in points]


def best_so_far(experiments: list[Experiment]) -> list[tuple[list[str], dict[str, Any]]]:
    """The best value found so far against wall time, one line per experiment; a figure per (metric, mode),
    with the names of the experiments it shows."""
    figures = []
    for metric, mode in dict.fromkeys((e.metric, e.mode) for e in experiments):
        traces, shown = [], []
        for i, e in enumerate(x for x in experiments if (x.metric, x.mode) == (metric, mode)):
            points = timeline(e)
            if not points:
                continue
            when, values, tids, epochs = zip(*points)
            running, best = [], None
            for v in values:
                best = v if best is None or (v > best if mode == "max" else v < best) else best
                running.append(best)
            colour = PALETTE[i % len(PALETTE)]
            shown.append(e.name)
            line_x, line_y = _steps(when, running)
            traces.append({"type": _points(aggregated(e)), "mode": "markers", "x": when, "y": values,
                           "legendgroup": e.name,
                           "name": f"{e.name}: every epoch", "customdata": list(zip(tids, epochs)),
                           "marker": {"size": 5, "color": colour, "opacity": 0.35},
                           "hovertemplate": f"trial %{{customdata[0]}}, epoch %{{customdata[1]}}<br>{metric} %{{y:.4g}}"
                                            f" at %{{x:.1f}} s<extra>{html.escape(e.name)}</extra>"})
            traces.append({"type": "scatter", "mode": "lines", "x": line_x, "y": line_y, "legendgroup": e.name,
                           "name": f"{e.name}: best so far ({running[-1]:.4g})",
                           "line": {"shape": "hv", "width": 2.5, "color": colour},
                           "hovertemplate": f"best {metric} so far %{{y:.4g}} at %{{x:.1f}} s"
                                            f"<extra>{html.escape(e.name)}</extra>"})
        if traces:
            figures.append((shown, {"data": traces, "layout": {
                "title": {"text": f"Best {metric} so far ({mode}); dots: every epoch of every trial"},
                "xaxis": {"title": {"text": "wall time since the first result (s)"}},
                "yaxis": {"title": {"text": f"best {metric} so far"}}, "height": 450, "hovermode": "closest"}}))
    return figures


# -------------------------------------------------------------------------------------------- per epoch


def _band(curves: list[list[tuple[int, float]]], metric: str) -> list[dict[str, Any]]:
    """Every trial's values at each epoch as BAND's percentiles: shaded between the outer two, a dashed line at
    the middle one."""
    import numpy as np

    by_epoch: dict[int, list[float]] = {}
    for points in curves:
        for epoch, value in points:
            by_epoch.setdefault(epoch, []).append(value)
    epochs = sorted(by_epoch)
    low, mid, high = ([float(np.percentile(by_epoch[x], q)) for x in epochs] for q in BAND)
    counts = [len(by_epoch[x]) for x in epochs]

    def line(y: list[float], q: int, **style: Any) -> dict[str, Any]:
        return {"type": "scatter", "mode": "lines", "x": epochs, "y": y, "customdata": counts, "legendgroup": "band",
                "hovertemplate": f"epoch %{{x}}: {q}th percentile {metric} %{{y:.4g}} of %{{customdata}} trials"
                                 f"<extra></extra>", **style}

    return [line(high, BAND[2], line={"width": 0}, showlegend=False),
            line(low, BAND[0], line={"width": 0}, fill="tonexty", fillcolor="rgba(120,120,120,0.25)",
                 name=f"every trial: {BAND[0]}th to {BAND[2]}th percentile"),
            line(mid, BAND[1], line={"width": 1.5, "dash": "dash", "color": "#444"}, name="every trial: median")]


def learning_curves(e: Experiment) -> dict[str, Any] | None:
    """The metric per epoch, one line per trial (legend: best first; click to toggle), coloured by its best;
    trials that did not complete end in a marker saying why. With more than MAX_DRAWN trials, the best
    MAX_DRAWN are drawn over a band of every trial's values at each epoch."""
    best = best_values(e)
    colours = Colours(e, best)
    winner = e.best_trial
    curves = {t.trial_id: [(progress(r), float(r[e.metric])) for r in t.rows if finite(r.get(e.metric))]
              for t in e.trials}
    drawn = [t for t in e.ranked() if curves[t.trial_id]]
    if not drawn:
        return None
    many = aggregated(e)
    if many:
        drawn = drawn[:MAX_DRAWN]
    traces = _band(list(curves.values()), e.metric) if many else []
    ends, note = {}, None
    for t in drawn:
        points = curves[t.trial_id]
        x, y = zip(*points)
        top = winner is not None and t.trial_id == winner.trial_id
        traces.append({"type": "scatter", "mode": "lines+markers" if len(points) == 1 else "lines", "x": x, "y": y,
                       "name": f"{t.trial_id} ({_num(best[t.trial_id])})", "line": {"color": colours(best[t.trial_id]),
                                                                                     "width": 3.5 if top else 1.3},
                       "hovertemplate": f"epoch %{{x}}: {e.metric} %{{y:.4g}}<br>{_hover(e, t, best[t.trial_id])}"})
        if t.status in END_MARKERS:
            ends.setdefault(t.status, []).append((x[-1], y[-1], t.trial_id))
        if top:
            note = {"x": x[-1], "y": y[-1], "text": f"best: {html.escape(t.trial_id)}", "showarrow": True,
                    "ax": -70, "ay": -35 if e.mode == "max" else 35, "bgcolor": "rgba(255,255,255,0.8)"}
    for status, points in ends.items():
        symbol, label = END_MARKERS[status]
        x, y, tids = zip(*points)
        traces.append({"type": "scatter", "mode": "markers", "x": x, "y": y, "text": tids,
                       "name": f"{label} ({len(points)})",
                       "marker": {"symbol": symbol, "size": 10, "color": "crimson", "line": {"width": 2, "color": "crimson"}},
                       "hovertemplate": f"trial %{{text}}: {label}<extra></extra>"})
    traces.append({"type": "scatter", "mode": "markers", "x": [None], "y": [None], "showlegend": False,
                   "hoverinfo": "skip", "marker": {"color": [colours.low], **colours.bar(
                       orientation="h", x=0.5, xanchor="center", y=-0.18, yanchor="top", len=0.6)}})
    title = (f"{e.metric} per epoch: the {len(drawn)} best of {len(e.trials):,} trials as lines, over every "
             f"trial's {BAND[0]}th to {BAND[2]}th percentile and median at each epoch" if many
             else f"{e.metric} per epoch, a line per trial ({len(e.trials)} trials)")
    return {"data": traces, "layout": {
        "title": {"text": title},
        "xaxis": {"title": {"text": "epoch"}, "range": [0.7, e.max_epochs + 0.3]},
        "yaxis": {"title": {"text": e.metric}}, "annotations": [note] if note else [], "height": 560,
        "legend": {"title": {"text": "trials, best first"}}, "hovermode": "closest", "margin": {"b": 110}}}


# ------------------------------------------------------------------------------------- hyperparameters


def _varying(e: Experiment, trials: list[Trial]) -> dict[str, tuple[Param, list[Any]]]:
    """Each searched hyperparameter that varies among `trials`: its distribution and its value per trial
    (None: not sampled there)."""
    flat = [flatten(e.shown_config(t)) for t in trials]  # the config of the epoch whose value is shown
    columns = {name: (p, [c.get(name) for c in flat]) for name, p in searched(e).items()}
    return {n: (p, v) for n, (p, v) in columns.items() if len({str(x) for x in v}) > 1}


def _is_log(param: Param, values: list[Any]) -> bool:
    return param.kind in LOG_KINDS and all(v is None or (finite(v) and v > 0) for v in values)


def _is_categorical(param: Param, values: list[Any]) -> bool:
    return param.kind in DISCRETE or not all(v is None or finite(v) for v in values)


def _dimension(name: str, param: Param, values: list[Any]) -> dict[str, Any]:
    """One axis of the parallel coordinates: log-sampled values on a log scale, choices as named ticks, and
    trials of another conditional branch (no value) at 'n/a' below the rest."""
    if _is_categorical(param, values):
        levels = sorted({str(v) for v in values if v is not None}) + (["n/a"] if None in values else [])
        where = {v: i for i, v in enumerate(levels)}
        return {"label": name, "values": [where["n/a" if v is None else str(v)] for v in values],
                "tickvals": list(range(len(levels))), "ticktext": levels, "range": [0, max(1, len(levels) - 1)]}
    log = _is_log(param, values)
    scaled = [None if v is None else (math.log10(v) if log else float(v)) for v in values]
    present = [v for v in scaled if v is not None]
    low, high = min(present), max(present)
    span = (high - low) or 1.0
    ticks = [low + span * k / 4 for k in range(5)]
    text = [f"{10 ** v:.3g}" if log else f"{v:.3g}" for v in ticks]
    if None in scaled:
        low -= 0.1 * span
        ticks, text = [low, *ticks], ["n/a", *text]
    return {"label": f"{name} (log)" if log else name, "values": [low if v is None else v for v in scaled],
            "range": [low, high], "tickvals": ticks, "ticktext": text}


def parallel_coordinates(e: Experiment) -> dict[str, Any] | None:
    """One axis per varying hyperparameter and one for the best value; a line per trial, coloured by its best.
    Drag along an axis to keep only the trials in that range."""
    best = best_values(e)
    trials = [t for t in e.trials if best[t.trial_id] is not None]
    columns = _varying(e, trials)
    if not columns:
        return None
    colours = Colours(e, best)
    values = [best[t.trial_id] for t in trials]
    dims = [_dimension(n, p, v) for n, (p, v) in columns.items()] + [{"label": f"best {e.metric}", "values": values}]
    return {"data": [{"type": "parcoords", "dimensions": dims,
                      "line": {"color": values, **colours.bar()}}], "layout": {
        "title": {"text": f"{len(trials)} trials, coloured by their best {e.metric}; drag along an axis to filter"},
        "height": 500, "margin": {"l": 80, "r": 80, "t": 110}}}


def slices(e: Experiment) -> dict[str, Any] | None:
    """The best value against each hyperparameter, a panel each; dots coloured by how many epochs the trial ran.
    With more than MAX_DRAWN trials, a dot's hover box names its trial without its config."""
    best = best_values(e)
    trials = [t for t in e.trials if best[t.trial_id] is not None]
    columns = _varying(e, trials)
    if not columns:
        return None
    many = aggregated(e)
    hovers = {} if many else {t.trial_id: _hover(e, t, best[t.trial_id]) for t in trials}
    traces, layout = [], {}
    rows = math.ceil(len(columns) / SLICE_COLUMNS)
    for i, (name, (param, values)) in enumerate(columns.items(), start=1):
        shown = [(v, t) for v, t in zip(values, trials) if v is not None]
        categorical = _is_categorical(param, values)
        x = [str(v) if categorical else v for v, _ in shown]
        hover = {"customdata": [t.trial_id for _, t in shown],
                 "hovertemplate": f"{html.escape(name)} = %{{x}}<br>trial %{{customdata}}: best {e.metric} %{{y:.4g}}"
                                  f"<extra>{html.escape(e.name)}</extra>"} if many else {
            "hovertemplate": [f"{html.escape(name)} = %{{x}}<br>{hovers[t.trial_id]}" for _, t in shown]}
        traces.append({"type": _points(many), "mode": "markers", "x": x, "y": [best[t.trial_id] for _, t in shown],
                       "xaxis": f"x{i}", "yaxis": f"y{i}", "showlegend": False,
                       "marker": {"size": 5 if many else 7, "opacity": 0.6 if many else 0.8,
                                  "color": [t.epochs for _, t in shown], "colorscale": "Viridis", "cmin": 0,
                                  "cmax": e.max_epochs, "showscale": i == 1,
                                  "colorbar": {"title": {"text": "epochs trained"}, "thickness": 12}}, **hover})
        axis = {"title": {"text": name}}
        if categorical:
            axis |= {"type": "category", "categoryorder": "category ascending"}
        elif _is_log(param, values):
            axis["type"] = "log"
        layout[f"xaxis{i}"] = axis
        layout[f"yaxis{i}"] = {"title": {"text": f"best {e.metric}"}} if i % SLICE_COLUMNS == 1 else {}
    title = f"best {e.metric} against each hyperparameter" + (
        f" ({len(trials):,} trials: a dot's hover names its trial; the ranking below has its config)" if many else "")
    layout |= {"title": {"text": title},
               "grid": {"rows": rows, "columns": min(SLICE_COLUMNS, len(columns)), "pattern": "independent",
                        "ygap": 0.45},
               "height": 120 + 280 * rows, "hovermode": "closest"}
    return {"data": traces, "layout": layout}


def importance(e: Experiment, found: list[Importance]) -> dict[str, Any]:
    """Each hyperparameter's share of the importance, a bar per fidelity compared at."""
    names = sorted({n for i in found for n in i.scores}, key=lambda n: -sum(i.scores.get(n, 0) for i in found))
    traces = [{"type": "bar", "orientation": "h", "y": names, "x": [i.scores.get(n, 0.0) for n in names],
               "name": f"epoch {i.epoch}: {i.trials} trials", "marker": {"color": PALETTE[k % len(PALETTE)]},
               "hovertemplate": f"%{{y}}: %{{x:.1%}} of the importance at epoch {i.epoch} ({i.trials} trials)"
                                f"<extra></extra>"} for k, i in enumerate(found)]
    return {"data": traces, "layout": {
        "title": {"text": "share of the importance at each epoch compared (sums to 1)"},
        "barmode": "group", "xaxis": {"title": {"text": "share of the importance"}, "tickformat": ".0%"},
        "yaxis": {"autorange": "reversed", "automargin": True}, "height": 160 + 28 * len(names) * len(found),
        "legend": {"title": {"text": "trials compared at"}}}}

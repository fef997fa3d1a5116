"""The HTML report's plots of several objectives (plotly figure dicts, as plots.py): the Pareto front, and its
hypervolume against wall time. Both read the experiment's Pareto view (front.py), so that they show the front,
the ranks and the selected trial that summary.json and the reports give."""

from __future__ import annotations

import html
from bisect import bisect_right
from itertools import combinations
from typing import Any

from raytune_app.results import best as best_rule
from raytune_app.results import pareto
from raytune_app.results.plots import _config_text, _num, timeline
from raytune_app.results.reader import Experiment
from raytune_app.results.status import progress
from raytune_app.spec.metrics import finite

# how each kind of point is drawn: legend label, marker
KINDS = {
    "front": ("on the Pareto front", {"color": "#d62728", "size": 10, "symbol": "circle"}),
    "dominated": ("dominated", {"color": "#1f77b4", "size": 7, "symbol": "circle-open"}),
    "infeasible": ("breaks a constraint", {"color": "#999999", "size": 7, "symbol": "x"}),
    "selected": ("selected (select: rule)", {"color": "#ffbf00", "size": 18, "symbol": "star",
                                             "line": {"color": "#222", "width": 1}}),
}


def _kind(e: Experiment, trial_id: str) -> str:
    f = e.pareto
    point = f.points[trial_id]
    if f.selected is not None and f.selected.trial_id == trial_id:
        return "selected"
    if not point.feasible:
        return "infeasible"
    return "front" if point.rank == 0 else "dominated"


def front_figure(e: Experiment) -> dict[str, Any] | None:
    """Each trial's point on two objectives, by kind (front, dominated, infeasible, selected); hover: the
    trial, its objectives, front rank and config. With three objectives or more a menu picks the pair of axes.
    None when no trial has a point."""
    f = e.pareto
    points = [p for p in f.points.values() if all(v is not None for v in p.values.values())]
    if not points:
        return None
    names = [o.name for o in f.objectives]
    pairs = list(combinations(names, 2))
    groups = {k: [p for p in points if _kind(e, p.trial.trial_id) == k] for k in KINDS}
    groups = {k: v for k, v in groups.items() if v}

    def hover(p) -> str:
        values = "<br>".join(f"{html.escape(n)} = {_num(v)}" for n, v in p.values.items())
        rank = "infeasible" if p.rank is None else f"front rank {p.rank}"
        return (f"<b>trial {html.escape(p.trial.trial_id)}</b> ({rank}, epoch {p.row.get('epoch')})<br>{values}<br>"
                f"{_config_text(e.shown_config(p.trial))}")

    x, y = pairs[0]
    traces = [{"type": "scatter", "mode": "markers", "name": f"{KINDS[k][0]} ({len(ps)})",
               "x": [p.values[x] for p in ps], "y": [p.values[y] for p in ps], "marker": KINDS[k][1],
               "text": [hover(p) for p in ps], "hovertemplate": f"%{{text}}<extra>{html.escape(e.name)}</extra>"}
              for k, ps in groups.items()]
    layout: dict[str, Any] = {
        "title": {"text": f"Pareto front: {', '.join(f'{o.name} ({o.mode})' for o in f.objectives)}; "
                          f"hypervolume {_num(f.hypervolume)}"},
        "xaxis": {"title": {"text": x}}, "yaxis": {"title": {"text": y}}, "height": 480, "hovermode": "closest"}
    if len(pairs) > 1:
        layout["updatemenus"] = [{"type": "dropdown", "x": 0, "y": 1.15, "xanchor": "left", "buttons": [
            {"label": f"{a} vs {b}", "method": "update",
             "args": [{"x": [[p.values[a] for p in ps] for ps in groups.values()],
                       "y": [[p.values[b] for p in ps] for ps in groups.values()]},
                      {"xaxis.title.text": a, "yaxis.title.text": b}]} for a, b in pairs]}]
    return {"data": traces, "layout": layout}


def hypervolume_over_time(e: Experiment) -> list[tuple[float, float]]:
    """(seconds since the first result, the hypervolume of the front so far) each time a result changes it:
    each trial's point so far by the same rule (its best usable epoch by the primary), against the final
    reference point (front.py), so the curve ends at summary.json's hypervolume."""
    f = e.pareto
    if not f.front:
        return []
    names, modes = [o.name for o in f.objectives], f.modes
    # Per trial, its rows by epoch (a stable sort: a restore's repeated epochs keep their order) and the best
    # of each prefix: the rows up to an epoch are a prefix, so each step is a lookup, not a pass over them.
    by_epoch = {t.trial_id: sorted(t.rows, key=progress) for t in e.trials}
    epochs = {tid: [progress(r) for r in rows] for tid, rows in by_epoch.items()}
    bests = {tid: best_rule.running_best(rows, e.metric, e.mode, checkpointed_only=e.checkpointed_only)
             for tid, rows in by_epoch.items()}
    when = {(tid, epoch): at for at, _, tid, epoch in timeline(e)}
    seen: dict[str, int] = {}
    current: dict[str, list[float]] = {}
    curve: list[tuple[float, float]] = []
    for (tid, epoch), at in sorted(when.items(), key=lambda item: item[1]):
        count = bisect_right(epochs[tid], epoch)
        if count == seen.get(tid):
            continue
        seen[tid] = count
        row = bests[tid][count - 1] if count else None
        values = [row.get(n) for n in names] if row else None
        if values and all(finite(v) for v in values) and pareto.meets(row, f.constraints):
            current[tid] = [float(v) for v in values]
        else:
            current.pop(tid, None)
        volume = pareto.hypervolume(list(current.values()), modes, f.reference) if current else 0.0
        if not curve or volume != curve[-1][1]:
            curve.append((at, volume))
    return curve


def hypervolume_figure(e: Experiment) -> dict[str, Any] | None:
    curve = hypervolume_over_time(e)
    if not curve:
        return None
    x, y = zip(*curve)
    reference = ", ".join(f"{o.name} {_num(r)}" for o, r in zip(e.pareto.objectives, e.pareto.reference))
    return {"data": [{"type": "scatter", "mode": "lines+markers", "x": x, "y": y, "name": e.name,
                      "line": {"shape": "hv", "width": 2.5},
                      "hovertemplate": f"hypervolume %{{y:.4g}} at %{{x:.1f}} s<extra>{html.escape(e.name)}</extra>"}],
            "layout": {"title": {"text": f"Hypervolume of the front so far (reference point: {reference})"},
                       "xaxis": {"title": {"text": "wall time since the first result (s)"}},
                       "yaxis": {"title": {"text": "hypervolume"}}, "height": 400}}

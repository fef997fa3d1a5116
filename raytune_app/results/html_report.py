"""`raytune-app report EXP --html FILE`: one self-contained HTML page of plots (PNG, base64) and the ranking.

Per experiment: every trial's learning curve (early-stopped trials end in an x where the scheduler
stopped them), a parallel-coordinates plot of the hyperparameters coloured by the metric, and
hyperparameter importance: scikit-learn's permutation importance of a random forest that predicts
each trial's best metric from its (ordinal-encoded) flattened config, early-stopped trials included.
For all experiments together: the best metric so far against wall time.
"""

from __future__ import annotations

import base64
import html
import io
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from raytune_app.results.report import Experiment, _cell, _headline
from raytune_app.spec.space import flatten

# how each status ends its learning curve
END_MARKERS = {"early_stopped": ("x", "stopped early by the scheduler"), "diverged": ("v", "diverged"),
               "error": ("s", "failed"), "running": (">", "still running"), "unfinished": (">", "unfinished")}
MIN_TRIALS_FOR_IMPORTANCE = 3
_LABEL_BOX = {"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 1}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display: render to PNG only
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 11, "axes.titlesize": 13, "axes.grid": True, "grid.alpha": 0.3})
    return plt


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    fig.clf()
    _pyplot().close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _colormap(mode: str):
    """Dark blue (worst) to orange (best): plasma without its pale yellow end, which vanishes on white."""
    import matplotlib
    from matplotlib.colors import ListedColormap

    colors = matplotlib.colormaps["plasma"](np.linspace(0.0, 0.82, 256))
    return ListedColormap(colors if mode == "max" else colors[::-1])


def _norm(values: list[float]):
    import matplotlib.colors

    finite = [v for v in values if v is not None and math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if low == high:
        low, high = low - 0.5, high + 0.5
    return matplotlib.colors.Normalize(low, high)


def _best_of(e: Experiment) -> dict[str, float | None]:
    return {t.trial_id: e.best_value(t) for t in e.trials}


# ----------------------------------------------------------------------------------------- learning curves


def learning_curves(e: Experiment) -> str:
    """Metric against epoch for every trial, coloured by the trial's best metric."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.lines import Line2D

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(12, 5.5))
    best = _best_of(e)
    cmap, norm = _colormap(e.mode), _norm(list(best.values()))
    winner = e.summary.get("best", {}).get("trial_id") if e.summary and e.summary.get("best") else None
    used = set()
    for t in e.trials:
        h = t.history
        if e.metric not in h or "epoch" not in h or not len(h):
            continue
        y = pd.to_numeric(h[e.metric], errors="coerce")
        ok = y.map(math.isfinite)
        x, y = h["epoch"][ok], y[ok]
        if x.empty:
            continue
        color = cmap(norm(best[t.trial_id])) if best[t.trial_id] is not None else "grey"
        is_winner = t.trial_id == winner
        ax.plot(x, y, "-o", color=color, lw=3 if is_winner else 1.4, ms=3, alpha=0.95, zorder=3 if is_winner else 2)
        if t.status in END_MARKERS:
            ax.plot(x.iloc[-1], y.iloc[-1], END_MARKERS[t.status][0], color="crimson", ms=11, mew=2.5, zorder=4)
            used.add(t.status)
        if is_winner:
            ax.annotate(f"best: {t.trial_id}", (x.iloc[-1], y.iloc[-1]), xytext=(8, 0),
                        textcoords="offset points", va="center", fontsize=10, fontweight="bold")
    ax.set_xlabel("epoch")
    ax.set_ylabel(e.metric)
    ax.set_xlim(0.8, e.max_epochs + 0.6)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title(f"{e.name}: {e.metric} per epoch, one line per trial ({len(e.trials)} trials)")
    handles = [Line2D([], [], color="grey", marker="o", ms=3, label="a trial (colour: its best)")]
    handles += [Line2D([], [], color="crimson", marker=END_MARKERS[s][0], ls="", ms=10, mew=2.5,
                       label=END_MARKERS[s][1]) for s in END_MARKERS if s in used]
    ax.legend(handles=handles, loc="best", fontsize=10)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=f"best {e.metric}", pad=0.01)
    return _png(fig)


# ------------------------------------------------------------------------------------- best so far / time


def _timeline(e: Experiment) -> pd.DataFrame:
    """Every reported epoch with its wall time (seconds since the experiment's first result)."""
    parts = []
    for t in e.trials:
        h = t.history
        if not {"timestamp", "time_total_s", e.metric} <= set(h.columns) or not len(h):
            continue
        # Ray's timestamp is whole seconds; time_total_s is precise but counts from the trial's start
        # (and goes on across restarts, so each stretch since a restart gets its own start)
        stretch = ((h["iterations_since_restore"] == 1).cumsum() if "iterations_since_restore" in h
                   else pd.Series(0, index=h.index))
        offset = (h["timestamp"] - h["time_total_s"]).groupby(stretch).transform("max")
        parts.append(pd.DataFrame({"t": offset + h["time_total_s"].astype(float),
                                   "value": pd.to_numeric(h[e.metric], errors="coerce")}))
    if not parts:
        return pd.DataFrame(columns=["t", "value"])
    frame = pd.concat(parts).sort_values("t")
    frame["t"] -= frame["t"].min()
    return frame[frame["value"].map(math.isfinite)]


def best_so_far(experiments: list[Experiment]) -> str:
    """The best metric found so far against wall time, one line per experiment (a panel per metric)."""
    plt = _pyplot()
    metrics = list(dict.fromkeys((e.metric, e.mode) for e in experiments))
    fig, axes = plt.subplots(1, len(metrics), figsize=(12, 4.5), squeeze=False)
    for ax, (metric, mode) in zip(axes[0], metrics):
        for i, e in enumerate(x for x in experiments if (x.metric, x.mode) == (metric, mode)):
            frame = _timeline(e)
            if frame.empty:
                continue
            running = frame["value"].cummax() if mode == "max" else frame["value"].cummin()
            color = f"C{i}"
            ax.scatter(frame["t"], frame["value"], s=12, color=color, alpha=0.35)
            ax.step(np.r_[frame["t"], frame["t"].max() * 1.02 + 0.1], np.r_[running, running.iloc[-1]],
                    where="post", color=color, lw=2.2, label=f"{e.name} (best {running.iloc[-1]:.4g})")
        ax.set_xlabel("wall time since the first result (s)")
        ax.set_ylabel(f"best {metric} so far")
        ax.set_title(f"Best {metric} so far ({mode}); dots: every epoch of every trial")
        ax.legend(loc="lower right" if mode == "max" else "upper right", fontsize=10)
    return _png(fig)


# --------------------------------------------------------------------------------------- hyperparameters


def _log_params(space: Any, prefix: str = "") -> set[str]:
    """Flattened names of the hyperparameters the experiment file samples on a log scale."""
    out: set[str] = set()
    for name, value in (space or {}).items():
        if not isinstance(value, dict) or len(value) != 1:
            continue
        kind, args = next(iter(value.items()))
        if kind in ("loguniform", "logint"):
            out.add(f"{prefix}{name}")
        elif kind == "choice" and isinstance(args, list):
            for option in args:
                if isinstance(option, dict):
                    out |= _log_params({k: v for k, v in option.items() if k != "name"}, f"{prefix}{name}/")
    return out


def config_frame(e: Experiment) -> pd.DataFrame:
    """One row per trial, one column per hyperparameter that varies (flattened); index: trial id."""
    frame = pd.DataFrame([flatten(t.config) for t in e.trials], index=[t.trial_id for t in e.trials])
    frame = frame.map(lambda v: str(v) if isinstance(v, (list, tuple, dict)) else v)
    return frame[[c for c in frame.columns if frame[c].astype(str).nunique(dropna=False) > 1]]


def _is_numeric(col: pd.Series) -> bool:
    values = col.dropna()
    return len(values) > 0 and all(isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))
                                   for v in values)


def _axis_label(ax, x: float, y: float, text: str, **style) -> None:
    ax.text(x - 0.04, y, text, ha="right", va="center", fontsize=9, bbox=_LABEL_BOX, **style)


def parallel_coordinates(e: Experiment) -> str:
    """One vertical axis per varying hyperparameter plus the metric; a line per trial, coloured by its best."""
    from matplotlib.cm import ScalarMappable

    plt = _pyplot()
    frame = config_frame(e)
    best = _best_of(e)
    frame[f"best {e.metric}"] = [best[t] for t in frame.index]
    logs = _log_params(e.spec.get("space"))
    fig, ax = plt.subplots(figsize=(max(8, 2.2 * len(frame.columns) + 2), 5.5))
    positions = np.zeros((len(frame), len(frame.columns)))
    for j, col in enumerate(frame.columns):
        values = frame[col]
        if _is_numeric(values):
            numeric = values.astype(float)
            scaled = np.log10(numeric) if col in logs and (numeric.dropna() > 0).all() else numeric
            low, high = np.nanmin(scaled), np.nanmax(scaled)
            if high == low:  # one value (the rest: another branch's trials): mid-axis
                low, span = low - 0.5, 1.0
            else:
                span = high - low
            positions[:, j] = np.where(np.isnan(scaled), -0.08, (scaled - low) / span)
            distinct = np.unique(scaled.dropna())
            spread = len(distinct) <= 6 and (len(distinct) < 2 or np.diff(distinct).min() >= 0.1 * span)
            ticks = distinct if spread else low + np.array([0.0, 0.25, 0.5, 0.75, 1.0]) * span
            for value in ticks:
                label = 10 ** value if scaled is not numeric else value
                _axis_label(ax, j, (value - low) / span, f"{label:.3g}")
            if scaled is not numeric:
                ax.text(j, 1.08, "(log scale)", ha="center", fontsize=8, color="dimgrey")
            if numeric.isna().any():  # a parameter of another conditional branch
                _axis_label(ax, j, -0.08, "n/a", color="dimgrey")
        else:
            levels = sorted(values.astype(str).unique())
            where = {v: (i / (len(levels) - 1) if len(levels) > 1 else 0.5) for i, v in enumerate(levels)}
            positions[:, j] = [where[str(v)] for v in values]
            for v, y in where.items():
                _axis_label(ax, j, y, v)
        ax.axvline(j, color="black", lw=1)
    cmap, norm = _colormap(e.mode), _norm(list(best.values()))
    order = sorted(range(len(frame)), key=lambda i: norm(frame.iloc[i, -1]) if frame.iloc[i, -1] is not None
                   and not pd.isna(frame.iloc[i, -1]) else -1.0)
    for i in order if e.mode == "max" else order[::-1]:
        value = frame.iloc[i, -1]
        missing = value is None or pd.isna(value)
        ax.plot(range(len(frame.columns)), positions[i], color="grey" if missing else cmap(norm(value)),
                lw=2, alpha=0.85, ls="--" if missing else "-")
    ax.set_xticks(range(len(frame.columns)), [str(c) for c in frame.columns], fontsize=11)
    ax.set_yticks([])
    ax.set_ylim(-0.15, 1.15)
    ax.set_xlim(-0.6, len(frame.columns) - 0.5)
    ax.grid(False)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"{e.name}: hyperparameters of each trial, coloured by its best {e.metric}")
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=f"best {e.metric}", pad=0.01)
    return _png(fig)


def importance(e: Experiment) -> tuple[pd.DataFrame | None, str]:
    """Permutation importance (scikit-learn) of a random forest fitted to each trial's best metric.

    Returns (importances: mean and std per hyperparameter, best first; or None) and a note saying
    what it was computed on, or why it could not be.
    """
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance
    from sklearn.preprocessing import OrdinalEncoder

    frame = config_frame(e)
    best = _best_of(e)
    frame["_y"] = [best[t] for t in frame.index]
    frame = frame[frame["_y"].notna()]
    features = [c for c in frame.columns if c != "_y" and frame[c].astype(str).nunique() > 1]
    if len(frame) < MIN_TRIALS_FOR_IMPORTANCE or not features:
        why = (f"{len(frame)} trial(s) with a finite {e.metric}" if len(frame) < MIN_TRIALS_FOR_IMPORTANCE
               else "no hyperparameter varied")
        return None, f"Not enough to estimate importance: {why}."
    X = pd.DataFrame(index=frame.index)
    for col in features:
        if _is_numeric(frame[col]):
            X[col] = frame[col].astype(float)  # missing (another branch's parameter): NaN, which forests handle
        else:
            X[col] = OrdinalEncoder().fit_transform(frame[[col]].astype(str))[:, 0]
    y = frame["_y"].astype(float).to_numpy()
    forest = RandomForestRegressor(n_estimators=100, random_state=0).fit(X, y)
    result = permutation_importance(forest, X, y, n_repeats=20, random_state=0)
    table = pd.DataFrame({"importance": result.importances_mean, "std": result.importances_std},
                         index=features).sort_values("importance", ascending=False)
    note = (f"Permutation importance (drop in R\u00b2 when a hyperparameter is shuffled) of a random forest "
            f"predicting each trial's best {e.metric} from its config; {len(frame)} trials, early-stopped "
            f"ones included. With few trials this is a rough guide.")
    return table, note


def importance_plot(e: Experiment, table: pd.DataFrame) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.55 * len(table)))
    shown = table.iloc[::-1]
    ax.barh([str(i) for i in shown.index], shown["importance"], xerr=shown["std"], color="steelblue", capsize=4)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(f"importance for best {e.metric} (mean drop in R\u00b2 when shuffled)")
    ax.set_title(f"{e.name}: hyperparameter importance ({len(e.trials)} trials)")
    return _png(fig)


# ------------------------------------------------------------------------------------------------- page

_CSS = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 1300px; }
h1 { font-size: 24px; } h2 { font-size: 20px; margin-top: 36px; border-bottom: 1px solid #ccc; }
img { display: block; max-width: 100%; margin: 12px 0 24px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; } tr:nth-child(even) td { background: #fafafa; }
p.note { color: #555; font-size: 14px; }
"""


def _img(alt: str, png: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png}">'


def render_html(experiments: list[Experiment], table: pd.DataFrame) -> str:
    """The whole page as a string."""
    esc = html.escape
    names = ", ".join(e.name for e in experiments)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>raytune-app report: {esc(names)}</title>",
             f"<style>{_CSS}</style></head><body>", f"<h1>raytune-app report: {esc(names)}</h1>",
             f"<p class='note'>Generated {datetime.now():%Y-%m-%d %H:%M:%S}.</p><ul>",
             *(f"<li>{esc(_headline(e))}</li>" for e in experiments), "</ul>",
             "<h2>Ranking</h2>", table.map(_cell).to_html(index=False, border=0) if len(table) else "<p>No trials.</p>",
             "<h2>Best so far</h2>", _img("best so far against wall time", best_so_far(experiments))]
    for e in experiments:
        parts += [f"<h2>{esc(e.name)}</h2>", _img(f"learning curves of {e.name}", learning_curves(e)),
                  _img(f"parallel coordinates of {e.name}", parallel_coordinates(e))]
        scores, note = importance(e)
        if scores is not None:
            parts.append(_img(f"hyperparameter importance of {e.name}", importance_plot(e, scores)))
            parts.append(scores.rename_axis("hyperparameter").reset_index().map(_cell)
                         .to_html(index=False, border=0))
        parts.append(f"<p class='note'>{esc(note)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(experiments: list[Experiment], table: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(experiments, table), encoding="utf-8")

"""An experiment's results for Python: what `raytune_app.tune()` returns and `raytune_app.load()` reads.

A thin view over the one reader (reader.py), the one rule for best (best.py) and the code behind `report`,
`best --export` and `evaluate`, so that Python and the CLI show the same trials, the same best and the same
files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from raytune_app.errors import InputError
from raytune_app.results.reader import Experiment, load_experiment, resolve
from raytune_app.results.summary import checkpoint_path, problem_of, run_status


@dataclass(frozen=True)
class BestTrial:
    """The best trial by the one rule for best (with several objectives: the one the `select:` rule picks, or a
    point of the Pareto front): its id, the config that produced its best epoch (as sampled: conditional
    branches nested), its value of the metric and that epoch, its held-out test scores (where the run computed
    some), the checkpoint of that epoch, and with several objectives each objective's value there."""

    trial_id: str
    config: dict[str, Any]
    metric: str
    value: float
    epoch: int | None
    test_scores: dict[str, float | None]
    checkpoint: str | None
    results: "Results" = field(repr=False, compare=False)
    values: dict[str, float | None] = field(default_factory=dict)  # several objectives: each one's, this epoch

    def export(self, folder: str | Path, model: Any = None) -> list[Path]:
        """What `raytune-app best --export` writes, for this trial. `model`: as for load_model."""
        return self.results.export(folder, model, trial=self.trial_id)

    def load_model(self, model: Any = None):
        """The trained network of the best epoch, on the CPU, in eval mode. `model`: the class or factory the
        experiment was given as a Python object, needed when this process cannot import it (it lived in
        `__main__` or a notebook of another process)."""
        from raytune_app.results.export import restore_model
        from raytune_app.spec.user_code import code_name

        if self.checkpoint is None:
            raise InputError([f"{self.results.path}: the best trial saved no checkpoint"])
        spec = self.results._spec_for(model)
        if spec.trainable:
            raise InputError([f"{self.results.path}: the experiment ran your training function "
                              f"({code_name(spec.trainable)}); its checkpoint is at {self.checkpoint}, for your code to load"])
        network, _ = restore_model(spec, self.results._shapes(spec), self.config, self.checkpoint)
        return network


@dataclass(frozen=True)
class _Shapes:
    input_shape: tuple[int, ...]
    outputs: int


class Results:
    """One experiment folder's results: its status, best trial, trials, their histories, and what `report`,
    `best --export` and `evaluate` do, from Python.

    `status`: `finished`, `interrupted` (a resume continues it), `failed` (`problem` says why, when the run that
    returned these results knew), or `running` (no summary yet: running, or its driver died)."""

    def __init__(self, path: str | Path, *, status: str | None = None, problem: str | None = None,
                 spec: Any = None):
        self.path = resolve(path)
        self._status, self._problem, self._spec = status, problem, spec
        self.experiment: Experiment = load_experiment(self.path)  # InputError when it is not an experiment

    def __repr__(self) -> str:
        best = self.best
        shown = f"{best.metric}={best.value:.4g} (trial {best.trial_id})" if best else "no best trial"
        return f"Results({self.path!r}, status={self.status!r}, {len(self.experiment.trials)} trials, {shown})"

    @property
    def summary(self) -> dict[str, Any] | None:
        """summary.json as the last invocation wrote it (None while running or if its driver died)."""
        return self.experiment.summary

    @property
    def status(self) -> str:
        return self._status or run_status(self.summary)

    @property
    def problem(self) -> str | None:
        """Why it failed (None unless `status` is `failed`)."""
        if self.status != "failed":
            return None
        return self._problem or problem_of(self.summary) or "the run failed"

    @cached_property
    def best(self) -> BestTrial | None:
        """The best trial: the one summary.json names, or, without a summary yet, the best so far by the same
        rule; None when no trial has a usable value of the metric."""
        e = self.experiment
        recorded = (self.summary or {}).get("best")
        trial = next((t for t in e.trials if t.trial_id == str(recorded["trial_id"])), None) if recorded \
            else e.best_trial
        if trial is None:
            return None
        return self._trial(trial, recorded)

    @cached_property
    def pareto(self) -> list[BestTrial]:
        """Several objectives: the trials of the Pareto front (summary.json's, or, without a summary yet, the
        front so far by the same rule), in proposal order; each with `values`, `load_model()` and `export()`.
        With one objective: the best trial alone ([] without one)."""
        e = self.experiment
        if not e.multi_objective:
            return [self.best] if self.best else []
        recorded = (self.summary or {}).get("pareto")
        ids = [str(p["trial_id"]) for p in recorded["front"]] if recorded else [t.trial_id for t in e.pareto.front]
        points = {str(p["trial_id"]): p for p in (recorded or {}).get("front", [])}
        return [self._trial(t, points.get(t.trial_id)) for t in e.trials if t.trial_id in ids]

    def _trial(self, trial, recorded: dict[str, Any] | None) -> BestTrial:
        """A trial at its best epoch, as summary.json `recorded` it (or by the same rule, read now)."""
        e = self.experiment
        row = e.best_epoch(trial)
        epoch = recorded.get("epoch") if recorded else (row or {}).get("epoch")
        value = recorded[e.metric] if recorded else e.best_value(trial)
        tests = {k: v for k, v in (recorded or {}).items() if k.startswith("test_")}
        checkpoint = (recorded or {}).get("checkpoint") or checkpoint_path(e, trial)
        point = e.pareto.point(trial) if e.multi_objective else None
        return BestTrial(trial.trial_id, e.shown_config(trial), e.metric, value, epoch, tests, checkpoint, self,
                         dict(point.values) if point else {})

    @cached_property
    def trials(self) -> pd.DataFrame:
        """One row per trial, best first, with the columns of `raytune-app report --format csv`."""
        from raytune_app.results.report import ranked

        return ranked([self.experiment])

    def history(self, trial_id: str) -> pd.DataFrame:
        """A trial's reported results, one row per epoch, oldest first (nested metrics as Ray names them)."""
        trial = next((t for t in self.experiment.trials if t.trial_id == str(trial_id)), None)
        if trial is None:
            known = ", ".join(t.trial_id for t in self.experiment.trials[:10])
            raise InputError([f"{self.path}: no trial {trial_id!r} (trials: {known}{', ...' if known else ''})"])
        return pd.DataFrame([{k: v for k, v in row.items() if k != "config"} for row in trial.rows])

    def report(self, html: str | Path | None = None, format: str = "table") -> str:
        """The ranked trials as `raytune-app report` shows them (table, json, csv or markdown); with `html`, also
        the interactive page written there."""
        from raytune_app.results.report import FORMATS, render

        if format not in FORMATS:
            raise InputError([f"format: {format!r} is not one of {', '.join(FORMATS)}"])
        if html is not None:
            from raytune_app.results.html_report import write_html

            write_html([self.experiment], self.trials, Path(html))
        return render([self.experiment], self.trials, format)

    def export(self, folder: str | Path, model: Any = None, trial: str | None = None) -> list[Path]:
        """What `raytune-app best --export` writes (model.pt, config.json, scores.json) into `folder`; never over
        an earlier export. `model`: as for BestTrial.load_model; `trial`: another trial's id (at its best
        epoch) than the best's."""
        from raytune_app.results.export import export, load_best

        return export(load_best(self.path, spec=self._spec_for(model), trial_id=trial), Path(folder))

    def evaluate(self, data: str | Path, model: Any = None, trial: str | None = None) -> dict[str, Any]:
        """The best model (or trial `trial`'s, at its best epoch) scored on new data (a .npz with X and y, or a
        .csv with the label column), as `raytune-app evaluate` scores it: {metric name: value, "rows": n}."""
        from raytune_app.results.export import evaluate_file, load_best

        name, value, rows = evaluate_file(load_best(self.path, spec=self._spec_for(model), trial_id=trial),
                                          str(data))
        return {name: value, "rows": rows}

    # ------------------------------------------------------------------------------------ what rebuilds models

    def _spec_for(self, model: Any = None):
        """The experiment as it was run: the caller's spec (with the Python objects it was given) or the saved
        one, with `model` in place of the model it names."""
        from raytune_app.spec.load import revalidated
        from raytune_app.spec.saved import load_saved_spec

        spec = self._spec or load_saved_spec(self.path)
        return revalidated(spec, self.path, model=model) if model is not None else spec

    def _shapes(self, spec) -> _Shapes:
        """The input shape and outputs of the experiment's models: recorded in the summary, else from its data."""
        recorded = (self.summary or {}).get("model")
        if recorded:
            return _Shapes(tuple(recorded["input_shape"]), int(recorded["outputs"]))
        from raytune_app.data.datasets import load_dataset

        dataset = load_dataset(spec.data)
        return _Shapes(tuple(dataset.input_shape), dataset.outputs)


def load(path: str | Path) -> Results:
    """The results of the experiment folder at `path` (finished, interrupted, running, or killed); reading it
    runs nothing from it."""
    return Results(path)

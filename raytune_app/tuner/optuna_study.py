"""An experiment's Optuna study (`search: optuna`), one objective or several: raytune-app creates it in a storage
that Ray's OptunaSearch is handed (with the objectives' directions, and a warm start's earlier trials), and saves
it beside Ray's searcher state as an Optuna journal, STUDY_FILE, that Optuna's own tools read:

    optuna.load_study(study_name="optuna", storage=JournalStorage(JournalFileBackend("runs/NAME/optuna_study.log")))

Warm starts (`--warm-start`, `extend`) add the earlier experiments' trials to the study (`study.add_trial`), not
through Ray's `evaluated_rewards`: it takes one value per point (with two objectives Ray 2.60 raises TypeError),
and counts every point as finished. Each ended trial is told as a live run tells it (tuner/optuna_search.py): one
that trained every epoch (or diverged) COMPLETE, with the values of its point, its best epoch by the primary
objective (the one rule for best) and the other objectives from the same row; one stopped early (by a scheduler
or the time budget) PRUNED, with one objective the values of its epochs as intermediate values (Optuna's TPE
ranks pruned trials by them), with several none. Trials whose config lies outside the new space, or whose point
lacks an objective, are skipped and counted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from raytune_app.results.status import progress
from raytune_app.spec.load import ExperimentSpec
from raytune_app.spec.metrics import finite
from raytune_app.spec.space import flatten, to_param_space
from raytune_app.tuner.warm_start import ENDED

STUDY = "optuna"  # the study's name in the storage handed to Ray's OptunaSearch
STUDY_FILE = "optuna_study.log"  # in the experiment folder: the study as an Optuna journal


@dataclass(frozen=True)
class OptunaHistory:
    """Earlier trials usable in the new space, as Optuna's frozen trials, with what was skipped."""

    sources: tuple[str, ...]
    points: tuple[Any, ...]  # optuna.trial.FrozenTrial
    skipped: int


def _frozen_trial(experiment, trial, spec: ExperimentSpec, distributions: dict) -> Any | None:
    """The trial as Optuna's FrozenTrial, or None when it cannot be one (outside the space, no values)."""
    import optuna
    from optuna.trial import TrialState

    row = experiment.best_epoch(trial, spec.metric, spec.mode)
    config = flatten(trial.config_of(row))
    if any(name not in config for name in distributions):
        return None
    params = {name: config[name] for name in distributions}
    if trial.status in ("completed", "diverged"):
        values = [row.get(o.name) for o in spec.objectives]
        if not all(finite(v) for v in values):
            return None
        kind: dict[str, Any] = {"state": TrialState.COMPLETE, "values": [float(v) for v in values]}
    else:
        steps = {} if spec.multi_objective else {progress(r): float(r[spec.metric]) for r in trial.rows
                                                 if finite(r.get(spec.metric)) and not r.get("diverged")}
        kind = {"state": TrialState.PRUNED, "intermediate_values": steps or None}
    try:
        return optuna.trial.create_trial(params=params, distributions=distributions, **kind)
    except ValueError:  # a value outside its distribution in the new space
        return None


def load_optuna_history(paths: list[str], spec: ExperimentSpec, source: str) -> OptunaHistory:
    """Ended trials of earlier experiments as Optuna trials of this experiment's space and objectives. Reads
    files only: a bad path is refused before Ray starts."""
    from ray.tune.search.optuna import OptunaSearch

    from raytune_app.tuner.warm_start import earlier_experiments

    distributions = OptunaSearch.convert_search_space(to_param_space(spec.params))
    points, skipped = [], 0
    for experiment in earlier_experiments(paths, source):
        for trial in experiment.trials:
            if trial.status not in ENDED or experiment.best_epoch(trial, spec.metric, spec.mode) is None:
                continue
            point = _frozen_trial(experiment, trial, spec, distributions)
            skipped += point is None
            points += [point] if point is not None else []
    return OptunaHistory(tuple(paths), tuple(points), skipped)


def study_storage(spec: ExperimentSpec, history: OptunaHistory | None):
    """An Optuna storage (in memory) holding the study STUDY, with the experiment's directions and any earlier
    trials, for Ray's OptunaSearch(storage=..., study_name=STUDY) to load."""
    import optuna

    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, study_name=STUDY,
                                directions=["maximize" if o.mode == "max" else "minimize" for o in spec.objectives])
    study.add_trials(history.points if history else ())
    return storage


def save_study(storage, folder: str) -> None:
    """The study in `storage` as a fresh Optuna journal, STUDY_FILE in `folder` (whole: never half written)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    tmp = os.path.join(folder, f".{STUDY_FILE}.tmp")
    if os.path.exists(tmp):
        os.remove(tmp)
    optuna.copy_study(from_study_name=STUDY, from_storage=storage,
                      to_storage=optuna.storages.JournalStorage(JournalFileBackend(tmp)))
    os.replace(tmp, os.path.join(folder, STUDY_FILE))

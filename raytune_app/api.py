"""raytune-app from Python: the functions the command line calls, for scripts and notebooks.

    import raytune_app

    results = raytune_app.tune("search_spaces/mlp_digits.yaml", seed=1, num_samples=8)
    results = raytune_app.tune({"metric": "val_accuracy", "mode": "max", "model": Net,
                                "data": {"loader": make_data}, "space": {...}})
    print(results.best.config, results.best.value)
    model = results.best.load_model()

Bad input raises InputError (its `problems` are the lines the CLI prints, `details` the same as file, key and
message) before Ray starts; a run that fails returns Results whose `status` is `failed` and `problem` says why.
Nothing here prints: what happens along the way goes to the `raytune_app` logger, shown on the terminal (or in
the notebook cell) unless `verbose=0` or the caller set up logging of its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from raytune_app.errors import InputError
from raytune_app.messages import messages
from raytune_app.results.results import Results, load
from raytune_app.spec.load import DICT_SOURCE, ExperimentSpec, load_spec, override_keys

Experiment = ExperimentSpec  # a validated experiment: what `validate` returns and `tune` takes


def _connection(address: str | None, dashboard: bool, verbose: int):
    from raytune_app.run.driver import Connection

    return Connection(address, dashboard, verbose=max(0, min(int(verbose), 1)))


def _results(outcome, spec: Any = None) -> Results:
    return Results(outcome.path, status=outcome.status, problem=outcome.problem, spec=spec)


def _source(experiment: Any) -> str:
    return DICT_SOURCE if isinstance(experiment, (Mapping, ExperimentSpec)) else str(experiment)


def validate(experiment: str | os.PathLike | Mapping[str, Any] | Experiment, **overrides: Any) -> Experiment:
    """The experiment checked as `raytune-app validate` checks a file, its data and your code included, without
    starting Ray; InputError with every problem. `experiment`: a file's path, a dict of the file's keys (your
    model, loader or training function may be the objects themselves), or an Experiment."""
    from raytune_app.run.driver import load_data

    spec = load_spec(experiment, override_keys(overrides, _source(experiment)))
    load_data(spec, spec.source)
    return spec


def tune(experiment: str | os.PathLike | Mapping[str, Any] | Experiment, *, resume: bool = False,
         warm_start: Sequence[str | os.PathLike | Results] = (), address: str | None = None, dashboard: bool = False,
         verbose: int = 1, **overrides: Any) -> Results:
    """Run an experiment, as `raytune-app tune` does, and return its results when it ends.

    `overrides` take the command line's options by name: `storage`, `name`, `num_samples`, `max_epochs`,
    `scheduler`, `search`, `seed`, `time_budget`, `max_concurrent`, `max_failures`, `cpus_per_trial`,
    `gpus_per_trial`, `workers_per_trial`, `cpus_per_worker`, `gpus_per_worker`, `mlflow`. `resume`: continue
    the experiment if it exists already (otherwise an existing one is refused); `warm_start`: earlier experiments
    (folders, names under the storage path, or their Results) to start HyperOpt from; `address`: a Ray cluster to
    join (default: the one RAY_ADDRESS or `ray start --head` names, else a local Ray started for the call);
    `verbose`: 0 shows only warnings, 1 Ray Tune's progress (its Jupyter reporter in a notebook) and a line per
    finished trial."""
    from raytune_app import storage
    from raytune_app.run.driver import start

    spec = load_spec(experiment, override_keys(overrides, _source(experiment)))
    warm = [w.path if isinstance(w, Results) else str(w) for w in warm_start]
    warm = [w if storage.exists(w) else storage.join(storage.resolve(spec.storage), w) for w in warm]
    with messages(verbose):
        outcome = start(spec, spec.source, _connection(address, dashboard, verbose), warm, resume=resume)
    return _results(outcome, spec)


def resume(path: str | os.PathLike, *, restart_errored: bool = False, address: str | None = None,
           dashboard: bool = False, verbose: int = 1, **objects: Any) -> Results:
    """Finish an interrupted experiment, as `raytune-app resume` does: finished trials stay, the others continue
    from their checkpoints (errored ones start over with `restart_errored`). An experiment that was given Python
    objects gets them again by name: `resume(path, model=Net)` (or `loader=...`, `trainable=...`)."""
    from raytune_app.run.driver import resume_experiment

    shown = str(path)
    folder, saved = _saved(shown)
    spec = _given(saved, objects, shown)
    with messages(verbose):
        outcome = resume_experiment(folder, spec, shown, _connection(address, dashboard, verbose), restart_errored)
    return _results(outcome, spec)


def extend(path: str | os.PathLike, num_samples: int, *, name: str | None = None, address: str | None = None,
           dashboard: bool = False, verbose: int = 1) -> Results:
    """More trials for a finished experiment, as `raytune-app extend` does: a new experiment beside it
    (`NAME-extK`, or `name`), warm-started from it."""
    from raytune_app.run.driver import extend as extend_experiment

    shown = str(path)
    if num_samples < 1:
        raise InputError([f"{shown}: --num-samples: must be at least 1, got {num_samples}"], file=shown)
    folder, _ = _saved(shown)
    with messages(verbose):
        outcome = extend_experiment(folder, shown, num_samples, name, _connection(address, dashboard, verbose))
    return _results(outcome)


def _saved(shown: str):
    """(folder, saved spec) of an existing experiment; InputError if it is none."""
    from raytune_app.results.reader import is_experiment, resolve
    from raytune_app.spec.names import SPEC_FILE
    from raytune_app.spec.saved import load_saved_spec

    folder = resolve(shown)
    if not is_experiment(folder):
        raise InputError([f"{shown}: not a raytune-app experiment folder (no {SPEC_FILE})"], file=shown)
    return folder, load_saved_spec(folder)


def _given(saved: Experiment, objects: Mapping[str, Any], shown: str) -> Experiment:
    """The saved experiment with the Python objects given again by name (model, loader, trainable)."""
    from raytune_app.spec.load import revalidated

    unknown = [k for k in objects if k not in ("model", "loader", "trainable")]
    if unknown:
        raise InputError([f"{shown}: {k}: not something an experiment takes as an object (model, loader or "
                          "trainable)" for k in unknown], file=shown)
    changes = {k: v for k, v in objects.items() if k != "loader"}
    if "loader" in objects:
        changes["data"] = {**saved.data.model_dump(), "loader": objects["loader"]}
    return revalidated(saved, shown, **changes) if changes else saved


__all__ = ["Experiment", "Results", "extend", "load", "resume", "tune", "validate"]

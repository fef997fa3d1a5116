"""The driver: from a validated spec to a finished (or interrupted) experiment, its summary and its Outcome.

Everything that can be checked is checked before Ray starts: the file, the data, the storage path,
earlier experiments to warm-start from, and whether an existing experiment can really be restored.
It prints nothing: what a user should see as it happens goes to the `raytune_app` logger, and how the run
ended comes back as an Outcome, which the API returns and the CLI prints.
"""

from __future__ import annotations

import json
import logging
import shlex
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from raytune_app import storage
from raytune_app.errors import InputError
from raytune_app.spec.load import ExperimentSpec, WarmStartSpec, revalidated
from raytune_app.spec.user_code import code_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Connection:
    """Where to run: a running Ray cluster's address (None: start one here) and whether to show its dashboard;
    when the command started (`--time-budget` counts from then); and how much Ray Tune shows while it runs
    (0: nothing, 1: its progress table)."""

    address: str | None = None
    dashboard: bool = False
    started: float = field(default_factory=time.time)
    verbose: int = 1


@dataclass(frozen=True)
class Outcome:
    """How one invocation (a tune, resume or extend) ended: `finished`, `interrupted` (the state is saved and a
    resume continues it) or `failed` (`problem` says why, when a run knows more than its summary); the summary
    it wrote."""

    path: str
    status: str
    summary: dict
    problem: str | None = None


def check_metric(spec: ExperimentSpec, task: str, source: str) -> None:
    from raytune_app.spec.metrics import METRICS

    if spec.metric not in METRICS[task]:
        raise InputError([f"{source}: metric: {spec.metric!r} is not reported for {task} data; "
                          f"one of {', '.join(METRICS[task])}"])


def load_data(spec: ExperimentSpec, source: str):
    """The experiment's data, checked against its metric (a user's model is run on it); InputError naming
    `source` on any problem. None for a user's training function, which loads its own."""
    from raytune_app.data.datasets import load_dataset

    if spec.trainable:
        return None
    try:
        dataset = load_dataset(spec.data, sample=spec.data.on_workers)
    except InputError as exc:
        raise InputError((f"{source}: {p}" for p in exc.problems), file=source) from None
    check_metric(spec, dataset.task, source)
    if spec.user_code:  # (the check imports PyTorch: `validate` of a built-in model stays without it)
        from raytune_app.run.user_checks import check_model

        check_model(spec, dataset, source)
    return dataset


def prepare_while_ray_starts(spec: ExperimentSpec, source: str) -> Future:
    """The data, ready by the time Ray is. A data file is read at once, so that its problems stop the
    command before Ray starts. A built-in data set cannot fail: it is generated in a thread while the main
    thread starts Ray, PyTorch, Ray Tune and the searcher imported beside it; together they take about as long
    as Ray's start."""
    from raytune_app.data.datasets import BUILTIN, task_of

    if spec.data.dataset not in BUILTIN or spec.user_code:
        future: Future = Future()
        future.set_result(load_data(spec, source))
        return future
    check_metric(spec, task_of(spec.data), source)

    def prepare():
        import tensorboard.plugins.hparams.summary_v2  # noqa: F401 -- for the callbacks, like torch
        import torch  # noqa: F401 -- for the trainable and the summary, imported next

        from raytune_app.tuner.searchers import searcher_class

        searcher_class(spec.search.name)  # Ray Tune and the searcher's library (HyperOpt's: a second or more)

        return load_data(spec, source)

    pool = ThreadPoolExecutor(1, thread_name_prefix="raytune-app-data")
    future = pool.submit(prepare)
    pool.shutdown(wait=False)
    return future


def data_bytes(spec: ExperimentSpec, prepared: Future) -> int:
    """What the trials' data will take in Ray's object store, known before Ray starts: a file or a user's
    loader has been read already; a built-in data set may still be being generated, its size follows from the spec."""
    from raytune_app.data.datasets import builtin_nbytes

    if not prepared.done():
        return builtin_nbytes(spec.data)
    dataset = prepared.result()
    return dataset.without_test().nbytes if dataset is not None else 0


def describe(spec: ExperimentSpec) -> str:
    sampled = [n for n, p in spec.params.items() if p.kind != "constant"]
    what = code_name(spec.trainable) if spec.trainable else (
        f"{code_name(spec.model)} on {code_name(spec.data.loader) if spec.data.loader else Path(spec.data.dataset).name}")
    workers = spec.resources.workers_per_trial
    return (f"{spec.trial_count} trials x {spec.max_epochs} epochs, {spec.scheduler.name} + {spec.search.name}, "
            + (f"each data-parallel over {workers} workers, " if workers > 1 else "")
            + f"{what}, optimising {', '.join(f'{o.name} ({o.mode})' for o in spec.objectives)}; "
            f"searching {', '.join(sampled) or 'nothing'}")


def resume_hint(path: str, address: str | None) -> str:
    return f"raytune-app resume {shlex.quote(path)}" + (f" --address {shlex.quote(address)}" if address else "")


# ------------------------------------------------------------------------------------------------ the run


def _test_scores(spec: ExperimentSpec, dataset):
    """summary.json's held-out scores of the best trial: its checkpoint on the test split."""
    from raytune_app.results.export import held_out_scores

    if spec.trainable:
        from raytune_app.run.user_checks import reported_test_scores

        return lambda experiment, trial, checkpoint: reported_test_scores(experiment, trial)
    return lambda experiment, trial, checkpoint: held_out_scores(spec, dataset, trial, checkpoint)


def _log_front_ranks(path: str) -> None:
    """Several objectives: each trial's front rank for TensorBoard's HParams (tensorboard.log_front_ranks)."""
    from raytune_app.results.reader import load_experiment
    from raytune_app.tuner.callbacks.tensorboard import log_front_ranks

    log_front_ranks(load_experiment(path))


def run(tuner, spec: ExperimentSpec, dataset, path: str, conn: Connection) -> Outcome:
    """Fit, then summary.json, trials.csv and checkpoint retention; how it ended."""
    from raytune_app.ray_compat.experiment_state import mark_errored
    from raytune_app.ray_compat.settings import fit_settings
    from raytune_app.results.retention import prune
    from raytune_app.results.summary import model_io, run_status, summarize
    from raytune_app.results.wall_time import record_end
    from raytune_app.run.interrupts import graceful_interrupts
    from raytune_app.run.staging import space_out_start
    from raytune_app.run.tracking import record_outcome
    from raytune_app.run.user_checks import missing_metric_problem
    from raytune_app.tuner.build import trial_id_of

    space_out_start(spec.name)  # Ray stages same-named runs started in one second in one folder (staging.py)
    with graceful_interrupts() as stopped, fit_settings(spec.trial_count, conn.verbose):
        results = tuner.fit()
    missing = missing_metric_problem(spec, results)
    errored = [trial_id_of(r) for r in results if r.error is not None]
    mark_errored(path, errored)  # so that `resume --restart-errored` starts them over (see there)
    shapes = None if spec.data.on_workers else model_io(dataset)  # (the driver holds only a sample of such data)
    summary = summarize(path, spec, errored, _test_scores(spec, dataset), shapes)
    if spec.multi_objective:
        _log_front_ranks(path)
    if spec.scheduler.name != "pbt":  # PBT hands checkpoints from trial to trial: all of them stay
        prune(path, spec.metric, spec.mode, spec.keep_checkpoints)
    record_end(path)
    record_outcome(spec, path)
    status = "failed" if missing else "interrupted" if stopped.is_set() else run_status(summary)
    return Outcome(path, status, summary, missing)


# --------------------------------------------------------------------------------------------- commands


def _ignored_changes(saved: ExperimentSpec, asked: ExperimentSpec) -> list[str]:
    """What the current file and flags ask that differs from the saved experiment a resume continues."""
    skip = {"source", "warm_start", "extends"}
    old, new = saved.model_dump(mode="json", exclude=skip), asked.model_dump(mode="json", exclude=skip)
    return [f"{k} (asked {json.dumps(new[k], default=str)}, saved {json.dumps(old[k], default=str)})"
            for k in old if old[k] != new.get(k)]


def _connect(spec: ExperimentSpec, source: str, conn: Connection, prepared: Future) -> tuple[ExperimentSpec, int]:
    """Start or join Ray, resolve `gpus_per_trial: auto` (a probe on a GPU, needing the data), then check that
    trials fit and that the storage is shared; the resolved spec and the trials that fit at once."""
    from raytune_app.cluster.ray_session import check_storage_shared, connect, trial_capacity

    connect(conn.address, conn.dashboard, data_bytes=data_bytes(spec, prepared))
    check_storage_shared(spec.storage, source)
    if spec.code_files:  # before the GPU probe of `auto`, which builds a user's model where it runs (objects
        # given from Python travel inside the trials' settings instead)
        from raytune_app.cluster.runtime_env import ship_code

        ship_code(spec.code_dir, spec.storage, source)
    if spec.resources.gpus_per_trial == "auto":
        from raytune_app.run.gpu_packing import pack_trials

        spec = pack_trials(spec, prepared.result().without_test(), source)
    return spec, trial_capacity(*spec.resources.bundle, source)


def start(spec: ExperimentSpec, source: str, conn: Connection, warm: list[str], resume: bool) -> Outcome:
    """Check, connect, then run a fresh experiment (or continue an existing one with `resume`)."""
    from raytune_app.spec.names import SPEC_FILE
    from raytune_app.spec.saved import experiment_path, load_saved_spec

    path = experiment_path(spec)
    exists = storage.exists(path)
    if exists and not resume:
        raise InputError([f"{source}: name: experiment {spec.name!r} already exists at {path}; continue it with "
                          f"`{resume_hint(path, conn.address)}` (resume=True from Python) or pick another --name"],
                         file=source)
    if exists and not storage.exists(storage.join(path, SPEC_FILE)):
        raise InputError([f"{source}: name: {path} exists and is not a raytune-app experiment; "
                          f"pick another --name or --storage"], file=source)
    if exists and _state(path) == "restorable":
        saved = with_code_objects(load_saved_spec(path), spec)
        ignored = _ignored_changes(saved, spec) + (["--warm-start"] if warm else [])
        if ignored:
            log.info(f"{source}: resuming {path} exactly as it was saved; ignored: {'; '.join(ignored)}")
        return resume_experiment(path, saved, path, conn, restart_errored=False)
    return _fresh(spec, source, conn, path, warm)


def with_code_objects(saved: ExperimentSpec, asked: ExperimentSpec) -> ExperimentSpec:
    """The saved experiment with the Python objects `asked` gives for what it saved by name (a saved experiment
    holds a model, loader or training function given as an object only by its name: spec/user_code.py)."""
    from raytune_app.spec.load import saved_code

    def same(old, new) -> bool:
        return callable(new) and not callable(old) and old == saved_code(new)

    changes = {key: new for key, old, new in (("model", saved.model, asked.model),
                                               ("trainable", saved.trainable, asked.trainable)) if same(old, new)}
    if same(saved.data.loader, asked.data.loader):
        changes["data"] = {**saved.data.model_dump(), "loader": asked.data.loader}
    return revalidated(saved, saved.source, **changes) if changes else saved


def _check_code_objects(spec: ExperimentSpec, source: str) -> None:
    """A saved experiment's objects that this process cannot find again stop the command before Ray starts."""
    from raytune_app.spec.user_code import is_object_marker, resolve

    for key, value in (("model", spec.model), ("trainable", spec.trainable), ("data.loader", spec.data.loader)):
        if is_object_marker(value):
            resolve(value, spec.code_dir, f"{source}: {key}")


def _check_tracking(spec: ExperimentSpec, source: str) -> None:
    """An MLflow server that does not answer stops the command before Ray starts."""
    if spec.tracking.mlflow:
        from raytune_app.run.tracking import check_reachable

        check_reachable(spec.tracking.mlflow, source)


def _state(path: str) -> str:
    """The folder's restore state; InputError when trials ran but Ray's state cannot be read."""
    from raytune_app.run.restore import folder_state, no_state_problem

    state = folder_state(path)
    if state == "no_state":
        raise InputError([no_state_problem(path)], file=path)
    return state


def _history(warm: list[str], spec: ExperimentSpec, source: str):
    """The earlier experiments' trials for the searcher: HyperOpt's points, or Optuna's trials (any number of
    objectives, optuna_study.py)."""
    if spec.search.name == "optuna":
        from raytune_app.tuner.optuna_study import load_optuna_history

        return load_optuna_history(warm, spec, source)
    from raytune_app.tuner.warm_start import load_history

    return load_history(warm, spec.params, spec.metric, source)


def _fresh(spec: ExperimentSpec, source: str, conn: Connection, path: str, warm: list[str]) -> Outcome:
    """A new run of the experiment at `path`; what a start-up that was stopped left there is set aside."""
    from raytune_app.results.wall_time import record_start
    from raytune_app.run.restore import ABANDONED, set_aside_partial_start
    from raytune_app.spec.saved import save_spec

    if warm and spec.search.name not in ("hyperopt", "optuna"):
        raise InputError([f"{source}: search: a warm start needs `search: hyperopt` or `optuna` "
                          f"({spec.search.name} search does not learn from earlier trials)"], file=source)
    history = None
    if warm:
        history = _history(warm, spec, source)
        spec = revalidated(spec, source, warm_start=WarmStartSpec(
            sources=list(history.sources), points=len(history.points), skipped=history.skipped))
    _check_code_objects(spec, source)
    prepared = prepare_while_ray_starts(spec, source)
    problem = storage.check_writable(spec.storage)
    if problem:
        raise InputError([f"{source}: storage: {problem}"], file=source)
    _check_tracking(spec, source)
    if storage.exists(path):
        moved = set_aside_partial_start(path)
        if moved:
            log.info(f"{path}: its first run was stopped before Ray saved any state: starting it afresh "
                     f"({', '.join(moved)} set aside in {storage.join(path, ABANDONED)})")
    log.info(f"{spec.name}: {describe(spec)}")
    if history is not None:
        log.info(f"warm start: {len(history.points)} earlier trial(s) from {len(warm)} experiment(s)"
                 f"{f', {history.skipped} outside the new space skipped' if history.skipped else ''}")
    spec, capacity = _connect(spec, source, conn, prepared)
    dataset = prepared.result()
    from raytune_app.tuner.build import build_tuner

    save_spec(spec, path)
    record_start(path)
    # synchronous HyperBand pauses trials until their bracket is full: a searcher limited to what fits at
    # once would then wait for them for ever (seen as a spinning driver); Ray's placement limits them anyway
    default_concurrency = spec.trial_count if spec.scheduler.name == "hyperband" else capacity
    tuner = build_tuner(spec, dataset, spec.max_concurrent or default_concurrency, history, started=conn.started,
                        verbose=conn.verbose)
    return run(tuner, spec, dataset, path, conn)


def resume_experiment(path: str, spec: ExperimentSpec, source: str, conn: Connection,
                      restart_errored: bool) -> Outcome:
    """Continue the experiment at `path` as it was saved (from scratch if Ray saved nothing of it yet)."""
    from raytune_app.results.wall_time import record_start

    if _state(path) == "new":
        return _fresh(spec, source, conn, path, spec.warm_start.sources if spec.warm_start else [])
    _check_code_objects(spec, source)
    _check_tracking(spec, source)
    prepared = prepare_while_ray_starts(spec, source)
    _connect(spec, source, conn, prepared)  # a saved spec holds numbers: `auto` was resolved before it was saved
    dataset = prepared.result()
    from raytune_app.ray_compat.experiment_state import forget_pending_decisions
    from raytune_app.tuner.build import restore_tuner

    forget_pending_decisions(path)  # held for calls of the saved run, which did not survive it (see there)
    record_start(path)
    return run(restore_tuner(path, spec, dataset, restart_errored), spec, dataset, path, conn)


def extend(path: str, shown_as: str, num_samples: int, name: str | None, conn: Connection) -> Outcome:
    """N more trials for a finished experiment: a new experiment beside it, warm-started from it. The name
    goes through the file's check. The experiment's `points_to_evaluate` ran in it already and are in the
    warm start's history: the new trials do not run them again."""
    from raytune_app.spec.saved import load_saved_spec

    old = load_saved_spec(path)
    parent, old_name = path.rsplit("/", 1)
    name = name or next(f"{old_name}-ext{k}" for k in range(1, 1000)
                        if not storage.exists(storage.join(parent, f"{old_name}-ext{k}")))
    search = old.search.model_dump()
    search["options"] = {k: v for k, v in search["options"].items() if k != "points_to_evaluate"}
    spec = revalidated(old, shown_as, name=name, num_samples=num_samples, storage=parent, extends=path,
                       warm_start=None, search=search)
    return start(spec, shown_as, conn, [path], resume=False)

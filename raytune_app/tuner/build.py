"""Validated spec + data -> a Ray Tune Tuner (trainable, scheduler, searcher, stopper, callbacks), fresh or restored."""

from __future__ import annotations

from ray import tune

from raytune_app import storage
from raytune_app.data.datasets import Dataset
from raytune_app.ray_compat.usage import skip_unsent_callback_census
from raytune_app.spec.metrics import METRICS
from raytune_app.tuner.schedulers import build_scheduler
from raytune_app.tuner.searchers import build_search
from raytune_app.spec.load import ExperimentSpec
from raytune_app.tuner.callbacks.best_so_far import ShareBestSoFar
from raytune_app.tuner.callbacks.budget import MarkBudgetCuts, budget_left
from raytune_app.tuner.callbacks.progress import TrialProgress
from raytune_app.tuner.callbacks.result_logs import CsvLogger, JsonLogger
from raytune_app.tuner.callbacks.tensorboard import FRONT_RANK, SCALARS, TensorBoardCallback
from raytune_app.tuner.stoppers import stopper_for
from raytune_app.tuner.trainables import trainable_for


def _callbacks(spec: ExperimentSpec, dataset: Dataset | None) -> list:
    if dataset is None:  # a user's training function: the one metric known before it reports
        metrics = [spec.metric]
    else:
        metrics = [m for m in SCALARS if m in METRICS[dataset.task] or m == "epoch_time_s"]
    if spec.multi_objective:  # every objective, and the front rank written once the run ends (log_front_ranks)
        metrics += [o.name for o in spec.objectives if o.name not in metrics] + [FRONT_RANK]
    callbacks = [MarkBudgetCuts(), CsvLogger(), JsonLogger(), TensorBoardCallback(spec.params, metrics),
                 TrialProgress(spec.metric, spec.mode, spec.trial_count, spec.max_epochs)]
    if dataset is not None:  # first, so the trials learn of a new best soonest (trial/checkpoint.py)
        callbacks.insert(0, ShareBestSoFar(spec.metric, spec.mode))
    if spec.tracking.mlflow:  # (importing Ray's MLflow callback imports MLflow: only then)
        from raytune_app.tuner.callbacks.mlflow_runs import mlflow_callbacks

        callbacks += mlflow_callbacks(spec)
    return callbacks


def _checkpoint_config(spec: ExperimentSpec) -> tune.CheckpointConfig:
    """Every checkpoint stays while the run lasts (see retention.py: Ray's num_to_keep can delete the one its
    saved state still names); they are ranked by the metric, so Ray's results know each trial's best."""
    return tune.CheckpointConfig(checkpoint_score_attribute=spec.metric, checkpoint_score_order=spec.mode)


def _trial_dirname(trial) -> str:
    return f"trial_{trial.trial_id}"


def trial_id_of(result) -> str:
    """The trial id of one of Ray's Results (its folder is named after it)."""
    return (result.metrics or {}).get("trial_id") or result.path.rstrip("/").rsplit("/", 1)[-1].removeprefix("trial_")


def build_tuner(spec: ExperimentSpec, dataset: Dataset, max_concurrent: int, history=None, *,
                started: float, verbose: int = 1) -> tune.Tuner:
    """A fresh Tuner for the experiment, writing under STORAGE/NAME; `--time-budget` counts from `started`;
    `verbose` is Ray Tune's (0: silent, 1: its progress table, or its Jupyter reporter in a notebook)."""
    skip_unsent_callback_census()  # (Ray's settings for the fit itself: run/driver.py)
    search_alg, param_space = build_search(spec, max_concurrent, history)
    return tune.Tuner(
        trainable_for(spec, dataset),
        param_space=param_space,
        tune_config=tune.TuneConfig(
            # several objectives: none here, or Ray would overwrite OptunaSearch's lists with it (searchers.py)
            metric=None if spec.multi_objective else spec.metric, mode=None if spec.multi_objective else spec.mode,
            search_alg=search_alg, scheduler=build_scheduler(spec),
            num_samples=spec.num_samples, time_budget_s=budget_left(spec.time_budget_s, started),
            # a data-parallel trial's workers end with its actor: reusing the actor would leave them running.
            # PBT reuses them too: the epochs its trials trained twice came from asynchronous PBT, with reused
            # actors or without (spec/options.py, synch)
            reuse_actors=spec.resources.workers_per_trial == 1, trial_dirname_creator=_trial_dirname),
        run_config=tune.RunConfig(
            name=spec.name, storage_path=storage.resolve(spec.storage),
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
            checkpoint_config=_checkpoint_config(spec),
            callbacks=_callbacks(spec, dataset), stop=stopper_for(spec), verbose=verbose),
    )


def restore_tuner(path: str, spec: ExperimentSpec, dataset: Dataset, restart_errored: bool) -> tune.Tuner:
    """The experiment at `path`, restored by Ray: finished trials stay, the rest continue (with the RunConfig it
    was saved with: Ray's restore takes no other)."""
    skip_unsent_callback_census()  # (Ray's settings for the fit itself: run/driver.py)
    return tune.Tuner.restore(
        path, trainable=trainable_for(spec, dataset), resume_unfinished=True,
        resume_errored=not restart_errored, restart_errored=restart_errored)

"""Validated spec + data -> Ray Tune objects (Tuner, configs, callbacks), fresh or restored."""

from __future__ import annotations

from ray import tune

from raytune_app import storage
from raytune_app.data.datasets import Dataset
from raytune_app.ray_compat.settings import configure_tune
from raytune_app.ray_compat.usage import skip_unsent_callback_census
from raytune_app.spec.metrics import METRICS
from raytune_app.run.schedulers import build_scheduler
from raytune_app.run.searchers import build_search
from raytune_app.spec.load import ExperimentSpec
from raytune_app.run.budget import MarkBudgetCuts, budget_left
from raytune_app.run import tracking
from raytune_app.run.progress import TrialProgress
from raytune_app.run.result_logs import CsvLogger, JsonLogger
from raytune_app.run.tensorboard_logging import SCALARS, TensorBoardCallback
from raytune_app.run.user_checks import stopper_for
from raytune_app.trial.trainable import TrialSettings, train_trial


def trainable_for(spec: ExperimentSpec, dataset: Dataset | None):
    """The function trainable with its data in the object store and its resources attached (or the
    user's own function trainable, wrapped; or a data-parallel trial that starts a TorchTrainer)."""
    resources = spec.resources
    if spec.trainable:
        from raytune_app.trial.user_trainable import UserTrainable, run_user_trainable

        fn = tune.with_parameters(run_user_trainable, code=UserTrainable(spec.trainable, spec.code_dir, spec.metric, spec.mode))
        return tune.with_resources(fn, {"cpu": resources.cpus_per_trial, "gpu": resources.gpus_per_trial})
    on_workers = spec.data.on_workers  # then each trial calls the user's loader itself
    settings = TrialSettings(
        model=spec.model, max_epochs=spec.max_epochs, checkpoint_every=spec.checkpoint_every,
        seed=spec.seed, cpus_per_trial=resources.cpus_per_trial, gpus_per_trial=resources.gpus_per_trial,
        code_dir=spec.code_dir, data_spec=spec.data if on_workers else None)
    if resources.workers_per_trial > 1:
        from raytune_app.trial.data_parallel import DataParallelSettings, data_parallel_trainable

        return data_parallel_trainable(dataset.without_test(), DataParallelSettings(
            settings, resources.workers_per_trial, resources.cpus_per_worker, resources.gpus_per_worker))
    fn = tune.with_parameters(train_trial, data=None if on_workers else dataset.without_test(), settings=settings)
    return tune.with_resources(fn, {"cpu": resources.cpus_per_trial, "gpu": resources.gpus_per_trial})


def _configure_tune() -> None:
    """Ray Tune switches that fresh and restored runs share (ray_compat/settings.py, ray_compat/usage.py)."""
    configure_tune()
    skip_unsent_callback_census()


def _callbacks(spec: ExperimentSpec, dataset: Dataset | None) -> list:
    if dataset is None:  # a user's training function: the one metric known before it reports
        metrics = [spec.metric]
    else:
        metrics = [m for m in SCALARS if m in METRICS[dataset.task] or m == "epoch_time_s"]
    return [MarkBudgetCuts(), CsvLogger(), JsonLogger(), TensorBoardCallback(spec.params, metrics),
            TrialProgress(spec.metric, spec.mode, spec.trial_count, spec.max_epochs), *tracking.callbacks(spec)]


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
                started: float) -> tune.Tuner:
    """A fresh Tuner for the experiment, writing under STORAGE/NAME; `--time-budget` counts from `started`."""
    _configure_tune()
    search_alg, param_space = build_search(spec, max_concurrent, history)
    return tune.Tuner(
        trainable_for(spec, dataset),
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric=spec.metric, mode=spec.mode, search_alg=search_alg, scheduler=build_scheduler(spec),
            num_samples=spec.num_samples, time_budget_s=budget_left(spec.time_budget_s, started),
            # a data-parallel trial's workers end with its actor: reusing the actor would leave them running.
            # PBT reuses them too: the epochs its trials trained twice came from asynchronous PBT, with reused
            # actors or without (spec/options.py, synch)
            reuse_actors=spec.resources.workers_per_trial == 1, trial_dirname_creator=_trial_dirname),
        run_config=tune.RunConfig(
            name=spec.name, storage_path=storage.resolve(spec.storage),
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
            checkpoint_config=_checkpoint_config(spec),
            callbacks=_callbacks(spec, dataset), stop=stopper_for(spec), verbose=1),
    )


def restore_tuner(path: str, spec: ExperimentSpec, dataset: Dataset, restart_errored: bool) -> tune.Tuner:
    """The experiment at `path`, restored by Ray: finished trials stay, the rest continue."""
    _configure_tune()
    return tune.Tuner.restore(
        path, trainable=trainable_for(spec, dataset), resume_unfinished=True,
        resume_errored=not restart_errored, restart_errored=restart_errored)

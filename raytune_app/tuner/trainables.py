"""The trainable of an experiment's trials: the built-in loop's function trainable with its data in the object
store, a user's own function trainable wrapped, or a data-parallel trial that starts a TorchTrainer."""

from __future__ import annotations

from ray import tune

from raytune_app.cluster.runtime_env import send_by_value
from raytune_app.data.datasets import Dataset
from raytune_app.spec.load import ExperimentSpec
from raytune_app.spec.options import FROM_LATEST_CHECKPOINT
from raytune_app.trial.checkpoint import CheckpointRule
from raytune_app.trial.trainable import TrialSettings, train_trial


def checkpoint_rule(spec: ExperimentSpec) -> CheckpointRule:
    """Which epochs of the built-in loop's trials save a checkpoint (trial/checkpoint.py)."""
    # several objectives: any trial may hold a point of the Pareto front, whose checkpoint is the trial's own best
    # epoch by the primary, so the experiment's best so far bounds nothing there
    return CheckpointRule(spec.metric, spec.mode, spec.checkpoint_every,
                          all_epochs=spec.scheduler.name in FROM_LATEST_CHECKPOINT or spec.multi_objective)


def trainable_for(spec: ExperimentSpec, dataset: Dataset | None):
    """The function trainable with its data in the object store and its resources attached (or the
    user's own function trainable, wrapped; or a data-parallel trial that starts a TorchTrainer)."""
    resources = spec.resources
    send_by_value(spec.model, spec.trainable, spec.data.loader)
    if spec.trainable:
        from raytune_app.trial.user_trainable import UserTrainable, run_user_trainable

        code = UserTrainable(spec.trainable, spec.code_dir, spec.metric, spec.mode,
                             tuple((o.name, o.mode) for o in spec.objectives[1:]))
        fn = tune.with_parameters(run_user_trainable, code=code)
        return tune.with_resources(fn, {"cpu": resources.cpus_per_trial, "gpu": resources.gpus_per_trial})
    on_workers = spec.data.on_workers  # then each trial calls the user's loader itself
    settings = TrialSettings(
        model=spec.model, max_epochs=spec.max_epochs, checkpoints=checkpoint_rule(spec), seed=spec.seed,
        cpus_per_trial=resources.cpus_per_trial, gpus_per_trial=resources.gpus_per_trial, code_dir=spec.code_dir,
        data_spec=spec.data if on_workers else None, secondary=spec.secondary_metrics)
    if resources.workers_per_trial > 1:
        from raytune_app.trial.data_parallel import DataParallelSettings, data_parallel_trainable

        return data_parallel_trainable(dataset.without_test(), DataParallelSettings(
            settings, resources.workers_per_trial, resources.cpus_per_worker, resources.gpus_per_worker))
    fn = tune.with_parameters(train_trial, data=None if on_workers else dataset.without_test(), settings=settings)
    return tune.with_resources(fn, {"cpu": resources.cpus_per_trial, "gpu": resources.gpus_per_trial})

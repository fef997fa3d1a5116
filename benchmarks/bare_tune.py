"""Bare Ray Tune, the counterpart of `raytune-app tune` in benchmarks/scale.py: `Tuner.fit` of the same trial
function, with Ray Tune's defaults (its CSV, JSON and TensorBoard loggers, its snapshot cadence), actors reused.

    python benchmarks/bare_tune.py once EXPERIMENT.yaml STORAGE [--address ADDRESS]
    python benchmarks/bare_tune.py model EXPERIMENT.yaml STORAGE [--address ADDRESS]

`once`: the experiment file's `trainable:` function (a file beside it), as Ray Tune runs any function.
`model`: raytune-app's built-in trial function (trial/trainable.py: the same model, data, epochs and
checkpoints as `raytune-app tune` of that file), so that the two differ only by what raytune-app adds around
Ray Tune. Both take the file's search space, num_samples, metric and mode, with Ray's random search and FIFO.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("once", "model"))
    parser.add_argument("experiment", type=Path)
    parser.add_argument("storage", type=Path)
    parser.add_argument("--address", help="a running Ray cluster (default: start one here)")
    args = parser.parse_args()

    import ray
    from ray import tune

    from raytune_app.spec.load import load_spec
    from raytune_app.spec.space import to_param_space

    spec = load_spec(args.experiment)
    code_dir = str(args.experiment.resolve().parent)
    # Ray's workers import the function file from the experiment's folder, shipped as a user would ship it
    ray.init(address=args.address, include_dashboard=False,
             runtime_env={"working_dir": code_dir} if args.address else None)
    if args.kind == "once":
        sys.path.insert(0, code_dir)
        file, name = spec.trainable.split(":")  # once.py:train
        trainable = getattr(__import__(file.removesuffix(".py")), name)
    else:
        from raytune_app.data.datasets import load_dataset
        from raytune_app.trial.trainable import TrialSettings, train_trial
        from raytune_app.tuner.trainables import checkpoint_rule

        # without raytune-app's driver there is no best-so-far to read: every epoch at least as good saves one
        settings = TrialSettings(model=spec.model, max_epochs=spec.max_epochs, checkpoints=checkpoint_rule(spec),
                                 seed=spec.seed, cpus_per_trial=1, gpus_per_trial=0)
        trainable = tune.with_parameters(train_trial, data=load_dataset(spec.data).without_test(), settings=settings)
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}), param_space=to_param_space(spec.params),
        tune_config=tune.TuneConfig(metric=spec.metric, mode=spec.mode, num_samples=spec.num_samples,
                                    reuse_actors=True),
        run_config=tune.RunConfig(name=spec.name, storage_path=str(args.storage.resolve()), verbose=1,
                                  stop={"training_iteration": spec.max_epochs}))
    tuner.fit()


if __name__ == "__main__":
    main()

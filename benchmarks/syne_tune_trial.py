"""compare.py's Syne Tune trial: one config trained with raytune-app's model and loop, each epoch reported.

Syne Tune's LocalBackend starts this script once per trial (`--st_config_json_filename`, written by Syne Tune,
holds the config; compare.py adds the experiment file and the seed to it as constants).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from syne_tune import Reporter
from syne_tune.utils import add_config_json_to_argparse, load_config_json

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import METRIC, _accuracy, _setup, _train, syne_tune_trial_seed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    add_config_json_to_argparse(parser)
    args, _ = parser.parse_known_args()
    config = load_config_json(vars(args))
    file, seed = config.pop("file"), config.pop("seed")
    trial_id = int(Path(args.st_config_json_filename).parent.name)  # Syne Tune's folder for the trial
    spec, data = _setup(file)
    report = Reporter()
    epochs = _train(spec, data, config, syne_tune_trial_seed(seed, trial_id), spec.max_epochs)
    for epoch, model in enumerate(epochs, 1):
        report(epoch=epoch, **{METRIC: _accuracy(model, data.X_val, data.y_val, data)})


if __name__ == "__main__":
    main()

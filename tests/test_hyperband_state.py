"""HyperBand's stopped pauses reach Ray's saved experiment state (tuner/schedulers.py, `_SavesStoppedPauses`).

Ray 2.60 left every trial that HyperBandForBOHB stopped while PAUSED saved as PAUSED: the finished run read as
unfinished, in CI too (a trial of the BOHB end-to-end test). Without actor reuse every paused trial has lost its
actor, so the bug shows on every run: 6 of these 9 trials were saved PAUSED."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

import pytest
import ray
from ray import cloudpickle, tune
from ray.tune.search.bohb import TuneBOHB

from raytune_app.tuner.schedulers import HyperBandForBOHBSavingPauses

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the trainable below reaches Ray's workers by value


def count_to_nine(config: dict) -> None:
    start = 0
    if checkpoint := tune.get_checkpoint():
        with checkpoint.as_directory() as folder:
            start = int(open(os.path.join(folder, "epoch")).read())
    for epoch in range(start + 1, 10):
        time.sleep(0.2)  # long enough for a pause to take effect between results
        with tempfile.TemporaryDirectory() as folder:
            open(os.path.join(folder, "epoch"), "w").write(str(epoch))
            tune.report({"score": config["x"] * epoch}, checkpoint=tune.Checkpoint.from_directory(folder))


@pytest.fixture
def ray_session(ray_address):
    ray.init(address=ray_address)
    yield
    ray.shutdown()


def test_trials_hyperband_stopped_while_paused_are_saved_as_terminated(ray_session, tmp_path):
    tuner = tune.Tuner(
        count_to_nine, param_space={"x": tune.uniform(0, 1)},
        tune_config=tune.TuneConfig(metric="score", mode="max", num_samples=9, reuse_actors=False,
                                    search_alg=TuneBOHB(seed=1, max_concurrent=1),
                                    scheduler=HyperBandForBOHBSavingPauses(max_t=9, reduction_factor=3)),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="hb", verbose=0))
    results = tuner.fit()
    # the first bracket: all nine trained 1 epoch and paused; the best three went on, the others were stopped
    assert sorted(r.metrics["training_iteration"] for r in results)[:6] == [1] * 6
    (state,) = (tmp_path / "hb").glob("experiment_state-*.json")
    statuses = [json.loads(trial)["status"] for trial, _ in json.loads(state.read_text())["trial_data"]]
    assert statuses == ["TERMINATED"] * 9

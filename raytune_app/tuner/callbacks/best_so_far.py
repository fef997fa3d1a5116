"""Tells the trials the best result of the experiment so far (trial/best_so_far.py), so that an epoch that cannot
be the experiment's pick saves no checkpoint."""

from __future__ import annotations

import ray
from ray import tune

from raytune_app.spec.metrics import finite, sign
from raytune_app.trial.best_so_far import ACTOR_NAME, BestSoFar


class ShareBestSoFar(tune.Callback):
    """Offers each new best usable value of the metric (as best.py says: finite, not diverged) to the run's
    BestSoFar actor. The actor starts with the run, its process beside the first trials' (it imports Ray's
    core only): started with the first result instead, it was not up before short runs ended."""

    def __init__(self, metric: str, mode: str) -> None:
        self.metric, self.mode = metric, mode
        self._best: float | None = None
        self._actor = None

    def setup(self, **info) -> None:
        try:  # left by a run before this one in the same driver (raytune_app.tune() twice): its best is not ours
            leftover = ray.get_actor(ACTOR_NAME)
        except ValueError:
            self._actor = BestSoFar.options(name=ACTOR_NAME).remote()
        else:  # (a trial asks it only after this: a value too high would lose the pick's checkpoint)
            ray.get(leftover.reset.remote())
            self._actor = leftover

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        value = result.get(self.metric)
        if not finite(value) or result.get("diverged"):
            return
        key = sign(self.mode) * value
        if self._best is not None and key <= self._best:
            return
        self._best = key
        self._actor.offer.remote(key)

    def __getstate__(self) -> dict:
        """Ray pickles the callbacks with the Tuner for a resume, whose driver starts an actor of its own."""
        return {**self.__dict__, "_best": None, "_actor": None}

"""The best result of the experiment that the driver has seen, shared with its trials: an epoch that is no better
need not save a checkpoint for being the experiment's pick (trial/checkpoint.py).

A small named actor holds it (one per run: Ray names actors within the driver's namespace, which is the run's own
unless a namespace is given to `ray.init`); the driver offers it each new best (tuner/callbacks/best_so_far.py),
the trials ask it at each epoch's start and read the answer at the epoch's end without waiting. Values are in
`sign(mode) * value` terms: larger is better. This module imports Ray's core only: the actor's process imports it.
"""

from __future__ import annotations

import ray

ACTOR_NAME = "raytune-app-best-so-far"


@ray.remote(num_cpus=0)
class BestSoFar:
    """The best value offered so far."""

    def __init__(self) -> None:
        self.value: float | None = None

    def offer(self, value: float) -> None:
        if self.value is None or value > self.value:
            self.value = value

    def get(self) -> float | None:
        return self.value

    def reset(self) -> None:
        self.value = None


class DriversBest:
    """A trial's view of the driver's best: asked for at an epoch's start (`ask`), read at its end (`known`).
    An answer still on its way, or an actor not found yet, leaves the last value known: older, so never higher
    than the driver's own."""

    def __init__(self) -> None:
        self._actor = None
        self._asked = None
        self.value: float | None = None

    def ask(self) -> None:
        if self._asked is not None or not ray.is_initialized():
            return
        if self._actor is None:
            try:
                self._actor = ray.get_actor(ACTOR_NAME)
            except ValueError:  # the driver creates it with the first result: until then every epoch is saved
                return
        self._asked = self._actor.get.remote()

    def known(self) -> float | None:
        if self._asked is not None and ray.wait([self._asked], timeout=0)[0]:
            asked, self._asked = self._asked, None
            try:
                self.value = ray.get(asked)
            except ray.exceptions.RayError:  # the actor is gone (its driver ended): keep the last value
                self._actor = None
        return self.value

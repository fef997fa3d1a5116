"""Optuna's NSGA-II sampler in a form Ray Tune can save.

`Tuner` pickles its searcher at once (and Tune again with every experiment snapshot); Optuna 5's `NSGAIISampler`
holds a `threading.Lock` in `_thread_lock`, which cannot be pickled: `sampler: nsga2` ended in a TypeError before
any trial. The lock guards the sampler's generation cache within one process, so a copy gets a fresh one.
tests/test_searchers_objectives.py fails when Optuna renames or drops it.
"""

from __future__ import annotations

import threading
from typing import Any

from optuna.samplers import NSGAIISampler


class SavableNSGAIISampler(NSGAIISampler):
    """NSGAIISampler that pickles: its lock left out, a new one made on load."""

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_thread_lock")
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._thread_lock = threading.Lock()

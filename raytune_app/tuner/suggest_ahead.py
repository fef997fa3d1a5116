"""The searcher asked ahead: the next trial's config is worked out while Tune ends the trial that freed its slot,
so the freed worker waits less for it.

Ray Tune asks its searcher for a config when a trial slot frees, on the thread that schedules every trial. HyperOpt's
and Optuna's TPE take time that grows with the trials told (tens of milliseconds after a few hundred on two
cores), while the freed worker, and every other trial's next result, wait. `SuggestAhead` wraps such a searcher
(inside Ray's ConcurrencyLimiter, which still bounds the trials at once): when a trial completes, the searcher is
told so and asked for the next config at once, on a thread of its own, while Tune saves, stops and logs the trial;
Tune's next `suggest` takes that config. Every call into the wrapped searcher happens on that thread, in the order
Tune made them, so the searcher never sees two at once; the results and completions go there without waiting.

The searcher is asked in the same order as without the wrapper (a completion, then the suggestion for the slot it
freed), so with one trial at a time a seed gives the same configs as before. (Working the next config out as soon
as the previous one was handed out would hide the whole suggestion, but TPE would then never know the latest
trial's result: a different, less informed search.) With several trials at once, a second completion that comes
between a completion and Tune's next suggestion is told after that suggestion instead of before: the order of
completions there already depends on timing.

Ray's public Searcher API only. Tune saves the wrapper's state (`get_state`) and then the wrapped searcher's
(`save_to_dir`), both from its own thread: `get_state` first lets the thread finish what it was asked, and the
thread stays idle until the next call, so the searcher is saved whole. The wrapped searcher knows the trials by
ids of the wrapper's own (a config is worked out before Tune names its trial); the map is part of the saved state.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from ray.tune.search import Searcher


class SuggestAhead(Searcher):
    """`searcher`'s next suggestion worked out ahead, on a thread of its own, for at most `total` trials (None:
    no limit): no config is worked out for a slot that Tune will not fill."""

    def __init__(self, searcher: Searcher, total: int | None = None) -> None:
        self.searcher = searcher  # the name Tune's SearchGenerator follows to save each wrapper, then the base
        super().__init__(metric=searcher.metric, mode=searcher.mode)
        self._ids: dict[str, str] = {}  # Tune's trial id -> the wrapped searcher's (wrapped_id)
        self._count = 0
        self._handed = 0  # configs handed to Tune
        self.total = total
        self._ahead: tuple[str, Future] | None = None  # (its id, the future suggestion)
        self._pool: ThreadPoolExecutor | None = None
        self._last: Future | None = None  # the latest call handed to the thread

    # --------------------------------------------------------------------------------------------- the thread

    def _call(self, fn: Callable, *args: Any, **kwargs: Any) -> Future:
        """fn(*args, **kwargs) on the wrapper's thread, after every call handed to it before."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="raytune-app-searcher")
        self._last = self._pool.submit(fn, *args, **kwargs)
        return self._last

    def settle(self) -> None:
        """Wait until the thread has done all it was asked (an error there is raised here)."""
        if self._last is not None:
            self._last.result()

    def wrapped_id(self, trial_id: str) -> str:
        """The id the wrapped searcher knows Tune's trial `trial_id` by."""
        return self._ids.get(trial_id, trial_id)

    def _next_id(self) -> str:
        self._count += 1
        return f"ahead_{self._count}"

    # ------------------------------------------------------------------------------------------ Searcher API

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec) -> bool:
        self.settle()
        done = self.searcher.set_search_properties(metric, mode, config, **spec)
        self._metric, self._mode = self.searcher.metric, self.searcher.mode
        return done

    def _work_out_next(self) -> None:
        own = self._next_id()
        self._ahead = own, self._call(self.searcher.suggest, own)

    def suggest(self, trial_id: str) -> dict | None:
        if self._ahead is None:  # no trial completed since the last one (the run's first slots)
            self._work_out_next()
        own, future = self._ahead
        suggestion = future.result()  # at once, unless Tune asked before the thread was done
        self._ahead = None
        if suggestion is None or suggestion == Searcher.FINISHED:
            return suggestion  # asked again next time, for a new trial id
        self._ids[trial_id] = own
        self._handed += 1
        return suggestion

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self._call(self.searcher.on_trial_result, self.wrapped_id(trial_id), result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self._call(self.searcher.on_trial_complete, self.wrapped_id(trial_id), result=result, error=error)
        if self._ahead is None and (self.total is None or self._handed < self.total):
            self._work_out_next()  # for the slot this trial frees, while Tune ends it

    def add_evaluated_point(self, parameters: dict, value: float, error: bool = False, pruned: bool = False,
                            intermediate_values: list[float] | None = None) -> None:
        self._call(self.searcher.add_evaluated_point, parameters, value, error, pruned, intermediate_values)

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return False  # Ray's ConcurrencyLimiter around this wrapper bounds the trials at once

    def get_state(self) -> dict:
        """The id map, the count handed out and the suggestion worked out ahead (Tune saves the wrapped
        searcher next: the thread is idle until the next call)."""
        self.settle()
        return {"ids": dict(self._ids), "count": self._count, "handed": self._handed,
                "ahead": None if self._ahead is None else (self._ahead[0], self._ahead[1].result())}

    def set_state(self, state: dict) -> None:
        self._ids, self._count, self._handed = dict(state["ids"]), state["count"], state["handed"]
        self._ahead = None
        if state["ahead"] is not None:
            own, suggestion = state["ahead"]
            future: Future = Future()
            future.set_result(suggestion)
            self._ahead = own, future

    def save(self, checkpoint_path: str) -> None:
        self.settle()
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)

    def __getstate__(self) -> dict:
        """Pickled with the Tuner (Ray keeps it for a resume): without the thread, which starts again on use."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("_pool", "_last", "_ahead")}
        return state | {"saved": self.get_state()}

    def __setstate__(self, state: dict) -> None:
        saved = state.pop("saved")
        self.__dict__.update(state, _pool=None, _last=None)
        self.set_state(saved)

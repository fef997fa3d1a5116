"""`scheduler: pareto_asha`: asynchronous successive halving that keeps a Pareto front, for several objectives.

Ray's ASHA (and HyperBand, median stopping, PBT) ranks one number: on the accuracy alone it stops the small
models that learn slowly, and the front of accurate and small models collapses to a few points. This scheduler
keeps ASHA's rungs (epochs grace_period x reduction_factor^k below max_t) and its asynchronous rule, a trial
that reaches a rung goes on when it ranks in the best 1/reduction_factor of the trials recorded there so far,
but ranks the rung by non-dominated sorting with a tie-break that spreads each front out (results/pareto.py:
`ranked`, the idea of Syne Tune's MOASHA with its rank lookup done right), trials that break a constraint after
those that meet every one.

Why not a subclass of Ray's AsyncHyperBandScheduler: its rungs (`_Bracket`, private) hold one scalar per trial
and cut at a percentile of them, so nothing of it would be kept but private state to replace. This is a
FIFOScheduler (public) with Ray's public scheduler hooks only: on_trial_result and on_trial_complete decide and
record, set_search_properties keeps the objectives it was built with, `metric` names the primary.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from raytune_app.results.pareto import Limit, meets, ranked


class ParetoAsha(FIFOScheduler):
    """ASHA whose rungs rank trials by Pareto fronts of the `objectives` ((name, mode) pairs, the primary first)."""

    def __init__(self, objectives: Sequence[tuple[str, str]], time_attr: str = "training_iteration",
                 max_t: int = 100, grace_period: int = 1, reduction_factor: float = 3,
                 constraints: Sequence[Limit] = ()):
        if not objectives or grace_period <= 0 or max_t < grace_period or reduction_factor <= 1:
            raise ValueError("ParetoAsha needs objectives, 0 < grace_period <= max_t and reduction_factor > 1")
        super().__init__()
        self._objectives = [(name, mode) for name, mode in objectives]
        self._time_attr, self._max_t, self._rf = time_attr, max_t, reduction_factor
        self._constraints = list(constraints)
        # rungs from the highest down, as ASHA keeps them: milestone -> {trial id: its point there}
        count = int(math.log(max_t / grace_period) / math.log(reduction_factor) + 1e-9) + 1
        milestones = [grace_period * reduction_factor ** k for k in range(count)]
        self._rungs: list[tuple[float, dict[str, tuple[list[float], bool]]]] = [
            (m, {}) for m in reversed(milestones) if m < max_t]
        self._num_stopped = 0

    @property
    def metric(self) -> str:
        """The primary: what Ray checks every result for (the other objectives are checked as the searcher's)."""
        return self._objectives[0][0]

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        """Its objectives are its own: only TuneConfig's metric and mode of the primary (or none) agree."""
        return metric in (None, self.metric) and mode in (None, self._objectives[0][1])

    def _decide(self, trial_id: str, result: dict) -> str:
        """Record the trial at the highest rung it reached, unless it has a record there already (it was judged
        there, or higher); whether it goes on."""
        if self._time_attr not in result or any(name not in result for name, _ in self._objectives):
            return TrialScheduler.CONTINUE
        for milestone, recorded in self._rungs:
            if result[self._time_attr] < milestone:
                continue
            if trial_id in recorded:
                break
            recorded[trial_id] = ([result[name] for name, _ in self._objectives], meets(result, self._constraints))
            ids = list(recorded)
            order = ranked([recorded[i][0] for i in ids], [mode for _, mode in self._objectives],
                           [recorded[i][1] for i in ids])
            place = order.index(ids.index(trial_id))
            return TrialScheduler.CONTINUE if place < math.ceil(len(ids) / self._rf) else TrialScheduler.STOP
        return TrialScheduler.CONTINUE

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        action = self._decide(trial.trial_id, result)
        self._num_stopped += action == TrialScheduler.STOP
        return action

    def on_trial_complete(self, tune_controller, trial, result: dict) -> None:
        self._decide(trial.trial_id, result)  # its last result still counts at a rung it reached

    def debug_string(self) -> str:
        rungs = " | ".join(f"epoch {m:g}: {len(r)} trials" for m, r in reversed(self._rungs))
        return f"Using ParetoAsha ({', '.join(n for n, _ in self._objectives)}): num_stopped={self._num_stopped}; {rungs}"

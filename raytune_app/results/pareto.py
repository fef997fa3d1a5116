"""Several objectives at once: dominance, non-dominated fronts, hypervolume, constraints and the one selected point.

The one home of this math: the Pareto-aware scheduler (tuner/pareto_asha.py), the benchmark (benchmarks/pareto.py)
and the results use it. A point is a sequence of objective values with a mode per objective ('max' or 'min', as
the experiment file names them); a row is a mapping of metric names to values (a trial's point is one row: its
best epoch by the primary objective, the other objectives read from the same row).

Dominance, front ranks and the hypervolume are moocore's (the C library of the EAF tools for multi-objective
optimisation): a point dominates another when it is at least as good in every objective and better in one, so
equal points never dominate each other and all stay on a front.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence

import moocore
import numpy as np

from raytune_app.spec.metrics import finite


class Objective(Protocol):
    name: str
    mode: str  # 'max' or 'min'


class Limit(Protocol):
    """`{name, le: value}` or `{name, ge: value}`: a constraint, or a limit of the selection rule."""

    name: str
    le: float | None
    ge: float | None


class Rule(Protocol):
    """How the one model is picked from the front: the primary's best under `limits`, or by `weights`."""

    limits: Sequence[Limit]
    weights: Mapping[str, float]


def _maximise(modes: Sequence[str]) -> list[bool]:
    return [m == "max" for m in modes]


def _array(points: Sequence[Sequence[float]], modes: Sequence[str]) -> np.ndarray:
    return np.asarray(points, dtype=float).reshape(len(points), len(modes))


def dominates(a: Sequence[float], b: Sequence[float], modes: Sequence[str]) -> bool:
    """Whether `a` is at least as good as `b` in every objective and better in one."""
    keys = [(x if m == "max" else -x, y if m == "max" else -y) for x, y, m in zip(a, b, modes)]
    return all(x >= y for x, y in keys) and any(x > y for x, y in keys)


def front_ranks(points: Sequence[Sequence[float]], modes: Sequence[str]) -> list[int]:
    """Each point's front: 0 for the non-dominated points, 1 for those that only front 0 dominates, and so on."""
    if not len(points):
        return []
    return [int(r) for r in moocore.pareto_rank(_array(points, modes), maximise=_maximise(modes))]


def fronts(points: Sequence[Sequence[float]], modes: Sequence[str]) -> list[list[int]]:
    """The points' indices by front (non-dominated sorting), each front in the order given."""
    ranks = front_ranks(points, modes)
    return [[i for i, r in enumerate(ranks) if r == k] for k in range(max(ranks, default=-1) + 1)]


def pareto_front(points: Sequence[Sequence[float]], modes: Sequence[str]) -> list[int]:
    """Indices of the non-dominated points, in the order given; equal points are all kept."""
    return fronts(points, modes)[0] if len(points) else []


def hypervolume(points: Sequence[Sequence[float]], modes: Sequence[str], reference: Sequence[float]) -> float:
    """The volume that the points dominate and that dominates `reference` (points no better than it in every
    objective add nothing): larger is a better front."""
    if not len(points):
        return 0.0
    return float(moocore.hypervolume(_array(points, modes), ref=np.asarray(reference, dtype=float),
                                     maximise=_maximise(modes)))


def reference_point(points: Sequence[Sequence[float]], modes: Sequence[str], margin: float = 0.1) -> list[float]:
    """A reference point for the hypervolume of `points`: each objective's worst value among them, moved a
    `margin` of its range further (of its size where all are equal, 1 where that is 0), so that every point,
    even the worst in some objective, adds to the volume."""
    if not len(points):
        return []
    array = _array(points, modes)
    worst = np.where(_maximise(modes), array.min(axis=0), array.max(axis=0))
    span = np.ptp(array, axis=0)
    step = np.where(span > 0, span, np.where(worst != 0, np.abs(worst), 1.0)) * margin
    return [float(v) for v in np.where(_maximise(modes), worst - step, worst + step)]


def _normalised(points: Sequence[Sequence[float]], modes: Sequence[str]) -> np.ndarray:
    """Each objective scaled to [0, 1] over the points, 1 the best (0 where all are equal)."""
    array = _array(points, modes) * np.where(_maximise(modes), 1.0, -1.0)
    low, span = array.min(axis=0), np.ptp(array, axis=0)
    return np.divide(array - low, span, out=np.zeros_like(array), where=span > 0)


def spread_order(points: Sequence[Sequence[float]], modes: Sequence[str], among: Sequence[int]) -> list[int]:
    """The points `among` (say, one front) ordered to spread them out: first the best on the primary (the first
    objective), then each time the one farthest from those already taken, objectives normalised over all
    `points` (an epsilon-net, as Syne Tune's MOASHA breaks ties within a front). Equal points come last."""
    if not among:
        return []
    scaled = _normalised(points, modes)
    # the primary's best first, ties by the other objectives in order, then by position
    first = min(among, key=lambda i: (*(-scaled[i]), among.index(i)))
    order, rest = [first], [i for i in among if i != first]
    nearest = {i: float(np.linalg.norm(scaled[i] - scaled[first])) for i in rest}
    while rest:
        far = max(rest, key=lambda i: (nearest[i], -rest.index(i)))
        order.append(far)
        rest.remove(far)
        for i in rest:
            nearest[i] = min(nearest[i], float(np.linalg.norm(scaled[i] - scaled[far])))
    return order


def ranked(points: Sequence[Sequence[float]], modes: Sequence[str], feasible: Sequence[bool] | None = None
           ) -> list[int]:
    """All points best first: feasible ones before infeasible ones, then by front, then spread within a front
    (spread_order). Points with a value that is not finite (a diverged trial's) come last, in the order given."""
    usable = [i for i, p in enumerate(points) if all(finite(v) for v in p)]
    order: list[int] = []
    for group in ([i for i in usable if feasible is None or feasible[i]],
                  [i for i in usable if feasible is not None and not feasible[i]]):
        if not group:
            continue
        sub = [points[i] for i in group]
        order += [group[j] for front in fronts(sub, modes) for j in spread_order(sub, modes, front)]
    return order + [i for i in range(len(points)) if i not in usable]


def meets(row: Mapping[str, Any], limits: Sequence[Limit]) -> bool:
    """Whether the row's values hold every limit (`le`: at most, `ge`: at least); a missing or non-finite
    value holds none."""
    for limit in limits:
        value = row.get(limit.name)
        if not finite(value):
            return False
        if (limit.le is not None and value > limit.le) or (limit.ge is not None and value < limit.ge):
            return False
    return True


def _point(row: Mapping[str, Any], objectives: Sequence[Objective]) -> list[float] | None:
    values = [row.get(o.name) for o in objectives]
    return [float(v) for v in values] if all(finite(v) for v in values) else None


def front_rows(rows: Sequence[Mapping[str, Any]], objectives: Sequence[Objective],
               constraints: Sequence[Limit] = ()) -> list[int]:
    """Indices of the rows on the Pareto front of the feasible rows (every constraint met, every objective a
    finite number), in the order given: a violator never enters the front."""
    candidates = [i for i, r in enumerate(rows) if meets(r, constraints) and _point(r, objectives) is not None]
    points = [_point(rows[i], objectives) for i in candidates]
    return [candidates[j] for j in pareto_front(points, [o.mode for o in objectives])]


def select(rows: Sequence[Mapping[str, Any]], objectives: Sequence[Objective], rule: Rule | None = None,
           constraints: Sequence[Limit] = ()) -> int | None:
    """The index of the one row that commands such as `best` use, among the front's (front_rows):
    - by default, and with `limits`: the best primary (the first objective) among the front's rows that meet
      the limits, ties broken by the next objectives in order;
    - with `weights`: the best weighted sum of the objectives, each scaled to [0, 1] over the front (1 the best).
    Ties then go to the row given first. None when no row is on the front or none meets the limits."""
    front = front_rows(rows, objectives, constraints)
    modes = [o.mode for o in objectives]
    keys = [[v if m == "max" else -v for v, m in zip(_point(rows[i], objectives), modes)] for i in front]
    if rule is not None and rule.weights:
        scaled = _normalised([_point(rows[i], objectives) for i in front], modes) if front else []
        weights = [rule.weights.get(o.name, 0.0) for o in objectives]
        keys = [[float(np.dot(weights, s)), *k] for s, k in zip(scaled, keys)]
    limits = rule.limits if rule is not None else ()
    within = [n for n, i in enumerate(front) if meets(rows[i], limits)]
    return front[max(within, key=lambda n: (keys[n], -n))] if within else None


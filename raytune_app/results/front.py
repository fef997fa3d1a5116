"""An experiment's Pareto view (several objectives): each trial's point, whether it meets the constraints, its
front rank, the front, its hypervolume and the one selected trial, read off the one reader with the Pareto math
(pareto.py).

A trial's point is one epoch: its best epoch by the one rule for best on the primary objective (best.py: the
checkpointed epoch that retention always keeps and exports use), the other objectives read from the same row.
Only feasible points (every constraint met, every objective a finite number) are ranked: front rank 0 is the
Pareto front, equal points all on it; an infeasible trial has no rank. The hypervolume is that of the front
against `reference_point` of all the trials' points; the selected trial is the experiment's `select:` rule
applied to the front (pareto.select), or the front's best primary where no front member meets its limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from raytune_app.results import pareto

if TYPE_CHECKING:
    from raytune_app.results.reader import Experiment, Trial
    from raytune_app.spec.load import LimitSpec, ObjectiveSpec, SelectSpec


# The saved spec (raytune_app_spec.json) is read back through the models that validated it (spec/load.py),
# imported when needed: a one-objective report never loads pydantic for them.
def objectives_of(spec: Mapping[str, Any]) -> list[ObjectiveSpec]:
    """The saved spec's objectives, the primary first; a spec saved before there were several has one: its
    metric."""
    from raytune_app.spec.load import ObjectiveSpec

    given = spec.get("objectives") or [{"name": spec["metric"], "mode": spec["mode"]}]
    return [ObjectiveSpec.model_validate(o) for o in given]


def constraints_of(spec: Mapping[str, Any]) -> list[LimitSpec]:
    from raytune_app.spec.load import LimitSpec

    return [LimitSpec.model_validate(c) for c in spec.get("constraints") or ()]


def rule_of(spec: Mapping[str, Any]) -> SelectSpec:
    from raytune_app.spec.load import SelectSpec

    return SelectSpec.model_validate(spec.get("select") or {})


@dataclass(frozen=True)
class Point:
    """A trial's point: its best epoch's row and each objective's value there."""

    trial: "Trial"
    row: dict[str, Any]
    values: dict[str, float | None]
    feasible: bool
    rank: int | None  # its front (0: the Pareto front); None when infeasible


@dataclass(frozen=True)
class Front:
    objectives: list[ObjectiveSpec]
    constraints: list[LimitSpec]
    rule: SelectSpec
    points: dict[str, Point]  # trial id -> its point, for the trials with a best epoch
    front: list["Trial"]  # front rank 0, in proposal order
    selected: "Trial | None"
    selected_by: str  # how the selected trial was picked
    reference: list[float]  # one value per objective
    hypervolume: float

    def point(self, trial: "Trial") -> Point | None:
        return self.points.get(trial.trial_id)

    @property
    def modes(self) -> list[str]:
        return [o.mode for o in self.objectives]


def _usable(values: Sequence[float | None]) -> bool:
    from raytune_app.spec.metrics import finite

    return all(finite(v) for v in values)


def pareto_of(e: "Experiment") -> Front:
    """The experiment's Pareto view, from its trials' own results."""
    objectives, constraints, rule = objectives_of(e.spec), constraints_of(e.spec), rule_of(e.spec)
    names, modes = [o.name for o in objectives], [o.mode for o in objectives]
    scored = [(t, row) for t, row in ((t, e.best_epoch(t)) for t in e.trials) if row is not None]
    values = [[row.get(n) for n in names] for _, row in scored]
    feasible = [_usable(v) and pareto.meets(row, constraints) for v, (_, row) in zip(values, scored)]
    candidates = [i for i, ok in enumerate(feasible) if ok]
    ranks = dict(zip(candidates, pareto.front_ranks([values[i] for i in candidates], modes)))
    points = {t.trial_id: Point(t, row, dict(zip(names, v)), ok, ranks.get(i))
              for i, ((t, row), v, ok) in enumerate(zip(scored, values, feasible))}
    front = [t for i, (t, _) in enumerate(scored) if ranks.get(i) == 0]
    rows = [row for _, row in scored]
    chosen, selected_by = pareto.select(rows, objectives, rule, constraints), _rule_text(rule)
    if chosen is None and rule.limits and front:
        chosen, selected_by = pareto.select(rows, objectives, None, constraints), \
            f"the best {names[0]} on the front: no front member meets the select limits"
    finite_points = [v for v in values if _usable(v)]
    reference = pareto.reference_point(finite_points, modes) if finite_points else [None] * len(names)
    volume = pareto.hypervolume([[points[t.trial_id].values[n] for n in names] for t in front], modes,
                                reference) if front else 0.0
    return Front(objectives, constraints, rule, points, front, scored[chosen][0] if chosen is not None else None,
                 selected_by, reference, volume)


def _rule_text(rule: SelectSpec) -> str:
    if rule.weights:
        return "the best weighted sum " + ", ".join(f"{w} x {n}" for n, w in rule.weights.items()) + \
            " (each scaled to [0, 1] over the front)"
    if rule.limits:
        return "the best primary within " + ", ".join(
            f"{b.name} {'<=' if b.le is not None else '>='} {b.le if b.le is not None else b.ge}" for b in rule.limits)
    return "the best primary on the front"


def order(f: Front, trials: Sequence["Trial"]) -> list["Trial"]:
    """`trials` (in the order of the primary's ranking) as reports rank them with several objectives: the
    selected trial first, then the feasible ones by front rank, then the rest, each group in the given order."""
    def key(item: tuple[int, "Trial"]) -> tuple:
        n, t = item
        p = f.point(t)
        rank = p.rank if p is not None and p.rank is not None else float("inf")
        return (t is not f.selected, rank, n)

    return [t for _, t in sorted(enumerate(trials), key=key)]

"""The Pareto math (results/pareto.py): dominance with modes, fronts, hypervolume, the spread tie-break,
constraints and the selected point, checked against brute force where one exists."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings, strategies as st

from raytune_app.results.pareto import (dominates, front_rows, front_ranks, fronts, hypervolume, meets,
                                        pareto_front, ranked, reference_point, select, spread_order)
from raytune_app.spec.load import LimitSpec, ObjectiveSpec, SelectSpec as Rule

ACC_SIZE = ["max", "min"]  # accuracy up, parameter count down


def Obj(name: str, mode: str) -> ObjectiveSpec:
    return ObjectiveSpec(name=name, mode=mode)


def Bound(name: str, **bound: float) -> LimitSpec:
    return LimitSpec(name=name, **bound)


OBJECTIVES = [Obj("val_accuracy", "max"), Obj("param_count", "min")]


def test_dominance_follows_each_objectives_mode():
    assert dominates([0.9, 100], [0.8, 200], ACC_SIZE)
    assert dominates([0.9, 100], [0.9, 200], ACC_SIZE)  # as good in one, better in the other
    assert not dominates([0.9, 100], [0.9, 100], ACC_SIZE)  # equal points dominate neither way
    assert not dominates([0.9, 300], [0.8, 200], ACC_SIZE) and not dominates([0.8, 200], [0.9, 300], ACC_SIZE)
    assert dominates([0.8, 200], [0.9, 300], ["min", "min"])


def test_fronts_keep_equal_points_and_rank_the_rest():
    points = [[0.9, 100], [0.8, 50], [0.9, 100], [0.7, 200], [0.95, 300], [0.85, 100]]
    assert pareto_front(points, ACC_SIZE) == [0, 1, 2, 4]
    assert fronts(points, ACC_SIZE) == [[0, 1, 2, 4], [5], [3]]
    assert front_ranks(points, ACC_SIZE) == [0, 0, 0, 2, 0, 1]
    assert fronts([], ACC_SIZE) == [] and pareto_front([], ACC_SIZE) == []


points_2d = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=12)
modes_2d = st.lists(st.sampled_from(["max", "min"]), min_size=2, max_size=2)


@settings(max_examples=200, deadline=None)
@given(points_2d, modes_2d)
def test_non_dominated_sorting_matches_brute_force(points, modes):
    ranks = front_ranks(points, modes)
    for i, p in enumerate(points):
        dominators = [ranks[j] for j, q in enumerate(points) if dominates(q, p, modes)]
        # a point's front is one behind the latest front of the points that dominate it
        assert ranks[i] == (max(dominators) + 1 if dominators else 0)


def brute_hypervolume(points, modes, reference):
    """Integer points: count the unit cells they dominate that dominate the reference."""
    flip = [1 if m == "min" else -1 for m in modes]
    pts = [[f * v for f, v in zip(flip, p)] for p in points]
    ref = [f * r for f, r in zip(flip, reference)]
    ranges = [range(min([r] + [p[d] for p in pts]), r) for d, r in enumerate(ref)]
    return sum(any(all(p[d] <= c[d] for d in range(len(c))) for p in pts) for c in itertools.product(*ranges))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=8),
       st.lists(st.sampled_from(["max", "min"]), min_size=3, max_size=3))
def test_hypervolume_matches_counting_cells(points, modes):
    reference = [0 if m == "max" else 5 for m in modes]
    assert hypervolume(points, modes, reference) == brute_hypervolume(points, modes, reference)


def test_hypervolume_by_hand():
    # accuracy above 0.5, size below 250: (0.9-0.5)*(250-100) plus the strip of (0.95, 200) above 0.9
    assert math.isclose(hypervolume([[0.9, 100], [0.95, 200]], ACC_SIZE, [0.5, 250]), 0.4 * 150 + 0.05 * 50)
    assert hypervolume([[0.4, 100], [0.9, 300]], ACC_SIZE, [0.5, 250]) == 0.0  # neither beats the reference
    assert hypervolume([], ACC_SIZE, [0.5, 250]) == 0.0


def test_spread_order_starts_at_the_primarys_best_and_spreads_out():
    front = [[0.90, 100], [0.95, 400], [0.80, 10], [0.93, 200], [0.93, 200]]
    order = spread_order(front, ACC_SIZE, [0, 1, 2, 3, 4])
    assert order[:2] == [1, 2]  # the most accurate, then the smallest: the far end of the front
    assert order[-1] in (3, 4) and order.count(3) == order.count(4) == 1  # an equal point comes last


def test_ranked_puts_feasible_first_then_fronts_and_non_finite_last():
    points = [[0.9, 100], [0.99, 10], [0.5, 1], [float("nan"), 5], [0.8, 500]]
    assert ranked(points, ACC_SIZE) == [1, 2, 0, 4, 3]
    assert ranked(points, ACC_SIZE, feasible=[True, False, True, True, True]) == [0, 2, 4, 1, 3]


def test_limits_and_missing_values():
    assert meets({"param_count": 100}, [Bound("param_count", le=100)])
    assert not meets({"param_count": 101}, [Bound("param_count", le=100)])
    assert not meets({"val_accuracy": 0.5}, [Bound("val_accuracy", ge=0.6)])
    assert not meets({}, [Bound("latency_ms", le=5)]) and not meets({"latency_ms": math.inf}, [Bound("latency_ms", le=5)])


ROWS = [{"val_accuracy": 0.97, "param_count": 500_000, "latency_ms": 9.0},
        {"val_accuracy": 0.96, "param_count": 20_000, "latency_ms": 1.0},
        {"val_accuracy": 0.90, "param_count": 2_000, "latency_ms": 0.5},
        {"val_accuracy": 0.97, "param_count": 600_000, "latency_ms": 9.5},  # dominated by the first
        {"val_accuracy": 0.99, "param_count": 900_000, "latency_ms": 20.0},
        {"val_accuracy": float("nan"), "param_count": 100, "latency_ms": 0.1}]


def test_constraint_violators_never_enter_the_front():
    assert front_rows(ROWS, OBJECTIVES) == [0, 1, 2, 4]
    # the most accurate one breaks the latency limit and leaves the front; the fourth stays behind the first
    assert front_rows(ROWS, OBJECTIVES, [Bound("latency_ms", le=10)]) == [0, 1, 2]
    assert front_rows(ROWS, OBJECTIVES, [Bound("latency_ms", le=9.6), Bound("val_accuracy", ge=0.95)]) == [0, 1]


def test_selection_rules():
    assert select(ROWS, OBJECTIVES) == 4  # the best primary
    assert select(ROWS, OBJECTIVES, constraints=[Bound("latency_ms", le=10)]) == 0
    assert select(ROWS, OBJECTIVES, Rule(limits=(Bound("param_count", le=50_000),))) == 1
    assert select(ROWS, OBJECTIVES, Rule(limits=(Bound("param_count", le=10),))) is None
    assert select(ROWS, OBJECTIVES, Rule(weights={"val_accuracy": 1.0, "param_count": 1.0})) == 1
    assert select(ROWS, OBJECTIVES, Rule(weights={"param_count": 1.0})) == 2
    # equal primaries: the next objective decides (the smaller model), then the row given first
    tied = [{"val_accuracy": 0.9, "param_count": 300}, {"val_accuracy": 0.9, "param_count": 200},
            {"val_accuracy": 0.9, "param_count": 200}]
    assert select(tied, OBJECTIVES) == 1
    assert select([], OBJECTIVES) is None


rows_strategy = st.lists(st.fixed_dictionaries({"val_accuracy": st.floats(0, 1), "param_count": st.integers(1, 10),
                                                "latency_ms": st.floats(0, 10)}), min_size=1, max_size=10)


@settings(max_examples=200, deadline=None)
@given(rows_strategy, st.floats(0, 10), st.floats(0, 1), st.booleans())
def test_no_front_member_or_selected_row_violates_a_constraint(rows, latency, accuracy, weighted):
    constraints = [Bound("latency_ms", le=latency), Bound("val_accuracy", ge=accuracy)]
    front = front_rows(rows, OBJECTIVES, constraints)
    assert all(meets(rows[i], constraints) for i in front)
    feasible = [r for r in rows if meets(r, constraints)]
    assert bool(front) == bool(feasible)
    for i in front:  # nothing feasible dominates a front member
        assert not any(dominates([r["val_accuracy"], r["param_count"]],
                                 [rows[i]["val_accuracy"], rows[i]["param_count"]], ACC_SIZE) for r in feasible)
    chosen = select(rows, OBJECTIVES, Rule(weights={"val_accuracy": 1, "param_count": 2}) if weighted else None,
                    constraints)
    assert chosen is None if not front else chosen in front


def test_the_reference_point_is_just_beyond_the_worst_of_each_objective():
    assert reference_point([[0.9, 100], [0.7, 300]], ACC_SIZE) == [pytest.approx(0.68), pytest.approx(320)]
    assert reference_point([[0.5, 0.0]], ACC_SIZE) == [pytest.approx(0.45), pytest.approx(0.1)]  # no range: a tenth of the value, or 0.1
    points = [[0.9, 100], [0.7, 300]]
    assert hypervolume([points[1]], ACC_SIZE, reference_point(points, ACC_SIZE)) > 0  # the worst point counts

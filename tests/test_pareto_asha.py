"""`scheduler: pareto_asha` as Ray drives it, without a cluster: rungs ranked by Pareto fronts where Ray's ASHA
ranks the primary alone; constraints; what the other schedulers are told with several objectives."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
import yaml
from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler, TrialScheduler

from raytune_app.spec.load import LimitSpec, load_spec
from raytune_app.tuner.pareto_asha import ParetoAsha
from raytune_app.tuner.schedulers import build_scheduler

OBJECTIVES = [("val_accuracy", "max"), ("param_count", "min")]
# four trials reach epoch 1 in this order: three large accurate models, then a small one that learns slowly
ARRIVALS = [("big", 0.90, 500_000), ("bigger", 0.88, 400_000), ("dominated", 0.87, 450_000), ("small", 0.60, 2_000)]


def decide(scheduler, arrivals, epoch=1, **extra) -> dict[str, str]:
    return {name: scheduler.on_trial_result(None, SimpleNamespace(trial_id=name),
                                            {"training_iteration": epoch, "val_accuracy": acc, "param_count": size,
                                             **extra.get(name, {})})
            for name, acc, size in arrivals}


def test_the_small_model_goes_on_where_asha_on_the_accuracy_stops_it():
    asha = AsyncHyperBandScheduler(metric="val_accuracy", mode="max", max_t=9, grace_period=1, reduction_factor=3)
    for name, *_ in ARRIVALS:
        asha.on_trial_add(None, SimpleNamespace(trial_id=name))
    assert decide(asha, ARRIVALS)["small"] == TrialScheduler.STOP
    pareto = ParetoAsha(OBJECTIVES, max_t=9, grace_period=1, reduction_factor=3)
    # a rung keeps the best third: `big` first; `bigger` second of 2 and `dominated` of 3 stop; `small` is on the
    # front with `big` and `bigger` and, spreading it, ranks second of 4: it goes on
    assert decide(pareto, ARRIVALS) == {"big": "CONTINUE", "bigger": "STOP", "dominated": "STOP",
                                        "small": "CONTINUE"}


def test_rungs_are_asha_s_below_max_t_and_each_trial_is_ranked_once_per_rung():
    pareto = ParetoAsha(OBJECTIVES, max_t=9, grace_period=1, reduction_factor=3)
    assert [m for m, _ in pareto._rungs] == [3, 1]
    decide(pareto, ARRIVALS)
    # at epoch 2 no new rung: going on; a second result at the same rung is not ranked again
    assert set(decide(pareto, ARRIVALS, epoch=2).values()) == {"CONTINUE"}
    assert decide(pareto, [("late", 0.99, 10)], epoch=3) == {"late": "CONTINUE"}
    assert decide(pareto, [("worse", 0.5, 10**6)], epoch=3) == {"worse": "STOP"}
    # past its last rung (max_t has none: the trial ends itself there), however it fares
    assert decide(pareto, [("late", 0.1, 10**7)], epoch=9) == {"late": "CONTINUE"}
    # a result without an objective is not ranked (Ray's own check of each result reports it)
    assert decide(pareto, [("partial", 0.1, 1)], epoch=1, partial={}) and pareto.on_trial_result(
        None, SimpleNamespace(trial_id="x"), {"training_iteration": 1, "val_accuracy": 0.1}) == "CONTINUE"


def test_a_trial_that_breaks_a_constraint_ranks_after_those_that_meet_them():
    pareto = ParetoAsha(OBJECTIVES, max_t=9, grace_period=1, reduction_factor=3,
                        constraints=[LimitSpec(name="latency_ms", le=1.0)])
    fast = {name: {"latency_ms": 0.5} for name, *_ in ARRIVALS}
    decisions = decide(pareto, ARRIVALS, **(fast | {"small": {"latency_ms": 3.0}}))
    assert decisions["small"] == TrialScheduler.STOP and decisions["big"] == TrialScheduler.CONTINUE


def test_tune_config_may_name_the_primary_only():
    pareto = ParetoAsha(OBJECTIVES)
    assert pareto.set_search_properties(None, None) and pareto.set_search_properties("val_accuracy", "max")
    assert not pareto.set_search_properties("val_loss", "min")
    assert pareto.metric == "val_accuracy"  # what Ray checks every result for (Optuna's lists check the rest)
    with pytest.raises(ValueError):
        ParetoAsha(OBJECTIVES, max_t=1, grace_period=2)


def spec(tmp_path, scheduler):
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump({"objectives": [{"name": "val_accuracy", "mode": "max"},
                                                   {"name": "param_count", "mode": "min"}],
                                    "max_epochs": 9, "num_samples": 8, "scheduler": scheduler, "search": "random",
                                    "space": {"lr": {"loguniform": [1e-3, 0.1]}}}))
    return load_spec(path)


def test_with_several_objectives_each_scheduler_says_what_it_does(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="raytune_app")
    asha = build_scheduler(spec(tmp_path, "asha"))
    assert isinstance(asha, AsyncHyperBandScheduler) and asha.metric == "val_accuracy"  # its own: TuneConfig has none
    assert caplog.records[-1].levelno == logging.WARNING
    assert caplog.records[-1].getMessage().startswith(
        "asha stops trials by val_accuracy (max) alone, whatever their param_count")
    median = build_scheduler(spec(tmp_path, "median"))
    assert median.metric == "val_accuracy" and "median stops trials by val_accuracy" in caplog.records[-1].message
    assert isinstance(build_scheduler(spec(tmp_path, "fifo")), FIFOScheduler)
    assert caplog.records[-1].getMessage() == "fifo: every trial trains to max_epochs; none is stopped on any objective"
    pareto = build_scheduler(spec(tmp_path, {"name": "pareto_asha", "grace_period": 2}))
    assert isinstance(pareto, ParetoAsha) and [m for m, _ in pareto._rungs] == [6, 2]
    assert caplog.records[-1].levelno == logging.INFO and "Pareto front of val_accuracy and param_count" in \
        caplog.records[-1].message

"""Pieces of the report modules that need no experiment run."""

from __future__ import annotations

import pandas as pd

from raytune_app.results import report
from raytune_app.results.importance import LOG_KINDS, searched
from raytune_app.results.reader import Experiment


def test_searched_hyperparameters_are_found_inside_branches_with_their_scale():
    raw = {"lr": {"loguniform": [1e-4, 1e-1]}, "units": {"logint": [8, 512]}, "dropout": {"uniform": [0, 0.5]},
           "batch_size": 64,
           "optimizer": {"choice": [{"name": "sgd", "lr": {"loguniform": [1e-3, 1.0]}},
                                    {"name": "adam", "beta1": {"uniform": [0.8, 0.99]}}]}}
    e = Experiment("e", "/nowhere", "val_accuracy", "max", 3, {"space": raw}, None)
    space = searched(e)
    assert sorted(space) == ["dropout", "lr", "optimizer/beta1", "optimizer/lr", "optimizer/name", "units"]
    assert {n for n, p in space.items() if p.kind in LOG_KINDS} == {"lr", "units", "optimizer/lr"}


def test_markdown_escapes_pipes_and_right_aligns_numbers():
    table = pd.DataFrame({"trial_id": ["a|b"], "best": [0.123456], "config/x": [None]})
    lines = report._markdown(table).splitlines()
    assert lines == ["| trial_id | best | config/x |", "| --- | ---: | --- |", "| a\\|b | 0.1235 |  |"]

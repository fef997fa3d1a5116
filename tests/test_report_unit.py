"""Pieces of the report modules that need no experiment run."""

from __future__ import annotations

import pandas as pd

from raytune_app.results import report
from raytune_app.results.html_report import _log_params


def test_log_scaled_hyperparameters_are_found_inside_branches():
    raw = {"lr": {"loguniform": [1e-4, 1e-1]}, "units": {"logint": [8, 512]}, "dropout": {"uniform": [0, 0.5]},
           "batch_size": 64,
           "optimizer": {"choice": [{"name": "sgd", "lr": {"loguniform": [1e-3, 1.0]}},
                                    {"name": "adam", "beta1": {"uniform": [0.8, 0.99]}}]}}
    assert _log_params(raw) == {"lr", "units", "optimizer/lr"}


def test_markdown_escapes_pipes_and_right_aligns_numbers():
    table = pd.DataFrame({"trial_id": ["a|b"], "best": [0.123456], "config/x": [None]})
    lines = report._markdown(table).splitlines()
    assert lines == ["| trial_id | best | config/x |", "| --- | ---: | --- |", "| a\\|b | 0.1235 |  |"]

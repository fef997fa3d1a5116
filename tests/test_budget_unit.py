"""`--time-budget` counts from the command's start: Ray gets what start-up has left (run/budget.py)."""

from __future__ import annotations

import time

from raytune_app.run.budget import budget_left


def test_start_up_is_taken_from_the_budget():
    started = time.time() - 8.0  # a command that started 8 s ago
    assert 11.5 < budget_left(20.0, started) <= 12.0
    assert budget_left(5.0, started) == 1.0  # start-up took it all: a second for Ray, not a negative budget
    assert budget_left(None, started) is None

"""The experiment-state snapshot period grows with the experiment (ray_compat/settings.py snapshot_period):
each snapshot copies every trial's files, so a fixed period made the driver's housekeeping grow with the
square of the trials (issues 27 and 29)."""

from __future__ import annotations

import pytest

from raytune_app.ray_compat import settings


@pytest.fixture
def fresh(monkeypatch):
    """A process where nothing set the period yet."""
    monkeypatch.delenv(settings.STATE_SAVE_PERIOD_S, raising=False)
    monkeypatch.setattr(settings, "_period_set", None)
    return settings


@pytest.mark.parametrize("trials, period", [(1, "2"), (200, "2"), (1000, "10"), (5000, "50"), (10000, "60")])
def test_the_period_is_ten_ms_a_trial_between_two_seconds_and_a_minute(fresh, trials, period):
    fresh.configure_tune(trials)
    assert fresh.os.environ[fresh.STATE_SAVE_PERIOD_S] == period


def test_a_second_experiment_in_the_same_process_gets_its_own_period(fresh):
    """raytune_app.tune() twice in a notebook: the first call's period is not taken for the user's."""
    fresh.configure_tune(100)
    fresh.configure_tune(3000)
    assert fresh.os.environ[fresh.STATE_SAVE_PERIOD_S] == "30"


def test_a_period_the_user_set_is_kept(fresh, monkeypatch):
    monkeypatch.setenv(settings.STATE_SAVE_PERIOD_S, "auto")
    fresh.configure_tune(10000)
    assert fresh.os.environ[fresh.STATE_SAVE_PERIOD_S] == "auto"

"""The experiment-state snapshot period grows with the experiment (ray_compat/settings.py snapshot_period):
each snapshot copies every trial's files, so a fixed period made the driver's housekeeping grow with the
square of the trials (issues 27 and 29). It is set for raytune-app's `Tuner.fit` alone (fit_settings)."""

from __future__ import annotations

import os

import pytest

from raytune_app.ray_compat.settings import NO_AUTO_LOGGERS, STATE_SAVE_PERIOD_S, fit_settings


@pytest.fixture
def fresh(monkeypatch):
    """A process where nobody set the period."""
    monkeypatch.delenv(STATE_SAVE_PERIOD_S, raising=False)


@pytest.mark.parametrize("trials, period", [(1, "2"), (200, "2"), (1000, "10"), (5000, "50"), (10000, "60")])
def test_the_period_is_ten_ms_a_trial_between_two_seconds_and_a_minute(fresh, trials, period):
    with fit_settings(trials, verbose=1):
        assert os.environ[STATE_SAVE_PERIOD_S] == period


def test_a_second_experiment_in_the_same_process_gets_its_own_period(fresh):
    """raytune_app.tune() twice in a notebook: the first call's period is not taken for the user's."""
    with fit_settings(100, verbose=1):
        pass
    with fit_settings(3000, verbose=1):
        assert os.environ[STATE_SAVE_PERIOD_S] == "30"


def test_a_period_the_user_set_is_kept(monkeypatch):
    monkeypatch.setenv(STATE_SAVE_PERIOD_S, "auto")
    with fit_settings(10000, verbose=1):
        assert os.environ[STATE_SAVE_PERIOD_S] == "auto"
    assert os.environ[STATE_SAVE_PERIOD_S] == "auto"


def test_after_the_fit_the_process_has_its_own_settings_again(fresh, monkeypatch):
    """The user's next bare `Tuner.fit` in the same process gets Ray's own loggers and period (with ours left
    behind, Ray wrote no result.json for it)."""
    monkeypatch.setenv(NO_AUTO_LOGGERS, "0")
    before = dict(os.environ)
    with fit_settings(500, verbose=0):
        assert os.environ[NO_AUTO_LOGGERS] == "1" and os.environ[STATE_SAVE_PERIOD_S] == "5"
    assert dict(os.environ) == before

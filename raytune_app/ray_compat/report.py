"""Seeing every report of a user's Ray Tune function: `ray.tune.report` replaced where the function runs.

What this relies on (Ray 2.60): a function trainable reports through the public `ray.tune.report(metrics, *,
checkpoint=None)`, looked up on the `ray.tune` module either at each call (`tune.report(...)`) or once, when
the user's module runs `from ray.tune import report`. Replacing that module attribute before the user's module
is imported therefore reaches both; it is a Ray module's attribute replaced (monkey-patching), which the
developer guide fences here. A Ray release that routed Tune functions' reports elsewhere, made the attribute
lazy or changed the signature would make the wrapper miss reports or break them:
tests/test_ray_compat_report.py checks each of these.

Public alternatives checked: a Callback's `on_trial_result` and a Stopper see a result only in the driver,
after Ray has handed it to the schedulers and searchers (they would rank a NaN or a missing metric), and
neither can replace a result or end the user's function at the report that went wrong.
"""

from __future__ import annotations

from typing import Callable

from ray import tune

RAYS_REPORT: Callable[..., None] = tune.report  # Ray's own, as imported before any replacement


def route_reports(through: Callable[..., None]) -> None:
    """Make the user's `tune.report(...)` (and `from ray.tune import report` imported after this) call `through`,
    which takes Ray's arguments and reports with `rays_report`."""
    tune.report = through


def rays_report(metrics: dict, *, checkpoint: tune.Checkpoint | None = None) -> None:
    """Ray's own `ray.tune.report`."""
    RAYS_REPORT(metrics, checkpoint=checkpoint)

"""Contract with the installed Ray for raytune_app/ray_compat/report.py: a user's Tune function reports through
the `ray.tune.report` module attribute, so replacing it reaches `tune.report(...)` and `from ray.tune import
report` alike. A failure names the installed Ray version and what changed. (That the wrapper really sees a
running trial's reports is shown end to end by test_user_results_e2e.py and test_user_code_e2e.py.)"""

from __future__ import annotations

import importlib
import inspect
import sys

import ray
from ray import tune

from raytune_app.ray_compat.report import RAYS_REPORT, route_reports


def changed(what: str) -> str:
    return f"Ray {ray.__version__} changed: {what} (raytune_app/ray_compat/report.py relies on it)"


def test_tune_report_takes_metrics_and_a_keyword_checkpoint():
    params = inspect.signature(RAYS_REPORT).parameters
    assert list(params) == ["metrics", "checkpoint"], changed(f"ray.tune.report{inspect.signature(RAYS_REPORT)}")
    assert params["checkpoint"].kind is inspect.Parameter.KEYWORD_ONLY and params["checkpoint"].default is None, \
        changed(f"ray.tune.report{inspect.signature(RAYS_REPORT)}")


def test_rays_report_is_the_one_tune_exports():
    from ray.tune.trainable.trainable_fn_utils import report

    assert RAYS_REPORT is report and "report" in tune.__all__, \
        changed("ray.tune.report is no longer the Tune function API's report (ray.tune.trainable.trainable_fn_utils)")


def test_replacing_the_attribute_reaches_both_ways_of_calling_it(tmp_path, monkeypatch):
    seen = []
    (tmp_path / "users_train.py").write_text("from ray.tune import report\n\n\ndef via_import(m):\n    report(m)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        route_reports(lambda metrics, *, checkpoint=None: seen.append(metrics))
        users = importlib.import_module("users_train")
        tune.report({"a": 1})
        users.via_import({"b": 2})
    finally:
        route_reports(RAYS_REPORT)
        sys.modules.pop("users_train", None)
    assert seen == [{"a": 1}, {"b": 2}], changed("`ray.tune.report` is not a plain module attribute any more")
    assert tune.report is RAYS_REPORT


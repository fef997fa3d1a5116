"""A run's start-up skips what it does not need (tuner/build.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ENV

# what `tune.run` does with a run's callbacks before it starts, after raytune-app's Tune set-up
CENSUS = """
import sys
from ray.air._internal import usage
from ray.tune import Callback
from raytune_app.ray_compat.usage import skip_unsent_callback_census

skip_unsent_callback_census()  # as tuner/build.py does
usage.tag_callbacks([Callback()])
print("mlflow" in sys.modules)
"""


@pytest.mark.parametrize("stats, imports_mlflow", [("0", "False"), ("1", "True")])
def test_with_usage_stats_off_a_run_never_imports_mlflow_for_rays_callback_census(stats, imports_mlflow):
    """Ray imports its MLflow integration to count a run's callbacks for usage stats: 0.9 s of start-up."""
    out = subprocess.run([sys.executable, "-c", CENSUS], env={**ENV, "RAY_USAGE_STATS_ENABLED": stats},
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.split()[-1:] == [imports_mlflow], out.stderr[-2000:]


# a run's preparation, as `tune` starts it before `ray.init`
PREPARE = """
import sys
from raytune_app.run.driver import prepare_while_ray_starts
from raytune_app.spec.load import load_spec

prepare_while_ray_starts(load_spec(sys.argv[1]), sys.argv[1]).result()
print(all(m in sys.modules for m in ("ray.tune", sys.argv[2])))
"""


@pytest.mark.parametrize("search, module", [("hyperopt", "hyperopt"), ("optuna", "optuna")])
def test_ray_tune_and_the_searchers_library_are_imported_while_ray_starts(tmp_path, search, module):
    """They took seconds on 2 busy cores after `ray.init`; now beside it, with the built-in data set."""
    from conftest import write_experiment

    spec = write_experiment(tmp_path / "e.yaml", search=search)
    out = subprocess.run([sys.executable, "-c", PREPARE, str(spec), module], env=ENV, capture_output=True,
                         text=True, timeout=300)
    assert out.stdout.split()[-1:] == ["True"], out.stderr[-2000:]

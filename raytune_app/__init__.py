"""raytune-app: distributed hyperparameter tuning for PyTorch, built on Ray Tune.

    import raytune_app

    results = raytune_app.tune("search_spaces/mlp_digits.yaml", num_samples=8)
    results.best.config, results.best.value, results.best.load_model()
    raytune_app.load("runs/mlp-digits").trials

The names below are imported when first used, so that `import raytune_app` (and the command line) stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API = {
    "tune": "raytune_app.api", "resume": "raytune_app.api", "extend": "raytune_app.api",
    "validate": "raytune_app.api", "load": "raytune_app.api", "Experiment": "raytune_app.api",
    "Results": "raytune_app.results.results", "BestTrial": "raytune_app.results.results",
    "InputError": "raytune_app.errors", "RunFailed": "raytune_app.errors", "Problem": "raytune_app.errors",
}
__all__ = ["__version__", *_API]

if TYPE_CHECKING:
    from raytune_app.api import Experiment, extend, load, resume, tune, validate
    from raytune_app.errors import InputError, Problem, RunFailed
    from raytune_app.results.results import BestTrial, Results


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'raytune_app' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

"""The `space:` section: parsed into Params, turned into Ray Tune's own sample domains.

Each entry is either a plain value (a constant) or a one-key mapping naming a
distribution, e.g. ``lr: {loguniform: [1.0e-4, 1.0e-1]}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Any, Mapping

from ray import tune

from .errors import did_you_mean

# name -> (arity, description of the arguments)
DISTRIBUTIONS = {
    "uniform": "[low, high]",
    "loguniform": "[low, high]",
    "quniform": "[low, high, q]",
    "int": "[low, high]",
    "logint": "[low, high]",
    "choice": "[option, ...]",
    "grid": "[value, ...]",
}
DISCRETE = ("choice", "grid")


@dataclass(frozen=True)
class Param:
    """One hyperparameter: a constant or a distribution with validated arguments."""

    kind: str  # "constant" or a key of DISTRIBUTIONS
    args: tuple

    def to_tune(self) -> Any:
        """The Ray Tune domain (or constant) for this parameter."""
        a = self.args
        if self.kind == "constant":
            return a[0]
        if self.kind == "uniform":
            return tune.uniform(a[0], a[1])
        if self.kind == "loguniform":
            return tune.loguniform(a[0], a[1])
        if self.kind == "quniform":
            return tune.quniform(a[0], a[1], a[2])
        if self.kind == "int":  # inclusive bounds; Ray's randint excludes the upper one
            return tune.randint(a[0], a[1] + 1)
        if self.kind == "logint":
            return tune.lograndint(a[0], a[1] + 1)
        if self.kind == "choice":
            return tune.choice(list(a))
        return tune.grid_search(list(a))

    @property
    def options(self) -> list | None:
        """Every value the parameter can take, when that is a finite list."""
        if self.kind == "constant":
            return [self.args[0]]
        if self.kind in DISCRETE:
            return list(self.args)
        return None

    @property
    def is_continuous(self) -> bool:
        return self.kind in ("uniform", "loguniform", "quniform", "int", "logint")


def _is_number(x: Any) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(float(x))


def _check_bounds(kind: str, args: Any) -> str | None:
    """The problem with a distribution's arguments, or None when they are fine."""
    if kind in DISCRETE:
        if not isinstance(args, list) or not args:
            return f"{kind} needs a non-empty list of values, got {args!r}"
        return None
    want = 3 if kind == "quniform" else 2
    if not isinstance(args, list) or len(args) != want or not all(map(_is_number, args)):
        return f"{kind} needs {DISTRIBUTIONS[kind]} as {want} numbers, got {args!r}"
    low, high = args[0], args[1]
    if kind in ("int", "logint") and not all(float(x).is_integer() for x in (low, high)):
        return f"{kind} needs integer bounds, got {args!r}"
    log = kind in ("loguniform", "logint")
    if log and not 0 < low < high:
        return f"{kind} needs 0 < low < high, got {args!r}"
    if not low < high:
        return f"{kind} needs low < high, got {args!r}"
    if kind == "quniform" and not args[2] > 0:
        return f"quniform needs q > 0, got {args!r}"
    return None


def parse_param(value: Any) -> tuple[Param | None, str | None]:
    """Parse one entry of `space:`; returns (param, None) or (None, problem)."""
    if not isinstance(value, Mapping):
        return Param("constant", (value,)), None
    if len(value) != 1:
        return None, (
            "a distribution is a mapping with one key out of "
            f"{', '.join(DISTRIBUTIONS)}, got keys {sorted(map(str, value))}"
        )
    kind, args = next(iter(value.items()))
    if kind not in DISTRIBUTIONS:
        return None, f"unknown distribution {kind!r}{did_you_mean(kind, DISTRIBUTIONS)}"
    problem = _check_bounds(kind, args)
    if problem:
        return None, problem
    if kind in ("int", "logint"):
        args = [int(x) for x in args]
    return Param(kind, tuple(args)), None


def parse_space(raw: Any) -> tuple[dict[str, Param], list[tuple[str, str]]]:
    """Parse the whole `space:` mapping; returns params and (key, problem) pairs."""
    if raw is None:
        return {}, []
    if not isinstance(raw, Mapping):
        return {}, [("space", f"must be a mapping of hyperparameter names, got {raw!r}")]
    params: dict[str, Param] = {}
    problems: list[tuple[str, str]] = []
    for name, value in raw.items():
        param, problem = parse_param(value)
        if problem:
            problems.append((f"space.{name}", problem))
        else:
            params[str(name)] = param
    return params, problems


def to_param_space(params: Mapping[str, Param]) -> dict[str, Any]:
    """The `param_space` for `tune.Tuner`."""
    return {name: p.to_tune() for name, p in params.items()}


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config -> {'a/b': value}, the form reports and TensorBoard show."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}/"))
        else:
            out[name] = value
    return out

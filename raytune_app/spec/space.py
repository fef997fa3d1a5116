"""The `space:` section: parsed into Params, turned into Ray Tune's own sample domains.

Each entry is either a plain value (a constant) or a one-key mapping naming a
distribution, e.g. ``lr: {loguniform: [1.0e-4, 1.0e-1]}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from collections.abc import Mapping
from typing import Any

from raytune_app.errors import did_you_mean

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
    """One hyperparameter: a constant or a distribution with validated arguments.

    A `choice` may list mappings: each is a conditional branch, a dict of Params
    sampled only when that branch is chosen (e.g. `momentum` only for `sgd`).
    """

    kind: str  # "constant" or a key of DISTRIBUTIONS
    args: tuple

    @property
    def branches(self) -> list[dict[str, "Param"]]:
        return [a for a in self.args if isinstance(a, dict)] if self.kind == "choice" else []

    def to_tune(self) -> Any:
        """The Ray Tune domain (or constant) for this parameter."""
        from ray import tune  # here, so reports can use this module without importing Ray

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
            return tune.choice([to_param_space(o) if isinstance(o, dict) else o for o in a])
        return tune.grid_search(list(a))

    def to_hyperopt(self, label: str) -> Any:
        """HyperOpt's native expression: branches become a tree TPE models separately."""
        from hyperopt import hp
        from hyperopt.pyll import scope

        a = self.args
        if self.kind == "constant":
            return a[0]
        if self.kind == "uniform":
            return hp.uniform(label, a[0], a[1])
        if self.kind == "loguniform":
            return hp.loguniform(label, math.log(a[0]), math.log(a[1]))
        if self.kind == "quniform":
            return hp.quniform(label, a[0], a[1], a[2])
        if self.kind == "int":
            return scope.int(hp.quniform(label, a[0] - 0.5, a[1] + 0.5, 1))
        if self.kind == "logint":
            return scope.int(hp.qloguniform(label, math.log(a[0] - 0.5 + 1e-9), math.log(a[1] + 0.5), 1))
        return hp.choice(label, [to_hyperopt_space(o, f"{label}/{o['name'].args[0]}/")
                                 if isinstance(o, dict) else o for o in a])

    @property
    def options(self) -> list | None:
        """Every value the parameter can take, when that is a finite list (branches: their names)."""
        if self.branches:
            return [b["name"].args[0] for b in self.branches]
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
    if kind == "choice" and any(isinstance(o, Mapping) for o in args):
        return _parse_branches(args)
    return Param(kind, tuple(args)), None


def _parse_branches(options: list) -> tuple[Param | None, str | None]:
    """A choice between mappings: every option is a branch with a `name` and its own params."""
    branches = []
    for i, option in enumerate(options):
        if not isinstance(option, Mapping) or "name" not in option or isinstance(option["name"], Mapping):
            return None, f"choice[{i}]: when a choice lists mappings, each needs a plain `name`, got {option!r}"
        params, problems = parse_space({k: v for k, v in option.items()})
        if problems:
            key, problem = problems[0]
            return None, f"choice[{i}].{key.removeprefix('space.')}: {problem}"
        branches.append(params)
    names = [b["name"].args[0] for b in branches]
    if len(set(map(str, names))) != len(names):
        return None, f"choice: branch names must differ, got {names}"
    return Param("choice", tuple(branches)), None


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


def to_hyperopt_space(params: Mapping[str, Param], prefix: str = "") -> dict[str, Any]:
    """The whole space in HyperOpt's native form; labels are the flattened names."""
    return {name: p.to_hyperopt(f"{prefix}{name}") for name, p in params.items()}


def flat_params(params: Mapping[str, Param]) -> dict[str, Param]:
    """Branches spelled out as `optimizer/name`, `optimizer/lr`, ... (first branch's domain wins)."""
    out: dict[str, Param] = {}
    for name, p in params.items():
        if not p.branches:
            out[name] = p
            continue
        out[f"{name}/name"] = Param("choice", tuple(p.options))
        for branch in p.branches:
            for key, sub in flat_params(branch).items():
                if key != "name":
                    out.setdefault(f"{name}/{key}", sub)
    return out


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

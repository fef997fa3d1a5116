"""The experiment file: `yaml.safe_load`, CLI overrides, then pydantic validation.

Every problem found becomes one line `FILE: key: message`; `load_spec` raises
them all together as an InputError, before anything starts Ray.
"""

from __future__ import annotations

import math
import os
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Mapping, Union

import yaml
from pydantic import (BaseModel, ConfigDict, Field, PlainSerializer, ValidationError, ValidationInfo,
                      field_validator, model_validator)
from pydantic.json_schema import SkipJsonSchema

from raytune_app.data import datasets as data_mod
from raytune_app.errors import InputError, did_you_mean
from raytune_app.spec.hyperparams import ACTIVATIONS, CNN_ONLY, OPTIMIZERS, Hyperparams
from raytune_app.spec.metrics import METRICS, SECONDARY, direction
from raytune_app.spec.names import SCHEDULERS, SEARCHERS
from raytune_app.spec.options import (FLAT_ONLY, HYPERBAND_HANG, HYPERBANDS, LEARNING, OPTUNA_SAMPLERS, PAIRED,
                                      RESERVED,
                                      SAMPLER_OPTIONS, SCHEDULER_OPTIONS, SEARCHER_OPTIONS, pbt_mutations,
                                      scheduler_kwargs)
from raytune_app.spec.space import Param, parse_space
from raytune_app.spec.user_code import BUILTIN_MODELS, is_reference, is_user_code, object_marker

INTERNAL_FIELDS = ("source", "warm_start", "extends", "code_dir", "gpu_packing")  # set by the CLI, never read from a file
SEED_MAX = 2**32 - 1  # seeds of NumPy, and so of scikit-learn's splits, HyperOpt and Optuna: 0 .. 2**32 - 1


def saved_code(value: Any) -> Any:
    """A user's code as a saved experiment (JSON) holds it: a reference as written, an object by its name."""
    return object_marker(value) if callable(value) else value


# `model`, `trainable` and `data.loader`: a reference (FILE.py:NAME) in a file; from Python also the object itself,
# which stays an object in the spec and is saved by its name (spec/user_code.py)
Code = Annotated[Union[str, SkipJsonSchema[Callable[..., Any]]], PlainSerializer(saved_code, when_used="json")]
_CODE = "FILE.py:NAME or package.module:NAME (from Python: the object itself)"


class _Strict(BaseModel):
    # strict ints: `max_epochs: 2.5`, `"3"` or `true` are mistakes, not numbers to coerce;
    # no NaN or infinity: `cpus_per_trial: .inf` is a mistake, and the spec is saved as JSON, which has neither
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _named(value: Any) -> Any:
    """`scheduler: asha` and `scheduler: {name: asha, opt: 1}` both become {name, options}."""
    if isinstance(value, str):
        return {"name": value, "options": {}}
    if isinstance(value, Mapping) and "options" not in value:
        named = {"name": value["name"]} if "name" in value else {}
        return {**named, "options": {k: v for k, v in value.items() if k != "name"}}
    return value


class _Named(_Strict):
    """A section given as a bare name or as a mapping of a name and the options of Ray's class."""

    options: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _coerce(cls, value: Any) -> Any:
        return _named(value)


class SchedulerSpec(_Named):
    name: Literal[SCHEDULERS] = "asha"


class SearchSpec(_Named):
    name: Literal[SEARCHERS] = "hyperopt"

    @field_validator("name")
    @classmethod
    def _installed(cls, v: str) -> str:
        import importlib.util

        if v == "bohb" and not all(importlib.util.find_spec(m) for m in ("hpbandster", "ConfigSpace")):
            raise ValueError("bohb needs hpbandster and ConfigSpace: pip install 'raytune-app[bohb]'")
        return v


class DataSpec(_Strict):
    """What the built-in training loop trains on: a built-in data set, a .npz or .csv file, or your loader's data."""

    dataset: str = Field("digits", description="A built-in data set (digits, wine, breast_cancer, diabetes, "
                         "synthetic) or a .npz or .csv file, looked up from the working folder, then beside the "
                         "experiment file")
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="auto: integer or string labels mean classification, float labels regression")
    label: str = Field("label", description=".csv only: the label column")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="The validation split's share of the rows")
    test_fraction: float = Field(0.2, ge=0, lt=1, description="The held-out test split's share of the rows "
                                                              "(0: no test split)")
    seed: int = Field(0, ge=0, le=SEED_MAX, strict=True, description="Seeds the split (and the synthetic data)")
    # synthetic only
    n_samples: int = Field(2000, ge=20, strict=True, description="synthetic only: rows")
    n_features: int = Field(128, ge=2, strict=True, description="synthetic only: features")
    n_classes: int = Field(10, ge=2, strict=True, description="synthetic only: classes")
    n_informative: int | None = Field(None, ge=2, strict=True, description="synthetic only: informative "
                                                                            "features (default: half of them)")
    class_sep: float = Field(1.0, gt=0, description="synthetic only: how far apart the classes lie "
                                                    "(scikit-learn's make_classification)")
    # the user's loader: `data/load.py:load`, called with `args`; in the driver, or in each trial
    loader: Code | None = Field(None, description="Your data loader, FILE.py:NAME or package.module:NAME: returns "
                                                  "(train, val[, test]) or a mapping of them; instead of dataset")
    args: dict[str, Any] = Field({}, description="Keyword arguments for loader")
    on_workers: bool = Field(False, description="Call loader in each trial, where it runs, instead of once in "
                                                "the driver")
    code_dir: str = ""  # the experiment file's folder, set by load_spec: where `loader` is found

    @model_validator(mode="after")
    def _fractions(self):
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError("val_fraction + test_fraction must be below 1")
        return self

    @model_validator(mode="after")
    def _loader(self):
        if self.loader is not None and not is_user_code(self.loader):
            raise ValueError(f"loader must be {_CODE}, got {self.loader!r}")
        if not self.loader and (self.args or self.on_workers):
            raise ValueError("args and on_workers are for a loader: add `loader: FILE.py:NAME`")
        return self


class ResourcesSpec(_Strict):
    """What one trial holds: one process (cpus_per_trial, gpus_per_trial), or with workers_per_trial above 1 that
    many Ray Train workers, each holding cpus_per_worker and gpus_per_worker (data-parallel trials)."""

    cpus_per_trial: float = Field(1.0, gt=0, description="CPUs a one-process trial holds (fractions allowed); "
                                                         "its PyTorch threads follow them")
    gpus_per_trial: float | Literal["auto"] = Field(  # auto: packed by measured memory, see run/gpu_packing.py
        0.0, description="GPUs a one-process trial holds: fractions share a GPU (0.25), auto packs trials on "
                         "GPUs by their measured memory")
    workers_per_trial: int = Field(1, ge=1, strict=True, description="Above 1: data-parallel trials, DDP over "
                                                                     "this many Ray Train workers")
    cpus_per_worker: float = Field(1.0, gt=0, description="With workers_per_trial above 1: CPUs each worker holds")
    gpus_per_worker: float = Field(0.0, ge=0, description="With workers_per_trial above 1: GPUs each worker holds "
                                                          "(fractions allowed)")

    @field_validator("gpus_per_trial", mode="before")
    @classmethod
    def _number_or_auto(cls, v: Any) -> Any:
        ok = v == "auto" or (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < math.inf)
        if not ok:
            raise ValueError(f"must be a number of GPUs (0 or more, fractions allowed) or 'auto', got {v!r}")
        return v

    @property
    def bundle(self) -> tuple[int, float, float]:
        """(workers, CPUs, GPUs of each): what a trial holds on the cluster, as the resource checks count it.
        Only for a resolved spec (gpus_per_trial a number, see run/gpu_packing.py)."""
        if self.workers_per_trial > 1:
            return self.workers_per_trial, self.cpus_per_worker, self.gpus_per_worker
        return 1, self.cpus_per_trial, float(self.gpus_per_trial)


class TrackingSpec(_Strict):
    """Where to track the trials besides the experiment folder."""

    mlflow: str | None = Field(None, description="An MLflow tracking URI: each trial becomes an MLflow run "
                                                 "(needs raytune-app[mlflow])")  # run/tracking.py

    @field_validator("mlflow")
    @classmethod
    def _installed(cls, v: str | None) -> str | None:
        import importlib.util

        if v is not None and importlib.util.find_spec("mlflow") is None:
            raise ValueError("MLflow is not installed: pip install 'raytune-app[mlflow]'")
        return v


class WarmStartSpec(_Strict):
    """Where a warm start came from and how many earlier trials it could use."""

    sources: list[str] = []
    points: int = 0
    skipped: int = 0


class GpuPackingSpec(_Strict):
    """What `gpus_per_trial: auto` measured and chose (run/gpu_packing.py); kept for the summary."""

    gpus_per_trial: float
    reason: str  # one line: what was measured and why this many trials share a GPU (or why none)
    device: str | None = None
    device_gib: float | None = None
    trial_peak_gib: float | None = None
    trials_per_gpu: int | None = None
    largest_config: dict[str, Any] | None = None


# ---------------------------------------------------------------- several objectives (issue 28): the file's models


class ObjectiveSpec(_Strict):
    """One objective: a metric, and whether it is better larger (max) or smaller (min)."""

    name: str = Field(description="A metric the built-in trainer reports (val_accuracy, val_loss, train_loss, "
                                   "val_rmse; after the first: param_count, flops_per_sample, latency_ms, "
                                   "train_seconds) or one your training function reports")
    mode: Literal["min", "max"] = Field(description="max: larger is better; min: smaller is better")


class LimitSpec(_Strict):
    """A limit on a metric's value: at most `le`, or at least `ge` (one of the two)."""

    name: str = Field(description="The metric")
    le: float | None = Field(None, description="At most this value")
    ge: float | None = Field(None, description="At least this value")

    @model_validator(mode="after")
    def _one_bound(self):
        if (self.le is None) == (self.ge is None):
            raise ValueError("give one of le (at most) and ge (at least)")
        return self


class SelectSpec(_Strict):
    """Several objectives: the rule that picks the one model of the Pareto front that commands such as `best` and
    `evaluate` use. By default the front's best primary objective; with `limits`, the best primary among the
    front's models within the limits; with `weights`, the best weighted sum of the objectives, each scaled to
    [0, 1] over the front (1 the best)."""

    limits: list[LimitSpec] = Field([], description="Limits on objectives ({name, le: value} or {name, ge: "
                                                    "value}) within which the best primary is picked")
    weights: dict[str, float] = Field({}, description="A weight (0 or more) per objective: the front's model "
                                                      "with the best weighted sum of scaled objectives is picked")

    @model_validator(mode="after")
    def _one_rule(self):
        if self.limits and self.weights:
            raise ValueError("give limits or weights, not both")
        if self.weights and (min(self.weights.values()) < 0 or not any(self.weights.values())):
            raise ValueError("weights must be 0 or more, one of them above 0")
        return self


def _with_primary(raw: Any) -> Any:
    """A file gives metric and mode, or objectives: the spec holds both, metric and mode being the first
    objective's (the primary). Only values that can pass are copied: the key the user wrote names any problem."""
    if not isinstance(raw, Mapping):
        return raw
    objectives = raw.get("objectives")
    if objectives is None and isinstance(raw.get("metric"), str) and raw.get("mode") in ("min", "max"):
        return {**raw, "objectives": [{"name": raw["metric"], "mode": raw["mode"]}]}
    if isinstance(objectives, list) and objectives and "metric" not in raw and "mode" not in raw:
        first = objectives[0] if isinstance(objectives[0], Mapping) else {}
        name, mode = first.get("name"), first.get("mode")
        return {**raw, "metric": name if isinstance(name, str) else "", "mode": mode if mode in ("min", "max") else "max"}
    return raw


class ExperimentSpec(_Strict):
    """A validated experiment: what to train, how to search, and with what budget."""

    name: str = Field(description="The experiment's folder under storage (default: the file's name, with - for _)")
    metric: str = Field(description="What schedulers and searchers optimise: val_accuracy, val_loss or train_loss "
                                    "(val_rmse for regression), or a metric your training function reports "
                                    "(or give objectives instead of metric and mode)")
    mode: Literal["min", "max"] = Field(description="Whether metric is better when larger (max) or smaller (min)")
    max_epochs: int = Field(10, gt=0, strict=True, description="Epochs of one trial at most (your training "
                                                               "function: reports); the schedulers' max_t")
    num_samples: int = Field(10, gt=0, strict=True, description="Trials (with search: grid, repeats of the grid)")
    seed: int = Field(0, ge=0, le=SEED_MAX, strict=True, description="Seeds the searcher and every trial's training")
    max_concurrent: int | None = Field(None, gt=0, strict=True, description="Trials at once (default: all that "
                                                                            "fit on the cluster)")
    time_budget_s: float | None = Field(None, gt=0, description="Seconds for the whole search, from the "
                                                                "command's start; trials still training then stop")
    max_failures: int = Field(2, ge=-1, strict=True, description="Retries of a failed trial, from its latest "
                                                                 "checkpoint (-1: no limit)")
    data: DataSpec = Field(DataSpec(), description="What the built-in training loop trains on")
    model: Code = Field("mlp", description="mlp, cnn (image-shaped data such as digits), or your model as "
                                           "FILE.py:NAME or package.module:NAME")
    trainable: Code | None = Field(None, description="Your Ray Tune function trainable, FILE.py:NAME or "
                                                     "package.module:NAME; model and data are then not used")
    scheduler: SchedulerSpec = Field(SchedulerSpec(), description="Ray Tune's trial scheduler: a name, or a "
                                                                  "mapping of name and the options of Ray's class")
    search: SearchSpec = Field(SearchSpec(), description="Ray Tune's searcher: a name, or a mapping of name and "
                                                         "its options (hyperopt; random with pbt, bohb with hb_bohb)")
    resources: ResourcesSpec = Field(ResourcesSpec(), description="What each trial holds on the cluster")
    checkpoint_every: int = Field(5, gt=0, strict=True, description="Epochs between a trial's regular checkpoints: "
                                                                    "a resume loses at most checkpoint_every - 1 "
                                                                    "epochs of it. Besides these, an epoch is saved "
                                                                    "when it can be the experiment's best, and every "
                                                                    "epoch under hyperband, hb_bohb and pbt")
    keep_checkpoints: int = Field(2, gt=0, strict=True, description="Once the run ends, each trial keeps its best "
                                                                    "N checkpoints by the metric and its latest "
                                                                    "(pbt: all)")
    storage: str = Field("./runs", description="Results folder, or a URI (s3://..., gs://...) that every node "
                                               "can reach; an experiment goes to STORAGE/NAME")
    tracking: TrackingSpec = Field(TrackingSpec(), description="Tracking besides the experiment folder")
    space: dict[str, Any] = Field({}, description="The search space: hyperparameter names, each a constant or "
                                                  "a distribution")
    source: str = ""  # the file this spec came from
    warm_start: WarmStartSpec | None = None  # set by --warm-start / extend, not in files
    extends: str | None = None
    code_dir: str = ""  # the experiment file's folder: where the user's code is found (and what ships to nodes)

    # several objectives (issue 28): `objectives` instead of metric and mode (a file with those has one objective)
    objectives: list[ObjectiveSpec] = Field(
        [], min_length=1, description="Several objectives instead of metric and mode: a list of {name, mode}. The "
                                      "first is the primary: it ranks a trial's epochs, and schedulers that rank one "
                                      "metric use it")
    constraints: list[LimitSpec] = Field([], description="Several objectives: limits ({name, le: value} or {name, "
                                                         "ge: value}) that a trial must meet to enter the Pareto "
                                                         "front")
    select: SelectSpec = Field(SelectSpec(), description="Several objectives: how the one model is picked from the "
                                                         "Pareto front")

    @model_validator(mode="before")
    @classmethod
    def _primary(cls, raw: Any) -> Any:
        return _with_primary(raw)

    @field_validator("objectives")
    @classmethod
    def _first_is_primary(cls, v: list[ObjectiveSpec], info: ValidationInfo) -> list[ObjectiveSpec]:
        metric, mode = info.data.get("metric"), info.data.get("mode")
        if v and (v[0].name, v[0].mode) != (metric, mode):
            raise ValueError(f"give either objectives or metric and mode, not both (the first objective is the "
                             f"metric: {v[0].name} {v[0].mode}, got {metric} {mode})")
        return v

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def secondary_metrics(self) -> tuple[str, ...]:
        """What the built-in loop measures of each trial's model because an objective or constraint names it."""
        named = {o.name for o in self.objectives} | {c.name for c in self.constraints}
        return () if self.trainable else tuple(m for m in SECONDARY if m in named)

    @field_validator("model")
    @classmethod
    def _model(cls, v: Any) -> Any:
        if v not in BUILTIN_MODELS and not is_user_code(v):
            raise ValueError(f"must be mlp, cnn, or your model as {_CODE}, got {v!r}"
                             f"{did_you_mean(v, BUILTIN_MODELS) if isinstance(v, str) else ''}")
        return v

    @field_validator("trainable")
    @classmethod
    def _trainable(cls, v: Any) -> Any:
        if v is not None and not is_user_code(v):
            raise ValueError(f"must be your training function as {_CODE}, got {v!r}")
        return v

    @property
    def user_code(self) -> bool:
        """Whether the experiment runs the user's own code (model, loader or training function)."""
        return bool(self.trainable or self.data.loader or is_user_code(self.model))

    @property
    def code_files(self) -> bool:
        """Whether that code is named by references to files or modules, found from the code folder (which then
        ships to the nodes); objects given from Python travel inside the trials' settings instead."""
        return any(is_reference(v) for v in (self.model, self.trainable, self.data.loader))
    gpu_packing: GpuPackingSpec | None = None  # set when gpus_per_trial: auto was resolved, not in files

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", v):
            raise ValueError(f"must be letters, digits, '.', '_' or '-', got {v!r}")
        return v

    @property
    def params(self) -> dict[str, Param]:
        return parse_space(self.space)[0]

    @property
    def trial_count(self) -> int:
        """Trials the search will run: num_samples, times the grid's size when there is a grid."""
        return self.num_samples * math.prod(len(p.args) for p in self.params.values() if p.kind == "grid")

    @property
    def task(self) -> str | None:
        return data_mod.task_of(self.data)


def _pydantic_problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        loc = [p if isinstance(p, int) else str(p) for p in err["loc"]
               if not str(p).startswith(("function-", "literal["))]
        key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "(file)"
        loc = [p for p in loc if not isinstance(p, int)]  # a list's item (objectives[1]) has its list's model
        if err["type"] == "extra_forbidden":
            model: Any = ExperimentSpec
            for part in loc[:-1]:  # walk down to the section holding the unknown key
                field = getattr(model, "model_fields", {}).get(part)
                model = field.annotation if field is not None else None
                model = typing.get_args(model)[0] if typing.get_origin(model) is list else model
            known = [k for k in getattr(model, "model_fields", {}) if k not in INTERNAL_FIELDS]
            out.append((key, f"unknown key{did_you_mean(loc[-1], known)}"))
        elif err["type"] == "literal_error":
            options = re.findall(r"'([^']*)'", err.get("ctx", {}).get("expected", ""))
            out.append((key, f"{err['msg'].lower()}, got {err['input']!r}{did_you_mean(err['input'], options)}"))
        elif err["type"] == "missing":
            out.append((key, "is required"))
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if not msg[:2].isupper():  # "Input should be..." reads on after the key; "MLflow" keeps its case
                msg = msg[0].lower() + msg[1:]
            out.append((key, f"{msg}, got {err['input']!r}" if "got" not in msg else msg))
    return out


def _option_problems(section: str, name: str, allowed: tuple[str, ...],
                     options: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Options that the Ray class behind `name` does not take (Ray would drop them silently or fail later),
    and options raytune-app sets itself from another key of the file."""
    problems = []
    for key in options:
        if key in RESERVED:
            problems.append((f"{section}.{key}", f"set by raytune-app from `{RESERVED[key]}`; not an option here"))
        elif key not in allowed:
            problems.append((f"{section}.{key}", f"not an option of {name}{did_you_mean(key, allowed)}"))
    return problems


def _scheduler_problems(spec: ExperimentSpec) -> list[tuple[str, str]]:
    problems = _option_problems("scheduler", spec.scheduler.name, SCHEDULER_OPTIONS[spec.scheduler.name],
                                spec.scheduler.options)
    search = spec.search.name
    problems += _option_problems("search", search, SEARCHER_OPTIONS[search] + SAMPLER_OPTIONS.get(search, ()),
                                 spec.search.options)
    options, scheduler = spec.scheduler.options, spec.scheduler.name
    if scheduler in HYPERBANDS and options.get("stop_last_trials", False) is not False:
        problems.append(("scheduler.stop_last_trials", f"{HYPERBAND_HANG}; leave it out (raytune-app sets false)"))
    if scheduler in HYPERBANDS and options.get("max_t", spec.max_epochs) != spec.max_epochs:
        problems.append(("scheduler.max_t", f"{scheduler}'s last round trains to max_epochs ({spec.max_epochs}); "
                                            "set max_epochs instead"))
    together = "BOHB is Ray's TuneBOHB and HyperBandForBOHB together"
    if PAIRED.get(search, scheduler) != scheduler:
        problems.append(("search", f"{search} works only with `scheduler: {PAIRED[search]}` ({together})"))
    if PAIRED.get(scheduler, search) != search:
        problems.append(("scheduler", f"{scheduler} works only with `search: {PAIRED[scheduler]}` ({together})"))
    grace = scheduler_kwargs(spec).get("grace_period")
    if isinstance(grace, (int, float)) and grace > spec.max_epochs:
        problems.append(("scheduler.grace_period", f"{grace} is above max_epochs ({spec.max_epochs})"))
    if spec.scheduler.name == "pbt" and not pbt_mutations(spec):
        problems.append(("space", "pbt needs at least one of lr, weight_decay, momentum, dropout, "
                                  "batch_size sampled in space"))
    return problems


def _space_problems(spec: ExperimentSpec, params: dict[str, Param]) -> list[tuple[str, str]]:
    problems = []
    known = set(Hyperparams.__dataclass_fields__) - {"extra"}
    if spec.model != "cnn":
        known -= set(CNN_ONLY)

    def unknown(key: str, name: str) -> tuple[str, str]:
        return key, f"not a hyperparameter the {spec.model} trainer understands{did_you_mean(name, known)}"

    builtin = not spec.trainable and spec.model in BUILTIN_MODELS  # else user_code_problems checks the names
    for name, param in params.items() if builtin else ():
        if name not in known:
            problems.append(unknown(f"space.{name}", name))
            continue
        problems += [unknown(f"space.{name}.choice[{i}].{k}", k)
                     for i, branch in enumerate(param.branches) for k in branch if k != "name" and k not in known]
        allowed = {"activation": ACTIVATIONS, "optimizer": OPTIMIZERS}.get(name)
        for value in (param.options or []) if allowed else []:
            if value not in allowed:
                problems.append((f"space.{name}", f"unknown {name} {value!r}{did_you_mean(value, allowed)};"
                                                  f" one of {', '.join(allowed)}"))
    search = spec.search.name
    grids = [n for n, p in params.items() if p.kind == "grid"]
    if grids and search in LEARNING:
        problems.append((f"space.{grids[0]}", f"grid needs `search: grid` or `random` ({search} cannot grid)"))
    branched = [n for n, p in params.items() if p.branches]
    if branched and search in FLAT_ONLY:
        problems.append((f"space.{branched[0]}", f"a conditional choice needs `search: hyperopt` or `random` "
                                                 f"(Ray's {search} searcher takes flat spaces only)"))
    quantized = [n for n, p in params.items() if p.kind == "quniform"]
    if quantized and search == "bohb":  # Ray's TuneBOHB drops q with a warning: values would not be multiples of q
        problems.append((f"space.{quantized[0]}", "bohb cannot quantize: use `int` or `choice` instead of quniform"))
    if spec.search.name == "grid" and not grids:
        problems.append(("search", "grid search needs at least one `grid: [...]` entry in space"))
    return problems


def _resource_problems(spec: ExperimentSpec) -> list[tuple[str, str]]:
    """Per-trial and per-worker keys do not mix: each kind of trial reads only its own, and a key of the other
    kind asking for more than its default would be ignored (at its default, as some files spell it, it is fine)."""
    r = spec.resources
    asked = [k for k, v in r if v != ResourcesSpec.model_fields[k].default]
    if r.workers_per_trial > 1:
        problems = [(f"resources.{k}", f"is for one-process trials; with workers_per_trial > 1 set "
                                       f"{k.replace('trial', 'worker')} (what each of the {r.workers_per_trial} "
                                       "workers holds)") for k in ("cpus_per_trial", "gpus_per_trial") if k in asked]
        if spec.trainable:
            problems.append(("resources.workers_per_trial", "the built-in loop's data-parallel trials; your training "
                                                            "function can start a Ray Train TorchTrainer itself"))
        if spec.data.on_workers:
            problems.append(("resources.workers_per_trial", "data-parallel trials take the data from the driver; "
                                                            "not with data.on_workers"))
        return problems
    problems = [(f"resources.{k}", f"needs workers_per_trial > 1; a one-process trial holds "
                                   f"{k.replace('worker', 'trial')}") for k in ("cpus_per_worker", "gpus_per_worker")
                if k in asked]
    if r.gpus_per_trial == "auto" and spec.trainable:
        # the probe measures the GPU memory of one step of the built-in loop (run/gpu_packing.py); a training
        # function's own loop is known only to it
        problems.append(("resources.gpus_per_trial", "auto measures one training step of the built-in loop; a "
                                                     "training function (trainable) trains its own way: give a "
                                                     "number of GPUs"))
    return problems


def _cross_problems(spec: ExperimentSpec) -> list[tuple[str, str]]:
    problems = []
    task = spec.task
    known = {m for ms in METRICS.values() for m in ms}
    # a user's function reports metrics of its own (its first report is checked); their direction is `mode`,
    # checked only for the names the built-in trainer reports
    if not spec.trainable and task and spec.metric not in METRICS[task]:
        problems.append(("metric", f"{spec.metric!r} is not reported for {task} data; "
                                   f"one of {', '.join(METRICS[task])}"))
    elif not spec.trainable and not task and spec.metric not in known:
        problems.append(("metric", f"{spec.metric!r} is not a metric the trainer reports"))
    expected = direction(spec.metric)
    if not problems and spec.mode != expected and (spec.metric in known or not spec.trainable):
        problems.append(("mode", f"{spec.metric} should be optimised with mode {expected!r}, got {spec.mode!r}"))
    if spec.scheduler.name == "pbt" and spec.search.name in LEARNING:
        problems.append(("search", "pbt explores by itself: use `search: random` with it"))
    return problems


# ------------------------------------------------------------- several objectives (issue 28): the file's checks
# the searchers and schedulers that rank one number: Ray's HyperOpt and BOHB searchers take one metric, PBT copies
# the weights of the trials best by one metric, and HyperBandForBOHB works only with BOHB
ONE_METRIC_SEARCHERS = ("hyperopt", "bohb")
ONE_METRIC_SCHEDULERS = ("pbt", "hb_bohb")


def _objective_problems(spec: ExperimentSpec) -> list[tuple[str, str]]:
    """Objectives after the primary (which _cross_problems checks as `metric`), constraints, select, and the
    searchers and schedulers that several objectives allow."""
    problems = []
    reported = set(METRICS.get(spec.task, {m for ms in METRICS.values() for m in ms})) | set(SECONDARY)
    names = [o.name for o in spec.objectives]
    for i, o in enumerate(spec.objectives[1:], 1):
        if o.name in names[:i]:
            problems.append((f"objectives[{i}].name", f"{o.name!r} is listed twice"))
        elif not spec.trainable and o.name not in reported:
            problems.append((f"objectives[{i}].name", f"{o.name!r} is not a metric the trainer reports"
                                                      f"{f' for {spec.task} data' if spec.task else ''}; one of "
                                                      f"{', '.join(sorted(reported))}{did_you_mean(o.name, reported)}"))
        elif o.name in reported and o.mode != direction(o.name):
            problems.append((f"objectives[{i}].mode", f"{o.name} should be optimised with mode "
                                                      f"{direction(o.name)!r}, got {o.mode!r}"))
    for i, c in enumerate(spec.constraints):
        if not spec.trainable and c.name not in reported:
            problems.append((f"constraints[{i}].name", f"{c.name!r} is not a metric the trainer reports; one of "
                                                       f"{', '.join(sorted(reported))}{did_you_mean(c.name, reported)}"))
    for key, named in [(f"select.limits[{i}].name", limit.name) for i, limit in enumerate(spec.select.limits)] + \
                      [(f"select.weights.{name}", name) for name in spec.select.weights]:
        if named not in names:
            problems.append((key, f"{named!r} is not an objective; one of {', '.join(names)}"))
    if not spec.multi_objective:
        written = [k for k in ("constraints", "select") if getattr(spec, k) != ExperimentSpec.model_fields[k].default]
        return problems + [(k, "needs several objectives (`objectives:` with two or more)") for k in written]
    alternatives = "optuna (sampler tpe, nsga2 or gp), random or grid"
    if spec.search.name in ONE_METRIC_SEARCHERS:
        problems.append(("search", f"{spec.search.name} optimises one metric; with several objectives use "
                                   f"{alternatives}"))
    if spec.scheduler.name in ONE_METRIC_SCHEDULERS:
        problems.append(("scheduler", f"{spec.scheduler.name} ranks trials by one metric; with several objectives "
                                      "use pareto_asha or fifo (or asha, hyperband, median on the primary alone)"))
    if "evaluated_rewards" in spec.search.options:
        problems.append(("search.evaluated_rewards", "Ray's OptunaSearch takes one value per point; with several "
                                                     "objectives warm-start from earlier experiments instead "
                                                     "(--warm-start, extend)"))
    return problems


def _sampler_problems(spec: ExperimentSpec) -> list[tuple[str, str]]:
    """`search: {name: optuna, sampler: NAME, ...}`: a sampler Optuna has, the options of that sampler, and a
    population that NSGA-II can breed generations of within the trials."""
    options = spec.search.options
    if spec.search.name != "optuna":
        return []
    sampler = options.get("sampler", "tpe")
    if sampler not in OPTUNA_SAMPLERS:
        return [("search.sampler", f"must be one of {', '.join(OPTUNA_SAMPLERS)}, got {sampler!r}"
                                   f"{did_you_mean(sampler, OPTUNA_SAMPLERS)}")]
    others = {o for s, opts in OPTUNA_SAMPLERS.items() if s != sampler for o in opts} - set(OPTUNA_SAMPLERS[sampler])
    problems = [(f"search.{k}", f"not an option of Optuna's {sampler} sampler (one of "
                                f"{', '.join(OPTUNA_SAMPLERS[sampler])})") for k in options if k in others]
    population = options.get("population_size")
    if sampler == "nsga2" and isinstance(population, int) and 2 * population > spec.trial_count:
        problems.append(("search.population_size", f"NSGA-II breeds each generation of {population} trials from "
                                                   f"the one before: it needs {2 * population} trials or more, "
                                                   f"num_samples gives {spec.trial_count}"))
    return problems


def _primary_keys(problems: list[tuple[str, str]], raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Problems of `metric` and `mode` named by the key the file wrote: the first objective's."""
    if "objectives" not in raw or {"metric", "mode"} & set(raw):
        return problems
    keys = {"metric": "objectives[0].name", "mode": "objectives[0].mode"}
    return [(keys.get(k, k), m) for k, m in problems]


def _objective_defaults(raw: dict[str, Any]) -> None:
    """With several objectives, a file that names no searcher or scheduler gets ones that keep the front:
    Optuna's TPE (the default HyperOpt takes one metric) and pareto_asha (ASHA ranks one metric)."""
    if isinstance(raw.get("objectives"), list) and len(raw["objectives"]) > 1:
        raw.setdefault("search", "optuna")
        raw.setdefault("scheduler", "pareto_asha")


def _written_problems(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Keys written together that exclude each other (the saved spec holds every key: checked on files only)."""
    problems = []
    data = raw.get("data") if isinstance(raw.get("data"), Mapping) else {}
    if data.get("loader") and "dataset" in data:
        problems.append(("data", "give either dataset or loader, not both"))
    if "objectives" in raw and {"metric", "mode"} & set(raw):
        problems.append(("objectives", "give either objectives or metric and mode, not both"))
    if raw.get("trainable") and {"model", "data"} & set(raw):
        problems.append(("trainable", "a training function builds its own model and loads its own data: "
                                      "remove `model` and `data`"))
    return problems


def _non_finite(value: Any, key: str = "") -> list[tuple[str, str]]:
    """NaN and infinities anywhere in the file, with their keys: never a setting (the spec is saved as JSON,
    which has neither), also where no other check looks (space values, options, a loader's args)."""
    if isinstance(value, float) and not math.isfinite(value):
        return [(key, f"must be a finite number, got {value}")]
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in _non_finite(v, f"{key}.{k}" if key else str(k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _non_finite(v, f"{key}[{i}]")]
    return []


def _with_non_finite(problems: list[tuple[str, str]], raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """`problems` plus the non-finite values that none of them already names (itself or a key above it)."""
    named = [k for k, _ in problems]
    return problems + [(k, m) for k, m in _non_finite(raw)
                       if not any(k == n or k.startswith((f"{n}.", f"{n}[")) for n in named)]


def read_yaml(path: Path) -> dict[str, Any]:
    """The file's top-level mapping; InputError naming the line on YAML syntax errors."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError([f"{path}: {where}YAML syntax error: {what}"]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError([f"{path}: the file must be a mapping of keys, got {type(raw).__name__}"])
    return raw


def apply_overrides(raw: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """CLI flags over file values; dotted keys reach into sections (`resources.cpus_per_trial`)."""
    out = dict(raw)
    for key, value in overrides.items():
        if value is None:
            continue
        head, _, rest = key.partition(".")
        if rest:
            section = out.get(head)
            out[head] = {**(section if isinstance(section, dict) else {}), rest: value}
        elif key in ("scheduler", "search"):
            current = _named(out.get(key)) if out.get(key) is not None else None
            same = isinstance(current, dict) and current.get("name") == value
            out[key] = current if same else value  # keep the file's options for the same name only
        else:
            out[key] = value
    return out


def revalidated(spec: ExperimentSpec, source: str, **changes: Any) -> ExperimentSpec:
    """The spec with `changes`, each checked like a value of the file (pydantic's `model_copy(update=...)`
    checks nothing: `extend --name ../x` once wrote outside the storage folder); InputError naming `source`."""
    try:
        return ExperimentSpec.model_validate({**spec.model_dump(), **changes})
    except ValidationError as exc:
        raise InputError((f"{source}: {k}: {m}" for k, m in _pydantic_problems(exc)), file=source) from None


def _with_data_path(spec: ExperimentSpec, base: Path) -> ExperimentSpec:
    """A relative data path is looked up from the working folder, then beside the file."""
    name = spec.data.dataset
    if name in data_mod.BUILTIN:
        return spec
    found = Path(name).expanduser()
    if not found.is_absolute() and not found.exists() and (base / found).exists():
        found = base / found
    return revalidated(spec, str(spec.source), data={**spec.data.model_dump(), "dataset": str(found.resolve())})


# the overrides `raytune_app.tune()` takes by name, as the CLI's flags do: name -> the key of the experiment they set
OVERRIDES = {
    "scheduler": "scheduler", "search": "search", "cpus_per_trial": "resources.cpus_per_trial",
    "gpus_per_trial": "resources.gpus_per_trial", "workers_per_trial": "resources.workers_per_trial",
    "cpus_per_worker": "resources.cpus_per_worker", "gpus_per_worker": "resources.gpus_per_worker",
    "max_concurrent": "max_concurrent", "num_samples": "num_samples", "max_epochs": "max_epochs",
    "time_budget": "time_budget_s", "max_failures": "max_failures", "seed": "seed", "storage": "storage",
    "name": "name", "mlflow": "tracking.mlflow",
}
DICT_SOURCE = "experiment"  # how problems name an experiment given as a dict (or an object) rather than a file


def override_keys(overrides: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Overrides by name (`cpus_per_trial=2`) as keys of the experiment (`resources.cpus_per_trial`);
    InputError naming an unknown one."""
    unknown = [k for k in overrides if k not in OVERRIDES]
    if unknown:
        raise InputError([f"{source}: {k}: not an override; one of {', '.join(OVERRIDES)}"
                          f"{did_you_mean(k, OVERRIDES)}" for k in unknown])
    return {OVERRIDES[k]: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in overrides.items()}


def _raw_source(source: Any) -> tuple[dict[str, Any], str, Path, str]:
    """(its keys, how problems name it, the folder its relative paths start from, its default name) of an
    experiment file's path, a dict of the same keys, or a validated spec."""
    if isinstance(source, ExperimentSpec):
        raw = source.model_dump(exclude=set(INTERNAL_FIELDS) | {"source"}, exclude_defaults=True)
        file = Path(source.source) if source.source not in ("", DICT_SOURCE) else None
        return raw, source.source or DICT_SOURCE, file.parent if file else Path.cwd(), source.name
    if isinstance(source, Mapping):
        return dict(source), DICT_SOURCE, Path.cwd(), DICT_SOURCE
    path = Path(source)
    return read_yaml(path), str(path), path.parent, path.stem.replace("_", "-")


def load_spec(source: Any, overrides: Mapping[str, Any] | None = None) -> ExperimentSpec:
    """Read, override and validate an experiment: a file's path, a dict of the file's keys (the user's code may
    be the objects themselves), or a spec; `overrides` are keys of the experiment (`resources.cpus_per_trial`).
    Raises InputError with every problem, each line naming the file (or `experiment`) and the key."""
    raw, label, base, default_name = _raw_source(source)
    raw = apply_overrides(raw, overrides or {})
    raw.setdefault("name", default_name)
    scheduler = _named(raw.get("scheduler"))
    if isinstance(scheduler, dict) and scheduler.get("name") in ("pbt", "hb_bohb") and "search" not in raw:
        # PBT explores by itself (Ray refuses it with a searcher); HyperBandForBOHB works only with TuneBOHB
        raw["search"] = {"pbt": "random", "hb_bohb": "bohb"}[scheduler["name"]]
    _objective_defaults(raw)
    for key in INTERNAL_FIELDS:
        raw.pop(key, None)
    raw["source"] = label
    try:
        spec = ExperimentSpec.model_validate(raw)
    except ValidationError as exc:
        problems = _pydantic_problems(exc)
        _, space_problems = parse_space(raw.get("space"))
        raise InputError((f"{label}: {k}: {m}" for k, m in _with_non_finite(problems + space_problems, raw)),
                         file=label) from None
    spec = _with_data_path(spec, base)
    if spec.code_files:
        code_dir = str(base.resolve())
        spec = revalidated(spec, label, code_dir=code_dir, data={**spec.data.model_dump(), "code_dir": code_dir})
    params, problems = parse_space(spec.space)
    problems += (_space_problems(spec, params) + _cross_problems(spec) + _scheduler_problems(spec)
                 + _written_problems(raw) + _resource_problems(spec))
    problems = _primary_keys(problems, raw) + _objective_problems(spec) + _sampler_problems(spec)
    problems = _with_non_finite(problems, raw)
    if spec.user_code and not problems:
        from raytune_app.spec.user_code import user_code_problems

        problems += user_code_problems(spec, params)
    if problems:
        raise InputError((f"{label}: {k}: {m}" for k, m in problems), file=label)
    return spec

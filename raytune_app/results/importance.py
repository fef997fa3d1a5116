"""Hyperparameter importance: Optuna's PED-ANOVA over the trials, compared at the same fidelity.

A scheduler stops poor trials early, so trials end at different epochs. Comparing an early-stopped
trial's epoch-1 value with a finished trial's epoch-30 value would credit whatever hyperparameter
decided how long a trial ran; so trials are compared at a fidelity (an epoch) they all reached, by
their best value up to that epoch. The fidelities are the epochs where trials ended (the scheduler's
rungs and the last epoch) that enough trials reached (see `fidelities`), the highest MAX_FIDELITIES of them.

PED-ANOVA (Optuna's default evaluator, fast even for thousands of trials and aware of conditional
hyperparameters) says how differently each hyperparameter is distributed among the best trials than
among all of them: how much it matters to get into the top. Importances are normalised to sum to 1.
Beyond SAMPLED trials at a fidelity they rest on a random sample of that many (the same one every time):
handing Optuna 10,000 trials took most of a report's time, and a sample that size shows the same
distributions.
"""

from __future__ import annotations

import importlib
import math
import random
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Mapping

from raytune_app.results import best as best_rule
from raytune_app.results.reader import Experiment, Trial, progress
from raytune_app.spec.space import DISCRETE, Param, flat_params, flatten, parse_space

MIN_TRIALS = 8  # fewer trials at one fidelity cannot say which hyperparameter matters
QUORUM = 0.25  # ... nor fewer than this share of the trials
MAX_FIDELITIES = 3
TOP_TRIALS = 5  # PED-ANOVA's top quantile holds at least this many trials (as Optuna advises)
LOG_KINDS = ("loguniform", "logint")
SAMPLED = 2000  # trials at one fidelity beyond which the importances rest on a random sample of this many


@dataclass(frozen=True)
class Importance:
    """The importances of the hyperparameters at one fidelity."""

    epoch: int  # trials are compared by their best value up to this epoch
    trials: int  # how many trials the figures rest on
    scores: dict[str, float]  # hyperparameter -> share, summing to 1, largest first
    reached: int = 0  # how many trials reached the epoch (more than `trials` when they were sampled)


def searched(e: Experiment) -> dict[str, Param]:
    """The experiment's sampled hyperparameters by flattened name (`optimizer/lr`), with their distributions."""
    params, _ = parse_space(e.spec.get("space"))
    return {name: p for name, p in flat_params(params).items() if p.kind != "constant"}


def value_at(e: Experiment, t: Trial, epoch: int) -> float | None:
    """The trial's best value of the metric up to `epoch`, if it reached that epoch (None otherwise).

    Checkpoints do not matter here (the rule for best may restrict itself to checkpointed epochs so that a
    score and its model go together): only what the config achieved with that much training."""
    if t.epochs < epoch:
        return None
    row = best_rule.best_epoch([r for r in t.rows if progress(r) <= epoch], e.metric, e.mode,
                               checkpointed_only=False)
    return None if row is None else float(row[e.metric])


def fidelities(e: Experiment) -> list[tuple[int, int]]:
    """The epochs to compare trials at, highest first, each with how many trials have a value there.

    An epoch qualifies when a trial ended there (a scheduler's rung, the last epoch, a failure) and at least
    MIN_TRIALS trials and a QUORUM of all trials reached it; a lower one only when it brings half as many
    trials again (epochs 27 and 30 reached by nearly the same trials say the same)."""
    # (first epoch with a usable value, last epoch) of each trial: it has a value at the epochs in between
    spans = [(min(progress(r) for r in usable), t.epochs) for t in e.trials
             if (usable := [r for r in t.rows if best_rule.usable(r, e.metric, checkpointed_only=False)])]
    need = max(MIN_TRIALS, math.ceil(QUORUM * len(spans)))
    chosen: list[tuple[int, int]] = []
    for epoch in sorted({last for _, last in spans}, reverse=True):
        n = sum(first <= epoch <= last for first, last in spans)
        if n >= need and (not chosen or n >= 1.5 * chosen[-1][1]):
            chosen.append((epoch, n))
    return chosen[:MAX_FIDELITIES]


def _distribution(param: Param | None, values: list[Any]):
    """Optuna's distribution for the values a hyperparameter took (None when it did not vary)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    distinct = sorted(set(values), key=str)
    if len(distinct) < 2:
        return None
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in distinct)
    if not numeric or (param is not None and param.kind in DISCRETE):
        return CategoricalDistribution(distinct)
    low, high = min(distinct), max(distinct)
    log = param is not None and param.kind in LOG_KINDS and low > 0
    if all(isinstance(v, int) for v in distinct):
        return IntDistribution(int(low), int(high), log=log)
    return FloatDistribution(float(low), float(high), log=log)


def _plain(value: Any) -> Any:
    """A config value as Optuna can hold it: lists (a grid of layer sizes) become text."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def _optuna_importance():
    """Optuna's importance module, imported without scikit-learn where nothing has imported it yet.

    Optuna's package imports its fANOVA evaluator, which imports scikit-learn's random forest if it can
    (optionally: Optuna catches the ImportError). PED-ANOVA needs none of it, and scikit-learn's import is
    most of a 32-trial report's time (1.5 s of 2.5 s), so for this one import Python is told it is missing."""
    if "optuna.importance" in sys.modules or "sklearn" in sys.modules:
        return importlib.import_module("optuna.importance")
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # the import system's "not available"
    try:
        return importlib.import_module("optuna.importance")
    finally:
        del sys.modules["sklearn"]


def evaluate(configs: Mapping[str, Mapping[str, Any]], values: Mapping[str, float], mode: str,
             space: Mapping[str, Param] | None = None) -> dict[str, float]:
    """Importance of each hyperparameter for `values` (trial id -> value, compared at one fidelity),
    normalised to sum to 1, largest first; {} when the metric or no hyperparameter varied."""
    import optuna

    optuna_importance = _optuna_importance()
    flat = {tid: {k: _plain(v) for k, v in flatten(configs[tid]).items()} for tid in values}
    names = sorted({k for c in flat.values() for k in c if space is None or k in space})
    dists = {n: _distribution((space or {}).get(n), [c[n] for c in flat.values() if n in c]) for n in names}
    dists = {n: d for n, d in dists.items() if d is not None}
    if not dists or len(set(values.values())) < 2:
        return {}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if mode == "max" else "minimize")
    study.add_trials([optuna.trial.create_trial(
        params={n: c[n] for n in dists if n in c}, distributions={n: dists[n] for n in dists if n in c},
        value=values[tid]) for tid, c in flat.items()])
    quantile = min(0.5, max(0.1, TOP_TRIALS / len(values)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna's notes on small studies: the caller says how many trials
        scores = optuna_importance.get_param_importances(
            study, evaluator=optuna_importance.PedAnovaImportanceEvaluator(target_quantile=quantile))
    total = sum(scores.values())
    return {n: float(s) / total for n, s in scores.items()} if total > 0 and math.isfinite(total) else {}


def _trials(found: Importance) -> str:
    """How many trials an importance rests on, and whether they were sampled."""
    if found.reached > found.trials:
        return f"a random sample of {found.trials:,} of the {found.reached:,} trials that reached it"
    return f"{found.trials} trials"


def importances(e: Experiment) -> tuple[list[Importance], str]:
    """The importances at each fidelity (highest first), and a note of what they rest on or why there are none."""
    space = searched(e)
    found = []
    for epoch, _ in fidelities(e):
        values = {t.trial_id: v for t in e.trials if (v := value_at(e, t, epoch)) is not None}
        reached = len(values)
        if reached > SAMPLED:
            values = {tid: values[tid] for tid in random.Random(epoch).sample(sorted(values), SAMPLED)}
        scores = evaluate({t.trial_id: t.config for t in e.trials}, values, e.mode, space)
        if scores:
            found.append(Importance(epoch, len(values), scores, reached))
    if not found:
        return [], (f"Not enough to estimate importance: it needs {MIN_TRIALS} trials with a finite {e.metric} "
                    f"at the same epoch, and a metric and hyperparameters that vary.")
    top = found[0]
    note = (f"Importance (Optuna's PED-ANOVA, normalised to sum to 1): how much each hyperparameter sets the best "
            f"trials apart from the rest. Trials are compared at the same epoch, by their best {e.metric} up to "
            f"it; at epoch {top.epoch} it rests on {_trials(top)}"
            + "".join(f", at epoch {i.epoch} on {_trials(i)}" for i in found[1:]) + ".")
    return found, note

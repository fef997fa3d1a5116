"""Search quality per wall-clock second: raytune-app against Optuna and Syne Tune on equal budgets.

    make bench        (or: .venv/bin/pip install -e '.[bench]' && .venv/bin/python benchmarks/compare.py)

Every method gets the same budget, counted from its command's start: raytune-app as `raytune-app tune FILE
--time-budget T`, Optuna as one worker process per core on one JournalStorage, the workers stopping at start + T,
Syne Tune's ASHA through its LocalBackend (syne_tune_trial.py), one trial process per core. Every method trains the
same models with the same code (raytune_app.trial.models / loop) on the same split of the same data, over the same
search space, with trials limited by the budget alone (--num-samples).

One run per method and seed, at the largest budget; each smaller budget T is read off that run's first T seconds.
Nothing in any method knows its budget (ASHA, HyperOpt, Optuna's TPE and Hyperband pruner decide alike whenever the
run will end), so a run's first T seconds are what a run of budget T would have done. Seeds are the outer loop and
methods the inner one, so that a machine's drift falls on every method alike.

One clock: each epoch's float wall time, from the command's start; only results by start + T count. Printed: per
task and budget, the median and interquartile range over seeds of the best validation accuracy by T, the held-out
test accuracy of the trial and epoch each method picked by T (raytune-app: that epoch's checkpoint, picked by the
one rule for best; the peers: the trial retrained to that epoch with its seed, then scored), the seconds to two
accuracy targets (the median over every seed, one that never reached a target counting as the latest, and how many
reached it), the epochs trained by T and the seconds to the first result. Written:
anytime curves (best-so-far validation accuracy against wall time, median and interquartile range over seeds), a
panel per task, to docs/assets/compare.png (the docs' Performance page shows it); with --raw, every run's figures as
JSON lines, which --tables-from prints and draws again (so runs of several invocations, or of levers tried later,
combine). The docs' tables are generated from those JSON lines in benchmarks/results (`python -m docs.gen`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import jsonl  # noqa: E402
from raytune_app.spec.load import load_spec  # noqa: E402

# more trials than any budget here allows, so that the budget ends every search (200 ran out in 35 to 85 s)
NUM_SAMPLES = 2000
METRIC = "val_accuracy"


@dataclass(frozen=True)
class Task:
    file: Path
    targets: tuple[float, float]  # validation accuracies near the task's best


TASKS = {
    "mlp_synthetic": Task(REPO / "search_spaces" / "mlp_synthetic.yaml", (0.82, 0.84)),
    "cnn_digits": Task(REPO / "search_spaces" / "cnn_digits.yaml", (0.97, 0.98)),
    "mlp_digits": Task(REPO / "search_spaces" / "mlp_digits.yaml", (0.97, 0.98)),  # the default job
}


@dataclass
class Run:
    """One method's run of one seed: (seconds from the command's start, val accuracy) per epoch, the test
    accuracy of its pick by each budget, and how long the whole command took."""

    task: str
    method: str
    seed: int
    points: list[tuple[float, float]]
    tests: dict[float, float | None]
    wall_s: float

    def best_by(self, t: float) -> float:
        return max((acc for s, acc in self.points if s <= t), default=float("nan"))

    def time_to(self, target: float, budget: float) -> float:
        return min((s for s, acc in self.points if acc >= target and s <= budget), default=float("inf"))

    def epochs_by(self, t: float) -> int:
        return sum(s <= t for s, _ in self.points)

    @property
    def first(self) -> float:
        return min((s for s, _ in self.points), default=float("nan"))


class Refused(Exception):
    """The method cannot run here (a CLI value this raytune-app does not know)."""


# ---------------------------------------------------------------------------------------------- raytune-app


def raytune_run(task: Task, seed: int, budgets: list[float], workdir: Path, flags: tuple[str, ...] = ()
                ) -> tuple[list[tuple[float, float]], dict, float]:
    """`raytune-app tune FILE --time-budget T` for the largest T (plus `flags`) as a subprocess of this
    checkout's package; the test accuracy of its pick by each budget."""
    name = "-".join([task.file.stem, str(seed), *(f.lstrip("-") for f in flags)])
    # every checkpoint kept, so that the pick by each budget can be scored (surplus ones go at the run's end)
    file = workdir / f"{name}.yaml"
    file.write_text(yaml.safe_dump(yaml.safe_load(task.file.read_text()) | {"keep_checkpoints": 100_000}))
    command = [sys.executable, "-m", "raytune_app", "tune", str(file), "--storage", str(workdir),
               "--name", name, "--seed", str(seed), "--num-samples", str(NUM_SAMPLES),
               "--time-budget", str(max(budgets)), *flags]
    started = time.time()
    proc = subprocess.run(command, check=False, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.time() - started
    if proc.returncode == 2 and "invalid choice" in proc.stderr:
        raise Refused(proc.stderr.strip().splitlines()[-1])
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return *_raytune_picks(workdir / name, started, budgets), wall


def _raytune_picks(path: Path, started: float, budgets: list[float]) -> tuple[list, dict]:
    """Every epoch's (seconds, val accuracy), read by raytune-app's one reader, and the test accuracy of the
    best trial by each budget, picked by its one rule for best among the results by then."""
    from raytune_app.data.datasets import load_dataset
    from raytune_app.results.export import held_out_scores
    from raytune_app.results.reader import load_experiment
    from raytune_app.results.summary import checkpoint_path
    from raytune_app.spec.metrics import TEST_METRIC, finite
    from raytune_app.spec.saved import load_saved_spec

    e = load_experiment(str(path))
    points = [(r["reported_at"] - started, r[METRIC]) for t in e.trials for r in t.rows
              if finite(r.get(METRIC)) and not r.get("diverged")]
    spec = load_saved_spec(str(path))
    data = load_dataset(spec.data)
    tests = {}
    for budget in budgets:
        by_then = replace(e, trials=[replace(t, rows=[r for r in t.rows if r["reported_at"] - started <= budget])
                                     for t in e.trials])
        best = by_then.best_trial
        checkpoint = checkpoint_path(by_then, best) if best else None
        tests[budget] = held_out_scores(spec, data, best, checkpoint)[TEST_METRIC[data.task]] if checkpoint else None
    return points, tests


# --------------------------------------------------------------------------------------------------- Optuna


def _config(trial, params: dict) -> dict:
    """A raytune-app search space sampled by an Optuna trial (constants as they are)."""
    def suggest(name: str, p) -> object:
        a = p.args
        if p.kind == "constant":
            return a[0]
        if p.kind in ("uniform", "loguniform"):
            return trial.suggest_float(name, a[0], a[1], log=p.kind == "loguniform")
        if p.kind in ("int", "logint"):
            return trial.suggest_int(name, a[0], a[1], log=p.kind == "logint")
        return trial.suggest_categorical(name, list(a))

    return {name: suggest(name, p) for name, p in params.items()}


def _train(spec, data, config: dict, seed: int, epochs: int) -> Iterator:
    """Trains `config` with raytune-app's model and loop, one thread like a trial; the model after each epoch."""
    import torch

    from raytune_app.trial.loop import train_epoch
    from raytune_app.trial.models import Hyperparams, build_model, build_optimizer

    hp = Hyperparams.from_config(config)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build_model(spec.model, hp, data.input_shape, data.outputs)
    optimizer = build_optimizer(hp, model.parameters())
    X, y = torch.from_numpy(data.X_train), torch.from_numpy(data.y_train)
    for _ in range(epochs):
        train_epoch(model, optimizer, X, y, data, hp.batch_size, gen)
        yield model


def _accuracy(model, X, y, data) -> float:
    import torch

    from raytune_app.trial.loop import evaluate

    return evaluate(model, torch.from_numpy(X), torch.from_numpy(y), data)["accuracy"]


def _retrained_test(spec, data, config: dict, seed: int, epochs: int) -> float:
    """A peer's pick scored on the test split: its config trained again, with its seed, to its epoch."""
    *_, model = _train(spec, data, config, seed, epochs)
    return _accuracy(model, data.X_test, data.y_test, data)


def _setup(file: str):
    import torch

    from raytune_app.data.datasets import load_dataset

    torch.set_num_threads(1)
    spec = load_spec(file)
    return spec, load_dataset(spec.data)


def _optuna_worker(storage_path: str, study_name: str, file: str, seed: int, worker: int, start: float,
                   deadline: float) -> None:
    """One of the study's workers: TPE + Hyperband until `deadline`, each epoch's (time, accuracy) kept."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec, data = _setup(file)

    def objective(trial) -> float:
        accuracy = 0.0
        epochs = _train(spec, data, _config(trial, spec.params), seed * 1000 + trial.number, spec.max_epochs)
        for epoch, model in enumerate(epochs, 1):
            if time.time() >= deadline:
                trial.study.stop()
                raise optuna.TrialPruned()
            accuracy = _accuracy(model, data.X_val, data.y_val, data)
            trial.set_user_attr(f"t{epoch}", [time.time() - start, accuracy])
            trial.report(accuracy, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return accuracy

    study = optuna.load_study(study_name=study_name, storage=JournalStorage(JournalFileBackend(storage_path)),
                              sampler=optuna.samplers.TPESampler(seed=seed * 100 + worker),
                              pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=spec.max_epochs,
                                                                    reduction_factor=3))
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    study.optimize(objective, timeout=max(0.0, deadline - time.time()),
                   callbacks=[optuna.study.MaxTrialsCallback(NUM_SAMPLES, states=done)])


def _test_of_pick(spec, data, study, seed: int, budget: float) -> float | None:
    """The test accuracy of the trial and epoch with the best validation accuracy by the budget, retrained."""
    epochs = [(acc, t.number, int(k[1:]), t) for t in study.trials for k, (s, acc) in t.user_attrs.items()
              if s <= budget]
    if not epochs:
        return None
    _, number, epoch, trial = max(epochs, key=lambda e: e[0])
    config = _config(trial, spec.params)  # a finished trial answers its suggestions from its params
    return _retrained_test(spec, data, config, seed * 1000 + number, epoch)


def optuna_run(task: Task, seed: int, budgets: list[float], workdir: Path) -> tuple[list, dict, float]:
    """Optuna TPE + Hyperband, one worker process per core on one JournalStorage, stopping at start + the
    largest T; the test accuracy of its pick by each budget."""
    started = time.time()
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    path, name = str(workdir / f"optuna-{task.file.stem}-{seed}.log"), f"optuna-{seed}"
    optuna.create_study(study_name=name, storage=JournalStorage(JournalFileBackend(path)), direction="maximize")
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=_optuna_worker,
                           args=(path, name, str(task.file), seed, w, started, started + max(budgets)))
               for w in range(os.cpu_count() or 1)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.time() - started
    study = optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(path)))
    points = [tuple(v) for t in study.trials for v in t.user_attrs.values()]
    spec, data = _setup(str(task.file))
    return points, {b: _test_of_pick(spec, data, study, seed, b) for b in budgets}, wall


# ------------------------------------------------------------------------------------------------ Syne Tune


def syne_tune_trial_seed(seed: int, trial_id: int) -> int:
    """A Syne Tune trial's training seed, as Optuna's trials get theirs (so its pick can be retrained)."""
    return seed * 1000 + trial_id


def _syne_tune_space(params: dict) -> dict:
    """A raytune-app search space in Syne Tune's terms (inclusive integer bounds, like raytune-app's)."""
    from syne_tune import config_space as cs

    kinds = {"uniform": cs.uniform, "loguniform": cs.loguniform, "int": cs.randint, "logint": cs.lograndint}
    return {name: p.args[0] if p.kind == "constant" else
            kinds[p.kind](*p.args) if p.kind in kinds else cs.choice(list(p.args)) for name, p in params.items()}


def syne_tune_run(task: Task, seed: int, budgets: list[float], workdir: Path) -> tuple[list, dict, float]:
    """Syne Tune's ASHA (random search, stopping type) with the file's grace period and reduction factor, one
    trial process per core through its LocalBackend, stopped at start + the largest T; the test accuracy of
    its pick by each budget."""
    started = time.time()
    os.environ["SYNETUNE_FOLDER"] = str(workdir)  # Syne Tune's results and trial folders, not ~/syne-tune
    from syne_tune import StoppingCriterion, Tuner
    from syne_tune.backend import LocalBackend
    from syne_tune.optimizer.baselines import ASHA

    spec = load_spec(str(task.file))
    options = spec.scheduler.options
    # its banner and status lines go to stderr, not among the tables; and it probes for GPUs by writing
    # std.out in the current folder, so it runs in the work folder
    with contextlib.redirect_stdout(sys.stderr), contextlib.chdir(workdir):
        backend = LocalBackend(entry_point=str(Path(__file__).with_name("syne_tune_trial.py")), pass_args_as_json=True)
        tuner = Tuner(
            trial_backend=backend,
            scheduler=ASHA(_syne_tune_space(spec.params) | {"file": str(task.file), "seed": seed}, metric=METRIC,
                           do_minimize=False, time_attr="epoch", max_t=spec.max_epochs,
                           grace_period=options.get("grace_period", 1),
                           reduction_factor=options.get("reduction_factor", 3), random_seed=seed),
            stop_criterion=StoppingCriterion(max_wallclock_time=max(budgets) - (time.time() - started)),
            n_workers=os.cpu_count() or 1, sleep_time=0.1,  # its default, 5 s, would leave cores idle between trials
            tuner_name=f"syne-tune-{task.file.stem}-{seed}", save_tuner=False)
        tuner.run()
    wall = time.time() - started
    import pandas as pd

    try:
        df = pd.read_csv(Path(tuner.tuner_path) / "results.csv.zip")
    except pd.errors.EmptyDataError:  # no trial reported by the budget (a busy machine, a tiny budget)
        df = pd.DataFrame(columns=["st_worker_timestamp", METRIC, "trial_id", "epoch"])
    df["s"] = df["st_worker_timestamp"] - started
    points = list(zip(df["s"], df[METRIC]))
    spec, data = _setup(str(task.file))

    def test_of_pick(budget: float) -> float | None:
        by_then = df[df["s"] <= budget]
        if by_then.empty:
            return None
        pick = by_then.loc[by_then[METRIC].idxmax()]
        trial_id = int(pick["trial_id"])
        config = json.loads((backend.trial_path(trial_id) / "config.json").read_text())  # as the trial read it
        config = {k: v for k, v in config.items() if k in spec.params}
        return _retrained_test(spec, data, config, syne_tune_trial_seed(seed, trial_id), int(pick["epoch"]))

    return points, {b: test_of_pick(b) for b in budgets}, wall


Method = Callable[[Task, int, list[float], Path], tuple[list, dict, float]]
METHODS: dict[str, tuple[str, Method]] = {
    "raytune": ("raytune-app (the file's ASHA + HyperOpt)", raytune_run),
    "raytune-optuna": ("raytune-app --search optuna", partial(raytune_run, flags=("--search", "optuna"))),
    "optuna": ("Optuna TPE + Hyperband (JournalStorage)", optuna_run),
    "syne-tune": ("Syne Tune ASHA (random search, LocalBackend)", syne_tune_run),
}


# ------------------------------------------------------------------------------------------------- figures


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else float("nan")


def _median_iqr(values: list[float]) -> str:
    """`median [lower quartile, upper quartile]` of the seeds' values."""
    if not values:
        return "n/a"
    low, mid, high = np.percentile(values, [25, 50, 75])
    return f"{mid:.3f} [{low:.3f}, {high:.3f}]"


def _seconds(t: float) -> str:
    return f"{t:.1f}" if np.isfinite(t) else "not reached"


def _median_time(runs: list[Run], target: float, budget: float) -> tuple[float, int]:
    """The median over every seed of the seconds to `target` by `budget` (a seed that never reached it counts as
    later than any that did: inf, an ordinary largest value here, so the median is inf when most never did), and
    how many seeds reached it."""
    times = [r.time_to(target, budget) for r in runs]
    return (float(np.median(times)) if times else float("inf")), int(sum(np.isfinite(times)))


def _time_to(runs: list[Run], target: float, budget: float) -> str:
    """The median seconds to `target` and how many seeds reached it."""
    median, reached = _median_time(runs, target, budget)
    return f"{_seconds(median)} ({reached}/{len(runs)})"


COLUMNS = ("T", "method", "best val accuracy by T: median [IQR]", "test accuracy of the pick", "s to {0}",
           "s to {1}", "epochs by T", "s to the first result")


def row(label: str, runs: list[Run], budget: float, targets: tuple[float, float]) -> str:
    tests = [r.tests[budget] for r in runs if r.tests.get(budget) is not None]
    return " | ".join([f"{budget:g}", label, _median_iqr([r.best_by(budget) for r in runs]),
                       f"{_median(tests):.3f}" if tests else "n/a",
                       *(_time_to(runs, t, budget) for t in targets),
                       f"{_median([r.epochs_by(budget) for r in runs]):,.0f}",
                       f"{_median([r.first for r in runs]):.1f}"])


def table(task_name: str, task: Task, runs: dict[str, list[Run]], budgets: list[float]) -> str:
    """The task's table in Markdown (the docs' Performance page is generated from it), then each method's
    seeds' spread."""
    seeds = sorted({r.seed for rs in runs.values() for r in rs})
    lines = [f"**{task_name}** ({task.file.name}; {len(seeds)} seeds; T and times in seconds from the command's "
             "start; to a target: the median over all seeds, with how many reached it)", "",
             "| " + " | ".join(c.format(*task.targets) for c in COLUMNS) + " |", "|---" * len(COLUMNS) + "|"]
    lines += [f"| {row(label, rs, budget, task.targets)} |" for budget in budgets for label, rs in runs.items()]
    lines += ["", f"Best by {max(budgets):g} s per seed, lowest to highest:", ""]
    lines += [f"- {label}: {', '.join(f'{v:.3f}' for v in sorted(r.best_by(max(budgets)) for r in rs))}"
              for label, rs in runs.items()]
    return "\n".join(lines)


OURS, OPTUNA = "raytune", "optuna"  # the methods issue 27's targets compare, by their METHODS keys


def targets(task_name: str, task: Task, runs: dict[str, list[Run]], budgets: list[float]
            ) -> list[tuple[str, str, bool]]:
    """Issue 27's targets on one task, raytune-app's default against Optuna in the same runs, on the medians over
    seeds: (what, the figures, met). Epochs by the largest budget (the MLP task's target, shown for every task);
    the best val accuracy by each budget; the time to each target that Optuna needs more than 10 s for, a seed
    that never reached it counting as the latest."""
    ours, peer = runs.get(METHODS[OURS][0]), runs.get(METHODS[OPTUNA][0])
    if not ours or not peer:
        return []
    last, out = max(budgets), []
    mine, theirs = (_median([r.epochs_by(last) for r in rs]) for rs in (ours, peer))
    out.append((f"{task_name}: epochs trained by {last:g} s >= Optuna's", f"{mine:,.0f} against {theirs:,.0f}",
                mine >= theirs))
    for budget in budgets:  # compared as shown, to 3 places: level is level
        mine, theirs = (round(_median([r.best_by(budget) for r in rs]), 3) for rs in (ours, peer))
        out.append((f"{task_name}: best val accuracy by {budget:g} s >= Optuna's",
                    f"{mine:.3f} against {theirs:.3f}", mine >= theirs))
    for target in task.targets:
        (mine, _), (theirs, _) = _median_time(ours, target, last), _median_time(peer, target, last)
        if theirs > 10:
            out.append((f"{task_name}: seconds to {target:g} <= Optuna's (which needs more than 10 s)",
                        f"{_seconds(mine)} against {_seconds(theirs)}", mine <= theirs))
    return out


def verdicts(results: dict[str, dict[str, list[Run]]], budgets: list[float]) -> str:
    """Every task's targets as a Markdown list (printed, and generated into the docs under the tables)."""
    checked = [t for task_name, runs in results.items() for t in targets(task_name, TASKS[task_name], runs, budgets)]
    if not checked:
        return ""
    return "\n".join(["Issue 27's targets, raytune-app's default against Optuna in the same runs (medians over seeds):",
                      "", *(f"- {what}: {figure} ({'met' if met else 'NOT met'})" for what, figure, met in checked)])


def paired_table(runs: dict[str, list[Run]], baseline: list[Run], budget: float) -> str:
    """Variants against the baseline on the same seeds (the same searcher seed proposes the same first configs):
    medians of the best val accuracy by `budget` with each seed's difference from the baseline, the test accuracy
    of the pick and the epochs trained by then."""
    seeds = {r.seed for rs in runs.values() for r in rs}
    base = {r.seed: r for r in baseline if r.seed in seeds}
    lines = [f"| method | best val accuracy by {budget:g} s (per seed, against the baseline) | test accuracy of "
             f"the pick | epochs by {budget:g} s |", "|---" * 4 + "|"]
    rows = [(f"baseline: {baseline[0].method}", baseline, False), *((k, rs, True) for k, rs in runs.items())]
    for label, rs, paired in rows:
        rs = sorted((r for r in rs if r.seed in base), key=lambda r: r.seed)
        best = f"{_median([r.best_by(budget) for r in rs]):.3f}"
        if paired:
            best += f" ({', '.join(f'{r.best_by(budget) - base[r.seed].best_by(budget):+.3f}' for r in rs)})"
        tests = [r.tests[budget] for r in rs if r.tests.get(budget) is not None]
        lines.append(f"| {label} (seeds {', '.join(str(r.seed) for r in rs)}) | {best} | {_median(tests):.3f} "
                     f"| {_median([r.epochs_by(budget) for r in rs]):,.0f} |")
    return "\n".join(lines)


def plot(results: dict[str, dict[str, list[Run]]], budget: float, out: Path) -> None:
    """Best-so-far validation accuracy against wall time up to `budget`: median and IQR over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.5), squeeze=False)
    for ax, (task_name, runs) in zip(axes[0], results.items()):
        grid = np.linspace(0, budget, 400)
        lows_after_start = []  # each method's lower quartile once every seed of it has a result
        for label, method_runs in runs.items():
            curves = np.array([[r.best_by(t) for t in grid] for r in method_runs])  # nan before the first result
            with warnings.catch_warnings():  # no seed has a result yet: nan, as it should be
                warnings.simplefilter("ignore", RuntimeWarning)
                low, mid, high = np.nanpercentile(curves, [25, 50, 75], axis=0)
            lows_after_start.append(np.nanmin(low[grid >= max(r.first for r in method_runs)]))
            ax.plot(grid, mid, label=label)
            ax.fill_between(grid, low, high, alpha=0.2)
        seeds = len({r.seed for rs in runs.values() for r in rs})
        ax.set(title=f"{task_name}, {seeds} seeds", xlabel="seconds from the command's start",
               ylabel="best validation accuracy so far")
        ax.set_xlim(0, budget)
        ax.set_ylim(bottom=min(lows_after_start) - 0.005)  # the first seconds' low values would flatten the rest
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=120)


# ---------------------------------------------------------------------------------------------------- main


def read_runs(files: list[Path]) -> list[Run]:
    """Runs saved by --raw."""
    return [Run(**d | {"points": [tuple(p) for p in d["points"]],
                       "tests": {float(k): v for k, v in d["tests"].items()}}) for d in jsonl.read(files)]


def by_task(runs: list[Run]) -> dict[str, dict[str, list[Run]]]:
    """{task: {method: runs}}."""
    out: dict[str, dict[str, list[Run]]] = {}
    for r in runs:
        out.setdefault(r.task, {}).setdefault(r.method, []).append(r)
    return out


def newest_by_task(files: list[Path]) -> dict[str, tuple[Path, dict[str, list[Run]]]]:
    """Each task's runs from the last of `files` that has runs of it, and that file: a new round of some tasks
    replaces those tasks' older runs only (runs of different days are never pooled: machines drift)."""
    out: dict[str, tuple[Path, dict[str, list[Run]]]] = {}
    for f in files:
        out |= {task: (f, methods) for task, methods in by_task(read_runs([f])).items()}
    return out


def run_all(tasks: dict[str, Task], methods: list[str], budgets: list[float], seeds: range,
            raw: Path | None) -> list[Run]:
    """Every method on every task, once per seed at the largest budget; seeds outermost."""
    runs, refused = [], set()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for task_name, task in tasks.items():
                for key in methods:
                    label, method = METHODS[key]
                    if key in refused:
                        continue
                    try:
                        points, tests, wall = method(task, seed, budgets, Path(tmp))
                    except Refused as exc:
                        print(f"{label}: skipped: {exc}", file=sys.stderr, flush=True)
                        refused.add(key)
                        continue
                    run = Run(task_name, label, seed, points, tests, wall)
                    runs.append(run)
                    print(f"{task_name} seed {seed} {label}: best by {max(budgets):g} s "
                          f"{run.best_by(max(budgets)):.3f}; {len(points)} epochs, the first at {run.first:.1f} s; "
                          f"command {wall:.1f} s", file=sys.stderr, flush=True)
                    if raw:
                        jsonl.append(raw, asdict(run) | {"points": [(round(s, 3), round(a, 5)) for s, a in points]})
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", type=float, nargs="+", default=[30, 60, 120],
                        help="seconds; one run per method and seed at the largest, the others read off it")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds FIRST to FIRST+SEEDS-1, so that one --raw file can gather seeds run apart")
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "assets" / "compare.png")
    parser.add_argument("--raw", type=Path, help="append every run's figures to this file (JSON lines)")
    parser.add_argument("--tables-from", type=Path, nargs="+", metavar="RAW",
                        help="run nothing: print the tables and draw the curves of runs saved by --raw (each "
                        "task's from the last file that has it)")
    args = parser.parse_args()
    budgets = sorted(args.budgets)
    tasks = {name: TASKS[name] for name in args.tasks}
    if args.tables_from:
        results = {task: methods for task, (_, methods) in newest_by_task(args.tables_from).items() if task in tasks}
    else:
        results = by_task(run_all(tasks, args.methods, budgets, range(args.first_seed, args.first_seed + args.seeds),
                                  args.raw))
        print(f"\n{os.cpu_count()} cores")
    for task_name, by_method in results.items():
        print(f"\n{table(task_name, tasks[task_name], by_method, budgets)}")
    print(f"\n{verdicts(results, budgets)}")
    plot(results, max(budgets), args.plot)
    print(f"\nAnytime curves: {args.plot}")


if __name__ == "__main__":
    main()

"""Search quality per wall-clock second: raytune-app against Optuna (TPE + Hyperband) on equal budgets.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python benchmarks/compare.py

Each method runs once per budget T and seed, with T seconds counted from its command's start: raytune-app as
`raytune-app tune FILE --time-budget T`, Optuna as one worker process per core on one JournalStorage, the
workers stopping at start + T. Every method trains the same models with the same code
(raytune_app.trial.models / loop) on the same split of the same data, over the same search space, with
trials limited by the budget alone (--num-samples). One clock: each epoch's float wall time, from the
command's start; only results by start + T count. Printed: per task, median over seeds of the best validation
accuracy by T, the held-out test accuracy of the trial each method picked (raytune-app: summary.json's, its
best epoch's checkpoint; Optuna: its best trial retrained to its best epoch, then scored), and the seconds to
two accuracy targets. raytune-app's --time-budget counts from its command's start too; its summary, test
score and Ray's shutdown come after, so the command ends a few seconds past start + T ("command wall s"). Written: anytime curves (best-so-far validation accuracy against wall
time, median and interquartile range over seeds, at the largest budget), a panel per task, to
benchmarks/compare.png.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from collections.abc import Callable, Iterator

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

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
}


@dataclass
class Run:
    """One method's run: (seconds from the command's start, val accuracy) per epoch, the picked trial's test
    accuracy and how long the whole command took."""

    points: list[tuple[float, float]]
    test_accuracy: float | None
    wall_s: float

    def best_by(self, t: float) -> float:
        return max((acc for s, acc in self.points if s <= t), default=float("nan"))

    def time_to(self, target: float, budget: float) -> float:
        return min((s for s, acc in self.points if acc >= target and s <= budget), default=float("inf"))


class Refused(Exception):
    """The method cannot run here (a CLI value this raytune-app does not know)."""


# ---------------------------------------------------------------------------------------------- raytune-app


def raytune_run(task: Task, seed: int, budget: float, workdir: Path, flags: tuple[str, ...] = ()) -> Run:
    """`raytune-app tune FILE --time-budget T` (plus `flags`) as a subprocess of this checkout's package."""
    name = "-".join([task.file.stem, f"{budget:g}", str(seed), *(f.lstrip("-") for f in flags)])
    command = [sys.executable, "-m", "raytune_app", "tune", str(task.file), "--storage", str(workdir),
               "--name", name, "--seed", str(seed), "--num-samples", str(NUM_SAMPLES),
               "--time-budget", str(budget), *flags]
    started = time.time()
    proc = subprocess.run(command, check=False, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.time() - started
    if proc.returncode == 2 and "invalid choice" in proc.stderr:
        raise Refused(proc.stderr.strip().splitlines()[-1])
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    points = [(r["reported_at"] - started, r[METRIC])
              for f in (workdir / name).glob("trial_*/result.json")
              for r in map(json.loads, f.read_text().splitlines()) if not r.get("diverged")]
    best = json.loads((workdir / name / "summary.json").read_text())["best"] or {}
    return Run(points, best.get("test_accuracy"), wall)


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


def _test_of_pick(file: str, study, seed: int, budget: float) -> float | None:
    """The test accuracy of the trial and epoch with the best validation accuracy by the budget, retrained."""
    epochs = [(acc, t.number, int(k[1:]), t) for t in study.trials for k, (s, acc) in t.user_attrs.items()
              if s <= budget]
    if not epochs:
        return None
    _, number, epoch, trial = max(epochs, key=lambda e: e[0])
    spec, data = _setup(file)
    config = _config(trial, spec.params)  # a finished trial answers its suggestions from its params
    *_, model = _train(spec, data, config, seed * 1000 + number, epoch)
    return _accuracy(model, data.X_test, data.y_test, data)


def optuna_run(task: Task, seed: int, budget: float, workdir: Path) -> Run:
    """Optuna TPE + Hyperband, one worker process per core on one JournalStorage, stopping at start + T."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    path, name = str(workdir / f"optuna-{task.file.stem}-{budget:g}-{seed}.log"), f"optuna-{seed}"
    started = time.time()
    optuna.create_study(study_name=name, storage=JournalStorage(JournalFileBackend(path)), direction="maximize")
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=_optuna_worker,
                           args=(path, name, str(task.file), seed, w, started, started + budget))
               for w in range(os.cpu_count() or 1)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.time() - started
    study = optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(path)))
    points = [tuple(v) for t in study.trials for v in t.user_attrs.values()]
    return Run(points, _test_of_pick(str(task.file), study, seed, budget), wall)


Method = Callable[[Task, int, float, Path], Run]
METHODS: dict[str, tuple[str, Method]] = {
    "raytune": ("raytune-app (the file's ASHA + HyperOpt)", raytune_run),
    "raytune-optuna": ("raytune-app --search optuna", partial(raytune_run, flags=("--search", "optuna"))),
    "optuna": ("Optuna TPE + Hyperband (JournalStorage)", optuna_run),
}


# ------------------------------------------------------------------------------------------------- figures


@dataclass
class Cell:
    """A method's runs at one budget, one per seed."""

    budget: float
    runs: list[Run] = field(default_factory=list)


def row(label: str, cell: Cell, targets: tuple[float, float]) -> str:
    med = np.median
    tests = [r.test_accuracy for r in cell.runs if r.test_accuracy is not None]
    times = [med([r.time_to(t, cell.budget) for r in cell.runs]) for t in targets]
    return " | ".join([f"{cell.budget:g}", label, f"{med([r.best_by(cell.budget) for r in cell.runs]):.3f}",
                       f"{med(tests):.3f}" if tests else "n/a",
                       *(f"{s:.1f}" if np.isfinite(s) else "not reached" for s in times),
                       f"{med([r.wall_s for r in cell.runs]):.1f}"])


def print_table(task_name: str, task: Task, cells: dict[str, list[Cell]], seeds: int) -> None:
    print(f"\n**{task_name}** ({task.file.name}; medians of {seeds} seeds, {os.cpu_count()} cores; "
          f"T and times in seconds from the command's start)\n")
    print(f"| T | method | best val accuracy by T | test accuracy of the pick | s to {task.targets[0]} "
          f"| s to {task.targets[1]} | command wall s |")
    print("|---" * 7 + "|")
    for budget_index in range(len(next(iter(cells.values())))):
        for label, per_budget in cells.items():
            print(f"| {row(label, per_budget[budget_index], task.targets)} |")


def plot(results: dict[str, dict[str, list[Cell]]], out: Path) -> None:
    """Best-so-far validation accuracy against wall time at the largest budget: median and IQR over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.5), squeeze=False)
    for ax, (task_name, cells) in zip(axes[0], results.items()):
        for label, per_budget in cells.items():
            cell = per_budget[-1]
            grid = np.linspace(0, cell.budget, 400)
            curves = np.array([[r.best_by(t) for t in grid] for r in cell.runs])  # nan before a run's first result
            low, mid, high = np.percentile(curves, [25, 50, 75], axis=0)
            ax.plot(grid, mid, label=label)
            ax.fill_between(grid, low, high, alpha=0.2)
        ax.set(title=f"{task_name}, T = {cell.budget:g} s", xlabel="seconds from the command's start",
               ylabel="best validation accuracy so far")
        ax.set_xlim(0, cell.budget)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=120)


# ---------------------------------------------------------------------------------------------------- main


def run_method(method: Method, task: Task, budgets: list[float], seeds: int, workdir: Path) -> list[Cell]:
    cells = []
    for budget in budgets:
        cell = Cell(budget)
        for seed in range(seeds):
            run = method(task, seed, budget, workdir)
            cell.runs.append(run)
            first = min((s for s, _ in run.points), default=float("nan"))
            print(f"  T={budget:g} seed {seed}: best by T {run.best_by(budget):.3f}; {len(run.points)} epochs, "
                  f"the first at {first:.1f} s; command {run.wall_s:.1f} s", file=sys.stderr, flush=True)
        cells.append(cell)
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", type=float, nargs="+", default=[30, 60, 120], help="seconds per run")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--targets", type=float, nargs=2, action="append", metavar=("LOW", "HIGH"),
                        help="accuracy targets, one pair per task in --tasks order (default: each task's own)")
    parser.add_argument("--plot", type=Path, default=REPO / "benchmarks" / "compare.png")
    args = parser.parse_args()
    targets = args.targets or [TASKS[t].targets for t in args.tasks]
    if len(targets) != len(args.tasks):
        parser.error("--targets: one pair per task")
    budgets = sorted(args.budgets)
    results: dict[str, dict[str, list[Cell]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for task_name, pair in zip(args.tasks, targets):
            task = Task(TASKS[task_name].file, tuple(pair))
            results[task_name] = {}
            for key in args.methods:
                label, method = METHODS[key]
                print(f"{task_name}: {label}", file=sys.stderr, flush=True)
                try:
                    results[task_name][label] = run_method(method, task, budgets, args.seeds, Path(tmp))
                except Refused as refused:
                    print(f"  skipped: {refused}", file=sys.stderr, flush=True)
            if results[task_name]:
                print_table(task_name, task, results[task_name], args.seeds)
    plot(results, args.plot)
    print(f"\nAnytime curves: {args.plot}")


if __name__ == "__main__":
    main()

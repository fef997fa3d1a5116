"""raytune-app (ASHA + HyperOpt, FIFO + random) against Optuna (TPE + Hyperband), same task and budget.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python benchmarks/compare.py

Every method trains the same MLP with the same code (raytune_app.trial.models / trainable) on the same
split of the same data, over the same search space, with the same trial and epoch budget, on all
cores. raytune-app runs as its CLI; Optuna runs one worker process per core sharing one
JournalStorage file (Optuna's recommended setup for parallel runs). Medians over the seeds.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from raytune_app.spec.load import load_spec  # noqa: E402


def raytune_run(file: Path, storage: Path, scheduler: str, search: str, seed: int, trials: int,
                epochs: int) -> dict:
    """One raytune-app run through its CLI; per-result (wall time, val_accuracy) read back from Ray."""
    name = f"{scheduler}-{search}-{seed}"
    started = time.time()
    subprocess.run([sys.executable, "-m", "raytune_app", "tune", str(file), "--storage", str(storage),
                    "--name", name, "--scheduler", scheduler, "--search", search, "--seed", str(seed),
                    "--num-samples", str(trials), "--max-epochs", str(epochs)],
                   check=True, capture_output=True, text=True)
    wall = time.time() - started
    points = []
    for result_file in (storage / name).glob("trial_*/result.json"):
        for line in result_file.read_text().splitlines():
            r = json.loads(line)
            points.append((r["timestamp"] - started, r["val_accuracy"]))
    return {"wall": wall, "points": points}


def _optuna_worker(storage_path: str, study_name: str, file: str, seed: int, worker: int, trials: int,
                   epochs: int, start: float) -> None:
    import optuna
    import torch
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    from raytune_app.data.datasets import load_dataset
    from raytune_app.trial.models import Hyperparams, build_model, build_optimizer
    from raytune_app.trial.loop import evaluate, train_epoch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    spec = load_spec(file)
    data = load_dataset(spec.data)
    X_train, y_train = torch.from_numpy(data.X_train), torch.from_numpy(data.y_train)
    X_val, y_val = torch.from_numpy(data.X_val), torch.from_numpy(data.y_val)

    def suggest(trial, name, p):
        a = p.args
        if p.kind == "constant":
            return a[0]
        if p.kind in ("uniform", "loguniform"):
            return trial.suggest_float(name, a[0], a[1], log=p.kind == "loguniform")
        if p.kind in ("int", "logint"):
            return trial.suggest_int(name, a[0], a[1], log=p.kind == "logint")
        return trial.suggest_categorical(name, list(a))

    def objective(trial):
        config = {name: suggest(trial, name, p) for name, p in spec.params.items()}
        hp = Hyperparams.from_config(config)
        torch.manual_seed(seed * 1000 + trial.number)
        gen = torch.Generator().manual_seed(seed * 1000 + trial.number)
        model = build_model(spec.model, hp, data.input_shape, data.outputs)
        optimizer = build_optimizer(hp, model.parameters())
        accuracy = 0.0
        for epoch in range(1, epochs + 1):
            train_epoch(model, optimizer, X_train, y_train, data, hp.batch_size, gen)
            accuracy = evaluate(model, X_val, y_val, data)["accuracy"]
            trial.set_user_attr(f"t{epoch}", [time.time() - start, accuracy])
            trial.report(accuracy, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return accuracy

    storage = JournalStorage(JournalFileBackend(storage_path))
    study = optuna.load_study(study_name=study_name, storage=storage,
                              sampler=optuna.samplers.TPESampler(seed=seed * 100 + worker),
                              pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs,
                                                                    reduction_factor=3))
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    study.optimize(objective, callbacks=[optuna.study.MaxTrialsCallback(trials, states=done)])


def optuna_run(file: Path, workdir: Path, seed: int, trials: int, epochs: int) -> dict:
    """Optuna TPE + Hyperband, one worker process per core on one JournalStorage."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    path = str(workdir / f"optuna-{seed}.log")
    name = f"optuna-{seed}"
    started = time.time()
    optuna.create_study(study_name=name, storage=JournalStorage(JournalFileBackend(path)), direction="maximize")
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=_optuna_worker, args=(path, name, str(file), seed, w, trials, epochs, started))
               for w in range(os.cpu_count() or 1)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.time() - started
    study = optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(path)))
    points = [tuple(v) for t in study.trials for k, v in t.user_attrs.items() if k.startswith("t")]
    return {"wall": wall, "points": points}


def summarize(runs: list[dict], targets: list[float]) -> dict:
    def time_to(points, target):
        hits = [t for t, acc in points if acc >= target]
        return min(hits) if hits else float("inf")

    med = statistics.median
    return {
        "best_val_accuracy": med(max(a for _, a in r["points"]) for r in runs),
        "wall_s": med(r["wall"] for r in runs),
        "epochs": med(len(r["points"]) for r in runs),
        # the search itself, without start-up and shutdown: from the first epoch's result to the last
        "first_to_last_result_s": med(max(t for t, _ in r["points"]) - min(t for t, _ in r["points"]) for r in runs),
        **{f"t_to_{t:.2f}_s": med(time_to(r["points"], t) for r in runs) for t in targets},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, default=REPO / "search_spaces" / "mlp_synthetic.yaml")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=27)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.75, 0.80, 0.82])
    args = parser.parse_args()
    methods = {
        "raytune-app ASHA + HyperOpt": lambda s, d: raytune_run(args.file, d, "asha", "hyperopt", s, args.trials,
                                                               args.epochs),
        "raytune-app FIFO + random": lambda s, d: raytune_run(args.file, d, "fifo", "random", s, args.trials,
                                                             args.epochs),
        "Optuna TPE + Hyperband": lambda s, d: optuna_run(args.file, d, s, args.trials, args.epochs),
    }
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, run in methods.items():
            runs = [run(seed, Path(tmp)) for seed in range(args.seeds)]
            rows[label] = summarize(runs, args.targets)
            print(f"{label}: {json.dumps(rows[label])}", file=sys.stderr, flush=True)
    print(f"\n{args.trials} trials x {args.epochs} epochs max, {args.seeds} seeds, {os.cpu_count()} cores, "
          f"task {args.file.name}; medians")
    cols = list(next(iter(rows.values())))
    print("| method | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for label, row in rows.items():
        print(f"| {label} | " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values())
              + " |")


if __name__ == "__main__":
    main()

"""Several objectives: the Pareto front of accurate and small digits MLPs, per searcher and early-stopping rule.

    .venv/bin/python benchmarks/pareto.py --seeds 0 1 2 --raw benchmarks/results/pareto-DATE.jsonl

Each method is `raytune-app tune` of the same experiment (FILE below: the digits MLP, objectives val_accuracy
(max) and param_count (min), 32 trials of at most 15 epochs each) with one searcher and one scheduler:

    random, tpe, nsga2, gp    search: random or optuna with that sampler; scheduler: fifo
    tpe+asha, tpe+median      Ray's ASHA and median stopping on the primary (val_accuracy) alone
    tpe+pareto_asha           ASHA's rungs ranked by Pareto fronts (tuner/pareto_asha.py)

Seeds are the outer loop and methods the inner one, so that a machine's drift falls on every method alike. Every
figure comes from the run's folder, read by raytune-app's one reader, with its Pareto math (results/pareto.py):
each trial's point is its best checkpointed epoch by val_accuracy, param_count read from the same row; the front
is the non-dominated points; the hypervolume is that of (val_accuracy, log10 param_count), the log because
sizes span three orders of magnitude, against REFERENCE: val_accuracy 0.8 and the space's largest model.
Printed: per method the median over seeds of the hypervolume (with its range), the front's size, the epochs
trained and the wall time, and the targets of issue 28. Early stopping trains fewer epochs for the same trials;
to compare at equal epochs, run it again with more trials (the table shows such runs apart, by their trials):

    .venv/bin/python benchmarks/pareto.py --methods tpe+pareto_asha tpe+asha --num-samples 128 --raw FILE `--raw` appends each run's figures as a JSON line,
`--tables-from` prints the tables of such lines again.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import jsonl  # noqa: E402
from raytune_app.ray_compat.settings import loopback_cluster_settings  # noqa: E402
from raytune_app.results.pareto import front_rows, hypervolume  # noqa: E402
from raytune_app.spec.load import ObjectiveSpec  # noqa: E402

OBJECTIVES = [ObjectiveSpec(name="val_accuracy", mode="max"), ObjectiveSpec(name="param_count", mode="min")]
INPUTS, CLASSES, WIDEST, DEEPEST = 64, 10, 512, 3  # digits: 8x8 pixels, 10 classes; the space's largest MLP
LARGEST = (INPUTS * WIDEST + WIDEST) + (DEEPEST - 1) * (WIDEST * WIDEST + WIDEST) + (WIDEST * CLASSES + CLASSES)
REFERENCE = [0.8, math.log10(LARGEST)]
FILE = {
    "name": "pareto-digits",
    "objectives": [o.model_dump() for o in OBJECTIVES],
    "max_epochs": 15,
    "num_samples": 32,
    "data": {"dataset": "digits", "val_fraction": 0.2, "test_fraction": 0.2, "seed": 0},
    "model": "mlp",
    "keep_checkpoints": 1,
    "space": {
        "lr": {"loguniform": [1e-4, 1e-1]},
        "hidden_layers": {"int": [1, DEEPEST]},
        "hidden_size": {"choice": [16, 32, 64, 128, 256, WIDEST]},
        "dropout": {"uniform": [0.0, 0.3]},
        "batch_size": {"choice": [32, 64, 128]},
    },
}
METHODS = {
    "random": ("random", "fifo"),
    "tpe": ({"name": "optuna", "sampler": "tpe"}, "fifo"),
    "nsga2": ({"name": "optuna", "sampler": "nsga2"}, "fifo"),
    "gp": ({"name": "optuna", "sampler": "gp"}, "fifo"),
    "tpe+asha": ({"name": "optuna", "sampler": "tpe"}, "asha"),
    "tpe+median": ({"name": "optuna", "sampler": "tpe"}, "median"),
    "tpe+pareto_asha": ({"name": "optuna", "sampler": "tpe"}, "pareto_asha"),
}


def figures(path: str) -> dict:
    """The run's front, hypervolume and epochs, from its folder (the one reader, the Pareto math)."""
    from raytune_app.results.reader import load_experiment

    e = load_experiment(path)
    points = [p for p in (e.best_epoch(t) for t in e.trials) if p is not None]
    front = front_rows(points, OBJECTIVES)
    logged = [[points[i]["val_accuracy"], math.log10(points[i]["param_count"])] for i in front]
    return {"hypervolume": hypervolume(logged, [o.mode for o in OBJECTIVES], REFERENCE), "front": len(front),
            "epochs": sum(t.epochs for t in e.trials), "trials": len(e.trials),
            "points": [[points[i]["val_accuracy"], points[i]["param_count"]] for i in front]}


@contextlib.contextmanager
def local_ray(cpus: int) -> Iterator[str]:
    """One Ray for every run (a start per run costs seconds, and can time out on a busy machine); stopped by
    its own processes' ids at the end, never by `ray stop` (which would end every Ray of the machine)."""
    from raytune_app.cluster.local import kill_node

    os.environ.update(loopback_cluster_settings())  # for `ray start` and every run: a loopback cluster of ours
    temp = tempfile.mkdtemp(prefix="rp_", dir="/tmp")  # short: Ray's socket paths have a length limit
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray = str(Path(sys.executable).with_name("ray"))
    subprocess.run([ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", f"--num-cpus={cpus}",
                    "--num-gpus=0", "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats"],
                   check=True, capture_output=True, timeout=300)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        kill_node(temp, gcs_port=port)
        shutil.rmtree(temp, ignore_errors=True)


def run(method: str, seed: int, workdir: Path, num_samples: int, max_epochs: int, address: str) -> dict:
    search, scheduler = METHODS[method]
    name = f"{method.replace('+', '-')}-{seed}"
    file = workdir / f"{name}.yaml"
    file.write_text(yaml.safe_dump({**FILE, "name": name, "search": search, "scheduler": scheduler,
                                    "num_samples": num_samples, "max_epochs": max_epochs}))
    started = time.time()
    proc = subprocess.run([sys.executable, "-m", "raytune_app", "tune", str(file), "--storage", str(workdir),
                           "--seed", str(seed), "--address", address], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    if proc.returncode != 0:
        raise RuntimeError(f"{method} seed {seed} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return {"method": method, "seed": seed, "wall_s": round(time.time() - started, 1),
            **figures(str(workdir / name))}


def tables(runs: list[dict]) -> str:
    """Per method (and, for runs of another --num-samples than FIFO's, per number of trials) the median figures,
    then issue 28's targets: at FIFO's number of trials, and at (about) FIFO's number of epochs."""
    fifo_trials = statistics.median(r["trials"] for r in runs if r["method"] == "tpe") if any(
        r["method"] == "tpe" for r in runs) else None
    groups: dict[str, list[dict]] = {}
    for r in runs:
        label = r["method"] if fifo_trials in (None, r["trials"]) else f"{r['method']} ({r['trials']} trials)"
        groups.setdefault(label, []).append(r)
    median = {m: statistics.median(r["hypervolume"] for r in rs) for m, rs in groups.items()}
    epochs = {m: statistics.median(r["epochs"] for r in rs) for m, rs in groups.items()}
    lines = ["| method | hypervolume (median, range) | front size | epochs | wall s | seeds |",
             "|---|---|---|---|---|---|"]
    for method, rs in groups.items():
        hv = [r["hypervolume"] for r in rs]
        lines.append(f"| {method} | {median[method]:.4f} ({min(hv):.4f}-{max(hv):.4f}) "
                     f"| {statistics.median(r['front'] for r in rs):g} | {epochs[method]:g} "
                     f"| {statistics.median(r['wall_s'] for r in rs):g} | {len(rs)} |")
    targets = [("tpe", "random", 1.02, "Optuna TPE >= 1.02 x random"),
               ("tpe+pareto_asha", "tpe+asha", 1.0, "pareto_asha >= ASHA on the primary"),
               ("tpe+pareto_asha", "tpe", 0.95, "pareto_asha >= 0.95 x FIFO (same searcher, same trials)")]
    if "tpe" in epochs:  # the group of pareto_asha whose epochs come nearest FIFO's, if within a quarter of them
        near = min((m for m in groups if m.startswith("tpe+pareto_asha")), default=None,
                   key=lambda m: abs(epochs[m] - epochs["tpe"]))
        if near is not None and abs(epochs[near] - epochs["tpe"]) <= epochs["tpe"] / 4:
            targets.append((near, "tpe", 0.95, f"pareto_asha >= 0.95 x FIFO at equal epochs "
                                                f"({epochs[near]:g} against {epochs['tpe']:g})"))
    lines.append("")
    for method, base, factor, what in targets:
        if method in median and base in median and median[base] > 0:
            ratio = median[method] / median[base]
            lines.append(f"- {what}: {ratio:.3f} ({'met' if ratio >= factor else 'NOT met'})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--num-samples", type=int, default=32)
    parser.add_argument("--max-epochs", type=int, default=15)
    parser.add_argument("--cpus", type=int, default=os.cpu_count(), help="the CPUs Ray offers (trials at once)")
    parser.add_argument("--raw", type=Path, help="append each run's figures to this JSON lines file")
    parser.add_argument("--tables-from", type=Path, nargs="+", help="print the tables of earlier --raw files")
    args = parser.parse_args()
    if args.tables_from:
        print(tables(jsonl.read(args.tables_from)))
        return
    runs = []
    with tempfile.TemporaryDirectory(prefix="pareto-bench-") as tmp, local_ray(args.cpus) as address:
        for seed in args.seeds:
            for method in args.methods:
                result = run(method, seed, Path(tmp), args.num_samples, args.max_epochs, address)
                runs.append(result)
                print(f"{method} seed {seed}: hypervolume {result['hypervolume']:.4f}, front {result['front']}, "
                      f"{result['epochs']} epochs, {result['wall_s']} s", flush=True)
                if args.raw:
                    jsonl.append(args.raw, result)
    print(tables(runs))


if __name__ == "__main__":
    main()

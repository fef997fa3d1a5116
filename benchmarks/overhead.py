"""What Ray and raytune-app cost on top of training: per-trial overhead, utilisation, start-up,
driver memory, and the trainer's throughput against a bare PyTorch loop.

    .venv/bin/python benchmarks/overhead.py [--trials 500]

(a) per-trial overhead: many trials of one tiny epoch each, amortised seconds per trial;
(b) utilisation: a FIFO run of fixed-length trials, sum of trial training time / (wall x cores);
(c) time from the command to the first trial's first result, with a fresh Ray and joining a running one
    (`cluster-local up`: the fast path for repeated runs), and Ray's floor: a bare `ray.init` plus one Tune trial
    of a tiny function, from its process's start;
(d) the driver's resident memory at trial 100 and at the last trial;
(e) the trainer's samples per second against a bare PyTorch loop (same model, batch size, threads);
(f) `ray.init` alone, fresh: with Ray's defaults, with the dashboard off, and as a local run starts it now;
(h) the trials' timeline on the search benchmark's MLP task (its ASHA + HyperOpt; `--timeline-trials`, 32 and
    1,000 by default): the gap between a trial's epochs (its checkpoint, `tune.report` and the wait for the
    driver), the time between trials on one worker (from the last result of one trial to the first epoch's
    start of the next: the driver's decision, the next config, the actor's reset, the new model) and
    utilisation while tuning. `--checkout DIR` runs another checkout's raytune_app alongside this one's, its runs
    interleaved with this one's (a "before" against this "after" on the same machine in one run); `--raw FILE`
    appends each run's figures as a JSON line (the docs' tables are generated from benchmarks/results);
(g) `--only cadence`: utilisation, wall time and how old the saved experiment state is (what a killed driver
    resumes from) under each experiment-state snapshot period (TUNE_GLOBAL_CHECKPOINT_S, --periods; `ours`:
    raytune-app's own), on (b)'s job and on --trials one-epoch trials, and what one copy of the staging folder
    costs at 1,000 and 10,000 trial folders; `--raw FILE` keeps each run too;
(i) `--only searcher`: what the searchers raytune-app asks ahead (HyperOpt's and Optuna's TPE, on the MLP task's
    space) take to suggest a config once they were told of 32 to `--timeline-trials`' largest number of finished
    trials, in this process, outside Ray: the work that must fit between two trials on the driver's cores.
    `--raw FILE` keeps each figure too.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import jsonl  # noqa: E402

os.environ["PYTHONPATH"] = str(REPO)  # the commands below run this checkout's raytune_app, whatever is installed
MLP_TASK = REPO / "search_spaces" / "mlp_synthetic.yaml"  # compare.py's MLP task


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def staged(name: str) -> list[Path]:
    """Trial result files as the driver writes them, before Ray syncs them to the storage path
    (in the Ray session's artifacts folder: how far a run is, while it runs)."""
    return list(Path("/tmp/ray/session_latest/artifacts").glob(f"*/{name}/driver_artifacts/trial_*/result.json"))


def results(exp: Path) -> list[dict]:
    """The last result of each trial that has reported."""
    out = []
    for f in exp.glob("trial_*/result.json"):
        lines = f.read_text().splitlines()
        if lines:
            out.append(json.loads(lines[-1]))
    return out


def experiment(tmp: Path, name: str, **fields) -> Path:
    spec = {"name": name, "metric": "val_accuracy", "mode": "max", "scheduler": "fifo", "search": "random",
            "max_epochs": 1, "num_samples": 10, "checkpoint_every": 1, **fields}
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


TINY = {"data": {"dataset": "synthetic", "n_samples": 200, "n_features": 8, "n_classes": 2},
        "space": {"lr": {"loguniform": [1e-3, 1e-1]}, "hidden_sizes": [8]}}


def many_tiny_trials(tmp: Path, trials: int) -> dict:
    """(a) and (d) from one run of `trials` one-epoch trials on tiny data."""
    file = experiment(tmp, "tiny", num_samples=trials, **TINY)
    exp = tmp / "runs" / "tiny"
    started = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "raytune_app", "tune", str(file), "--storage", str(tmp / "runs")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rss_at_100 = None
    last = (0, float("nan"))  # (trials done, driver RSS) at the last look while trials were still coming
    while proc.poll() is None:
        done = len(staged("tiny"))
        try:
            rss = rss_mb(proc.pid)
        except OSError:  # it just exited
            break
        if rss_at_100 is None and done >= 100:
            rss_at_100 = rss
        if done > last[0]:
            last = (done, rss)
        time.sleep(0.05)
    wall = time.time() - started
    res = results(exp)
    span = max(r["timestamp"] for r in res) - min(r["timestamp"] - r["time_total_s"] for r in res)
    slots = os.cpu_count() or 1
    train = sum(r["time_total_s"] for r in res) / len(res)
    return {"trials": len(res), "wall_s": wall, "overhead_per_trial_s": span * slots / len(res) - train,
            "driver_rss_mb_at_100": rss_at_100, f"driver_rss_mb_at_{last[0]}": last[1],
            "driver_rss_growth_mb": last[1] - rss_at_100}


def first_result(tmp: Path, repeats: int = 3) -> dict:
    """(c): seconds from the command to its first progress line (our own start-up, before Ray) and to its
    first trial's first result (a one-epoch trial on tiny data: an upper bound on "running"), medians of
    `repeats` runs, each starting its own Ray, then each joining a Ray started beforehand."""
    file = experiment(tmp, "first", num_samples=2, **TINY)
    # the loopback cluster below runs without tokens, its state in this run's folder (not another's cluster)
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAYTUNE_APP_LOCAL_CLUSTER_DIR": str(tmp / "cluster")}
    runs = itertools.count()

    def once(*flags: str) -> tuple[float | None, float | None]:
        started = time.time()
        proc = subprocess.Popen([sys.executable, "-m", "raytune_app", "tune", str(file),
                                 "--storage", str(tmp / f"first-{next(runs)}"), *flags],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        own = first = None
        for line in proc.stdout:
            own = own if own is not None else time.time() - started
            if first is None and line.startswith("[1/"):
                first = time.time() - started
        proc.wait()
        return own, first

    fresh = [once() for _ in range(repeats)]
    cores = str(os.cpu_count() or 1)
    up = subprocess.run([sys.executable, "-m", "raytune_app", "cluster-local", "up", "--nodes", "1",
                         "--cpus-per-node", cores], capture_output=True, text=True, check=True, env=env)
    address = next(line.split()[-1] for line in up.stdout.splitlines() if line.startswith("address:"))
    try:
        joined = [once("--address", address) for _ in range(repeats)]
    finally:
        subprocess.run([sys.executable, "-m", "raytune_app", "cluster-local", "down"], capture_output=True, env=env)
    med = statistics.median
    return {"own_startup_s": med(o for o, _ in fresh), "first_result_s_fresh_ray": med(f for _, f in fresh),
            "first_result_s_running_ray": med(f for _, f in joined)}


INIT = """import json, sys, time
import ray
started = time.perf_counter()
ray.init(**json.loads(sys.argv[1]))
print(time.perf_counter() - started)
ray.shutdown()
"""


FLOOR = """import time
started = time.time()
import os, sys
import ray
from ray import tune

def tiny(config):
    tune.report({"x": 1, "at": time.time()})

ray.init(address="local", include_dashboard=False)  # a fresh Ray, as the command starts one
result = tune.Tuner(tiny, run_config=tune.RunConfig(storage_path=sys.argv[1], verbose=0)).fit()[0]
print(result.metrics["at"] - started)
ray.shutdown()
"""


def floor(tmp: Path, repeats: int = 3) -> dict:
    """(c): the floor that Ray sets on the first result: a fresh process that imports Ray, starts it and runs one
    Tune trial of a tiny function, seconds from the process's start to that trial's report (medians of
    `repeats`; compare with first_result_s_fresh_ray, which also imports PyTorch and trains an epoch)."""
    times = [float(subprocess.run([sys.executable, "-c", FLOOR, str(tmp / f"floor-{i}")], check=True,
                                  capture_output=True, text=True).stdout.split()[-1]) for i in range(repeats)]
    return {"first_result_s_floor_bare_ray_tune": statistics.median(times)}


def ray_init(repeats: int = 3) -> dict:
    """(f): seconds in `ray.init` starting a local Ray, each in a fresh process, medians of `repeats`; the last
    is what `raytune-app tune` passes now for a small data set (the object store at its floor)."""
    from raytune_app.cluster.ray_session import OBJECT_STORE_FLOOR

    variants = {"ray_init_s_ray_defaults": {}, "ray_init_s_no_dashboard": {"include_dashboard": False},
                "ray_init_s_no_dashboard_sized_store": {"include_dashboard": False,
                                                       "object_store_memory": OBJECT_STORE_FLOOR}}
    return {key: statistics.median(float(subprocess.run([sys.executable, "-c", INIT, json.dumps(kwargs)],
                                                        check=True, capture_output=True, text=True).stdout)
                                   for _ in range(repeats))
            for key, kwargs in variants.items()}


def utilisation_job(tmp: Path, name: str = "util", epochs: int = 10) -> Path:
    """(b)'s experiment: FIFO, fixed-length trials, four per core."""
    return experiment(tmp, name, num_samples=4 * (os.cpu_count() or 1), max_epochs=epochs,
                      data={"dataset": "synthetic", "n_samples": 12000, "n_features": 64},
                      space={"lr": 0.005, "batch_size": 16, "hidden_size": 256, "seed": {"int": [0, 1000]}})


def utilisation(tmp: Path) -> dict:
    """(b): FIFO, fixed-length trials that fill every core."""
    slots = os.cpu_count() or 1
    file = utilisation_job(tmp)
    started = time.time()
    subprocess.run([sys.executable, "-m", "raytune_app", "tune", str(file), "--storage", str(tmp / "runs")],
                   check=True, capture_output=True)
    wall = time.time() - started
    res = results(tmp / "runs" / "util")
    busy = sum(r["time_total_s"] for r in res)
    tuning = max(r["timestamp"] for r in res) - min(r["timestamp"] - r["time_total_s"] for r in res)
    return {"utilisation_whole_command": busy / (wall * slots), "utilisation_while_tuning": busy / (tuning * slots),
            "trial_seconds": busy, "wall_s": wall}


def snapshot_run(file: Path, storage: Path, period: str, address: str | None = None) -> dict:
    """One run under TUNE_GLOBAL_CHECKPOINT_S=period (`ours`: unset, raytune-app's own period): its wall time
    and utilisation, and how old the experiment state on the storage path was at each look while trials ran
    (what a killed driver resumes from)."""
    name = yaml.safe_load(file.read_text())["name"]
    env = {k: v for k, v in os.environ.items() if k != "TUNE_GLOBAL_CHECKPOINT_S"}
    if period != "ours":
        env["TUNE_GLOBAL_CHECKPOINT_S"] = period
    storage.mkdir(parents=True)
    log = storage / "tune.log"
    started = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "raytune_app", "tune", str(file), "--storage", str(storage),
                             *(["--address", address] if address else [])],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    ages, saves = [], set()
    while proc.poll() is None:
        states = list((storage / name).glob("experiment_state-*.json"))
        try:
            newest = max((f.stat().st_mtime for f in states), default=None)
        except OSError:  # replaced while looked at
            newest = None
        if newest is not None:
            ages.append(time.time() - newest)
            saves.add(newest)
        time.sleep(0.1)
    wall = time.time() - started
    if proc.returncode:
        raise SystemExit(f"tune {file} under TUNE_GLOBAL_CHECKPOINT_S={period} failed ({proc.returncode}):\n"
                         + log.read_text()[-3000:])
    res = results(storage / name)
    busy = sum(r["time_total_s"] for r in res)
    tuning = max(r["timestamp"] for r in res) - min(r["timestamp"] - r["time_total_s"] for r in res)
    return {"wall_s": wall, "utilisation": busy / (tuning * (os.cpu_count() or 1)),
            "state_age_median_s": statistics.median(ages) if ages else float("nan"),
            "state_age_max_s": max(ages, default=float("nan")), "saves_seen": len(saves)}


def staging_copy(tmp: Path, trials: int) -> dict:
    """What each snapshot's copy of the staging folder costs with `trials` trial folders (result.json,
    progress.csv, params.json and a TensorBoard file each): the call Ray's syncer makes (pyarrow's copy_files,
    on a thread of the driver), timed here without Ray."""
    import pyarrow.fs

    source = tmp / f"staging-{trials}"
    for i in range(trials):
        folder = source / f"trial_{i:05d}"
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps({"score": 0.5, "trial_id": f"{i:05d}", "epoch": 1}) + "\n")
        (folder / "progress.csv").write_text("score,trial_id,epoch\n0.5,0,1\n")
        (folder / "params.json").write_text('{"x": 0.5}')
        (folder / "events.out.tfevents.0").write_bytes(bytes(400))
    cpu, started = time.process_time(), time.time()
    pyarrow.fs.copy_files(str(source), str(tmp / f"copied-{trials}"), destination_filesystem=pyarrow.fs.LocalFileSystem())
    return {"part": "staging_copy", "trials": trials, "wall_s": time.time() - started,
            "cpu_s": time.process_time() - cpu}


def snapshot_cadence(tmp: Path, args: argparse.Namespace) -> dict:
    """(g): the experiment-state snapshot period (TUNE_GLOBAL_CHECKPOINT_S) against utilisation and durability,
    on (b)'s job and on `--trials` one-epoch tiny trials (a snapshot writes every trial's state, so its cost
    grows with the trials). The periods alternate within each round; medians over `--repeats` rounds, and every
    run kept in `--raw`. `--address`: a running Ray that each run joins (default: each starts its own)."""
    cores = os.cpu_count() or 1
    jobs = {f"{4 * cores} trials x {args.cadence_epochs} epochs, (b)":
            utilisation_job(tmp, "cadence-util", args.cadence_epochs),
            f"{args.trials:,} one-epoch trials": experiment(tmp, "cadence-many", num_samples=args.trials, **TINY)}
    runs = []
    for r in range(args.repeats):
        for period in (args.periods if r % 2 == 0 else args.periods[::-1]):
            for i, (job, file) in enumerate(jobs.items()):
                found = snapshot_run(file, tmp / f"cadence-{r}-{period}-{i}", period, args.address)
                runs.append({"part": "cadence", "job": job, "period": period, "round": r, "cores": cores, **found})
                keep(args.raw, runs[-1])
    for trials in (1000, 10000):
        runs.append(staging_copy(tmp, trials))
        keep(args.raw, runs[-1])
    return {"tables": tables(runs)}


def throughput(epochs: int = 5) -> dict:
    """(e): our trainer against a DataLoader loop, same classic NeuralNet, batch 64, one thread."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from raytune_app.data.datasets import load_dataset
    from raytune_app.trial.models import Hyperparams, build_model, build_optimizer
    from raytune_app.spec.load import DataSpec
    from raytune_app.trial.loop import train_epoch

    torch.set_num_threads(1)
    data = load_dataset(DataSpec(dataset="synthetic", n_samples=5000, n_features=128, n_classes=10))
    X, y = torch.from_numpy(data.X_train), torch.from_numpy(data.y_train)
    hp = Hyperparams.from_config({"batch_size": 64})

    def ours():
        model = build_model("mlp", hp, data.input_shape, data.outputs)
        opt, gen = build_optimizer(hp, model.parameters()), torch.Generator().manual_seed(0)
        for _ in range(epochs):
            train_epoch(model, opt, X, y, data, 64, gen)

    def bare():
        model = nn.Sequential(nn.Linear(128, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True)
        for _ in range(epochs):
            for xb, yb in loader:
                loss = nn.functional.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()

    rates = {}
    for label, fn in (("bare", bare), ("raytune_app", ours), ("bare_again", bare)):
        started = time.perf_counter()
        fn()
        rates[label] = len(X) * epochs / (time.perf_counter() - started)
    bare_rate = max(rates["bare"], rates["bare_again"])
    return {"samples_per_s_trainer": rates["raytune_app"], "samples_per_s_bare_loop": bare_rate,
            "trainer_vs_bare": rates["raytune_app"] / bare_rate}


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1] if len(values) > 1 else \
        (values[0] if values else float("nan"))


def trial_timeline(rows: list[dict], slots: int) -> dict:
    """(h) from every result row of a run (Ray's result.json lines: each epoch's `reported_at` and
    `epoch_time_s`, its trial and worker process, and whether it saved a checkpoint): the gaps between a trial's
    epochs, also apart by whether the epoch before saved a checkpoint, the gaps between trials on one worker, in
    milliseconds, and the trials' training time over the cores while tuning."""
    spans = sorted((r["reported_at"] - r["epoch_time_s"], r["reported_at"], r["trial_id"], r["pid"],
                    bool(r.get("checkpoint_dir_name"))) for r in rows)
    gaps: dict[str, list[float]] = {"epoch": [], "epoch_after_checkpoint": [], "epoch_no_checkpoint": [], "trial": []}
    last_of: dict[int, tuple[float, str, bool]] = {}
    for start, end, trial, pid, saved in spans:  # by start: each worker's epochs in the order it trained them
        previous = last_of.get(pid)
        if previous is not None:
            gap = (start - previous[0]) * 1000
            if previous[1] != trial:
                gaps["trial"].append(gap)
            else:
                gaps["epoch"].append(gap)
                gaps["epoch_after_checkpoint" if previous[2] else "epoch_no_checkpoint"].append(gap)
        last_of[pid] = (end, trial, saved)
    busy = sum(span[1] - span[0] for span in spans)
    tuning = max(span[1] for span in spans) - min(span[0] for span in spans)
    figures = {"epochs": len(spans), "trials": len({s[2] for s in spans}),
               "checkpointed_epochs": sum(s[4] for s in spans)}
    for kind, values in gaps.items():
        figures[f"{kind}_gap_ms_median"] = statistics.median(values) if values else float("nan")
        figures[f"{kind}_gap_ms_p90"] = quantile(values, 0.9)
    return figures | {"utilisation_while_tuning": busy / (tuning * slots), "tuning_s": tuning}


def all_rows(exp: Path) -> list[dict]:
    """Every result row of every trial of a finished run."""
    return [json.loads(line) for f in exp.glob("trial_*/result.json") for line in f.read_text().splitlines()
            if line.strip()]


def timeline_run(tmp: Path, checkout: Path, trials: int, seed: int) -> dict:
    """(h): one run of the MLP task with `trials` trials by the raytune_app of `checkout`."""
    name = f"timeline-{trials}-{seed}-{len(list(tmp.glob('timeline-*')))}"
    started = time.time()
    subprocess.run([sys.executable, "-m", "raytune_app", "tune", str(MLP_TASK), "--storage", str(tmp),
                    "--name", name, "--num-samples", str(trials), "--seed", str(seed)],
                   check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(checkout)},
                   cwd=checkout)  # `-m` puts the working folder first: from another, its raytune_app would run
    return {"part": "timeline", "checkout": str(checkout), "commit": commit_of(checkout), "this": checkout == REPO,
            "trials_asked": trials, "seed": seed, "wall_s": time.time() - started, "cores": os.cpu_count() or 1,
            **trial_timeline(all_rows(tmp / name), os.cpu_count() or 1)}


def commit_of(checkout: Path) -> str:
    """The checkout's commit (with `+` when it has changes of its own), the name its runs go by in the tables."""
    git = ["git", "-C", str(checkout)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True).stdout.strip()
    return (head or str(checkout)) + ("+" if dirty else "")


def timelines(tmp: Path, args: argparse.Namespace) -> dict:
    """(h) for each size, seed and checkout, checkouts innermost (so a machine's drift falls on each alike);
    the medians over seeds, per size and checkout (printed by `tables`)."""
    checkouts = [REPO, *args.checkout]
    runs = []
    for trials in args.timeline_trials:
        for seed in range(args.repeats):
            for checkout in checkouts:
                run = timeline_run(tmp, checkout, trials, seed)
                runs.append(run)
                print(json.dumps(run), file=sys.stderr, flush=True)
                keep(args.raw, run)
    return {"tables": tables(runs)}


WINDOW = 20  # suggestions per figure of (i)


def searcher_cost(tmp: Path, args: argparse.Namespace) -> dict:
    """(i) for each round and searcher: the median time of `suggest` over the WINDOW suggestions up to each count
    of finished trials told (each told as trained to the end, with a random score: TPE's work grows with the
    trials, not with their scores)."""
    from raytune_app.spec.load import load_spec
    from raytune_app.spec.options import searcher_kwargs
    from raytune_app.spec.space import to_param_space
    from raytune_app.tuner.searchers import ASKED_AHEAD, learning_searcher

    told = max(args.timeline_trials)
    counts = [n for n in (32, 100, 250, 500, 1000, 2000, 5000, 10000) if n < told] + [told]
    records = []
    for seed, name in itertools.product(range(args.repeats), ASKED_AHEAD):
        spec = load_spec(MLP_TASK, {"search": name, "seed": seed})
        searcher = learning_searcher(spec, *searcher_kwargs(spec), None)
        searcher.set_search_properties(spec.metric, spec.mode,
                                       {} if name == "hyperopt" else to_param_space(spec.params))
        scores, times = random.Random(seed), []
        for n in range(1, told + 1):
            started = time.perf_counter()
            searcher.suggest(str(n))
            times.append(time.perf_counter() - started)
            searcher.on_trial_complete(str(n), {spec.metric: scores.random(), "training_iteration": spec.max_epochs})
            if n in counts:
                record = {"part": "searcher", "searcher": name, "seed": seed, "told": n,
                          "suggest_ms": 1000 * statistics.median(times[-WINDOW:])}
                records.append(record)
                keep(args.raw, record)
    return {"tables": tables(records)}


def keep(raw: Path | None, record: dict) -> None:
    if raw:
        jsonl.append(raw, record)


TIMELINE_COLUMNS = {"epochs": "epochs", "checkpointed_epochs": "checkpointed",
                    "epoch_gap_ms_median": "per epoch ms (median)", "epoch_gap_ms_p90": "per epoch ms (p90)",
                    "epoch_after_checkpoint_gap_ms_median": "after a checkpoint ms",
                    "epoch_no_checkpoint_gap_ms_median": "without ms", "trial_gap_ms_median": "between trials ms",
                    "trial_gap_ms_p90": "between trials ms (p90)", "utilisation_while_tuning": "utilisation"}
TARGETS = [("epoch_gap_ms_median", "<=", 3.0, "per-epoch gap (checkpoint, report, driver's wait) <= 3 ms median"),
           ("trial_gap_ms_median", "<=", 15.0, "time between trials <= 15 ms median"),
           ("utilisation_while_tuning", ">=", 0.97, "utilisation while tuning >= 97 %")]
STARTUP = {"own_startup_s": "our first line", "first_result_s_fresh_ray": "first result, Ray started by the command",
           "first_result_s_running_ray": "first result, joining a running Ray",
           "first_result_s_floor_bare_ray_tune": "Ray's floor: bare `ray.init` + one Tune trial of a tiny function",
           "ray_init_s_ray_defaults": "`ray.init` alone, Ray's defaults",
           "ray_init_s_no_dashboard": "`ray.init` alone, no dashboard",
           "ray_init_s_no_dashboard_sized_store": "`ray.init` alone, as a local run starts it"}


def _cell(value: float, key: str) -> str:
    if isinstance(value, float) and value != value:  # NaN: no such gap (every epoch saved a checkpoint)
        return "-"
    return f"{value:.1%}" if key.startswith("utilisation") else f"{value:.1f}" if isinstance(value, float) else \
        str(value)


def tables(records: list[dict]) -> str:
    """The tables of --raw's records, each part's apart: (h)'s timeline with issue 27's targets, (g)'s snapshot
    periods and copies, (i)'s searchers, (c, f)'s start-up."""
    blocks = (_timeline_table(records), _cadence_table(records), _copy_table(records), _searcher_table(records),
              _startup_table(records))
    return "\n\n".join("\n".join(block) for block in blocks if block)


def _part(records: list[dict], name: str) -> list[dict]:
    return [r for r in records if r.get("part") == name]


def _groups(records: list[dict], key: Callable[[dict], tuple]) -> dict[tuple, list[dict]]:
    """The records by `key`, in the order each key first comes."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault(key(r), []).append(r)
    return groups


def _timeline_table(records: list[dict]) -> list[str]:
    """(h): medians over seeds per size and checkout (this checkout first), then the targets on this one's runs."""
    timeline = sorted(_part(records, "timeline"), key=lambda r: (r["trials_asked"], not r["this"]))
    if not timeline:
        return []
    out = ["| trials | checkout | runs | " + " | ".join(TIMELINE_COLUMNS.values()) + " |",
           "|---" * (len(TIMELINE_COLUMNS) + 3) + "|"]
    groups = _groups(timeline, lambda r: (r["trials_asked"], r["commit"] + ("" if r["this"] else " (before)")))
    for (trials, label), rs in groups.items():
        cells = [_cell(statistics.median(r[k] for r in rs), k) for k in TIMELINE_COLUMNS]
        out.append(f"| {trials} | {label} | {len(rs)} | " + " | ".join(cells) + " |")
    out.append("")
    for trials in sorted({r["trials_asked"] for r in timeline}):
        mine = [r for r in timeline if r["this"] and r["trials_asked"] == trials]
        for key, op, bound, what in TARGETS if mine else ():
            value = statistics.median(r[key] for r in mine)
            met = value <= bound if op == "<=" else value >= bound
            out.append(f"- {trials} trials, {what}: {_cell(value, key)} ({'met' if met else 'NOT met'})")
    return out


def _our_period() -> str:
    """raytune-app's rule, read off the one place that sets it (ray_compat/settings.py)."""
    from raytune_app.ray_compat.settings import SNAPSHOT_PERIOD_S, SNAPSHOT_S_PER_TRIAL

    low, high = SNAPSHOT_PERIOD_S
    return f"raytune-app's (unset: {SNAPSHOT_S_PER_TRIAL * 1000:g} ms a trial, {low:g} to {high:g} s)"


PERIODS = {"ours": _our_period(), "auto": "Ray's `auto`"}
CADENCE_COLUMNS = {"wall_s": "wall s", "utilisation": "utilisation while tuning",
                   "state_age_median_s": "saved state's age, median s", "state_age_max_s": "its age, max s",
                   "saves_seen": "snapshots seen"}
CADENCE_FORMAT = {"utilisation": ".1%", "saves_seen": ".0f"}


def _cadence_table(records: list[dict]) -> list[str]:
    """(g): per job and period, the medians over rounds."""
    cadence = _part(records, "cadence")
    if not cadence:
        return []
    out = ["| job | snapshot period | runs | " + " | ".join(CADENCE_COLUMNS.values()) + " |",
           "|---" * (len(CADENCE_COLUMNS) + 3) + "|"]
    for (job, period), rs in _groups(cadence, lambda r: (r["job"], r["period"])).items():
        cells = [format(statistics.median(r[k] for r in rs), CADENCE_FORMAT.get(k, ".1f")) for k in CADENCE_COLUMNS]
        out.append(f"| {job} | {PERIODS.get(period, f'{period} s')} | {len(rs)} | " + " | ".join(cells) + " |")
    return out


def _copy_table(records: list[dict]) -> list[str]:
    """(g): what one copy of the staging folder costs."""
    copies = sorted(_part(records, "staging_copy"), key=lambda r: r["trials"])
    if not copies:
        return []
    return ["| one copy of the staging folder | wall s | CPU s |", "|---|---|---|"] + [
        f"| {r['trials']:,} trial folders | {r['wall_s']:.2f} | {r['cpu_s']:.2f} |" for r in copies]


def _searcher_table(records: list[dict]) -> list[str]:
    """(i): per number of finished trials told, each searcher's suggest time, the median over rounds."""
    cost = _part(records, "searcher")
    if not cost:
        return []
    names = list(dict.fromkeys(r["searcher"] for r in cost))
    out = ["| finished trials told | rounds | " + " | ".join(f"{n} suggest ms" for n in names) + " |",
           "|---" * (len(names) + 2) + "|"]
    for told, at in sorted(_groups(cost, lambda r: r["told"]).items()):
        cells = [f"{statistics.median(r['suggest_ms'] for r in at if r['searcher'] == n):.1f}" for n in names]
        out.append(f"| {told:,} | {len({r['seed'] for r in at})} | " + " | ".join(cells) + " |")
    return out


def _startup_table(records: list[dict]) -> list[str]:
    """(c, f): medians over the runs kept."""
    startup = _part(records, "startup")
    if not startup:
        return []
    return ["| start-up (seconds from the process's start) | median of runs |", "|---|---|"] + [
        f"| {what} | {statistics.median(r[k] for r in startup if k in r):.2f} |"
        for k, what in STARTUP.items() if any(k in r for r in startup)]


def startup(tmp: Path, args: argparse.Namespace) -> dict:
    figures = {**first_result(tmp), **floor(tmp), **ray_init()}
    keep(args.raw, {"part": "startup", "cores": os.cpu_count() or 1, **figures})
    return figures


PARTS: dict[str, Callable[[Path, argparse.Namespace], dict]] = {
    "trials": lambda tmp, args: many_tiny_trials(tmp, args.trials),
    "startup": startup,
    "utilisation": lambda tmp, args: utilisation(tmp),
    "throughput": lambda tmp, args: throughput(),
    "cadence": snapshot_cadence,
    "timeline": timelines,
    "searcher": searcher_cost,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--only", nargs="+", choices=PARTS,
                        help="some of the figures: (a, d), (c, f), (b), (e), (g), (h), (i)")
    parser.add_argument("--timeline-trials", type=int, nargs="+", default=[32, 1000],
                        help="(h): trials per run; (i): the largest is the most finished trials told")
    parser.add_argument("--checkout", type=Path, nargs="*", default=[],
                        help="(h): other checkouts of raytune-app to run alongside this one (e.g. main's)")
    parser.add_argument("--raw", type=Path,
                        help="(c, f, g, h, i): append each run's figures to this file (JSON lines)")
    parser.add_argument("--tables-from", type=Path, nargs="+", metavar="FILE",
                        help="print the tables of the figures that --raw kept, and stop")
    parser.add_argument("--periods", nargs="+", default=["ours", "2", "10", "60", "auto"],
                        help="(g): the TUNE_GLOBAL_CHECKPOINT_S values compared (ours: unset, raytune-app's own)")
    parser.add_argument("--cadence-epochs", type=int, default=10, help="(g): epochs of (b)'s trials")
    parser.add_argument("--repeats", type=int, default=3,
                        help="(g): interleaved rounds; (h): runs per size and checkout (seeds 0, 1, ...); (i): rounds")
    parser.add_argument("--address", help="(g): a running Ray that each run joins (default: each starts one)")
    args = parser.parse_args()
    if args.tables_from:
        print(tables(jsonl.read(args.tables_from)))
        return
    figures, printed = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or PARTS:
            part = PARTS[name](Path(tmp), args)
            printed += filter(None, [part.pop("tables", None)])  # (g), (h), (i): tables of their own
            figures |= part
    print(f"{os.cpu_count()} cores")
    if figures:
        print("| figure | value |\n|---|---|")
    for key, value in figures.items():
        print(f"| {key} | {value:.3f} |" if isinstance(value, float) else f"| {key} | {value} |")
    for text in printed:
        print("\n" + text)


if __name__ == "__main__":
    main()

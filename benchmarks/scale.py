"""raytune-app against bare Ray Tune from hundreds to 10,000 trials, and the reports of such an experiment (issue 29).

    .venv/bin/python benchmarks/scale.py [--trials 200 1000 5000 10000] [--repeats 3] [--parts once model cluster reports]

once     N trials of a Ray Tune function that reports once (FIFO, Ray's random search, a CPU a trial) through
         `raytune-app tune` and through bare Ray Tune (benchmarks/bare_tune.py: `Tuner.fit` of the same function,
         reuse_actors=True), on one node started by each command.
model    --model-trials trials (1,000) of the built-in MLP on tiny data for 3 epochs, a checkpoint each; bare Ray
         Tune runs raytune-app's own trial function, so the two differ by what raytune-app adds around Ray Tune.
cluster  `once` at --model-trials trials on the fake autoscaling cluster of the tests (tests/fake_autoscaling.py:
         a 1-CPU head, nodes added by Ray's autoscaler), each run from a cluster of the head alone.
reports  `report`, `report --html` and the Python API's `raytune_app.load` (with its best trial and table) of
         the largest `once` experiment (a real run), of a synthetic one of that size shaped like the default job
         (ASHA, 30 epochs: tests/synthetic.py; written without Ray, so it has no checkpoints), and of the `model`
         experiment, with `best` too (it loads the best checkpoint's model): wall time and peak memory of each,
         and the page's size.

Per run: wall time of the command; the driver's CPU seconds and peak memory (its own process, read from /proc
while it runs); the tail, from the last trial's end (the function's own clock) to the command's exit (raytune-app:
summary, retention, records; bare: Ray's last snapshot and shutdown). Rounds are interleaved: each runs every
size and both variants (their order alternating), and the tables show medians over the rounds, with the
marginal cost per trial between consecutive sizes. `--out FILE` appends every run's raw figures (JSON lines);
`--tables-from FILE...` prints their tables again, and docs/performance.md shows them (`python -m docs.gen`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from benchmarks import jsonl  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
VARIANTS = ("raytune-app", "bare")

ONCE = '''import time

from ray import tune


def train(config):
    time.sleep(config["sleep"])
    tune.report({"score": config["x"], "ended": time.time()})
'''


def experiment(folder: Path, kind: str, trials: int, sleep: float) -> Path:
    """An experiment file (and the function file beside it) in a folder of its own: the folder is what a
    cluster run ships to the nodes."""
    folder.mkdir(parents=True)
    if kind == "model":
        spec = {"data": {"dataset": "synthetic", "n_samples": 200, "n_features": 8, "n_classes": 2},
                "space": {"lr": {"loguniform": [1e-3, 1e-1]}, "hidden_sizes": [8]},
                "metric": "val_accuracy", "max_epochs": 3}
    else:
        (folder / "once.py").write_text(ONCE)
        spec = {"trainable": "once.py:train", "space": {"x": {"uniform": [0, 1]}, "sleep": sleep},
                "metric": "score", "max_epochs": 1}
    spec |= {"name": f"{kind}-{trials}", "mode": "max", "scheduler": "fifo", "search": "random",
             "num_samples": trials}
    path = folder / "experiment.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


class Driver:
    """A command's process, watched from /proc: its CPU seconds and its peak memory (VmHWM) at the last look."""

    def __init__(self, proc: subprocess.Popen, pid: int | None = None):
        self.proc, self.pid = proc, pid or proc.pid
        self.cpu_s, self.peak_mb = 0.0, 0.0

    def look(self) -> None:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:  # it just ended
            return
        self.cpu_s = (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
        hwm = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), None)
        self.peak_mb = max(self.peak_mb, int(hwm) / 1024) if hwm else self.peak_mb

    def wait(self, timeout: float) -> float:
        """Watch until the process ends; its exit time."""
        deadline = time.time() + timeout
        while self.proc.poll() is None:
            if time.time() > deadline:
                self.proc.kill()
                raise SystemExit(f"{self.proc.args} ran past {timeout} s")
            self.look()
            time.sleep(0.1)
        return time.time()


def child_of(pid: int) -> int:
    """The process that `nsenter --pid` forks to run the command in the namespace."""
    for _ in range(100):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    return pid


def last_trial_end(exp: Path) -> tuple[int, float]:
    """(trials that reported, when the last of them ended: the latest clock a trial reported, `ended` of the
    function, `reported_at` of the built-in loop)."""
    ends = []
    for f in exp.glob("*/result.json"):  # trial folders: trial_ID (raytune-app), NAME_ID_... (bare)
        lines = f.read_text().splitlines()
        if lines:
            last = json.loads(lines[-1])
            ends.append(last.get("ended") or last["reported_at"])
    return len(ends), max(ends, default=float("nan"))


def one_run(variant: str, spec: Path, storage: Path, cluster=None, timeout: float = 7200) -> dict:
    kind = "model" if "model-" in spec.read_text() else "once"
    if variant == "raytune-app":
        args = [sys.executable, "-m", "raytune_app", "tune", str(spec), "--storage", str(storage)]
    else:
        args = [sys.executable, str(REPO / "benchmarks" / "bare_tune.py"), kind, str(spec), str(storage)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(spec.parent)]),
           "RAY_USAGE_STATS_ENABLED": "0"}
    if cluster is not None:
        from fake_autoscaling import GCS

        args = cluster.inside([*args, "--address", GCS], cwd=spec.parent)
        env |= {"RAY_AUTH_MODE": "disabled"}
    log = storage.parent / f"{variant}.log"
    started = time.time()
    proc = subprocess.Popen(args, env=env, cwd=spec.parent, stdout=log.open("w"), stderr=subprocess.STDOUT)
    driver = Driver(proc, child_of(proc.pid) if cluster is not None else None)
    ended = driver.wait(timeout)
    name = yaml.safe_load(spec.read_text())["name"]
    reported, last_end = last_trial_end(storage / name)
    if proc.returncode or not reported:
        found = sorted(str(f.relative_to(storage)) for f in storage.rglob("*") if f.is_file())[:40]
        raise SystemExit(f"{variant} failed ({proc.returncode}), {reported} result.json under {storage / name}; "
                         f"files there: {found}\n{log.read_text()[-3000:]}")
    return {"variant": variant, "trials_reported": reported, "wall_s": ended - started, "driver_cpu_s": driver.cpu_s,
            "driver_peak_mb": driver.peak_mb, "tail_s": ended - last_end}


def idle(cluster, timeout: float = 180) -> None:
    """Wait until the fake cluster is back to its head alone (the last run's nodes removed as idle)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not [n for n in cluster.state("nodes") if not n["is_head_node"] and n["state"] == "ALIVE"]:
            return
        time.sleep(2)


def rounds(part: str, sizes: list[int], repeats: int, tmp: Path, sleep: float, record, cluster=None) -> list[dict]:
    """Every size and variant, `repeats` times, interleaved: the variants' order alternates each run."""
    runs, flip = [], 0
    for r in range(repeats):
        for n in sizes:
            for variant in (VARIANTS if flip % 2 == 0 else VARIANTS[::-1]):
                folder = tmp / f"{part}-{variant}-{n}-{r}"
                spec = experiment(folder, "model" if part == "model" else "once", n, sleep)
                if cluster is not None:
                    idle(cluster)
                run = {"part": part, "trials": n, "round": r, **one_run(variant, spec, folder / "runs", cluster)}
                record(run)
                runs.append(run)
                print(f"  {part} {variant} {n} trials (round {r + 1}): {run['wall_s']:.1f} s", file=sys.stderr,
                      flush=True)
            flip += 1
    return runs


def table(runs: list[dict], cores: int, sleep: float) -> str:
    """Medians per (variant, size) and the marginal cost per trial from the size before."""
    med = statistics.median
    lines = ["| variant | trials | wall s | marginal ms/trial | driver CPU s | driver peak MB | tail s |"
             + (" wall / floor |" if sleep else ""), "|---|---|---|---|---|---|---|" + ("---|" if sleep else "")]
    for variant in VARIANTS:
        sizes = sorted({r["trials"] for r in runs if r["variant"] == variant})
        walls = {n: med(r["wall_s"] for r in runs if r["variant"] == variant and r["trials"] == n) for n in sizes}
        for i, n in enumerate(sizes):
            mine = [r for r in runs if r["variant"] == variant and r["trials"] == n]
            marginal = (walls[n] - walls[sizes[i - 1]]) / (n - sizes[i - 1]) * 1000 if i else None
            row = (f"| {variant} | {n:,} | {walls[n]:.1f} | {'' if marginal is None else f'{marginal:.1f}'} | "
                   f"{med(r['driver_cpu_s'] for r in mine):.1f} | {med(r['driver_peak_mb'] for r in mine):.0f} | "
                   f"{med(r['tail_s'] for r in mine):.1f} |")
            lines.append(row + (f" {walls[n] / (n * sleep / cores):.2f} |" if sleep else ""))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------- reports

# the Python API's loading, and what `best` prints without the model (which needs a real checkpoint)
LOAD = "import sys, raytune_app; results = raytune_app.load(sys.argv[1]); results.best; results.trials"


def measured(args: list[str]) -> tuple[float, float]:
    """(wall s, peak memory MB) of a command that starts no processes of its own."""
    started = time.time()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{args} failed: {proc.stderr.read().decode()[-3000:]}")
    return time.time() - started, usage.ru_maxrss / 1024


def reports(experiments: dict[str, Path], tmp: Path, repeats: int, record) -> list[dict]:
    """Each command on each experiment, `repeats` times in turn; the medians, recorded."""
    rows = []
    for label, exp in experiments.items():
        page = tmp / f"{label}.html"
        commands = {"report": ["report", str(exp)], "report --html": ["report", str(exp), "--html", str(page)]}
        if next(exp.glob("trial_*/checkpoint_*"), None):  # `best` loads the best model (not in a synthetic one)
            commands["best"] = ["best", str(exp)]
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in [*commands, "raytune_app.load"]}
        for _ in range(repeats):
            for name, args in commands.items():
                runs[name].append(measured([sys.executable, "-m", "raytune_app", *args]))
            runs["raytune_app.load"].append(measured([sys.executable, "-c", LOAD, str(exp)]))
        for name, figures in runs.items():
            row = {"part": "reports", "experiment": label, "command": name,
                   "wall_s": statistics.median(w for w, _ in figures),
                   "peak_mb": statistics.median(m for _, m in figures),
                   "page_mb": page.stat().st_size / 1e6 if name == "report --html" else None}
            record(row)
            rows.append(row)
    return rows


def reports_table(rows: list[dict]) -> str:
    lines = ["| experiment | command | wall s | peak MB | page MB |", "|---|---|---|---|---|"]
    for r in rows:
        page = "" if r["page_mb"] is None else f"{r['page_mb']:.1f}"
        lines.append(f"| {r['experiment']} | `{r['command']}` | {r['wall_s']:.2f} | {r['peak_mb']:.0f} | {page} |")
    return "\n".join(lines)


TITLES = {"once": "one node, a function that reports once", "model": "one node, the built-in MLP, 3 epochs on "
          "200 samples", "cluster": "the fake autoscaling cluster, a function that reports once"}


def tables(records: list[dict]) -> str:
    """Every part's table from the figures `--out` kept (docs/gen/performance.py renders them in the docs)."""
    out = []
    for part, title in TITLES.items():
        runs = [r for r in records if r["part"] == part]
        if runs:
            sleep = runs[0].get("sleep", 0.0) if part == "once" else 0.0
            out.append(f"**{title}** ({runs[0]['cores']} cores, medians of {max(r['round'] for r in runs) + 1} "
                       f"interleaved rounds)\n\n{table(runs, runs[0]['cores'], sleep)}")
    rows = [r for r in records if r["part"] == "reports"]
    if rows:
        out.append(f"**reports** ({rows[0]['cores']} cores)\n\n{reports_table(rows)}")
    checked = targets(records)
    if checked:
        out.append("\n".join(f"- {what}: {figure} ({'met' if met else 'NOT met'})" for what, figure, met in checked))
    return "\n\n".join(out)


def targets(records: list[dict]) -> list[tuple[str, str, bool]]:
    """Issue 29's targets, on the medians of the kept figures: (what, the figure, met)."""
    med = statistics.median

    def median(part: str, variant: str, trials: int, key: str) -> float | None:
        values = [r[key] for r in records if r["part"] == part and r["variant"] == variant and r["trials"] == trials]
        return med(values) if values else None

    out = []
    once = [r for r in records if r["part"] == "once"]
    sizes = sorted({r["trials"] for r in once if r["variant"] == "raytune-app"})
    if sizes:
        n = sizes[-1]
        ours, bare = median("once", "raytune-app", n, "wall_s"), median("once", "bare", n, "wall_s")
        if bare:
            out.append((f"{n:,} trials on one node, wall time <= bare Ray Tune's", f"{ours:.1f} s against {bare:.1f} s",
                        ours <= bare))
        ours, bare = median("once", "raytune-app", n, "driver_peak_mb"), median("once", "bare", n, "driver_peak_mb")
        if bare:
            out.append((f"{n:,} trials, driver peak memory <= bare Ray Tune's", f"{ours:.0f} MB against {bare:.0f} MB",
                        ours <= bare))
    if {200, 1000} <= set(sizes) and sizes[-1] > 1000:
        wall = {k: median("once", "raytune-app", k, "wall_s") for k in (200, 1000, sizes[-1])}
        low, high = (wall[1000] - wall[200]) / 800, (wall[sizes[-1]] - wall[1000]) / (sizes[-1] - 1000)
        out.append((f"marginal cost per trial from 1,000 to {sizes[-1]:,} within 1.3 x that from 200 to 1,000",
                    f"{high * 1000:.1f} ms against {low * 1000:.1f} ms, {high / low:.2f} x", high <= 1.3 * low))
    cluster = sorted({r["trials"] for r in records if r["part"] == "cluster"})
    for n in cluster:
        ours, bare = median("cluster", "raytune-app", n, "wall_s"), median("cluster", "bare", n, "wall_s")
        if ours and bare:
            out.append((f"{n:,} trials on the fake autoscaling cluster within 1.2 x bare Ray Tune's wall",
                        f"{ours:.1f} s against {bare:.1f} s, {ours / bare:.2f} x", ours <= 1.2 * bare))
    for r in records:
        if r["part"] == "reports" and r["command"] == "report --html" and "10,000" in r["experiment"]:
            out.append((f"`report --html` of {r['experiment']} <= 15 s and <= 2 GB",
                        f"{r['wall_s']:.1f} s, {r['peak_mb']:.0f} MB", r["wall_s"] <= 15 and r["peak_mb"] <= 2048))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, nargs="+", default=[200, 1000, 5000, 10000])
    parser.add_argument("--model-trials", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds each `once` trial sleeps (default 0)")
    parser.add_argument("--parts", nargs="+", choices=("once", "model", "cluster", "reports"),
                        default=["once", "model", "cluster", "reports"])
    parser.add_argument("--out", type=Path, help="append every run's raw figures here (JSON lines)")
    parser.add_argument("--tables-from", type=Path, nargs="+", metavar="FILE",
                        help="print the tables of the figures that --out kept, running nothing")
    args = parser.parse_args()
    if args.tables_from:
        print(tables(jsonl.read(args.tables_from)))
        return
    cores = os.cpu_count() or 1

    def record(run: dict) -> None:
        if args.out:
            jsonl.append(args.out, {**run, "cores": cores, "sleep": args.sleep, "at": time.time()})

    print(f"{cores} cores; medians of {args.repeats} interleaved rounds")
    with tempfile.TemporaryDirectory(prefix="rtscale") as name:
        tmp = Path(name)
        once = []
        if "once" in args.parts:
            once = rounds("once", sorted(args.trials), args.repeats, tmp, args.sleep, record)
            print(f"\none node, a function that reports once{f' after {args.sleep:g} s' if args.sleep else ''}\n"
                  + table(once, cores, args.sleep), flush=True)
        model = []
        if "model" in args.parts:
            model = rounds("model", [args.model_trials], args.repeats, tmp, 0, record)
            print(f"\none node, the built-in MLP, 3 epochs on 200 samples\n{table(model, cores, 0)}", flush=True)
        if "cluster" in args.parts:
            from fake_autoscaling import FakeCluster, namespaces_usable, scaled_down

            why = namespaces_usable()
            if why:
                print(f"\ncluster: skipped, it needs network and PID namespaces: {why}")
            else:
                cluster = FakeCluster(tmp, scaled_down())
                try:
                    cluster.start()
                    runs = rounds("cluster", [args.model_trials], args.repeats, tmp, args.sleep, record, cluster)
                finally:
                    cluster.stop()
                print(f"\nthe fake autoscaling cluster, a function that reports once\n{table(runs, cores, 0)}",
                      flush=True)
        if "reports" in args.parts:
            from synthetic import asha_like

            largest = max(args.trials)
            done = [r for r in once if r["variant"] == "raytune-app" and r["trials"] == largest]
            experiments = {}
            if done:
                experiments[f"once, {largest:,} trials"] = tmp / f"once-raytune-app-{largest}-0" / "runs" / \
                    f"once-{largest}"
            experiments[f"synthetic ASHA, {largest:,} trials"] = asha_like(tmp / "synthetic", largest)
            if model:  # real checkpoints: `best` too
                experiments[f"model, {args.model_trials:,} trials"] = \
                    tmp / f"model-raytune-app-{args.model_trials}-0" / "runs" / f"model-{args.model_trials}"
            rows = reports(experiments, tmp, args.repeats, record)
            print(f"\nreports (medians of {args.repeats})\n{reports_table(rows)}")


if __name__ == "__main__":
    main()

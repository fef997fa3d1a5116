"""How long `raytune-app report EXP --html FILE` takes, the whole command, on synthetic experiment folders
shaped like the default job (ASHA rungs at epochs 1, 3, 9, 27 of 30; a few failed and time-budget trials).

    .venv/bin/python benchmarks/report_speed.py [--trials 32 1000] [--repeats 5]

Prints, per size, the median wall time and the median CPU time (user + system) of the command: on a machine
that others share, the CPU time says what the command costs when it has the cores to itself.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from synthetic import asha_like  # noqa: E402  (tests/synthetic.py: the folders the report tests use)


def timed(args: list[str]) -> tuple[float, float]:
    """(wall s, CPU s) of one run of the command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, nargs="+", default=[32, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("| trials | wall s (median) | CPU s (median) | page MB |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.trials:
            exp = asha_like(Path(tmp) / f"synthetic-{n}", n)
            page = Path(tmp) / f"report-{n}.html"
            command = [sys.executable, "-m", "raytune_app", "report", str(exp), "--html", str(page)]
            timed(command)  # a first run warms the file cache
            runs = [timed(command) for _ in range(args.repeats)]
            print(f"| {n} | {statistics.median(w for w, _ in runs):.2f} | {statistics.median(c for _, c in runs):.2f} "
                  f"| {page.stat().st_size / 1e6:.1f} |", flush=True)


if __name__ == "__main__":
    main()

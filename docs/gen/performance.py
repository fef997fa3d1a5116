"""The benchmark tables of docs/performance.md, rendered by benchmarks/compare.py from the raw runs that
benchmarks/results keeps, so that no figure of them is typed by hand.

The page marks each generated region with the runs it comes from; the text between the markers is rewritten:

    <!-- generated: compare benchmarks/results/compare-DATE.jsonl -->
    <!-- end generated -->
    <!-- generated: levers BASELINE.jsonl LEVERS.jsonl -->   (each lever against raytune-app's default, same seeds)
    <!-- end generated -->
    <!-- generated: scale benchmarks/results/scale-DATE.jsonl -->   (benchmarks/scale.py --out FILE)
    <!-- end generated -->
    <!-- generated: pareto benchmarks/results/pareto-DATE.jsonl -->   (benchmarks/pareto.py --raw FILE)
    <!-- end generated -->
    <!-- generated: overhead benchmarks/results/overhead-DATE.jsonl -->   (benchmarks/overhead.py --raw FILE)
    <!-- end generated -->

A new round of `compare.py --raw FILE` is shown by naming its file in the marker, after the older ones: each task's
table comes from the last file named that has runs of it.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path

from benchmarks import jsonl
from docs.gen import REPO

PAGE = REPO / "docs" / "performance.md"
REGION = re.compile(r"(<!-- generated: (\w+) ([^>]*?) -->\n)(.*?)(<!-- end generated -->)", re.S)
NOTE = "<!-- rewritten by `python -m docs.gen` from the runs named above: edit those, not this table -->\n\n"


def _script(name: str):
    """benchmarks/NAME.py (the scripts are modules of the benchmarks package too)."""
    return importlib.import_module(f"benchmarks.{name}")


def _compare():
    return _script("compare")


def _budgets(by_task: dict[str, dict[str, list]]) -> list[float]:
    return sorted({b for methods in by_task.values() for runs in methods.values() for r in runs for b in r.tests})


def compare_tables(files: list[str]) -> str:
    """Each task's table from the last of `files` that has runs of it (a round of some tasks replaces only
    those tasks' older runs), every method by each budget the runs were read at; then issue 27's targets."""
    compare, named = _compare(), {REPO / f: f for f in files}  # each path as the marker names it
    latest = compare.newest_by_task(list(named))
    by_task = {task: methods for task, (_, methods) in latest.items()}
    budgets = _budgets(by_task)
    tables = [f"{compare.table(task, compare.TASKS[task], methods, budgets)}\n\nRuns: `{named[f]}`."
              for task, (f, methods) in latest.items()]
    return "\n\n".join(filter(None, [*tables, compare.verdicts(by_task, budgets)]))


def lever_tables(files: list[str]) -> str:
    """Each task's levers (the runs of the last file) against raytune-app's default in the first, at the
    largest budget, on the levers' seeds."""
    compare = _compare()
    baseline, levers = (compare.by_task(compare.read_runs([REPO / f for f in part])) for part in (files[:1], files[1:]))
    default = compare.METHODS["raytune"][0]
    return "\n\n".join(f"**{task}**\n\n" + compare.paired_table(methods, baseline[task][default],
                                                                  max(_budgets(levers)))
                       for task, methods in levers.items())


def _tables_of(script: str) -> Callable[[list[str]], str]:
    """benchmarks/SCRIPT.py's tables of the JSON lines its --out/--raw kept in `files` (scale, pareto, overhead)."""
    def tables(files: list[str]) -> str:
        return _script(script).tables(jsonl.read([REPO / f for f in files]))

    return tables


KINDS: dict[str, Callable[[list[str]], str]] = {"compare": compare_tables, "levers": lever_tables,
                                                **{kind: _tables_of(kind) for kind in ("scale", "pareto", "overhead")}}


def render(text: str) -> str:
    """The page with every generated region rewritten from the runs its marker names."""
    def region(m: re.Match) -> str:
        return f"{m[1]}{NOTE}{KINDS[m[2]](m[3].split())}\n\n{m[5]}"

    return REGION.sub(region, text)


def pages() -> dict[Path, str]:
    return {PAGE: render(PAGE.read_text())}

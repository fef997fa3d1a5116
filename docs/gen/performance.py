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

A new round of `compare.py --raw FILE` is shown by naming its file in the marker.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from docs.gen import REPO

PAGE = REPO / "docs" / "performance.md"
REGION = re.compile(r"(<!-- generated: (\w+) ([^>]*?) -->\n)(.*?)(<!-- end generated -->)", re.S)
NOTE = "<!-- rewritten by `python -m docs.gen` from the runs named above: edit those, not this table -->\n\n"


def _script(name: str):
    """benchmarks/NAME.py, which is a script rather than a package module."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look their module up while they are built
        spec.loader.exec_module(module)
    return sys.modules[name]


def _compare():
    return _script("compare")


def _by_task(files: list[str]) -> dict[str, dict[str, list]]:
    """{task: {method: [runs]}} of the runs saved in `files` (paths relative to the repository)."""
    out: dict[str, dict[str, list]] = {}
    for run in _compare().read_runs([REPO / f for f in files]):
        out.setdefault(run.task, {}).setdefault(run.method, []).append(run)
    return out


def _budgets(by_task: dict[str, dict[str, list]]) -> list[float]:
    return sorted({b for methods in by_task.values() for runs in methods.values() for r in runs for b in r.tests})


def compare_tables(files: list[str]) -> str:
    """Each task's table: every method by each budget the runs were read at."""
    compare, by_task = _compare(), _by_task(files)
    return "\n\n".join(compare.table(task, compare.TASKS[task], methods, _budgets(by_task))
                       for task, methods in by_task.items())


def lever_tables(files: list[str]) -> str:
    """Each task's levers (the runs of the last file) against raytune-app's default in the first, at the
    largest budget, on the levers' seeds."""
    compare = _compare()
    baseline, levers = _by_task(files[:1]), _by_task(files[1:])
    default = compare.METHODS["raytune"][0]
    return "\n\n".join(f"**{task}**\n\n" + compare.paired_table(methods, baseline[task][default],
                                                                  max(_budgets(levers)))
                       for task, methods in levers.items())


def _tables_of(script: str) -> Callable[[list[str]], str]:
    """benchmarks/SCRIPT.py's tables of the JSON lines its --out/--raw kept in `files` (scale, pareto, overhead)."""
    def tables(files: list[str]) -> str:
        records = [json.loads(line) for f in files for line in (REPO / f).read_text().splitlines() if line.strip()]
        return _script(script).tables(records)

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

"""How long an experiment has run, over every invocation that worked on it (tune, resume, resume ...).

Each invocation appends its start to `raytune_app_runs.jsonl` in the experiment folder, and its end
when it ends. An invocation whose driver was killed has no end: it counts until the last result that
its trials reported before the next invocation started.
"""

from __future__ import annotations

import json
import time

from raytune_app import storage
from raytune_app.results.reader import read_json_lines, read_results, trial_folders

RUNS_FILE = "raytune_app_runs.jsonl"


def _events(path: str) -> list[dict]:
    return read_json_lines(storage.join(path, RUNS_FILE))


def _append(path: str, event: dict) -> None:
    file = storage.join(path, RUNS_FILE)
    old = storage.read_text(file) if storage.exists(file) else ""
    storage.write_text(file, old + json.dumps(event) + "\n")


def record_start(path: str) -> None:
    _append(path, {"started": time.time()})


def record_end(path: str) -> None:
    _append(path, {"ended": time.time()})


def _result_times(path: str) -> list[float]:
    times = []
    for folder in trial_folders(path):
        try:
            times += [float(r["timestamp"]) for r in read_results(storage.join(path, folder)) if "timestamp" in r]
        except OSError:
            continue
    return times


def wall_times(path: str) -> tuple[float, float]:
    """(seconds over every invocation, seconds of the latest one); the latest ends now if it has not ended."""
    spans: list[list[float | None]] = []
    for event in _events(path):
        if "started" in event:
            spans.append([event["started"], None])
        elif "ended" in event and spans and spans[-1][1] is None:
            spans[-1][1] = event["ended"]
    if not spans:
        return 0.0, 0.0
    now = time.time()
    if spans[-1][1] is None:
        spans[-1][1] = now
    killed = [i for i, (_, end) in enumerate(spans) if end is None]
    times = _result_times(path) if killed else []
    for i in killed:  # the driver died: count until its trials' last result before the next start
        start, next_start = spans[i][0], spans[i + 1][0]
        spans[i][1] = max([t for t in times if start <= t < next_start], default=start)
    seconds = [max(0.0, end - start) for start, end in spans]
    return sum(seconds), seconds[-1]

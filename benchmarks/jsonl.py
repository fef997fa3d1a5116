"""The JSON lines the benchmarks keep of their runs (--raw, --out), appended one run at a time so that an
interrupted benchmark keeps what it measured, and read back by their --tables-from and by docs/gen/performance.py."""

from __future__ import annotations

import json
from pathlib import Path


def append(path: Path, record: dict) -> None:
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


def read(files: list[Path]) -> list[dict]:
    """Every record of `files`, in order."""
    return [json.loads(line) for f in files for line in Path(f).read_text().splitlines() if line.strip()]

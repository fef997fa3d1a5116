"""`python -m docs.gen [--check]`: write the generated docs pages and the JSON Schema, or check them."""

from __future__ import annotations

import argparse
import sys

from docs.gen import REPO, outputs, stale

parser = argparse.ArgumentParser(prog="python -m docs.gen", description=__doc__)
parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a generated file is out of date")
args = parser.parse_args()
if args.check:
    old = stale()
    for path in old:
        print(f"{path.relative_to(REPO)}: out of date: run `python -m docs.gen` (or `make docs`)", file=sys.stderr)
    sys.exit(1 if old else 0)
for path, text in outputs().items():
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO)}")

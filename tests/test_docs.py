"""The docs: a short README, generated references that cannot drift from the code, benchmark tables read off
benchmarks/results, examples that validate, and a site that `mkdocs build --strict` builds."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from raytune_app.cli.main import build_parser
from raytune_app.spec.load import load_spec
from raytune_app.spec.schema import SCHEMA_FILE, experiment_schema

from conftest import REPO

sys.path.insert(0, str(REPO))  # docs/gen is run as `python -m docs.gen` from the repository, not installed
from docs.gen import performance  # noqa: E402

DOCS = REPO / "docs"
MKDOCS = str(Path(sys.executable).with_name("mkdocs"))


def _run(*args: str, cwd: Path = REPO, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, capture_output=True,
                          text=True, timeout=timeout)


def test_the_readme_is_short_and_its_links_work():
    text = (REPO / "README.md").read_text()
    assert len(text.encode()) <= 12 * 1024
    assert "CPU-seconds" not in text and "| trials | wall s |" not in text  # test timings and benchmarks left it
    links = re.findall(r"\]\(([^)#]+)[^)]*\)", text)
    local = [link for link in links if "://" not in link]
    assert len(local) >= 12 and [link for link in local if not (REPO / link).exists()] == []


def test_generated_pages_and_schema_are_fresh():
    out = _run(sys.executable, "-m", "docs.gen", "--check")
    assert out.returncode == 0, out.stderr


def test_the_check_names_a_page_edited_by_hand(tmp_path):
    """`--check` compares each generated file with what the code gives now: a hand edit is out of date."""
    for folder in ("docs", "benchmarks"):
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__", "*.png"))
    shutil.copytree(REPO / "search_spaces", tmp_path / "search_spaces")  # compare.py's tasks name these files
    page = tmp_path / "docs" / "reference" / "cli.md"
    page.write_text(page.read_text().replace("continue the experiment if it already exists", "resume it"))
    out = _run(sys.executable, "-m", "docs.gen", "--check", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip() == "docs/reference/cli.md: out of date: run `python -m docs.gen` (or `make docs`)"


def _rows(page: str, heading: str) -> set[str]:
    """The keys in the first column of the table under `## heading`."""
    section = page.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", section, re.M))


def test_the_experiment_file_reference_has_every_key_with_its_description():
    page = (DOCS / "reference" / "experiment-file.md").read_text()
    schema = experiment_schema()
    defs = schema["definitions"]
    sections = {"Top level": schema["properties"], "data": defs["DataSpec"]["properties"],
                "resources": defs["ResourcesSpec"]["properties"], "tracking": defs["TrackingSpec"]["properties"],
                "objectives": defs["ObjectiveSpec"]["properties"], "constraints": defs["LimitSpec"]["properties"],
                "select": defs["SelectSpec"]["properties"]}
    for heading, props in sections.items():
        assert _rows(page, heading) == set(props), heading
        for key, prop in props.items():
            assert f"| `{key}` |" in page and prop["description"] in page, key
    assert "| `max_epochs` | integer | `10` | > 0 |" in page
    assert "| `mode` | string | required | `min`, `max` |" in page
    assert _rows(page, "scheduler") == {"asha", "hyperband", "median", "pbt", "fifo", "hb_bohb", "pareto_asha"}
    assert "| `optuna` | `points_to_evaluate`, `evaluated_rewards`, `sampler`, `n_startup_trials`" in page
    assert "| `activation` | `relu` | `relu`, `tanh`, `gelu`, `sigmoid`, `leaky_relu`, `elu`, `silu` |" in page


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_command_line_argument_is_explained_in_the_reference():
    page = (DOCS / "reference" / "cli.md").read_text()
    for name, parser in _commands().items():
        section = page.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{name} {action.option_strings or action.dest}: no help= to document it"
            name_in_page = action.option_strings[0] if action.option_strings else action.metavar or action.dest
            assert f"`{name_in_page}" in section and " ".join(action.help.split()) in section, name_in_page


def test_the_benchmark_tables_are_read_off_the_results():
    page = (DOCS / "performance.md").read_text()
    regions = performance.REGION.findall(page)
    assert [kind for _, kind, *_ in regions] == ["compare", "levers", "overhead", "overhead", "overhead", "scale",
                                                     "pareto"]
    assert "| 120 | raytune-app (the file's ASHA + HyperOpt) | 0.841 [0.839, 0.843] | 0.841 |" in page  # 2026-12-07
    assert "| 120 | raytune-app (the file's ASHA + HyperOpt) | 0.981 [0.978, 0.981] | 0.971 |" in page  # cnn
    assert "- cnn_digits: seconds to 0.98 <= Optuna's (which needs more than 10 s): 67.4 against 71.3 (met)" in page
    assert "- mlp_synthetic: epochs trained by 120 s >= Optuna's: 1,630 against 2,480 (NOT met)" in page
    assert "| tpe | 0.4523 (0.4114-0.4701) | 3 | 480 | 31.5 | 3 |" in page  # benchmarks/pareto.py's runs
    assert "| raytune-app | 10,000 | 376.7 |" in page  # benchmarks/scale.py's
    assert "| 32 | b942098 (before) | 3 | 236 | 236 | 14.5 |" in page  # benchmarks/overhead.py's timeline
    assert "| 1000 | b942098 (before) | 1 | 4558 | 4558 | 18.8 |" in page  # and at 1,000 trials
    assert "| 500 one-epoch trials | 60 s | 2 | 47.7 | 38.5% | 14.5 | 32.7 | 2 |" in page  # its snapshot periods
    assert "| 1,000 | 3 | 57.3 | 31.3 |" in page  # and its searchers' suggestions
    # a figure typed over a generated one is written back from the runs
    edited = page.replace("| 120 | raytune-app (the file's ASHA + HyperOpt) | 0.841 [",
                          "| 120 | raytune-app (the file's ASHA + HyperOpt) | 0.999 [")
    assert edited != page and performance.render(edited) == page


def _examples() -> list[tuple[str, str]]:
    """The YAML blocks of the README and the docs that are whole experiment files (they have a metric)."""
    out = []
    for path in [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]:
        for block in re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S):
            if isinstance(yaml.safe_load(block), dict) and "metric" in yaml.safe_load(block):
                out.append((str(path.relative_to(REPO)), block))
    return out


@pytest.mark.parametrize("where, text", _examples(), ids=lambda v: v if v.endswith(".md") else "")
def test_the_docs_example_experiments_are_valid(tmp_path, where, text):
    import jsonschema

    jsonschema.validate(yaml.safe_load(text), json.loads(SCHEMA_FILE.read_text()))
    path = tmp_path / "example.yaml"
    path.write_text(text)
    load_spec(path)


def test_the_site_builds_strictly(tmp_path):
    out = _run(MKDOCS, "build", "--strict", "--site-dir", str(tmp_path / "site"))
    assert out.returncode == 0, out.stderr
    walkthrough = (tmp_path / "site" / "cluster-walkthrough" / "index.html").read_text()
    assert "Running raytune-app on a Ray cluster" in walkthrough  # cluster/README.md, included
    assert "experiment_schema" in (tmp_path / "site" / "reference" / "modules" / "index.html").read_text()


def test_a_broken_link_or_a_page_left_out_fails_the_build(tmp_path):
    for item in ("docs", "raytune_app"):
        shutil.copytree(REPO / item, tmp_path / item, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "cluster").mkdir()
    shutil.copy(REPO / "cluster" / "README.md", tmp_path / "cluster")
    shutil.copy(REPO / "mkdocs.yml", tmp_path)
    index = tmp_path / "docs" / "index.md"
    index.write_text(index.read_text() + "\n[gone](no-such-page.md), [no anchor](results.md#no-such-anchor)\n")
    (tmp_path / "docs" / "forgotten.md").write_text("# Not in the nav\n")
    out = _run(MKDOCS, "build", "--strict", "--site-dir", str(tmp_path / "site"), cwd=tmp_path)
    assert out.returncode == 1
    for problem in ("'no-such-page.md'", "'#no-such-anchor'", "forgotten.md"):
        assert problem in out.stderr, out.stderr

"""raytune-app as a Python library, on a real local Ray: the same runs, the same best trial and the same tables as
the command line; a model and a data function defined in `__main__`; bad input as a typed error; the examples."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import ENV, REPO, checkpointed, run_cli, slow_model, start_cli, wait_for, write_experiment

SEED = 7
# one trial at a time (one trial process), a searcher whose proposals depend only on its seed
SMALL = ["--num-samples", "3", "--max-epochs", "2", "--seed", str(SEED), "--search", "random", "--scheduler", "fifo",
         "--max-concurrent", "1"]


def run_python(code: str, cwd: Path, ray_address: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`code` as a script of its own (its `__main__`), joining the test's Ray through RAY_ADDRESS."""
    script = cwd / "script.py"
    script.write_text(code)
    return subprocess.run([sys.executable, str(script)], cwd=cwd, env={**ENV, "RAY_ADDRESS": ray_address},
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def cli_run(ray_address, tmp_path_factory):
    """The default experiment through the command line, seeded, small."""
    runs = tmp_path_factory.mktemp("cli") / "runs"
    out = run_cli("tune", REPO / "search_spaces" / "mlp_digits.yaml", "--storage", runs, "--address", ray_address,
                  *SMALL)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return runs / "mlp-digits"


def test_the_api_and_the_cli_pick_the_same_best_trial(cli_run, ray_address, tmp_path):
    out = run_python(f"""
import json, raytune_app
results = raytune_app.tune({str(REPO / 'search_spaces' / 'mlp_digits.yaml')!r}, storage="runs", address={ray_address!r},
                           num_samples=3, max_epochs=2, seed={SEED}, search="random", scheduler="fifo", max_concurrent=1)
print(json.dumps({{"status": results.status, "config": results.best.config, "value": results.best.value}}))
""", tmp_path, ray_address)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    api = json.loads(out.stdout.strip().splitlines()[-1])
    cli = json.loads((cli_run / "summary.json").read_text())["best"]
    assert api["status"] == "finished"
    assert api["config"] == cli["config"] and api["value"] == cli["val_accuracy"]
    assert "[3/3] trial" in out.stdout  # verbose=1: a line per finished trial


def test_load_reads_a_finished_run_as_report_does(cli_run):
    import raytune_app

    results = raytune_app.load(cli_run)
    report = run_cli("report", cli_run, "--format", "csv")
    assert report.returncode == 0, report.stderr
    assert results.trials.to_csv(index=False).rstrip("\n") == report.stdout.rstrip("\n")
    summary = json.loads((cli_run / "summary.json").read_text())
    best = results.best
    assert results.status == "finished" and best.trial_id == summary["best"]["trial_id"]
    assert best.test_scores == {"test_accuracy": summary["best"]["test_accuracy"]}
    assert len(results.history(best.trial_id)) == summary["best"]["epochs"]


def test_load_reads_an_experiment_whose_driver_was_killed(ray_address, tmp_path):
    import raytune_app

    spec = write_experiment(tmp_path / "killed.yaml", num_samples=2, max_epochs=20, model=slow_model(tmp_path),
                            scheduler="fifo", search="random", max_concurrent=1,
                            space={"lr": {"loguniform": [1e-3, 1e-2]}, "batch_size": 16, "hidden_size": 64})
    exp = tmp_path / "runs" / "killed"
    proc = start_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address, log=tmp_path / "log")
    wait_for(lambda: checkpointed(exp, 2) and list(exp.glob("experiment_state-*.json")), proc=proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    results = raytune_app.load(exp)
    report = run_cli("report", exp, "--format", "csv")
    assert report.returncode == 0, report.stderr
    assert results.status == "running" and results.summary is None
    assert results.trials.to_csv(index=False).rstrip("\n") == report.stdout.rstrip("\n")
    assert len(pd.read_csv(io.StringIO(report.stdout))) == len(results.experiment.trials) >= 1


def test_a_bad_experiment_raises_the_error_the_cli_prints(tmp_path):
    import raytune_app

    spec = write_experiment(tmp_path / "bad.yaml", space={"lr": {"logunifrom": [1e-3, 1e-1]}}, num_samples=0)
    cli = run_cli("validate", spec)
    assert cli.returncode == 2
    with pytest.raises(raytune_app.InputError) as caught:
        raytune_app.tune(spec, storage=tmp_path / "runs")
    error = caught.value
    assert error.problems == cli.stderr.strip().splitlines()
    assert {(p.file, p.key) for p in error.details} == {(str(spec), "num_samples"), (str(spec), "space.lr")}
    assert not (tmp_path / "runs").exists()  # refused before Ray or anything else started


def test_a_bad_dict_or_override_names_the_key():
    import raytune_app

    with pytest.raises(raytune_app.InputError) as caught:
        raytune_app.validate({"metric": "val_accuracy", "mode": "max", "max_epochs": "3"})
    assert [(p.file, p.key) for p in caught.value.details] == [("experiment", "max_epochs")]
    with pytest.raises(raytune_app.InputError, match="num_sample: not an override.*did you mean 'num_samples'"):
        raytune_app.validate({"metric": "val_accuracy", "mode": "max"}, num_sample=3)


def test_nothing_below_the_cli_prints_or_exits():
    """The library reports through return values, exceptions and the `raytune_app` logger; only raytune_app/cli
    prints, picks exit codes and exits."""
    import ast

    found = []
    for file in (REPO / "raytune_app").rglob("*.py"):
        if "cli" in file.relative_to(REPO / "raytune_app").parts:
            continue
        for node in ast.walk(ast.parse(file.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            if name in ("print", "exit", "quit", "sys.exit", "os._exit", "sys.stdout.write", "sys.stderr.write"):
                found.append(f"{file.relative_to(REPO)}:{node.lineno}: {name}")
    assert not found, found


def test_verbose_0_is_silent_and_leaves_the_process_environment_as_it_was(ray_address, tmp_path):
    """The environment: the user's next bare `Tuner.fit` in that process must get Ray's own settings (with
    raytune-app's left behind, Ray's loggers stayed off and it wrote no result.json)."""
    out = run_python(f"""
import os, ray, sklearn, torch, raytune_app
ray.init(address={ray_address!r}); ray.shutdown()  # what Ray and the libraries set in any process using them
before = dict(os.environ)
results = raytune_app.tune({{"metric": "val_accuracy", "mode": "max", "max_epochs": 1, "num_samples": 1,
                             "scheduler": "fifo", "search": "random", "data": {{"dataset": "wine"}}}},
                           storage="runs", address={ray_address!r}, verbose=0)
assert results.status == "finished", results.problem
changed = sorted(k for k in {{*before, *os.environ}} if before.get(k) != os.environ.get(k))
assert not changed, changed
""", tmp_path, ray_address)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert out.stdout == "", out.stdout[-2000:]


def test_the_examples_run(ray_address, tmp_path, cli_run):
    """examples/tune_from_python.py: a model class and a data function defined in the script, tuned on a local
    Ray; the best model reloaded scores on the test split what the run recorded. examples/load_results.py: a
    finished experiment read, ranked, its best model rebuilt."""
    env = {**ENV, "RAY_ADDRESS": ray_address}
    tuned = subprocess.run([sys.executable, str(REPO / "examples" / "tune_from_python.py")], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert tuned.returncode == 0, tuned.stdout[-3000:] + tuned.stderr[-3000:]
    measured, recorded = map(float, re.search(r"test accuracy ([\d.]+) \(recorded ([\d.]+)\)", tuned.stdout).groups())
    assert measured == recorded and measured > 0.5
    loaded = subprocess.run([sys.executable, str(REPO / "examples" / "load_results.py"), str(cli_run)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stdout[-3000:] + loaded.stderr[-3000:]
    assert "parameters" in loaded.stdout and (tmp_path / "report.html").stat().st_size > 1000
    again = subprocess.run([sys.executable, str(REPO / "examples" / "tune_from_python.py")], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)  # resume=True: the finished experiment
    assert again.returncode == 0 and "ignored" not in again.stdout, again.stdout[-3000:] + again.stderr[-3000:]

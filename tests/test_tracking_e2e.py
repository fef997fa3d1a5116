"""MLflow tracking against a real `mlflow server` on 127.0.0.1: a tune interrupted by Ctrl-C, then resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import (ENV, checkpointed, free_port, histories, run_cli, slow_model, start_cli, wait_for,
                      write_experiment)

pytest.importorskip("mlflow")

EPOCHS = 4
# epochs of about a second that sleep (tests/slow_model.py): time to press Ctrl-C mid-run
SLOW = {"scheduler": "fifo", "search": "random", "max_concurrent": 1,
        "space": {"lr": {"loguniform": [1e-3, 1e-2]}, "batch_size": 16, "hidden_size": {"choice": [32, 64]}}}


def _answers(url: str) -> bool:
    try:
        return urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=5).status == 200
    except OSError:
        return False


@pytest.fixture
def mlflow_server(tmp_path):
    """`mlflow server` on 127.0.0.1 with its store in a temp folder; stopped (with its workers) at the end."""
    port = free_port()
    folder = tmp_path / "mlflow"
    folder.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}", "--artifacts-destination", str(folder / "artifacts")],
        cwd=folder, env=ENV, stdout=(folder / "log").open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(f"{uri}/health"), timeout=180, proc=proc)
        yield uri
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group: it and its workers
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def runs_by_trial(client, name: str) -> dict[str, list]:
    from raytune_app.tuner.callbacks.mlflow_runs import TRIAL_TAG

    experiment = client.get_experiment_by_name(name)
    found: dict[str, list] = {}
    for run in client.search_runs([experiment.experiment_id], max_results=1000):
        found.setdefault(run.data.tags[TRIAL_TAG], []).append(run)
    return found


def test_trials_are_mlflow_runs_and_a_resume_reuses_them(ray_address, mlflow_server, tmp_path):
    from mlflow.tracking import MlflowClient

    from raytune_app.run.tracking import BEST_TAG, STATUS_TAG

    spec = write_experiment(tmp_path / "tracked.yaml", num_samples=3, max_epochs=EPOCHS, model=slow_model(tmp_path),
                            **SLOW)
    exp = tmp_path / "runs" / "tracked"
    proc = start_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address,
                     "--mlflow", mlflow_server, log=tmp_path / "log")
    wait_for(lambda: checkpointed(exp, 2), proc=proc, timeout=240)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130, (tmp_path / "log").read_text()[-3000:]

    client = MlflowClient(mlflow_server)
    before = runs_by_trial(client, "tracked")
    assert before and all(len(r) == 1 for r in before.values())
    assert {r[0].data.tags[STATUS_TAG] for r in before.values()} <= {"unfinished", "not_started", "completed"}
    assert any(r[0].data.tags[STATUS_TAG] == "unfinished" and r[0].info.status == "KILLED" for r in before.values())

    out = run_cli("resume", exp, "--address", ray_address)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    summary = json.loads((exp / "summary.json").read_text())
    hist = histories(exp)
    after = runs_by_trial(client, "tracked")
    assert sorted(after) == sorted(hist) and len(hist) == 3
    assert all(len(r) == 1 for r in after.values()), after  # one run per trial, the resume included
    assert {tid: r[0].info.run_id for tid, r in after.items() if tid in before} == {
        tid: r[0].info.run_id for tid, r in before.items()}
    for trial_id, (run,) in after.items():
        rows = hist[trial_id]
        assert run.info.status == "FINISHED" and run.data.tags[STATUS_TAG] == "completed"
        assert float(run.data.params["lr"]) == pytest.approx(rows[0]["config"]["lr"])
        assert run.data.params["hidden_size"] == str(rows[0]["config"]["hidden_size"])
        steps = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "val_accuracy")}
        assert steps == pytest.approx({r["epoch"]: r["val_accuracy"] for r in rows})  # every epoch, by epoch
        assert set(steps) == set(range(1, EPOCHS + 1))
        assert run.data.tags[BEST_TAG] == str(trial_id == summary["best"]["trial_id"]).lower()
    (best,) = after[summary["best"]["trial_id"]]
    uploaded = {Path(a.path).name for a in client.list_artifacts(best.info.run_id, "best_checkpoint")}
    assert uploaded and uploaded == set(os.listdir(summary["best"]["checkpoint"]))

"""`raytune-app tensorboard` during a running experiment: TensorBoard's own hparams API lists every trial."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import free_port, histories, run_cli, slow_model, start_cli, trial_dirs, wait_for, write_experiment

SPACE = {"lr": {"loguniform": [1e-3, 1e-2]}, "activation": {"choice": ["relu", "tanh"]},
         "hidden_size": 128, "batch_size": 16}


def session_groups(url: str) -> list[dict]:
    """POST /data/plugin/hparams/session_groups, as the HParams dashboard does."""
    body = {"experimentName": "", "startIndex": 0, "sliceSize": 100, "includeMetrics": True,
            "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
            "colParams": [{"hparam": "lr"}, {"hparam": "activation"},
                          {"metric": {"tag": "val_accuracy", "group": ""}}]}
    request = urllib.request.Request(f"{url}/data/plugin/hparams/session_groups", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["sessionGroups"]


def experiment_info(url: str) -> dict:
    request = urllib.request.Request(f"{url}/data/plugin/hparams/experiment", data=b'{"experimentName": ""}',
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def running_histories(exp) -> dict[str, list[dict]]:
    """Ray's result.json of each trial; while a line is being written, try again."""
    return wait_for(lambda: _read(exp), timeout=10)


def _read(exp):
    try:
        return histories(exp) or None
    except ValueError:  # a line half-written
        return None


def stop(proc: subprocess.Popen, timeout: float = 90) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def test_tensorboard_lists_every_running_trial_with_hparams_and_latest_metric(ray_address, tmp_path):
    # trials that stay running (sleeping training steps: the other tests keep the cores)
    spec = write_experiment(tmp_path / "live.yaml", num_samples=2, max_epochs=200, scheduler="fifo",
                            search="random", space=SPACE, model=slow_model(tmp_path))
    exp = tmp_path / "runs" / "live"
    tune = start_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address, log=tmp_path / "tune.log")
    board = None
    try:
        wait_for(lambda: len(_read(exp) or {}) == 2 and all(_read(exp).values()), timeout=180, proc=tune)
        port = free_port()
        board = start_cli("tensorboard", exp, "--port", port, "--reload-interval", "1", log=tmp_path / "tb.log")
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: f"TensorBoard at {url}/" in (tmp_path / "tb.log").read_text(), timeout=60, proc=board)

        def every_trial_listed():
            try:
                groups = {g["name"]: g for g in session_groups(url)}
            except (urllib.error.URLError, OSError):
                return None
            ids = {d.name.removeprefix("trial_") for d in trial_dirs(exp)}
            ok = ids and ids <= groups.keys() and all(
                any(m["name"]["tag"] == "val_accuracy" for m in groups[i]["metricValues"]) for i in ids)
            return groups if ok else None

        groups = wait_for(every_trial_listed, timeout=60, proc=board)
        assert tune.poll() is None, "the experiment should still be running"
        hist = running_histories(exp)
        assert groups.keys() == hist.keys()
        for trial_id, group in groups.items():
            config = hist[trial_id][0]["config"]
            assert group["hparams"]["lr"] == pytest.approx(config["lr"])
            assert group["hparams"]["activation"] == config["activation"]
            assert group["hparams"]["hidden_size"] == 128 and group["hparams"]["batch_size"] == 16
            metric = next(m for m in group["metricValues"] if m["name"]["tag"] == "val_accuracy")
            reported = {r["training_iteration"]: r["val_accuracy"] for r in hist[trial_id]}
            # the latest value TensorBoard had read: the one Ray recorded for that epoch
            assert metric["value"] == pytest.approx(reported[metric["trainingStep"]], abs=1e-6)
            (session,) = group["sessions"]
            assert session["status"] == "STATUS_UNKNOWN"  # running: no session end yet
        # the report reads a running experiment too (no summary.json yet: Ray's own trial states)
        out = run_cli("report", exp, "--format", "json")
        assert out.returncode == 0, out.stderr[-3000:]
        report = json.loads(out.stdout)
        assert report["experiments"][0]["finished"] is False
        assert {r["trial_id"]: r["status"] for r in report["trials"]} == {t: "running" for t in hist}
        assert all(r["epochs"] >= len(hist[r["trial_id"]]) for r in report["trials"])
        declared = experiment_info(url)
        assert {m["name"]["tag"] for m in declared["metricInfos"]} >= {"val_accuracy", "val_loss", "train_loss"}
        assert {h["name"] for h in declared["hparamInfos"]} >= {"lr", "activation"}
    finally:
        tune_code = stop(tune)
        board_code = stop(board) if board is not None else None
    assert tune_code == 130, (tmp_path / "tune.log").read_text()[-3000:]  # Ctrl-C: stopped cleanly, resumable
    assert board_code == 0 and "TensorBoard stopped." in (tmp_path / "tb.log").read_text()


def test_tensorboard_refuses_a_folder_without_experiments(tmp_path):
    out = run_cli("tensorboard", tmp_path, "--port", free_port())
    assert out.returncode == 2
    assert out.stderr.strip() == (f"{tmp_path}: not a raytune-app experiment folder (no raytune_app_spec.json) "
                                  f"nor a folder of experiments")

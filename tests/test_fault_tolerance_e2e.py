"""Real faults on a real Ray: Ctrl-C, a killed driver, an errored trial; then resume finishes the run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from conftest import (checkpointed, histories, read_json_lines, run_cli, slow_model, start_cli, trial_dirs, wait_for,
                      write_experiment)

# epochs of about a second whose training steps sleep (tests/slow_model.py, a user model file): time to strike
# mid-run; a checkpoint every epoch, so that a resume reruns none (the default's bound: test_checkpoint_policy_e2e.py)
SLOW = {"scheduler": "fifo", "search": "random", "checkpoint_every": 1,
        "space": {"lr": {"loguniform": [1e-3, 1e-2]}, "batch_size": 16, "hidden_size": 64}}
EPOCHS = 6


def latest_epoch_with_checkpoint(exp, at_least: int):
    """(trial dir, epoch) of a trial whose newest checkpoint is for epoch >= at_least."""
    for d in trial_dirs(exp):
        ckpts = sorted(d.glob("checkpoint_*"))
        if ckpts and int(ckpts[-1].name.split("_")[-1]) + 1 >= at_least and (d / "result.json").exists():
            return d, int(ckpts[-1].name.split("_")[-1]) + 1
    return None


def assert_finished_without_restarts(exp, num_trials, checkpointed_trials=None):
    """Every trial finished, and those that had a checkpoint (all, unless `checkpointed_trials` names them)
    never ran epoch 1 again."""
    summary = json.loads((exp / "summary.json").read_text())
    assert summary["num_trials"] == num_trials and summary["trials_by_status"] == {"completed": num_trials}
    hist = histories(exp)
    assert len(hist) == num_trials  # the searcher's state carried over: no extra trials
    for trial, h in hist.items():
        epochs = [r["epoch"] for r in h]
        if checkpointed_trials is None or trial in checkpointed_trials:
            assert epochs.count(1) == 1, (trial, epochs)  # never rerun from epoch 1
        assert max(epochs) == EPOCHS and set(epochs) == set(range(1, EPOCHS + 1)), (trial, epochs)
    return hist


def trials_with_a_saved_checkpoint(exp, age_s: float = 5.0) -> set[str]:
    """Trials with a checkpoint written at least `age_s` ago: Ray's experiment state (saved every 2 s, later
    under load) names it by now, so a restore continues from it."""
    now = time.time()
    return {d.name.removeprefix("trial_") for d in trial_dirs(exp)
            if any(now - c.stat().st_mtime >= age_s for c in d.glob("checkpoint_*"))}


def test_ctrl_c_saves_state_prints_the_resume_command_and_resume_finishes(ray_address, tmp_path):
    spec = write_experiment(tmp_path / "sigint.yaml", num_samples=2, max_epochs=EPOCHS, model=slow_model(tmp_path),
                            **SLOW)
    exp = tmp_path / "runs" / "sigint"
    proc = start_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address, log=tmp_path / "log")
    # epoch 3: by then the trial started beside it has its first checkpoint registered, not just written
    wait_for(lambda: checkpointed(exp, 3), proc=proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    log = (tmp_path / "log").read_text()
    assert f"raytune-app resume {exp} --address {ray_address}" in log
    statuses = json.loads((exp / "summary.json").read_text())["trials_by_status"]
    assert statuses.get("unfinished", 0) >= 1 and "completed" not in statuses

    out = run_cli("resume", exp, "--address", ray_address)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    hist = assert_finished_without_restarts(exp, 2)
    assert any(r["iterations_since_restore"] == 1 and r["epoch"] > 1 for h in hist.values() for r in h)
    summary = json.loads((exp / "summary.json").read_text())  # the whole experiment's time, both runs
    assert summary["wall_time_s"] > summary["this_run_wall_time_s"] + 1


def test_a_killed_driver_resumes_with_tune_resume(ray_address, tmp_path):
    spec = write_experiment(tmp_path / "sigkill.yaml", num_samples=2, max_epochs=EPOCHS, keep_checkpoints=1,
                            model=slow_model(tmp_path), **SLOW)
    exp = tmp_path / "runs" / "sigkill"
    proc = start_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address, log=tmp_path / "log")
    wait_for(lambda: latest_epoch_with_checkpoint(exp, 3) and trials_with_a_saved_checkpoint(exp), proc=proc)
    saved = trials_with_a_saved_checkpoint(exp)
    proc.send_signal(signal.SIGKILL)  # right after a checkpoint was written
    proc.wait(timeout=60)

    out = run_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address, "--resume")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert_finished_without_restarts(exp, 2, saved)


@pytest.fixture(scope="module")
def killed_trial(ray_address, tmp_path_factory):
    """A one-trial run whose worker was SIGKILLed after its epoch-2 checkpoint, no retries, so it exited 1:
    (experiment folder, time of the kill). Each test resumes a copy of it."""
    tmp = tmp_path_factory.mktemp("killed")
    slower = SLOW | {"space": SLOW["space"] | {"step_s": 0.06}}  # time to read its pid from Ray's result.json
    spec = write_experiment(tmp / "err.yaml", num_samples=1, max_epochs=EPOCHS, max_failures=0,
                            model=slow_model(tmp), **slower)
    exp = tmp / "runs" / "err"
    proc = start_cli("tune", spec, "--storage", tmp / "runs", "--address", ray_address, log=tmp / "log")
    trial, _ = wait_for(lambda: latest_epoch_with_checkpoint(exp, 2), proc=proc)
    # Ray creates result.json empty and copies its lines there every 2 s
    pid = wait_for(lambda: (read_json_lines(trial / "result.json") or [{}])[-1].get("pid"), proc=proc)
    os.kill(pid, signal.SIGKILL)
    killed_at = int(time.time())
    assert proc.wait(timeout=120) == 1, (tmp / "log").read_text()[-3000:]  # its only trial failed
    assert json.loads((exp / "summary.json").read_text())["trials_by_status"] == {"error": 1}
    return exp, killed_at


def copy_of(killed_trial, copy: Path):
    """The killed experiment copied to `copy` (an experiment folder can move): (copy, time of the kill).

    Each copy needs a name of its own: a restored run stages its files where the original run did, in Ray's
    session folder under the experiment's name (TuneController._restore_trials), so two restores of
    same-named copies in one Ray session would mix their files."""
    exp, killed_at = killed_trial
    shutil.copytree(exp, copy)
    return copy, killed_at


def test_errored_trials_are_retried_from_their_checkpoint_on_resume(ray_address, killed_trial, tmp_path):
    exp, killed_at = copy_of(killed_trial, tmp_path / "runs" / "err-retried")
    out = run_cli("resume", exp, "--address", ray_address)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    summary = json.loads((exp / "summary.json").read_text())
    assert summary["trials_by_status"] == {"completed": 1}, out.stdout[-6000:] + out.stderr[-3000:]
    (history,) = histories(exp).values()
    assert [r["epoch"] for r in history][-1] == EPOCHS
    first_epochs = [r["timestamp"] for r in history if r["epoch"] == 1]
    assert len(first_epochs) == 1 and first_epochs[0] <= killed_at  # continued from its checkpoint


def test_restart_errored_starts_a_trial_whose_worker_was_killed_over(ray_address, killed_trial, tmp_path):
    """Ray saves such a trial as RUNNING; without the correction, --restart-errored resumed it instead."""
    exp, _ = copy_of(killed_trial, tmp_path / "runs" / "err-restarted")
    out = run_cli("resume", exp, "--address", ray_address, "--restart-errored")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    summary = json.loads((exp / "summary.json").read_text())
    assert summary["trials_by_status"] == {"completed": 1} and summary["num_trials"] == 1
    # Ray starts it over as a new trial; the failed attempt's folder stays, listed as superseded
    (old,) = summary["superseded_trial_folders"]
    hist = histories(exp)
    assert max(r["epoch"] for r in hist[old.removeprefix("trial_")]) < EPOCHS
    assert [r["epoch"] for r in hist[summary["best"]["trial_id"]]] == list(range(1, EPOCHS + 1))


def test_a_trial_whose_worker_died_while_the_driver_saved_it_trains_every_epoch_on_resume(ray_address, tmp_path):
    """Ray held a STOP for "after the save" of a trial whose worker died during the driver's save of its
    checkpoint, kept it in the experiment's state, and the restored run carried it out after the trial's first
    new checkpoint: the resumed trial trained one epoch and ended as stopped early (once the xfail race of the
    test above). The driver is paused over the trial's next report, so the worker dies as the driver saves it."""
    slower = SLOW | {"space": SLOW["space"] | {"step_s": 0.06}}  # epochs of seconds: time to pause the driver
    spec = write_experiment(tmp_path / "held.yaml", num_samples=1, max_epochs=EPOCHS, max_failures=0,
                            model=slow_model(tmp_path), **slower)
    exp = tmp_path / "runs" / "held"
    proc = start_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address, log=tmp_path / "log")
    # the driver has taken in epoch 1 (Ray's logger wrote it) and the worker trains epoch 2
    trial = wait_for(lambda: next((d for d in trial_dirs(exp) if (d / "result.json").exists()
                                   and read_json_lines(d / "result.json")), None), proc=proc)
    worker = read_json_lines(trial / "result.json")[-1]["pid"]
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: (trial / "checkpoint_000001").is_dir(), timeout=60)  # epoch 2 reported
        time.sleep(2)  # its copy finished and its result sent: the worker waits on the paused driver
        os.kill(worker, signal.SIGKILL)
        time.sleep(1)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    exit_code = proc.wait(timeout=120)
    assert exit_code == 1, f"exit {exit_code}: " + (tmp_path / "log").read_text()[-3000:]  # its only trial failed

    out = run_cli("resume", exp, "--address", ray_address)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    summary = json.loads((exp / "summary.json").read_text())
    assert summary["trials_by_status"] == {"completed": 1}, out.stdout[-3000:]
    (history,) = histories(exp).values()
    epochs = [r["epoch"] for r in history]
    assert epochs[-1] == EPOCHS and epochs.count(1) == 1, epochs  # from its checkpoint, to its last epoch


def test_a_second_ctrl_c_quits_at_once(ray_address, tmp_path):
    spec = write_experiment(tmp_path / "twice.yaml", num_samples=3, max_epochs=30, model=slow_model(tmp_path), **SLOW)
    exp = tmp_path / "runs" / "twice"
    proc = start_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address, log=tmp_path / "log")
    wait_for(lambda: latest_epoch_with_checkpoint(exp, 1), proc=proc)
    proc.send_signal(signal.SIGINT)
    wait_for(lambda: "Ctrl-C again to quit at once" in (tmp_path / "log").read_text(), timeout=30)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 130
    assert "Stopping at once" in (tmp_path / "log").read_text()


QUICK = {"scheduler": "fifo", "search": "random", "max_concurrent": 1, "space": {"lr": {"loguniform": [1e-3, 1e-1]}}}


def test_a_start_killed_before_rays_first_state_starts_afresh_with_every_trial(ray_address, tmp_path):
    spec = write_experiment(tmp_path / "early.yaml", num_samples=4, max_epochs=2, **QUICK)
    exp = tmp_path / "runs" / "early"
    proc = start_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address, log=tmp_path / "log")
    wait_for(lambda: (exp / "tuner.pkl").exists(), proc=proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    for state in exp.glob("experiment_state-*.json"):  # the kill's window exactly: tuner.pkl, no state yet
        state.unlink()
    assert not any((d / "result.json").exists() and (d / "result.json").stat().st_size for d in trial_dirs(exp))

    out = run_cli("tune", spec, "--storage", tmp_path / "runs", "--address", ray_address, "--resume")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "stopped before Ray saved any state: starting it afresh" in out.stdout
    summary = json.loads((exp / "summary.json").read_text())
    assert summary["num_trials"] == 4 and summary["trials_by_status"] == {"completed": 4}
    assert (exp / "abandoned").is_dir() and not (exp / "tuner.pkl").stat().st_size == 0


def test_killing_tune_resume_again_and_again_never_loses_a_trial_or_a_checkpoint(ray_address, tmp_path):
    """SIGKILL `tune --resume` at random moments (start-up, the first state, mid-training), then let it end."""
    import random

    rng = random.Random(12)
    spec = write_experiment(tmp_path / "again.yaml", num_samples=4, max_epochs=4, max_concurrent=1,
                            search={"name": "hyperopt", "n_initial_points": 2},
                            space={"lr": {"loguniform": [1e-3, 1e-1]}, "hidden_size": {"choice": [32, 64]}})
    runs, exp = tmp_path / "runs", tmp_path / "runs" / "again"
    for attempt in range(4):
        log = tmp_path / f"log{attempt}"
        proc = start_cli("tune", spec, "--storage", runs, "--address", ray_address, "--resume", log=log)
        deadline = time.time() + rng.uniform(1.0, 9.0)
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        if proc.poll() is not None:  # it finished first
            assert proc.returncode == 0, log.read_text()[-3000:]
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    out = run_cli("tune", spec, "--storage", runs, "--address", ray_address, "--resume")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    summary = json.loads((exp / "summary.json").read_text())
    assert summary["num_trials"] == 4, summary
    assert set(summary["trials_by_status"]) <= {"completed", "early_stopped"}, summary["trials_by_status"]
    assert summary["wall_time_s"] >= summary["this_run_wall_time_s"]
    assert Path(summary["best"]["checkpoint"]).is_dir()
    out = run_cli("best", exp, "--export", tmp_path / "export")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]

"""Contracts with the installed Ray (raytune_app/ray_compat/), and the fence around them.

Each private Ray name or file format raytune-app relies on is checked here to still exist and behave as relied
upon; a failure names the installed Ray version and what changed, so a Ray upgrade that breaks resume, retention
or reading of results fails here rather than silently. The readers of Ray's state are checked on a real run's
folder: against Ray's own reader, with a planted pickle that must never run, and with a checkpoint that Ray's
saved state does not know."""

from __future__ import annotations

import inspect
import json
import logging
import os
import pickle
import re
import shutil
import signal
import sys
import tomllib
from pathlib import Path

import pytest
import ray
from packaging.requirements import Requirement

from conftest import REPO, run_cli, write_experiment
from fence import outside_the_fence

RAY = ray.__version__


def changed(what: str) -> str:
    return f"Ray {RAY} changed: {what} (raytune_app/ray_compat/ relies on it; see its module docstrings)"


# --------------------------------------------------------------------------------------------- the Ray we test

def test_the_dependency_range_is_exactly_the_ray_ci_tests():
    """pyproject.toml pins one Ray version, the one installed here (CI installs from pyproject.toml)."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    (req,) = [Requirement(d) for d in deps if Requirement(d).name == "ray"]
    pins = [(s.operator, s.version) for s in req.specifier]
    assert len(pins) == 1 and pins[0][0] == "==", f"ray must be pinned to one version, not {req}"
    assert pins[0][1] == RAY, f"pyproject.toml pins ray {pins[0][1]}, but Ray {RAY} is installed"


# the findings in files that other changes of issue 25 fence (each must still be there: once its file is
# fenced, remove its entry here, so that the fence cannot silently open again)
ELSEWHERE = {
}


def test_no_private_ray_name_or_format_is_used_outside_the_fence():
    found = outside_the_fence(REPO / "raytune_app")
    assert found == ELSEWHERE, "private Ray names outside raytune_app/ray_compat/ (move them there, with a " \
                               f"contract test here): {json.dumps(found, indent=1)}"


# ---------------------------------------------------------------------------------------- names and settings

def test_the_controller_saves_a_trial_marked_for_saving():
    """controller.py: `_mark_trial_to_checkpoint` queues the trial's state for the next experiment save, and
    `stop_trial` hands schedulers' `on_trial_remove` the controller itself."""
    from ray.tune.execution.tune_controller import TuneController

    from raytune_app.ray_compat.controller import save_trial_again

    assert list(inspect.signature(TuneController._mark_trial_to_checkpoint).parameters) == ["self", "trial"], \
        changed("TuneController._mark_trial_to_checkpoint(trial)")

    class Trial:
        trial_id = "t1"

        def get_json_state(self):
            return ('{"status": "TERMINATED"}', "{}")

    controller = TuneController.__new__(TuneController)  # the two fields the mark and the save use
    controller._trials_to_cache, controller._trial_metadata = set(), {}
    save_trial_again(controller, Trial())
    assert controller._get_trial_checkpoints() == {"t1": Trial().get_json_state()}, \
        changed("a trial marked with _mark_trial_to_checkpoint is no longer re-saved")
    assert "on_trial_remove(self, trial)" in inspect.getsource(TuneController.stop_trial), \
        changed("stop_trial no longer passes the controller to on_trial_remove")


def test_rays_callback_census_is_looked_up_where_it_is_replaced():
    """usage.py: `tune.run` calls `air_usage.tag_callbacks` through the module, at each call."""
    import ray.tune.tune as tune_module
    from ray._common.usage.usage_lib import usage_stats_enabled
    from ray.air._internal import usage

    assert tune_module.air_usage is usage and callable(usage.tag_callbacks) and callable(usage_stats_enabled), \
        changed("ray.air._internal.usage.tag_callbacks / usage_stats_enabled moved")
    assert "air_usage.tag_callbacks(" in inspect.getsource(tune_module.run), \
        changed("tune.run no longer calls air_usage.tag_callbacks")


def test_rays_loggers_restore_a_trial_file_through_the_hook_overridden():
    """logger_callbacks.py: both loggers fetch the storage copy through `_restore_from_remote(file_name, trial)`
    (tests/test_result_logs.py shows the loss it causes)."""
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback, LoggerCallback

    assert list(inspect.signature(LoggerCallback._restore_from_remote).parameters) == ["self", "file_name", "trial"], \
        changed("LoggerCallback._restore_from_remote(file_name, trial)")
    for method in (JsonLoggerCallback.log_trial_start, CSVLoggerCallback._setup_trial):
        assert "self._restore_from_remote(" in inspect.getsource(method), \
            changed(f"{method.__qualname__} no longer calls _restore_from_remote")


def test_the_environment_settings_are_still_rays():
    """settings.py, interrupts.py: Tune's documented variables are still in Ray's list of them; the C++ core
    still knows `prestart_worker_first_driver`."""
    from ray.tune.constants import TUNE_ENV_VARS

    from raytune_app.ray_compat import interrupts, settings

    for name in (settings.NO_AUTO_LOGGERS, settings.STATE_SAVE_PERIOD_S, interrupts.NO_SIGINT_HANDLER):
        assert name in TUNE_ENV_VARS, changed(f"{name} is no longer one of Ray Tune's environment variables")
    setting = settings.NO_IDLE_WORKERS.removeprefix("RAY_").encode()
    raylet = Path(ray.__file__).with_name("_raylet.so")
    assert setting in raylet.read_bytes(), changed(f"Ray's core has no system setting {setting.decode()}")


def test_the_package_limit_and_the_loopback_settings_are_rays(monkeypatch):
    """settings.py: the package limit's default is Ray's own gRPC message size, and the variable sets it; the
    loopback cluster's variables are Ray's documented ones."""
    from ray._raylet import Config

    from raytune_app.ray_compat import settings

    monkeypatch.delenv(settings.PACKAGE_LIMIT, raising=False)
    assert settings.package_limit() == Config.max_grpc_message_size(), \
        changed(f"Ray's max_grpc_message_size is now {Config.max_grpc_message_size()}")
    assert settings.PACKAGE_LIMIT.removeprefix("RAY_").encode() in Path(ray.__file__).with_name("_raylet.so") \
        .read_bytes(), changed("Ray's core has no system setting max_grpc_message_size")
    from ray._common.usage import usage_lib
    from ray._private.authentication import authentication_token_setup

    assert "RAY_USAGE_STATS_ENABLED" in inspect.getsource(usage_lib), \
        changed("RAY_USAGE_STATS_ENABLED no longer turns Ray's usage stats off")
    assert "RAY_AUTH_MODE" in inspect.getsource(authentication_token_setup), \
        changed("RAY_AUTH_MODE no longer sets Ray's authentication")


def test_tune_output_engine_is_chosen_at_each_fit(monkeypatch):
    """settings.py: `tune.run` asks get_air_verbosity at each call, which reads RAY_AIR_NEW_OUTPUT then: "0" picks
    the older engine (None), whose verbose 0 prints nothing."""
    from ray.tune import tune as tune_module
    from ray.tune.experimental.output import get_air_verbosity

    from raytune_app.ray_compat.settings import NEW_OUTPUT, fit_settings

    assert "get_air_verbosity(verbose)" in inspect.getsource(tune_module.run), \
        changed("tune.run no longer chooses its output engine through get_air_verbosity")
    monkeypatch.delenv(NEW_OUTPUT, raising=False)
    assert get_air_verbosity(0) is not None
    with fit_settings(1, verbose=0):
        assert get_air_verbosity(0) is None, changed(f"{NEW_OUTPUT}=0 no longer selects the older output engine")
    with fit_settings(1, verbose=1):
        assert get_air_verbosity(1) is not None
    assert NEW_OUTPUT not in os.environ


def test_tune_stops_and_saves_on_the_stop_signal_with_its_sigint_handler_off(monkeypatch):
    """interrupts.py: with TUNE_DISABLE_SIGINT_HANDLER=1, Tune leaves SIGINT alone and stops on SIGUSR1."""
    from ray.tune import tune as tune_module

    from raytune_app.ray_compat.interrupts import STOP_SIGNAL, ask_tune_to_stop, leave_sigint_to_us

    monkeypatch.delenv("TUNE_DISABLE_SIGINT_HANDLER", raising=False)
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, STOP_SIGNAL)}
    try:
        with leave_sigint_to_us():
            stopped = tune_module._setup_signal_catching()  # what tune.run does first
        assert signal.getsignal(signal.SIGINT) is before[signal.SIGINT], \
            changed("Tune installs its SIGINT handler despite TUNE_DISABLE_SIGINT_HANDLER=1")
        ask_tune_to_stop()
        assert stopped.is_set(), changed(f"Tune no longer ends a run on {STOP_SIGNAL.name}")
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
    assert "TUNE_DISABLE_SIGINT_HANDLER" not in os.environ


def test_rays_checkpoint_message_comes_from_the_logger_silenced(tmp_path, caplog):
    """settings.py: 'Checkpoint successfully created' is logged at INFO by CHECKPOINT_LOGGER."""
    from ray.train._internal.storage import StorageContext
    from ray.tune import Checkpoint

    from raytune_app.ray_compat.settings import CHECKPOINT_LOGGER

    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "f").write_text("x")
    storage = StorageContext(storage_path=str(tmp_path / "store"), experiment_dir_name="e", trial_dir_name="t")
    with caplog.at_level(logging.INFO):
        storage.persist_current_checkpoint(Checkpoint.from_directory(str(tmp_path / "ckpt")))
    sources = {r.name for r in caplog.records if "Checkpoint successfully created" in r.getMessage()}
    assert sources == {CHECKPOINT_LOGGER}, changed(f"the checkpoint message comes from {sources or 'nowhere'}")


def test_ray_stages_a_run_in_a_folder_named_by_its_start_to_the_second(tmp_path, monkeypatch):
    """staging.py: `<Ray session>/artifacts/<start time, to the second>/<experiment name>/`."""
    from ray.train._internal import storage

    from raytune_app.ray_compat.staging import STAMP_RESOLUTION_S

    monkeypatch.setattr(storage, "_get_ray_train_session_dir", lambda: "/SESSION/artifacts")
    context = storage.StorageContext(storage_path=str(tmp_path), experiment_dir_name="exp")
    stamp = r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d"
    assert re.fullmatch(rf"/SESSION/artifacts/{stamp}/exp/driver_artifacts", context.experiment_driver_staging_path), \
        changed(f"the staging folder is now {context.experiment_driver_staging_path}")
    assert STAMP_RESOLUTION_S == 1.0


def test_scheduler_and_searcher_names_make_the_public_classes_named():
    """tuner/schedulers.py and tuner/searchers.py name Ray's public classes instead of its registries."""
    from ray import tune

    from raytune_app.tuner import schedulers, searchers

    needs = {"pbt": {"hyperparam_mutations": {"lr": [0.1]}}}
    for name, cls in schedulers.CLASSES.items():
        made = tune.create_scheduler(schedulers.RAY_NAMES[name], **needs.get(name, {}))
        assert type(made) is cls, changed(f"create_scheduler({schedulers.RAY_NAMES[name]!r}) makes {type(made)}")
    for name in searchers.CLASSES:
        made = tune.create_searcher(searchers.RAY_NAMES[name])
        assert type(made) is searchers.searcher_class(name), \
            changed(f"create_searcher({searchers.RAY_NAMES[name]!r}) makes {type(made)}")


# ------------------------------------------------------------------------------- Ray's state, on a real run

@pytest.fixture(scope="module")
def run(ray_address, tmp_path_factory) -> Path:
    """A real two-trial run (3 epochs each, a checkpoint each epoch, all kept), its folder as the driver left it."""
    tmp = tmp_path_factory.mktemp("compat")
    spec = write_experiment(tmp / "compat.yaml", name="compat", num_samples=2, max_epochs=3, max_concurrent=1,
                            scheduler="fifo", search="random", keep_checkpoints=3, checkpoint_every=1)
    out = run_cli("tune", spec, "--storage", tmp / "runs", "--address", ray_address, "--seed", "1")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return tmp / "runs" / "compat"


@pytest.fixture
def folder(run, tmp_path) -> Path:
    """A copy of the run's folder without our summary (so readers go to Ray's state)."""
    copy = tmp_path / "compat"
    shutil.copytree(run, copy)
    for name in ("summary.json", "trials.csv"):
        (copy / name).unlink()
    return copy


def rays_own_reading(path: Path) -> dict:
    """Ray's own reader on a folder this test made (it unpickles: never use it on a folder someone sent)."""
    from ray.tune import ExperimentAnalysis

    return {t.trial_id: t for t in ExperimentAnalysis(str(path)).trials}


def test_the_plain_json_reading_of_rays_state_agrees_with_rays_own(folder):
    """experiment_state.py: file name, status, config, tag, folder and the checkpoint a resume starts from."""
    from ray.tune.execution.tune_controller import TuneController

    from raytune_app.ray_compat import experiment_state

    assert TuneController.CKPT_FILE_TMPL.format("*") == experiment_state.STATE_PATTERN, \
        changed(f"the experiment state's file name is now {TuneController.CKPT_FILE_TMPL}")
    ours = {t.trial_id: t for t in experiment_state.saved_trials(str(folder)) or ()}
    theirs = rays_own_reading(folder)
    assert len(ours) == 2 and set(ours) == set(theirs), changed("the trials of the state cannot be read as JSON")
    for tid, t in theirs.items():
        mine = ours[tid]
        assert (mine.status, mine.config, mine.experiment_tag, mine.folder) == \
               (t.status, t.config, t.experiment_tag, Path(t.path).name), changed(f"trial {tid}'s JSON fields")
        assert mine.checkpoint_known and mine.checkpoint == Path(t.checkpoint.path).name == "checkpoint_000002", \
            changed(f"the checkpoint manager's pickle: read {mine.checkpoint}, Ray resumes from {t.checkpoint}")


def test_a_trial_marked_errored_is_errored_for_ray(folder):
    """experiment_state.py's mark_errored: Ray's own reader (as Tuner.restore) sees ERROR."""
    from raytune_app.ray_compat.experiment_state import mark_errored

    first, second = sorted(rays_own_reading(folder))
    assert mark_errored(str(folder), [first]) == [first]
    statuses = {tid: t.status for tid, t in rays_own_reading(folder).items()}
    assert statuses == {first: "ERROR", second: "TERMINATED"}, changed(f"a state edited as JSON reads {statuses}")


def test_decisions_held_for_the_saved_runs_calls_are_forgotten_before_a_restore(folder):
    """experiment_state.py's forget_pending_decisions: Ray still keeps its held decisions in the saved state,
    under the names cleared, and a state cleared of them is still one that Ray's own reader loads."""
    from ray.tune.utils.serialization import _loads_with_cloudpickle  # TuneController.restore_from_dir's reader

    from raytune_app.ray_compat.experiment_state import PENDING_DECISIONS, forget_pending_decisions

    (state,) = folder.glob("experiment_state-*.json")
    data = json.loads(state.read_text())
    runner = data["runner_data"]
    assert all(isinstance(runner.get(key), dict) for key in PENDING_DECISIONS), \
        changed(f"the controller's saved attributes are now {sorted(runner)}")
    first, second = sorted(rays_own_reading(folder))
    runner[PENDING_DECISIONS[0]], runner[PENDING_DECISIONS[1]] = {first: "STOP"}, {second: "PAUSE"}
    state.write_text(json.dumps(data))
    assert forget_pending_decisions(str(folder)) == sorted([first, second])
    restored = _loads_with_cloudpickle(state.read_text())["runner_data"]
    assert all(restored[key] == {} for key in PENDING_DECISIONS)
    assert forget_pending_decisions(str(folder)) == []  # nothing held: the file is left as it is
    assert len(rays_own_reading(folder)) == 2


class Plant:
    """Unpickled, it creates a folder: the mark of code run from an experiment folder."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def plant(folder: Path, tmp_path: Path) -> list[Path]:
    """Pickles that run code in every place of Ray's newest state that Ray's readers unpickle."""
    (state,) = folder.glob("experiment_state-*.json")
    data = json.loads(state.read_text())
    markers = []
    for i, entry in enumerate(data["trial_data"]):
        trial, metadata = json.loads(entry[0]), json.loads(entry[1])
        blob = {name: tmp_path / f"ran-{name}-{i}" for name in ("field", "config", "metadata")}
        trial["placement_group_factory"] = pickle.dumps(Plant(blob["field"])).hex()  # Trial.__setstate__
        trial["config"]["planted"] = {"_type": "CLOUDPICKLE_FALLBACK",
                                      "value": pickle.dumps(Plant(blob["config"])).hex()}
        metadata["checkpoint_manager"] = {"_type": "CLOUDPICKLE_FALLBACK",
                                          "value": pickle.dumps(Plant(blob["metadata"])).hex()}
        entry[0], entry[1] = json.dumps(trial), json.dumps(metadata)
        markers += blob.values()
    state.write_text(json.dumps(data))
    return markers


def test_report_and_best_read_a_folder_someone_sent_without_running_its_pickles(folder, tmp_path):
    """Opening a running or killed experiment reads Ray's state as plain JSON: its statuses, none of its code."""
    markers = plant(folder, tmp_path)
    report = run_cli("report", folder, "--format", "json")
    best = run_cli("best", folder)
    assert not [m.name for m in markers if m.exists()], "a pickle in Ray's state ran"
    assert report.returncode == 0, report.stderr
    assert [t["status"] for t in json.loads(report.stdout)["trials"]] == ["completed", "completed"]
    assert best.returncode == 1 and "no summary.json yet" in best.stderr  # it read the folder, then refused


def test_retention_keeps_the_checkpoint_rays_state_names_not_a_newer_one_it_does_not_know(folder):
    """A worker wrote checkpoint_000003 but the driver was stopped before recording it: the state names
    checkpoint_000002, which a resume starts from; retention keeps it (and the best), not the unknown one."""
    from raytune_app.results.retention import prune

    trial = sorted(folder.glob("trial_*"))[0]
    shutil.copytree(trial / "checkpoint_000002", trial / "checkpoint_000003")  # unknown to Ray's state
    rows = [json.loads(line) for line in (trial / "result.json").read_text().splitlines()]
    rows[0]["val_accuracy"] = 2.0  # the first epoch's checkpoint is the best
    (trial / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert Path(rays_own_reading(folder)[trial.name.removeprefix("trial_")].checkpoint.path).name == \
        "checkpoint_000002"
    prune(str(folder), "val_accuracy", "max", keep=1)
    assert sorted(p.name for p in trial.glob("checkpoint_*")) == ["checkpoint_000000", "checkpoint_000002"]


def test_retention_deletes_nothing_it_cannot_tell_from_rays_state(folder):
    """A trial whose record of checkpoints cannot be read keeps them all; so does every trial of a state that
    cannot be read at all."""
    from raytune_app.results.retention import prune

    (state,) = folder.glob("experiment_state-*.json")
    data = json.loads(state.read_text())
    metadata = json.loads(data["trial_data"][0][1])
    metadata["checkpoint_manager"]["value"] = "not hex"
    data["trial_data"][0][1] = json.dumps(metadata)
    state.write_text(json.dumps(data))
    damaged = json.loads(data["trial_data"][0][0])["relative_logdir"]
    deleted = prune(str(folder), "val_accuracy", "max", keep=1)
    assert deleted and not [d for d in deleted if f"/{damaged}/" in d]
    before = sorted(p.name for p in folder.glob("trial_*/checkpoint_*"))
    state.write_text(state.read_text()[:100])  # cut short
    assert prune(str(folder), "val_accuracy", "max", keep=1) == []
    assert sorted(p.name for p in folder.glob("trial_*/checkpoint_*")) == before

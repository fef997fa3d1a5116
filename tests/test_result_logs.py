"""A trial restarted under the same driver keeps its logged history (tuner/callbacks/result_logs.py), while a resumed
experiment's new driver still picks up the history from the storage path."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.fs
import pytest
from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

from raytune_app.tuner.callbacks.result_logs import CsvLogger, JsonLogger


class FakeStorage:
    def __init__(self, trial_fs_path: Path):
        self.trial_fs_path = str(trial_fs_path)
        self.storage_filesystem = pyarrow.fs.LocalFileSystem()


class FakeTrial:
    """What Ray's loggers read of a trial: its driver-side folder, its storage folder, a checkpoint."""

    def __init__(self, local: Path, remote: Path):
        self.local_path, self.storage, self.config = str(local), FakeStorage(remote), {"lr": 0.1}
        self.checkpoint = object()  # restarted from a checkpoint

    def init_local_path(self):
        Path(self.local_path).mkdir(parents=True, exist_ok=True)


def rows(n: int) -> str:
    return "".join(json.dumps({"epoch": e, "val_accuracy": 0.5}) + "\n" for e in range(1, n + 1))


def restart(logger, trial: FakeTrial, epoch: int) -> None:
    logger.log_trial_result(epoch, trial, {"epoch": epoch, "val_accuracy": 0.5, "config": trial.config})
    logger.log_trial_end(trial)


@pytest.fixture
def trial(tmp_path):
    local, remote = tmp_path / "staging" / "trial_1", tmp_path / "storage" / "trial_1"
    local.mkdir(parents=True)
    remote.mkdir(parents=True)
    (local / "result.json").write_text(rows(4))  # what this driver logged
    (remote / "result.json").write_text(rows(1))  # what had reached the storage path when it restarted
    return FakeTrial(local, remote)


def test_a_restarted_trial_keeps_what_this_driver_logged(trial):
    restart(JsonLogger(), trial, 5)
    lines = (Path(trial.local_path) / "result.json").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2, 3, 4, 5]


def test_rays_own_logger_loses_it(trial):
    """The loss this module exists for: if Ray fixes it, this test says the wrapper can go."""
    restart(JsonLoggerCallback(), trial, 5)
    lines = (Path(trial.local_path) / "result.json").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 5]


def test_a_new_driver_picks_up_the_history_from_storage(tmp_path):
    local, remote = tmp_path / "new-staging" / "trial_1", tmp_path / "storage" / "trial_1"
    local.mkdir(parents=True)  # Ray creates the trial's staging folder, empty
    remote.mkdir(parents=True)
    (remote / "result.json").write_text(rows(3))
    (remote / "progress.csv").write_text("epoch,val_accuracy\n1,0.5\n2,0.5\n3,0.5\n")
    trial = FakeTrial(local, remote)
    restart(JsonLogger(), trial, 4)
    restart(CsvLogger(), trial, 4)
    assert [json.loads(x)["epoch"] for x in (local / "result.json").read_text().splitlines()] == [1, 2, 3, 4]
    assert (local / "progress.csv").read_text().splitlines()[1:] == ["1,0.5", "2,0.5", "3,0.5", "4,0.5"]


def test_the_csv_log_keeps_its_rows_too(trial):
    local = Path(trial.local_path)
    (local / "progress.csv").write_text("epoch,val_accuracy\n1,0.5\n2,0.5\n")
    (Path(trial.storage.trial_fs_path) / "progress.csv").write_text("")
    restart(CsvLogger(), trial, 3)
    assert (local / "progress.csv").read_text().splitlines() == ["epoch,val_accuracy", "1,0.5", "2,0.5", "3,0.5"]
    assert issubclass(CsvLogger, CSVLoggerCallback)

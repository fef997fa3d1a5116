"""The TensorBoard callback (tuner/callbacks/tensorboard.py) writes off the thread that schedules trials, and every
snapshot of the experiment holds what was handed over before it."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
import torch.utils.tensorboard
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import metadata as hp_metadata

from raytune_app.spec.space import parse_space
from raytune_app.tuner.callbacks.tensorboard import TensorBoardCallback


def test_writers_open_and_close_off_the_scheduling_thread_and_a_snapshot_waits_for_them(tmp_path, monkeypatch):
    threads = []  # the thread of every writer's opening and closing

    class SlowWriter(torch.utils.tensorboard.SummaryWriter):
        """Ray's scheduling thread must not wait on these: each opening and closing takes 50 ms."""

        def __init__(self, *args, **kwargs):
            threads.append(threading.current_thread())
            time.sleep(0.05)
            super().__init__(*args, **kwargs)

        def close(self):
            threads.append(threading.current_thread())
            time.sleep(0.05)
            super().close()

    monkeypatch.setattr(torch.utils.tensorboard, "SummaryWriter", SlowWriter)
    params, _ = parse_space({"lr": {"loguniform": [1e-4, 1e-1]}})
    callback = TensorBoardCallback(params, ["val_accuracy"])
    trials = [SimpleNamespace(trial_id=f"t{i}", local_path=str(tmp_path / f"t{i}"), config={"lr": 0.01 * (i + 1)})
              for i in range(4)]
    started = time.perf_counter()
    for i, trial in enumerate(trials):
        callback.log_trial_start(trial)
        callback.log_trial_result(1, trial, {"val_accuracy": 0.5 + i / 10, "training_iteration": 1})
        callback.log_trial_end(trial, failed=i == 3)
    handed_over = time.perf_counter() - started
    callback.get_state()  # Ray's snapshot of the experiment, just before it copies the files to storage
    assert threads and threading.main_thread() not in threads
    assert handed_over < 0.2, handed_over  # 8 x 50 ms of opening and closing happened elsewhere
    for i, trial in enumerate(trials):  # every event is on disk by the snapshot
        events = EventAccumulator(trial.local_path)
        events.Reload()
        assert [s.value for s in events.Scalars("val_accuracy")] == [pytest.approx(0.5 + i / 10)]
        content = events.PluginTagToContent(hp_metadata.PLUGIN_NAME)
        end = hp_metadata.parse_session_end_info_plugin_data(content[hp_metadata.SESSION_END_INFO_TAG])
        assert end.status == (api_pb2.STATUS_FAILURE if i == 3 else api_pb2.STATUS_SUCCESS)
    callback.on_experiment_end(trials)


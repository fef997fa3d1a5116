"""Per-trial TensorBoard logs written by the driver: plainly named scalars and HParams.

Each trial's run gets the HParams experiment config (hyperparameter domains and metrics) and
its session start at its first moment, so the HParams dashboard lists every trial while it is
still running, and its session end (success or failure) when Ray is done with it.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ray.tune.logger import LoggerCallback
from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
from tensorboard.plugins.hparams import summary_v2 as hparams

from raytune_app.results.reader import flat_result
from raytune_app.spec.space import Param, flat_params, flatten

log = logging.getLogger(__name__)

FLUSH_SECS = 2  # how soon TensorBoard sees a trial's newest results
SCALARS = ("train_loss", "val_loss", "val_accuracy", "val_rmse", "epoch_time_s")
FRONT_RANK = "front_rank"  # several objectives: an HParams metric, written once the run has ended


def _hparam_value(value: Any) -> bool | float | str:
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return str(value)


def hparam_domains(params: dict[str, Param]) -> list[hparams.HParam]:
    """HParams' declared domains, so the dashboard can filter on each hyperparameter."""
    out = []
    for name, p in flat_params(params).items():
        options = p.options
        if options and all(isinstance(o, (bool, str, int, float)) for o in options):
            values = [_hparam_value(o) for o in options]
            if len({type(v) for v in values}) == 1:
                out.append(hparams.HParam(name, hparams.Discrete(values)))
                continue
        if p.is_continuous:
            out.append(hparams.HParam(name, hparams.RealInterval(float(p.args[0]), float(p.args[1]))))
        else:
            out.append(hparams.HParam(name))
    return out


def session_end_pb(failed: bool, end_time: float) -> summary_pb2.Summary:
    """HParams' session end (tensorboard's own helper for it needs TensorFlow): status and end time."""
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_FAILURE if failed else api_pb2.STATUS_SUCCESS,
                                         end_time_secs=end_time)
    summary = summary_pb2.Summary()
    summary.value.add(tag=metadata.SESSION_END_INFO_TAG, tensor=metadata.NULL_TENSOR,
                      metadata=metadata.create_summary_metadata(plugin_data_pb2.HParamsPluginData(
                          session_end_info=end)))
    return summary


@dataclass(frozen=True)
class _TrialLog:
    """What the writing thread needs of a trial, taken when Ray hands it over (and when that was)."""

    trial_id: str
    path: str
    config: dict
    when: float

    @classmethod
    def of(cls, trial) -> "_TrialLog":
        return cls(trial.trial_id, trial.local_path, trial.config, time.time())


def _warn_on_failure(future: Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("TensorBoard: %s", future.exception())


class TensorBoardCallback(LoggerCallback):
    """Writes `val_accuracy`, `train_loss`, ... and HParams sessions into each trial's folder.

    Ray calls it on the thread that schedules trials, where opening a trial's writer (an event file and a
    thread of its own) and closing it (which waits for that thread) took about 9 ms a trial. So that thread
    only hands each step over, and one thread of this callback opens, writes and closes every writer, in
    order. Ray asks callbacks for their state (`get_state`) in each snapshot of the experiment, just before
    it copies the staging folder to storage: what was handed over by then is written first, so every copy,
    the run's last included, holds it.
    """

    def __init__(self, params: dict[str, Param], metrics: Iterable[str]):
        self._config_pb = hparams.hparams_config_pb(
            hparam_domains(params), [hparams.Metric(m) for m in metrics])
        self._metrics = tuple(metrics)
        self._writers: dict[str, Any] = {}  # trial id -> its SummaryWriter; only the writing thread uses them
        self._thread: ThreadPoolExecutor | None = None

    def __getstate__(self) -> dict:
        """Ray saves callbacks with the experiment; open writers and the thread stay behind."""
        return {**self.__dict__, "_writers": {}, "_thread": None}

    def _hand_over(self, step: Callable[..., None], *args: Any) -> Future:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="raytune-app-tensorboard")
        future = self._thread.submit(step, *args)
        future.add_done_callback(_warn_on_failure)
        return future

    def _writer(self, trial: _TrialLog):
        """The trial's writer, opened (with its HParams session) at its first use."""
        if trial.trial_id not in self._writers:
            from torch.utils.tensorboard import SummaryWriter

            # the writer's own thread flushes every FLUSH_SECS: a flush per result would make the run
            # wait on it for every epoch of every trial (measured: the largest per-trial cost)
            writer = SummaryWriter(log_dir=trial.path, flush_secs=FLUSH_SECS)
            writer.file_writer.add_summary(self._config_pb)
            session = {k: _hparam_value(v) for k, v in flatten(trial.config).items()}
            writer.file_writer.add_summary(
                hparams.hparams_pb(session, trial_id=trial.trial_id, start_time_secs=trial.when))
            self._writers[trial.trial_id] = writer
        return self._writers[trial.trial_id]

    def _scalars(self, trial: _TrialLog, step: int, values: dict[str, float]) -> None:
        writer = self._writer(trial)
        for name, value in values.items():
            writer.add_scalar(name, value, global_step=step)

    def _end(self, trial: _TrialLog, failed: bool) -> None:
        writer = self._writer(trial)
        writer.file_writer.add_summary(session_end_pb(failed, trial.when))
        self._writers.pop(trial.trial_id)
        writer.close()

    def _close_all(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def log_trial_start(self, trial) -> None:
        self._hand_over(self._writer, _TrialLog.of(trial))

    def log_trial_result(self, iteration: int, trial, result: dict) -> None:
        step = result.get("training_iteration", iteration)
        result = flat_result(result)  # a nested report's `val/acc`, as Ray names it
        values = {name: float(result[name]) for name in self._metrics if name in result}
        self._hand_over(self._scalars, _TrialLog.of(trial), step, values)

    def log_trial_end(self, trial, failed: bool = False) -> None:
        """The session's end, so the HParams dashboard tells finished (and failed) trials from running ones."""
        self._hand_over(self._end, _TrialLog.of(trial), failed)

    def get_state(self) -> None:
        """Called in each snapshot of the experiment, before Ray copies it to storage: the steps handed over
        so far are written first. Nothing to save."""
        if self._thread is not None:
            self._hand_over(lambda: None).result()
        return None

    def on_experiment_end(self, trials, **info) -> None:
        """An interrupted run ends with trials still open: their last events go to disk (they resume later)."""
        if self._thread is not None:
            self._hand_over(self._close_all)
            self._thread.shutdown(wait=True)
            self._thread = None


def log_front_ranks(e) -> int:
    """Several objectives: each trial's front rank (results/front.py; -1 when it breaks a constraint) as the
    scalar `front_rank` at its point's epoch, in its folder, once the run has ended, so that TensorBoard's HParams
    table can sort and filter trials by it. Local folders only (TensorBoard's writer cannot write to a bucket);
    how many trials got one."""
    from torch.utils.tensorboard import SummaryWriter

    from raytune_app import storage

    written = 0
    for point in e.pareto.points.values():
        if not point.trial.path or storage.is_uri(point.trial.path):
            continue
        with SummaryWriter(log_dir=point.trial.path, filename_suffix=".front_rank") as writer:
            writer.add_scalar(FRONT_RANK, -1 if point.rank is None else point.rank,
                              global_step=int(point.row.get("training_iteration") or point.row.get("epoch") or 0))
        written += 1
    return written

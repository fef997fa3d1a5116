"""Per-trial TensorBoard logs written by the driver: plainly named scalars and HParams.

Each trial's run gets the HParams experiment config (hyperparameter domains and metrics) and
its session start at its first moment, so the HParams dashboard lists every trial while it is
still running, and its session end (success or failure) when Ray is done with it.
"""

from __future__ import annotations

import time
from typing import Any, Iterable

from ray.tune.logger import LoggerCallback
from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
from tensorboard.plugins.hparams import summary_v2 as hparams

from raytune_app.results.reader import flat_result
from raytune_app.spec.space import Param, flat_params, flatten

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


def session_end_pb(failed: bool) -> summary_pb2.Summary:
    """HParams' session end (tensorboard's own helper for it needs TensorFlow): status and end time."""
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_FAILURE if failed else api_pb2.STATUS_SUCCESS,
                                         end_time_secs=time.time())
    summary = summary_pb2.Summary()
    summary.value.add(tag=metadata.SESSION_END_INFO_TAG, tensor=metadata.NULL_TENSOR,
                      metadata=metadata.create_summary_metadata(plugin_data_pb2.HParamsPluginData(
                          session_end_info=end)))
    return summary


class TensorBoardCallback(LoggerCallback):
    """Writes `val_accuracy`, `train_loss`, ... and HParams sessions into each trial's folder."""

    def __init__(self, params: dict[str, Param], metrics: Iterable[str]):
        self._config_pb = hparams.hparams_config_pb(
            hparam_domains(params), [hparams.Metric(m) for m in metrics])
        self._metrics = tuple(metrics)
        self._writers: dict[str, Any] = {}

    def _writer(self, trial):
        if trial.trial_id not in self._writers:
            from torch.utils.tensorboard import SummaryWriter

            # the writer's own thread flushes every FLUSH_SECS: a flush per result would make the driver
            # wait on it for every epoch of every trial (measured: the largest per-trial cost)
            writer = SummaryWriter(log_dir=trial.local_path, flush_secs=FLUSH_SECS)
            writer.file_writer.add_summary(self._config_pb)
            session = {k: _hparam_value(v) for k, v in flatten(trial.config).items()}
            writer.file_writer.add_summary(
                hparams.hparams_pb(session, trial_id=trial.trial_id, start_time_secs=time.time()))
            self._writers[trial.trial_id] = writer
        return self._writers[trial.trial_id]

    def __getstate__(self) -> dict:
        """Ray saves callbacks with the experiment; open writers stay behind."""
        return {**self.__dict__, "_writers": {}}

    def log_trial_start(self, trial) -> None:
        self._writer(trial)

    def log_trial_result(self, iteration: int, trial, result: dict) -> None:
        writer = self._writer(trial)
        step = result.get("training_iteration", iteration)
        result = flat_result(result)  # a nested report's `val/acc`, as Ray names it
        for name in self._metrics:
            if name in result:
                writer.add_scalar(name, float(result[name]), global_step=step)

    def log_trial_end(self, trial, failed: bool = False) -> None:
        """The session's end, so the HParams dashboard tells finished (and failed) trials from running ones."""
        writer = self._writer(trial)
        writer.file_writer.add_summary(session_end_pb(failed))
        self._writers.pop(trial.trial_id)
        writer.close()

    def on_experiment_end(self, trials, **info) -> None:
        """An interrupted run ends with trials still open: their last events go to disk (they resume later)."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


def log_front_ranks(e) -> int:
    """Several objectives: each trial's front rank (results/front.py; -1 when it breaks a constraint) as the
    scalar `front_rank` at its point's epoch, in its folder, once the run has ended, so that TensorBoard's HParams
    table can sort and filter trials by it. Local folders only (TensorBoard's writer cannot write to a bucket);
    how many trials got one."""
    from torch.utils.tensorboard import SummaryWriter

    from raytune_app import storage

    written = 0
    for trial_id, point in e.pareto.points.items():
        if not point.trial.path or storage.is_uri(point.trial.path):
            continue
        with SummaryWriter(log_dir=point.trial.path, filename_suffix=".front_rank") as writer:
            writer.add_scalar(FRONT_RANK, -1 if point.rank is None else point.rank,
                              global_step=int(point.row.get("training_iteration") or point.row.get("epoch") or 0))
        written += 1
    return written

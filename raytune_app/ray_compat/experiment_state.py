"""Ray Tune's saved experiment state, read and corrected as plain JSON: never unpickled.

Private to Ray (its on-disk format, Ray 2.60's TuneController and Trial):
- the file name `experiment_state-<time>.json` (`TuneController.CKPT_FILE_TMPL`; Ray reads only the newest);
- its layout: `{"trial_data": [[TRIAL_JSON, RUN_METADATA_JSON], ...]}`, each a JSON string; TRIAL_JSON holds
  `trial_id`, `status`, `config`, `experiment_tag` and `relative_logdir` (the trial's folder) as plain JSON;
  RUN_METADATA_JSON holds `checkpoint_manager`, a cloudpickle blob (`{"_type": "CLOUDPICKLE_FALLBACK",
  "value": HEX}`) naming the trial's checkpoints: the newest is the one `Tuner.restore` resumes the trial from.

Why plain JSON: Ray's readers (`tune.ExperimentAnalysis`, `Trial.from_json_state`) unpickle the blobs embedded
in that JSON, so opening a folder someone sent would run whatever code it carries. Here the blobs are never
unpickled: the checkpoint manager's is only walked with `pickletools.genops`, which lists a pickle's opcodes
without executing any (no import, no call), for the checkpoint folder names it contains.

- `runner_data`: the TuneController's own attributes, restored as they were (`__getstate__`/`__setstate__`),
  among them the scheduling decisions it held for calls in flight (`PENDING_DECISIONS`, see
  `forget_pending_decisions`).

Public alternatives checked: `ExperimentAnalysis` / `ResultGrid` (both unpickle; Ray 2.60's TuneFunctionDecoder
refuses blobs, but Trial's pickled fields are decoded by `Trial.__setstate__` regardless); `Tuner.can_restore`
(used instead of the `tuner.pkl` file name, in run/restore.py); none re-saves a trial's status, which
`mark_errored` needs (see there).
"""

from __future__ import annotations

import fnmatch
import json
import pickletools
import re
from dataclasses import dataclass
from typing import Any, Callable

from raytune_app import storage

STATE_PATTERN = "experiment_state-*.json"  # TuneController.CKPT_FILE_TMPL.format("*")
PICKLED = "CLOUDPICKLE_FALLBACK"  # ray.tune.utils.serialization's marker of a pickled value
CHECKPOINT_FOLDER = re.compile(r"checkpoint_\d+")  # ray.train's checkpoint folder names
# TuneController's decisions held until a trial's save in flight returns, and those queued until its results in
# flight are processed: {trial_id: "CONTINUE" | "PAUSE" | "STOP"}
PENDING_DECISIONS = ("_cached_trial_decisions", "_queued_trial_decisions")


@dataclass(frozen=True)
class SavedTrial:
    """What Ray's saved state says of one trial."""

    trial_id: str
    status: str  # PENDING | RUNNING | PAUSED | TERMINATED | ERROR
    config: dict  # as sampled; values Ray could only pickle are left out
    experiment_tag: str
    folder: str  # the trial's folder under the experiment (trial_<id>)
    checkpoint: str | None  # the checkpoint folder a resume starts the trial from; None: it starts afresh
    checkpoint_known: bool = True  # False: the state's record of checkpoints could not be read


def is_checkpoint_folder(name: str) -> bool:
    """Whether a folder in a trial's folder is one of Ray's checkpoints (`checkpoint_000003`)."""
    return CHECKPOINT_FOLDER.fullmatch(name) is not None


def newest_state(path: str) -> str | None:
    """The file name of the experiment state Ray would restore from (the newest), or None."""
    states = fnmatch.filter(storage.list_files(path), STATE_PATTERN)
    return max(states) if states else None


def _load(file: str) -> dict[str, Any] | None:
    try:
        state = json.loads(storage.read_text(file))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return state if isinstance(state, dict) and isinstance(state.get("trial_data"), list) else None


def readable(path: str) -> bool:
    """Whether the experiment's newest state is there and whole (a kill can cut it short while it is copied)."""
    name = newest_state(path)
    return name is not None and _load(storage.join(path, name)) is not None


def _plain(value: Any) -> Any:
    """`value` without the parts Ray could only pickle (dropped, never decoded)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not _is_pickled(v)}
    if isinstance(value, list):
        return [_plain(v) for v in value if not _is_pickled(v)]
    return value


def _is_pickled(value: Any) -> bool:
    return isinstance(value, dict) and value.get("_type") == PICKLED


def _strings(blob: Any) -> list[str]:
    """The strings inside a pickled value, read opcode by opcode without unpickling; ValueError if it is
    not a pickle."""
    if not _is_pickled(blob) or not isinstance(blob.get("value"), str):
        raise ValueError("not a pickled value")
    data = bytes.fromhex(blob["value"])
    return [arg for _, arg, _ in pickletools.genops(data) if isinstance(arg, str)]


def _latest_checkpoint(run_metadata: dict, folder: str) -> str | None:
    """The newest of the trial's checkpoint folders that its checkpoint manager names (Ray numbers them in
    order, and resumes from the latest one registered); ValueError when the record cannot be read."""
    names = set()
    for text in _strings(run_metadata.get("checkpoint_manager")):
        parent, _, name = text.rstrip("/").rpartition("/")
        if is_checkpoint_folder(name) and parent.rsplit("/", 1)[-1] == folder:
            names.add(name)
    return max(names) if names else None


def _saved_trial(entry: Any) -> SavedTrial:
    trial_json, metadata_json = entry
    trial, metadata = json.loads(trial_json), json.loads(metadata_json)
    folder = str(trial.get("relative_logdir") or f"trial_{trial['trial_id']}")
    try:
        checkpoint, known = _latest_checkpoint(metadata, folder), True
    except (ValueError, TypeError, AttributeError):  # a damaged or foreign record: which one is unknown
        checkpoint, known = None, False
    config = trial.get("config")
    return SavedTrial(trial_id=str(trial["trial_id"]), status=str(trial["status"]),
                      config=_plain(config) if isinstance(config, dict) else {},
                      experiment_tag=str(trial.get("experiment_tag") or ""), folder=folder,
                      checkpoint=checkpoint, checkpoint_known=known)


def saved_trials(path: str) -> list[SavedTrial] | None:
    """The trials of the experiment's newest state, in Ray's order; None when there is none or it cannot be
    read (not written yet, cut short, or not Ray's format)."""
    name = newest_state(path)
    state = _load(storage.join(path, name)) if name else None
    if state is None:
        return None
    try:
        return [_saved_trial(entry) for entry in state["trial_data"]]
    except (ValueError, TypeError, KeyError, AttributeError):  # not Ray's layout
        return None


def _correct(path: str, fix: Callable[[dict[str, Any]], list[str]]) -> list[str]:
    """Apply `fix` to Ray's newest saved state (the one Tuner.restore reads) as JSON, its pickled parts copied as
    they are; the file is rewritten only when `fix` changed something (what it returns)."""
    name = newest_state(path)
    state = _load(storage.join(path, name)) if name else None
    if state is None:
        return []
    fixed = fix(state)
    if fixed:
        storage.write_atomic(storage.join(path, name), json.dumps(state))
    return fixed


def mark_errored(path: str, trial_ids: list[str]) -> list[str]:
    """Make Ray's newest saved state say ERROR for these trials; returns the trials corrected.

    Ray 2.60 re-saves a trial's state only when it is queued for saving, and a trial whose worker was killed
    (SIGKILL, out of memory) loses its actor before that happens: its last saved state stays RUNNING, while
    the run reports it failed. `Tuner.restore(restart_errored=True)` would then resume it from its checkpoint
    instead of starting it over. No public API re-saves a trial, so the state is corrected as JSON."""

    def errored(state: dict[str, Any]) -> list[str]:
        fixed = []
        for entry in state["trial_data"]:
            trial = json.loads(entry[0])
            if trial.get("trial_id") in trial_ids and trial.get("status") != "ERROR":
                trial["status"] = "ERROR"
                entry[0] = json.dumps(trial, indent=2)
                fixed.append(trial["trial_id"])
        return fixed

    return _correct(path, errored) if trial_ids else []


def forget_pending_decisions(path: str) -> list[str]:
    """Clear the scheduling decisions that Ray's newest saved state held for the saved run's calls in flight;
    returns the trials that had one.

    Ray 2.60's TuneController saves and restores its held decisions with the rest of its attributes. When a
    trial's worker dies while the driver saves its checkpoint, and it has no retries left, Ray holds a STOP
    for "after the save" that the run never executes; restored, the trial resumed by `resume` is stopped after
    its first new checkpoint, as if a scheduler had stopped it early, its remaining epochs never trained. No
    call of the saved run survives it, so none of the decisions held for them belongs to the restored run: the
    schedulers decide afresh on the restored trials' next results."""

    def forget(state: dict[str, Any]) -> list[str]:
        runner = state.get("runner_data")
        if not isinstance(runner, dict):
            return []
        pending = [key for key in PENDING_DECISIONS if isinstance(runner.get(key), dict) and runner[key]]
        held = sorted({str(trial) for key in pending for trial in runner[key]})
        runner.update({key: {} for key in pending})
        return held

    return _correct(path, forget)

"""Ray's settings read from the environment, and the name of one of Ray's loggers.

- `RAY_prestart_worker_first_driver` (private: a system setting of Ray 2.60's C++ core, ray_config_def.h, read
  from `RAY_<name>` when Ray's processes start). When the first driver connects, the raylet starts an idle
  worker per CPU for the job's tasks; Tune's trial actors never use them (Tune gives them a runtime environment
  of their own), and on a small machine they only compete with the first trial's start: without them a local
  run's first result came 0.3 s sooner on 2 cores. Public alternative checked: `ray.init(_system_config=...)`
  is private too, and no public `ray.init` argument controls worker prestart.
- `TUNE_DISABLE_AUTO_CALLBACK_LOGGERS`, `TUNE_GLOBAL_CHECKPOINT_S` (public: Ray Tune's documented environment
  variables, listed in `ray.tune.constants.TUNE_ENV_VARS`); kept here so every Ray setting has one home. The
  first leaves out Ray's own TBX logger (raytune-app passes Ray's CSV and JSON loggers and a TensorBoard logger
  of its own); the second is the period of Ray's experiment-state snapshots (see `snapshot_period`). No
  `RunConfig`/`TuneConfig` argument sets either in Ray 2.60.
- `RAY_max_grpc_message_size` (private: a system setting of Ray's C++ core, 512 MiB by default), which bounds a
  runtime env package (the experiment's folder shipped to the nodes): the size check refuses a folder over it
  before Ray uploads anything. Public alternative checked: none; Ray states the limit only in its error message.
- `RAY_AUTH_MODE`, `RAY_USAGE_STATS_ENABLED` (public, documented): `cluster-local`'s loopback nodes run without
  token authentication (only acceptable on loopback addresses of one's own machine) and without usage stats.
- `RAY_AIR_NEW_OUTPUT` (public: named in `tune.run`'s docstring), read at each `Tuner.fit`: Ray Tune's newer output
  engine prints its "Configuration for experiment" table even at `verbose=0`; with `verbose=0` raytune-app uses
  the older one, which then prints nothing. Public alternative checked: `RunConfig(verbose=0)` alone (the table
  still shows).
- the logger `ray.train._internal.storage` (private module), which logs "Checkpoint successfully created" at
  INFO for every checkpoint of every trial. Public alternative checked: silencing the public parent logger
  `ray.train` would hide Ray Train's other messages too (data-parallel trials log through it).
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, contextmanager
from typing import Iterator

NO_IDLE_WORKERS = "RAY_prestart_worker_first_driver"  # "0": no idle workers prestarted for a driver
NO_AUTO_LOGGERS = "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"
STATE_SAVE_PERIOD_S = "TUNE_GLOBAL_CHECKPOINT_S"
CHECKPOINT_LOGGER = "ray.train._internal.storage"
NEW_OUTPUT = "RAY_AIR_NEW_OUTPUT"
PACKAGE_LIMIT = "RAY_max_grpc_message_size"
DEFAULT_PACKAGE_LIMIT = 512 * 1024 * 1024


def package_limit() -> int:
    """Ray's limit on a runtime env package (its gRPC message size): the one set for this process, or Ray's."""
    return int(os.environ.get(PACKAGE_LIMIT, DEFAULT_PACKAGE_LIMIT))


def loopback_cluster_settings() -> dict[str, str]:
    """The environment of `cluster-local`'s nodes: no token authentication (loopback only), no usage stats."""
    return {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


SNAPSHOT_S_PER_TRIAL = 0.01  # snapshot period per trial of the experiment ...
SNAPSHOT_PERIOD_S = (2.0, 60.0)  # ... within these bounds


def snapshot_period(trials: int) -> float:
    """Seconds between experiment-state snapshots for an experiment of `trials` trials.

    Each snapshot writes every trial's state on Ray's scheduling thread, then copies the whole staging folder
    (every trial's files) to the storage path on a thread of the driver: both grow with the trials, so a fixed
    period makes the driver's housekeeping grow with the square of them (a copy of 4,000 trials' folders took
    6-7 s: at a 2 s period the copies ran back to back). A period of 10 ms a trial keeps the cost per trial
    flat; 2 s at least, so that small runs' live files and state reach the storage path as fast as before;
    60 s at most, so that a killed driver resumes from state at most a minute old (benchmarks/overhead.py
    --only cadence measures utilisation and the state's age against the period; docs/performance.md).
    Ray's "auto" does not help here: it scales with the time to write the state, not to copy the folder.
    """
    low, high = SNAPSHOT_PERIOD_S
    return min(high, max(low, trials * SNAPSHOT_S_PER_TRIAL))


@contextmanager
def scoped_environ(values: dict[str, str]) -> Iterator[None]:
    """`values` in this process's environment within the block, its own values again after it. Ray reads them
    when a `Tuner.fit` or a node starts; raytune-app runs in the user's process (a notebook, a script), whose
    next bare `Tuner.fit` or `ray.init` must see the user's settings, not ours (Ray's loggers left off there
    wrote no result.json)."""
    old = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def fit_settings(trials: int, verbose: int) -> AbstractContextManager[None]:
    """Ray Tune's settings for one `Tuner.fit` of an experiment of `trials` trials, fresh or restored: Ray's
    auto-added loggers off (raytune-app passes its own), the snapshot period for that size (one the user set is
    kept) and, with verbose 0, the older output engine, silent at that level."""
    values = {NO_AUTO_LOGGERS: "1"}
    if STATE_SAVE_PERIOD_S not in os.environ:
        values[STATE_SAVE_PERIOD_S] = f"{snapshot_period(trials):g}"
    if verbose <= 0:
        values[NEW_OUTPUT] = "0"
    return scoped_environ(values)


def without_idle_workers() -> AbstractContextManager[None]:
    """While a local Ray starts: no idle workers prestarted (a value the user set is kept)."""
    return scoped_environ({NO_IDLE_WORKERS: os.environ.get(NO_IDLE_WORKERS, "0")})

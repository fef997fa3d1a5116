"""Where Ray Tune stages a run's driver-side files: run/staging.py keeps same-named runs out of each other's.

Private to Ray: the staging folder's layout, `<Ray session>/artifacts/<start time>/<experiment name>/`
(Ray 2.60's `ray.train._internal.storage.StorageContext._get_session_path`), where the start time is
`date_str()` read once per Tuner.fit, to the second (`%Y-%m-%d_%H-%M-%S`). Two runs of one experiment name
started in the same second on one machine (one Ray session) share that folder, and each copies the other's
trials into its own experiment.

Public alternatives checked: `RunConfig`/`SyncConfig` have no argument for the staging folder, and
`RunConfig(name=...)` must stay the experiment's name (it is the folder under the storage path).
"""

from __future__ import annotations

STAMP_RESOLUTION_S = 1.0  # the staging folder's start time is to the second

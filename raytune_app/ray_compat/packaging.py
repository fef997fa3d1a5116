"""What Ray packs of a runtime env's `working_dir`: the files, found by Ray's own walk.

Private names (Ray 2.60), all from how `ray.init(runtime_env={"working_dir": ..., "excludes": [...]})` zips a folder:
- `ray._private.runtime_env.packaging._dir_travel`: the walk Ray zips with. In every folder it enters it reads
  `.gitignore` (unless RAY_RUNTIME_ENV_IGNORE_GITIGNORE=1) and `.rayignore`, each matching the paths below its own
  folder (pathspec's gitwildmatch), and it skips a path that any of them, or the excludes, match.
- `ray._private.runtime_env.packaging._get_excludes`: the matcher of the runtime env's `excludes`.
- `ray._private.ray_constants.get_runtime_env_default_excludes` and `.RAY_RUNTIME_ENV_IGNORE_GITIGNORE`: the excludes
  Ray adds itself (`.git`, `.venv`, ...; `upload_working_dir_if_needed` adds them) and the .gitignore switch.

Why: raytune-app tells the user how many files and bytes go to every node, and refuses a folder over Ray's package
limit before Ray uploads it. A walk of our own would count something else than Ray packs (nested .gitignore and
.rayignore files, Ray's default excludes, gitwildmatch's rules). Public ways checked: `ray.init` and
`ray.runtime_env.RuntimeEnv` take the folder and excludes but report nothing of the package; Ray logs only the
ignore files it honours and a warning near the size limit; Ray's copy of pathspec (`ray._private.thirdparty`) is
private too. Contract: tests/test_ray_compat_packaging.py compares this listing with the zip Ray builds.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

# Ray's walk logs each ignore file it honours at info level, with Path reprs; ours says what matters instead
_QUIET = logging.getLogger(__name__)
_QUIET.setLevel(logging.WARNING)


def packed_files(folder: str | Path, excludes: Sequence[str]) -> list[Path]:
    """The files (relative to `folder`, sorted) that Ray puts into the working_dir package of `folder` with
    the runtime env's `excludes`, Ray's default excludes added as `ray.init` adds them."""
    from ray._private import ray_constants
    from ray._private.runtime_env import packaging

    root = Path(folder).absolute()
    patterns = ray_constants.get_runtime_env_default_excludes() + list(excludes)
    include_gitignore = os.environ.get(ray_constants.RAY_RUNTIME_ENV_IGNORE_GITIGNORE, "0") != "1"
    found: list[Path] = []

    def keep(path: Path) -> None:
        if path.is_file():  # Ray zips files and empty folders; the folders hold no bytes
            found.append(path.relative_to(root))

    packaging._dir_travel(root, [packaging._get_excludes(root, patterns)], keep,
                          include_gitignore=include_gitignore, logger=_QUIET)
    return sorted(found)

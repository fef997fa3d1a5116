"""Per-user state on this machine goes in a private folder: never in a file that other users share.

A file in the shared temp folder belongs to whichever user created it first: another user of the machine then
fails with a PermissionError, or reads what the first one planted there."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from raytune_app.errors import RunFailed

APP = "raytune-app"


def private_dir() -> Path:
    """This user's folder for raytune-app's state on this machine, created with mode 0700:
    `$XDG_RUNTIME_DIR/raytune-app` (per user and per machine) or else `<temp dir>/raytune-app-<uid>`.
    RunFailed when it is not private: a link, not a folder, owned by another user, or open to others."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    base = Path(runtime) / APP if os.path.isabs(runtime) and os.path.isdir(runtime) \
        else Path(tempfile.gettempdir()) / f"{APP}-{os.getuid()}"
    try:
        base.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(base)
    except OSError as exc:
        raise RunFailed(f"{base}: cannot create raytune-app's private folder: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        problem = "is not a folder (a link?)"
    elif info.st_uid != os.getuid():
        problem = f"is owned by another user (uid {info.st_uid})"
    elif info.st_mode & 0o077:
        problem = f"is open to other users (mode {stat.S_IMODE(info.st_mode):o}; chmod 700 it)"
    else:
        return base
    raise RunFailed(f"{base}: raytune-app's private folder {problem}; it is not used")

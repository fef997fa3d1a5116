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


def privacy_problem(folder: Path) -> str | None:
    """Create `folder` (mode 0700) when it is missing; why it is not this user's private folder (a link, not a
    folder, owned by another user, open to others), or None when it is."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError as exc:
        return f"cannot be created: {exc.strerror}"
    if stat.S_ISLNK(info.st_mode):
        return "is a link"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a folder"
    if info.st_uid != os.getuid():
        return f"belongs to uid {info.st_uid}, not to you (uid {os.getuid()})"
    if info.st_mode & 0o077:
        return f"is open to other users (mode {stat.S_IMODE(info.st_mode):04o}; chmod 700 it)"
    return None


def private_dir() -> Path:
    """This user's folder for raytune-app's state on this machine, created with mode 0700:
    `$XDG_RUNTIME_DIR/raytune-app` (per user and per machine) or else `<temp dir>/raytune-app-<uid>`.
    RunFailed when it is not private (see privacy_problem)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    base = Path(runtime) / APP if os.path.isabs(runtime) and os.path.isdir(runtime) \
        else Path(tempfile.gettempdir()) / f"{APP}-{os.getuid()}"
    problem = privacy_problem(base)
    if problem:
        raise RunFailed(f"{base}: raytune-app's private folder {problem}; it is not used")
    return base

"""The experiment's own code on every node: its folder as the job's Ray runtime env (`working_dir`).

On one node nothing is copied (workers import from the folder itself). On a cluster of several nodes, or of one
whose autoscaler may add nodes (which do not have the folder), the driver joins with
`runtime_env={"working_dir": FOLDER, "excludes": [...]}`: Ray zips the folder once and every worker imports the
user's files from its node's copy.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from pathlib import Path

from raytune_app.errors import InputError

# never code: results, version control, virtual environments, caches
EXCLUDES = ["runs/", ".git/", ".venv/", "venv/", "env/", "__pycache__/", "*.pyc", ".ipynb_checkpoints/",
            "node_modules/", ".mypy_cache/", ".pytest_cache/"]
MIB = 1024 * 1024


def package_limit() -> int:
    """Ray's limit on a runtime env package: its gRPC message size (RAY_max_grpc_message_size, 512 MiB)."""
    return int(os.environ.get("RAY_max_grpc_message_size", 512 * MIB))


def _excluded(relative: Path, patterns: list[str]) -> bool:
    text = relative.as_posix()
    for pattern in patterns:
        bare = pattern.strip("/")
        if not bare:
            continue
        if "/" in bare:
            if fnmatch.fnmatch(text, bare) or text.startswith(bare + "/"):
                return True
        elif any(fnmatch.fnmatch(part, bare) for part in relative.parts):
            return True
    return False


def excludes_for(folder: Path, storage_path: str) -> list[str]:
    """Our excludes, the results folder if it lies inside, and the folder's own .rayignore patterns."""
    patterns = list(EXCLUDES)
    try:
        inside = Path(storage_path).expanduser().resolve().relative_to(folder.resolve())
        if inside.parts:
            patterns.append(f"{inside.as_posix()}/")
    except ValueError:
        pass
    ignore = folder / ".rayignore"
    if ignore.is_file():
        patterns += [line.strip() for line in ignore.read_text().splitlines()
                     if line.strip() and not line.startswith("#")]
    return patterns


def folder_size(folder: Path, patterns: list[str]) -> int:
    """Bytes Ray would package: the folder's files outside the excludes."""
    total = 0
    for root, dirs, files in os.walk(folder):
        here = Path(root).relative_to(folder)
        dirs[:] = [d for d in dirs if not _excluded(here / d, patterns)]
        total += sum((Path(root) / f).stat().st_size for f in files
                     if not _excluded(here / f, patterns) and (Path(root) / f).is_file())
    return total


def code_runtime_env(folder: str | Path, storage_path: str, source: str, limit: int | None = None) -> dict:
    """The runtime env that ships `folder`; InputError when it is over Ray's package limit."""
    folder = Path(folder)
    patterns = excludes_for(folder, storage_path)
    size, limit = folder_size(folder, patterns), limit or package_limit()
    if size > limit:
        raise InputError([f"{source}: the experiment's folder {folder} holds {size / MIB:.1f} MiB of files to send "
                          f"to every node, over Ray's package limit of {limit / MIB:.0f} MiB: move data out of it "
                          "(a loader can read it from shared storage) or list it in a .rayignore file there"])
    return {"working_dir": str(folder), "excludes": patterns}


def ship_code(folder: str, storage_path: str, source: str) -> bool:
    """On a cluster of several nodes, or of one that its autoscaler may grow, rejoin it with the experiment's
    folder as the job's working_dir (a runtime env is fixed when the driver joins); on one node, leave it.
    Returns whether it ships."""
    import ray

    from raytune_app.cluster.ray_session import cluster_nodes

    if len(cluster_nodes()) < 2:
        return False
    env = code_runtime_env(folder, storage_path, source)
    address = ray.get_runtime_context().gcs_address
    ray.shutdown()
    ray.init(address=address, runtime_env=env, logging_level=logging.WARNING)
    return True

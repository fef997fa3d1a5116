"""The experiment's own code on every node: its folder as the job's Ray runtime env (`working_dir`).

On one node nothing is copied (workers import from the folder itself). On a cluster of several nodes, or of one
whose autoscaler may add nodes (which do not have the folder), the driver joins with
`runtime_env={"working_dir": FOLDER, "excludes": [...]}`: Ray zips the folder once and every worker imports the
user's files from its node's copy. Ray leaves out what `.gitignore` and `.rayignore` files list, at every depth;
raytune-app adds results, caches and, whatever those files say, secrets.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import NamedTuple

from raytune_app.errors import InputError
from raytune_app.ray_compat.packaging import packed_files
from raytune_app.ray_compat.settings import package_limit

log = logging.getLogger(__name__)

# never code: results, version control, virtual environments, caches
EXCLUDES = ["runs/", ".git/", ".venv/", "venv/", "env/", "__pycache__/", "*.pyc", ".ipynb_checkpoints/",
            "node_modules/", ".mypy_cache/", ".pytest_cache/"]
# never shipped, at any depth (gitwildmatch: a name without a slash, or with only a trailing one, matches in
# every folder; `**/` does the same for the others). A `!` line in .gitignore or .rayignore cannot bring one
# back: Ray skips a path that any of its matchers names. Add the next usual suspect here.
SECRETS = [
    # environment files and tools' credential files
    ".env", ".env.*", "*.env", ".envrc", ".netrc", "_netrc", ".git-credentials", ".pypirc", ".npmrc", ".pgpass",
    ".htpasswd", ".boto", ".s3cfg", ".dockercfg", ".vault-token", ".databrickscfg", "kaggle.json",
    "**/.docker/config.json", "**/huggingface/token",
    # the folders where command-line tools keep their logins and keys
    ".aws/", ".ssh/", ".gnupg/", ".kube/", ".azure/", "**/.config/gcloud/",
    # private keys and key stores
    "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk", "*.pem", "*.key", "*.p12",
    "*.pfx", "*.jks", "*.keystore", "*.ppk", "*.kdbx",
    # credentials and secrets files by their usual names; infrastructure state holding them
    "credentials.json", "client_secret*.json", "service-account*.json", "service_account*.json",
    "secrets.json", "secrets.yaml", "secrets.yml", "secrets.toml", "*.tfstate", "*.tfstate.*",
]
MIB = 1024 * 1024
SHOWN = 10  # secrets named in the warning; the rest are counted


class Shipment(NamedTuple):
    """What goes to every node: the runtime env, the files Ray will pack (relative paths) and their bytes,
    and the files left behind because they look like secrets."""

    runtime_env: dict
    files: list[Path]
    size: int
    secrets: list[Path]


def _one_folder(relative: Path) -> str:
    """The gitwildmatch pattern of exactly this folder: anchored at the top, its special characters escaped."""
    return "/" + re.sub(r"([\\*?\[\]])", r"\\\1", relative.as_posix()) + "/"


def excludes_for(folder: Path, storage_path: str) -> list[str]:
    """Our excludes, the secrets, and the results folder if it lies inside."""
    patterns = EXCLUDES + SECRETS
    try:
        inside = Path(storage_path).expanduser().resolve().relative_to(folder.resolve())
    except ValueError:
        return patterns
    return patterns + [_one_folder(inside)] if inside.parts else patterns


def shipment(folder: str | Path, storage_path: str, source: str, limit: int | None = None) -> Shipment:
    """What Ray will send of `folder`; InputError when that is over Ray's package limit."""
    folder = Path(folder)
    patterns = excludes_for(folder, storage_path)
    files = packed_files(folder, patterns)
    size, limit = sum((folder / f).stat().st_size for f in files), limit or package_limit()
    if size > limit:
        raise InputError([f"{source}: the experiment's folder {folder} holds {size / MIB:.1f} MiB of files to send "
                          f"to every node, over Ray's package limit of {limit / MIB:.0f} MiB: move data out of it "
                          "(a loader can read it from shared storage) or list it in a .rayignore file there"])
    without_secrets = [p for p in patterns if p not in SECRETS]
    secrets = sorted(set(packed_files(folder, without_secrets)) - set(files))
    return Shipment({"working_dir": str(folder), "excludes": patterns}, files, size, secrets)


def _bytes(size: int) -> str:
    return f"{size / MIB:.1f} MiB" if size >= MIB else f"{size / 1024:.1f} KiB" if size >= 1024 else f"{size} bytes"


def describe(shipment: Shipment, folder: str | Path, source: str) -> list[tuple[int, str]]:
    """The lines that tell the user what is sent (info) and which secrets stay behind (warning)."""
    files, secrets = len(shipment.files), shipment.secrets
    lines = [(logging.INFO, f"{source}: sending {files} files ({_bytes(shipment.size)}) of {folder} to every node")]
    if secrets:
        names = ", ".join(p.as_posix() for p in secrets[:SHOWN]) + (
            f" and {len(secrets) - SHOWN} more" if len(secrets) > SHOWN else "")
        lines.append((logging.WARNING, f"{source}: {len(secrets)} files of {folder} look like secrets and are never "
                                       f"sent to the nodes: {names}; a trial that needs one must find it on its node "
                                       "(an instance role, a secret store)"))
    return lines


def ship_code(folder: str, storage_path: str, source: str) -> bool:
    """On a cluster of several nodes, or of one that its autoscaler may grow, rejoin it with the experiment's
    folder as the job's working_dir (a runtime env is fixed when the driver joins), saying what is sent; on one
    node, leave it. Returns whether it ships."""
    import ray

    from raytune_app.cluster.ray_session import cluster_nodes

    if len(cluster_nodes()) < 2:
        return False
    sent = shipment(folder, storage_path, source)
    for level, line in describe(sent, folder, source):
        log.log(level, line)
    address = ray.get_runtime_context().gcs_address
    ray.shutdown()
    ray.init(address=address, runtime_env=sent.runtime_env, logging_level=logging.WARNING)
    return True


def send_by_value(*objects) -> None:
    """A model, loader or training function given from Python travels to the workers pickled (by Ray's
    cloudpickle, inside the trials' settings). One defined in `__main__` (a script, a notebook) is pickled by value
    already; one of another module would be pickled by reference, and fails on a worker that cannot import that
    module (it sits beside a script or notebook, or on this process's sys.path only): such modules are pickled by
    value too. Installed packages and the standard library stay by reference."""
    import sys
    import sysconfig

    from ray import cloudpickle

    installed = {sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    for obj in objects:
        module = sys.modules.get(getattr(obj, "__module__", None) or "") if callable(obj) else None
        file = getattr(module, "__file__", None)
        if module is None or module.__name__ == "__main__" or not file or module.__name__.startswith("raytune_app"):
            continue
        if not any(Path(file).resolve().is_relative_to(Path(p).resolve()) for p in installed if p):
            cloudpickle.register_pickle_by_value(module)

"""Contract of raytune_app/ray_compat/packaging.py: its listing is what Ray's own upload step zips.

The reference is Ray's `upload_working_dir_if_needed` (what `ray.init(runtime_env=...)` calls: Ray's default
excludes added to ours) with its upload replaced by Ray's `create_package`, which writes the zip it would upload.
Each failure names the installed Ray: a new Ray that packs otherwise must be looked at before it is allowed.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import ray

from raytune_app.ray_compat.packaging import packed_files

RAY = f"Ray {ray.__version__}"


def ray_zip(folder: Path, excludes: list[str], include_gitignore: bool, tmp: Path) -> set[str]:
    """The files in the package Ray builds for runtime_env={"working_dir": folder, "excludes": excludes}."""
    from ray._private.runtime_env.packaging import create_package
    from ray._private.runtime_env.working_dir import upload_working_dir_if_needed

    seen = {}

    def build(working_dir: str, excludes: list[str] | None = None, is_file: bool = False) -> None:
        seen["zip"] = tmp / "package.zip"
        create_package(working_dir, seen["zip"], include_gitignore=include_gitignore, excludes=excludes)

    upload_working_dir_if_needed({"working_dir": str(folder), "excludes": excludes},
                                 include_gitignore=include_gitignore, upload_fn=build)
    with zipfile.ZipFile(seen["zip"]) as package:
        return {name for name in package.namelist() if not name.endswith("/")}


def write_tree(root: Path) -> Path:
    """Code with ignore files at two depths, folders Ray leaves out by default, one of ours, an empty folder."""
    files = {
        "a.py": "x", "sub/b.py": "x", "sub/deep/c.py": "x", "sub/x.log": "x", "x.log": "x",
        "sub/.gitignore": "*.log\n", ".rayignore": "data/\n", "data/big.bin": "x", "sub/data/d.py": "x",
        "sub/deep/.rayignore": "*.tmp\n!keep.tmp\n", "sub/deep/t.tmp": "x", "sub/deep/keep.tmp": "x",
        ".git/config": "x", ".venv/bin/python": "x", "__pycache__/m.pyc": "x", "ours/o.py": "x", ".env": "x",
        "sub/.env": "x",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "empty").mkdir()
    return root


@pytest.mark.parametrize("ignore_gitignore", ["0", "1"])
def test_the_listing_is_the_package_ray_builds(tmp_path, monkeypatch, ignore_gitignore):
    from ray._private import ray_constants

    monkeypatch.setenv(ray_constants.RAY_RUNTIME_ENV_IGNORE_GITIGNORE, ignore_gitignore)
    folder = write_tree(tmp_path / "code")
    excludes = ["ours/", ".env"]
    ours = {p.as_posix() for p in packed_files(folder, excludes)}
    theirs = ray_zip(folder, excludes, include_gitignore=ignore_gitignore != "1", tmp=tmp_path)
    assert ours == theirs, f"{RAY} packs {sorted(theirs)}, raytune_app.ray_compat.packaging lists {sorted(ours)}"
    # the listing is not vacuous: nested ignore files, Ray's defaults and ours all left something out
    assert {"a.py", "sub/b.py", "sub/deep/c.py", "sub/deep/keep.tmp"} <= ours
    assert not ours & {"data/big.bin", "sub/data/d.py", "sub/deep/t.tmp", ".git/config", ".venv/bin/python",
                       "ours/o.py", ".env", "sub/.env"}
    assert ("sub/x.log" in ours) == (ignore_gitignore == "1") and "x.log" in ours


def test_ray_reads_the_gitignore_switch_where_packaging_happens():
    import inspect

    from ray._private import ray_constants, worker

    name = ray_constants.RAY_RUNTIME_ENV_IGNORE_GITIGNORE
    assert name == "RAY_RUNTIME_ENV_IGNORE_GITIGNORE", f"{RAY} renamed its .gitignore switch to {name}"
    assert "RAY_RUNTIME_ENV_IGNORE_GITIGNORE" in inspect.getsource(worker.connect), (
        f"{RAY}'s driver no longer decides include_gitignore from RAY_RUNTIME_ENV_IGNORE_GITIGNORE in connect()")


def test_the_private_names_are_there():
    from ray._private import ray_constants
    from ray._private.runtime_env import packaging

    for owner, name in ((packaging, "_dir_travel"), (packaging, "_get_excludes"),
                        (ray_constants, "get_runtime_env_default_excludes")):
        assert callable(getattr(owner, name, None)), f"{RAY} has no {owner.__name__}.{name}"
